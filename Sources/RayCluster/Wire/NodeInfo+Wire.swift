/// A node's periodic report (docs/cluster-protocol.md, kind 4): node id,
/// incarnation (varint), available resources, pending tasks (varint).
extension Message.Heartbeat: WireCodable {
    func write(to w: inout WireWriter) {
        w.string(nodeID)
        w.varint(incarnation)
        w.resources(available)
        w.int(pendingTasks)
    }

    init(from r: inout WireReader) throws(WireError) {
        self.init(nodeID: try r.string(), incarnation: try r.varint(), available: try r.resources(), pendingTasks: try r.int())
    }
}

/// A node in a `status` answer (kind 6): id, address (strings), is head,
/// alive (bools), total and available resources, pending tasks (varint),
/// seconds since its last heartbeat (double), owner (u64).
extension Message.NodeInfo: WireCodable {
    func write(to w: inout WireWriter) {
        w.string(nodeID)
        w.string(address)
        w.bool(isHead)
        w.bool(alive)
        w.resources(total)
        w.resources(available)
        w.int(pendingTasks)
        w.double(lastSeen)
        w.u64(owner)
    }

    init(from r: inout WireReader) throws(WireError) {
        self.init(nodeID: try r.string(), address: try r.string(), isHead: try r.bool(), alive: try r.bool(),
                  total: try r.resources(), available: try r.resources(), pendingTasks: try r.int(),
                  lastSeen: try r.double(), owner: try r.u64())
    }
}

/// A job in a `status` answer: id (string), running (bool), age in seconds (double).
extension Message.JobInfo: WireCodable {
    func write(to w: inout WireWriter) {
        w.string(jobID)
        w.bool(running)
        w.double(age)
    }

    init(from r: inout WireReader) throws(WireError) {
        self.init(jobID: try r.string(), running: try r.bool(), age: try r.double())
    }
}
