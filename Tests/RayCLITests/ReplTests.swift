import Foundation
import Testing

/// The REPL under a real pseudo-terminal, typed into as a user would.
@Suite("The REPL on a terminal")
struct ReplTests {
    /// A session with its own HOME (for the history file).
    func session(cpus: String = "1") throws -> (PseudoTerminal, URL) {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ray-repl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let terminal = try PseudoTerminal(["--num-cpus", cpus], environment: ["HOME": home.path])
        #expect(terminal.expect("Ctrl-D exits"), "no banner: \(terminal.transcript)")
        #expect(terminal.expect("> "), "no prompt: \(terminal.transcript)")
        return (terminal, home)
    }

    @Test func expressionsStatementsAndErrors() throws {
        let (terminal, home) = try session()
        defer { try? FileManager.default.removeItem(at: home) }
        terminal.type("1 + 1\r")
        #expect(terminal.expect("\r\n2\r\n"), "\(terminal.transcript)")
        terminal.type("1, 'two', nil\r")
        #expect(terminal.expect("1\ttwo\tnil"), "\(terminal.transcript)")
        terminal.type("ray.get(ray.put({ b = { 1 }, a = 1, 3, 'x' }))\r")
        #expect(terminal.expect("{3, \"x\", a = 1, b = {...}}"), "\(terminal.transcript)")
        terminal.type("ray.put(1)\r")
        #expect(terminal.expect("ObjectRef("), "\(terminal.transcript)")
        terminal.type("ray.remote({ f = function() end }).remote()\r")
        #expect(terminal.expect("ActorHandle("), "\(terminal.transcript)")
        terminal.type("select(2, pcall(ray.get, ray.remote(function() error('bad') end).remote()))\r")
        #expect(terminal.expect("RayTaskError in task"), "errors print through their __tostring: \(terminal.transcript)")
        // An incomplete chunk continues under the continuation prompt.
        terminal.type("for i = 1, 2 do\r")
        #expect(terminal.expect(">> "), "\(terminal.transcript)")
        terminal.type("print(i * 10)\rend\r")
        #expect(terminal.expect("10\r\n20\r\n"), "\(terminal.transcript)")
        // An error is printed and the session goes on.
        terminal.type("error('boom')\r")
        #expect(terminal.expect("stdin:1: boom"), "\(terminal.transcript)")
        terminal.type("x = 40\rx + 2\r")
        #expect(terminal.expect("42"), "\(terminal.transcript)")
        #expect(terminal.expect("> "), "a prompt before Ctrl-D: \(terminal.transcript)")
        #expect(terminal.endWithCtrlD() == 0, "Ctrl-D did not end the session: \(terminal.transcript)")
        let history = try String(contentsOf: home.appendingPathComponent(".ray_history"), encoding: .utf8)
        #expect(history.contains("x\\040+\\0402") || history.contains("x + 2"), "the history file keeps the session: \(history)")
    }

    @Test func ctrlCInterruptsALongGetAndDiscardsATypedLine() throws {
        let (terminal, home) = try session(cpus: "1")
        defer { try? FileManager.default.removeItem(at: home) }
        terminal.type("print('spinning') ray.get(ray.remote(function() while true do end end).remote())\r")
        #expect(terminal.expect("spinning\r\n"), "\(terminal.transcript)")
        terminal.type("\u{3}")
        #expect(terminal.expect("interrupted!"), "\(terminal.transcript)")
        // The task it waited for was cancelled: the only CPU is free again.
        terminal.type("ray.get(ray.remote(function() return 6 * 7 end).remote())\r")
        #expect(terminal.expect("42"), "\(terminal.transcript)")
        terminal.type("print('looping') while true do end\r")
        #expect(terminal.expect("looping\r\n"), "\(terminal.transcript)")
        terminal.type("\u{3}")
        #expect(terminal.expect("interrupted!"), "\(terminal.transcript)")
        // Ctrl-C at the prompt throws away what was typed.
        #expect(terminal.expect("> "), "\(terminal.transcript)")
        terminal.type("this is not lua")
        #expect(terminal.expect("this is not lua"), "the line editor echoes what is typed: \(terminal.transcript)")
        terminal.type("\u{3}")
        #expect(terminal.expect("\n> "), "a fresh prompt after Ctrl-C: \(terminal.transcript)")
        terminal.type("'still here'\r")
        #expect(terminal.expect("still here\r\n"), "\(terminal.transcript)")
        #expect(!terminal.transcript.contains("syntax error"), "\(terminal.transcript)")
        #expect(terminal.expect("> "), "a prompt before Ctrl-D: \(terminal.transcript)")
        #expect(terminal.endWithCtrlD() == 0, "Ctrl-D did not end the session: \(terminal.transcript)")
    }

    @Test func tabCompletesGlobalsAndFields() throws {
        let (terminal, home) = try session()
        defer { try? FileManager.default.removeItem(at: home) }
        terminal.type("ray.available_res")
        #expect(terminal.expect("ray.available_res"), "\(terminal.transcript)")
        terminal.type("\t")
        #expect(terminal.expect("ources"), "Tab completes the field: \(terminal.transcript)")
        terminal.type("().CPU\r")
        #expect(terminal.expect("1.0\r\n"), "\(terminal.transcript)")
        #expect(terminal.expect("> "), "a prompt before Ctrl-D: \(terminal.transcript)")
        #expect(terminal.endWithCtrlD() == 0, "Ctrl-D did not end the session: \(terminal.transcript)")
    }

    @Test func replSubcommandAndStandardInputThatIsNotATerminal() throws {
        let piped = try runRay(["repl", "--help"])
        #expect(piped.stdout.contains("interactive session"))
        let script = try runRay([], stdin: "print(1 + 1)")
        #expect(script.stdout == "2\n", "with stdin not a terminal, ray runs it as a script")
    }
}
