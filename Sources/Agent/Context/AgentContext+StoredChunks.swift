import Basics
import Foundation

extension AgentContext {
    /// Writes a manifest over chunks stored already (an S3 copy, a completed multipart upload);
    /// nil, writing nothing, when one of them is no longer held anywhere. The manifests that
    /// named them may be deleted meanwhile (the source, an aborted or expired upload's parts),
    /// so the chunks are pinned before the new one is written: listed among this node's uploads
    /// in flight, which every later GC round asks about, then asked of their holders, which pins
    /// them against a round already under way there, as an upload's dedup check does.
    func storeOverStoredChunks(_ chunks: [ChunkReference], _ snapshot: ClusterSnapshot, _ make: (HybridTimestamp) -> Manifest) async throws -> Manifest? {
        let registry = writer.uploads
        let pin = UUID()
        registry.begin(pin)
        defer { registry.finish(pin) }
        let ids = Array(Set(chunks.map(\.id)))
        for id in ids { registry.add(id, to: pin) }
        let reader = self.reader
        // Its owners first; every other node only for a chunk none of them holds (a stand-in's copy).
        let held = try await mapConcurrently(ids) { id in
            if await !reader.holders(of: id, among: snapshot.owners(of: id.position), snapshot).isEmpty { return true }
            return await !reader.holders(of: id, snapshot).isEmpty
        }
        guard !held.contains(false) else { return nil }
        return try await writer.storeNewVersion(snapshot, make)
    }
}
