import CLua
import CLuaShims

/// Calling the Swift functions an embedding program registered.
extension Primitives {
    /// `_ray.call_swift(name, ...)` -> the function's results. Arguments and
    /// results cross as LuaValues; a Swift error is raised as a Lua error.
    static let callSwift: clua_SwiftFunction = { L in
        guard let L else { return 0 }
        let ray = RayLuaState.from(L)
        guard let name = string(L, 1) else { return fail(L, "swift: expected a function name") }
        guard let function = ray.runtime.swiftFunction(name) else {
            return fail(L, "swift.\(name): no Swift function is registered under that name")
        }
        var arguments: [LuaValue] = []
        let top = lua_gettop(L)
        if top >= 2 {
            for index in 2...top {
                do throws(LuaValueError) {
                    arguments.append(try LuaValue.read(from: L, at: index, ray: ray, path: "argument \(index - 1)"))
                } catch {
                    return fail(L, "swift.\(name): \(error.description)")
                }
            }
        }
        let results: [LuaValue]
        do {
            results = try function(arguments)
        } catch {
            return fail(L, "swift.\(name): \(error)")
        }
        let base = lua_gettop(L)
        for (i, result) in results.enumerated() {
            do throws(LuaValueError) {
                try result.push(on: L, ray: ray)
            } catch {
                lua_settop(L, base)
                return fail(L, "swift.\(name): result \(i + 1): \(error.description)")
            }
        }
        return Int32(results.count)
    }
}
