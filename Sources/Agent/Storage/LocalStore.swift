import Basics
import Foundation
import Logging
import NIOCore
import Ring

/// This node's own storage: the blob store for chunk bytes and the metadata shard for manifests,
/// the chunk index and hints. What the internal API serves to peers and what the coordinators
/// call directly when this node is itself a target.
public struct LocalStore: Sendable {
    public let blobs: any BlobStore
    public let metadata: MetadataStore
    public let clock: HybridClock
    public let metrics: AgentMetrics?
    /// Held per chunk id by every step that asks for, stores or deletes a chunk, so a GC delete
    /// never falls between a dedup check saying "held" and the upload that relies on it.
    private let chunkLocks = KeyedLock<ChunkID>()
    /// What GC deleted here as garbage and repair must not bring back.
    public let collected = CollectedChunks()

    public init(blobs: any BlobStore, metadata: MetadataStore, clock: HybridClock, metrics: AgentMetrics? = nil) {
        self.blobs = blobs
        self.metadata = metadata
        self.clock = clock
        self.metrics = metrics
    }

    /// The stored size of a chunk, or nil (the blob store is the truth; the index follows it).
    /// A chunk asked about may be about to be referenced by an upload's dedup: its GC grace
    /// restarts.
    /// The answer pins the chunk for the GC round in progress (it cannot delete it).
    public func chunkSize(_ id: ChunkID) async throws -> Int64? {
        try await chunkLocks.withLock(id) {
            let size = try await blobs.size(of: id)
            if size != nil { try await metadata.touchChunk(id, at: Int64(HybridClock.systemMilliseconds())) }
            return size
        }
    }

    /// Stores a chunk unless it is already here (dedup), verifying its SHA-256 on the way in;
    /// records it in the index and, for a stand-in copy, the hint. Returns false when it was
    /// already stored. A `repair` copy of a chunk GC collected here is refused
    /// (`CollectedGarbageError`); any other copy is taken.
    @discardableResult
    public func putChunk(_ id: ChunkID, size: Int64, body: BlobBody, hintFor: NodeID?, repair: Bool = false) async throws -> Bool {
        try await chunkLocks.withLock(id) {
            let now = Int64(HybridClock.systemMilliseconds())
            let existing = try await blobs.size(of: id)
            if existing == nil, collected.contains(id) {
                if repair { throw CollectedGarbageError(id: id) }
                collected.forget(id)
            }
            if existing == nil {
                try await blobs.put(id, size: size, body: body)
                metrics?.chunkPuts.increment()
            } else {
                metrics?.dedupHits.increment()
            }
            // Recorded (or, when it was already here, pinned for the GC round in progress).
            try await metadata.recordChunk(id, size: size, at: now)
            if let hintFor { try await metadata.addHint(.init(intended: hintFor, kind: .chunk, key: id.hex, createdAt: now)) }
            return existing == nil
        }
    }

    /// Reads a whole chunk into memory (at most `limit` bytes), verifying it against its id.
    public func readChunk(_ id: ChunkID, limit: Int) async throws -> ByteBuffer {
        metrics?.chunkGets.increment()
        let buffer = try await blobs.readWhole(id, limit: limit)
        try ChunkVerifier.verify(buffer, id: id, size: Int64(buffer.readableBytes))
        return buffer
    }

    /// Merges a manifest copy into the shard (recording the hint for a stand-in copy); returns the winner.
    @discardableResult
    public func mergeManifest(_ manifest: Manifest, hintFor: NodeID?) async throws -> Manifest {
        try clock.observe(manifest.version)
        let stored = try await metadata.merge(manifest)
        if let hintFor {
            let key = manifest.key
            try await metadata.addHint(.init(intended: hintFor, kind: .manifest, key: key.text, createdAt: Int64(HybridClock.systemMilliseconds())))
        }
        return stored
    }

    /// Re-reads a chunk and checks it against its id; a bad or unreadable copy is deleted (the
    /// convergence loop then refills it from a good replica). Returns whether the copy was good.
    public func verifyOrDrop(_ id: ChunkID, logger: Logger) async throws -> Bool {
        guard let size = try await blobs.size(of: id) else {
            try await metadata.forgetChunk(id)
            return false
        }
        do {
            _ = try await blobs.read(id) { stream in
                for try await _ in VerifyingByteSequence(base: stream.bytes, id: id, size: size) {}
            }
            try await metadata.markVerified(id, at: Int64(HybridClock.systemMilliseconds()))
            return true
        } catch let error as BlobStoreError where error.code == .integrity || error.code == .notFound {
            metrics?.verificationFailures.increment()
            logger.error("bad chunk copy deleted; a good replica will replace it", metadata: ["chunk": "\(id)", "error": "\(error)"])
            try await blobs.delete(id)
            try await metadata.forgetChunk(id)
            return false
        }
    }

    /// Removes a chunk copy this node no longer needs (and its hints).
    public func dropChunk(_ id: ChunkID) async throws {
        try await chunkLocks.withLock(id) {
            try await blobs.delete(id)
            try await metadata.forgetChunk(id)
            try await metadata.removeHints(kind: .chunk, key: id.hex)
        }
    }

    /// GC's delete: drops the chunk unless it was pinned during GC round `epoch` (asked about or
    /// stored since the round began), checked in the transaction that forgets it and under the
    /// chunk's lock, so no dedup check can answer "held" for a chunk about to go. The index row
    /// goes first: a crash before the blob goes leaves a blob the next start indexes again.
    /// Returns whether it was dropped.
    public func dropChunkForGC(_ id: ChunkID, epoch: Int64) async throws -> Bool {
        try await chunkLocks.withLock(id) {
            guard try await metadata.forgetChunkUnlessPinned(id, epoch: epoch) else { return false }
            try await blobs.delete(id)
            try await metadata.removeHints(kind: .chunk, key: id.hex)
            return true
        }
    }

    /// Brings the chunk index in line with the blob store (after a lost disk or a crash between
    /// the two): indexes chunks the store has, forgets chunks it does not. Returns (added, forgotten).
    public func reconcileIndex() async throws -> (added: Int, forgotten: Int) {
        var stored: [ChunkID: Int64] = [:]
        for try await entry in blobs.list() { stored[entry.id] = entry.size }
        let indexed = try await metadata.chunkEntries()
        var forgotten = 0
        for entry in indexed where stored[entry.id] == nil {
            try await metadata.forgetChunk(entry.id)
            forgotten += 1
        }
        let known = Set(indexed.map(\.id))
        let now = Int64(HybridClock.systemMilliseconds())
        var added = 0
        for (id, size) in stored where !known.contains(id) {
            try await metadata.recordChunk(id, size: size, at: now)
            added += 1
        }
        return (added, forgotten)
    }
}
