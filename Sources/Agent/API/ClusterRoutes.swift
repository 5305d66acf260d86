import Gossip
import Hummingbird
import Ring

/// `/api/v1/health` and `/api/v1/cluster`: liveness of this node and the cluster as it sees it.
struct ClusterRoutes {
    let agent: AgentContext

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/health") { _, _ in Response.json(["status": "ok", "node": agent.selfID.rawValue]) }
        router.get("/api/v1/cluster") { request, _ in
            _ = try await agent.accounts.authenticate(authorization: request.headers[.authorization])
            return Response.json(try await status())
        }
    }

    struct Status: Encodable {
        var name: String
        var `self`: String
        var replication: Int
        var chunkSize: Int
        var nodes: [Node]
        var health: Health

        enum CodingKeys: String, CodingKey {
            case name, `self`, replication, nodes, health
            case chunkSize = "chunk_size"
        }
    }

    struct Node: Encodable {
        var id, status, zone, http, gossip: String
        var incarnation: UInt64
        var ringState: String
        var ringShare: Double
        var load: Load
        var storage: Storage

        enum CodingKeys: String, CodingKey {
            case id, status, zone, http, gossip, incarnation, load, storage
            case ringState = "ring_state"
            case ringShare = "ring_share"
        }
    }

    struct Load: Encodable {
        var inFlightRequests: UInt32
        var bytesInPerSecond, bytesOutPerSecond, repairBacklogBytes: UInt64

        enum CodingKeys: String, CodingKey {
            case inFlightRequests = "in_flight_requests"
            case bytesInPerSecond = "bytes_in_per_s"
            case bytesOutPerSecond = "bytes_out_per_s"
            case repairBacklogBytes = "repair_backlog_bytes"
        }
    }

    struct Storage: Encodable {
        var usedBytes, capacityBytes, chunks: UInt64

        enum CodingKeys: String, CodingKey {
            case chunks
            case usedBytes = "used_bytes"
            case capacityBytes = "capacity_bytes"
        }
    }

    /// Repair progress. Fields this version does not measure yet are null rather than a made-up 0.
    struct Health: Encodable {
        var underReplicatedChunks: Int?
        var hintsPending: Int
        var bytesToMove: Int?
        var repairRateBytesPerSecond: Int?

        enum CodingKeys: String, CodingKey {
            case underReplicatedChunks = "under_replicated_chunks"
            case hintsPending = "hints_pending"
            case bytesToMove = "bytes_to_move"
            case repairRateBytesPerSecond = "repair_rate_bytes_per_s"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(underReplicatedChunks, forKey: .underReplicatedChunks)
            try container.encode(hintsPending, forKey: .hintsPending)
            try container.encode(bytesToMove, forKey: .bytesToMove)
            try container.encode(repairRateBytesPerSecond, forKey: .repairRateBytesPerSecond)
        }
    }

    func status() async throws -> Status {
        let snapshot = agent.view.snapshot()
        let shares = snapshot.ring.ownership(replication: snapshot.replication)
        let nodes = snapshot.nodes.values.sorted { $0.id < $1.id }.map { info in
            Node(
                id: info.id.rawValue, status: Self.statusText(info, snapshot), zone: info.zone, http: info.http, gossip: info.gossip,
                incarnation: info.incarnation, ringState: "\(info.ringState)", ringShare: shares[info.id]?.stored ?? 0,
                load: Load(
                    inFlightRequests: info.load.inFlightRequests, bytesInPerSecond: info.load.bytesInPerSecond,
                    bytesOutPerSecond: info.load.bytesOutPerSecond, repairBacklogBytes: info.load.repairBacklogBytes
                ),
                storage: Storage(usedBytes: info.load.storageUsedBytes, capacityBytes: info.load.storageCapacityBytes, chunks: info.load.chunkCount)
            )
        }
        let hints = try await agent.local.metadata.hintCount()
        return Status(
            name: agent.cluster.name, self: agent.selfID.rawValue, replication: snapshot.replication, chunkSize: agent.writer.chunkSize,
            nodes: nodes, health: Health(underReplicatedChunks: nil, hintsPending: hints, bytesToMove: nil, repairRateBytesPerSecond: nil)
        )
    }

    /// `alive | suspect | dead | left`, or `unknown` for a configured node gossip has not reached yet.
    static func statusText(_ info: NodeInfo, _ snapshot: ClusterSnapshot) -> String {
        if info.id == snapshot.selfID { return "alive" }
        guard let status = info.status else { return "unknown" }
        return "\(status)"
    }
}
