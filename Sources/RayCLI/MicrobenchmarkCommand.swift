import ArgumentParser
import Foundation
import LuaKit
import RayCore
import RayLua

/// `ray microbenchmark`: Ray's microbenchmark rows on the embedded runtime,
/// printed in Ray's format (stdlib/ray/microbenchmark.lua has the rows).
struct MicrobenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microbenchmark",
        abstract: "Run the rows of Ray's `ray microbenchmark` on this runtime.",
        discussion: """
            Set TESTS_TO_RUN to run only the rows whose names contain it, and
            TESTS_TO_SKIP to skip those that do (as in Ray).
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(help: "Seconds of warm-up per row (Ray: 1).")
    var warmup: Double = 1

    @Option(help: "Seconds per timed round; each row runs 4 rounds (Ray: 2).")
    var round: Double = 2

    func validate() throws {
        guard warmup > 0, round > 0 else { throw ValidationError("--warmup and --round must be positive") }
    }

    func run() throws {
        var settings = RuntimeSettings()
        if let numCPUs = options.numCPUs { settings.numCPUs = numCPUs }
        let runtime = try Runtime(settings: settings)
        defer { runtime.shutdown() }
        let driver = try RayLuaState(driverOf: runtime)
        let state = driver.state
        let environment = ProcessInfo.processInfo.environment
        func pushPattern(_ name: String) {
            if let pattern = environment[name], !pattern.isEmpty { state.push(pattern) } else { state.pushNil() }
        }
        do throws(LuaError) {
            try state.load("""
                local bench, filter, skip, warmup, round = ...
                bench.run({ filter = filter, skip = skip, warmup = warmup, round = round })
                """, chunkName: "=microbenchmark")
            try driver.pushMicrobenchmark()
            pushPattern("TESTS_TO_RUN")
            pushPattern("TESTS_TO_SKIP")
            state.push(warmup)
            state.push(round)
            try state.call(arguments: 5, results: 0)
        } catch {
            FileHandle.standardError.write(Data("ray: \(error.message)\n\(error.traceback ?? "")\n".utf8))
            throw ExitCode(1)
        }
    }
}
