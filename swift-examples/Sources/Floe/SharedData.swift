import CFloe

/// Kotlin/Native's versioned `SharedData` struct (`floe_shared_data` in C memory): a frozen graph
/// published for every thread to read, or a mutable graph parked for exactly one taker.
public final class SharedData: @unchecked Sendable {  // floe serialises every operation on the struct
    /// The C struct: this object's own zeroed allocation, or C memory (a C global) it was given.
    public let pointer: UnsafeMutablePointer<floe_shared_data>
    private let ownsMemory: Bool

    /// An empty struct in memory of its own, emptied and freed in `deinit`.
    public init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: floe_shared_data())
        ownsMemory = true
    }

    /// Works on a struct in C memory (a C global), which outlives this object and keeps its content.
    public init(in memory: UnsafeMutablePointer<floe_shared_data>) {
        pointer = memory
        ownsMemory = false
    }

    deinit {
        guard ownsMemory else { return }
        // Empty it either way it is full: a parked graph is taken (and freed with its handle), a
        // published one unpublished.
        var parked: floe_ref = 0
        if floe_shared_data_take(pointer, &parked) == 0 { _ = floe_ref_release(parked) }
        _ = floe_shared_data_publish(pointer, 0)
        pointer.deallocate()
    }

    /// Publishes `root`, which must be frozen (`FLOE_ERR_NOT_FROZEN`), or empties it with nil; the
    /// version goes up. Readers holding the previous value keep it. The caller keeps `root`.
    public func publish(_ root: Object?) throws {
        try check(floe_shared_data_publish(pointer, try root?.raw() ?? 0))
    }

    /// The version and a new handle to the published root (nil when empty), from any thread; never torn.
    public func read() throws -> (version: Int32, root: Object?) {
        var version: Int32 = 0
        let root = try returning(0) { floe_shared_data_read(pointer, &version, $0) }
        return (version, Object.adopting(root))
    }

    /// Parks the mutable graph of `root` for one taker, detached by `mode`. Moves `root` in; on
    /// failure (not empty, not transferable) it stays with the caller.
    public func put(_ root: Object, mode: TransferMode = .safe) throws {
        try root.moving(into: "SharedData.put") { floe_shared_data_put(pointer, $0, mode.rawValue) }
    }

    /// Takes the parked graph, which the calling thread then owns. Exactly one taker wins; the
    /// others get `FLOE_ERR_CONSUMED`.
    public func take() throws -> Object {
        Object(adopting: try returning(0) { floe_shared_data_take(pointer, $0) })
    }
}
