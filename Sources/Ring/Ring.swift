import Basics
import Crypto

/// Consistent-hash placement (DESIGN.md §4): a pure function of (members, weights, zones, key).
///
/// Every member contributes `vnodesPerWeight × weight` tokens; token `i` of node `n` sits at the
/// first 8 bytes of SHA-256(`n + "#" + i`). A key is owned by the tokens that follow it clockwise.
/// The ring is a value: two processes given the same members (in any order) compute identical
/// placements. Nothing here does I/O or reads a clock.
public struct Ring: Sendable {
    /// Tokens per unit of weight. DESIGN.md suggests 128, which leaves the fullest of 100 nodes
    /// holding ~1.2× the mean; 1024 keeps storage balance within 1.15 up to 100 nodes and each
    /// member's key space within ±10% of its weight, for 12 KiB per node and ~60 ns more per
    /// lookup. docs/ring.md has the measurements behind this choice.
    public static let defaultVnodesPerWeight = 1024

    /// The members, sorted by id.
    public let members: [Member]
    /// Tokens per unit of weight this ring was built with.
    public let vnodesPerWeight: Int
    /// How many distinct zones the members span.
    public let zoneCount: Int

    /// Token positions, ascending. `tokenOwners[i]` is the member index owning `tokenPositions[i]`.
    let tokenPositions: [UInt64]
    let tokenOwners: [Int32]
    /// Per member index: its zone's index.
    let memberZones: [Int32]
    let indexOfID: [NodeID: Int]

    /// The largest weight a member may have. A ring holds weight × vnodes tokens per member, so a
    /// bound keeps a forged or mistyped weight from exhausting memory (or trapping on conversion).
    public static let maxWeight: Double = 1000

    /// Builds a ring; refuses duplicate ids, weights outside (0, `maxWeight`] and a non-positive vnode count.
    public init(members: some Sequence<Member>, vnodesPerWeight: Int = Ring.defaultVnodesPerWeight) throws(RingError) {
        guard vnodesPerWeight >= 1 && vnodesPerWeight <= 1 << 16 else {
            throw RingError(.invalidVnodes, "vnodes must be between 1 and 65536, got \(vnodesPerWeight)")
        }
        let sorted = members.sorted { $0.id < $1.id }
        var indexOfID: [NodeID: Int] = [:]
        var zoneIndex: [String: Int32] = [:]
        var memberZones: [Int32] = []
        for (index, member) in sorted.enumerated() {
            guard indexOfID.updateValue(index, forKey: member.id) == nil else {
                throw RingError(.duplicateMember, "node \(member.id) is listed twice")
            }
            guard member.weight.isFinite && member.weight > 0 && member.weight <= Ring.maxWeight else {
                throw RingError(.invalidWeight, "node \(member.id): weight must be above 0 and at most \(Ring.maxWeight), got \(member.weight)")
            }
            let zone = zoneIndex[member.zone] ?? Int32(zoneIndex.count)
            zoneIndex[member.zone] = zone
            memberZones.append(zone)
        }

        var tokens: [(position: UInt64, owner: Int32)] = []
        tokens.reserveCapacity(sorted.reduce(0) { $0 + Ring.tokenCount(weight: $1.weight, vnodesPerWeight: vnodesPerWeight) })
        for (index, member) in sorted.enumerated() {
            for token in 0..<Ring.tokenCount(weight: member.weight, vnodesPerWeight: vnodesPerWeight) {
                tokens.append((Ring.token(of: member.id, index: token).value, Int32(index)))
            }
        }
        // Ties between equal positions (astronomically rare) break by member id, so order never depends on input order.
        tokens.sort { $0.position != $1.position ? $0.position < $1.position : $0.owner < $1.owner }

        self.members = sorted
        self.vnodesPerWeight = vnodesPerWeight
        self.zoneCount = zoneIndex.count
        self.tokenPositions = tokens.map(\.position)
        self.tokenOwners = tokens.map(\.owner)
        self.memberZones = memberZones
        self.indexOfID = indexOfID
    }

    /// The number of tokens a member of `weight` contributes (at least one).
    public static func tokenCount(weight: Double, vnodesPerWeight: Int) -> Int {
        max(1, Int((weight * Double(vnodesPerWeight)).rounded()))
    }

    /// Token `index` of `node`: the first 8 bytes of SHA-256(`node + "#" + index`).
    public static func token(of node: NodeID, index: Int) -> RingPosition {
        RingPosition(digest: SHA256.hash(data: Array("\(node.rawValue)#\(index)".utf8)))
    }

