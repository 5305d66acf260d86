import PublicAPI
import Crypto
import DevCluster
import Foundation
import NIOCore
import Testing

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
            try await pollUntil("every chunk is on node1 and node2", timeout: .seconds(40), interval: .milliseconds(500)) {
                try await Self.placed(api, files, on: ["node1", "node2"])
            }
            print("live: full replication on the survivors \(ContinuousClock.now - killed) after kill -9 (dead_grace 4 s)")
            for (path, bytes) in files { #expect(try await api.download("node2", path).bytes == bytes) }

            // The node returns: data flows back, extra copies go, hints drain.
            try await cluster.restart("node3")
            try await api.waitUntilAllAlive()
            try await pollUntil("every chunk on exactly two nodes, hints drained", timeout: .seconds(40), interval: .milliseconds(500)) {
                if let problem = try await Self.placed(api, files, on: ["node1", "node2", "node3"]) { return problem }
                let health = try await api.health()
                return health.hintsPending == 0 && health.underReplicatedChunks == 0 ? nil : "health \(health)"
            }
            for (path, bytes) in files { #expect(try await api.download("node3", path).bytes == bytes) }
            let stored = storedChunkBytes(cluster)
            let expected = Int64(2 * files.values.reduce(0) { $0 + $1.count })
            #expect(stored == expected, "exactly two copies of everything on disk: \(stored) vs \(expected)")
        }
    }

    /// With a node dead and `dead_grace` not yet passed, the keys it owns are at risk from the
    /// moment it is seen down — in health and `/metrics` — and no longer once it is back.
    @Test func keysOwnedByADeadNodeAreAtRiskAtOnce() async throws {
        try await LiveCluster.run(configure: { $0.deadGrace = "5m"; $0.repairInterval = "30s" }) { cluster, api in
            for index in 0..<6 {
                try #require(try await api.upload("node\(index % 3 + 1)", "risk/\(index).bin", randomBytes(200_000 + index, seed: UInt64(350 + index))).status == 201)
            }
            try await pollUntil("nothing at risk while every node is up", timeout: .seconds(20), interval: .milliseconds(250)) {
                let health = try await api.health()
                return health.atRisk == 0 ? nil : "health \(health)"
            }
            await cluster.kill("node3")
            let killed = ContinuousClock.now
            // Six chunks and six manifests, each on two of three nodes: node3 owns some of them.
            try await pollUntil("keys node3 owned are at risk", timeout: .seconds(30), interval: .milliseconds(250)) {
                let health = try await api.health()
                guard let atRisk = health.atRisk, (1...12).contains(atRisk), health.underReplicatedChunks == 0 else { return "health \(health)" }
                return nil
            }
            print("live: at_risk reported \(ContinuousClock.now - killed) after kill -9 (repair_interval 30 s, dead_grace 5 min)")
            let metrics = try await api.send(.GET, "node1", "/metrics", authorization: "").text + api.send(.GET, "node2", "/metrics", authorization: "").text
            let gauges = metrics.split(separator: "\n").filter { $0.hasPrefix("filestore_at_risk_keys ") }.compactMap { Double($0.split(separator: " ").last ?? "") }
            #expect(gauges.count == 2 && gauges.reduce(0, +) > 0, "the survivors' at-risk gauges: \(gauges)")

            try await cluster.restart("node3")
            try await api.waitUntilAllAlive()
            try await pollUntil("nothing at risk once node3 is back", timeout: .seconds(30), interval: .milliseconds(250)) {
                let health = try await api.health()
                return health.atRisk == 0 ? nil : "health \(health)"
            }
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
            try await pollUntil("node2's share is back", timeout: .seconds(40), interval: .milliseconds(500)) {
                try await Self.placed(api, files, on: ["node1", "node2", "node3"])
            }
            for (path, bytes) in files { #expect(try await api.download("node2", path).bytes == bytes) }
        }
    }
}

