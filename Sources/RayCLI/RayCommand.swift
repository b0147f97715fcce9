import ArgumentParser
import Foundation
import RayCluster

/// The `ray` command: runs Lua task scripts on the embedded runtime.
public struct RayCommand: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "ray",
        abstract: "Run Lua task scripts on a Ray-style runtime.",
        usage: "ray [--num-cpus N] [--address HOST:PORT] [-e CODE] [--] [SCRIPT.lua [ARGS...]]\nray <command> [OPTIONS]",
        discussion: """
            ray SCRIPT.lua [ARGS...]      run a script (same as ray run SCRIPT.lua)
            ray -e 'CODE'                 run a chunk
            ray < SCRIPT.lua              run standard input
            ray                           on a terminal: the interactive REPL (same as ray repl)
            ray microbenchmark            Ray's microbenchmark rows (TESTS_TO_RUN=... for a subset)
            ray start --head | --address HOST:PORT, ray status, ray stop: a cluster of nodes

            The first word is a command if it names one; otherwise a script if it
            names an existing file, ends in .lua or has a '/' (ray ./list); otherwise
            an unknown command. After `ray run` or `--` it is always the script
            (ray run list, ray -- run). Every word after the script is the
            script's (ray job.lua --help gives --help to the script as arg[1]).
            -h/--help before it prints the help of the command it follows.
            """,
        version: "ray \(version) (Lua 5.4)",
        subcommands: [RunCommand.self, ReplCommand.self, MicrobenchmarkCommand.self,
                      StartCommand.self, StopCommand.self, StatusCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}

    /// Runs the command with cluster support linked in (`ray.init{address = ...}`).
    public static func mainWithCluster() {
        DriverAttach.install()
        let commands = configuration.subcommands.compactMap { $0.configuration.commandName }
        switch CommandLineRouter(commands: commands).route(Array(CommandLine.arguments.dropFirst())) {
        case .parse(let arguments):
            main(arguments)
        case .unknownCommand(let word):
            FileHandle.standardError.write(Data(unknownCommandMessage(word).utf8))
            Foundation.exit(2)
        }
    }

    /// What `ray WORD` says when WORD is neither a command nor a script.
    static func unknownCommandMessage(_ word: String) -> String {
        let lines = configuration.subcommands.compactMap { command -> String? in
            guard let name = command.configuration.commandName else { return nil }
            return "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + command.configuration.abstract
        }
        return """
            ray: unknown command '\(word)' (and no file of that name to run as a script)
            Commands:
            \(lines.joined(separator: "\n"))
            A script is a file that exists, or a name that ends in .lua or has a '/': ray job.lua, ray ./\(word).
            See ray --help.

            """
    }
}
