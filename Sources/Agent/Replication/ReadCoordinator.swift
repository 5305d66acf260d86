import Basics
import Logging
import NIOCore
import Ring

/// Carries out the read path (DESIGN.md §7): the newest manifest from its owners (repairing stale
/// copies in the background), and chunks from the least-loaded replica, each verified whole
/// before any of its bytes are handed on, falling through to the next replica on any failure.
public struct ReadCoordinator: Sendable {
    public let calls: NodeCalls
    public let view: ClusterView
    public let logger: Logger
    /// Chunks fetched ahead of the one being sent. At 2, a hot 512 MiB download left a quarter of
    /// both cores idle (`perf record -a`), waiting on one chunk's read and hash at a time; 6 keeps
    /// the disk and the hashing busy while the socket drains (docs/benchmarks.md). Each one
    /// fetched ahead takes a slot of `budget`, so the node's total stays bounded however many
    /// downloads run.
    public var readAhead = 6
    /// The node's bound on what downloads hold in memory (`limits.max_downloads_in_flight`,
    /// `limits.read_ahead_chunks`).
    public let budget: DownloadBudget

    /// Where the repairs a read finds necessary go (run by the node's background services).
    public let repairs: RepairQueue

    public init(calls: NodeCalls, view: ClusterView, logger: Logger, budget: DownloadBudget = .unbounded) {
        self.calls = calls
        self.view = view
        self.logger = logger
        self.budget = budget
        repairs = RepairQueue(calls: calls, logger: logger)
    }

    /// The newest version of a file's manifest (a tombstone when deleted), or nil when no node has it.
    /// Asks every available primary owner, then stand-ins down the preference list until
    /// `write_quorum` nodes have answered and one has a copy (or all were asked).
    public func latestManifest(_ key: FileKey, _ snapshot: ClusterSnapshot) async throws -> Manifest? {
        let order = snapshot.readOrder(for: key.position)
        let owners = Set(snapshot.owners(of: key.position))
        let primaries = order.filter { owners.contains($0) }
        var answers: [(NodeID, Manifest?)] = []
        var errors: [PeerError] = []
        // A copy whose inline content fails its hash (a damaged disk) counts as no answer: it is
        // never served, and the good copy of the same version is written over it below.
        var damaged: [NodeID] = []
        func take(_ node: NodeID, _ manifest: Manifest?) {
            guard let manifest, !manifest.inlineIsIntact else { return answers.append((node, manifest)) }
            damaged.append(node)
            errors.append(PeerError(code: .invalidResponse, node: node, message: "its copy of \(key)'s inline content fails its SHA-256"))
            calls.local.metrics?.verificationFailures.increment()
            logger.error("inline content of a manifest copy fails its hash; reading another", metadata: ["file": "\(key)", "peer": "\(node)"])
        }
        await withTaskGroup(of: ManifestAnswer.self) { group in
            for node in primaries {
                group.addTask {
                    do {
                        return ManifestAnswer(node: node, manifest: try await calls.manifest(key, on: node, snapshot), error: nil)
                    } catch {
                        return ManifestAnswer(node: node, manifest: nil, error: PeerError.from(error, node: node))
                    }
                }
            }
            for await answer in group {
                if let error = answer.error { errors.append(error) } else { take(answer.node, answer.manifest) }
            }
        }
        // Read your writes: an acknowledged write is on `write_quorum` distinct nodes of the
        // preference list (owners, or stand-ins while an owner is away), so a read hears from as
        // many before it answers — in a cluster of fewer than twice that many nodes, every such
        // set of answers holds every acknowledged write. Past the owners, stand-ins are asked in
        // preference order, and the search goes on while no answer has a copy at all.
        let needed = min(snapshot.writeQuorum, snapshot.ring.members.count)
        for node in order where !owners.contains(node) {
            if answers.count >= needed && answers.contains(where: { $0.1 != nil }) { break }
            do {
                take(node, try await calls.manifest(key, on: node, snapshot))
            } catch {
                errors.append(PeerError.from(error, node: node))
            }
        }
        guard answers.count >= needed, !answers.isEmpty else {
            throw ReplicationError(
                .noReadableReplica,
                "\(answers.count) of the \(needed) nodes a read of \(key.path) needs answered (the rest may hold a newer version): \(errors.map(\.description).joined(separator: "; "))"
            )
        }
        guard let newest = answers.compactMap(\.1).reduce(nil, { (best: Manifest?, next) in best.map { $0.merged(with: next) } ?? next }) else { return nil }
        let stale = answers.filter { $0.1 != newest && owners.contains($0.0) }.map(\.0) + damaged.filter(owners.contains)
        if !stale.isEmpty { repairs.submit(.manifest(newest, on: stale, snapshot)) }
        return newest
    }

    /// The nodes that hold a chunk, sorted: asks every available node of its preference list, or
    /// of `among` (a node that does not answer counts as not holding it). Asking pins the chunk
    /// on each holder against the GC round under way there.
    public func holders(of id: ChunkID, among: [NodeID]? = nil, _ snapshot: ClusterSnapshot) async -> [NodeID] {
        let candidates = (among ?? snapshot.ring.preferenceList(for: id.position)).filter(snapshot.isAvailable)
        return await withTaskGroup(of: NodeID?.self) { group in
            for node in candidates {
                group.addTask { (try? await calls.chunkSize(id, on: node, snapshot)) != nil ? node : nil }
            }
            var holders: [NodeID] = []
            for await node in group { if let node { holders.append(node) } }
            return holders.sorted()
        }
    }

