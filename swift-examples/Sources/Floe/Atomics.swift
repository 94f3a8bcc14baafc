import CFloe

/// Atomic fields (Kotlin's AtomicInt, AtomicLong and AtomicReference): they stay mutable inside
/// frozen objects, from every thread — the way to change shared state.
extension Object {
    public func atomicValue(_ field: some FieldKey) throws -> Int64 {
        try get(field, 0, floe_object_atomic_get)
    }

    public func setAtomicValue(_ field: some FieldKey, _ value: Int64) throws {
        try put(field, value, floe_object_atomic_set)
    }

    /// Adds `delta` (wrapping) and returns the new value.
    @discardableResult
    public func addAtomicValue(_ field: some FieldKey, _ delta: Int64) throws -> Int64 {
        let index = try field.index(in: self)
        return try returning(0) { floe_object_atomic_add(try raw(), index, delta, $0) }
    }

    /// Sets the field to `newValue` if it holds `expected`; returns whether it did.
    public func compareAndSetAtomicValue(_ field: some FieldKey, expected: Int64, _ newValue: Int64) throws -> Bool {
        let index = try field.index(in: self)
        return try returning(false) { floe_object_atomic_compare_and_set(try raw(), index, expected, newValue, $0) }
    }

    /// The frozen object the atomic reference points to (a new handle), or nil.
    public func atomicRef(_ field: some FieldKey) throws -> Object? {
        Object.adopting(try get(field, 0, floe_object_atomic_ref_get))
    }

    /// Points the atomic reference at `value`, which must be frozen (`FLOE_ERR_NOT_FROZEN`), or at nothing.
    public func setAtomicRef(_ field: some FieldKey, _ value: Object?) throws {
        try put(field, try value?.raw() ?? 0, floe_object_atomic_ref_set)
    }

    /// Points the atomic reference at `newValue` if it points at the object of `expected`.
    public func compareAndSetAtomicRef(_ field: some FieldKey, expected: Object?, _ newValue: Object?) throws -> Bool {
        let index = try field.index(in: self)
        let (old, new) = (try expected?.raw() ?? 0, try newValue?.raw() ?? 0)
        return try returning(false) { floe_object_atomic_ref_compare_and_set(try raw(), index, old, new, $0) }
    }
}
