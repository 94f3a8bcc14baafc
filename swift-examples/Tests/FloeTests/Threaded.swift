import Floe
import Foundation
import XCTest

/// The threaded-test helper: runs `body` on the main thread, then on a fresh background thread
/// (Kotlin/Native's ArrayDeque bug passed on one and failed on the other), and after each run checks
/// that floe's counters are back at zero: no live objects, handles or detached graphs.
/// `body` is told whether it runs on the main thread, for the behaviour that depends on it.
func onMainAndBackground(
    file: StaticString = #filePath, line: UInt = #line, _ body: @escaping (_ onMain: Bool) throws -> Void
) {
    XCTAssertTrue(Thread.isMainThread, "XCTest runs tests on the main thread", file: file, line: line)
    XCTAssertNoThrow(try body(true), "on the main thread", file: file, line: line)
    XCTAssertNoThrow(try Runtime.collectCycles())
    assertNothingLeaked("after the main-thread run", file: file, line: line)

    onThread("background", file: file, line: line) {
        try body(false)
        try Runtime.collectCycles()
    }
    assertNothingLeaked("after the background-thread run", file: file, line: line)
}

/// Runs `body` on a new thread named `name` and waits until that thread has finished it; an error
/// it throws fails the test.
func onThread(
    _ name: String, file: StaticString = #filePath, line: UInt = #line, _ body: @escaping () throws -> Void
) {
    let done = DispatchSemaphore(value: 0)
    // The Thread keeps its closure until the thread is torn down; `body` (and the Objects it
    // captured) must be let go before the caller resumes, or their last release would come from
    // this thread's teardown instead of their owner thread.
    nonisolated(unsafe) var pending: (() throws -> Void)? = body
    Thread {
        nameThisThread(name)
        do { try pending?() } catch { XCTFail("on thread \(name): \(error)", file: file, line: line) }
        pending = nil
        done.signal()
    }.start()
    done.wait()
}

/// Names the calling thread for the OS, where floe reads it for its messages (at most 15 bytes on
/// Linux), and for Foundation. Foundation alone passes the name on only once its thread object is
/// set up, which races with the start of the thread's closure; the kernel's file takes it at once.
func nameThisThread(_ name: String) {
    precondition(name.utf8.count <= 15, "Linux thread names hold 15 bytes")
    #if os(Linux)
    try! name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
    #else
    pthread_setname_np(name)
    #endif
    Thread.current.name = name
}

/// The calling thread's name, as floe's messages give it.
func threadName() -> String {
    Thread.isMainThread ? "main" : Thread.current.name ?? "?"
}

func assertNothingLeaked(_ when: String, file: StaticString = #filePath, line: UInt = #line) {
    do {
        let stats = try Runtime.stats()
        XCTAssertTrue(stats.isEmpty, "\(when): \(stats)", file: file, line: line)
    } catch {
        XCTFail("\(when): Runtime.stats() failed: \(error)", file: file, line: line)
    }
}

/// Asserts that `expression` throws a `FloeError` with `status` whose message contains every one of `fragments`.
func assertFloeError<T>(
    _ expression: @autoclosure () throws -> T, _ status: Status, _ fragments: String...,
    file: StaticString = #filePath, line: UInt = #line
) {
    do {
        _ = try expression()
        XCTFail("expected \(status.name), got success", file: file, line: line)
    } catch let error as FloeError {
        XCTAssertEqual(error.status, status, "\(error)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "\"\(fragment)\" not in: \(error.message)", file: file, line: line)
        }
    } catch {
        XCTFail("expected a FloeError, got \(error)", file: file, line: line)
    }
}

/// The FloeError `body` throws, if it throws one.
func floeError(_ body: () throws -> Void) -> FloeError? {
    do {
        try body()
        return nil
    } catch {
        return error as? FloeError
    }
}

/// floe's main thread is the test runner's main thread.
class FloeTestCase: XCTestCase {
    override class func setUp() {
        super.setUp()
        XCTAssertNoThrow(try Runtime.initialize())
    }
}

/// The types the tests use, defined once per process.
enum Types {
    static let order = try! ObjectType.define("Order", fields: ["total": .int, "lines": .ref, "note": .string])
    static let line = try! ObjectType.define("Line", fields: ["price": .int, "quantity": .int, "order": .ref])
    static let counter = try! ObjectType.define(
        "Counter", fields: ["hits": .atomicInt, "bytes": .atomicLong, "latest": .atomicRef, "label": .string])
}

/// An order with `count` lines priced 1, 2, …, each quantity 2, owned by the calling thread.
func makeOrder(lines count: Int) throws -> Object {
    let order = try Object(Types.order)
    let lines = try Object.list()
    for i in 0..<count {
        let line = try Object(Types.line)
        try line.set("price", Int64(i + 1))
        try line.set("quantity", Int64(2))
        try lines.append(line)
    }
    try order.set("lines", lines)
    return order
}

/// A job: sums price × quantity over the order's lines into a new `Order` whose total is the sum.
let totalJob: Job = { input, result in
    runJob(input, result) { order in
        guard let order, let lines = try order.ref("lines") else { throw FloeError(.null, "no order") }
        var total: Int64 = 0
        for i in 0..<(try lines.count()) {
            let line = try lines.ref(i)!
            total += try line.int("price") * line.int("quantity")
        }
        let summary = try Object(Types.order)
        try summary.set("total", total)
        try summary.set("note", "summed on \(threadName())")
        return summary
    }
}
