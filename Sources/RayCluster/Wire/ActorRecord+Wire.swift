/// An actor in the cluster directory (docs/cluster-protocol.md, kinds 7
/// and 11): id, name (empty for none), namespace, methods, host (u64).
extension Message.ActorRecord: WireCodable {
    func write(to w: inout WireWriter) {
        w.id(id)
        w.string(name)
        w.string(namespace)
        w.strings(methods)
        w.u64(host)
    }

    init(from r: inout WireReader) throws(WireError) {
        self.init(id: try r.id(), name: try r.string(), namespace: try r.string(), methods: try r.strings(), host: try r.u64())
    }
}
