import RayCore

/// An actor as `create actor` carries it: its options, class name, methods,
/// creation task, and restarts so far (docs/cluster-protocol.md, kind 34).
extension ActorCreation: WireCodable {
    func write(to w: inout WireWriter) {
        w.write(options)
        w.string(className)
        w.strings(methods)
        w.write(creation)
        w.int(restarts)
    }

    init(from r: inout WireReader) throws(WireError) {
        let options = try r.read(ActorOptions.self), className = try r.string(), methods = try r.strings()
        let creation = try r.read(TaskSpec.self)
        // Any other task would register an actor that never runs its `init`.
        guard case .actorCreation = creation.kind else { throw .malformed("an actor's creation task is not an actor creation") }
        self.init(options: options, className: className, methods: methods, creation: creation)
        restarts = try r.int()
    }
}

/// What `ray.remote(opts, class)` fixed: whether it has a name (bool),
/// then the name when it has one, the namespace, max concurrency (at
/// least 1), max restarts and max task retries (signed, -1 unlimited),
/// lifetime CPUs (a finite double, not negative), detached (bool).
extension ActorOptions: WireCodable {
    func write(to w: inout WireWriter) {
        w.bool(name != nil)
        if let name { w.string(name) }
        w.string(namespace)
        w.signed(maxConcurrency)
        w.signed(maxRestarts)
        w.signed(maxTaskRetries)
        w.double(lifetimeCPUs)
        w.bool(detached)
    }

    init(from r: inout WireReader) throws(WireError) {
        let name = try r.bool() ? try r.string() : nil
        self.init(namespace: try r.string())
        self.name = name
        maxConcurrency = try r.signed()
        guard maxConcurrency >= 1 else { throw .malformed("an actor with max concurrency \(maxConcurrency)") }
        maxRestarts = try r.signed()
        maxTaskRetries = try r.signed()
        lifetimeCPUs = try r.double()
        guard lifetimeCPUs >= 0, lifetimeCPUs.isFinite else { throw .malformed("an actor holds \(lifetimeCPUs) CPUs") }
        detached = try r.bool()
    }
}
