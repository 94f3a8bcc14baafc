import CFloe
import Dispatch

/// The future of a job (Kotlin's Future): its result graph is attached to whichever thread takes it.
/// A `Future` may be handed to another thread and consumed there (it is `Sendable`: floe checks its
/// id and serialises its state on every call); it is released in `deinit` (a result never taken is
/// freed when the job finishes).
public final class Future: @unchecked Sendable {
    public enum State: Sendable {
        case scheduled, computed, failed, cancelled, consumed
    }

    let id: floe_future

    init(_ id: floe_future) {
        self.id = id
    }

    deinit {
        _ = floe_future_release(id)
    }

    public func state() throws -> State {
        let raw = try returning(UInt32(0)) { floe_future_get_state(id, $0) }
        switch raw {
        case FLOE_FUTURE_STATE_SCHEDULED.rawValue: return .scheduled
        case FLOE_FUTURE_STATE_COMPUTED.rawValue: return .computed
        case FLOE_FUTURE_STATE_FAILED.rawValue: return .failed
        case FLOE_FUTURE_STATE_CANCELLED.rawValue: return .cancelled
        default: return .consumed
        }
    }

    /// Waits up to `milliseconds` (nil: forever), then takes the result: attached to the calling
    /// thread, which owns it. A result is taken once (`FLOE_ERR_CONSUMED` after); a failed job
    /// throws its own status and message; `FLOE_ERR_TIMEOUT` leaves the future as it was.
    @discardableResult
    public func wait(milliseconds: Int64? = nil) throws -> Object? {
        Object.adopting(try returning(0) { floe_future_wait(id, milliseconds ?? -1, $0) })
    }

    /// Kotlin's `consume`: waits like `wait`, then hands the outcome — the job's failure included —
    /// to `body` on this thread (a result is attached here) and returns what `body` returns. Only
    /// the wait's own failures (a timeout, a released future) throw.
    public func consume<R>(milliseconds: Int64? = nil, _ body: (Result<Object?, FloeError>) -> R) throws -> R {
        var result: R?
        try withoutActuallyEscaping(body) { body in
            try passOutcome(to: { result = body($0) }) { callback, context in
                floe_future_consume(id, milliseconds ?? -1, callback, context)
            }
        }
        return result!  // floe calls back before it returns FLOE_OK
    }

    /// `try await future.value` on the main actor: waits without blocking the main thread, then
    /// takes the result there, attached to the main thread — the way results reach a UI.
    @MainActor
    public var value: Object? {
        get async throws { try await value(isolation: MainActor.shared) }
    }

    /// Waits without blocking the caller's thread, then takes the result in the caller's isolation
    /// (`#isolation`): on the main actor, on the main thread. A floe object belongs to one thread,
    /// while a nonisolated task may resume on any thread of the cooperative pool, so from there
    /// prefer frozen results, or use the result before the task's next suspension point.
    @discardableResult
    public func value(isolation: isolated (any Actor)? = #isolation) async throws -> Object? {
        let id = self.id
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            // floe's wait blocks, so it happens on a dispatch thread, not the task's.
            DispatchQueue.global().async {
                // Whatever this wait reports (consumed, released), the taking wait below says it too.
                _ = try? Future.waitAny(ids: [id], milliseconds: nil)
                finished.resume()
            }
        }
        return try wait(milliseconds: 0)
    }

    /// Delivers the outcome to `worker`'s queue: `callback` runs on that worker's thread — for
    /// `Worker.main`, when the host drains the main queue — where the result is attached. This
    /// consumes the future. `callback` may capture state: it stays in Swift and never crosses to C.
    /// It runs exactly once: if the worker terminates first, on the thread that found out, with
    /// `FLOE_ERR_WORKER_TERMINATED` and no result.
    public func deliver(to worker: Worker, _ callback: @escaping (Result<Object?, FloeError>) -> Void) throws {
        try passOutcome(to: callback) { floe_future_deliver(id, worker.id, $0, $1) }
    }

    /// Waits up to `milliseconds` (nil: forever) until one of `futures` has finished and not yet
    /// been consumed; returns its index (Kotlin's waitForMultipleFutures). Takes no result.
    public static func waitAny(_ futures: [Future], milliseconds: Int64? = nil) throws -> Int {
        try waitAny(ids: futures.map(\.id), milliseconds: milliseconds)
    }

    private static func waitAny(ids: [floe_future], milliseconds: Int64?) throws -> Int {
        try returning(0) { floe_future_wait_any(ids, ids.count, milliseconds ?? -1, $0) }
    }
}

/// Hands `receiver` to a floe call that takes an outcome callback and its `user_data`. floe calls
/// it exactly once when the call succeeds (`consume` before returning, `deliver` later, on the
/// worker's thread) and never when it fails; the receiver is kept alive until then.
private func passOutcome(
    to receiver: @escaping (Result<Object?, FloeError>) -> Void,
    _ call: (floe_outcome_fn, UnsafeMutableRawPointer) -> Int32
) throws {
    let context = Unmanaged.passRetained(OutcomeReceiver(receiver)).toOpaque()
    let code = call(OutcomeReceiver.run, context)
    if code != 0 {
        Unmanaged<OutcomeReceiver>.fromOpaque(context).release()
        throw FloeError.last(code)
    }
}

/// A Swift receiver of a future's outcome, reached from floe's callback through `user_data`.
private final class OutcomeReceiver {
    let receive: (Result<Object?, FloeError>) -> Void

    init(_ receive: @escaping (Result<Object?, FloeError>) -> Void) {
        self.receive = receive
    }

    static let run: floe_outcome_fn = { status, result, userData in
        let receiver = Unmanaged<OutcomeReceiver>.fromOpaque(userData!).takeRetainedValue()
        receiver.receive(status == 0 ? .success(Object.adopting(result)) : .failure(FloeError.last(status)))
    }
}
