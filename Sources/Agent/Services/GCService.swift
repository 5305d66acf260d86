import Basics
import Logging
import Ring
import ServiceLifecycle

/// Garbage collection (DESIGN.md §9, §18), mark and sweep: every ring member answers with a
/// Bloom filter of the chunks its live manifests and its uploads in progress reference; a chunk
/// stored here is deleted only if no filter contains it, it is older than `gc_grace`, and it was
/// not pinned during the round. A round in which any ring member does not answer deletes nothing.
///
/// Why that is safe whatever `gc_grace` is (it only delays reclaiming space): the round starts a
/// new GC epoch before it asks for any filter. A reference made before that is in a filter (an
/// upload registers its chunks before it asks targets about them, a committed manifest lists
/// them). A reference made after it went through this node — a dedup check that answered "held"
/// or a copy stored again — and that pinned the chunk with the new epoch in the transaction that
/// answered; the delete re-checks the pin in its own transaction, under the chunk's lock.
struct GCService: Service {
    let agent: AgentContext
    let interval: Duration
    let grace: Duration
    /// Test seam: runs after the round has read what to delete and before it deletes anything
    /// (where an upload's dedup check used to slip in and lose its chunk).
    var beforeDeleting: (@Sendable () async -> Void)? = nil

    func run() async {
        try? await Task.sleep(for: interval)
        await runPeriodically("GC round", logger: agent.logger, retryAfter: interval) {
            try await round()
            return interval
        }
    }

    /// Returns how many chunks were deleted, or nil when the round was skipped.
    @discardableResult
    func round() async throws -> Int? {
        let epoch = try await agent.local.metadata.beginGCEpoch()
        let snapshot = agent.view.snapshot()
        var filters: [ChunkBloomFilter] = []
        for member in snapshot.ring.members.map(\.id) {
            do {
                if member == agent.selfID {
                    let ids = try await agent.local.metadata.referencedChunks() + agent.writer.uploads.chunksInFlight()
                    var filter = ChunkBloomFilter(expected: ids.count)
                    for id in ids { filter.insert(id) }
                    filters.append(filter)
                } else {
                    filters.append(try await agent.calls.references(on: member, snapshot))
                }
            } catch {
                agent.logger.info("GC round skipped: a ring member did not answer", metadata: ["peer": "\(member)", "error": "\(error)"])
                return nil
            }
        }
        let cutoff = Int64(HybridClock.systemMilliseconds()) - grace.inMilliseconds
        let candidates = try await agent.local.metadata.chunkEntries().filter { entry in
            entry.storedAt < cutoff && !filters.contains { $0.mayContain(entry.id) }
        }
        await beforeDeleting?()
        var deleted: [ChunkID] = []
        for entry in candidates where try await agent.local.dropChunkForGC(entry.id, epoch: epoch) {
            deleted.append(entry.id)
        }
        agent.local.collected.roundFinished(deleted: deleted, referenced: { id in filters.contains { $0.mayContain(id) } })
        if !deleted.isEmpty { agent.logger.info("GC deleted unreferenced chunks", metadata: ["count": "\(deleted.count)"]) }
        return deleted.count
    }
}
