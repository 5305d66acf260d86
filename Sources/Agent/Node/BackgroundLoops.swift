import PublicAPI
import Foundation
import Gossip
import GossipNIO
import Logging
import Ring
import ServiceLifecycle
import Synchronization

/// The agent's small periodic jobs: feed gossip's member changes into the cluster view, report
/// this node's load, persist its incarnation, keep users and tokens in step with peers, and
/// create the bootstrap admin. On graceful shutdown it announces that the node is leaving.
struct BackgroundLoops: Service {
    // Each job below is one loop; a failure in one is logged and retried, never swallowed.
    let agent: AgentContext
    let gossip: GossipShell
    let traffic: TrafficCounters
    let adminPassword: String?
    let storage: ClusterConfiguration.StorageConfiguration
    let progress = RepairProgress()
    let scrubCounters = ScrubCounters()
    let globalSync = GlobalSyncState()
    static let globalSyncInterval: Duration = .seconds(5)
    /// How long no peer must have gossiped under the previous secret before keys are re-sealed.
    static let resealQuiet: Duration = .seconds(120)

    func run() async throws {
        await withGracefulShutdownHandler {
            // Every loop stops when shutdown begins, so in-flight requests are all that remain.
            try? await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await followMembership() }
                    group.addTask { await reportLoad() }
                    group.addTask { await syncGlobalRecords() }
                    group.addTask { await resealAccessKeys() }
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

    /// Convergence, scrub, GC (DESIGN.md §9) and the expiry of abandoned multipart uploads (§16),
    /// after the chunk index is brought in line with
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
        let uploadExpiry = S3UploadExpiry(agent: agent, expiry: cluster.s3UploadExpiry)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await convergence.run() }
            group.addTask { await scrub.run() }
            group.addTask { await gc.run() }
            group.addTask { await uploadExpiry.run() }
            await group.waitForAll()
        }
    }

    /// Applies admins' drain/remove records as they arrive, and finishes this node's own drain:
    /// once it holds nothing, it records itself as removed.
    private func followRingDecisions() async {
        await runPeriodically("ring decisions", logger: agent.logger, retryAfter: .seconds(1)) {
            let records = try await agent.local.metadata.ringStates()
            agent.view.apply(records)
            if let mine = records.first(where: { $0.node == agent.selfID.rawValue }), mine.state == .draining, !mine.deleted,
                try await agent.local.metadata.chunkTotals().count == 0, try await agent.local.metadata.manifestCount() == 0
            {
                var done = mine
                done.state = .removed
                done.version = agent.local.clock.now()
                try await agent.publish(GlobalRecords(ringStates: [done]))
                agent.logger.notice("drain finished: this node holds nothing and has left the ring")
            }
            return .seconds(1)
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

    /// Every second: measure this node's load and hand it to gossip (which carries it to the
    /// others), the cluster view and the metrics; take in peers' reports (they arrive without
    /// change events); persist a new incarnation. A step that fails is logged and retried.
    private func reportLoad() async {
        var meter = LoadMeter(traffic: traffic)
        var tick = 0
        var lastIncarnation: UInt64 = 0
        await runPeriodically("load report", logger: agent.logger, retryAfter: .seconds(1)) {
            let stored = try await agent.local.metadata.chunkTotals()
            if tick % 5 == 0 { meter.hintsPending = try await agent.local.metadata.hintCount() }
            tick += 1
            let load = meter.measure(stored: stored, capacity: capacity(), repair: progress.current)
            await gossip.updateLoad(load)
            agent.view.updateSelfLoad(load)
            let members = await gossip.members
            for member in members { agent.view.apply(member) }
            agent.metrics.record(load: load, members: members, counters: await gossip.counters, downloads: agent.reader.budget.downloadsInFlight, readAhead: agent.reader.budget.readAheadInUse)
            let incarnation = await gossip.me.incarnation
            if incarnation != lastIncarnation {
                try await agent.local.metadata.setNodeState("incarnation", String(incarnation))
                lastIncarnation = incarnation
            }
            return .seconds(1)
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

    /// Compares global records with one random live peer every few seconds and exchanges what
    /// differs (`GlobalSync`): what carries an account change to a node that missed its
    /// immediate push.
    private func syncGlobalRecords() async {
        await runPeriodically("global sync", logger: agent.logger, retryAfter: Self.globalSyncInterval) {
            let snapshot = agent.view.snapshot()
            guard let peer = snapshot.availableMembers.filter({ $0 != agent.selfID && snapshot.nodes[$0]?.status == .alive }).randomElement() else {
                return Self.globalSyncInterval
            }
            do {
                _ = try await GlobalSync(agent: agent).round(with: peer, snapshot)
            } catch let error as PeerError {
                // A peer that just went down: the next round picks another.
                agent.logger.debug("global sync: peer did not answer", metadata: ["peer": "\(peer)", "error": "\(error)"])
                return Self.globalSyncInterval
            }
            globalSync.pulledFromPeer()
            return Self.globalSyncInterval
        }
    }

    /// While a secret rotation rolls out (`previous_secret` set), seals S3 access keys made under
    /// the previous secret again under the current one, once a minute, and publishes them: keys
    /// keep working after the previous secret is removed. Only once no peer has gossiped under
    /// the previous secret for `resealQuiet`: in the middle step of a rotation, nodes not yet
    /// moved have the two secrets the other way round, and would seal the keys back. Any node
    /// may do it; copies made by two nodes at once are equally valid, the newest wins the merge,
    /// and a key's delete wins over any re-sealed copy (`AccessKeyRecord.isFinal`).
    private func resealAccessKeys() async {
        guard agent.cluster.previousSecret != nil else { return }
        await runPeriodically("access key re-sealing", logger: agent.logger, retryAfter: .seconds(60)) {
            guard await gossip.peersSignWithCurrentSecret(for: Self.resealQuiet) else { return .seconds(60) }
            let resealed = try await agent.accessKeys.resealedUnderCurrentSecret()
            if !resealed.isEmpty {
                try await agent.publish(GlobalRecords(accessKeys: resealed))
                agent.logger.notice("access keys sealed under the new cluster secret", metadata: ["keys": "\(resealed.count)"])
            }
            return .seconds(60)
        }
    }

    /// Creates the `admin` user when no node has any user. With FILESTORE_ADMIN_PASSWORD every
    /// node creates the same-password admin at a fixed oldest version (so any later change
    /// wins, and every copy is the same user). Without it, one node of the cluster generates a
    /// password and prints it once: the node whose id sorts first in cluster.yml, and only after
    /// it has pulled the global records from a peer (unless cluster.yml lists it alone). So nodes
    /// starting together, a joining node or a node with an empty disk never make a second admin.
    private func bootstrapAdmin() async {
        do {
            if let password = adminPassword {
                guard try await agent.local.metadata.user("admin") == nil else { return }
                var record = try await agent.accounts.makeUser(name: "admin", password: password, role: .admin)
                record.version = HybridTimestamp(wallMilliseconds: 1, counter: 0, node: agent.selfID)
                // Every node makes this record: the same id and credential generation on all of
                // them (only the bcrypt salt differs), so a token made through one node stays
                // valid whichever node's copy wins the merge.
                record.id = UserRecord.bootstrapAdminID
                record.credentials = "bootstrap"
                try await agent.local.metadata.merge(GlobalRecords(users: [record]))
                return
            }
            let configured = agent.cluster.nodes.map(\.id).sorted()
            guard configured.first == agent.selfID else { return }
            if configured.count > 1 {
                var waited: Duration = .zero
                while !globalSync.hasPulledFromPeer {
                    if waited == Self.globalSyncInterval * 6 {
                        agent.logger.notice("waiting for a peer's global records before creating the bootstrap admin (or set FILESTORE_ADMIN_PASSWORD)")
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    waited += .milliseconds(500)
                }
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

/// Whether global sync has pulled a peer's records at least once since the agent started.
final class GlobalSyncState: Sendable {
    private let pulled = Mutex(false)

    var hasPulledFromPeer: Bool { pulled.withLock { $0 } }

    func pulledFromPeer() { pulled.withLock { $0 = true } }
}
