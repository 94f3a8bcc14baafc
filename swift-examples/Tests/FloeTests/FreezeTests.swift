import Floe
import Foundation
import XCTest

final class FreezeTests: FloeTestCase {
    func testFrozenGraphIsReadableEverywhereAndNamesItsFreeze() {
        onMainAndBackground { onMain in
            let order = try makeOrder(lines: 3)
            try order.freeze(label: "checkout")
            XCTAssertTrue(try order.isFrozen())
            let lines = try order.ref("lines")!
            XCTAssertTrue(try lines.isFrozen(), "freezing is deep")
            let thread = onMain ? "main" : "background"
            assertFloeError(try order.set("total", Int64(1)), .frozen, "Order#", "checkout", thread)
            assertFloeError(try lines.append(Int64(1)), .frozen, "checkout", "lines")

            let shared = try order.retain()
            onThread("reader") {
                XCTAssertEqual(try? shared.ref("lines")?.count(), 3, "a frozen graph reads on any thread")
            }
        }
    }

    func testEnsureNeverFrozenBlocksTheWholeFreeze() {
        onMainAndBackground { _ in
            let order = try makeOrder(lines: 2)
            let line = try order.ref("lines")!.ref(1)!
            try line.ensureNeverFrozen()
            assertFloeError(try order.freeze(label: "launch"), .freezeBlocked, "Line#", "lines")
            XCTAssertFalse(try order.isFrozen(), "all or nothing: nothing was frozen")
            try order.set("total", Int64(3))
        }
    }
}
