// swift-tools-version:6.0
// A Swift program that embeds the engine: depends on the SwiftRay library
// of the repository two levels up, by path.
import PackageDescription

let package = Package(
    name: "EmbedDemo",
    dependencies: [
        .package(name: "SwiftRay", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "embed-demo", dependencies: [.product(name: "SwiftRay", package: "SwiftRay")]),
    ]
)
