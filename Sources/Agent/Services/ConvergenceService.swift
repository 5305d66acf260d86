import Basics
import Logging
import NIOCore
import Ring
import ServiceLifecycle

/// The convergence loop (DESIGN.md §9), one round every `repair_interval` (every second while
/// work is pending): for each key this node holds, make sure every available owner has it —
/// comparing per-partition digests with each co-owner first and exchanging key lists only where
/// they differ — and drop copies this node no longer owns once every owner holds them. This one
/// rule delivers hinted handoff, re-replication after `dead_grace`, rebalancing after a join and
/// draining. Pushes are paced by `repair_bandwidth`.
struct ConvergenceService: Service {
    let agent: AgentContext
    let throttle: Throttle
    let progress: RepairProgress
    let interval: Duration
    let tombstoneTTL: Duration

    func run() async {
        // A node going down (or coming back) starts a round at once, so `at_risk` counts the keys
        // it leaves with fewer live copies from the first second, not a `repair_interval` later.
        await runPeriodically("convergence round", logger: agent.logger, retryAfter: interval, wakeEarly: { progress.downChanged(agent.view.snapshot().downMembers) }) {
            try await round() ? min(interval, .seconds(1)) : interval
        }
    }

    /// One pass over every key held here; returns whether there was work.
    @discardableResult
    func round() async throws -> Bool {
        let snapshot = agent.view.snapshot()
        var pending = 0
        var atRisk = 0
        var backlog: Int64 = 0
        progress.roundStarted(down: snapshot.downMembers)
        var worked = false
        let absence = AbsenceCheck(metadata: agent.local.metadata, tombstoneTTL: tombstoneTTL)
        let now = Int64(HybridClock.systemMilliseconds())
        let staleBefore = try await absence.staleBefore(now: now)
        // Purged first, so the round never pushes a tombstone it is about to forget.
        try await purgeTombstones()
        var unresolved = 0
        for kind in SyncKind.allCases {
            var items = try await SyncItem.load(kind, from: agent.local.metadata)
            if kind == .manifest, let staleBefore {
                let left = try await settleSuspects(items.filter { AbsenceCheck.isSuspect($0, staleBefore: staleBefore) }, snapshot)
                unresolved += left.unresolved.count
                items.removeAll { left.unresolved.contains($0.key) || left.deleted.contains($0.key) }
                worked = worked || !left.deleted.isEmpty
            }
            var coOwned: [NodeID: [SyncItem]] = [:]
            var foreign: [SyncItem] = []
            for item in items {
                let owners = snapshot.owners(of: item.position)
                if Convergence.reportsAtRisk(selfID: agent.selfID, owners: owners, isAvailable: snapshot.isAvailable) { atRisk += 1 }
                if owners.contains(agent.selfID) {
                    for peer in owners where peer != agent.selfID && snapshot.isAvailable(peer) { coOwned[peer, default: []].append(item) }
                } else {
                    foreign.append(item)
                }
            }
            // Keys this node owns: co-owners first compare digests, then key lists where they differ.
            for (peer, peerItems) in coOwned.sorted(by: { $0.key < $1.key }) {
                let partitions = Set(peerItems.map(\.position.partition.index))
                guard let theirs = try? await agent.calls.digests(kind, partitions: partitions.sorted(), on: peer, snapshot) else { continue }
                let mine = snapshot.coOwnedDigests(items, agent.selfID, peer, partitions: partitions)
                let differing = partitions.filter { mine[$0] != theirs[$0] }
                guard !differing.isEmpty else { continue }
                let candidates = peerItems.filter { differing.contains($0.position.partition.index) }
                guard let held = try? await agent.calls.held(kind, keys: candidates.map(\.key), on: peer, snapshot) else { continue }
                for item in candidates where !item.isCovered(byVersion: held[item.key]) {
                    pending += 1
                    backlog += item.size
                    let outcome = await push(kind, item, to: peer, snapshot, source: "owner")
                    if outcome != .failed {
                        pending -= 1
                        backlog -= item.size
                        worked = worked || outcome == .pushed
                    }
                }
            }
            // Keys this node does not own: push to owners that lack them, then let the copy go.
            var held: [NodeID: [String: String]] = [:]
            let owners = Dictionary(uniqueKeysWithValues: foreign.map { ($0.key, snapshot.owners(of: $0.position)) })
            for owner in Set(owners.values.joined()) where owner != agent.selfID && snapshot.isAvailable(owner) {
                let keys = foreign.filter { owners[$0.key]?.contains(owner) == true }.map(\.key)
                held[owner] = try? await agent.calls.held(kind, keys: keys, on: owner, snapshot)
            }
            for item in foreign {
                let itemOwners = owners[item.key] ?? []
                let holders = Set(itemOwners.filter { item.isCovered(byVersion: held[$0]?[item.key]) })
                switch Convergence.decide(selfID: agent.selfID, owners: itemOwners, isAvailable: snapshot.isAvailable, holders: holders) {
                case .keep:
                    if itemOwners.contains(where: { !holders.contains($0) }) { pending += 1 }
                case .push(let targets):
                    pending += 1
                    backlog += item.size
                    var outcomes: [PushOutcome] = []
                    for target in targets { outcomes.append(await push(kind, item, to: target, snapshot, source: "stand_in")) }
                    if !outcomes.contains(.failed) {
                        pending -= 1
                        backlog -= item.size
                        worked = worked || outcomes.contains(.pushed)
                    }
                case .delete:
                    try await drop(kind, item)
                    worked = true
                }
            }
        }
        try await settleHints(snapshot)
        let inTouch = snapshot.nodes.keys.allSatisfy { $0 == agent.selfID } || snapshot.nodes.keys.contains { $0 != agent.selfID && snapshot.isAvailable($0) }
        try await absence.roundFinished(now: now, inTouch: inTouch, unresolved: unresolved, wasChecking: staleBefore != nil)
        try await persistClockHighWater()
        progress.roundFinished(underReplicated: pending, atRisk: atRisk, bytesToMove: backlog)
        return worked || pending > 0
    }

