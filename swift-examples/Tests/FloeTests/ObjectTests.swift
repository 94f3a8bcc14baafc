import Floe
import Foundation
import XCTest

final class ObjectTests: FloeTestCase {
    func testFieldsByIndexAndName() {
        onMainAndBackground { _ in
            let order = try Object(Types.order)
            try order.set("total", Int64(42))
            try order.set(2, "two words ✓")
            XCTAssertEqual(try order.int(0), 42)
            XCTAssertEqual(try order.string("note"), "two words ✓")
            XCTAssertNil(try order.ref("lines"))
            XCTAssertEqual(try order.count(), 3)
            XCTAssertEqual(try order.kind("lines"), .ref)
            XCTAssertEqual(try order.type(), Types.order)
            XCTAssertTrue("\(order)".hasPrefix("Object#"))
        }
    }

    func testListsHoldEveryKind() {
        onMainAndBackground { _ in
            let list = try Object.list()
            try list.append(Int64(7))
            try list.append(2.5)
            try list.append(true)
            try list.append("text")
            try list.append(try Object(Types.line))
            try list.append(nil)
            XCTAssertEqual(try list.count(), 6)
            XCTAssertEqual(try list.int(0), 7)
            XCTAssertEqual(try list.double(1), 2.5)
            XCTAssertEqual(try list.bool(2), true)
            XCTAssertEqual(try list.string(3), "text")
            XCTAssertEqual(try list.ref(4)?.type(), Types.line)
            XCTAssertNil(try list.ref(5))
        }
    }

    func testMisuseThrowsStatusAndMessage() {
        onMainAndBackground { _ in
            let order = try Object(Types.order)
            assertFloeError(try order.set("total", "not a number"), .wrongKind, "Order#")
            assertFloeError(try order.int(9), .outOfRange, "9")
            assertFloeError(try order.int("missing"), .unknownField, "missing")
            assertFloeError(try order.append(Int64(1)), .notAList)
            assertFloeError(try ObjectType.define("Broken", fields: ["x": .int, "x": .int]), .invalidArgument, "x")
        }
    }

    func testAnotherThreadsObjectIsRefusedWithItsOwner() {
        onMainAndBackground { onMain in
            let order = try Object(Types.order)
            let owner = onMain ? "main" : "background"
            onThread("intruder") {
                assertFloeError(try order.set("total", Int64(1)), .wrongThread, "Order#", owner, "intruder")
                assertFloeError(try order.retain(), .wrongThread)
            }
            try order.set("total", Int64(1))
        }
    }

    func testGarbageCyclesAreFreed() {
        onMainAndBackground { _ in
            let a = try Object(Types.line)
            let b = try Object(Types.line)
            try a.set("order", b)
            try b.set("order", a)
            // Releasing both Swift handles leaves an unreachable cycle, which floe reclaims: the
            // helper's leak check after this body fails otherwise.
        }
    }

    /// ARC releases an Object wherever its last reference goes. floe hands a reference dropped on
    /// another thread to the owner, and an exited thread's objects to whoever drops them last.
    func testObjectsReleasedByARCOnAnyThreadAreFreed() {
        onMainAndBackground { _ in
            var order: Object? = try makeOrder(lines: 2)
            let lines = try order!.ref("lines")!
            var carrier: [Object] = [order!]
            order = nil
            onThread("releaser") { carrier.removeAll() }  // the last Swift reference to the order dies there
            XCTAssertEqual(try lines.count(), 2)
            try Runtime.collectCycles()  // the owner's next drain drops what the releaser parked

            var orphan: Object?
            onThread("short-lived") { orphan = try makeOrder(lines: 1) }
            // onThread returns when the closure is done; the thread itself ends a moment later.
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, !(floeError { _ = try orphan!.count() }?.message.contains("(exited)") ?? false) {
                Thread.sleep(forTimeInterval: 0.001)
            }
            assertFloeError(try orphan!.count(), .wrongThread, "owned by thread short-lived (exited)")
            orphan = nil  // freed here, on this thread: its owner thread is gone
        }
    }

    func testStatusNamesComeFromTheHeader() {
        XCTAssertEqual(Status.frozen.name, "FLOE_ERR_FROZEN")
        XCTAssertEqual(Status.host.name, "FLOE_ERR_HOST")
        XCTAssertEqual(Status(rawValue: 9999).name, "FLOE_UNKNOWN_STATUS")
    }
}
