import CFloe

/// A handle to a floe object: owned by one thread (the one that made it, or received it by a
/// transfer) or frozen and readable from every thread. Every access is checked by floe; a misuse
/// throws a `FloeError` whose message names the object, its owner and the calling thread.
///
/// An `Object` owns one floe handle and releases it in `deinit`, on whichever thread ARC runs it:
/// floe hands a reference dropped on another thread to the object's owner, which drops it at its
/// next release, collection, detach or attach (or when it exits). Operations that hand the graph
/// away (`detach`, `Worker.execute`, `SharedData.put`) *move* the handle out: the Swift handle
/// would otherwise count as a reference from outside the graph and fail a SAFE transfer (the
/// false "external reference" of kotlin-native#3027). After a move, the object's methods throw
/// `FLOE_ERR_RELEASED_HANDLE` saying where it went.
public final class Object {
    /// The floe handle, or 0 once moved out.
    private var handle: floe_ref
    /// Where the handle went, for the message of a use after a move.
    private var movedInto: String?
    /// The object's type, once asked (it never changes).
    private var knownType: ObjectType?

    /// Adopts `handle`, which the new `Object` releases.
    public init(adopting handle: floe_ref) {
        precondition(handle != 0, "Object(adopting:) needs a non-zero handle")
        self.handle = handle
    }

    /// A new object of `type`, owned by the calling thread, every field zero, false, "" or nil.
    public convenience init(_ type: ObjectType) throws {
        self.init(adopting: try returning(0) { floe_object_new(type.id, $0) })
    }

    /// A new empty list owned by the calling thread.
    public static func list() throws -> Object {
        Object(adopting: try returning(0) { floe_list_new($0) })
    }

    /// Adopts `handle` unless it is 0 (floe's "none").
    static func adopting(_ handle: floe_ref) -> Object? {
        handle == 0 ? nil : Object(adopting: handle)
    }

    deinit {
        guard handle != 0 else { return }
        let code = floe_ref_release(handle)
        if code != 0 {
            // deinit cannot throw, and a failed release (a handle made up or released behind this
            // Object's back) should not pass silently.
            print("floe: releasing \(handle) in deinit failed: \(FloeError.last(code))")
        }
    }

    /// The live handle, for calls into floe's C API; the `Object` keeps owning it.
    public func raw() throws -> floe_ref {
        if handle == 0 {
            throw FloeError(.releasedHandle, "this Swift Object was moved into \(movedInto ?? "floe"); use what that returned")
        }
        return handle
    }

    /// Whether the handle was moved out (see the type's documentation).
    public var isMoved: Bool { handle == 0 }

    /// Moves the handle out of this `Object`, for an operation that consumes it.
    func move(into operation: String) throws -> floe_ref {
        let moved = try raw()
        handle = 0
        movedInto = operation
        return moved
    }

    /// Moves the handle into `operation`, a floe call that consumes it on success; when the call
    /// fails, the handle comes back and the failure is thrown.
    func moving(into operation: String, _ call: (floe_ref) -> Int32) throws {
        let moved = try move(into: operation)
        let code = call(moved)
        if code != 0 {
            handle = moved
            movedInto = nil
            throw FloeError.last(code)
        }
    }

    // MARK: - Identity

    public func type() throws -> ObjectType {
        let handle = try raw()
        if let knownType { return knownType }
        let type = ObjectType(id: try returning(0) { floe_object_type(handle, $0) })
        knownType = type
        return type
    }
    /// The number messages show as `Type#id`.
    public func id() throws -> UInt32 { try returning(0) { floe_object_id(try raw(), $0) } }
    /// The number of fields, or of elements for a list.
    public func count() throws -> Int { Int(try returning(0) { floe_object_len(try raw(), $0) }) }
    public func kind(_ field: some FieldKey) throws -> Kind {
        Kind(rawValue: try get(field, 0, floe_object_kind_at))
    }

    /// A second handle to the same object. A mutable object can be retained on its owner thread
    /// only; a frozen one anywhere (how a thread gets its own handle to shared frozen data).
    public func retain() throws -> Object {
        Object(adopting: try returning(0) { floe_ref_retain(try raw(), $0) })
    }

    // MARK: - Fields (owner thread, or any thread when frozen)

