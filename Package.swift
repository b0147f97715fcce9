// swift-tools-version:6.0
// Swift 6 language mode (complete concurrency checking) for every target.
import PackageDescription

let package = Package(
    name: "SwiftRay",
    products: [
        .executable(name: "ray", targets: ["ray"]),
        .library(name: "LuaKit", targets: ["LuaKit"]),
        .library(name: "LuaCodec", targets: ["LuaCodec"]),
        // The engine for Swift programs: a runtime, Lua chunks, objects, Swift functions.
        .library(name: "SwiftRay", targets: ["SwiftRay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Mutual TLS between cluster processes (RAY_USE_TLS=1, docs/cluster.md).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Lua 5.4 from Debian's liblua5.4-dev; pkgConfig is what makes linking reliable.
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        // libedit (BSD editline) for the REPL's line editing and history.
        .systemLibrary(name: "CEditline", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // The REPL's C side of libedit: its global settings and the callback-driven line reader.
        .target(name: "CLineEdit", dependencies: ["CEditline", "CLuaShims"]),
        // The runtime's C support, no Lua in it: the large-block cache, a spin-wait hint.
        .target(name: "CRaySupport"),
        // C shims: the Lua macros Swift cannot import, and every call that can raise or yield.
        .target(name: "CLuaShims", dependencies: ["CLua", "CRaySupport"]),
        // Safe Swift over the Lua C API; knows nothing about Ray.
        .target(name: "LuaKit", dependencies: ["CLua", "CLuaShims"]),
        // The value codec: any Lua value, closures included, to bytes and back.
        .target(name: "LuaCodec", dependencies: ["LuaKit", "CLua", "CLuaShims", "CRaySupport"]),
        // The runtime's core: IDs, task specs, errors, the object store, the scheduler,
        // actors, the runtime, and the ports a language binding (TaskExecutor) and the
        // cluster (ClusterLink) implement. No Lua, no sockets.
        .target(name: "RayCore", dependencies: ["CRaySupport"]),
        // The Lua binding: the `ray` module, Lua workers (the core's executors), ObjectRefs.
        .target(name: "RayLua", dependencies: ["RayCore", "LuaCodec", "LuaKit", "CLua", "CLuaShims"]),
        // The cluster: framing and messages over TCP (SwiftNIO), the head's
        // directory, node processes (docs/cluster-protocol.md).
        .target(name: "RayCluster", dependencies: [
            "RayCore", "CRaySupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "RayClusterTests", dependencies: [
            "RayCluster", "RayLua", .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        // Process helpers Swift's Glibc lacks: posix_spawn's closefrom action, waiting on a pidfd.
        .target(name: "CProcess"),
        // The `ray` command as a library (testable): run, repl, start/stop/status, microbenchmark.
        .target(name: "RayCLI", dependencies: [
            "RayLua", "RayCluster", "CProcess", "LuaKit", "CLua", "CLuaShims", "CEditline", "CLineEdit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "ray", dependencies: ["RayCLI"]),
        // The embedding API (RayEngine, LuaValue) over RayLua.
        .target(name: "SwiftRay", dependencies: ["RayCore", "RayLua", "RayCluster", "LuaKit", "CLua"]),
        .testTarget(name: "SwiftRayTests", dependencies: ["SwiftRay"]),
        // Ships a script's returned function to another thread's state (README example).
        .executableTarget(name: "lua-ship", dependencies: ["LuaCodec", "LuaKit"]),
        // Codec benchmark (scripts/bench/codec.sh runs it in release).
        .executableTarget(name: "codec-bench", dependencies: ["LuaCodec", "LuaKit", "CLua", "CLuaShims"]),
        .testTarget(name: "RayCoreTests", dependencies: ["RayCore"]),
        .testTarget(name: "RayLuaTests", dependencies: ["RayLua", "LuaKit", "CLua"]),
        // Runs the built `ray` binary on Lua scripts (Scripts/ are read from the source tree).
        // Opens pseudo-terminals for the REPL tests (Swift's Glibc lacks posix_openpt).
        .target(name: "CPty", path: "Tests/CPty"),
        .testTarget(name: "RayCLITests", dependencies: ["ray", "SwiftRay", "CPty", "CProcess"], exclude: ["Scripts"]),
        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit", "CLua", "CLuaShims", "CRaySupport"]),
        .testTarget(name: "LuaCodecTests", dependencies: ["LuaCodec", "LuaKit", "CLua", "CLuaShims"]),
        // libFuzzer targets over the frame, message and value decoders (scripts/fuzz/README.md).
        // Built as a fuzzer only with -DSWIFTRAY_FUZZ -sanitize=fuzzer (scripts/fuzz/build.sh);
        // the plain build is a small tool that writes seeds and replays inputs.
        .executableTarget(name: "ray-fuzz", dependencies: [
            "RayCluster", "RayCore", "RayLua", "LuaCodec", "LuaKit", "CLua", "CLuaShims",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ]
)
