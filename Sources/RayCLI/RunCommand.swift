import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `ray run SCRIPT.lua [ARGS...]`, `ray -e CODE`, or a script on standard input.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script with `ray` loaded and the runtime started.",
        usage: "ray run [--num-cpus N] [--address HOST:PORT] [-e CODE] [--] [SCRIPT.lua [ARGS...]]",
        discussion: """
            The first word after the options is the script, even if it names a
            command (ray run list); every word after it is the script's argument
            (ray run job.lua --help sets arg[1] to --help). With -e, every word
            after the options is an argument of CODE. No script on a terminal:
            the REPL; "-" or standard input not a terminal: runs standard input.
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(help: "Run as a driver attached to a cluster: HOST:PORT of its head, or auto (RAY_ADDRESS, else the head started on this machine).")
    var address: String?

    func validate() throws {
        if address != nil && options.numCPUs != nil {
            throw ValidationError("--num-cpus cannot be given with --address: the cluster's nodes bring their own CPUs")
        }
    }

    @Option(name: .customShort("e"), help: ArgumentHelp("Run CODE instead of a script file.", valueName: "CODE"))
    var code: String?

    /// After `--`: CommandLineRouter puts it before the script, so that no
    /// word of the script's arguments is taken for an option of ray's.
    @Argument(parsing: .postTerminator, help: "The script (\"-\" for standard input) and its arguments.")
    var script: [String] = []

    func run() throws {
        let source: ScriptSource
        if let code {
            source = .chunk(code)
        } else if let path = script.first, path != "-" {
            source = .file(path)
        } else if isatty(STDIN_FILENO) == 0 || script.first == "-" {
            source = .standardInput
        } else {
            let status = Repl(numCPUs: options.numCPUs).run()  // a terminal, and nothing to run
            if status != 0 { throw ExitCode(status) }
            return
        }
        let arguments = code == nil ? Array(script.dropFirst()) : script
        let status = ScriptRunner(numCPUs: options.numCPUs, address: address).run(source, arguments: arguments)
        if status != 0 { throw ExitCode(status) }
    }
}
