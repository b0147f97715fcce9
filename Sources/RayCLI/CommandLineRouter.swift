import Foundation

/// Decides what the words of a `ray` command line are before the argument
/// parser sees them, so that a script and a command are told apart by one
/// rule and everything after the script belongs to the script:
///
/// - `--` ends ray's options: the next word is the script.
/// - `-h`/`--help` among the options before the first word prints the help
///   of the command they stand in (`ray`'s own when none is named).
/// - A first word that is a command's name (`run`, `start`, ...) is that
///   command; options before it are handed to it (`ray --num-cpus 2 run x.lua`).
/// - Otherwise a first word that names an existing file, ends in `.lua`,
///   contains a `/` or is `-` (standard input) is a script.
/// - Otherwise it is an unknown command.
///
/// After `run` (and after `--`) the first word is always the script. The
/// result is a command line the parser reads strictly: `run`, the options,
/// `--`, the script and its arguments.
struct CommandLineRouter {
    /// The names of the commands, as the parser knows them.
    var commands: [String]
    /// Whether a file (or directory) of that name exists.
    var fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }

    /// `ray run`'s options that take a value (the others are flags), whose
    /// value may be the next word: it must not be taken for the script.
    static let runOptionsWithValue: Set<String> = ["--num-cpus", "--address", "-e"]

    enum Route: Equatable {
        /// Hand this command line to the parser.
        case parse([String])
        /// The first word is neither a command nor a script.
        case unknownCommand(String)
    }

    func route(_ arguments: [String]) -> Route {
        guard let first = arguments.first else { return .parse(["run"]) }
        if first == "run" { return routeRun(Array(arguments.dropFirst()), topLevel: false) }
        if commands.contains(first) || first == "help" { return .parse(arguments) }
        return routeRun(arguments, topLevel: true)
    }

    /// Routes `ray [OPTIONS] WORD ...` (topLevel) or `ray run [OPTIONS] SCRIPT ...`.
    private func routeRun(_ arguments: [String], topLevel: Bool) -> Route {
        var options: [String] = []
        var hasCode = false
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            if word == "--" {
                return .parse(["run"] + options + ["--"] + arguments[(i + 1)...])
            }
            if word == "-h" || word == "--help" {
                return .parse(topLevel ? ["--help"] : ["run", "--help"])
            }
            if topLevel && word == "--version" && options.isEmpty { return .parse(["--version"]) }
            guard word.hasPrefix("-") && word != "-" else { break }
            options.append(word)
            if word == "-e" { hasCode = true }
            if Self.runOptionsWithValue.contains(word) && i + 1 < arguments.count {
                options.append(arguments[i + 1])
                i += 1
            }
            i += 1
        }
        guard i < arguments.count else { return .parse(["run"] + options) }
        let word = arguments[i], rest = arguments[(i + 1)...]
        // With -e CODE the chunk is the script: every word left is its argument.
        if hasCode || !topLevel || (!commands.contains(word) && isScript(word)) {
            return .parse(["run"] + options + ["--", word] + rest)
        }
        if word == "run" { return routeRun(options + rest, topLevel: false) }
        if commands.contains(word) { return .parse([word] + options + rest) }
        return .unknownCommand(word)
    }

    private func isScript(_ word: String) -> Bool {
        word == "-" || word.hasSuffix(".lua") || word.contains("/") || fileExists(word)
    }
}
