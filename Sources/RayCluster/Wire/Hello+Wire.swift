/// A connection's introduction (docs/cluster-protocol.md, kind 1): token,
/// role (varint), node id, incarnation (varint), address, resources, owner (u64).
extension Message.Hello: WireCodable {
    func write(to w: inout WireWriter) {
        w.string(token)
        w.varint(UInt64(role.rawValue))
        w.string(nodeID)
        w.varint(incarnation)
        w.string(address)
        w.resources(resources)
        w.u64(owner)
    }

    init(from r: inout WireReader) throws(WireError) {
        let token = try r.string(), number = try r.varint()
        guard number <= UInt64(UInt8.max), let role = Role(rawValue: UInt8(number)) else { throw .malformed("unknown role \(number)") }
        self.init(token: token, role: role, nodeID: try r.string(), incarnation: try r.varint(), address: try r.string(),
                  resources: try r.resources(), owner: try r.u64())
    }
}

/// The answer to a `hello` (kind 2): node id, heartbeat interval (double), owner (u64).
extension Message.Welcome: WireCodable {
    func write(to w: inout WireWriter) {
        w.string(headNodeID)
        w.double(heartbeatInterval)
        w.u64(owner)
    }

    init(from r: inout WireReader) throws(WireError) {
        self.init(headNodeID: try r.string(), heartbeatInterval: try r.double(), owner: try r.u64())
    }
}
