import RayCore

/// A task's code environment: for the environment blob, then the working
/// directory's, whether it is there (bool), then its id when it is.
extension TaskEnvironment: WireCodable {
    func write(to w: inout WireWriter) {
        for id in [blob, workingDirectory] {
            w.bool(id != nil)
            if let id { w.id(id) }
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        func optionalID() throws(WireError) -> UniqueID? { try r.bool() ? try r.id() : nil }
        let blob = try optionalID()
        self.init(blob: blob, workingDirectory: try optionalID())
    }
}