    public func int(_ field: some FieldKey) throws -> Int64 { try get(field, 0, floe_object_get_int) }
    public func double(_ field: some FieldKey) throws -> Double { try get(field, 0, floe_object_get_double) }
    public func bool(_ field: some FieldKey) throws -> Bool { try get(field, false, floe_object_get_bool) }

    public func string(_ field: some FieldKey) throws -> String {
        let index = try field.index(in: self)
        let length = try returning(0) { floe_object_get_string_len(try raw(), index, $0) }
        var bytes = [CChar](repeating: 0, count: length + 1)
        _ = try returning(0) { floe_object_get_string(try raw(), index, &bytes, bytes.count, $0) }
        return String(decoding: bytes.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The object the reference field points to (a new handle), or nil.
    public func ref(_ field: some FieldKey) throws -> Object? {
        Object.adopting(try get(field, 0, floe_object_get_ref))
    }

    public func set(_ field: some FieldKey, _ value: Int64) throws { try put(field, value, floe_object_set_int) }
    public func set(_ field: some FieldKey, _ value: Double) throws { try put(field, value, floe_object_set_double) }
    public func set(_ field: some FieldKey, _ value: Bool) throws { try put(field, value, floe_object_set_bool) }
    public func set(_ field: some FieldKey, _ value: String) throws {
        let index = try field.index(in: self)
        try check(floe_object_set_string(try raw(), index, value))
    }
    /// Points the reference field at `target` (owned by this thread, or frozen), or at nothing.
    public func set(_ field: some FieldKey, _ target: Object?) throws {
        try put(field, try target?.raw() ?? 0, floe_object_set_ref)
    }

    // MARK: - Lists

    public func append(_ value: Int64) throws { try check(floe_list_push_int(try raw(), value)) }
    public func append(_ value: Double) throws { try check(floe_list_push_double(try raw(), value)) }
    public func append(_ value: Bool) throws { try check(floe_list_push_bool(try raw(), value)) }
    public func append(_ value: String) throws { try check(floe_list_push_string(try raw(), value)) }
    public func append(_ target: Object?) throws { try check(floe_list_push_ref(try raw(), try target?.raw() ?? 0)) }

    // MARK: - Freezing

    /// Freezes everything reachable from this object: deeply, one way, all or nothing. `label` is
    /// remembered: a later `FLOE_ERR_FROZEN` about any of these objects names it.
    public func freeze(label: String? = nil) throws {
        let handle = try raw()
        if let label {
            try check(floe_object_freeze(handle, label))
        } else {
            try check(floe_object_freeze(handle, nil))
        }
    }

    public func isFrozen() throws -> Bool { try returning(false) { floe_object_is_frozen(try raw(), $0) } }

    /// Makes any freeze that reaches this object fail (`FLOE_ERR_FREEZE_BLOCKED`) and freeze nothing.
    public func ensureNeverFrozen() throws { try check(floe_object_ensure_never_frozen(try raw())) }

    // MARK: - Transfer

    /// Detaches this object's graph from the calling thread, to be attached once on any thread.
    /// Consumes this `Object` on success; on failure (`FLOE_ERR_NOT_TRANSFERABLE`: something
    /// outside the graph refers into it, named with its path) nothing moves and it stays usable.
    public func detach(_ mode: TransferMode = .safe) throws -> DetachedGraph {
        var graph: UnsafeMutableRawPointer?
        try moving(into: "detach()") { floe_object_detach($0, mode.rawValue, &graph) }
        return DetachedGraph(adopting: graph!)  // written by floe on success
    }

    // MARK: - Helpers

    func get<T>(
        _ field: some FieldKey, _ initial: T, _ getter: (floe_ref, Int, UnsafeMutablePointer<T>?) -> Int32
    ) throws -> T {
        let index = try field.index(in: self)
        return try returning(initial) { getter(try raw(), index, $0) }
    }

    func put<T>(_ field: some FieldKey, _ value: T, _ setter: (floe_ref, Int, T) -> Int32) throws {
        let index = try field.index(in: self)
        try check(setter(try raw(), index, value))
    }
}

extension Object: CustomStringConvertible {
    /// `Type#id`, as floe's messages name the object, or "moved" once its handle went elsewhere.
    public var description: String {
        guard let id = try? id() else { return "Object(moved into \(movedInto ?? "floe"))" }
        return "Object#\(id)"
    }
}
