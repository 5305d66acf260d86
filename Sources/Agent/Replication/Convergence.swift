import Basics
import Ring

/// The decisions of the convergence loop (DESIGN.md §9) as pure functions: given who owns a key,
/// who can be reached and who is known to hold it, what this node should do with its copy.
/// Hinted handoff, re-replication, rebalancing and draining are all this one rule applied to
/// different placements.
public enum Convergence {
    /// What to do with one key held here.
    public enum Action: Equatable, Sendable {
        /// Nothing to do: every reachable owner has it, and this copy is needed (an owner's, or
        /// the only one until an owner that is down returns).
        case keep
        /// These owners lack it (or hold an older version): push it to them.
        case push(to: [NodeID])
        /// This node is not an owner and every owner holds it: the local copy can go.
        case delete
    }

    /// - Parameters:
    ///   - owners: the key's owners (placement list, first `replication`), possibly down.
    ///   - isAvailable: whether a node can be written to now.
    ///   - holders: nodes known to hold the key (the current version, for a manifest).
    public static func decide(selfID: NodeID, owners: [NodeID], isAvailable: (NodeID) -> Bool, holders: Set<NodeID>) -> Action {
        let missing = owners.filter { $0 != selfID && isAvailable($0) && !holders.contains($0) }
        if !missing.isEmpty { return .push(to: missing) }
        if owners.contains(selfID) { return .keep }
        // Not an owner (a hint, a previous owner, a draining node): the copy may go only once
        // every owner has confirmed its own — never while an owner that is down still lacks it.
        return !owners.isEmpty && owners.allSatisfy { holders.contains($0) } ? .delete : .keep
    }

    /// Whether this node counts a key it holds as at risk: an owner of it is down, so fewer than
    /// `replication` copies are known live, and repair has not started on it (after `dead_grace`
    /// the owner is replaced and the key counts as under-replicated instead). One node counts each
    /// key — the first owner that is up (the owners' order is the same on every node); while
    /// every owner is down, the holders that are not owners count it.
    public static func reportsAtRisk(selfID: NodeID, owners: [NodeID], isAvailable: (NodeID) -> Bool) -> Bool {
        guard owners.contains(where: { !isAvailable($0) }) else { return false }
        return (owners.first(where: isAvailable) ?? selfID) == selfID
    }
}
