import CFloe

/// A floe status: `FLOE_OK` or one of the `FLOE_ERR_*` constants of floe.h.
public struct Status: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init<Constant: RawRepresentable>(_ constant: Constant) where Constant.RawValue == UInt32 {
        rawValue = Int32(bitPattern: constant.rawValue)
    }

    /// The constant's name in floe.h, such as `FLOE_ERR_FROZEN`.
    public var name: String { String(cString: floe_status_name(rawValue)) }
    public var description: String { name }

    public static let ok = Status(FLOE_OK)
    public static let null = Status(FLOE_ERR_NULL)
    public static let invalidHandle = Status(FLOE_ERR_INVALID_HANDLE)
    public static let releasedHandle = Status(FLOE_ERR_RELEASED_HANDLE)
    public static let doubleRelease = Status(FLOE_ERR_DOUBLE_RELEASE)
    public static let wrongThread = Status(FLOE_ERR_WRONG_THREAD)
    public static let frozen = Status(FLOE_ERR_FROZEN)
    public static let freezeBlocked = Status(FLOE_ERR_FREEZE_BLOCKED)
    public static let wrongKind = Status(FLOE_ERR_WRONG_KIND)
    public static let outOfRange = Status(FLOE_ERR_OUT_OF_RANGE)
    public static let invalidArgument = Status(FLOE_ERR_INVALID_ARGUMENT)
    public static let alreadyInitialized = Status(FLOE_ERR_ALREADY_INITIALIZED)
    public static let unknownField = Status(FLOE_ERR_UNKNOWN_FIELD)
    public static let unknownType = Status(FLOE_ERR_UNKNOWN_TYPE)
    public static let limit = Status(FLOE_ERR_LIMIT)
    public static let notAList = Status(FLOE_ERR_NOT_A_LIST)
    public static let notTransferable = Status(FLOE_ERR_NOT_TRANSFERABLE)
    public static let cancelled = Status(FLOE_ERR_CANCELLED)
    public static let consumed = Status(FLOE_ERR_CONSUMED)
    public static let timeout = Status(FLOE_ERR_TIMEOUT)
    public static let unknownWorker = Status(FLOE_ERR_UNKNOWN_WORKER)
    public static let workerTerminated = Status(FLOE_ERR_WORKER_TERMINATED)
    public static let alreadyAttached = Status(FLOE_ERR_ALREADY_ATTACHED)
    public static let disposed = Status(FLOE_ERR_DISPOSED)
    public static let notFrozen = Status(FLOE_ERR_NOT_FROZEN)
    public static let cyclicInit = Status(FLOE_ERR_CYCLIC_INIT)
    public static let host = Status(FLOE_ERR_HOST)
    public static let wouldDeadlock = Status(FLOE_ERR_WOULD_DEADLOCK)
    public static let corrupt = Status(FLOE_ERR_CORRUPT)
    public static let typeMismatch = Status(FLOE_ERR_TYPE_MISMATCH)
    public static let permission = Status(FLOE_ERR_PERMISSION)
    public static let incompatible = Status(FLOE_ERR_INCOMPATIBLE)
    public static let exists = Status(FLOE_ERR_EXISTS)
    public static let notFound = Status(FLOE_ERR_NOT_FOUND)
    public static let system = Status(FLOE_ERR_SYSTEM)
    public static let panic = Status(FLOE_ERR_PANIC)
}

/// A failed floe call: its status and floe's message, which names the operation, the object
/// (`Type#id`), its owner — a thread, or the freeze that froze it — and the calling thread.
public struct FloeError: Error, Equatable, CustomStringConvertible {
    public let status: Status
    public let message: String

    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The calling thread's last floe failure, which returned `code`.
    static func last(_ code: Int32) -> FloeError {
        FloeError(Status(rawValue: code), String(cString: floe_last_error_message()))
    }

    public var description: String { "\(status.name): \(message)" }
}

/// Throws the calling thread's last floe failure unless `code` is `FLOE_OK`.
@inline(__always)
func check(_ code: Int32) throws {
    if code != 0 { throw FloeError.last(code) }
}

/// Calls a floe function whose one result goes to an out-parameter, and returns that result.
@inline(__always)
func returning<T>(_ initial: T, _ call: (UnsafeMutablePointer<T>) throws -> Int32) throws -> T {
    var value = initial
    try check(call(&value))
    return value
}
