import Basics
import Crypto
import Logging
import NIOCore
import Ring
import Synchronization

/// Carries out the write path (DESIGN.md §6) for one agent acting as coordinator: cuts a body
/// into chunks as it streams, hashing each chunk and the whole file on the way, sends every chunk
/// to its write targets (asking first whether they already hold it), keeps `window` chunks in
/// flight, and commits the manifest last — only once every chunk is on `write_quorum` nodes.
public struct WriteCoordinator: Sendable {
    public let calls: NodeCalls
    public let view: ClusterView
    public let chunkSize: Int
    /// Files of at most this many bytes (and smaller than a chunk) are kept inline in their
    /// manifest (`cluster.inline_max`; 0: never).
    public let inlineLimit: Int
    /// Chunks in flight per upload: what bounds an upload's memory (window + 1 chunk buffers).
    public var window = 4
    public let logger: Logger
    /// Chunks of uploads not yet committed: GC must not take them.
    public let uploads = UploadRegistry()

    public init(calls: NodeCalls, view: ClusterView, chunkSize: Int, inlineLimit: Int = 0, logger: Logger) {
        self.calls = calls
        self.view = view
        self.chunkSize = chunkSize
        self.inlineLimit = min(inlineLimit, chunkSize - 1, Manifest.maxInlineBytes)
        self.logger = logger
    }

    /// Stores one upload, the one way in for every front door. `feed` appends the body to the
    /// session as it streams (chunks leave while bytes arrive) and returns the key to store it
    /// under (a form may name its path after the file part). Whatever throws — quorum, feed, the
    /// client's length or checksum, the manifest write — the upload is aborted: nothing is
    /// committed and its chunks are left to GC. `object` gives what an S3 upload records
    /// beside the content, asked once the body has ended (it may check what the body carried,
    /// and throw to store nothing). `inline: false` always stores chunks (an S3 part, whose chunks
    /// its completed object will name).
    public func store(
        maxLength: Int64 = .max, expectedLength: Int64? = nil, expectedSHA256: String? = nil, inline: Bool = true,
        contentType: (FileKey) -> String, object: () async throws -> ObjectAttributes? = { nil }, body feed: (inout UploadSession) async throws -> FileKey
    ) async throws -> Manifest {
        var session = try begin(maxLength: maxLength, inlineLimit: inline ? inlineLimit : 0)
        do {
            let key = try await feed(&session)
            let content = try await session.finish()
            return try await commit(
                content, as: key, contentType: contentType(key), object: try await object(), expectedLength: expectedLength, expectedSHA256: expectedSHA256
            )
        } catch {
            session.abort()
            throw error
        }
    }

    /// Starts an upload (fails at once, `quorumUnavailable`, when fewer than `write_quorum` nodes are live).
    private func begin(maxLength: Int64, inlineLimit: Int) throws -> UploadSession {
        let snapshot = view.snapshot()
        try requireQuorum(snapshot)
        return UploadSession(coordinator: self, snapshot: snapshot, maxLength: maxLength, inlineLimit: inlineLimit)
    }

    /// Commits a finished upload under `key` (the manifest goes on its owners last). Checks the
    /// client's promised length and checksum first: nothing is committed when they differ.
    private func commit(
        _ content: UploadSession.Content, as key: FileKey, contentType: String, object: ObjectAttributes?, expectedLength: Int64?, expectedSHA256: String?
    ) async throws -> Manifest {
        if let expectedLength, content.size != expectedLength {
            throw ReplicationError(.truncated, "received \(content.size) of \(expectedLength) bytes; nothing was stored")
        }
        if let expectedSHA256, expectedSHA256 != content.sha256 {
            throw ReplicationError(.checksumMismatch, "the body hashes to \(content.sha256), not the \(expectedSHA256) the client sent; nothing was stored")
        }
        let createdAt = Int64(HybridClock.systemMilliseconds())
        let manifest = try await storeNewVersion(content.snapshot) { version in
            Manifest(
                owner: key.owner, path: key.path, size: content.size, sha256: content.sha256, chunkSize: Int64(chunkSize), chunks: content.chunks,
                contentType: contentType, createdAt: createdAt, version: version, object: object, inline: content.inline
            )
        }
        uploads.finish(content.upload)
        return manifest
    }

    /// Writes a tombstone for `key`.
    public func delete(_ key: FileKey) async throws -> Manifest {
        let snapshot = view.snapshot()
        try requireQuorum(snapshot)
        let deletedAt = Int64(HybridClock.systemMilliseconds())
        return try await storeNewVersion(snapshot) { version in Manifest.tombstone(for: key, version: version, at: deletedAt) }
    }

    /// How many times a new version is stamped again after an owner held a newer one.
    static let restampAttempts = 3