    /// Persists the clock's high-water mark when it moved, so a restart resumes above every
    /// version this node issued, even for keys it does not hold (at most one commit a round).
    private func persistClockHighWater() async throws {
        let mark = agent.local.clock.highWater
        let stored = try await agent.local.metadata.nodeState(HybridClock.highWaterKey).flatMap { HybridTimestamp($0) }
        if stored.map({ mark > $0 }) ?? true { try await agent.local.metadata.setNodeState(HybridClock.highWaterKey, mark.text) }
    }

    /// Asks the other owners about manifests held from before a long absence (`AbsenceCheck`)
    /// and drops those no other owner holds; returns the verdict.
    private func settleSuspects(_ suspects: [SyncItem], _ snapshot: ClusterSnapshot) async throws -> AbsenceCheck.Verdict {
        guard !suspects.isEmpty else { return .init() }
        let verdict = await AbsenceCheck.resolve(
            suspects, selfID: agent.selfID, owners: { snapshot.owners(of: $0) }, isAvailable: snapshot.isAvailable,
            ask: { peer, keys in try? await agent.calls.held(.manifest, keys: keys, on: peer, snapshot) }
        )
        for item in suspects where verdict.deleted.contains(item.key) {
            agent.logger.notice("repair: dropped a file held from before this node's long absence that no other owner holds (deleted meanwhile)", metadata: ["key": "\(item.key)", "version": "\(item.version)"])
            try await drop(.manifest, item)
        }
        if !verdict.unresolved.isEmpty {
            agent.logger.info("repair: files held from before a long absence wait for their other owners to answer", metadata: ["count": "\(verdict.unresolved.count)"])
        }
        return verdict
    }

    /// What became of one push.
    enum PushOutcome: Equatable {
        case pushed
        /// The peer collected this chunk as garbage (`CollectedChunks`): nothing to push, and
        /// nothing pending — this node's own GC will collect its copy too.
        case declined
        /// Retried next round.
        case failed
    }

