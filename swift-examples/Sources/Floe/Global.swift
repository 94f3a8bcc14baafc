import CFloe

/// Makes a global's value on the calling thread. Like a `Job`, a plain C function: it cannot
/// capture state. Write its body with `runInitializer`.
public typealias Initializer = @convention(c) (UnsafeMutablePointer<floe_ref>?) -> Int32

/// The body of an `Initializer`: hands the object `body` makes (or none) to floe; a thrown error
/// fails the `Global.value()` that ran it.
public func runInitializer(_ out: UnsafeMutablePointer<floe_ref>?, _ body: () throws -> Object?) -> Int32 {
    produce(into: out, body)
}

/// A named global with an initialiser, in one of Kotlin/Native's three modes.
public struct Global: Hashable, Sendable {
    public enum Mode: Sendable {
        /// Only the main thread may read it (`FLOE_ERR_WRONG_THREAD` elsewhere): a plain Kotlin/Native global.
        case mainThreadOnly
        /// Each thread lazily gets its own value (`@ThreadLocal`).
        case threadLocal
        /// Initialised once, frozen before it is published, the same object on every thread
        /// (`@SharedImmutable`; also the way to write a lazy singleton).
        case sharedImmutable

        var rawValue: UInt32 {
            switch self {
            case .mainThreadOnly: FLOE_GLOBAL_MODE_MAIN_THREAD_ONLY.rawValue
            case .threadLocal: FLOE_GLOBAL_MODE_THREAD_LOCAL.rawValue
            case .sharedImmutable: FLOE_GLOBAL_MODE_SHARED_IMMUTABLE.rawValue
            }
        }
    }

    public let id: UInt32

    /// Defines a global. An initialiser that needs, through any chain of globals, the global being
    /// initialised fails with `FLOE_ERR_CYCLIC_INIT` naming the cycle, never a deadlock.
    public static func define(_ name: String, mode: Mode, initializer: Initializer) throws -> Global {
        Global(id: try returning(0) { floe_global_define(name, mode.rawValue, initializer, $0) })
    }

    /// The value on the calling thread (a new handle), initialised first if needed; nil for none.
    public func value() throws -> Object? {
        Object.adopting(try returning(0) { floe_global_get(id, $0) })
    }

    /// Drops the value (the calling thread's, for a thread-local global); the next read initialises it again.
    public func reset() throws {
        try check(floe_global_reset(id))
    }
}
