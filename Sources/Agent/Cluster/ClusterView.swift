import Basics
import Gossip
import Ring
import Synchronization

/// One node as this agent sees it: configured or gossiped addresses, liveness, ring state, load.
public struct NodeInfo: Sendable, Equatable {
    public var id: NodeID
    public var http: String
    /// The internal API's own address; empty when it is served on `http`.
    public var peer: String
    /// The S3 listener's URL; empty when it has none (or gossip has not told yet).
    public var s3: String
    public var gossip: String
    public var zone: String
    public var weight: Double
    /// nil until gossip has heard of the node.
    public var status: Gossip.Status?
    public var incarnation: UInt64
    /// The node's own announcement, or an admin's drain/remove record, whichever is further along.
    public var ringState: Gossip.RingState
    public var load: Gossip.LoadReport
    /// When this node last saw it become dead (nil while it is not dead).
    public var deadSince: ContinuousClock.Instant? = nil

    public init(
        id: NodeID, http: String, peer: String = "", s3: String = "", gossip: String, zone: String, weight: Double, status: Gossip.Status?, incarnation: UInt64,
        ringState: Gossip.RingState, load: Gossip.LoadReport
    ) {
        self.id = id
        self.http = http
        self.peer = peer
        self.s3 = s3
        self.gossip = gossip
        self.zone = zone
        self.weight = weight
        self.status = status
        self.incarnation = incarnation
        self.ringState = ringState
        self.load = load
    }
}

/// A consistent picture of the cluster at one moment: who is in the ring, who is up, and the
/// placement decisions that follow from it. A value: take one per request.
public struct ClusterSnapshot: Sendable {
    public var selfID: NodeID
    public var replication: Int
    public var writeQuorum: Int
    public var ring: Ring
    public var nodes: [NodeID: NodeInfo]
    /// How long a dead node keeps its place among the owners (DESIGN.md §9).
    public var deadGrace: Duration = .seconds(300)
    /// When the snapshot was taken (what `deadGrace` is measured against).
    public var takenAt = ContinuousClock.now

    /// Whether a node may be written to or read from: this node always; others unless gossip
    /// says dead or left (a suspect is probably up; a failed request falls through to the next).
    public func isAvailable(_ node: NodeID) -> Bool {
        if node == selfID { return nodes[node]?.ringState != .left }
        guard let info = nodes[node] else { return false }
        switch info.status {
        case .dead?, .left?: return false
        case .alive?, .suspect?, nil: return info.ringState != .left
        }
    }

    /// Whether a ring member has lost its place among the owners: it is draining, or it has
    /// been dead for longer than `deadGrace` (its data is then re-replicated to the next nodes).
    public func isExcludedFromPlacement(_ node: NodeID) -> Bool {
        guard let info = nodes[node] else { return true }
        if info.ringState != .member { return true }
        if node == selfID { return false }
        if info.status == .left { return true }
        if let since = info.deadSince, info.status == .dead, takenAt - since >= deadGrace { return true }
        return false
    }

    /// The preference list without excluded members: owners first.
    public func placementList(for position: RingPosition) -> [NodeID] {
        ring.preferenceList(for: position).filter { !isExcludedFromPlacement($0) }
    }

    /// The key's owners: the first `replication` members of its placement list (possibly down).
    public func owners(of position: RingPosition) -> [NodeID] {
        Array(placementList(for: position).prefix(replication))
    }

    /// Ring members that are available.
    public var availableMembers: [NodeID] { ring.members.map(\.id).filter(isAvailable) }

    /// Ring members that are not available (dead or left in gossip, or never heard of).
    public var downMembers: Set<NodeID> { Set(ring.members.map(\.id).filter { !isAvailable($0) }) }

    /// Ring members that may take new copies (available and not excluded).
    public var writableMembers: [NodeID] { availableMembers.filter { !isExcludedFromPlacement($0) } }

    /// Where to write a copy of the key at `position`, avoiding `failed` nodes.
    public func writePlacement(for position: RingPosition, excluding failed: Set<NodeID> = []) -> WritePlacement {
        WritePlacement(preferenceList: placementList(for: position), replication: replication) { isAvailable($0) && !failed.contains($0) }
    }

    /// Whom to read a key from, best first: the available owners by lowest load (this node wins
    /// ties), then every other available node of the preference list (stand-ins holding hints,
    /// draining nodes, previous owners mid-rebalance).
    public func readOrder(for position: RingPosition) -> [NodeID] {
        let list = ring.preferenceList(for: position).filter(isAvailable)
        let owners = Set(owners(of: position))
        let primaries = list.filter { owners.contains($0) }.sorted { loadScore($0) < loadScore($1) }
        return primaries + list.filter { !owners.contains($0) }
    }

    /// Lower is less loaded: in-flight requests, then bytes moving (64 MiB/s counts as one request).
    ///
    /// This node's own score counts half, less one request: a local copy crosses no network (a
    /// remote one keeps a request open on the peer and passes every byte through two more
    /// sockets), and this node's traffic includes the very reads it is choosing for — a node
    /// streaming a large file to its client would otherwise always look busier than its peers
    /// and fetch every chunk it holds from them instead (measured in docs/benchmarks.md). A peer
    /// still wins once this node is more than about twice as busy.
    func loadScore(_ node: NodeID) -> Double {
        guard let load = nodes[node]?.load else { return .infinity }
        let busy = Double(load.inFlightRequests) + Double(load.bytesOutPerSecond + load.bytesInPerSecond) / Double(64 << 20)
        return node == selfID ? busy / 2 - 1 : busy
    }

