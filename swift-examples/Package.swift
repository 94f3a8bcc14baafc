// swift-tools-version:5.9
// floe for Swift: `CFloe` is the C ABI (include/floe.h), `Floe` the Swift API over it, `floe-example`
// a main-run-loop app. Build the library first (`cargo build --release --lib`, then copy
// target/release/libfloe.a to target/swift-lib/ — scripts/test-swift does both), or point
// FLOE_LIB_DIR at a directory holding libfloe.a.
import Foundation
import PackageDescription

let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let floeLibraryDirectory = ProcessInfo.processInfo.environment["FLOE_LIB_DIR"]
    ?? packageDirectory.appendingPathComponent("../target/swift-lib").standardizedFileURL.path

let package = Package(
    name: "Floe",
    products: [
        .library(name: "Floe", targets: ["Floe"]),
        .executable(name: "floe-example", targets: ["floe-example"]),
    ],
    targets: [
        .systemLibrary(name: "CFloe", path: "Sources/CFloe"),
        .target(
            name: "Floe",
            dependencies: ["CFloe"],
            linkerSettings: [.unsafeFlags(["-L", floeLibraryDirectory])]
        ),
        .executableTarget(name: "floe-example", dependencies: ["Floe"]),
        .testTarget(name: "FloeTests", dependencies: ["Floe"]),
    ]
)
