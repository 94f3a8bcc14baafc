import CFloe

/// A segment: named shared memory (POSIX `/floe.<name>`) of fixed size whose slots each hold a
/// versioned frozen graph — Kotlin/Native's `SharedData`, between processes. One process creates
/// it and publishes; others open it by name, read each slot's current version and wait for the
/// next one. Every call throws a `FloeError` with floe's status and message: another user's
/// segment, a mode other than 0600, another format or a damaged header each have their own.
///
/// The `Segment` owns one open segment (`floe_segment *`), closed by `close()` or in `deinit`. It
/// is `Sendable`: the C API takes any thread, and floe checks the pointer on every call (a closed
/// segment throws `FLOE_ERR_RELEASED_HANDLE`, never crashes).
public final class Segment: @unchecked Sendable {
    /// The open segment: an id floe checks on every call and never dereferences.
    public let pointer: OpaquePointer
    /// The name it was created or opened with.
    public let name: String

    private init(_ pointer: OpaquePointer, name: String) {
        self.pointer = pointer
        self.name = name
    }

    deinit {
        // Closed already by `close()` is the one failure expected here.
        _ = floe_segment_close(pointer)
    }

    /// Creates the segment `name` (1 to 200 ASCII letters, digits, `.`, `_`, `-`) of `size` bytes,
    /// rounded up to whole pages, with `slots` empty slots and room for `readers` processes reading
    /// at once; mode 0600, exclusive (`FLOE_ERR_EXISTS` if the name is taken).
    public static func create(_ name: String, size: UInt64, slots: UInt32, readers: UInt32) throws -> Segment {
        Segment(try opened { floe_segment_create(name, size, slots, readers, $0) }, name: name)
    }

    /// Opens the existing segment `name`, after floe checked that it is this user's, mode 0600, a
    /// format it reads, with an intact header; `FLOE_ERR_NOT_FOUND` when there is none.
    public static func open(_ name: String) throws -> Segment {
        Segment(try opened { floe_segment_open(name, $0) }, name: name)
    }

    private static func opened(_ call: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) throws -> OpaquePointer {
        guard let pointer = try returning(nil, call) else { throw FloeError(.null, "floe returned no segment") }
        return pointer
    }

    /// Removes the name; processes that have the segment open keep using it, and its memory goes
    /// when the last one closes it.
    public static func unlink(_ name: String) throws {
        try check(floe_segment_unlink(name))
    }

    /// Closes the segment: later calls on it throw `FLOE_ERR_RELEASED_HANDLE`. Graphs read from it
    /// stay readable.
    public func close() throws {
        try check(floe_segment_close(pointer))
    }

    /// Publishes the frozen graph of `root` (`FLOE_ERR_NOT_FROZEN` otherwise) to `slot` as its
    /// next version, committed with one atomic store; returns the version id, unique in the
    /// segment. The caller keeps `root`.
    @discardableResult
    public func publish(_ slot: UInt32, _ root: Object) throws -> UInt64 {
        let handle = try root.raw()
        return try returning(0) { floe_segment_publish(pointer, slot, handle, $0) }
    }

    /// Empties `slot`, bumping its version; readers keep what they read.
    public func unpublish(_ slot: UInt32) throws {
        try check(floe_segment_unpublish(pointer, slot))
    }

    /// The slot's current version and the root of its frozen graph (nil when the slot is empty),
    /// attached in O(1): the objects are read in place, from the segment's bytes, each read
    /// checked; changes throw `FLOE_ERR_FROZEN`. What was read stays readable whatever is
    /// published next, until its last `Object` goes. Types are matched by name and fields
    /// (`FLOE_ERR_TYPE_MISMATCH`); a damaged object is `FLOE_ERR_CORRUPT`.
    public func read(_ slot: UInt32) throws -> (version: Int32, root: Object?) {
        var version: Int32 = 0
        let root = try returning(0) { floe_segment_read(pointer, slot, &version, $0) }
        return (version, Object.adopting(root))
    }

    /// `read`, copying the graph into this process's heap instead: ordinary frozen objects.
    public func readCopy(_ slot: UInt32) throws -> (version: Int32, root: Object?) {
        var version: Int32 = 0
        let root = try returning(0) { floe_segment_read_copy(pointer, slot, &version, $0) }
        return (version, Object.adopting(root))
    }

    /// The slot's change counter, one more per publish or unpublish: give it to `wait`.
    public func changeCount(_ slot: UInt32) throws -> UInt32 {
        try returning(0) { floe_segment_change_count(pointer, slot, $0) }
    }

    /// Waits until the slot's change counter differs from `seen`, at most `milliseconds` (nil:
    /// without limit), and returns the new counter; `FLOE_ERR_TIMEOUT` when nothing changed. Sleeps
    /// on a futex shared between processes on Linux.
    @discardableResult
    public func wait(_ slot: UInt32, seen: UInt32, milliseconds: Int64? = nil) throws -> UInt32 {
        try returning(0) { floe_segment_wait(pointer, slot, seen, milliseconds ?? -1, $0) }
    }
}
