import ArgumentParser
import AsyncHTTPClient
import DevCluster
import Foundation
import NIOSSL

/// `filestore-bench`: prints performance figures, one line per metric (run through `scripts/bench`).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filestore-bench",
        abstract: "Print filestore performance figures.",
        subcommands: [RingBench.self, BlobBench.self, GossipBench.self, AgentBench.self, S3OverheadBench.self]
    )
}

/// Seconds elapsed while running `body`, and its result.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let result = try body()
    let elapsed = ContinuousClock.now - start
    return (result, elapsed.inSeconds)
}

/// A live 3-node cluster of the `filestore` executable beside this benchmark (or `executable`)
/// in `directory`: waits until every node sees the others alive, runs `body` with the cluster,
/// an HTTP client and the admin's `Authorization` value, and always stops it — printing the
/// node logs when `body` fails.
func withBenchCluster(
    executable: String?, directory: String, storage: LocalCluster.Options.Storage = .directory, tls: Bool = false,
    _ body: (LocalCluster, HTTPClient, String) async throws -> Void
) async throws {
    let binary = try executable ?? URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).deletingLastPathComponent().appendingPathComponent("filestore").path
    var options = LocalCluster.Options(directory: directory, adminPassword: "bench-admin-pw")
    options.executable = binary
    options.logLevel = "warning"
    options.storage = storage
    options.tls = tls
    let cluster = try await LocalCluster.start(options)
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(600)))
    if let authority = cluster.authorityCertificate {
        var client = TLSConfiguration.makeClientConfiguration()
        client.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(authority))
        configuration.tlsConfiguration = client
    }
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    let authorization = "Basic " + Data("admin:bench-admin-pw".utf8).base64EncodedString()
    do {
        try await ClusterClient(cluster: cluster).waitUntilAllAlive()
        try await body(cluster, http, authorization)
    } catch {
        print(cluster.logs())
        try? await http.shutdown()
        await cluster.stop()
        throw error
    }
    try? await http.shutdown()
    await cluster.stop()
}

/// Runs `work` on every item, at most `limit` at a time (a window: a new one starts as one ends).
func forEachConcurrently<Item: Sendable>(_ items: [Item], limit: Int, _ work: @escaping @Sendable (Item) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (index, item) in items.enumerated() {
            if index >= limit { try await group.next() }
            group.addTask { try await work(item) }
        }
        try await group.waitForAll()
    }
}
