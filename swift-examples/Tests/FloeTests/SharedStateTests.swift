import Floe
import Foundation
import XCTest

let mainOnlySettings = try! Global.define("settings_main_only", mode: .mainThreadOnly) { out in
    runInitializer(out) { try makeOrder(lines: 0) }
}
let sharedSettings = try! Global.define("settings_shared", mode: .sharedImmutable) { out in
    runInitializer(out) { try makeOrder(lines: 2) }
}
let perThreadScratch = try! Global.define("scratch_per_thread", mode: .threadLocal) { out in
    runInitializer(out) { try Object.list() }
}
let cyclicA: Global = try! Global.define("alpha", mode: .sharedImmutable) { out in
    runInitializer(out) { try cyclicB.value() }
}
let cyclicB: Global = try! Global.define("beta", mode: .sharedImmutable) { out in
    runInitializer(out) { try cyclicA.value() }
}

final class SharedStateTests: FloeTestCase {
    func testAtomicsChangeInsideFrozenObjectsFromEveryThread() {
        onMainAndBackground { _ in
            let counter = try Object(Types.counter)
            try counter.freeze(label: "counter")
            let threads = 4
            for i in 0..<threads {
                let mine = try counter.retain()
                onThread("adder-\(i)") {
                    for _ in 0..<1000 { _ = try? mine.addAtomicValue("hits", 1) }
                    _ = try? mine.addAtomicValue("bytes", 1 << 33)
                }
            }
            XCTAssertEqual(try counter.atomicValue("hits"), 4000)
            XCTAssertEqual(try counter.atomicValue("bytes"), 4 << 33)
            XCTAssertTrue(try counter.compareAndSetAtomicValue("hits", expected: 4000, 1))
            XCTAssertFalse(try counter.compareAndSetAtomicValue("hits", expected: 4000, 2))

            let mutable = try Object(Types.order)
            assertFloeError(try counter.setAtomicRef("latest", mutable), .notFrozen, "Order#")
            try mutable.freeze()
            try counter.setAtomicRef("latest", mutable)
            XCTAssertEqual(try counter.atomicRef("latest")?.id(), try mutable.id())
            XCTAssertTrue(try counter.compareAndSetAtomicRef("latest", expected: mutable, nil))
            try counter.setAtomicRef("latest", counter)  // a frozen object pointing at itself: still freed
        }
    }

    func testGlobalsInTheirThreeModes() {
        onMainAndBackground { onMain in
            if onMain {
                XCTAssertEqual(try mainOnlySettings.value()?.type(), Types.order)
                try mainOnlySettings.reset()
            } else {
                // The ArrayDeque bug: a plain global read from a background thread.
                assertFloeError(try mainOnlySettings.value(), .wrongThread, "settings_main_only", "main-thread-only")
            }
            let shared = try sharedSettings.value()!
            XCTAssertTrue(try shared.isFrozen())
            var elsewhere: UInt32?
            onThread("other") { elsewhere = try? sharedSettings.value()?.id() }
            XCTAssertEqual(elsewhere, try shared.id(), "one object on every thread")

            let scratch = try perThreadScratch.value()!
            try scratch.append(Int64(1))
            var otherScratch: (UInt32?, Int?)
            onThread("other") {
                let theirs = try? perThreadScratch.value()
                otherScratch = (try? theirs?.id(), try? theirs?.count())
                try? perThreadScratch.reset()
            }
            XCTAssertNotEqual(otherScratch.0, try scratch.id())
            XCTAssertEqual(otherScratch.1, 0)
            try perThreadScratch.reset()
            try sharedSettings.reset()

            assertFloeError(try cyclicA.value(), .cyclicInit, "alpha", "beta")
        }
    }

    func testSharedDataPublishReadPutTake() {
        onMainAndBackground { _ in
            let data = SharedData()
            XCTAssertNil(try data.read().root, "zeroed is empty")
            let first = try makeOrder(lines: 1)
            assertFloeError(try data.publish(first), .notFrozen)
            try first.freeze(label: "v1")
            try data.publish(first)
            var seen: [Int32] = []
            for i in 0..<3 {
                onThread("reader-\(i)") {
                    if let (version, root) = try? data.read(), (try? root?.ref("lines")?.count()) == 1 {
                        seen.append(version)
                    }
                }
            }
            XCTAssertEqual(seen.count, 3)
            XCTAssertEqual(Set(seen).count, 1)
            try data.publish(nil)

            let parcel = SharedData()
            let box = try makeOrder(lines: 2)
            try parcel.put(box)
            XCTAssertTrue(box.isMoved)
            var winners = 0
            for i in 0..<2 {
                onThread("taker-\(i)") {
                    if let taken = try? parcel.take(), (try? taken.ref("lines")?.count()) == 2 { winners += 1 }
                }
            }
            XCTAssertEqual(winners, 1, "exactly one taker wins")
            assertFloeError(try parcel.take(), .consumed)
        }
    }
}
