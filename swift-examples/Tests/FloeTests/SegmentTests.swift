import Floe
import Foundation
import XCTest

/// The writer process: the Rust example `examples/segment_pair.rs` run as `writer NAME N`, which
/// opens the segment NAME and publishes versions 1…N of a ring of three `RingNode`s sharing one
/// catalog list of `Item`s to slot 0. scripts/test-swift builds it.
let segmentWriter = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .appendingPathComponent("../../../target/release/examples/segment_pair")
    .standardizedFileURL

/// Checks version `version` of the example's graph, read in this process: node-0 → node-1 →
/// node-2 → node-0, each with n = version and the one catalog of 1 + version % 5 items
/// (sku-j, price 100 × version + j).
func checkRing(_ version: Int32, _ root: Object) throws {
    XCTAssertTrue(try root.isFrozen())
    let catalog = try XCTUnwrap(try root.ref("catalog"))
    var node = root
    for i in 0..<3 {
        XCTAssertEqual(try node.string("name"), "node-\(i)", "version \(version)")
        XCTAssertEqual(try node.int("n"), Int64(version), "version \(version)")
        XCTAssertEqual(try node.ref("catalog")?.id(), try catalog.id(), "version \(version): one catalog, shared")
        node = try XCTUnwrap(try node.ref("next"))
    }
    XCTAssertEqual(try node.id(), try root.id(), "version \(version): the ring closes")
    let items = 1 + Int(version) % 5
    XCTAssertEqual(try catalog.count(), items, "version \(version)")
    for j in 0..<items {
        let item = try XCTUnwrap(try catalog.ref(j))
        XCTAssertEqual(try item.string("sku"), "sku-\(j)", "version \(version)")
        XCTAssertEqual(try item.int("price"), 100 * Int64(version) + Int64(j), "version \(version)")
    }
}

final class SegmentTests: FloeTestCase {
    func testReaderFollowsVersionsAnotherProcessPublishes() {
        guard FileManager.default.isExecutableFile(atPath: segmentWriter.path) else {
            return XCTFail("no writer at \(segmentWriter.path): build it with `cargo build --release --example segment_pair`")
        }
        onMainAndBackground { onMain in
            let name = "swift-\(getpid())-\(onMain ? "main" : "background")"
            let versions: Int32 = 300
            let created = try Segment.create(name, size: 1 << 20, slots: 1, readers: 8)
            defer { try? Segment.unlink(name) }
            assertFloeError(try Segment.create(name, size: 1 << 20, slots: 1, readers: 8), .exists, name)
            let reader = try Segment.open(name)
            try created.close()
            assertFloeError(try created.changeCount(0), .releasedHandle, "closed")
            XCTAssertEqual(try reader.read(0).version, 0)
            XCTAssertNil(try reader.read(0).root, "nothing published yet")

            let writer = Process()
            writer.executableURL = segmentWriter
            writer.arguments = ["writer", name, String(versions)]
            let printed = Pipe()
            writer.standardOutput = printed
            try writer.run()
            defer { if writer.isRunning { writer.terminate() } }

            var (last, distinct): (Int32, Int) = (0, 0)
            while last < versions {
                let seen = try reader.changeCount(0)
                if case let (version, root?) = try reader.read(0) {
                    XCTAssertGreaterThanOrEqual(version, last, "versions never go back")
                    try checkRing(version, root)
                    distinct += version == last ? 0 : 1
                    last = version
                }
                if last < versions { try reader.wait(0, seen: seen, milliseconds: 10_000) }
            }
            writer.waitUntilExit()
            XCTAssertEqual(writer.terminationStatus, 0)
            let said = String(decoding: printed.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(said.contains("published versions 1..\(versions) to slot 0 of \(name)"), said)
            XCTAssertGreaterThanOrEqual(distinct, 2, "while the writer ran, the reader saw more than its last version")
            XCTAssertEqual(last, versions)

            // The reader's own mistakes, each a status with a message.
            let seen = try reader.changeCount(0)
            assertFloeError(try reader.wait(0, seen: seen, milliseconds: 10), .timeout, "did not change")
            assertFloeError(try reader.read(3), .outOfRange, "slot 3")
            let mutable = try Object.list()
            assertFloeError(try reader.publish(0, mutable), .notFrozen)
            try mutable.freeze(label: "from Swift")
            try reader.publish(0, mutable)
            let (version, mine) = try reader.read(0)
            XCTAssertEqual(version, versions + 1)
            XCTAssertEqual(try mine?.count(), 0)
            // Read in place, the list is frozen; its copy in this process's heap is too.
            if let mine { assertFloeError(try mine.append(Int64(1)), .frozen, "read in place") }
            let (copied, copy) = try reader.readCopy(0)
            XCTAssertEqual(copied, versions + 1)
            XCTAssertEqual(try copy?.count(), 0)
            try reader.unpublish(0)
            XCTAssertEqual(try reader.read(0).version, versions + 2)
            try reader.close()
            try Segment.unlink(name)
            assertFloeError(try Segment.open(name), .notFound, name)
        }
    }
}
