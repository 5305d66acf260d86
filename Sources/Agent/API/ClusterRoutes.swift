import Basics
import Gossip
import Hummingbird
import Ring

/// `/api/v1/cluster` and `/api/v1/ring/plan`: the cluster as this node sees it, ring decisions and previews.
struct ClusterRoutes {
    let agent: AgentContext

    func register(on router: RouterGroup<AgentRequestContext>) {
        router.get("/api/v1/cluster") { _, _ in Response.json(try await status()) }
        router.post("/api/v1/cluster/nodes/:id/drain") { request, context in
            try await decide(request, context, .draining)
        }
        router.delete("/api/v1/cluster/nodes/:id") { request, context in
            try await decide(request, context, .removed)
        }
        router.get("/api/v1/ring/plan") { request, _ in Response.json(try await plan(QueryItems(request.uri.query))) }
    }

    /// Records an admin's drain or remove decision; every node applies it (DESIGN.md §9).
    private func decide(_ request: Request, _ context: AgentRequestContext, _ state: RingStateRecord.State) async throws -> Response {
        let principal = try context.requireAdmin("drain or remove nodes")
        let text = try context.parameters.require("id")
        let snapshot = agent.view.snapshot()
        guard let id = NodeID(text), let info = snapshot.nodes[id], snapshot.ring.contains(id) else { throw APIError.notFound("no ring member \(text)") }
        if state == .removed, info.status == .alive || info.status == .suspect || id == agent.selfID, try QueryItems(request.uri.query)["force"] != "true" {
            throw APIError.conflict("\(id) is \(info.status.map { "\($0)" } ?? "up"): drain it (POST …/drain), or add ?force=true to drop its copies at once")
        }
        let record = RingStateRecord(node: id.rawValue, state: state, version: agent.local.clock.now())
        try await agent.publish(GlobalRecords(ringStates: [record]))
        context.logger.notice("ring decision", metadata: ["peer": "\(id)", "state": "\(state)", "by": "\(principal.name)"])
        return Response.json(status: .accepted, ["node": id.rawValue, "state": state.rawValue])
    }

    struct Plan: Encodable {
        struct Move: Encodable {
            var from, to: String
            var chunks: Int
            var bytes: UInt64
            var keySpace: Double
            enum CodingKeys: String, CodingKey { case from, to, chunks, bytes; case keySpace = "key_space" }
        }
        var change: String
        var movedFraction: Double
        var chunks: Int
        var bytes: UInt64
        var moves: [Move]
        var chunksExamined: Int
        enum CodingKeys: String, CodingKey {
            case change, chunks, bytes, moves
            case movedFraction = "moved_fraction"
            case chunksExamined = "chunks_examined"
        }
    }

    /// What a ring change would move: exact key-space shares, and the chunks and bytes of every
    /// chunk stored in the cluster now (each node's index, deduplicated).
    func plan(_ query: QueryItems) async throws -> Plan {
        let snapshot = agent.view.snapshot()
        let members = snapshot.ring.members.filter { !snapshot.isExcludedFromPlacement($0.id) }
        let current = try Ring(members: members, vnodesPerWeight: snapshot.ring.vnodesPerWeight)
        let target: Ring
        let change: String
        if let add = query["add"] {
            guard let id = NodeID(add), !current.contains(id) else { throw APIError.badRequest("invalid_parameter", "add must be a new node id") }
            let weightText = query["weight"] ?? "1"
            // A plan builds weight × vnodes tokens on the request path: weights past 100 would let one
            // request hold a core for minutes.
            guard let weight = Double(weightText), weight > 0, weight <= 100 else { throw APIError.badRequest("invalid_parameter", "weight must be a number above 0 and at most 100") }
            target = try current.adding(Ring.Member(id: id, weight: weight, zone: query["zone"] ?? ""))
            change = "add \(id) (weight \(weightText))"
        } else if let remove = query["remove"] {
            guard let id = NodeID(remove), current.contains(id) else { throw APIError.badRequest("invalid_parameter", "remove must name a ring member") }
            target = current.removing(id)
            change = "remove \(id)"
        } else {
            throw APIError.badRequest("invalid_parameter", "give add=ID[&weight=W] or remove=ID")
        }
        var chunks: [String: Int64] = [:]
        for node in snapshot.availableMembers {
            if let keys = try? await agent.calls.allHeld(.chunk, on: node, snapshot) {
                for (key, size) in keys { chunks[key] = Int64(size) ?? 0 }
            }
        }
        let keys = chunks.compactMap { key, size in ChunkID(key).map { ($0.position, UInt64(max(0, size))) } }
        let plan = current.plan(to: target, replication: snapshot.replication, keys: keys)
        let moves = plan.routes.sorted { $0.key < $1.key }.map { route, amount in
            Plan.Move(from: route.from.rawValue, to: route.to.rawValue, chunks: amount.keys, bytes: amount.bytes, keySpace: amount.keySpace)
        }
        return Plan(change: change, movedFraction: plan.movedFraction, chunks: plan.total.keys, bytes: plan.total.bytes, moves: moves, chunksExamined: plan.keysExamined)
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

    /// Repair progress, summed over the nodes' gossiped reports (each node counts what it holds
    /// and must push, so nothing is counted twice).
    struct Health: Encodable {
        var underReplicatedChunks: Int?
        var hintsPending: Int
        var bytesToMove: Int?
        var repairRateBytesPerSecond: Int?

        /// Seconds until `bytes_to_move` is moved at the current rate: 0 when nothing is left,
        /// null while work is pending but nothing is moving yet.
        var etaSeconds: Int? {
            guard let bytes = bytesToMove, bytes > 0 else { return 0 }
            guard let rate = repairRateBytesPerSecond, rate > 0 else { return nil }
            return (bytes + rate - 1) / rate
        }

        enum CodingKeys: String, CodingKey {
            case underReplicatedChunks = "under_replicated_chunks"
            case hintsPending = "hints_pending"
            case bytesToMove = "bytes_to_move"
            case repairRateBytesPerSecond = "repair_rate_bytes_per_s"
            case etaSeconds = "eta_seconds"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(underReplicatedChunks, forKey: .underReplicatedChunks)
            try container.encode(hintsPending, forKey: .hintsPending)
            try container.encode(bytesToMove, forKey: .bytesToMove)
            try container.encode(repairRateBytesPerSecond, forKey: .repairRateBytesPerSecond)
            try container.encode(etaSeconds, forKey: .etaSeconds)
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
        // Each node reports what it holds and must push; summed, that is the cluster's backlog.
        let loads = snapshot.nodes.values.filter { snapshot.ring.contains($0.id) }.map(\.load)
        return Status(
            name: agent.cluster.name, self: agent.selfID.rawValue, replication: snapshot.replication, chunkSize: agent.writer.chunkSize,
            nodes: nodes,
            health: Health(
                underReplicatedChunks: Int(loads.reduce(0) { $0 + $1.underReplicated }), hintsPending: Int(loads.reduce(0) { $0 + $1.hintsPending }),
                bytesToMove: Int(loads.reduce(0) { $0 + $1.repairBacklogBytes }), repairRateBytesPerSecond: Int(loads.reduce(0) { $0 + $1.repairBytesPerSecond })
            )
        )
    }

    /// `alive | suspect | dead | left`, or `unknown` for a configured node gossip has not reached yet.
    static func statusText(_ info: NodeInfo, _ snapshot: ClusterSnapshot) -> String {
        if info.id == snapshot.selfID { return "alive" }
        guard let status = info.status else { return "unknown" }
        return "\(status)"
    }
}
