import Floe
import Foundation
import XCTest

final class TransferTests: FloeTestCase {
    func testExecuteMovesTheSwiftHandleSoSafeTransferSucceeds() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "summer")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            let order = try makeOrder(lines: 4)
            // The Swift `order` holds a handle — a reference from outside the graph. execute moves
            // it in, so the SAFE check sees none (kotlin-native#3027 refused exactly this).
            let future = try worker.execute(.safe, order, job: totalJob)
            XCTAssertTrue(order.isMoved)
            assertFloeError(try order.int("total"), .releasedHandle, "moved into")
            let summary = try future.wait()!
            XCTAssertEqual(try summary.int("total"), 2 * (1 + 2 + 3 + 4))
            XCTAssertEqual(try summary.string("note"), "summed on summer")
            XCTAssertEqual(try future.state(), .consumed)
            assertFloeError(try future.wait(), .consumed)
        }
    }

    func testOutsideReferenceIsRefusedAndNothingMoves() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "refuser")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            let order = try makeOrder(lines: 3)
            let kept = try order.ref("lines")!.ref(2)!  // a Swift handle into the graph
            assertFloeError(try worker.execute(.safe, order, job: totalJob), .notTransferable, "Line#", "lines")
            XCTAssertFalse(order.isMoved, "a refused transfer leaves the caller's Object whole")
            XCTAssertEqual(try kept.int("price"), 3)
            try order.set("total", Int64(1))
        }
    }

    func testUnsafeTransferLeavesMemorySafeLeftovers() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "taker")
            try {
                let order = try makeOrder(lines: 1)
                let leftover = try order.ref("lines")!
                let future = try worker.execute(.unsafe, order, job: totalJob)
                _ = try future.wait()
                assertFloeError(try leftover.count(), .wrongThread, "List#", "owned by thread taker")
            }()
            // `leftover` was released above, on this thread: floe parked the reference for the
            // worker that owns the list, which drops it before its thread exits.
            try worker.requestTermination().wait()
        }
    }

    func testDetachedGraphAttachesOnceOnAnyThread() {
        onMainAndBackground { _ in
            let order = try makeOrder(lines: 2)
            let pointer = try order.detach().release()  // e.g. into a C global
            let first = DetachedGraph(adopting: pointer)
            let second = DetachedGraph(adopting: pointer)  // kotlin-native#3259: two owners of one pointer
            var total: Int64 = -1
            onThread("attacher") {
                if let root = try? first.attach() {
                    total = (try? root.ref("lines")?.count()).map(Int64.init) ?? -2
                }
            }
            XCTAssertEqual(total, 2)
            assertFloeError(try second.attach(), .alreadyAttached)
            assertFloeError(try first.attach(), .alreadyAttached, "already attached")

            let disposed = try makeOrder(lines: 1).detach()
            try disposed.dispose()
            assertFloeError(try disposed.attach(), .alreadyAttached)
            assertFloeError(try DetachedGraph(adopting: UnsafeMutableRawPointer(bitPattern: 0xdead_beef)!).attach(),
                            .invalidHandle)
        }
    }
}
