import AsyncHTTPClient
import DevCluster
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import LocalProcesses
import TestSupport

/// Runs live tests against a real multi-process cluster: starts it, waits until every agent sees
/// every other alive, hands it to the test with an HTTP client, and always tears it down —
/// printing every node's log when the test failed.
enum LiveCluster {
    static let adminPassword = "live-test-admin-pw"

    /// The `filestore` executable built beside the tests (or $FILESTORE_BINARY).
    static var executable: String? {
        if let path = ProcessInfo.processInfo.environment["FILESTORE_BINARY"] { return path }
        let path = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/filestore").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    static func run(
        nodes: Int = 3, storage: LocalCluster.Options.Storage = .directory, chunkSize: String = "1MiB",
        configure: (inout LocalCluster.Options) -> Void = { _ in }, waitUntilAllAlive: Bool = true,
        _ body: (LocalCluster, API) async throws -> Void
    ) async throws {
        guard let executable else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "the filestore executable is not built (swift build first)")
            print("SKIPPED: .build/debug/filestore not found; live cluster tests did not run")
            return
        }
        if storage == .s3, MotoServer.executable == nil {
            #expect(Bool(!TestEnvironment.requiresAllTools), "moto_server is required for S3 live tests")
            print("SKIPPED: moto_server not found; S3 live tests did not run")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-live-\(UUID().uuidString.prefix(8))").path
        var options = LocalCluster.Options(directory: directory, adminPassword: adminPassword)
        options.nodes = nodes
        options.storage = storage
        options.chunkSize = chunkSize
        options.executable = executable
        options.clusterName = "live"
        options.logLevel = "info"
        // The whole live suite can run over TLS (scripts/test does, for part of it).
        if ProcessInfo.processInfo.environment["FILESTORE_LIVE_TLS"] == "1" {
            options.tls = true
            options.internalListeners = true
        }
        configure(&options)
        let cluster = try await LocalCluster.start(options)
        let api = API(cluster: cluster)
        do {
            if waitUntilAllAlive { try await api.waitUntilAllAlive() }
            try await body(cluster, api)
        } catch {
            print("live cluster test failed: \(error)\n\(cluster.logs())")
            await cluster.stop()
            try? await api.shutdown()
            throw error
        }
        await cluster.stop()
        try? await api.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Tests call the cluster client `API`; its admin credentials are the live clusters' admin.
typealias API = ClusterClient

extension ClusterClient {
    static let admin = basic("admin", LiveCluster.adminPassword)
}

/// Bytes of every chunk file under each node's directory store (or one node's).
func storedChunkBytes(_ cluster: LocalCluster, only: String? = nil) -> Int64 {
    var total: Int64 = 0
    for node in cluster.nodes where only == nil || node.id == only {
        guard let walker = FileManager.default.enumerator(atPath: node.dataDirectory + "/chunks/chunks") else { continue }
        while let name = walker.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: node.dataDirectory + "/chunks/chunks/" + name))?[.size] as? NSNumber,
                (walker.fileAttributes?[.type] as? FileAttributeType) == .typeRegular {
                total += size.int64Value
            }
        }
    }
    return total
}

/// The chunk bytes stored once they reach `expected`, or the last figure when `within` passes
/// first. A write whose owner was briefly unavailable (a suspect node on a loaded machine) puts a
/// copy on a stand-in, which convergence drops once every owner holds the chunk: what the
/// cluster keeps, not what it holds mid-handoff, is what dedup promises.
func settledChunkBytes(_ cluster: LocalCluster, expected: Int64, within: Duration = .seconds(45)) async throws -> Int64 {
    let deadline = ContinuousClock.now + within
    var stored = storedChunkBytes(cluster)
    while stored != expected, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(250))
        stored = storedChunkBytes(cluster)
    }
    return stored
}
