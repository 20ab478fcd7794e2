// swift-tools-version:6.0
import PackageDescription

// Layers, each importing only those below it:
//   tagcache-server -> TagCache (library product) -> Server -> Commands -> Store -> RESP
//   Commands -> Lua -> CLua (scripting's binding: the only code that sees a lua_State)
// CTagCacheSys wraps the few system calls Glibc's module does not import cleanly
// (epoll's packed event struct, long double formatting).
// Release builds skip dynamic exclusivity checks and optimize across modules, for the request
// path. SwiftPM calls these flags unsafe and so accepts this package as a dependency by path,
// branch or revision only, never by version: README ("Use it in-process from Swift") says so.
let optimized: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "TagCache",
    products: [
        .library(name: "TagCache", targets: ["TagCache"]),
        .executable(name: "tagcache-server", targets: ["tagcache-server"]),
    ],
    targets: [
        .target(name: "CTagCacheSys"),
        // Lua 5.1 opened at run time (dlopen): no build-time dependency; see Sources/CLua.
        .target(name: "CLua", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Lua", dependencies: ["CLua"], swiftSettings: optimized),
        .target(name: "RESP", dependencies: ["CTagCacheSys"], swiftSettings: optimized),
        .target(name: "Store", dependencies: ["RESP", "CTagCacheSys"], swiftSettings: optimized),
        .target(name: "Commands", dependencies: ["Store", "RESP", "Lua", "CTagCacheSys"], swiftSettings: optimized),
        .target(name: "Server", dependencies: ["Commands", "Store", "RESP", "CTagCacheSys"], swiftSettings: optimized),
        .target(name: "TagCache", dependencies: ["Server"]),
        .executableTarget(name: "tagcache-server", dependencies: ["TagCache"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands"]),
        .testTarget(name: "ServerTests", dependencies: ["TagCache"]),
        // Differential suite: the case files under Cases/ run against redis-server and TagCache.
        .testTarget(name: "CompatibilityTests", dependencies: ["TagCache", "Commands", "RESP", "CaseFiles"], exclude: ["Cases"]),
        // Reads the case files, for the differential suite and the fuzz targets' seeds.
        .target(name: "CaseFiles", dependencies: ["RESP"], path: "Tests/CaseFiles"),
        // Fuzz targets (Tests/fuzz; `bash Tests/run.sh fuzz`). A plain build links them as tools
        // that replay inputs; built with -sanitize=fuzzer,address -DFUZZING they are libFuzzer targets.
        .target(name: "CLibFuzzer", path: "Tests/fuzz/CLibFuzzer"),
        .target(name: "Fuzzing", dependencies: ["TagCache", "Commands", "RESP", "CaseFiles", "CLibFuzzer"], path: "Tests/fuzz/Fuzzing"),
        .executableTarget(name: "fuzz-request-parser", dependencies: ["Fuzzing"], path: "Tests/fuzz/fuzz-request-parser"),
        .executableTarget(name: "fuzz-commands", dependencies: ["Fuzzing"], path: "Tests/fuzz/fuzz-commands"),
    ]
)
