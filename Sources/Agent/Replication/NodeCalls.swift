import Basics
import NIOCore
import Ring

/// The operations one node asks of another — chunk and manifest copies, lists, global records —
/// carried out locally when the node is this one and through the `NodeTransport` otherwise, so
/// the coordinators never care which.
public struct NodeCalls: Sendable {
    public let local: LocalStore
    public let transport: any NodeTransport
    public let selfID: NodeID

    public init(local: LocalStore, transport: any NodeTransport, selfID: NodeID) {
        self.local = local
        self.transport = transport
        self.selfID = selfID
    }

    private func locally<T>(_ node: NodeID, _ body: () async throws -> T) async throws(PeerError) -> T {
        do {
            return try await body()
        } catch let error as PeerError {
            throw error
        } catch {
            throw PeerError(code: .refused, node: node, message: "local storage: \(error)")
        }
    }

    /// The size of a chunk on `node`, or nil when it does not hold it.
    public func chunkSize(_ id: ChunkID, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Int64? {
        if node == selfID { return try await locally(node) { try await local.chunkSize(id) } }
        return try await transport.call(ChunkCalls.Size(id), on: node, snapshot)
    }

    /// Stores a chunk on `node` (a peer verifies its SHA-256 before acknowledging). The bytes must
    /// already be verified against `id` by this process (hashed on arrival, or read and checked),
    /// so the local copy is not hashed a second time.
    public func putChunk(_ id: ChunkID, _ bytes: ByteBuffer, on node: NodeID, hintFor: NodeID?, repair: Bool = false, _ snapshot: ClusterSnapshot) async throws(PeerError) {
        if node == selfID {
            _ = try await locally(node) { try await local.putChunk(id, size: Int64(bytes.readableBytes), body: .verified(bytes), hintFor: hintFor, repair: repair) }
            return
        }
        _ = try await transport.call(ChunkCalls.Put(id, bytes, hintFor: hintFor, repair: repair), on: node, snapshot)
    }

    /// Reads a whole chunk from `node`, verified against its id; nil when the node does not hold it.
    public func chunk(_ id: ChunkID, size: Int64, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> ByteBuffer? {
        if node == selfID {
            do {
                return try await local.readChunk(id, limit: Int(size))
            } catch let error as BlobStoreError where error.code == .notFound {
                return nil
            } catch let error as BlobStoreError where error.code == .integrity {
                throw PeerError(code: .invalidResponse, node: node, message: "local chunk \(id) failed verification: \(error)")
            } catch {
                throw PeerError(code: .refused, node: node, message: "local chunk \(id): \(error)")
            }
        }
        guard let bytes = try await transport.call(ChunkCalls.Get(id, size: size), on: node, snapshot) else { return nil }
        do {
            try ChunkVerifier.verify(bytes, id: id, size: size)
        } catch {
            throw PeerError(code: .invalidResponse, node: node, message: "chunk \(id) failed verification: \(error)")
        }
        return bytes
    }

    /// Merges a manifest copy into `node`'s shard; returns the copy it now holds.
    @discardableResult
    public func putManifest(_ manifest: Manifest, on node: NodeID, hintFor: NodeID?, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Manifest {
        if node == selfID { return try await locally(node) { try await local.mergeManifest(manifest, hintFor: hintFor) } }
        return try await transport.call(ManifestCalls.Put(manifest, hintFor: hintFor), on: node, snapshot)
    }

    /// `node`'s copy of a manifest (possibly a tombstone), or nil.
    public func manifest(_ key: FileKey, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Manifest? {
        if node == selfID { return try await locally(node) { try await local.metadata.manifest(key) } }
        return try await transport.call(ManifestCalls.Get(key), on: node, snapshot)
    }

    /// A page of `node`'s manifest summaries (tombstones included) in key order.
    public func shardPage(owner: String?, prefix: String, after: FileKey?, limit: Int, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> ShardPage {
        if node == selfID { return try await locally(node) { try await local.metadata.shardPage(owner: owner, prefix: prefix, after: after, limit: limit) } }
        return try await transport.call(ManifestCalls.List(owner: owner, prefix: prefix, after: after, limit: limit), on: node, snapshot)
    }

    /// The user, token and ring-decision records `node` holds in `buckets` (all when nil).
    public func globalRecords(inBuckets buckets: Set<Int>? = nil, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> GlobalRecords {
        if node == selfID { return try await locally(node) { try await local.metadata.globalRecords(inBuckets: buckets) } }
        return try await transport.call(SyncCalls.GetGlobal(buckets: buckets), on: node, snapshot)
    }

    /// `node`'s digest of each nonempty bucket of global records.
    public func globalDigests(on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [Int: String] {
        if node == selfID { return try await locally(node) { try await local.metadata.globalDigests() } }
        let answer = try await transport.call(SyncCalls.GlobalDigests(), on: node, snapshot)
        // Only real bucket numbers: anything else a peer sends is ignored, never asked for.
        let buckets = 0..<MetadataStore.globalBuckets
        return Dictionary(answer.compactMap { key, value in Int(key).flatMap { buckets.contains($0) ? ($0, value) : nil } }, uniquingKeysWith: { first, _ in first })
    }

    /// Merges user and token records into `node`.
    public func pushGlobalRecords(_ records: GlobalRecords, to node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) {
        if node == selfID {
            _ = try await locally(node) { try await local.metadata.merge(records) }
            return
        }
        _ = try await transport.call(SyncCalls.PutGlobal(records), on: node, snapshot)
    }

    // MARK: Convergence and GC

    /// `node`'s digests, per partition, of its `kind` keys that it and this node both own.
    public func digests(_ kind: SyncKind, partitions: [Int], on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [Int: String] {
        let answer = try await transport.call(SyncCalls.Digests(kind, asking: selfID, partitions: partitions), on: node, snapshot)
        return Dictionary(answer.compactMap { key, value in Int(key).map { ($0, value) } }) { first, _ in first }
    }

    /// Which of `keys` `node` holds, with the version of each (empty for chunks), asked in
    /// batches so no request grows with the shard.
    public func held(_ kind: SyncKind, keys: [String], on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [String: String] {
        var result: [String: String] = [:]
        for start in stride(from: 0, to: keys.count, by: 2000) {
            let batch = Array(keys[start..<min(keys.count, start + 2000)])
            result.merge(try await transport.call(SyncCalls.Held(kind, keys: batch), on: node, snapshot)) { $1 }
        }
        return result
    }

    /// Every key of `kind` that `node` holds, each with its version (manifests) or size (chunks).
    public func allHeld(_ kind: SyncKind, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [String: String] {
        try await transport.call(SyncCalls.Held(everything: kind), on: node, snapshot)
    }

    /// `node`'s Bloom filter of the chunks its live manifests and uploads in progress reference.
    public func references(on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> ChunkBloomFilter {
        try await transport.call(SyncCalls.References(), on: node, snapshot)
    }

    /// Asks `node` to re-verify its copy of a chunk (deleting it when bad); true when it was good.
    public func verifyChunk(_ id: ChunkID, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Bool {
        try await transport.call(ChunkCalls.Verify(id), on: node, snapshot)
    }
}
