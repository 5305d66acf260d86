import Basics
import Ring

/// "Nothing comes back" (DESIGN.md §18, docs/healing.md): tombstones are purged after
/// `tombstone_ttl`, so a node that was out of touch for long — dead, isolated, or started from
/// an old backup of its data directory — may hold live manifests of files the others deleted
/// and have since forgotten. Pushed as usual, those files would come back.
///
/// The rule: every round in touch with a peer records the time (`in_touch_at`, persisted, so a
/// restart or a restored backup carries it). A node whose last contact is older than half of
/// `tombstone_ttl` marks every manifest it holds as suspect (`stale_before`, persisted too) and
/// pushes none of them until another owner confirms the key exists there at some version. A
/// suspect no other owner holds, once every other owner has answered, was deleted (or lost
/// everywhere else) and is dropped here. Half the TTL leaves the other half for a deletion made
/// during the absence to reach this node before its tombstone may be purged.
struct AbsenceCheck {
    static let inTouchKey = "in_touch_at"
    static let staleBeforeKey = "stale_before"

    let metadata: MetadataStore
    let tombstoneTTL: Duration

    /// How long out of touch makes this node's older manifests suspect.
    var limit: Int64 { tombstoneTTL.inMilliseconds / 2 }

    /// At the start of a round: the wall time (ms) below which this node's manifests are
    /// suspect, or nil when none are. Marks them when the last contact is older than `limit`.
    func staleBefore(now: Int64) async throws -> Int64? {
        let stored = try await metadata.nodeState(Self.staleBeforeKey).flatMap { Int64($0) }
        guard let inTouch = try await metadata.nodeState(Self.inTouchKey).flatMap({ Int64($0) }) else {
            // A node that never recorded contact holds nothing from before (a new node).
            try await metadata.setNodeState(Self.inTouchKey, String(now))
            return stored
        }
        // Still out of touch: whatever arrived meanwhile is suspect too.
        guard now - inTouch > limit else { return stored }
        try await metadata.setNodeState(Self.staleBeforeKey, String(now))
        return now
    }

    /// At the end of a round: records contact (at most every `limit / 4`, at least every
    /// minute, to spare commits) and, once no suspect is left unresolved, ends the check.
    func roundFinished(now: Int64, inTouch: Bool, unresolved: Int, wasChecking: Bool) async throws {
        guard inTouch else { return }
        let last = try await metadata.nodeState(Self.inTouchKey).flatMap { Int64($0) } ?? 0
        if now - last >= min(60_000, max(1, limit / 4)) { try await metadata.setNodeState(Self.inTouchKey, String(now)) }
        if wasChecking && unresolved == 0 { try await metadata.removeNodeState(Self.staleBeforeKey) }
    }

    /// What the other owners said about the suspects.
    struct Verdict {
        /// Keys another owner holds: safe to treat as usual.
        var confirmed: Set<String> = []
        /// Keys no other owner holds, every other owner having answered: to drop.
        var deleted: Set<String> = []
        /// Keys not yet decided (an owner unavailable or not answering): neither pushed nor dropped.
        var unresolved: Set<String> = []
    }

    /// Asks the other owners of each suspect whether they hold it. `ask` returns a peer's
    /// versions of the keys given, or nil when it did not answer. A key whose only owner is this
    /// node has no one to ask and no one who purged its tombstone: confirmed.
    static func resolve(
        _ suspects: [SyncItem], selfID: NodeID, owners: (RingPosition) -> [NodeID], isAvailable: (NodeID) -> Bool,
        ask: (NodeID, [String]) async -> [String: String]?
    ) async -> Verdict {
        var others: [String: [NodeID]] = [:]
        for item in suspects { others[item.key] = owners(item.position).filter { $0 != selfID } }
        var answers: [NodeID: [String: String]] = [:]
        for peer in Set(others.values.joined()).sorted() where isAvailable(peer) {
            let keys = suspects.map(\.key).filter { others[$0]?.contains(peer) == true }
            if let held = await ask(peer, keys) { answers[peer] = held }
        }
        var verdict = Verdict()
        for item in suspects {
            let peers = others[item.key] ?? []
            if peers.isEmpty || peers.contains(where: { answers[$0]?[item.key] != nil }) {
                verdict.confirmed.insert(item.key)
            } else if peers.allSatisfy({ answers[$0] != nil }) {
                verdict.deleted.insert(item.key)
            } else {
                verdict.unresolved.insert(item.key)
            }
        }
        return verdict
    }

    /// Whether `item` (a manifest) is older than `staleBefore`.
    static func isSuspect(_ item: SyncItem, staleBefore: Int64) -> Bool {
        guard let version = HybridTimestamp(item.version) else { return false }
        return Int64(version.wallMilliseconds) < staleBefore
    }
}
