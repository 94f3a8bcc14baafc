import CFloe
import Dispatch

/// The main thread's queue: jobs sent to `Worker.main` and results delivered there run when the
/// host drains it, on the main thread.
public enum MainQueue {
    /// Runs up to `max` waiting tasks now (main thread only); returns how many ran.
    @discardableResult
    public static func drain(max: Int = Int.max) throws -> Int {
        try returning(0) { floe_main_queue_drain(max, $0) }
    }

    /// Wires the queue to `DispatchQueue.main`, and so to the main run loop (`RunLoop.main`,
    /// `dispatchMain()`, a UIKit/AppKit app): whenever work arrives for the main thread, floe's hook
    /// schedules a drain there.
    public static func drainOnMainDispatchQueue() throws {
        try check(floe_main_queue_set_wakeup(wakeUp, nil))
    }

    /// Removes the hook installed by `drainOnMainDispatchQueue`.
    public static func stopDraining() throws {
        try check(floe_main_queue_set_wakeup(nil, nil))
    }

    private static let wakeUp: floe_wakeup_fn = { _ in
        DispatchQueue.main.async {
            do {
                try MainQueue.drain()
            } catch {
                print("floe: draining the main queue failed: \(error)")
            }
        }
    }
}
