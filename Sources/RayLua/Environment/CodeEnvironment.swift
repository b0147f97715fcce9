import CLua
import Foundation
import CLuaShims
import RayCore

/// The code environment a submission hands to its work (the contract's
/// "Code and environment"): the submitting state's `package.path` and
/// `package.cpath` (so modules next to the script load in tasks), and its
/// `runtime_env` (variables, extra Lua paths, a working directory). It
/// travels as blobs registered next to the functions' code, named by their
/// content, sent to other nodes once per link (`TaskSpec.environment`):
/// first the environment blob, then the working directory's pack.
///
/// Environment blob: version 1, then path, cpath (varint length, bytes),
/// the number of variables, and each name and value the same way.
struct CodeEnvironment {
    /// The job's `runtime_env` (`ray.init`) on the driver; on a worker the
    /// running task's variables, which its nested submissions inherit.
    var inherited = RuntimeEnv()
    /// On a worker: the running task's working directory pack, inherited too.
    var inheritedWorkingDir: UniqueID?
    /// The paths last seen without a runtime_env, and their blob: a script
    /// that changes nothing registers one blob and compares a few bytes.
    private var last: (path: [UInt8], cpath: [UInt8], environment: TaskEnvironment)?
    private var registered: Set<UniqueID> = []
    /// Working directories packed here, by the path given (packed once, as Ray uploads once).
    private var packed: [String: UniqueID] = [:]

    /// The environment blobs for a submission from `L` with `taskEnv` (its
    /// `runtime_env` option), registered in `runtime`. [-0, +0]
    mutating func current(_ L: OpaquePointer, runtime: Runtime, taskEnv: RuntimeEnv? = nil) throws(WorkingDirectory.Problem) -> TaskEnvironment {
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        defer { clua_pop(L, 4) }
        guard lua_getfield(L, -1, "package") == LUA_TTABLE else {
            lua_pushnil(L)
            lua_pushnil(L)
            return TaskEnvironment()
        }
        lua_getfield(L, -1, "path")
        lua_getfield(L, -2, "cpath")
        guard let path = Self.bytes(L, -2), let cpath = Self.bytes(L, -1) else { return TaskEnvironment() }
        let env = taskEnv.map { inherited.merged(under: $0) } ?? inherited
        if env.isEmpty && inheritedWorkingDir == nil {
            if let last, Self.same(path, last.path), Self.same(cpath, last.cpath) { return last.environment }
            let environment = TaskEnvironment(blob: register(Self.blob(path: Array(path), cpath: Array(cpath), vars: [:]), in: runtime))
            last = (Array(path), Array(cpath), environment)
            return environment
        }
        let fullPath = (env.luaPath.map { Array($0.utf8) + [UInt8(ascii: ";")] } ?? []) + Array(path)
        let fullCPath = (env.luaCPath.map { Array($0.utf8) + [UInt8(ascii: ";")] } ?? []) + Array(cpath)
        var environment = TaskEnvironment(blob: register(Self.blob(path: fullPath, cpath: fullCPath, vars: env.envVars), in: runtime))
        if let dir = env.workingDir {
            environment.workingDirectory = try workingDirectory(dir, runtime: runtime)
        } else {
            environment.workingDirectory = inheritedWorkingDir
        }
        return environment
    }

    /// Packs and registers a working directory (once per path).
    mutating func workingDirectory(_ path: String, runtime: Runtime) throws(WorkingDirectory.Problem) -> UniqueID {
        if let id = packed[path] { return id }
        let pack = try WorkingDirectory.pack(path)
        let id = register(pack, in: runtime)
        packed[path] = id
        return id
    }

    private mutating func register(_ blob: [UInt8], in runtime: Runtime) -> UniqueID {
        let id = WorkingDirectory.contentID(blob)
        if registered.insert(id).inserted { runtime.setFunctionCode(id, blob) }
        return id
    }

    static func blob(path: [UInt8], cpath: [UInt8], vars: [String: String]) -> [UInt8] {
        var out: [UInt8] = [1]
        func count(_ n: Int) {
            var n = UInt64(n)
            while n >= 0x80 { out.append(UInt8(n & 0x7f) | 0x80); n >>= 7 }
            out.append(UInt8(n))
        }
        func put(_ bytes: [UInt8]) {
            count(bytes.count)
            out += bytes
        }
        put(path)
        put(cpath)
        count(vars.count)
        for (name, value) in vars.sorted(by: { $0.key < $1.key }) {
            put(Array(name.utf8))
            put(Array(value.utf8))
        }
        return out
    }

    /// An environment blob's fields; nil when malformed.
    static func parse(_ blob: [UInt8]) -> (path: ArraySlice<UInt8>, cpath: ArraySlice<UInt8>, vars: [(String, String)])? {
        var at = 1
        guard blob.first == 1 else { return nil }
        func count() -> Int? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard at < blob.count else { return nil }
                let byte = blob[at]
                at += 1
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte & 0x80 == 0 { return value <= UInt64(blob.count) ? Int(value) : nil }
            }
            return nil
        }
        func bytes() -> ArraySlice<UInt8>? {
            guard let n = count(), at + n <= blob.count else { return nil }
            defer { at += n }
            return blob[at ..< at + n]
        }
        guard let path = bytes(), let cpath = bytes(), let n = count() else { return nil }
        var vars: [(String, String)] = []
        for _ in 0 ..< n {
            guard let name = bytes(), let value = bytes() else { return nil }
            vars.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return (path, cpath, vars)
    }

    /// Whether two byte strings are equal (memcmp: this runs at every submission).
    static func same(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard let base = a.baseAddress, !b.isEmpty else { return true }
        return b.withUnsafeBytes { memcmp(base, $0.baseAddress!, b.count) == 0 }
    }

    /// The bytes of the string at `index`, in place.
    static func bytes(_ L: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return nil }
        return UnsafeRawBufferPointer(start: chars, count: length)
    }

    /// Sets `L`'s `package.path` and `package.cpath`, unless they already read so. [-0, +0]
    static func setPaths(_ path: some Collection<UInt8>, _ cpath: some Collection<UInt8>, on L: OpaquePointer) {
        lua_getfield(L, CLUA_REGISTRYINDEX, LUA_LOADED_TABLE)
        defer { clua_pop(L, 2) }
        guard lua_getfield(L, -1, "package") == LUA_TTABLE else { return }
        for (key, value) in [("path", Array(path)), ("cpath", Array(cpath))] {
            lua_getfield(L, -1, key)
            let same = bytes(L, -1).map { Self.same($0, value) } ?? false
            clua_pop(L, 1)
            if same { continue }
            value.withUnsafeBytes { raw in
                _ = lua_pushlstring(L, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
            lua_setfield(L, -2, key)
        }
    }
}
