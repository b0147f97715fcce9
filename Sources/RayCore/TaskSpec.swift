/// Everything a worker needs to run one task; values are codec messages.
public struct TaskSpec: Sendable {
    public let id: TaskID
    /// For messages and errors: the remote function's `name` option, or `where` it was defined.
    public let name: String
    /// The remote function; its code is in the runtime's function table.
    public let functionID: UniqueID
    /// The arguments, one codec message (arity with nils kept).
    public let arguments: [UInt8]
    /// Every ObjectRef inside `arguments`; the task holds a reference to each until it starts.
    public let argumentRefs: [ObjectID]
    /// Arguments that are themselves ObjectRefs (1-based position, id): resolved to values before the task runs.
    public let topLevelRefs: [(position: Int, id: ObjectID)]
    /// One per declared return value.
    public let returnIDs: [ObjectID]
    public let cpus: Double

    public init(id: TaskID, name: String, functionID: UniqueID, arguments: [UInt8], argumentRefs: [ObjectID],
                topLevelRefs: [(position: Int, id: ObjectID)], returnIDs: [ObjectID], cpus: Double) {
        self.id = id
        self.name = name
        self.functionID = functionID
        self.arguments = arguments
        self.argumentRefs = argumentRefs
        self.topLevelRefs = topLevelRefs
        self.returnIDs = returnIDs
        self.cpus = cpus
    }
}
