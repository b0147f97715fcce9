import ArgumentParser

/// `ray repl`: the interactive session (also `ray` alone on a terminal).
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Start an interactive session with the runtime up and `ray` loaded.")

    @OptionGroup var options: RuntimeOptions

    func run() throws {
        let status = Repl(numCPUs: options.numCPUs).run()
        if status != 0 { throw ExitCode(status) }
    }
}
