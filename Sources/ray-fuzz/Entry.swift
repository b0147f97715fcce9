// The entry points. Built with -DSWIFTRAY_FUZZ -sanitize=fuzzer,address
// (scripts/fuzz/build.sh) this is a libFuzzer binary whose target is chosen
// by FUZZ_TARGET; in the normal build, a tool that writes the seeds and
// replays inputs (crash reproductions) without libFuzzer.
#if canImport(Glibc)
import Glibc
#endif

/// The decoders under test, by the name FUZZ_TARGET and the tool use.
enum Target: String, CaseIterable {
    /// `FrameDecoder`: a connection's bytes cut into frames (and parts joined).
    case frame
    /// `Message` and `PeerMessage`: every message's payload.
    case message
    /// LuaCodec's value decoder.
    case value

    func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .frame: FrameTarget.run(input)
        case .message: MessageTarget.run(input)
        case .value: ValueTarget.shared.run(input)
        }
    }

    func writeSeeds(into directory: String) {
        switch self {
        case .frame: WireSeeds().writeFrameSeeds(into: directory)
        case .message: WireSeeds().writeMessageSeeds(into: directory)
        case .value: ValueTarget.writeSeeds(into: directory)
        }
    }
}

#if SWIFTRAY_FUZZ
/// The target named by FUZZ_TARGET; set in `LLVMFuzzerInitialize`, before any input.
private nonisolated(unsafe) var selected = Target.frame

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = Target(rawValue: name) else {
        note("set FUZZ_TARGET to one of: \(Target.allCases.map(\.rawValue).joined(separator: ", "))")
        exit(2)
    }
    selected = target
    if let directory = getenv("FUZZ_WRITE_SEEDS") {
        target.writeSeeds(into: String(cString: directory))
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
struct RayFuzzTool {
    static let usage = """
        usage: ray-fuzz seeds TARGET DIRECTORY   write TARGET's seed corpus
               ray-fuzz replay TARGET FILE...     run TARGET on each file (a crash stops it)
        TARGET: \(Target.allCases.map(\.rawValue).joined(separator: ", "))
        """

    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count >= 3, let target = Target(rawValue: arguments[arguments.startIndex + 1]) else {
            note(usage)
            exit(2)
        }
        let operands = arguments.dropFirst(2)
        switch arguments.first {
        case "seeds":
            target.writeSeeds(into: operands.first!)
        case "replay":
            for path in operands {
                guard let bytes = readFile(path) else {
                    note("cannot read \(path)")
                    exit(1)
                }
                bytes.withUnsafeBytes { target.run($0) }
                note("\(path): ok")
            }
        default:
            note(usage)
            exit(2)
        }
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            bytes += chunk[..<n]
            if n < chunk.count { return bytes }
        }
    }
}
#endif