    /// The HTTP `host:port` of a node, when known.
    /// Where to call `node`'s internal API: its own listener when it has one, else its HTTP address.
    public func peerAddress(_ node: NodeID) -> String? { nodes[node].map { $0.peer.isEmpty ? $0.http : $0.peer } }
}

/// The agent's live view of the cluster: configured nodes plus what gossip reports plus the
/// admins' drain/remove records, turned into a ring whenever ring membership changes. Readers
/// take `snapshot()`; gossip feeds `apply`.
public final class ClusterView: Sendable {
    private struct State {
        var snapshot: ClusterSnapshot
        /// What each node announced itself (gossip), before admin records are applied.
        var announced: [NodeID: Gossip.RingState] = [:]
        var records: [NodeID: RingStateRecord] = [:]
    }

    private let state: Mutex<State>
    private let vnodes: Int

    public init(selfID: NodeID, configuration: ClusterConfiguration, selfInfo: NodeInfo) throws {
        var nodes: [NodeID: NodeInfo] = [:]
        for node in configuration.nodes {
            nodes[node.id] = NodeInfo(
                id: node.id, http: node.http, peer: node.peer ?? "", gossip: node.gossip.description, zone: node.zone, weight: node.weight,
                status: nil, incarnation: 0, ringState: .member, load: .init()
            )
        }
        nodes[selfID] = selfInfo
        vnodes = configuration.vnodes
        let ring = try Self.ring(of: nodes, vnodes: configuration.vnodes)
        var snapshot = ClusterSnapshot(selfID: selfID, replication: configuration.replication, writeQuorum: configuration.writeQuorum, ring: ring, nodes: nodes)
        snapshot.deadGrace = configuration.deadGrace
        state = Mutex(State(snapshot: snapshot))
    }

    /// The current picture.
    public func snapshot() -> ClusterSnapshot {
        state.withLock { state in
            var snapshot = state.snapshot
            snapshot.takenAt = .now
            return snapshot
        }
    }

    /// Folds in a gossip member update; rebuilds the ring when membership or weights changed.
    public func apply(_ member: Gossip.Member) {
        state.withLock { state in
            let previous = state.snapshot.nodes[member.id]
            var info = NodeInfo(
                id: member.id, http: member.metadata.http, peer: member.metadata.peer, s3: member.metadata.s3, gossip: member.metadata.gossip.description, zone: member.metadata.zone,
                weight: member.metadata.weight, status: member.status, incarnation: member.incarnation, ringState: member.metadata.ringState, load: member.load
            )
            if member.id == state.snapshot.selfID { info.status = .alive }
            info.deadSince = member.status == .dead ? (previous?.status == .dead ? previous?.deadSince : .now) ?? .now : nil
            state.announced[member.id] = member.metadata.ringState
            info.ringState = Self.effectiveRingState(announced: member.metadata.ringState, record: state.records[member.id])
            state.snapshot.nodes[member.id] = info
            rebuildIfNeeded(&state, previous: previous, now: info)
        }
    }

    /// Applies admins' drain and remove records (global records, on every node).
    public func apply(_ records: [RingStateRecord]) {
        state.withLock { state in
            for record in records {
                guard let node = NodeID(record.node), state.records[node] != record else { continue }
                state.records[node] = record
                guard let previous = state.snapshot.nodes[node] else { continue }
                var info = previous
                info.ringState = Self.effectiveRingState(announced: state.announced[node] ?? .member, record: record)
                state.snapshot.nodes[node] = info
                rebuildIfNeeded(&state, previous: previous, now: info)
            }
        }
    }

    /// Updates this node's own load in the picture (gossip carries it to the others).
    public func updateSelfLoad(_ load: Gossip.LoadReport) {
        state.withLock { state in state.snapshot.nodes[state.snapshot.selfID]?.load = load }
    }

    private func rebuildIfNeeded(_ state: inout State, previous: NodeInfo?, now info: NodeInfo) {
        let changed = previous.map { ($0.ringState, $0.weight, $0.zone) != (info.ringState, info.weight, info.zone) } ?? true
        if changed, let ring = try? Self.ring(of: state.snapshot.nodes, vnodes: vnodes) { state.snapshot.ring = ring }
    }

    /// The further along of what a node announced and what an admin recorded.
    static func effectiveRingState(announced: Gossip.RingState, record: RingStateRecord?) -> Gossip.RingState {
        guard let record, !record.deleted else { return announced }
        return Gossip.RingState(rawValue: max(announced.rawValue, record.state.ringState.rawValue)) ?? announced
    }

    /// Ring members: every known node not `left` (a crashed node stays: DESIGN.md §4).
    static func ring(of nodes: [NodeID: NodeInfo], vnodes: Int) throws -> Ring {
        try Ring(
            members: nodes.values.filter { $0.ringState != .left }.map { Ring.Member(id: $0.id, weight: $0.weight, zone: $0.zone) },
            vnodesPerWeight: vnodes
        )
    }
}
