@testable import Agent
import Basics
import TestSupport
import Foundation
import Gossip
import Logging
import NIOCore
import Ring
import Simulation

/// A whole cluster in one process: every node a real coordinator stack (`AgentContext` with its
/// write and read coordinators, convergence and GC) over a real SQLite shard (in memory) and an
/// in-memory blob store, the nodes joined by an `InProcessTransport` whose faults a test sets.
/// Gossip is replaced by `markDead`/`markAlive`, which every node's view takes in at once.
final class InProcessCluster: Sendable {
    struct Node: Sendable {
        var id: NodeID
        var agent: AgentContext
        var blobs: MemoryBlobStore
    }

    let nodes: [Node]
    let transport = InProcessTransport()
    /// Each node's repair queue, run as its agent runs it.
    private let repairRunners: [Task<Void, Never>]
    let configuration: ClusterConfiguration

    /// `clockOffsets` shifts a node's wall clock by that many milliseconds (a skewed clock).
    /// `inlineLimit` is `cluster.inline_max`: files up to it (and smaller than a chunk) are kept in their manifests.
    init(nodes count: Int, replication: Int = 2, writeQuorum: Int = 2, chunkSize: Int = 4096, inlineLimit: Int = 0, clockOffsets: [NodeID: Int64] = [:]) throws {
        let yaml = """
            cluster: {name: inprocess, secret: \(TestEnvironment.randomClusterSecret()), replication: \(replication), write_quorum: \(writeQuorum)}
            nodes:
            \((1...count).map { "  - {id: n\($0), http: \"127.0.0.1:\(10_000 + $0)\", gossip: \"127.0.0.1:\(20_000 + $0)\", storage: {type: dir, path: /nonexistent/n\($0)}}" }.joined(separator: "\n"))
            """
        configuration = try ClusterConfiguration.parse(yaml: yaml)
        var logger = Logger(label: "inprocess")
        logger.logLevel = .critical
        let metrics = AgentMetrics.bootstrap()
        var built: [Node] = []
        for node in configuration.nodes {
            let blobs = MemoryBlobStore()
            let metadata = try MetadataStore.inMemory()
            let offset = clockOffsets[node.id] ?? 0
            let clock = HybridClock(node: node.id) { UInt64(max(0, Int64(HybridClock.systemMilliseconds()) + offset)) }
            let local = LocalStore(blobs: blobs, metadata: metadata, clock: clock, metrics: metrics)
            let view = try ClusterView(selfID: node.id, configuration: configuration, selfInfo: Self.info(node))
            let calls = NodeCalls(local: local, transport: transport, selfID: node.id)
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = "\(node.id)"
            let agent = AgentContext(
                selfID: node.id, cluster: configuration, view: view, local: local, calls: calls,
                writer: WriteCoordinator(calls: calls, view: view, chunkSize: chunkSize, inlineLimit: inlineLimit, logger: nodeLogger),
                reader: ReadCoordinator(calls: calls, view: view, logger: nodeLogger),
                accounts: Accounts(metadata: metadata, clock: clock),
                accessKeys: AccessKeys(metadata: metadata, clock: clock, sealer: AccessKeySealer(clusterName: "inprocess", secret: configuration.secret)), internalAuth: InternalAuth(clusterName: "inprocess", secret: configuration.secret),
                logger: nodeLogger, metrics: metrics
            )
            transport.register(agent.peer)
            built.append(Node(id: node.id, agent: agent, blobs: blobs))
        }
        nodes = built
        repairRunners = built.map { node in Task { await node.agent.reader.repairs.run() } }
        for node in configuration.nodes { markAlive(node.id) }
    }

    deinit {
        for node in nodes { node.agent.reader.repairs.finish() }
        for runner in repairRunners { runner.cancel() }
    }

    var ids: [NodeID] { nodes.map(\.id) }

    subscript(_ id: NodeID) -> Node { nodes.first { $0.id == id }! }

    /// Every node's view learns that `id` is alive (gossip, instantly).
    func markAlive(_ id: NodeID) { announce(id, .alive) }

    /// Every node's view learns that `id` is dead (gossip, instantly); calls to it fail too.
    func markDead(_ id: NodeID) {
        announce(id, .dead)
        transport.set(.unreachable, on: id)
    }

    private func announce(_ id: NodeID, _ status: Gossip.Status) {
        let node = configuration.nodes.first { $0.id == id }!
        let member = Gossip.Member(
            id: id, incarnation: 1, status: status,
            metadata: Gossip.Metadata(gossip: node.gossip, http: node.http, zone: node.zone, weight: node.weight)
        )
        for other in nodes where other.id != id { other.agent.view.apply(member) }
    }

