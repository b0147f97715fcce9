// Writing seed files and notes; Glibc only, so that scripts/fuzz/run.sh can
// compile it next to Sources/LuaKit and Sources/LuaCodec without SwiftPM.
#if canImport(Glibc)
import Glibc
#endif

/// Writes numbered seed files ("07-name.bin") into one directory.
struct SeedFiles {
    let directory: String
    private(set) var written = 0

    init(directory: String) {
        self.directory = directory
        mkdir(directory, 0o755)
    }

    /// Writes `bytes` as the next seed, named after `name`.
    mutating func write(_ name: String, _ bytes: [UInt8]) {
        let number = written < 10 ? "0\(written)" : "\(written)"
        let path = "\(directory)/\(number)-\(name).bin"
        guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        written += 1
    }
}

/// A line on stderr.
func note(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