    /// One chunk, verified, from the best replica that has a good copy.
    public func chunk(_ reference: ChunkReference, _ snapshot: ClusterSnapshot) async throws -> ByteBuffer {
        let id = reference.id
        var problems: [String] = []
        for node in snapshot.readOrder(for: id.position) {
            // A cancelled read (its download has ended) tries no further replica.
            try Task.checkCancellation()
            do {
                if let bytes = try await calls.chunk(id, size: reference.size, on: node, snapshot) { return bytes }
                problems.append("\(node): not held")
            } catch {
                let error = PeerError.from(error, node: node)
                if error.code == .invalidResponse {
                    calls.local.metrics?.verificationFailures.increment()
                    logger.error("bad chunk copy; reading another replica and having it re-verified", metadata: ["peer": "\(node)", "chunk": "\(id)", "error": "\(error)"])
                    repairs.submit(.reverify(id, on: node, snapshot))
                }
                problems.append(error.description)
            }
        }
        throw ReplicationError(.noReadableReplica, "no replica of chunk \(id) could be read (\(problems.joined(separator: "; ")))")
    }

    /// `bytes` of a file whose content is inline in its manifest (already checked by
    /// `latestManifest`), or nil when its content is in chunks.
    public static func inlineBytes(of manifest: Manifest, _ bytes: ClosedRange<Int64>) -> ByteBuffer? {
        guard let inline = manifest.inline else { return nil }
        let lower = Int(max(0, bytes.lowerBound))
        let upper = Int(min(bytes.upperBound, Int64(inline.count) - 1))
        return ByteBuffer(bytes: inline[inline.startIndex + lower..<inline.startIndex + max(lower, upper + 1)])
    }

    /// Streams the chunks `indices` of `manifest` in order with read-ahead; `send` gets each
    /// verified chunk. The first chunk is fetched by the caller's first `next()` so failures
    /// before any byte is sent can still become a clean error response.
    public func chunks(of manifest: Manifest, indices: Range<Int>, _ snapshot: ClusterSnapshot) -> ChunkFetcher {
        ChunkFetcher(coordinator: self, manifest: manifest, indices: indices, snapshot: snapshot)
    }

    /// Fetches a run of chunks in order, keeping up to `readAhead` fetches going beyond the current
    /// one, as many as the node's read-ahead pool has slots for. The current chunk is always
    /// fetched, slot or not, so a spent pool slows a download and never stops it.
    public struct ChunkFetcher: Sendable {
        let coordinator: ReadCoordinator
        let manifest: Manifest
        let indices: Range<Int>
        let snapshot: ClusterSnapshot
        private var fetches: [Int: Fetch] = [:]
        private var nextIndex: Int

        /// A chunk being fetched (or fetched and waiting its turn), and the slot it holds if it
        /// was started ahead of its turn.
        struct Fetch: Sendable {
            var task: Task<ByteBuffer, any Error>
            var slot: DownloadBudget.Lease?
        }

        init(coordinator: ReadCoordinator, manifest: Manifest, indices: Range<Int>, snapshot: ClusterSnapshot) {
            self.coordinator = coordinator
            self.manifest = manifest
            self.indices = indices
            self.snapshot = snapshot
            self.nextIndex = indices.lowerBound
        }

        /// The next chunk (index and bytes), or nil after the last.
        public mutating func next() async throws -> (index: Int, bytes: ByteBuffer)? {
            guard nextIndex < indices.upperBound else { return nil }
            let index = nextIndex
            nextIndex += 1
            let fetch = fetches.removeValue(forKey: index) ?? Fetch(task: start(index), slot: nil)
            // Its turn has come: the slot goes back to the pool for another download's read-ahead.
            fetch.slot?.release()
            for ahead in nextIndex..<min(indices.upperBound, nextIndex + coordinator.readAhead) where fetches[ahead] == nil {
                guard let slot = coordinator.budget.takeReadAhead() else { break }
                fetches[ahead] = Fetch(task: start(ahead), slot: slot)
            }
            let task = fetch.task
            return (index, try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() })
        }

        private func start(_ index: Int) -> Task<ByteBuffer, any Error> {
            let reference = manifest.chunks[index]
            let coordinator = self.coordinator
            let snapshot = self.snapshot
            return Task { try await coordinator.chunk(reference, snapshot) }
        }

        /// Cancels fetches still running (the client went away, or the download ended). Each
        /// gives its slot back once it has stopped: a fetch does not stop mid-read, and its
        /// buffer is held until it does.
        public func cancel() {
            for fetch in fetches.values {
                fetch.task.cancel()
                guard let slot = fetch.slot else { continue }
                let task = fetch.task
                Task {
                    _ = await task.result
                    slot.release()
                }
            }
        }
    }
}

/// One owner's answer about a manifest (a plain struct: what a task group carries).
struct ManifestAnswer: Sendable {
    var node: NodeID
    var manifest: Manifest?
    var error: PeerError?
}
