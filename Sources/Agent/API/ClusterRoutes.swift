import Basics
import Gossip
import Hummingbird
import PublicAPI
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
        router.get("/api/v1/ring/plan") { request, context in
            // A plan asks every node for its whole chunk index: not something any user may start.
            _ = try context.requireAdmin("preview ring changes")
            return Response.json(try await plan(QueryItems(request.uri.query)))
        }
    }

    /// Records an admin's drain or remove decision; every node applies it (DESIGN.md §9).
    private func decide(_ request: Request, _ context: AgentRequestContext, _ state: RingStateRecord.State) async throws -> Response {
        let principal = try context.requireAdmin("drain or remove nodes")
        let text = try context.pathParameter("id")
        let snapshot = agent.view.snapshot()
        guard let id = NodeID(text), let info = snapshot.nodes[id], snapshot.ring.contains(id) else { throw APIError.notFound("no ring member \(text)") }
        if state == .removed, info.status == .alive || info.status == .suspect || id == agent.selfID, try QueryItems(request.uri.query)["force"] != "true" {
            throw APIError.conflict("\(id) is \(info.status.map { "\($0)" } ?? "up"): drain it (POST …/drain), or add ?force=true to drop its copies at once")
        }
        let record = RingStateRecord(node: id.rawValue, state: state, version: agent.local.clock.now())
        try await agent.publish(GlobalRecords(ringStates: [record]))
        context.logger.notice("ring decision", metadata: ["peer": "\(id)", "state": "\(state)", "by": "\(principal.name)"])
        return Response.json(status: .accepted, RingDecision(node: id.rawValue, state: state.rawValue))
    }

    /// What a ring change would move: exact key-space shares, and the chunks and bytes of every
    /// chunk stored in the cluster now (each node's index, deduplicated).
    func plan(_ query: QueryItems) async throws -> RingPlan {
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
        // Sizes come from peers: clamped to what a chunk can be, so no sum of them can overflow.
        let keys = chunks.compactMap { key, size in ChunkID(key).map { ($0.position, UInt64(min(max(0, size), Manifest.maxChunkBytes))) } }
        let plan = current.plan(to: target, replication: snapshot.replication, keys: keys)
        let moves = plan.routes.sorted { $0.key < $1.key }.map { route, amount in
            RingPlan.Move(from: route.from.rawValue, to: route.to.rawValue, chunks: amount.keys, bytes: amount.bytes, keySpace: amount.keySpace)
        }
        return RingPlan(change: change, movedFraction: plan.movedFraction, chunks: plan.total.keys, bytes: plan.total.bytes, moves: moves, chunksExamined: plan.keysExamined)
    }

    func status() async throws -> ClusterStatus {
        let snapshot = agent.view.snapshot()
        let shares = snapshot.ring.ownership(replication: snapshot.replication)
        let nodes = snapshot.nodes.values.sorted { $0.id < $1.id }.map { info in
            ClusterStatus.Node(
                id: info.id.rawValue, status: Self.statusText(info, snapshot), zone: info.zone, http: info.http, s3: info.s3.isEmpty ? nil : info.s3, gossip: info.gossip,
                incarnation: info.incarnation, ringState: "\(info.ringState)", ringShare: shares[info.id]?.stored ?? 0,
                load: ClusterStatus.Load(
                    inFlightRequests: info.load.inFlightRequests, bytesInPerSecond: info.load.bytesInPerSecond,
                    bytesOutPerSecond: info.load.bytesOutPerSecond, repairBacklogBytes: info.load.repairBacklogBytes
                ),
                storage: ClusterStatus.Storage(usedBytes: info.load.storageUsedBytes, capacityBytes: info.load.storageCapacityBytes, chunks: info.load.chunkCount)
            )
        }
        // Each node reports what it holds and must push; summed, that is the cluster's backlog.
        let loads = snapshot.nodes.values.filter { snapshot.ring.contains($0.id) }.map(\.load)
        return ClusterStatus(
            name: agent.cluster.name, answeredBy: agent.selfID.rawValue, replication: snapshot.replication, chunkSize: agent.writer.chunkSize,
            nodes: nodes,
            health: ClusterStatus.Health(
                underReplicatedChunks: Self.sum(loads.map(\.underReplicated)), atRisk: Self.sum(loads.map(\.atRisk)), hintsPending: Self.sum(loads.map(\.hintsPending)),
                bytesToMove: Self.sum(loads.map(\.repairBacklogBytes)), repairRateBytesPerSecond: Self.sum(loads.map(\.repairBytesPerSecond))
            )
        )
    }

    /// Gossiped figures summed without trapping: a peer's report is a number from the network.
    static func sum(_ values: [UInt64]) -> Int {
        var total = 0
        for value in values {
            let (next, overflow) = total.addingReportingOverflow(Int(clamping: value))
            guard !overflow else { return .max }
            total = next
        }
        return total
    }

    /// `alive | suspect | dead | left`, or `unknown` for a configured node gossip has not reached yet.
    static func statusText(_ info: NodeInfo, _ snapshot: ClusterSnapshot) -> String {
        if info.id == snapshot.selfID { return "alive" }
        guard let status = info.status else { return "unknown" }
        return "\(status)"
    }
}
