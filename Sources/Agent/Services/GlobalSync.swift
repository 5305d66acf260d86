import Basics
import Logging

/// Anti-entropy for global records (users, tokens, admins' ring decisions) with one peer:
/// compare a digest per bucket first, then exchange only the buckets that differ, so a settled
/// cluster sends a few kilobytes a round however many accounts and tokens it holds.
struct GlobalSync {
    let agent: AgentContext

    /// What one round did.
    struct Outcome: Equatable {
        /// Buckets whose digests differed.
        var differing = 0
        /// Records pulled from the peer that changed something here.
        var merged = 0
        /// Whether our copies of the differing buckets went back to the peer.
        var pushed = false
    }

    /// One round with `peer`: pulls what differs, merges it, and pushes ours back when the
    /// peer's copy of those buckets was not the same.
    func round(with peer: NodeID, _ snapshot: ClusterSnapshot) async throws -> Outcome {
        let theirDigests = try await agent.calls.globalDigests(on: peer, snapshot)
        let ourDigests = try await agent.local.metadata.globalDigests()
        let differing = Set(theirDigests.keys).union(ourDigests.keys).filter { theirDigests[$0] != ourDigests[$0] }
        guard !differing.isEmpty else { return Outcome() }
        let theirs = try await agent.calls.globalRecords(inBuckets: differing, on: peer, snapshot)
        for version in theirs.versions {
            do { try agent.local.clock.observe(version) } catch { agent.logger.warning("global sync: a record from the future", metadata: ["peer": "\(peer)", "error": "\(error)"]) }
        }
        var outcome = Outcome(differing: differing.count, merged: try await agent.local.metadata.merge(theirs))
        let ours = try await agent.local.metadata.globalRecords(inBuckets: differing)
        if ours != theirs {
            try await agent.calls.pushGlobalRecords(ours, to: peer, snapshot)
            outcome.pushed = true
        }
        return outcome
    }
}