    /// Copies one key to `peer`. `source` says whether an owner pushes (re-replication,
    /// rebalance) or a non-owner does (hinted handoff, drain), for the metrics.
    private func push(_ kind: SyncKind, _ item: SyncItem, to peer: NodeID, _ snapshot: ClusterSnapshot, source: String) async -> PushOutcome {
        do {
            switch kind {
            case .chunk:
                guard let id = ChunkID(item.key) else { return .failed }
                let bytes: ByteBuffer
                do {
                    bytes = try await agent.local.readChunk(id, limit: Int(item.size))
                } catch let error as BlobStoreError where error.code == .integrity || error.code == .notFound {
                    // This copy is bad: never spread it; drop it so a good replica refills it here.
                    _ = try? await agent.local.verifyOrDrop(id, logger: agent.logger)
                    return .failed
                }
                try await throttle.take(bytes.readableBytes)
                try await agent.calls.putChunk(id, bytes, on: peer, hintFor: nil, repair: true, snapshot)
                progress.moved(bytes.readableBytes)
                (source == "owner" ? agent.metrics.repairBytesOwner : agent.metrics.repairBytesStandIn).increment(by: bytes.readableBytes)
            case .manifest:
                guard let key = FileKey(text: item.key), let manifest = try await agent.local.metadata.manifest(key) else { return .failed }
                try await agent.calls.putManifest(manifest, on: peer, hintFor: nil, snapshot)
            }
            agent.logger.debug("repair: pushed", metadata: ["peer": "\(peer)", "kind": "\(kind)", "key": "\(item.key)"])
            return .pushed
        } catch let error as PeerError where kind == .chunk && error.status == 409 {
            agent.logger.debug("repair: the peer collected this chunk as garbage", metadata: ["peer": "\(peer)", "key": "\(item.key)"])
            return .declined
        } catch {
            agent.logger.debug("repair: push failed", metadata: ["peer": "\(peer)", "key": "\(item.key)", "error": "\(error)"])
            return .failed
        }
    }

    private func drop(_ kind: SyncKind, _ item: SyncItem) async throws {
        switch kind {
        case .chunk:
            guard let id = ChunkID(item.key) else { return }
            try await agent.local.dropChunk(id)
        case .manifest:
            guard let key = FileKey(text: item.key) else { return }
            try await agent.local.metadata.deleteManifest(key)
            try await agent.local.metadata.removeHints(kind: .manifest, key: item.key)
        }
        agent.logger.debug("repair: dropped a copy every owner holds", metadata: ["kind": "\(kind)", "key": "\(item.key)"])
    }

    /// Forgets hints that no longer describe a stand-in copy: the copy is gone, or this node has
    /// become an owner of the key itself (its owner stayed dead past `dead_grace`).
    private func settleHints(_ snapshot: ClusterSnapshot) async throws {
        let chunks = Set(try await agent.local.metadata.chunkEntries().map(\.id.hex))
        let manifests = Set(try await agent.local.metadata.manifestVersions().map(\.key.text))
        for hint in try await agent.local.metadata.hints() {
            let position: RingPosition?
            let present: Bool
            switch hint.kind {
            case .chunk: (position, present) = (ChunkID(hint.key)?.position, chunks.contains(hint.key))
            case .manifest: (position, present) = (FileKey(text: hint.key)?.position, manifests.contains(hint.key))
            }
            let owners = position.map { snapshot.owners(of: $0) } ?? []
            if !present || owners.contains(agent.selfID) || !owners.contains(hint.intended) {
                try await agent.local.metadata.removeHint(intended: hint.intended, kind: hint.kind, key: hint.key)
            }
        }
    }

    /// Tombstones older than `tombstone_ttl` are forgotten, and token records a day past their
    /// expiry (every node purges its own).
    private func purgeTombstones() async throws {
        let cutoff = Int64(HybridClock.systemMilliseconds()) - tombstoneTTL.inMilliseconds
        for key in try await agent.local.metadata.tombstones(before: cutoff) { try await agent.local.metadata.deleteManifest(key) }
        // Tokens a day past their expiry (a day of slack for clocks that differ).
        try await agent.local.metadata.purgeTokens(expiredBefore: Int64(HybridClock.systemMilliseconds()) - 24 * 3600 * 1000)
    }
}
