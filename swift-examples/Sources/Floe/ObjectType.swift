import CFloe
import Foundation

/// The kind of a field or list element.
public struct Kind: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    init<Constant: RawRepresentable>(_ constant: Constant) where Constant.RawValue == UInt32 {
        rawValue = constant.rawValue
    }

    public static let int = Kind(FLOE_KIND_INT)
    public static let double = Kind(FLOE_KIND_DOUBLE)
    public static let bool = Kind(FLOE_KIND_BOOL)
    public static let string = Kind(FLOE_KIND_STRING)
    /// A nullable reference to another object.
    public static let ref = Kind(FLOE_KIND_REF)
    /// Kotlin's AtomicInt: changes atomically, even in a frozen object.
    public static let atomicInt = Kind(FLOE_KIND_ATOMIC_INT)
    /// Kotlin's AtomicLong.
    public static let atomicLong = Kind(FLOE_KIND_ATOMIC_LONG)
    /// Kotlin's AtomicReference: its value must be frozen.
    public static let atomicRef = Kind(FLOE_KIND_ATOMIC_REF)
}

/// An object type: a name and typed fields. Types live as long as the process.
public struct ObjectType: Hashable, Sendable {
    public let id: UInt32

    /// The built-in growable list (`Object.list()`).
    public static let list = ObjectType(id: UInt32(FLOE_TYPE_LIST))

    init(id: UInt32) { self.id = id }

    /// Defines a type named `name` with `fields`, in order: field `i` is index `i`.
    public static func define(_ name: String, fields: KeyValuePairs<String, Kind>) throws -> ObjectType {
        // floe copies the names, so they need to live only for the call.
        let names = fields.map { strdup($0.key) }
        defer { names.forEach { free($0) } }
        let definitions = zip(names, fields).map { floe_field_def(name: $0.0, kind: $0.1.value.rawValue) }
        let id = try returning(floe_type(0)) { out in
            definitions.withUnsafeBufferPointer { floe_type_define(name, $0.baseAddress, $0.count, out) }
        }
        return ObjectType(id: id)
    }

    /// The index of the field called `name` (`FLOE_ERR_UNKNOWN_FIELD` when there is none). Types
    /// never change, so floe is asked once per type and name.
    public func fieldIndex(_ name: String) throws -> Int {
        if let known = FieldIndices.shared.index(of: name, in: id) {
            return known
        }
        let index = Int(try returning(0) { floe_type_field_index(id, name, $0) })
        FieldIndices.shared.remember(index, of: name, in: id)
        return index
    }
}

/// Field indices floe has given, by type id and name.
private final class FieldIndices: @unchecked Sendable {  // every access takes the lock
    static let shared = FieldIndices()
    private let lock = NSLock()
    private var indices: [UInt32: [String: Int]] = [:]

    func index(of name: String, in type: UInt32) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return indices[type]?[name]
    }

    func remember(_ index: Int, of name: String, in type: UInt32) {
        lock.lock()
        defer { lock.unlock() }
        indices[type, default: [:]][name] = index
    }
}

/// Names a field: by index (`0`) or by name (`"total"`).
public protocol FieldKey {
    func index(in object: Object) throws -> Int
}

extension Int: FieldKey {
    public func index(in object: Object) throws -> Int { self }
}

extension String: FieldKey {
    public func index(in object: Object) throws -> Int { try object.type().fieldIndex(self) }
}
