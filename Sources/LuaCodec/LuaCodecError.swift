/// Why a value could not be encoded or bytes could not be decoded.
///
/// Encoding errors name the path to the offending value, e.g.
/// `argument 2: field 'co' is a coroutine`.
public struct LuaCodecError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The broad reason, for callers that map errors (e.g. to `SerializationError`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// A value of a kind that cannot cross (coroutine, foreign userdata, unnamed C function).
        public static let unsupportedValue = Code(name: "unsupportedValue")
        /// A function reads globals through a computed key (`_G[expr]`).
        public static let unresolvableGlobal = Code(name: "unresolvableGlobal")
        /// Nesting deeper than the codec's limit, or memory or Lua stack exhausted.
        public static let limitExceeded = Code(name: "limitExceeded")
        /// Bytes that are not a valid encoding (truncated, corrupt, hostile, other version).
        public static let malformed = Code(name: "malformed")
        /// Valid bytes naming something the receiver lacks (a module, a library value, an extension).
        public static let unavailable = Code(name: "unavailable")
        public var description: String { name }
    }

    public var code: Code
    /// What went wrong about the value itself, e.g. `is a coroutine`.
    public var problem: String
    /// Where the value was found, outermost first (built while unwinding).
    var path: [PathSegment] = []
    /// The root label, e.g. `argument 2`.
    var root: String?

    public init(_ code: Code, _ problem: String) {
        self.code = code
        self.problem = problem
    }

    static func malformed(_ problem: String) -> LuaCodecError { LuaCodecError(.malformed, problem) }
    static func unavailable(_ problem: String) -> LuaCodecError { LuaCodecError(.unavailable, problem) }

    /// The full message: `<root>: <path> <problem>`, or `<root> <problem>` at the root.
    public var message: String {
        let location = PathSegment.render(path)
        switch (root, location.isEmpty) {
        case (nil, true): return problem
        case (nil, false): return location + " " + problem
        case (let root?, true): return root + " " + problem
        case (let root?, false): return root + ": " + location + " " + problem
        }
    }

    public var description: String { message }

    public static func == (lhs: LuaCodecError, rhs: LuaCodecError) -> Bool { lhs.message == rhs.message }
}

/// One step on the way from a root value to the value that failed.
enum PathSegment: Sendable {
    case field(String)               // a string key that is a Lua name
    case index(String)               // any other key, rendered as [key]
    case key                         // the key itself failed
    case metatable
    case upvalue(name: String, function: String)
    case global(name: String, function: String)

    /// `field 'a.b[2]'`, `upvalue 'x' of function job.lua:3`, ... joined by ", ".
    static func render(_ path: [PathSegment]) -> String {
        var parts: [String] = []
        var fields = ""
        func flush() {
            if !fields.isEmpty { parts.append("field '\(fields)'"); fields = "" }
        }
        for segment in path {
            switch segment {
            case .field(let name): fields += fields.isEmpty ? name : "." + name
            case .index(let key): fields += "[\(key)]"
            case .key:
                flush()
                parts.append("a key")
            case .metatable:
                flush()
                parts.append("metatable")
            case .upvalue(let name, let function):
                flush()
                parts.append("upvalue '\(name)' of function \(function)")
            case .global(let name, let function):
                flush()
                parts.append("global '\(name)' of function \(function)")
            }
        }
        flush()
        return parts.joined(separator: ", ")
    }
}
