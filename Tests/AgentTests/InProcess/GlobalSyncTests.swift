@testable import Agent
import Basics
import Simulation
import Testing

/// Global records between two nodes (`GlobalSync`): only buckets whose digests differ travel,
/// a settled pair sends digests alone, and any mix of changes on both sides converges.
@Suite("global record sync")
struct GlobalSyncTests {
    static func token(_ index: Int, wall: UInt64, revoked: Bool = false) -> TokenRecord {
        TokenRecord(
            hash: "token-\(index)", user: "alice", userID: "id-alice", credentials: "c", expiresAt: 1 << 50,
            version: HybridTimestamp(wallMilliseconds: wall, counter: 0, node: "n1"), deleted: revoked
        )
    }

    @Test(arguments: 0..<10)
    func onlyDifferingBucketsTravelAndBothSidesConverge(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 6000 + seed)
        let cluster = try InProcessCluster(nodes: 2)
        let (a, b) = (cluster.ids[0], cluster.ids[1])
        let count = Int.random(in: 200...600, using: &random)
        let base = (0..<count).map { Self.token($0, wall: 1_000) }
        for node in [a, b] { _ = try await cluster[node].agent.local.metadata.merge(GlobalRecords(tokens: base)) }

        // Settled: digests only.
        let before = cluster.transport.calls("GET \(SyncCalls.GetGlobal.route)")
        #expect(try await GlobalSync(agent: cluster[a].agent).round(with: b, cluster[a].agent.view.snapshot()) == .init())
        #expect(cluster.transport.calls("GET \(SyncCalls.GetGlobal.route)") == before, "no records asked for")

        // A few changes on each side: a revocation, a new token, a newer version.
        var changed = Set<String>()
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let node = Bool.random(using: &random) ? a : b
            let index = Int.random(in: 0..<(count + 20), using: &random)
            _ = try await cluster[node].agent.local.metadata.merge(GlobalRecords(tokens: [Self.token(index, wall: UInt64.random(in: 2_000...9_000, using: &random), revoked: Bool.random(using: &random))]))
            changed.insert("token-\(index)")
        }
        let outcome = try await GlobalSync(agent: cluster[a].agent).round(with: b, cluster[a].agent.view.snapshot())
        #expect(outcome.differing >= 1 && outcome.differing <= changed.count)
        let mine = try await cluster[a].agent.local.metadata.globalRecords()
        let theirs = try await cluster[b].agent.local.metadata.globalRecords()
        #expect(mine == theirs, "one round converges both sides")
        #expect(try await GlobalSync(agent: cluster[b].agent).round(with: a, cluster[b].agent.view.snapshot()) == .init())
        // The buckets that differed held far fewer records than the whole set.
        let sent = try await cluster[a].agent.local.metadata.globalRecords(inBuckets: Set((0..<MetadataStore.globalBuckets).filter { bucket in
            changed.contains { MetadataStore.globalBucket(.token, key: $0) == bucket }
        }))
        #expect(sent.tokens.count < count / 10 + 5 * changed.count, "\(sent.tokens.count) of \(count) tokens in the differing buckets")
    }
}
