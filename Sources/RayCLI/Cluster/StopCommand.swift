import ArgumentParser
import CProcess
import Foundation
import RayCluster
#if canImport(Glibc)
import Glibc
#endif

/// `ray stop`: stops the node processes started on this machine, politely
/// (SIGTERM) and then, after a grace period, by force (SIGKILL).
struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the nodes started on this machine.")

    @Option(help: "Seconds to wait for a node to stop after SIGTERM before SIGKILL.")
    var grace = 10.0

    @Flag(help: "Send SIGKILL at once.")
    var force = false

    func run() throws {
        let session = SessionFiles()
        let nodes = session.nodes
        // Workers first, the head last: workers then leave a head that still listens.
        let ordered = nodes.filter { !$0.summary.hasPrefix("head") } + nodes.filter { $0.summary.hasPrefix("head") }
        var stopped = 0, forced = 0
        for node in ordered {
            guard Self.isRunning(node.pid) && SessionFiles.isNodeProcess(node.pid) else {
                session.unregisterNode(pid: node.pid)  // left over from a node that died (its pid may be reused)
                continue
            }
            if !force { kill(node.pid, SIGTERM) }
            if force || !Self.waitForExit(node.pid, seconds: grace) {
                kill(node.pid, SIGKILL)
                _ = Self.waitForExit(node.pid, seconds: 5)
                forced += 1
            }
            session.unregisterNode(pid: node.pid)
            stopped += 1
        }
        if stopped == 0 {
            print("No nodes were running on this machine.")
        } else {
            print("Stopped \(stopped) node process\(stopped == 1 ? "" : "es")\(forced > 0 ? " (\(forced) by SIGKILL)" : "").")
        }
    }

    /// Alive and not a zombie (a stopped node whose parent has not reaped it).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Waits until the process is gone; false after `seconds`. It is not our
    /// child: the wait is on a pidfd, else (before Linux 5.3) a poll every 20 ms.
    static func waitForExit(_ pid: pid_t, seconds: Double) -> Bool {
        switch cprocess_wait_exit(pid, Int32(seconds * 1000)) {
        case 1: return true
        case 0: return !isRunning(pid)
        default: break
        }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !isRunning(pid) { return true }
            usleep(20_000)
        }
        return !isRunning(pid)
    }
}
