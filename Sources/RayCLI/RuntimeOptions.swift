import ArgumentParser

/// The options every command that starts a runtime takes.
struct RuntimeOptions: ParsableArguments {
    @Option(name: .customLong("num-cpus"), help: "CPUs the runtime offers to tasks (default: the machine's cores).")
    var numCPUs: Double?

    func validate() throws {
        if let numCPUs, !(numCPUs > 0) || numCPUs > 1024 {
            throw ValidationError("--num-cpus must be a number of CPUs between 1 and 1024, got \(numCPUs)")
        }
    }
}
