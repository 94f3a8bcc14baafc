import CFloe
import Dispatch
import Foundation

/// The main thread's queue: jobs sent to `Worker.main` and results delivered there run when the
/// host drains it, on the main thread.
public enum MainQueue {
    /// Runs up to `max` waiting tasks now (main thread only); returns how many ran.
    @discardableResult
    public static func drain(max: Int = Int.max) throws -> Int {
        try returning(0) { floe_main_queue_drain(max, $0) }
    }

    /// Calls `hook` — on whichever thread queues work for the main thread — so that a host with a
    /// loop of its own (a game loop, an event file descriptor) wakes up and calls `drain()` on the
    /// main thread; nil removes it. Replacing the hook waits for a call of the old one in progress.
    public static func setWakeUp(_ hook: (@Sendable () -> Void)?) throws {
        lock.lock()
        defer { lock.unlock() }
        let new = hook.map { Unmanaged.passRetained(WakeUp($0)) }
        let code = floe_main_queue_set_wakeup(new == nil ? nil : WakeUp.call, new?.toOpaque())
        if code != 0 {
            new?.release()
            throw FloeError.last(code)
        }
        // floe calls hooks under its own lock, so the old one is no longer running: free it.
        current?.release()
        current = new
    }

    /// Wires the queue to `DispatchQueue.main`, and so to the main run loop (`RunLoop.main`,
    /// `dispatchMain()`, a UIKit/AppKit app): whenever work arrives for the main thread, a drain is
    /// scheduled there.
    public static func drainOnMainDispatchQueue() throws {
        try setWakeUp {
            DispatchQueue.main.async {
                do {
                    try MainQueue.drain()
                } catch {
                    print("floe: draining the main queue failed: \(error)")
                }
            }
        }
    }

    /// Removes the hook installed by `setWakeUp` or `drainOnMainDispatchQueue`.
    public static func stopDraining() throws {
        try setWakeUp(nil)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Unmanaged<WakeUp>?
}

/// A wake-up hook, kept alive by floe's `user_data` while it is installed.
private final class WakeUp {
    let hook: @Sendable () -> Void

    init(_ hook: @escaping @Sendable () -> Void) {
        self.hook = hook
    }

    static let call: floe_wakeup_fn = { userData in
        Unmanaged<WakeUp>.fromOpaque(userData!).takeUnretainedValue().hook()
    }
}
