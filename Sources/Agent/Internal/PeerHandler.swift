import Basics
import Logging
import NIOCore
import Ring

/// What one node does for its peers: the receiving end of every internal call. `LocalPeer`
/// implements it over a node's own storage; the HTTP server and the in-process transport of the
/// coordinator tests both hand calls to it.
public protocol PeerHandler: Sendable {
    /// The stored size of a chunk, or nil when it is not held.
    func chunkSize(_ id: ChunkID) async throws -> Int64?
    /// Stores a chunk (verifying it on the way in); false when it was already held.
    /// A `repair` copy (from the convergence loop) of a chunk collected here as garbage is refused.
    func putChunk(_ id: ChunkID, size: Int64, body: BlobBody, hintFor: NodeID?, repair: Bool) async throws -> Bool
    /// A whole chunk as stored (the caller verifies it), or nil when it is not held.
    func chunkBytes(_ id: ChunkID, limit: Int) async throws -> ByteBuffer?
    /// Re-verifies a chunk copy, dropping it when bad; true when it was good.
    func verifyChunk(_ id: ChunkID) async throws -> Bool
    /// Merges a manifest copy; returns the version now held.
    func mergeManifest(_ manifest: Manifest, hintFor: NodeID?) async throws -> Manifest
    /// The copy of a manifest held here (possibly a tombstone), or nil.
    func manifest(_ key: FileKey) async throws -> Manifest?
    /// A page of the manifests held here for a listing, tombstones included, in key order.
    func shardPage(owner: String?, prefix: String, after: FileKey?, limit: Int) async throws -> ShardPage
    /// Digests, per partition, of the `kind` keys held here that this node and `peer` both own.
    func digests(_ kind: SyncKind, peer: NodeID, partitions: Set<Int>) async throws -> [Int: String]
    /// Which of `keys` are held here, with their versions; with `all`, every key with its version or size.
    func held(_ kind: SyncKind, keys: [String], all: Bool) async throws -> [String: String]
    /// A Bloom filter of the chunks this node's live manifests and uploads in progress reference.
    func references() async throws -> ChunkBloomFilter
    /// Every user, token and ring-decision record held here.
    func globalRecords(inBuckets buckets: Set<Int>?) async throws -> GlobalRecords
    /// A digest per nonempty bucket of the global records held here.
    func globalDigests() async throws -> [Int: String]
    /// Merges global records; returns how many changed.
    func mergeGlobal(_ records: GlobalRecords) async throws -> Int
}

/// A node's own answers to its peers, over its `LocalStore`.
public struct LocalPeer: PeerHandler {
    public let selfID: NodeID
    public let local: LocalStore
    public let view: ClusterView
    /// The chunks of this node's uploads in progress (GC must keep them).
    public let uploadsInFlight: @Sendable () -> [ChunkID]
    public let logger: Logger

    public init(selfID: NodeID, local: LocalStore, view: ClusterView, uploadsInFlight: @escaping @Sendable () -> [ChunkID], logger: Logger) {
        self.selfID = selfID
        self.local = local
        self.view = view
        self.uploadsInFlight = uploadsInFlight
        self.logger = logger
    }

    public func chunkSize(_ id: ChunkID) async throws -> Int64? { try await local.chunkSize(id) }

    public func putChunk(_ id: ChunkID, size: Int64, body: BlobBody, hintFor: NodeID?, repair: Bool) async throws -> Bool {
        try await local.putChunk(id, size: size, body: body, hintFor: hintFor, repair: repair)
    }

    public func chunkBytes(_ id: ChunkID, limit: Int) async throws -> ByteBuffer? {
        do {
            let bytes = try await local.blobs.readWhole(id, limit: limit)
            local.metrics?.chunkGets.increment()
            return bytes
        } catch let error as BlobStoreError where error.code == .notFound {
            return nil
        }
    }

    public func verifyChunk(_ id: ChunkID) async throws -> Bool { try await local.verifyOrDrop(id, logger: logger) }

    public func mergeManifest(_ manifest: Manifest, hintFor: NodeID?) async throws -> Manifest {
        do {
            return try await local.mergeManifest(manifest, hintFor: hintFor)
        } catch let error as ClockSkewError {
            logger.error("refused a manifest from the future", metadata: ["error": "\(error)"])
            throw error
        }
    }

    public func manifest(_ key: FileKey) async throws -> Manifest? { try await local.metadata.manifest(key) }

    public func shardPage(owner: String?, prefix: String, after: FileKey?, limit: Int) async throws -> ShardPage {
        try await local.metadata.shardPage(owner: owner, prefix: prefix, after: after, limit: limit)
    }

    public func digests(_ kind: SyncKind, peer: NodeID, partitions: Set<Int>) async throws -> [Int: String] {
        let items = try await SyncItem.load(kind, from: local.metadata)
        return view.snapshot().coOwnedDigests(items, selfID, peer, partitions: partitions)
    }

    public func held(_ kind: SyncKind, keys: [String], all: Bool) async throws -> [String: String] {
        let items = try await SyncItem.load(kind, from: local.metadata)
        if all { return Dictionary(items.map { ($0.key, kind == .chunk ? String($0.size) : $0.version) }) { first, _ in first } }
        let wanted = Set(keys)
        return Dictionary(items.filter { wanted.contains($0.key) }.map { ($0.key, $0.version) }) { first, _ in first }
    }

    public func references() async throws -> ChunkBloomFilter {
        let ids = try await local.metadata.referencedChunks() + uploadsInFlight()
        var filter = ChunkBloomFilter(expected: ids.count)
        for id in ids { filter.insert(id) }
        return filter
    }

    public func globalRecords(inBuckets buckets: Set<Int>?) async throws -> GlobalRecords { try await local.metadata.globalRecords(inBuckets: buckets) }

    public func globalDigests() async throws -> [Int: String] { try await local.metadata.globalDigests() }

    public func mergeGlobal(_ records: GlobalRecords) async throws -> Int {
        for version in records.versions { try local.clock.observe(version) }
        return try await local.metadata.merge(records)
    }
}