/// Ring changes, corruption and garbage on a live cluster.
@Suite("live ring changes, scrub and GC", .serialized)
struct RingChangeLiveTests {
    @Test func joinMovesAboutAQuarterAsPlannedThenDrainEmptiesANode() async throws {
        try await LiveCluster.run(configure: SelfHealingLiveTests.fast) { cluster, api in
            var files: [String: [UInt8]] = [:]
            for index in 0..<12 {
                let bytes = randomBytes(1_000_000 + index * 97_000, seed: UInt64(500 + index))
                try #require(try await api.upload("node\(index % 3 + 1)", "r/\(index).bin", bytes).status == 201)
                files["r/\(index).bin"] = bytes
            }
            let before = storedChunkBytes(cluster)
            let plan = try await api.send(.GET, "node1", "/api/v1/ring/plan?add=node4").decode(RingPlan.self)
            let predicted = plan.bytes
            #expect(plan.chunksExamined > 0)

            let joined = try await cluster.addNode()
            // Every node must know node4 first, or /meta (asked of node1) would not look there.
            try await api.waitUntilAllAlive()
            // Settled: node4 holds data, nothing extra is stored, every chunk is on exactly two nodes,
            // no node reports pending repair, and node4's bytes stayed the same for three polls.
            var steady = (bytes: Int64(-1), polls: 0)
            try await pollUntil("the rebalance has settled", timeout: .seconds(60), interval: .milliseconds(500)) {
                let onNew = storedChunkBytes(cluster, only: joined.id), total = storedChunkBytes(cluster)
                guard onNew > 0, total == before else { return "node4 holds \(onNew) bytes, \(total) stored in all (\(before) before)" }
                if let problem = try await SelfHealingLiveTests.placed(api, files, on: ["node1", "node2", "node3", "node4"]) { return problem }
                let health = try await api.health()
                guard health.underReplicatedChunks == 0 else { return "health \(health)" }
                steady = steady.bytes == onNew ? (onNew, steady.polls + 1) : (onNew, 1)
                return steady.polls >= 3 ? nil : "node4 at \(onNew) bytes for \(steady.polls) polls"
            }
            let moved = storedChunkBytes(cluster, only: joined.id)
            let fraction = Double(moved) / Double(before)
            print("live: join moved \(moved) of \(before) stored bytes (\(fraction)); plan predicted \(predicted) bytes; 1/(N+1) = 0.25")
            #expect(Int64(predicted) == moved, "the plan predicted exactly what moved")
            #expect(fraction > 0.1 && fraction < 0.4)
            #expect(storedChunkBytes(cluster) == before, "nothing was lost or duplicated")
            for (path, bytes) in files { #expect(try await api.download("node4", path).bytes == bytes) }

            // Drain node2: it hands everything over, then leaves the ring.
            let drained = try await api.send(.POST, "node1", "/api/v1/cluster/nodes/node2/drain")
            try #require(drained.status == 202, "\(drained.text)")
            try await pollUntil("node2 is empty and has left the ring", timeout: .seconds(60), interval: .milliseconds(500)) {
                let onNode2 = storedChunkBytes(cluster, only: "node2")
                let state = try await api.cluster(from: "node1").nodes.first { $0.id == "node2" }?.ringState
                return onNode2 == 0 && state == "left" ? nil : "node2 still holds \(onNode2) bytes, ring state \(state ?? "?")"
            }
            try await pollUntil("every chunk on two of the remaining nodes", timeout: .seconds(30), interval: .milliseconds(500)) {
                try await SelfHealingLiveTests.placed(api, files, on: ["node1", "node3", "node4"])
            }
            for (path, bytes) in files { #expect(try await api.download("node3", path).bytes == bytes) }
        }
    }

    @Test func aCorruptedCopyIsNeverServedAndIsReplaced() async throws {
        try await LiveCluster.run(configure: { SelfHealingLiveTests.fast(&$0); $0.scrubPeriod = "2s" }) { cluster, api in
            let bytes = randomBytes(3_000_000, seed: 77)
            try #require(try await api.upload("node1", "c.bin", bytes).status == 201)
            let chunk = try #require(try await api.meta("c.bin").chunks.first)
            let id = chunk.sha256
            let holder = try #require(chunk.replicas.first)
            let path = try #require(cluster.node(holder)).dataDirectory + "/chunks/chunks/\(id.prefix(2))/\(id.dropFirst(2).prefix(2))/\(id)"
            var stored = try #require(FileManager.default.contents(atPath: path))
            stored[1000] ^= 0xFF
            try stored.write(to: URL(fileURLWithPath: path))
            // Reads from every node return the right bytes, the bad copy included in the candidates.
            for node in ["node1", "node2", "node3"] { #expect(try await api.download(node, "c.bin").bytes == bytes) }
            try await pollUntil("the bad copy is replaced with a good one", timeout: .seconds(30), interval: .milliseconds(500)) {
                guard let now = FileManager.default.contents(atPath: path) else { return "removed, not yet refilled" }
                return SHA256Hex.of(now) == id ? nil : "still corrupt"
            }
            // A copy nobody reads: scrub finds it.
            let quiet = randomBytes(500_000, seed: 78)
            try #require(try await api.upload("node2", "quiet.bin", quiet).status == 201)
            let quietChunk = try #require(try await api.meta("quiet.bin").chunks.first)
            let quietID = quietChunk.sha256
            let quietHolder = try #require(quietChunk.replicas.last)
            let quietPath = try #require(cluster.node(quietHolder)).dataDirectory + "/chunks/chunks/\(quietID.prefix(2))/\(quietID.dropFirst(2).prefix(2))/\(quietID)"
            var quietBytes = try #require(FileManager.default.contents(atPath: quietPath))
            quietBytes[0] ^= 0x01
            try quietBytes.write(to: URL(fileURLWithPath: quietPath))
            try await pollUntil("scrub replaces the unread bad copy", timeout: .seconds(30), interval: .milliseconds(500)) {
                guard let now = FileManager.default.contents(atPath: quietPath) else { return "removed, not yet refilled" }
                return SHA256Hex.of(now) == quietID ? nil : "still corrupt"
            }
        }
    }

    @Test func garbageGoesAndSharedChunksStay() async throws {
        try await LiveCluster.run(configure: { SelfHealingLiveTests.fast(&$0); $0.gcGrace = "2s" }) { cluster, api in
            let shared = randomBytes(2_000_000, seed: 90)
            let unique = randomBytes(2_000_000, seed: 91)
            try #require(try await api.upload("node1", "keep.bin", shared).status == 201)
            try #require(try await api.upload("node2", "copy.bin", shared).status == 201)
            try #require(try await api.upload("node3", "gone.bin", unique).status == 201)
            let withAll = storedChunkBytes(cluster)
            #expect(withAll == Int64(2 * (shared.count + unique.count)))
            #expect(try await api.send(.DELETE, "node1", "/api/v1/files/gone.bin").status == 204)
            #expect(try await api.send(.DELETE, "node1", "/api/v1/files/copy.bin").status == 204)
            try await pollUntil("the deleted file's chunks are collected", timeout: .seconds(30), interval: .milliseconds(500)) {
                let now = storedChunkBytes(cluster)
                return now == Int64(2 * shared.count) ? nil : "\(now) bytes stored"
            }
            #expect(try await api.download("node2", "keep.bin").bytes == shared)
        }
    }
}

enum SHA256Hex {
    static func of(_ data: Data) -> String { SHA256.hash(data: data).hexString }
}
