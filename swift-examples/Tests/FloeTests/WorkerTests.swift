import Floe
import Foundation
import XCTest

struct Refusal: Error, CustomStringConvertible {
    var description: String { "the order was refused by policy" }
}

let throwingJob: Job = { input, result in runJob(input, result) { _ in throw Refusal() } }
let floeFailingJob: Job = { input, result in
    runJob(input, result) { order in
        _ = try order!.int("missing")
        return nil
    }
}
let sleepyJob: Job = { input, result in
    runJob(input, result) { input in
        Thread.sleep(forTimeInterval: 0.2)
        return input
    }
}
let whereAmIJob: Job = { input, result in
    runJob(input, result) { _ in
        let answer = try Object(Types.order)
        try answer.set("note", threadName())
        return answer
    }
}

final class WorkerTests: FloeTestCase {
    func testFailedJobKeepsItsStatusAndMessage() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "failing")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            let swiftError = try worker.execute(.safe, nil, job: throwingJob)
            assertFloeError(try swiftError.wait(), .host, "the job failed", "refused by policy")
            XCTAssertEqual(try swiftError.state(), .failed)
            let floeError = try worker.execute(.safe, try makeOrder(lines: 1), job: floeFailingJob)
            assertFloeError(try floeError.wait(), .unknownField, "the job failed", "missing")
            // The worker goes on after failures.
            XCTAssertEqual(try worker.execute(.safe, try makeOrder(lines: 2), job: totalJob).wait()?.int("total"), 6)
        }
    }

    func testConsumeHandsTheOutcomeToItsBody() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "consumed")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            let total = try worker.execute(.safe, try makeOrder(lines: 3), job: totalJob).consume { outcome in
                try? outcome.get()?.int("total")
            }
            XCTAssertEqual(total, 12)
            let failure = try worker.execute(.safe, nil, job: throwingJob).consume { outcome -> String in
                if case .failure(let error) = outcome { return error.message }
                return "no failure"
            }
            XCTAssertTrue(failure.contains("refused by policy"), failure)
            let slow = try worker.execute(.safe, nil, job: sleepyJob)
            assertFloeError(try slow.consume(milliseconds: 1) { _ in () }, .timeout)
        }
    }

    func testWaitTimeoutWaitAnyAndExecuteAfter() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "slow")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            let slow = try worker.execute(.safe, nil, job: sleepyJob)
            assertFloeError(try slow.wait(milliseconds: 10), .timeout)
            XCTAssertEqual(try slow.state(), .scheduled)
            let settings = try makeOrder(lines: 1)
            try settings.freeze(label: "settings")
            let later = try worker.executeAfter(milliseconds: 1, settings, job: whereAmIJob)
            XCTAssertEqual(try Future.waitAny([slow, later]) >= 0, true)
            XCTAssertNil(try slow.wait())
            XCTAssertEqual(try later.wait()?.string("note"), "slow")
            assertFloeError(try worker.executeAfter(milliseconds: 1, try makeOrder(lines: 1), job: whereAmIJob),
                            .notFrozen)
        }
    }

    func testTerminationWithoutProcessingCancelsQueuedJobs() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "stopping")
            let running = try worker.execute(.safe, nil, job: sleepyJob)
            let queued = try worker.execute(.safe, try makeOrder(lines: 3), job: totalJob)
            try worker.requestTermination(processScheduledJobs: false).wait()
            // The first job may have started before the request (then it finishes) or not (then it
            // is cancelled); the queued one never starts.
            do {
                let result = try running.wait()
                XCTAssertNil(result)
            } catch let error as FloeError {
                XCTAssertEqual(error.status, .cancelled)
            }
            assertFloeError(try queued.wait(), .cancelled)
            assertFloeError(try worker.execute(.safe, nil, job: totalJob), .unknownWorker)
        }
    }

    func testResultsDeliveredToAWorkersQueueAreAttachedThere() {
        onMainAndBackground { onMain in
            let worker = try Worker.start(name: "producer")
            let receiver = onMain ? Worker.main : try Worker.start(name: "receiver")
            defer {
                XCTAssertNoThrow(try worker.requestTermination().wait())
                if !onMain { XCTAssertNoThrow(try receiver.requestTermination().wait()) }
            }
            let delivered = DispatchSemaphore(value: 0)
            var seen: (thread: String?, total: Int64?) = (nil, nil)
            try worker.execute(.safe, try makeOrder(lines: 3), job: totalJob).deliver(to: receiver) { outcome in
                let summary = try? outcome.get()
                seen = (threadName(), try? summary?.int("total"))
                delivered.signal()
            }
            if onMain {
                // The host's loop: here, drain until the result has come.
                while delivered.wait(timeout: .now() + 0.01) == .timedOut { try MainQueue.drain() }
            } else {
                delivered.wait()
            }
            XCTAssertEqual(seen.thread, onMain ? "main" : "receiver")
            XCTAssertEqual(seen.total, 12)
        }
    }

    func testAHostLoopIsWokenWhenWorkArrivesForTheMainThread() {
        final class Count: @unchecked Sendable {
            private let lock = NSLock()
            private var value = 0
            func add() { lock.lock(); value += 1; lock.unlock() }
            var now: Int { lock.lock(); defer { lock.unlock() }; return value }
        }
        onMainAndBackground { onMain in
            let woken = Count()
            try MainQueue.setWakeUp { woken.add() }
            defer { XCTAssertNoThrow(try MainQueue.setWakeUp(nil)) }
            guard onMain else {
                assertFloeError(try MainQueue.drain(), .wrongThread, "main")
                return
            }
            let worker = try Worker.start(name: "waker")
            defer { XCTAssertNoThrow(try worker.requestTermination().wait()) }
            var total: Int64?
            try worker.execute(.safe, try makeOrder(lines: 2), job: totalJob).deliver(to: .main) { outcome in
                total = try? outcome.get()?.int("total")
            }
            // The host's own loop: sleep until woken, then drain.
            let deadline = Date().addingTimeInterval(10)
            while total == nil && Date() < deadline {
                if woken.now > 0 { try MainQueue.drain() }
                Thread.sleep(forTimeInterval: 0.001)
            }
            XCTAssertEqual(total, 6)
            XCTAssertGreaterThanOrEqual(woken.now, 1, "the hook ran when the result was queued")
        }
    }

    func testPoolViewsRunEveryJob() {
        onMainAndBackground { _ in
            let pool = try Pool.start(name: "pool", threads: 2)
            let view = try pool.limitedParallelism(1)
            let futures = try (1...6).map { try view.execute(.safe, try makeOrder(lines: $0), job: totalJob) }
            let totals = try futures.map { try $0.wait()!.int("total") }
            XCTAssertEqual(totals, (1...6).map { Int64($0 * ($0 + 1)) })
            try pool.requestTermination().wait()
        }
    }

    func testShutdownStopsEveryWorkerAndReportsWhatIsLeft() {
        onMainAndBackground { _ in
            let worker = try Worker.start(name: "to-stop")
            let queued = try worker.execute(.safe, try makeOrder(lines: 2), job: totalJob)
            let report = try Runtime.shutdown(processScheduledJobs: true, timeoutMilliseconds: 5_000)
            XCTAssertGreaterThanOrEqual(report.workersStopped, 1)
            XCTAssertEqual(report.workersUnfinished, 0)
            XCTAssertEqual(try queued.wait()?.int("total"), 6, "with processScheduledJobs the queued job ran")
            assertFloeError(try worker.execute(.safe, nil, job: totalJob), .unknownWorker)
        }
    }

    func testAwaitingAFutureFromTheMainActorAndFromATask() async throws {
        let worker = try Worker.start(name: "async")
        let onMain = try await Task { @MainActor in
            let summary = try await worker.execute(.safe, try makeOrder(lines: 2), job: totalJob).value
            return (Thread.isMainThread, try summary?.int("total"))
        }.value
        XCTAssertTrue(onMain.0, "a @MainActor task takes its result on the main thread")
        XCTAssertEqual(onMain.1, 6)
        let detached = try await Task.detached {
            // Nonisolated: the result is taken and used before the task's next suspension point.
            let summary = try await worker.execute(.safe, try makeOrder(lines: 3), job: totalJob).value()
            return try summary?.int("total")
        }.value
        XCTAssertEqual(detached, 12)
        try await worker.requestTermination().value()
        assertNothingLeaked("after both awaits")
    }
}
