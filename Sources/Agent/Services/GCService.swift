import Logging
import Ring
import ServiceLifecycle

/// Garbage collection (DESIGN.md §9), mark and sweep: every ring member answers with a Bloom
/// filter of the chunks its live manifests and its uploads in progress reference; a chunk stored
/// here is deleted only if no filter contains it and it is older than `gc_grace`. A round in
/// which any ring member does not answer deletes nothing.
struct GCService: Service {
    let agent: AgentContext
    let interval: Duration
    let grace: Duration

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
        var deleted = 0
        for entry in try await agent.local.metadata.chunkEntries() where entry.storedAt < cutoff {
            guard !filters.contains(where: { $0.mayContain(entry.id) }) else { continue }
            try await agent.local.dropChunk(entry.id)
            deleted += 1
        }
        if deleted > 0 { agent.logger.info("GC deleted unreferenced chunks", metadata: ["count": "\(deleted)"]) }
        return deleted
    }
}
