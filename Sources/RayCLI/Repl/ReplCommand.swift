import ArgumentParser

/// `ray repl`: the interactive session (also `ray` alone on a terminal).
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Start an interactive session with the runtime up and `ray` loaded.")

    @Option(name: .customLong("num-cpus"), help: "CPUs the runtime offers to tasks (default: the machine's cores).")
    var numCPUs: Double?

    func validate() throws {
        if let numCPUs, !(numCPUs > 0) || numCPUs > 1024 {
            throw ValidationError("--num-cpus must be a number of CPUs between 1 and 1024, got \(numCPUs)")
        }
    }

    func run() throws {
        let status = Repl(numCPUs: numCPUs).run()
        if status != 0 { throw ExitCode(status) }
    }
}