    /// Writes a new version of a file (an upload or a delete) to its owners, stamped by this
    /// node's clock. Every owner answers with the copy it now holds; one that already held a
    /// newer version (stamped by a node whose clock is ahead, or by one this node has not heard
    /// from since) would make this write lose although it began after that one was acknowledged.
    /// So this node takes the newer versions into its clock and writes again above them (DESIGN.md
    /// §18: real-time order). Returns the version written.
    func storeNewVersion(_ snapshot: ClusterSnapshot, _ make: (HybridTimestamp) -> Manifest) async throws -> Manifest {
        var manifest = make(calls.local.clock.now())
        for attempt in 1...Self.restampAttempts {
            let newer = try await storeManifest(manifest, snapshot).filter { $0 > manifest.version }
            guard let newest = newer.max(), attempt < Self.restampAttempts else { break }
            try calls.local.clock.observe(newest)
            logger.info("an owner held a newer version; writing again above it", metadata: ["file": "\(manifest.key)", "ours": "\(manifest.version)", "theirs": "\(newest)"])
            manifest = make(calls.local.clock.now())
        }
        return manifest
    }

    /// Puts a manifest version on its owners (stand-ins with hints), `write_quorum` at least;
    /// returns the version each target holds afterwards (ours, or a newer one it already had).
    @discardableResult
    public func storeManifest(_ manifest: Manifest, _ snapshot: ClusterSnapshot) async throws -> [HybridTimestamp] {
        let held = Mutex<[HybridTimestamp]>([])
        _ = try await replicate(manifest.key.position, snapshot, what: "manifest \(manifest.key)") { target in
            let stored = try await calls.putManifest(manifest, on: target.node, hintFor: target.hintFor, snapshot)
            held.withLock { $0.append(stored.version) }
        }
        return held.withLock { $0 }
    }

    /// Puts a chunk on its write targets, skipping the transfer where a target already holds it.
    func storeChunk(_ id: ChunkID, _ bytes: ByteBuffer, _ snapshot: ClusterSnapshot) async throws {
        let nodes = try await replicate(id.position, snapshot, what: "chunk \(id)") { target in
            // A stand-in must record its hint, so it always gets the PUT (which dedups on arrival).
            if target.hintFor == nil, try await calls.chunkSize(id, on: target.node, snapshot) == Int64(bytes.readableBytes) { return }
            try await calls.putChunk(id, bytes, on: target.node, hintFor: target.hintFor, snapshot)
        }
        logger.trace("chunk stored", metadata: ["chunk": "\(id)", "nodes": "\(nodes)"])
    }

    /// Writes to the targets of `position` in parallel; a failed target is replaced by the next
    /// available node (with a hint) until `replication` copies succeed or no candidates remain.
    /// Throws `quorumUnavailable` when fewer than `write_quorum` distinct nodes acknowledged.
    func replicate(
        _ position: RingPosition, _ snapshot: ClusterSnapshot, what: String, write: @escaping @Sendable (WritePlacement.Target) async throws -> Void
    ) async throws -> [NodeID] {
        var failed: Set<NodeID> = []
        var done: [NodeID] = []
        var lastError: PeerError?
        while done.count < snapshot.replication {
            let pending = snapshot.writePlacement(for: position, excluding: failed).targets.filter { !done.contains($0.node) }.prefix(snapshot.replication - done.count)
            if pending.isEmpty { break }
            let results = await withTaskGroup(of: WriteAnswer.self) { group in
                for target in pending {
                    group.addTask {
                        do {
                            try await write(target)
                            return WriteAnswer(node: target.node, error: nil)
                        } catch {
                            return WriteAnswer(node: target.node, error: PeerError.from(error, node: target.node))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            for answer in results {
                let (node, error) = (answer.node, answer.error)
                if let error {
                    failed.insert(node)
                    lastError = error
                    logger.warning("write to node failed; trying the next", metadata: ["peer": "\(node)", "what": "\(what)", "error": "\(error)"])
                } else {
                    done.append(node)
                }
            }
        }
        guard done.count >= snapshot.writeQuorum else {
            throw ReplicationError(.quorumUnavailable, "only \(done.count) of the \(snapshot.writeQuorum) copies of \(what) could be written" + (lastError.map { " (last error: \($0))" } ?? ""))
        }
        return done
    }

    private func requireQuorum(_ snapshot: ClusterSnapshot) throws {
        let available = snapshot.writableMembers.count
        guard available >= snapshot.writeQuorum else {
            throw ReplicationError(.quorumUnavailable, "\(available) node(s) are live; writes need \(snapshot.writeQuorum)")
        }
    }
}

/// One target's answer to a write (a plain struct: what a task group carries).
struct WriteAnswer: Sendable {
    var node: NodeID
    var error: PeerError?
}
