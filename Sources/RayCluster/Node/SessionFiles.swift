import Foundation

/// What the nodes started on this machine leave for other commands: the
/// head's address, the cluster token (readable by this user only), and one
/// file per running node process (for `ray stop`). The directory is
/// `RAY_SESSION_DIR`, else `/tmp/swiftray-<uid>`.
public struct SessionFiles: Sendable {
    public let directory: URL

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let path = environment["RAY_SESSION_DIR"], !path.isEmpty {
            directory = URL(fileURLWithPath: path)
        } else {
            directory = URL(fileURLWithPath: "/tmp/swiftray-\(getuid())")
        }
    }

    var tokenFile: URL { directory.appendingPathComponent("token") }
    var headAddressFile: URL { directory.appendingPathComponent("head_address") }
    var nodesDirectory: URL { directory.appendingPathComponent("nodes") }
    public var logsDirectory: URL { directory.appendingPathComponent("logs") }

    /// Creates the directories, readable by this user only.
    public func prepare() throws {
        for dir in [directory, nodesDirectory, logsDirectory] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        chmod(directory.path, 0o700)
    }

    func write(_ text: String, to file: URL, mode: mode_t = 0o600) throws {
        let temporary = file.appendingPathExtension("tmp\(getpid())")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: Int(mode)]) else {
            throw ClusterError("cannot write \(file.path)")
        }
        guard rename(temporary.path, file.path) == 0 else { throw ClusterError("cannot write \(file.path)") }
    }

    func read(_ file: URL) -> String? {
        (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var token: String? { read(tokenFile) }
    public var headAddress: String? { read(headAddressFile) }

    /// A node process of this machine, as `ray stop` finds it.
    public struct NodeEntry: Sendable {
        public let pid: pid_t
        public let summary: String
    }

    func registerNode(pid: pid_t, summary: String) throws {
        try write(summary, to: nodesDirectory.appendingPathComponent(String(pid)))
    }

    public func unregisterNode(pid: pid_t) {
        try? FileManager.default.removeItem(at: nodesDirectory.appendingPathComponent(String(pid)))
    }

    public var nodes: [NodeEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: nodesDirectory.path)) ?? []
        return names.compactMap { name in
            guard let pid = pid_t(name) else { return nil }
            return NodeEntry(pid: pid, summary: read(nodesDirectory.appendingPathComponent(name)) ?? "")
        }.sorted { $0.pid < $1.pid }
    }

    /// Whether `pid` is a node process (`ray start ... --block`), not
    /// another process that took the pid of a node that died without
    /// removing its file.
    public static func isNodeProcess(_ pid: pid_t) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains("start") && arguments.contains("--block")
    }

    func clearHead() {
        try? FileManager.default.removeItem(at: headAddressFile)
        try? FileManager.default.removeItem(at: tokenFile)
    }
}

/// A cluster command's failure, with a message for the user.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
