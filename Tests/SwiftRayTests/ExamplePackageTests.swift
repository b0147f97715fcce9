import Foundation
import Testing

/// Builds and runs Examples/EmbedDemo, a separate package that depends on
/// the SwiftRay library by path, as a user's program would.
@Suite("The embedding example package")
struct ExamplePackageTests {
    @Test func embedDemoBuildsAndRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "run", "--package-path", root.appendingPathComponent("Examples/EmbedDemo").path, "embed-demo"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1200, execute: killer)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        finished.wait()
        killer.cancel()
        #expect(process.terminationStatus == 0, "swift run failed:\n\(text)")
        #expect(text.contains("words: 9 lines: 3"), "\(text)")
        #expect(text.contains("a Lua error reached Swift: demo:1: this one fails"), "\(text)")
        #expect(text.contains("workers left: 0"), "\(text)")
    }
}
