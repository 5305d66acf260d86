// swift-tools-version:6.1
// filestore: a distributed file store. See README.md and docs/.
import PackageDescription

let package = Package(
    name: "filestore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "filestore", targets: ["filestore"]),
        .executable(name: "filestore-bench", targets: ["filestore-bench"]),
        .library(name: "Ring", targets: ["Ring"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/CoreOffice/XMLCoder.git", from: "0.18.2"),
    ],
    targets: [
        // Small values every layer shares: NodeID, ChunkID (32 bytes), hex, percent-encoding, durations. No dependencies.
        .target(name: "Basics"),
        // A type-erased sendable stream of NIO byte buffers: the streamed bodies that blob stores and S3 pass around.
        // The public REST API's request and answer types: what the agent encodes and the CLI, the
        // drills and the tests decode. Foundation only.
        .target(name: "PublicAPI"),
        .target(name: "ByteStreams", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Pure placement: ring, tokens, owners, preference lists, move plans. No I/O, no clocks.
        .target(
            name: "Ring",
            dependencies: ["Basics", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Deterministic simulation support (seeded randomness) for simulators, property tests and benchmarks.
        .target(name: "Simulation"),
        // SWIM + Lifeguard membership: the pure core (state machine, wire codec, sealing). No sockets, no clocks.
        .target(
            name: "Gossip",
            dependencies: ["Basics", "Ring", "Simulation", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The gossip protocol's UDP shell: an actor that feeds the core and carries out its directives.
        .target(
            name: "GossipNIO",
            dependencies: [
                "Gossip", "Basics", "Ring",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Deterministic many-node gossip simulator (virtual clock, seeded lossy network), for tests and figures.
        .target(name: "GossipSimulation", dependencies: ["Gossip", "Basics", "Ring", "Simulation"]),
        // SigV4 signer and streaming S3 client; knows nothing of chunks or rings.
        .target(
            name: "S3",
            dependencies: [
                "Basics", "ByteStreams",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "XMLCoder", package: "XMLCoder"),
            ]
        ),
        // Direct I/O and allocator settings that Swift's Glibc module does not expose.
        .target(name: "CSystemTuning"),

        // The node: HTTP API, metadata shard, blob stores, replication, background services.
        .target(
            name: "Agent",
            dependencies: [
                "PublicAPI", "Basics", "ByteStreams", "Ring", "Gossip", "GossipNIO", "S3", "CSystemTuning",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            // Dashboard templates (swift-mustache) and its small static CSS and JavaScript.
            resources: [.copy("Web/Resources")]
        ),
        .executableTarget(
            name: "filestore",
            dependencies: [
                "Agent", "PublicAPI", "Basics", "ByteStreams", "Ring", "Gossip", "GossipNIO", "DevCluster",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks that print figures (`scripts/bench`); never part of the test suite's pass/fail.
        .executableTarget(
            name: "filestore-bench",
            dependencies: [
                "Basics", "ByteStreams", "Ring", "Simulation", "Agent", "S3", "LocalProcesses", "Gossip", "GossipSimulation", "DevCluster",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Throw-away local clusters of real agent processes: `filestore dev`, drills, live tests.
        .target(
            name: "DevCluster",
            dependencies: [
                "LocalProcesses", "PublicAPI", "Basics", "S3", "Agent", "Ring",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Local helper processes: free ports, moto_server as a real S3 server, running and stopping programs.
        .target(name: "LocalProcesses", dependencies: ["S3"]),
        // Test-only knowledge: the repository's root, and whether a missing tool fails the run.
        .target(name: "TestSupport", dependencies: ["LocalProcesses"]),
        .testTarget(name: "RingTests", dependencies: ["Basics", "Ring", "Simulation", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "GossipTests", dependencies: ["Basics", "Gossip", "GossipNIO", "GossipSimulation", "Ring", "Simulation", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "S3Tests", dependencies: ["Basics", "ByteStreams", "S3", "LocalProcesses", "TestSupport", "Simulation", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "PublicAPI", "Basics", "ByteStreams", "S3", "Ring", "Gossip", "Simulation", "LocalProcesses", "TestSupport", "DevCluster", "CSystemTuning",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer harness over every network parser (Agent's `NetworkParsers`), added only when
// scripts/fuzz builds it (FILESTORE_FUZZ=1): it links libFuzzer's driver, and this project's
// modules are then compiled with coverage instrumentation (`-sanitize=fuzzer`) so the fuzzer sees
// which branches an input reaches. Dependencies are not instrumented: their artifacts are reused.
if Context.environment["FILESTORE_FUZZ"] == "1" {
    let instrumented: Set = ["Basics", "PublicAPI", "ByteStreams", "Ring", "Simulation", "Gossip", "GossipNIO", "S3", "Agent"]
    for target in package.targets where instrumented.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-sanitize=fuzzer"])]
    }
    package.products.append(.executable(name: "filestore-fuzz", targets: ["filestore-fuzz"]))
    package.targets += [
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "filestore-fuzz", dependencies: ["Agent", "CLibFuzzer"],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer"])],
            // Swift's default linker (gold) fails on libFuzzer's debug information; lld links it.
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer", "-use-ld=lld"])]
        ),
    ]
}
