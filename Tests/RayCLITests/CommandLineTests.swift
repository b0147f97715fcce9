import Foundation
import Testing

/// Issue 14: how `ray` tells a command from a script, `--help` after any
/// command and option, and a script's own arguments left alone.
@Suite("The ray command line")
struct CommandLineTests {
    /// A fresh directory holding `files` (name: Lua source), removed after `body`.
    func inDirectory(_ files: [String: String], _ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ray-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, source) in files {
            try source.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try body(directory)
    }

    @Test(arguments: [
        (["run", "--help"], "Run a Lua script"),
        (["run", "-h"], "Run a Lua script"),
        (["run", "--num-cpus", "2", "--help"], "Run a Lua script"),
        (["run", "-e", "error('ran')", "--help"], "Run a Lua script"),
        (["--num-cpus", "2", "run", "--help"], "Run a Lua script"),
        (["--help"], "Run Lua task scripts"),
        (["-h"], "Run Lua task scripts"),
        (["--num-cpus", "2", "--help"], "Run Lua task scripts"),
        (["--address", "127.0.0.1:1", "-h"], "Run Lua task scripts"),
        (["start", "--head", "--help"], "Start a head node"),
        (["--num-cpus", "2", "start", "--help"], "Start a head node"),
        (["stop", "-h"], "Stop the nodes"),
        (["repl", "--num-cpus", "1", "--help"], "Start an interactive session"),
    ])
    func helpAfterAnyCommandAndOption(arguments: [String], overview: String) throws {
        let result = try runRay(arguments, timeout: 60)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        #expect(result.stderr == "", "\(arguments)")
        #expect(result.stdout.hasPrefix("OVERVIEW: " + overview), "\(arguments): \(result.stdout)")
        #expect(result.stdout.contains("USAGE: ray"), "\(arguments)")
    }

    @Test func theHelpStatesTheRuleForScripts() throws {
        let help = try runRay(["--help"]).stdout
        #expect(help.contains("names an existing file, ends in .lua or has a '/'"), "\(help)")
        #expect(help.contains("ray -- run"), "\(help)")
    }

    @Test(arguments: [["list"], ["logs", "--follow"], ["job", "submit", "x.lua"], ["--num-cpus", "2", "list"]])
    func anUnknownCommandIsNamedWithTheCommands(arguments: [String]) throws {
        try inDirectory([:]) { directory in
            let result = try runRay(arguments, directory: directory)
            let word = arguments.first { !$0.hasPrefix("-") && $0 != "2" }!
            #expect(result.status == 2)
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix("ray: unknown command '\(word)' (and no file of that name to run as a script)\nCommands:\n"),
                    "\(result.stderr)")
            for command in ["run", "repl", "microbenchmark", "start", "stop", "status"] {
                #expect(result.stderr.contains("\n  \(command) "), "\(command) is listed: \(result.stderr)")
            }
            #expect(result.stderr.contains("ray ./\(word)"), "\(result.stderr)")
        }
    }

    /// A file named like a word (or like a command) still runs, and every
    /// word after the script is the script's, `--help` included.
    @Test func scriptsNamedLikeCommandsAndTheirArguments() throws {
        let show = "print(arg[0], select('#', ...), ...)"
        try inDirectory(["list": show, "run": show, "job.lua": show]) { directory in
            let cases: [([String], String)] = [
                (["list", "a"], "list\t1\ta\n"),                        // an existing file is a script
                (["./list"], "./list\t0\n"),
                (["run", "list", "--help"], "list\t1\t--help\n"),       // after run: always the script
                (["--", "run", "x"], "run\t1\tx\n"),                    // after --: always the script
                (["run", "--", "job.lua", "-h"], "job.lua\t1\t-h\n"),
                (["job.lua", "--help", "-e", "x"], "job.lua\t3\t--help\t-e\tx\n"),
                (["--num-cpus", "2", "job.lua", "--num-cpus", "3"], "job.lua\t2\t--num-cpus\t3\n"),
                (["run", "--num-cpus", "2", "job.lua", "--", "--version"], "job.lua\t2\t--\t--version\n"),
                (["--num-cpus", "2", "run", "job.lua", "y"], "job.lua\t1\ty\n"),
                (["-e", "print(...)", "a", "--help"], "a\t--help\n"),  // with -e: the words after the options are its arguments
            ]
            for (arguments, output) in cases {
                let result = try runRay(arguments, directory: directory)
                #expect(result.stdout == output, "ray \(arguments.joined(separator: " ")): \(result.stderr)")
                #expect(result.stderr == "", "ray \(arguments.joined(separator: " "))")
                #expect(result.status == 0, "ray \(arguments.joined(separator: " "))")
            }
            // A command's name is the command even where a file has that name:
            // `ray run` with standard input not a terminal runs standard input.
            let command = try runRay(["run"], stdin: "print('stdin ran')", directory: directory)
            #expect(command.stdout == "stdin ran\n", "\(command.stderr)")
        }
    }

    @Test func missingScriptsAndUnknownOptions() throws {
        try inDirectory([:]) { directory in
            for name in ["job.lua", "sub/job", "./list"] {
                let result = try runRay([name], directory: directory)
                #expect(result.status == 1)
                #expect(result.stderr == "ray: cannot open \(name)\n")
            }
            let explicit = try runRay(["run", "list"], directory: directory)
            #expect(explicit.status == 1)
            #expect(explicit.stderr == "ray: cannot open list\n")
            let bad = try runRay(["--bogus", "job.lua"], directory: directory)
            #expect(bad.status == 64)
            #expect(bad.stderr.hasPrefix("Error: Unknown option '--bogus'"), "\(bad.stderr)")
        }
    }
}
