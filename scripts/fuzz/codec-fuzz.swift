// libFuzzer entry points for the value target alone (run.sh builds it with
// swiftc, without SwiftPM). The target itself is Sources/ray-fuzz/ValueTarget.swift,
// compiled here together with Sources/LuaKit and Sources/LuaCodec as one
// module named LuaKit; the SwiftPM build (scripts/fuzz/build.sh) runs the same
// target as `FUZZ_TARGET=value`.
//
// With FUZZ_WRITE_SEEDS=<dir> set, writes the seed corpus into <dir> and exits.
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ValueTarget.shared.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    if let dir = getenv("FUZZ_WRITE_SEEDS") {
        ValueTarget.writeSeeds(into: String(cString: dir))
        exit(0)
    }
    return 0
}
