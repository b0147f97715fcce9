import ArgumentParser
import Foundation
import RayCluster

/// The `ray` command: runs Lua task scripts on the embedded runtime.
public struct RayCommand: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "ray",
        abstract: "Run Lua task scripts on a Ray-style runtime.",
        discussion: """
            ray SCRIPT.lua [ARGS...]      run a script (same as ray run)
            ray -e 'CODE'                 run a chunk
            ray < SCRIPT.lua              run standard input
            ray                           on a terminal: the interactive REPL (same as ray repl)
            ray microbenchmark            Ray's microbenchmark rows (TESTS_TO_RUN=... for a subset)
            ray start --head | --address HOST:PORT, ray status, ray stop: a cluster of nodes
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
        main()
    }
}
