/// `GET /api/v1/cluster`: the cluster as the answering node sees it.
public struct ClusterStatus: Codable, Equatable, Sendable {
    public var name: String
    /// The node that answered (`self` in JSON).
    public var answeredBy: String
    public var replication: Int
    public var chunkSize: Int
    public var nodes: [Node]
    public var health: Health

    public init(name: String, answeredBy: String, replication: Int, chunkSize: Int, nodes: [Node], health: Health) {
        self.name = name
        self.answeredBy = answeredBy
        self.replication = replication
        self.chunkSize = chunkSize
        self.nodes = nodes
        self.health = health
    }

    enum CodingKeys: String, CodingKey {
        case name, replication, nodes, health
        case answeredBy = "self"
        case chunkSize = "chunk_size"
    }

    /// Degraded: a ring member not alive, or data not yet on all its owners (`filestore status` exits 2).
    public var isDegraded: Bool {
        nodes.contains { $0.ringState != "left" && $0.status != "alive" } || (health.underReplicatedChunks ?? 0) > 0 || (health.atRisk ?? 0) > 0 || health.hintsPending > 0
    }

    public struct Node: Codable, Equatable, Sendable {
        public var id: String
        /// `alive | suspect | dead | left | unknown`.
        public var status: String
        public var zone: String
        public var http: String
        /// The node's S3 endpoint (`http://host:3900`); nil when it has no S3 listener.
        public var s3: String?
        public var gossip: String
        public var incarnation: UInt64
        /// `active | draining | removed | left`.
        public var ringState: String
        /// The fraction of the key space whose copies this node stores.
        public var ringShare: Double
        public var load: Load
        public var storage: Storage

        public init(
            id: String, status: String, zone: String, http: String, s3: String? = nil, gossip: String, incarnation: UInt64, ringState: String, ringShare: Double, load: Load,
            storage: Storage
        ) {
            self.id = id
            self.status = status
            self.zone = zone
            self.http = http
            self.s3 = s3
            self.gossip = gossip
            self.incarnation = incarnation
            self.ringState = ringState
            self.ringShare = ringShare
            self.load = load
            self.storage = storage
        }

        enum CodingKeys: String, CodingKey {
            case id, status, zone, http, s3, gossip, incarnation, load, storage
            case ringState = "ring_state"
            case ringShare = "ring_share"
        }
    }

    public struct Load: Codable, Equatable, Sendable {
        public var inFlightRequests: UInt32
        public var bytesInPerSecond: UInt64
        public var bytesOutPerSecond: UInt64
        public var repairBacklogBytes: UInt64

        public init(inFlightRequests: UInt32, bytesInPerSecond: UInt64, bytesOutPerSecond: UInt64, repairBacklogBytes: UInt64) {
            self.inFlightRequests = inFlightRequests
            self.bytesInPerSecond = bytesInPerSecond
            self.bytesOutPerSecond = bytesOutPerSecond
            self.repairBacklogBytes = repairBacklogBytes
        }

        enum CodingKeys: String, CodingKey {
            case inFlightRequests = "in_flight_requests"
            case bytesInPerSecond = "bytes_in_per_s"
            case bytesOutPerSecond = "bytes_out_per_s"
            case repairBacklogBytes = "repair_backlog_bytes"
        }
    }

    public struct Storage: Codable, Equatable, Sendable {
        public var usedBytes: UInt64
        /// 0 when the storage does not report a capacity.
        public var capacityBytes: UInt64
        public var chunks: UInt64

        public init(usedBytes: UInt64, capacityBytes: UInt64, chunks: UInt64) {
            self.usedBytes = usedBytes
            self.capacityBytes = capacityBytes
            self.chunks = chunks
        }

        enum CodingKeys: String, CodingKey {
            case chunks
            case usedBytes = "used_bytes"
            case capacityBytes = "capacity_bytes"
        }
    }

    /// Repair progress, summed over the nodes' gossiped reports (each node counts what it holds
    /// and must push, so nothing is counted twice).
    public struct Health: Codable, Equatable, Sendable {
        public var underReplicatedChunks: Int?
        /// Chunks and manifests with an owner down (fewer than `replication` copies known live)
        /// that repair has not started on: nonzero from the moment a node is seen down until it
        /// returns or `dead_grace` passes and they count as under-replicated instead.
        public var atRisk: Int?
        public var hintsPending: Int
        public var bytesToMove: Int?
        public var repairRateBytesPerSecond: Int?

