import Foundation
import RayCore

/// A `runtime_env.working_dir` as it travels: packed once on the submitting
/// side (its files, without `.git`, at most `maxBytes`), named by a hash of
/// its content, and unpacked once per node into a cache directory that
/// every worker there shares.
///
/// Pack: "SRWD", version 1, then per regular file: path length (varint),
/// path (relative, '/'-separated), executable (1 byte), size (varint), bytes.
enum WorkingDirectory {
    /// As Ray's default package limit.
    static let maxBytes = 100 << 20
    static let magic: [UInt8] = Array("SRWD".utf8) + [1]

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Packs the directory at `path`; a problem names what is wrong with it.
    static func pack(_ path: String) throws(Problem) -> [UInt8] {
        let root = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Problem(description: "working_dir '\(path)' is not a directory")
        }
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isDirectoryKey],
                                                          options: []) else {
            throw Problem(description: "working_dir '\(path)' cannot be read")
        }
        var files: [(String, URL)] = []
        for case let url as URL in walker {
            if url.lastPathComponent == ".git" {
                walker.skipDescendants()
                continue
            }
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count)).drop { $0 == "/" }
            files.append((String(relative), url))
        }
        files.sort { $0.0 < $1.0 }  // the same directory packs to the same bytes
        var out = magic
        var total = 0
        for (relative, url) in files {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw Problem(description: "working_dir: cannot read '\(relative)'")
            }
            total += data.count
            guard total <= maxBytes else {
                throw Problem(description: "working_dir '\(path)' holds more than \(maxBytes >> 20) MiB (the limit; .git is left out)")
            }
            let executable = FileManager.default.isExecutableFile(atPath: url.path)
            varint(UInt64(relative.utf8.count), into: &out)
            out += Array(relative.utf8)
            out.append(executable ? 1 : 0)
            varint(UInt64(data.count), into: &out)
            out += data
        }
        return out
    }

    /// A name for `bytes` that is the same on every node: two FNV-1a 64 hashes
    /// with different offsets (content addressing, not security: the blob
    /// comes from an authenticated peer).
    static func contentID(_ bytes: [UInt8]) -> UniqueID {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325, b: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return UniqueID(high: a, low: b ^ UInt64(bytes.count))
    }

    /// The directory holding the unpacked files of `pack` (named `id`) under
    /// `cache`, unpacking them first if no worker here did. A malformed pack
    /// (a path leaving the directory, a truncated file) is a problem.
    static func materialize(_ id: UniqueID, _ pack: [UInt8], cache: String) throws(Problem) -> String {
        let target = cache + "/wd-" + id.hex
        if FileManager.default.fileExists(atPath: target) { return target }
        let scratch = cache + "/.unpacking-\(id.hex)-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try unpack(pack, into: scratch)
        } catch let problem as Problem {
            try? FileManager.default.removeItem(atPath: scratch)
            throw problem
        } catch {
            try? FileManager.default.removeItem(atPath: scratch)
            throw Problem(description: "working_dir could not be unpacked in \(cache): \(error)")
        }
        if rename(scratch, target) != 0 {  // another worker got there first: its copy is the same
            try? FileManager.default.removeItem(atPath: scratch)
            guard FileManager.default.fileExists(atPath: target) else {
                throw Problem(description: "working_dir could not be put at \(target): \(String(cString: strerror(errno)))")
            }
        }
        return target
    }

    private static func unpack(_ pack: [UInt8], into directory: String) throws {
        guard pack.starts(with: magic) else { throw Problem(description: "working_dir: not a packed directory") }
        var at = magic.count
        func readVarint() throws -> Int {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard at < pack.count else { throw Problem(description: "working_dir: truncated pack") }
                let byte = pack[at]
                at += 1
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte & 0x80 == 0 {
                    guard value <= UInt64(pack.count) else { throw Problem(description: "working_dir: a length past the pack") }
                    return Int(value)
                }
            }
            throw Problem(description: "working_dir: bad length")
        }
        while at < pack.count {
            let length = try readVarint()
            guard at + length + 1 <= pack.count else { throw Problem(description: "working_dir: truncated pack") }
            let relative = String(decoding: pack[at ..< at + length], as: UTF8.self)
            at += length
            let components = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard !relative.isEmpty, !relative.hasPrefix("/"), !components.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
                throw Problem(description: "working_dir: the path '\(relative)' leaves the directory")
            }
            let executable = pack[at] == 1
            at += 1
            let size = try readVarint()
            guard at + size <= pack.count else { throw Problem(description: "working_dir: truncated pack") }
            let file = directory + "/" + relative
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: file, contents: Data(pack[at ..< at + size]),
                                                 attributes: [.posixPermissions: executable ? 0o755 : 0o644]) else {
                throw Problem(description: "working_dir: cannot write \(file)")
            }
            at += size
        }
    }

    private static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }
}
