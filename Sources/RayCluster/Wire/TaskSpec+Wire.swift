import RayCore

/// A task as `submit` and `create actor` carry it (docs/cluster-protocol.md, kind 33).
extension TaskSpec: WireCodable {
    func write(to w: inout WireWriter) {
        w.id(id)
        w.string(name)
        w.write(kind)
        w.blob(arguments)
        w.ids(argumentRefs)
        w.int(topLevelRefs.count)
        for ref in topLevelRefs {
            w.int(ref.position)
            w.id(ref.id)
        }
        w.ids(returnIDs)
        w.double(cpus)
        w.resources(resources)
        w.write(strategy)
        w.signed(maxRetries)
        w.bool(retryExceptions)
        w.int(attempt)
        w.write(environment)
        w.string(namespace)
    }

    init(from r: inout WireReader) throws(WireError) {
        let id: TaskID = try r.id()
        let name = try r.string(), kind = try r.read(Kind.self)
        let arguments = try r.blob()
        let argumentRefs: [ObjectID] = try r.ids()
        let topLevelRefs = try Self.readTopLevelRefs(from: &r)
        let returnIDs: [ObjectID] = try r.ids()
        let cpus = try r.double()
        guard cpus >= 0, cpus.isFinite else { throw .malformed("a task needs \(cpus) CPUs") }
        self.init(id: id, name: name, kind: kind, arguments: arguments, argumentRefs: argumentRefs,
                  topLevelRefs: topLevelRefs, returnIDs: returnIDs, cpus: cpus)
        resources = try r.resources()
        strategy = try r.read()
        maxRetries = try r.signed()
        retryExceptions = try r.bool()
        attempt = try r.int()
        environment = try r.read()
        namespace = try r.string()
    }

    /// Positions are 1-based and increase, as the submitter lists its
    /// arguments: a worker replaces the argument at each one.
    private static func readTopLevelRefs(from r: inout WireReader) throws(WireError) -> [(position: Int, id: ObjectID)] {
        let count = try r.int()
        guard count <= r.remaining / 17 else { throw .malformed("\(count) top-level refs run past the payload") }
        var refs: [(position: Int, id: ObjectID)] = []
        refs.reserveCapacity(count)
        for _ in 0..<count {
            let position = try r.int()
            guard position > (refs.last?.position ?? 0) else {
                throw .malformed("top-level ref at argument \(position) after argument \(refs.last?.position ?? 0)")
            }
            refs.append((position, try r.id()))
        }
        return refs
    }
}

/// 1 a function (its id), 2 an actor's creation (actor id, class code), 3 an actor's method (actor id, name).
extension TaskSpec.Kind: WireCodable {
    func write(to w: inout WireWriter) {
        switch self {
        case .function(let function):
            w.varint(1)
            w.id(function)
        case .actorCreation(let actor, let classCode):
            w.varint(2)
            w.id(actor)
            w.blob(classCode)
        case .actorMethod(let actor, let method):
            w.varint(3)
            w.id(actor)
            w.string(method)
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        switch try r.varint() {
        case 1: self = .function(try r.id())
        case 2: self = .actorCreation(try r.id(), classCode: try r.blob())
        case 3: self = .actorMethod(try r.id(), method: try r.string())
        case let other: throw .malformed("unknown task kind \(other)")
        }
    }
}
