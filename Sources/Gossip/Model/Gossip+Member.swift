import Basics
import Ring

extension Gossip {
    /// A UDP endpoint (`host:port`), as configured; the shell resolves it.
    public struct Address: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port` (IPv6 as `[::1]:7946`); nil when malformed.
        public init?(_ text: String) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
            var host = text[..<colon]
            if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            guard !host.isEmpty, host.utf8.count <= 253, !host.contains(" ") else { return nil }
            self.host = String(host)
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// What the cluster believes about a member's liveness.
    public enum Status: UInt8, Sendable, Comparable {
        case alive = 0, suspect = 1, dead = 2, left = 3

        /// For equal incarnations, the more severe status wins (alive < suspect < dead < left).
        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// A member's place in the ring, changed only by joins, drains and removals (DESIGN.md §4).
    public enum RingState: UInt8, Sendable {
        case member = 0, leaving = 1, left = 2
    }

    /// What a member announces about itself; changing it bumps the incarnation.
    public struct Metadata: Hashable, Sendable {
        public var gossip: Address
        /// The agent's HTTP address (`host:port`).
        public var http: String
        /// Where other agents call its internal API when that has a listener of its own
        /// (`host:port`); empty when it is served on `http`.
        public var peer: String
        /// The agent's S3 listener (a URL, `http://host:3900`); empty when it has none.
        public var s3: String
        public var zone: String
        public var weight: Double
        public var ringState: RingState

        public init(gossip: Address, http: String, peer: String = "", s3: String = "", zone: String = "", weight: Double = 1, ringState: RingState = .member) {
            self.gossip = gossip
            self.http = http
            self.peer = peer
            self.s3 = s3
            self.zone = zone
            self.weight = weight
            self.ringState = ringState
        }
    }

    /// A frequently changing load report, carried on acks and gossip without bumping incarnations.
    public struct LoadReport: Hashable, Sendable {
        public var inFlightRequests: UInt32 = 0
        public var bytesInPerSecond: UInt64 = 0
        public var bytesOutPerSecond: UInt64 = 0
        public var storageUsedBytes: UInt64 = 0
        public var storageCapacityBytes: UInt64 = 0
        public var chunkCount: UInt64 = 0
        public var repairBacklogBytes: UInt64 = 0
        /// Keys this node holds that some available owner lacks (what its repair will push).
        public var underReplicated: UInt64 = 0
        /// Copies held for an owner that was down when they were written.
        public var hintsPending: UInt64 = 0
        /// Keys this node reports with an owner down (fewer than `replication` live copies
        /// known) that repair has not started on: the risk while `dead_grace` runs.
        public var atRisk: UInt64 = 0
        /// Background repair traffic over the last interval.
        public var repairBytesPerSecond: UInt64 = 0

        public init() {}
    }

    /// One member as this node sees it.
    public struct Member: Hashable, Sendable {
        public var id: NodeID
        public var incarnation: UInt64
        public var status: Status
        public var metadata: Metadata
        public var load: LoadReport
        /// Orders load reports from the same member; newer reports replace older ones.
        public var loadVersion: UInt64

        public init(id: NodeID, incarnation: UInt64, status: Status, metadata: Metadata, load: LoadReport = .init(), loadVersion: UInt64 = 0) {
            self.id = id
            self.incarnation = incarnation
            self.status = status
            self.metadata = metadata
            self.load = load
            self.loadVersion = loadVersion
        }

        /// Alive or suspect: counted in the cluster's size, probed, gossiped to.
        public var isLive: Bool { status == .alive || status == .suspect }
    }
}
