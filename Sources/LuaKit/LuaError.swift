/// A Lua error caught at a protected boundary: the error's message (the value
/// converted as `tostring` would) and the Lua traceback when one was recorded.
public struct LuaError: Error, CustomStringConvertible, Sendable {
    /// The error value as text, e.g. `job.lua:3: attempt to index a nil value`.
    public var message: String
    /// The Lua traceback at the point of the error, or nil.
    public var traceback: String?

    public init(message: String, traceback: String? = nil) {
        self.message = message
        self.traceback = traceback
    }

    public var description: String {
        guard let traceback else { return message }
        return message + "\n" + traceback
    }
}
