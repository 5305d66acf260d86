import Basics
import Foundation
import NIOCore
import NIOHTTP1
import Ring

/// The operations one node asks of another — chunk and manifest copies, lists, global records —
/// carried out locally when the node is this one and over the internal API otherwise, so the
/// coordinators never care which.
public struct NodeCalls: Sendable {
    public let local: LocalStore
    public let peers: PeerClient
    public let selfID: NodeID

    public init(local: LocalStore, peers: PeerClient, selfID: NodeID) {
        self.local = local
        self.peers = peers
        self.selfID = selfID
    }

    private func address(_ node: NodeID, _ snapshot: ClusterSnapshot) throws(PeerError) -> String {
        guard let address = snapshot.httpAddress(node) else { throw PeerError(code: .unreachable, node: node, message: "no known HTTP address") }
        return address
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
        let target = "/internal/v1/chunks/\(id.hex)"
        let response = try await peers.call(.HEAD, node: node, address: try address(node, snapshot), target: target)
        if response.status == 404 { return nil }
        try PeerClient.requireSuccess(response, node: node, target: target)
        guard let size = response.headers.first(name: "Content-Length").flatMap(Int64.init) else {
            throw PeerError(code: .invalidResponse, node: node, message: "HEAD \(target) without Content-Length")
        }
        return size
    }

    /// Stores a chunk on `node` (a peer verifies its SHA-256 before acknowledging). The bytes must
    /// already be verified against `id` by this process (hashed on arrival, or read and checked),
    /// so the local copy is not hashed a second time.
    public func putChunk(_ id: ChunkID, _ bytes: ByteBuffer, on node: NodeID, hintFor: NodeID?, _ snapshot: ClusterSnapshot) async throws(PeerError) {
        if node == selfID {
            try await locally(node) { try await local.putChunk(id, size: Int64(bytes.readableBytes), body: .verified(bytes), hintFor: hintFor) }
            return
        }
        let target = "/internal/v1/chunks/\(id.hex)" + (hintFor.map { "?hint_for=\($0.rawValue)" } ?? "")
        let response = try await peers.call(.PUT, node: node, address: try address(node, snapshot), target: target, body: bytes)
        try PeerClient.requireSuccess(response, node: node, target: target)
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
        let target = "/internal/v1/chunks/\(id.hex)"
        let response = try await peers.call(.GET, node: node, address: try address(node, snapshot), target: target, maxResponseBytes: Int(size) + 1)
        if response.status == 404 { return nil }
        try PeerClient.requireSuccess(response, node: node, target: target)
        do {
            try ChunkVerifier.verify(response.body, id: id, size: size)
        } catch {
            throw PeerError(code: .invalidResponse, node: node, message: "chunk \(id) failed verification: \(error)")
        }
        return response.body
    }

    /// Merges a manifest copy into `node`'s shard; returns the copy it now holds.
    @discardableResult
    public func putManifest(_ manifest: Manifest, on node: NodeID, hintFor: NodeID?, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Manifest {
        if node == selfID { return try await locally(node) { try await local.mergeManifest(manifest, hintFor: hintFor) } }
        let target = "/internal/v1/manifests" + (hintFor.map { "?hint_for=\($0.rawValue)" } ?? "")
        return try await peers.json(Manifest.self, .PUT, node: node, address: try address(node, snapshot), target: target, body: manifest)
    }

    /// `node`'s copy of a manifest (possibly a tombstone), or nil.
    public func manifest(_ key: FileKey, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Manifest? {
        if node == selfID { return try await locally(node) { try await local.metadata.manifest(key) } }
        let target = "/internal/v1/manifest?owner=\(PercentEncoding.encode(key.owner, keepSlash: false))&path=\(PercentEncoding.encode(key.path, keepSlash: false))"
        let list = try await peers.json([Manifest].self, .GET, node: node, address: try address(node, snapshot), target: target)
        return list.first
    }

    /// A page of `node`'s manifests (tombstones included) in key order.
    public func manifests(owner: String?, prefix: String, after: FileKey?, limit: Int, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [Manifest] {
        if node == selfID { return try await locally(node) { try await local.metadata.manifests(owner: owner, prefix: prefix, after: after, limit: limit) } }
        var query = ["prefix=\(PercentEncoding.encode(prefix, keepSlash: false))", "limit=\(limit)"]
        if let owner { query.append("owner=\(PercentEncoding.encode(owner, keepSlash: false))") }
        if let after {
            query.append("after_owner=\(PercentEncoding.encode(after.owner, keepSlash: false))")
            query.append("after_path=\(PercentEncoding.encode(after.path, keepSlash: false))")
        }
        return try await peers.json([Manifest].self, .GET, node: node, address: try address(node, snapshot), target: "/internal/v1/manifests?" + query.joined(separator: "&"))
    }

    /// Every user and token record `node` holds.
    public func globalRecords(on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> GlobalRecords {
        if node == selfID { return try await locally(node) { try await local.metadata.globalRecords() } }
        return try await peers.json(GlobalRecords.self, .GET, node: node, address: try address(node, snapshot), target: "/internal/v1/global")
    }

    /// Merges user and token records into `node`.
    public func pushGlobalRecords(_ records: GlobalRecords, to node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) {
        if node == selfID {
            _ = try await locally(node) { try await local.metadata.merge(records) }
            return
        }
        _ = try await peers.json(Int.self, .PUT, node: node, address: try address(node, snapshot), target: "/internal/v1/global", body: records)
    }

    // MARK: Convergence and GC

    /// `node`'s digests, per partition, of its `kind` keys that it and this node both own.
    public func digests(_ kind: SyncKind, partitions: [Int], on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> [Int: String] {
        let body = DigestRequest(kind: kind, peer: selfID.rawValue, partitions: partitions)
        let answer = try await peers.json([String: String].self, .POST, node: node, address: try address(node, snapshot), target: "/internal/v1/sync/digests", body: body)
        return Dictionary(uniqueKeysWithValues: answer.compactMap { key, value in Int(key).map { ($0, value) } })
    }

    /// Which of `keys` `node` holds, with the version of each (empty for chunks).
    /// With `all`, every key `node` holds, each with its version (manifests) or size (chunks).
    public func held(_ kind: SyncKind, keys: [String], on node: NodeID, _ snapshot: ClusterSnapshot, all: Bool = false) async throws(PeerError) -> [String: String] {
        if all {
            return try await peers.json([String: String].self, .POST, node: node, address: try address(node, snapshot), target: "/internal/v1/sync/held", body: HeldRequest(kind: kind, keys: [], all: true))
        }
        var result: [String: String] = [:]
        for batch in stride(from: 0, to: keys.count, by: 2000).map({ Array(keys[$0..<min(keys.count, $0 + 2000)]) }) {
            let answer = try await peers.json([String: String].self, .POST, node: node, address: try address(node, snapshot), target: "/internal/v1/sync/held", body: HeldRequest(kind: kind, keys: batch))
            result.merge(answer) { $1 }
        }
        return result
    }

    /// `node`'s Bloom filter of the chunks its live manifests and uploads in progress reference.
    public func references(on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> ChunkBloomFilter {
        try await peers.json(ChunkBloomFilter.self, .GET, node: node, address: try address(node, snapshot), target: "/internal/v1/gc/references")
    }

    /// Asks `node` to re-verify its copy of a chunk (deleting it when bad); true when it was good.
    public func verifyChunk(_ id: ChunkID, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> Bool {
        try await peers.json(Bool.self, .POST, node: node, address: try address(node, snapshot), target: "/internal/v1/chunks/\(id.hex)/verify")
    }
}
