import Gossip
import Ring
import Synchronization

/// One node as this agent sees it: configured or gossiped addresses, liveness, ring state, load.
public struct NodeInfo: Sendable, Equatable {
    public var id: NodeID
    public var http: String
    public var gossip: String
    public var zone: String
    public var weight: Double
    /// nil until gossip has heard of the node.
    public var status: Gossip.Status?
    public var incarnation: UInt64
    public var ringState: Gossip.RingState
    public var load: Gossip.LoadReport
}

/// A consistent picture of the cluster at one moment: who is in the ring, who is up, and the
/// placement decisions that follow from it. A value: take one per request.
public struct ClusterSnapshot: Sendable {
    public var selfID: NodeID
    public var replication: Int
    public var writeQuorum: Int
    public var ring: Ring
    public var nodes: [NodeID: NodeInfo]

    /// Whether a node may be written to or read from: this node always; others unless gossip
    /// says dead or left (a suspect is probably up; a failed request falls through to the next).
    public func isAvailable(_ node: NodeID) -> Bool {
        if node == selfID { return true }
        guard let info = nodes[node] else { return false }
        switch info.status {
        case .dead?, .left?: return false
        case .alive?, .suspect?, nil: return info.ringState != .left
        }
    }

    /// Ring members that are available.
    public var availableMembers: [NodeID] { ring.members.map(\.id).filter(isAvailable) }

    /// Where to write a copy of the key at `position`, avoiding `failed` nodes.
    public func writePlacement(for position: RingPosition, excluding failed: Set<NodeID> = []) -> WritePlacement {
        WritePlacement(preferenceList: ring.preferenceList(for: position), replication: replication) { isAvailable($0) && !failed.contains($0) }
    }

    /// Whom to read a key from, best first: the available primary owners by lowest load (this
    /// node wins ties), then the rest of the preference list (hint holders, mid-rebalance).
    public func readOrder(for position: RingPosition) -> [NodeID] {
        let list = ring.preferenceList(for: position).filter(isAvailable)
        let owners = Set(ring.owners(of: position, replication: replication))
        let primaries = list.filter { owners.contains($0) }.sorted { loadScore($0) < loadScore($1) }
        return primaries + list.filter { !owners.contains($0) }
    }

    /// Lower is less loaded: in-flight requests, then bytes moving; this node gets a small bonus.
    func loadScore(_ node: NodeID) -> Double {
        guard let load = nodes[node]?.load else { return .infinity }
        let busy = Double(load.inFlightRequests) + Double(load.bytesOutPerSecond + load.bytesInPerSecond) / Double(64 << 20)
        return busy - (node == selfID ? 0.5 : 0)
    }

    /// The HTTP `host:port` of a node, when known.
    public func httpAddress(_ node: NodeID) -> String? { nodes[node]?.http }
}

/// The agent's live view of the cluster: configured nodes plus what gossip reports, turned into a
/// ring whenever ring membership changes. Readers take `snapshot()`; gossip feeds `apply`.
public final class ClusterView: Sendable {
    private let state: Mutex<ClusterSnapshot>
    private let vnodes: Int

    public init(selfID: NodeID, configuration: ClusterConfiguration, selfInfo: NodeInfo) throws {
        var nodes: [NodeID: NodeInfo] = [:]
        for node in configuration.nodes {
            nodes[node.id] = NodeInfo(
                id: node.id, http: node.http, gossip: node.gossip.description, zone: node.zone, weight: node.weight,
                status: nil, incarnation: 0, ringState: .member, load: .init()
            )
        }
        nodes[selfID] = selfInfo
        vnodes = configuration.vnodes
        let ring = try Self.ring(of: nodes, vnodes: configuration.vnodes)
        state = Mutex(ClusterSnapshot(selfID: selfID, replication: configuration.replication, writeQuorum: configuration.writeQuorum, ring: ring, nodes: nodes))
    }

    /// The current picture.
    public func snapshot() -> ClusterSnapshot { state.withLock { $0 } }

    /// Folds in a gossip member update; rebuilds the ring when membership or weights changed.
    public func apply(_ member: Gossip.Member) {
        state.withLock { snapshot in
            let previous = snapshot.nodes[member.id]
            var info = NodeInfo(
                id: member.id, http: member.metadata.http, gossip: member.metadata.gossip.description, zone: member.metadata.zone,
                weight: member.metadata.weight, status: member.status, incarnation: member.incarnation, ringState: member.metadata.ringState, load: member.load
            )
            if member.id == snapshot.selfID { info.status = .alive }
            snapshot.nodes[member.id] = info
            let ringChanged = previous.map { ($0.ringState, $0.weight, $0.zone) != (info.ringState, info.weight, info.zone) } ?? true
            if ringChanged, let ring = try? Self.ring(of: snapshot.nodes, vnodes: vnodes) { snapshot.ring = ring }
        }
    }

    /// Updates this node's own load in the picture (gossip carries it to the others).
    public func updateSelfLoad(_ load: Gossip.LoadReport) {
        state.withLock { snapshot in snapshot.nodes[snapshot.selfID]?.load = load }
    }

    /// Ring members: every known node not `left` (a crashed node stays: DESIGN.md §4).
    static func ring(of nodes: [NodeID: NodeInfo], vnodes: Int) throws -> Ring {
        try Ring(
            members: nodes.values.filter { $0.ringState != .left }.map { Ring.Member(id: $0.id, weight: $0.weight, zone: $0.zone) },
            vnodesPerWeight: vnodes
        )
    }
}
