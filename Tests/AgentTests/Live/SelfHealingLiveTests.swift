import DevCluster
import Foundation
import NIOCore
import Testing
import TestSupport

/// Self-healing on a live cluster (DESIGN.md §9) with drill timings: seconds, not minutes.
@Suite("live self-healing", .serialized)
struct SelfHealingLiveTests {
    static func fast(_ options: inout LocalCluster.Options) {
        options.deadGrace = "4s"
        options.repairInterval = "1s"
    }

    /// Every chunk of every file on exactly `copies` nodes drawn from `nodes`.
    static func placed(_ api: API, _ files: [String: [UInt8]], on nodes: Set<String>, copies: Int = 2, from node: String = "node1") async throws -> String? {
        for path in files.keys.sorted() {
            for (index, holders) in try await api.replicas(path, from: node).enumerated() where holders.count != copies || !holders.isSubset(of: nodes) {
                return "\(path) chunk \(index) is on \(holders.sorted())"
            }
        }
        return nil
    }

    @Test func crashedNodeIsReplacedThenWelcomedBack() async throws {
        try await LiveCluster.run(configure: Self.fast) { cluster, api in
            var files: [String: [UInt8]] = [:]
            for index in 0..<5 {
                let bytes = randomBytes((index + 1) * 700_000, seed: UInt64(300 + index))
                try #require(try await api.upload("node\(index % 3 + 1)", "h/\(index).bin", bytes).status == 201)
                files["h/\(index).bin"] = bytes
            }
            await cluster.kill("node3")
            let killed = ContinuousClock.now
            for index in 5..<7 {
                let bytes = randomBytes(1_300_000 + index, seed: UInt64(300 + index))
                try #require(try await api.upload("node1", "h/\(index).bin", bytes).status == 201)
                files["h/\(index).bin"] = bytes
            }
            // After dead_grace, every chunk is again on two live nodes.
            try await poll("every chunk is on node1 and node2", timeout: .seconds(40), interval: .milliseconds(500)) {
                try await Self.placed(api, files, on: ["node1", "node2"])
            }
            print("live: full replication on the survivors \(ContinuousClock.now - killed) after kill -9 (dead_grace 4 s)")
            for (path, bytes) in files { #expect(try await api.download("node2", path).bytes == bytes) }

            // The node returns: data flows back, extra copies go, hints drain.
            try await cluster.restart("node3")
            try await api.waitUntilAllAlive()
            try await poll("every chunk on exactly two nodes, hints drained", timeout: .seconds(40), interval: .milliseconds(500)) {
                if let problem = try await Self.placed(api, files, on: ["node1", "node2", "node3"]) { return problem }
                let health = try await api.health()
                return health["hints_pending"] as? Int == 0 && health["under_replicated_chunks"] as? Int == 0 ? nil : "health \(health)"
            }
            for (path, bytes) in files { #expect(try await api.download("node3", path).bytes == bytes) }
            let stored = storedChunkBytes(cluster)
            let expected = Int64(2 * files.values.reduce(0) { $0 + $1.count })
            #expect(stored == expected, "exactly two copies of everything on disk: \(stored) vs \(expected)")
        }
    }

    @Test func emptyDiskIsRefilled() async throws {
        try await LiveCluster.run(configure: Self.fast) { cluster, api in
            var files: [String: [UInt8]] = [:]
            for index in 0..<4 {
                let bytes = randomBytes(900_000 * (index + 1), seed: UInt64(400 + index))
                try #require(try await api.upload("node1", "e/\(index).bin", bytes).status == 201)
                files["e/\(index).bin"] = bytes
            }
            await cluster.kill("node2")
            try await cluster.restart("node2", wipe: true)
            try await api.waitUntilAllAlive()
            try await poll("node2's share is back", timeout: .seconds(40), interval: .milliseconds(500)) {
                try await Self.placed(api, files, on: ["node1", "node2", "node3"])
            }
            for (path, bytes) in files { #expect(try await api.download("node2", path).bytes == bytes) }
        }
    }
}
