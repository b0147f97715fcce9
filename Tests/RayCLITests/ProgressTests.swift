import Foundation
import Testing

/// Issue 14: `ray.util.progress` and `ray.get(refs, { progress = true })`.
@Suite("Progress bars")
struct ProgressTests {
    /// stderr a pipe: no bar; values in the (forced) completion order with
    /// their input positions, ray.get's values in input order, errors.
    @Test func withoutATerminalValuesComeInCompletionOrderAndNoBar() throws {
        let result = try runRay(["--num-cpus", "2", scripts.appendingPathComponent("progress.lua").path])
        #expect(result.stderr == "")
        #expect(result.stdout == """
            array\tc1\t3
            array\tc2\t1
            array\tc3\t4
            array\tc4\t2
            generator\tc1\t2
            generator\tc2\t3
            generator\tc3\t1
            repeated\tx\t1
            repeated\ty\t2
            repeated\tx\t3
            get\t1 4 9 16 25
            get one\t49
            in a task\t10@1 20@2
            task error\tfalse\tRayTaskError
            timeout\tfalse\tGetTimeoutError\ttrue
            ray.util.progress: expected an array of ObjectRefs or a generator (a function returning the next ref, then nil), got number
            ray.util.progress: element 1 is number, not an ObjectRef
            ray.util.progress: unknown option 'width'
            ray.get: progress must be true or a description (a string), got number
            ray.get: expected an ObjectRef or an array of ObjectRefs, got table
            ray.util.progress: the generator returned number (42), not an ObjectRef
            progress ok

            """)
        #expect(result.status == 0)
    }

    /// stderr a terminal: the bar is drawn in place with its count and rate,
    /// at most about 10 times a second, and ends on a line of total/total;
    /// a task's progress draws nothing.
    @Test func onATerminalTheBarIsDrawnInPlaceAndEndsAtTheTotal() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString).lua")
        try """
            local work = ray.remote(function(i) ray.sleep(0.02 * i) return i end)
            local refs = {}
            for i = 1, 20 do refs[i] = work.remote(i) end
            local sum = 0
            for v in ray.util.progress(refs, { desc = "work" }) do sum = sum + v end
            print("sum", sum)
            print("got", #ray.get(refs, { progress = "fetch" }))
            print(ray.get(ray.remote(function()
              for _ in ray.util.progress({ ray.put(1) }, { desc = "inner" }) do end
              return "task done"
            end).remote()))
            """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let terminal = try PseudoTerminal(["--num-cpus", "2", file.path])
        #expect(terminal.waitForExit(timeout: 60) == 0, "\(terminal.transcript)")
        let transcript = terminal.transcript
        #expect(transcript.contains("\rwork: [....................] 0/20 0.00/s\u{1B}[K"), "\(transcript.debugDescription)")
        let final = /\rwork: \[#{20}\] 20\/20 [0-9.]+\/s in ([0-9.]+)s\x{1B}\[K\r\n/
        let match = transcript.firstMatch(of: final)
        #expect(match != nil, "\(transcript.debugDescription)")
        if let match, let seconds = Double(match.1) {
            let drawings = transcript.matches(of: #/\rwork: /#).count
            #expect(drawings >= 2 && Double(drawings) <= 2 + (seconds + 0.1) * 10, "\(drawings) drawings in \(seconds) s")
        }
        #expect(transcript.contains("sum\t210\r\n"), "\(transcript.debugDescription)")
        #expect(transcript.firstMatch(of: /\rfetch: \[#{20}\] 20\/20 [0-9.]+\/s in [0-9.]+s\x{1B}\[K\r\ngot\t20\r\n/) != nil,
                "\(transcript.debugDescription)")
        #expect(transcript.contains("task done\r\n"), "\(transcript.debugDescription)")
        #expect(!transcript.contains("inner"), "a task draws no bar: \(transcript.debugDescription)")
    }
}