    private static func info(_ node: ClusterConfiguration.NodeConfiguration) -> NodeInfo {
        NodeInfo(id: node.id, http: node.http, gossip: node.gossip.description, zone: node.zone, weight: node.weight, status: .alive, incarnation: 1, ringState: .member, load: .init())
    }

    // MARK: Client operations, as the public API carries them out

    /// Uploads `bytes` as `path` of `owner` through `node`, fed in pieces of up to `piece` bytes.
    @discardableResult
    func upload(_ bytes: [UInt8], as path: String, owner: String = "alice", via node: NodeID, piece: Int = 1500) async throws -> Manifest {
        let key = FileKey(owner: owner, path: path)
        return try await self[node].agent.writer.store(contentType: { _ in "application/octet-stream" }) { session in
            for start in stride(from: 0, to: bytes.count, by: piece) {
                try await session.append(ByteBuffer(bytes: bytes[start..<min(bytes.count, start + piece)]))
            }
            return key
        }
    }

    /// The bytes of `path` read through `node` (every chunk verified), or nil when it does not exist.
    func download(_ path: String, owner: String = "alice", via node: NodeID) async throws -> [UInt8]? {
        let reader = self[node].agent.reader
        let snapshot = self[node].agent.view.snapshot()
        guard let manifest = try await reader.latestManifest(FileKey(owner: owner, path: path), snapshot), !manifest.deleted else { return nil }
        if let inline = manifest.inline { return Array(inline) }
        var fetcher = reader.chunks(of: manifest, indices: 0..<manifest.chunks.count, snapshot)
        var bytes: [UInt8] = []
        while let (_, chunk) = try await fetcher.next() { bytes += Array(chunk.readableBytesView) }
        return bytes
    }

    /// Deletes `path` of `owner` through `node` (a tombstone).
    func delete(_ path: String, owner: String = "alice", via node: NodeID) async throws {
        _ = try await self[node].agent.writer.delete(FileKey(owner: owner, path: path))
    }

    // MARK: Background work

    /// One convergence round on every node (in order); true when any node had work.
    @discardableResult
    func converge(tombstoneTTL: Duration = .seconds(7 * 24 * 3600)) async throws -> Bool {
        var worked = false
        for node in nodes where transport.fault(of: node.id) == .healthy {
            let service = ConvergenceService(
                agent: node.agent, throttle: Throttle(bytesPerSecond: 1 << 40), progress: RepairProgress(), interval: .seconds(30), tombstoneTTL: tombstoneTTL
            )
            worked = try await service.round() || worked
        }
        return worked
    }

    /// Convergence rounds until no node has work left (at most `limit`); returns how many ran.
    @discardableResult
    func convergeFully(limit: Int = 20) async throws -> Int {
        for round in 1...limit where try await !converge() { return round }
        return limit
    }

    /// One GC round on `node` with the given grace; the number deleted, or nil when skipped.
    func collectGarbage(on node: NodeID, grace: Duration = .zero) async throws -> Int? {
        try await GCService(agent: self[node].agent, interval: .seconds(3600), grace: grace).round()
    }

    // MARK: What the nodes hold

    /// The nodes whose blob store holds `id`.
    func holders(of id: ChunkID) -> Set<NodeID> { Set(nodes.filter { $0.blobs.ids.contains(id) }.map(\.id)) }

    /// The version of `path` each node's shard holds.
    func manifestCopies(_ path: String, owner: String = "alice") async throws -> [NodeID: Manifest] {
        var copies: [NodeID: Manifest] = [:]
        for node in nodes {
            if let manifest = try await node.agent.local.metadata.manifest(FileKey(owner: owner, path: path)) { copies[node.id] = manifest }
        }
        return copies
    }

    /// Overwrites the inline content of `path` in `node`'s shard (a damaged disk), keeping its record.
    func damageInline(_ path: String, owner: String = "alice", on node: NodeID) async throws {
        try await self[node].agent.local.metadata.database.write { db in
            try db.execute(sql: "UPDATE manifest SET inline = ? WHERE owner = ? AND path = ?", arguments: [Data(repeating: 0x55, count: 3), owner, path])
        }
    }

    /// The owners of a position in the ring as every node sees it (all nodes members).
    func owners(of position: RingPosition) -> [NodeID] { nodes[0].agent.view.snapshot().ring.owners(of: position, replication: configuration.replication) }
}

/// Random bytes from a seed (test content).
func seededBytes(_ count: Int, _ random: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
}
