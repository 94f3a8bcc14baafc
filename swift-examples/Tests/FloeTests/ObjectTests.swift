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

    func testStatusNamesComeFromTheHeader() {
        XCTAssertEqual(Status.frozen.name, "FLOE_ERR_FROZEN")
        XCTAssertEqual(Status.host.name, "FLOE_ERR_HOST")
        XCTAssertEqual(Status(rawValue: 9999).name, "FLOE_UNKNOWN_STATUS")
    }
}
