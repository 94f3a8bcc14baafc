import CFloe

/// A job: a plain C function pointer, run on a worker with the handle of its input graph (0 for
/// none), writing its result's root to the out-parameter. As in Kotlin/Native, where the job lambda
/// may not capture, a job cannot capture state — its input graph is how data reaches it. Swift
/// enforces this: a closure that captures a variable does not convert to a `Job`, and the compiler
/// says "a C function pointer cannot be formed from a closure that captures context". Write the body
/// with `runJob`:
///
///     let total: Job = { input, result in
///         runJob(input, result) { order in ... return summary }
///     }
public typealias Job = @convention(c) (floe_ref, UnsafeMutablePointer<floe_ref>?) -> Int32

/// The body of a `Job`: adopts the input handle as an `Object` (owned by the worker's thread while
/// the job runs), runs `body`, and hands its result back to floe. A thrown `FloeError` fails the
/// job's future with that status and message; any other error with `FLOE_ERR_HOST` and its text.
public func runJob(
    _ input: floe_ref, _ result: UnsafeMutablePointer<floe_ref>?, _ body: (Object?) throws -> Object?
) -> Int32 {
    produce(into: result) { try body(Object.adopting(input)) }
}

/// Runs a host callback that makes an object for floe: writes its handle (moved out of the
/// `Object`) to `out`, or reports the thrown error as the thread's last error and returns its status.
func produce(into out: UnsafeMutablePointer<floe_ref>?, _ body: () throws -> Object?) -> Int32 {
    do {
        let made = try body()
        out?.pointee = try made?.move(into: "floe") ?? 0
        return 0
    } catch let error as FloeError where error.status != .ok {
        floe_last_error_set(error.status.rawValue, error.message)
        return error.status.rawValue
    } catch {
        floe_last_error_set(Status.host.rawValue, "\(error)")
        return Status.host.rawValue
    }
}

/// A worker: a thread with a job queue (Kotlin's Worker). A value: its id addresses it from any thread.
public struct Worker: Hashable, Sendable {
    public let id: UInt32

    /// The main thread's queue, drained by the host's run loop (see `MainQueue`).
    public static let main = Worker(id: UInt32(FLOE_WORKER_MAIN))

    public init(id: UInt32) { self.id = id }

    /// Starts a worker thread named `name` (its name in floe's messages too).
    public static func start(name: String) throws -> Worker {
        Worker(id: try returning(0) { floe_worker_start(name, $0) })
    }

    /// The worker running the calling thread: `.main` on the main thread, nil on other threads.
    public static func current() throws -> Worker? {
        let id = try returning(UInt32(0)) { floe_worker_current($0) }
        return id == 0 ? nil : Worker(id: id)
    }

    /// Runs `job` on this worker with `input`'s graph, transferred there by `mode` (a frozen input
    /// is shared instead). Moves `input` in: on success the caller's `Object` is spent, since its
    /// handle would be a reference from outside the graph; on a refused SAFE transfer nothing
    /// moves and the error names the outside reference and its path.
    public func execute(_ mode: TransferMode = .safe, _ input: Object?, job: Job) throws -> Future {
        try schedule(floe_worker_execute, on: id, mode, input, job)
    }

    /// Runs `job` after `milliseconds` with `input`, which must be frozen (shared; the caller keeps it).
    public func executeAfter(milliseconds: UInt64, _ input: Object? = nil, job: Job) throws -> Future {
        let handle = try input?.raw() ?? 0
        return Future(try returning(0) { floe_worker_execute_after(id, milliseconds, handle, job, $0) })
    }

    /// Asks the worker to stop: with `processScheduledJobs` its queued jobs run first, otherwise
    /// they are cancelled. The future completes when its thread has exited.
    public func requestTermination(processScheduledJobs: Bool = true) throws -> Future {
        Future(try returning(0) { floe_worker_request_termination(id, processScheduledJobs, $0) })
    }

    /// Runs this worker's queued jobs now, from inside one of its jobs (Kotlin's processQueue).
    @discardableResult
    public func processQueue() throws -> Int {
        Int(try returning(0) { floe_worker_process_queue(id, $0) })
    }
}

/// A pool of threads sharing a queue, or a `limitedParallelism` view of one.
public struct Pool: Hashable, Sendable {
    public let id: UInt32

    public static func start(name: String, threads: Int) throws -> Pool {
        Pool(id: try returning(0) { floe_pool_start(name, threads, $0) })
    }

    /// A view running at most `limit` of this pool's jobs at once, with no threads of its own.
    public func limitedParallelism(_ limit: Int) throws -> Pool {
        Pool(id: try returning(0) { floe_pool_limited_parallelism(id, limit, $0) })
    }

    /// `Worker.execute` for the pool: the job runs on one of its threads, which owns the input while it runs.
    public func execute(_ mode: TransferMode = .safe, _ input: Object?, job: Job) throws -> Future {
        try schedule(floe_pool_execute, on: id, mode, input, job)
    }

    /// Stops the pool (and its views); the future completes when its last thread has exited.
    public func requestTermination(processScheduledJobs: Bool = true) throws -> Future {
        Future(try returning(0) { floe_pool_request_termination(id, processScheduledJobs, $0) })
    }
}

/// `floe_worker_execute` and `floe_pool_execute` share this signature.
typealias ExecuteFunction = (
    UInt32, UInt32, floe_producer_fn?, UnsafeMutableRawPointer?, floe_job_fn?, UnsafeMutablePointer<floe_future>?
) -> Int32

/// Schedules `job` with `input` through `execute`. floe runs the producer below on this thread; it
/// detaches the input by `mode` itself, so that a refused transfer leaves the caller's `Object`
/// whole (floe would release a producer's root on refusal), then hands floe the attached root by
/// UNSAFE mode: the graph was just checked and nothing could refer into it since.
private func schedule(
    _ execute: ExecuteFunction, on id: UInt32, _ mode: TransferMode, _ input: Object?, _ job: Job
) throws -> Future {
    guard let input else {
        return Future(try returning(0) { execute(id, TransferMode.safe.rawValue, nil, nil, job, $0) })
    }
    let producer = Producer(input: input, mode: mode)
    let context = Unmanaged.passUnretained(producer).toOpaque()
    let future = try withExtendedLifetime(producer) {
        try returning(0) { execute(id, TransferMode.unsafe.rawValue, Producer.run, context, job, $0) }
    }
    return Future(future)
}

/// The input of a `schedule` call, produced on the calling thread when floe asks for it.
private final class Producer {
    let input: Object
    let mode: TransferMode

    init(input: Object, mode: TransferMode) {
        self.input = input
        self.mode = mode
    }

    static let run: floe_producer_fn = { context, out in
        let producer = Unmanaged<Producer>.fromOpaque(context!).takeUnretainedValue()
        return produce(into: out) {
            // A frozen input is shared: the job gets its own handle and the caller keeps its own.
            if try producer.input.isFrozen() { return try producer.input.retain() }
            return try producer.input.detach(producer.mode).attach()
        }
    }
}
