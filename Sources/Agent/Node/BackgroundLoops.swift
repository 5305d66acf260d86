import Foundation
import Gossip
import GossipNIO
import Logging
import Ring
import ServiceLifecycle

/// The agent's small periodic jobs: feed gossip's member changes into the cluster view, report
/// this node's load, persist its incarnation, keep users and tokens in step with peers, and
/// create the bootstrap admin. On graceful shutdown it announces that the node is leaving.
struct BackgroundLoops: Service {
    let agent: AgentContext
    let gossip: GossipShell
    let traffic: TrafficCounters
    let adminPassword: String?
    let storage: ClusterConfiguration.StorageConfiguration
    let progress = RepairProgress()
    let scrubCounters = ScrubCounters()
    static let globalSyncInterval: Duration = .seconds(5)

    func run() async throws {
        await withGracefulShutdownHandler {
            // Every loop stops when shutdown begins, so in-flight requests are all that remain.
            try? await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await followMembership() }
                    group.addTask { await reportLoad() }
                    group.addTask { await syncGlobalRecords() }
                    group.addTask { await bootstrapAdmin() }
                    group.addTask { await followRingDecisions() }
                    group.addTask { await selfHealing() }
                    group.addTask { await agent.reader.repairs.run() }
                    await group.waitForAll()
                }
            }
        } onGracefulShutdown: {
            Task { await gossip.leave() }
        }
    }

    /// Convergence, scrub and GC (DESIGN.md §9), after the chunk index is brought in line with
    /// the blob store (a lost disk, or a crash between a blob write and its index row).
    private func selfHealing() async {
        do {
            let (added, forgotten) = try await agent.local.reconcileIndex()
            if added + forgotten > 0 {
                agent.logger.notice("chunk index reconciled with the blob store", metadata: ["added": "\(added)", "forgotten": "\(forgotten)"])
            }
        } catch {
            agent.logger.error("could not reconcile the chunk index", metadata: ["error": "\(error)"])
        }
        let cluster = agent.cluster
        let convergence = ConvergenceService(
            agent: agent, throttle: Throttle(bytesPerSecond: cluster.repairBandwidth.bytes), progress: progress,
            interval: cluster.repairInterval, tombstoneTTL: cluster.tombstoneTTL
        )
        let scrub = ScrubService(agent: agent, throttle: Throttle(bytesPerSecond: cluster.scrubRate.bytes), period: cluster.scrubPeriod, counters: scrubCounters)
        let gc = GCService(agent: agent, interval: max(cluster.repairInterval, min(cluster.gcGrace / 4, .seconds(900))), grace: cluster.gcGrace)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await convergence.run() }
            group.addTask { await scrub.run() }
            group.addTask { await gc.run() }
            await group.waitForAll()
        }
    }

    /// Applies admins' drain/remove records as they arrive, and finishes this node's own drain:
    /// once it holds nothing, it records itself as removed.
    private func followRingDecisions() async {
        while !Task.isCancelled && !isShuttingDown {
            if let records = try? await agent.local.metadata.ringStates() {
                agent.view.apply(records)
                if let mine = records.first(where: { $0.node == agent.selfID.rawValue }), mine.state == .draining, !mine.deleted,
                    let chunks = try? await agent.local.metadata.chunkTotals(), chunks.count == 0,
                    let manifests = try? await agent.local.metadata.manifestCount(), manifests == 0
                {
                    var done = mine
                    done.state = .removed
                    done.version = agent.local.clock.now()
                    do {
                        try await agent.publish(GlobalRecords(ringStates: [done]))
                        agent.logger.notice("drain finished: this node holds nothing and has left the ring")
                    } catch {
                        agent.logger.warning("could not record the end of the drain", metadata: ["error": "\(error)"])
                    }
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func followMembership() async {
        // Subscribe before reading the current members, so no change falls between the two.
        let changes = await gossip.changes()
        for member in await gossip.members { agent.view.apply(member) }
        for await member in changes {
            agent.view.apply(member)
            if Task.isCancelled || isShuttingDown { return }
        }
    }

    private var isShuttingDown: Bool { Task.isShuttingDownGracefully }

    private func reportLoad() async {
        var lastIncarnation: UInt64 = 0
        var last = (bytesIn: 0, bytesOut: 0, at: ContinuousClock.now)
        var totals: (count: Int, bytes: Int64) = (0, 0)
        var hints = 0
        var lastMoved = (bytes: Int64(0), at: ContinuousClock.now)
        var tick = 0
        while !Task.isCancelled && !isShuttingDown {
            if let fresh = try? await agent.local.metadata.chunkTotals() { totals = fresh }
            if tick % 5 == 0, let count = try? await agent.local.metadata.hintCount() { hints = count }
            tick += 1
            let now = ContinuousClock.now
            let seconds = max(0.001, (now - last.at).inSeconds)
            let bytesIn = traffic.bytesIn.load(ordering: .relaxed)
            let bytesOut = traffic.bytesOut.load(ordering: .relaxed)
            var load = Gossip.LoadReport()
            load.inFlightRequests = UInt32(clamping: traffic.inFlight.load(ordering: .relaxed))
            load.bytesInPerSecond = UInt64(Double(max(0, bytesIn - last.bytesIn)) / seconds)
            load.bytesOutPerSecond = UInt64(Double(max(0, bytesOut - last.bytesOut)) / seconds)
            load.chunkCount = UInt64(totals.count)
            load.storageUsedBytes = UInt64(max(0, totals.bytes))
            load.storageCapacityBytes = capacity()
            let repair = progress.current
            load.underReplicated = UInt64(max(0, repair.underReplicated))
            load.repairBacklogBytes = UInt64(max(0, repair.bytesToMove))
            load.hintsPending = UInt64(hints)
            let movedSeconds = max(0.001, (now - lastMoved.at).inSeconds)
            load.repairBytesPerSecond = UInt64(Double(max(0, repair.bytesMoved - lastMoved.bytes)) / movedSeconds)
            lastMoved = (repair.bytesMoved, now)
            last = (bytesIn, bytesOut, now)
            await gossip.updateLoad(load)
            // Peers' load reports arrive without change events: refresh the whole view each second.
            for member in await gossip.members { agent.view.apply(member) }
            let metrics = agent.metrics
            metrics.recordGossip(members: await gossip.members, counters: await gossip.counters)
            metrics.repairBacklogBytes.record(Int64(load.repairBacklogBytes))
            metrics.underReplicated.record(Int64(load.underReplicated))
            metrics.hintsPending.record(Int64(load.hintsPending))
            metrics.storedChunks.record(Int64(load.chunkCount))
            metrics.storedBytes.record(Int64(load.storageUsedBytes))
            agent.view.updateSelfLoad(load)
            let incarnation = await gossip.me.incarnation
            if incarnation != lastIncarnation, (try? await agent.local.metadata.setNodeState("incarnation", String(incarnation))) != nil {
                lastIncarnation = incarnation
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Total bytes of the file system holding a directory store (0 = unknown, as for S3).
    private func capacity() -> UInt64 {
        guard case .directory(let path, _) = storage,
            let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
            let size = attributes[.systemSize] as? NSNumber
        else { return 0 }
        return size.uint64Value
    }

    /// Pulls users and tokens from one random live peer and pushes ours back, every few seconds:
    /// what carries an account change to a node that missed its immediate push.
    private func syncGlobalRecords() async {
        while !Task.isCancelled && !isShuttingDown {
            let snapshot = agent.view.snapshot()
            if let peer = snapshot.availableMembers.filter({ $0 != agent.selfID && snapshot.nodes[$0]?.status == .alive }).randomElement() {
                do {
                    let theirs = try await agent.calls.globalRecords(on: peer, snapshot)
                    for version in theirs.versions { try? agent.local.clock.observe(version) }
                    _ = try? await agent.local.metadata.merge(theirs)
                    if let ours = try? await agent.local.metadata.globalRecords(), ours != theirs {
                        try await agent.calls.pushGlobalRecords(ours, to: peer, snapshot)
                    }
                } catch {
                    agent.logger.debug("global sync failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: Self.globalSyncInterval)
        }
    }

    /// Creates the `admin` user when no node has any user. With FILESTORE_ADMIN_PASSWORD every
    /// node creates the same-password admin at a fixed oldest version (so any later change
    /// wins); without it, the node waits for peers' records and only then generates a password
    /// and prints it once.
    private func bootstrapAdmin() async {
        do {
            if let password = adminPassword {
                guard try await agent.local.metadata.user("admin") == nil else { return }
                var record = try await agent.accounts.makeUser(name: "admin", password: password, role: .admin)
                record.version = HybridTimestamp(wallMilliseconds: 1, counter: 0, node: agent.selfID)
                try await agent.local.metadata.merge(GlobalRecords(users: [record]))
                return
            }
            // Give global sync a chance to bring existing accounts from peers first.
            let deadline = ContinuousClock.now + Self.globalSyncInterval * 2
            while ContinuousClock.now < deadline {
                if !(try await agent.local.metadata.globalRecords().users.isEmpty) { return }
                try await Task.sleep(for: .milliseconds(500))
            }
            guard try await agent.local.metadata.globalRecords().users.isEmpty else { return }
            let password = Accounts.generatePassword()
            let record = try await agent.accounts.makeUser(name: "admin", password: password, role: .admin)
            try await agent.local.metadata.merge(GlobalRecords(users: [record]))
            FileHandle.standardOutput.write(Data("filestore: created user admin with password \(password) (shown once; set FILESTORE_ADMIN_PASSWORD to choose it)\n".utf8))
        } catch {
            agent.logger.error("could not create the bootstrap admin", metadata: ["error": "\(error)"])
        }
    }

}