    /// The number of members.
    public var count: Int { members.count }
    /// True when the ring has no members (and so owns nothing).
    public var isEmpty: Bool { members.isEmpty }
    /// The total number of tokens on the ring.
    public var tokenCount: Int { tokenPositions.count }

    /// The member with this id, if it is on the ring.
    public func member(_ id: NodeID) -> Member? { indexOfID[id].map { members[$0] } }

    /// True when `id` is a ring member.
    public func contains(_ id: NodeID) -> Bool { indexOfID[id] != nil }

    /// Every member in preference order for `position`: clockwise from the key, distinct nodes,
    /// the first node of each zone ahead of the rest (so owners span zones whenever they can).
    public func preferenceList(for position: RingPosition) -> [NodeID] {
        walk(fromToken: successor(of: position), wanted: members.count).map { members[$0].id }
    }

    /// The key's primary owners: the first `replication` entries of its preference list.
    /// Fewer when the ring has fewer members; none when `replication` < 1.
    public func owners(of position: RingPosition, replication: Int) -> [NodeID] {
        guard replication >= 1 else { return [] }
        return walk(fromToken: successor(of: position), wanted: replication).map { members[$0].id }
    }

    /// Index of the first token at or clockwise after `position` (wrapping to 0).
    func successor(of position: RingPosition) -> Int {
        var low = 0, high = tokenPositions.count
        while low < high {
            let mid = (low + high) / 2
            if tokenPositions[mid] < position.value { low = mid + 1 } else { high = mid }
        }
        return low == tokenPositions.count ? 0 : low
    }

    /// Member indices in preference order, starting at token `start`, stopping once the first
    /// `wanted` entries are certain. Nodes whose zone is new come first, the rest follow in walk order.
    func walk(fromToken start: Int, wanted requested: Int) -> [Int] {
        let wanted = min(requested, members.count)
        guard wanted > 0 else { return [] }
        if zoneCount == 1 { return walkOneZone(fromToken: start, wanted: wanted) }
        var zoneLeaders: [Int] = []      // first node met in each zone, in walk order
        var leaderZones: [Int32] = []    // zone of each leader (few zones: a linear scan beats hashing)
        var others: [Int] = []           // further distinct nodes, in walk order
        var token = start
        for _ in 0..<tokenPositions.count {
            let member = Int(tokenOwners[token])
            let zone = memberZones[member]
            if let slot = leaderZones.firstIndex(of: zone) {
                if zoneLeaders[slot] != member && !others.contains(member) { others.append(member) }
            } else {
                leaderZones.append(zone)
                zoneLeaders.append(member)
            }
            // Done when the leaders alone fill the list, or every zone is found and the rest is walk order.
            if zoneLeaders.count >= wanted { break }
            if zoneLeaders.count == zoneCount && zoneLeaders.count + others.count >= wanted { break }
            token += 1
            if token == tokenPositions.count { token = 0 }
        }
        return Array((zoneLeaders + others).prefix(wanted))
    }

    /// The common case of `walk` without zones: distinct nodes in walk order, one allocation.
    private func walkOneZone(fromToken start: Int, wanted: Int) -> [Int] {
        var found: [Int] = []
        found.reserveCapacity(wanted)
        var token = start
        while found.count < wanted {
            let member = Int(tokenOwners[token])
            if !found.contains(member) { found.append(member) }
            token += 1
            if token == tokenPositions.count { token = 0 }
        }
        return found
    }
}

extension Ring {
    /// A ring member: a node, its relative capacity and its failure zone.
    public struct Member: Hashable, Sendable {
        /// The node's id.
        public var id: NodeID
        /// Relative capacity; a member of weight 2 owns twice the key space of one of weight 1.
        public var weight: Double
        /// Failure domain (rack, room); owners of a key span distinct zones when possible.
        public var zone: String

        public init(id: NodeID, weight: Double = 1, zone: String = "") {
            self.id = id
            self.weight = weight
            self.zone = zone
        }
    }

    /// This ring with `member` added (or replaced, when its id is already present).
    public func adding(_ member: Member) throws(RingError) -> Ring {
        try Ring(members: members.filter { $0.id != member.id } + [member], vnodesPerWeight: vnodesPerWeight)
    }

    /// This ring without `id` (unchanged when `id` is not a member).
    public func removing(_ id: NodeID) -> Ring {
        // Cannot throw: the remaining members were already valid together.
        (try? Ring(members: members.filter { $0.id != id }, vnodesPerWeight: vnodesPerWeight)) ?? self
    }
}
