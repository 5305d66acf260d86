import Basics
import Ring
import Simulation
import Testing
import TestSupport
@testable import Agent

@Suite("write placement")
struct PlacementTests {
    @Test(arguments: 0..<30)
    func copiesLandOnDistinctNodesWithHintsForMissingOwners(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<100 {
            let size = Int.random(in: 1...8, using: &random)
            let list = (0..<size).map { NodeID("n\($0)")! }.shuffled(using: &random)
            let replication = Int.random(in: 1...4, using: &random)
            let down = Set(list.filter { _ in Int.random(in: 0..<3, using: &random) == 0 })
            let placement = WritePlacement(preferenceList: list, replication: replication) { !down.contains($0) }
            let targets = placement.targets
            let nodes = targets.map(\.node)
            let primaries = Array(list.prefix(replication))
            #expect(Set(nodes).count == nodes.count)
            #expect(nodes.allSatisfy { !down.contains($0) })
            #expect(targets.count == min(replication, list.count - down.count))
            // Every live primary holds its own copy; stand-ins come from beyond the primaries, in list order.
            #expect(primaries.filter { !down.contains($0) }.allSatisfy { primary in targets.contains { $0.node == primary && $0.hintFor == nil } })
            let hints = targets.compactMap(\.hintFor)
            #expect(Set(hints).count == hints.count && hints.allSatisfy { down.contains($0) && primaries.contains($0) })
            #expect(targets.filter { $0.hintFor != nil }.allSatisfy { !primaries.contains($0.node) })
        }
    }

    @Test func readOrderPrefersTheLeastLoadedOwnerAndSkipsDeadNodes() throws {
        var snapshot = try Self.threeLiveNodesSeenFromA()
        let position = RingPosition(12345)
        let owners = snapshot.ring.owners(of: position, replication: 2)
        for owner in owners where owner != "a" { snapshot.nodes[owner]?.load.inFlightRequests = 50 }
        let order = snapshot.readOrder(for: position)
        #expect(Set(order.prefix(2)) == Set(owners) && order.count == 3)
        if owners.contains("a") { #expect(order.first == "a") }
        // This node is always available to itself: fail another owner.
        let busy = owners.first { $0 != "a" }!
        snapshot.nodes[busy]?.status = .dead
        #expect(!snapshot.readOrder(for: position).contains(busy))
        let placement = snapshot.writePlacement(for: position)
        #expect(placement.targets.count == 2 && placement.targets.contains { $0.hintFor == busy })
    }
    @Test func aLocalCopyWinsUntilThisNodeIsFarBusierThanThePeer() throws {
        var snapshot = try Self.threeLiveNodesSeenFromA()
        let position = try #require((0..<256).map { RingPosition(UInt64($0) << 56) }.first { snapshot.ring.owners(of: $0, replication: 2).contains("a") })
        let peer = try #require(snapshot.ring.owners(of: position, replication: 2).first { $0 != "a" })
        // This node streams 500 MiB/s to its own client; the peer serves 250 MiB/s.
        snapshot.nodes["a"]?.load.inFlightRequests = 1
        snapshot.nodes["a"]?.load.bytesOutPerSecond = 500 << 20
        snapshot.nodes[peer]?.load.inFlightRequests = 2
        snapshot.nodes[peer]?.load.bytesOutPerSecond = 250 << 20
        #expect(snapshot.readOrder(for: position).first == "a")
        // Far busier than the peer: the peer serves.
        snapshot.nodes["a"]?.load.inFlightRequests = 40
        #expect(snapshot.readOrder(for: position).first == peer)
    }

    /// Nodes a, b and c, all alive, as node a sees them.
    static func threeLiveNodesSeenFromA() throws -> ClusterSnapshot {
        let configuration = try ClusterConfiguration.parse(yaml: """
            cluster: {name: t, secret: \(TestEnvironment.randomClusterSecret())}
            nodes:
              - {id: a, http: "127.0.0.1:1", gossip: "127.0.0.1:2", storage: {type: dir, path: /tmp/a}}
              - {id: b, http: "127.0.0.1:3", gossip: "127.0.0.1:4", storage: {type: dir, path: /tmp/b}}
              - {id: c, http: "127.0.0.1:5", gossip: "127.0.0.1:6", storage: {type: dir, path: /tmp/c}}
            """)
        let view = try ClusterView(
            selfID: "a", configuration: configuration,
            selfInfo: NodeInfo(id: "a", http: "127.0.0.1:1", gossip: "127.0.0.1:2", zone: "", weight: 1, status: .alive, incarnation: 1, ringState: .member, load: .init())
        )
        var snapshot = view.snapshot()
        for id in ["a", "b", "c"] as [NodeID] { snapshot.nodes[id]?.status = .alive }
        return snapshot
    }
}
