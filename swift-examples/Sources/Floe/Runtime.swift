import CFloe

/// The runtime's live counters; every one is back at zero when nothing leaked.
public struct Stats: Equatable, Sendable, CustomStringConvertible {
    /// Objects allocated and not yet freed, frozen ones included.
    public var liveObjects: UInt64
    /// Of those, the frozen ones.
    public var frozenObjects: UInt64
    /// Handles issued and not yet released (each live `Object` holds one).
    public var liveHandles: UInt64
    /// Graphs detached and not yet attached: in jobs, futures, `DetachedGraph`s or C memory.
    public var detachedGraphs: UInt64

    init(_ raw: floe_stats) {
        liveObjects = raw.live_objects
        frozenObjects = raw.frozen_objects
        liveHandles = raw.live_handles
        detachedGraphs = raw.detached_graphs
    }

    /// Nothing is alive: no objects, handles or detached graphs.
    public var isEmpty: Bool { liveObjects == 0 && liveHandles == 0 && detachedGraphs == 0 }

    public var description: String {
        "\(liveObjects) live objects (\(frozenObjects) frozen), \(liveHandles) handles, \(detachedGraphs) detached graphs"
    }
}

/// What `Runtime.shutdown` found.
public struct ShutdownReport: Sendable {
    public var workersStopped: UInt32
    /// Workers still running when the time ran out.
    public var workersUnfinished: UInt32
    /// The counters afterwards.
    public var stats: Stats
}

/// The process-wide runtime.
public enum Runtime {
    /// Makes the calling thread floe's main thread; call it first thing on the main thread (without
    /// it, the first thread to use floe becomes the main thread). Again on the main thread: no-op.
    public static func initialize() throws {
        try check(floe_runtime_init())
    }

    /// The live counters now.
    public static func stats() throws -> Stats {
        Stats(try returning(floe_stats()) { floe_runtime_stats($0) })
    }

    /// Collects the calling thread's mutable garbage cycles now; returns how many objects it freed.
    @discardableResult
    public static func collectCycles() throws -> Int {
        Int(try returning(0) { floe_runtime_collect_cycles($0) })
    }

    /// Terminates every worker — running queued jobs when `processScheduledJobs`, cancelling them
    /// otherwise — waits up to `timeoutMilliseconds` (negative: forever) and reports what is left.
    /// Never aborts the process, unlike Kotlin/Native's "Unfinished workers detected".
    public static func shutdown(processScheduledJobs: Bool = true, timeoutMilliseconds: Int64 = -1) throws
        -> ShutdownReport
    {
        let raw = try returning(floe_shutdown_report()) {
            floe_runtime_shutdown(processScheduledJobs, timeoutMilliseconds, $0)
        }
        return ShutdownReport(
            workersStopped: raw.workers_stopped, workersUnfinished: raw.workers_unfinished, stats: Stats(raw.stats))
    }
}
