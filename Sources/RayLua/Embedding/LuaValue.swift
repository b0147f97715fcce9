import RayCore

/// A Lua value as a Swift program sees it: what crosses between Lua code and
/// the Swift functions and results of an embedded runtime. Tables are
/// copied (keys and values converted recursively); functions, coroutines and
/// userdata other than ObjectRefs do not cross.
public enum LuaValue: Hashable, Sendable, CustomStringConvertible {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case table([LuaValue: LuaValue])
    /// An ObjectRef: `RayEngine.get` fetches its value.
    case objectRef(ObjectReference)

    /// An array table: `{ [1] = a, [2] = b, ... }`.
    public static func array(_ values: [LuaValue]) -> LuaValue {
        .table(Dictionary(uniqueKeysWithValues: values.enumerated().map { (.integer(Int64($0.offset + 1)), $0.element) }))
    }

    /// The array part of a table (1...n without holes), else nil.
    public var arrayValue: [LuaValue]? {
        guard case .table(let entries) = self else { return nil }
        var values: [LuaValue] = []
        while let value = entries[.integer(Int64(values.count + 1))] { values.append(value) }
        return values.count == entries.count ? values : nil
    }

    public subscript(key: String) -> LuaValue {
        guard case .table(let entries) = self else { return .nil }
        return entries[.string(key)] ?? .nil
    }

    public var description: String {
        switch self {
        case .nil: "nil"
        case .boolean(let value): String(value)
        case .integer(let value): String(value)
        case .number(let value): String(value)
        case .string(let value): value.debugDescription
        case .table(let entries): "{" + entries.map { "[\($0.key)] = \($0.value)" }.sorted().joined(separator: ", ") + "}"
        case .objectRef(let reference): "ObjectRef(\(reference.hex))"
        }
    }
}

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (LuaValue, LuaValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

/// An ObjectRef held by Swift: it keeps its object alive until released.
public final class ObjectReference: Hashable, Sendable {
    let id: ObjectID
    let store: ObjectStore

    /// Takes over one reference to `id` that the caller holds.
    init(adopting id: ObjectID, store: ObjectStore) {
        self.id = id
        self.store = store
    }

    deinit { store.removeReference(id) }

    /// The object's id, as `ref:hex()` shows it in Lua.
    public var hex: String { id.hex }

    public static func == (a: ObjectReference, b: ObjectReference) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// A Swift function that Lua code calls as `require("swift").name(...)`,
/// on the driver or inside tasks and actors on worker threads.
public typealias SwiftFunction = @Sendable ([LuaValue]) throws -> [LuaValue]