        public init(underReplicatedChunks: Int?, atRisk: Int?, hintsPending: Int, bytesToMove: Int?, repairRateBytesPerSecond: Int?) {
            self.underReplicatedChunks = underReplicatedChunks
            self.atRisk = atRisk
            self.hintsPending = hintsPending
            self.bytesToMove = bytesToMove
            self.repairRateBytesPerSecond = repairRateBytesPerSecond
        }

        /// Seconds until `bytes_to_move` is moved at the current rate: 0 when nothing is left,
        /// null while work is pending but nothing is moving yet.
        public var etaSeconds: Int? {
            guard let bytes = bytesToMove, bytes > 0 else { return 0 }
            guard let rate = repairRateBytesPerSecond, rate > 0 else { return nil }
            return (bytes + rate - 1) / rate
        }

        enum CodingKeys: String, CodingKey {
            case underReplicatedChunks = "under_replicated_chunks"
            case atRisk = "at_risk"
            case hintsPending = "hints_pending"
            case bytesToMove = "bytes_to_move"
            case repairRateBytesPerSecond = "repair_rate_bytes_per_s"
            case etaSeconds = "eta_seconds"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            underReplicatedChunks = try container.decodeIfPresent(Int.self, forKey: .underReplicatedChunks)
            atRisk = try container.decodeIfPresent(Int.self, forKey: .atRisk)
            hintsPending = try container.decode(Int.self, forKey: .hintsPending)
            bytesToMove = try container.decodeIfPresent(Int.self, forKey: .bytesToMove)
            repairRateBytesPerSecond = try container.decodeIfPresent(Int.self, forKey: .repairRateBytesPerSecond)
        }

        public func encode(to encoder: any Encoder) throws {
            // Nulls are written out: a field that is unknown is not a field that is missing.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(underReplicatedChunks, forKey: .underReplicatedChunks)
            try container.encode(atRisk, forKey: .atRisk)
            try container.encode(hintsPending, forKey: .hintsPending)
            try container.encode(bytesToMove, forKey: .bytesToMove)
            try container.encode(repairRateBytesPerSecond, forKey: .repairRateBytesPerSecond)
            try container.encode(etaSeconds, forKey: .etaSeconds)
        }
    }
}

/// `GET /api/v1/ring/plan`: what a ring change would move.
public struct RingPlan: Codable, Equatable, Sendable {
    public struct Move: Codable, Equatable, Sendable {
        public var from: String
        public var to: String
        public var chunks: Int
        public var bytes: UInt64
        /// The fraction of the key space that moves along this route.
        public var keySpace: Double

        public init(from: String, to: String, chunks: Int, bytes: UInt64, keySpace: Double) {
            self.from = from
            self.to = to
            self.chunks = chunks
            self.bytes = bytes
            self.keySpace = keySpace
        }

        enum CodingKeys: String, CodingKey { case from, to, chunks, bytes; case keySpace = "key_space" }
    }

    /// The change, in words (`add node4 (weight 1)`).
    public var change: String
    public var movedFraction: Double
    public var chunks: Int
    public var bytes: UInt64
    public var moves: [Move]
    public var chunksExamined: Int

    public init(change: String, movedFraction: Double, chunks: Int, bytes: UInt64, moves: [Move], chunksExamined: Int) {
        self.change = change
        self.movedFraction = movedFraction
        self.chunks = chunks
        self.bytes = bytes
        self.moves = moves
        self.chunksExamined = chunksExamined
    }

    enum CodingKeys: String, CodingKey {
        case change, chunks, bytes, moves
        case movedFraction = "moved_fraction"
        case chunksExamined = "chunks_examined"
    }
}

/// The answer to a drain or remove decision (`202 Accepted`).
public struct RingDecision: Codable, Equatable, Sendable {
    public var node: String
    /// `draining | removed`.
    public var state: String

    public init(node: String, state: String) {
        self.node = node
        self.state = state
    }
}

/// `GET /api/v1/health`.
public struct HealthAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var node: String
    /// The agent's wall time (RFC 3339, UTC, milliseconds): lets a test see a skewed clock.
    public var time: String

    public init(status: String, node: String, time: String) {
        self.status = status
        self.node = node
        self.time = time
    }
}
