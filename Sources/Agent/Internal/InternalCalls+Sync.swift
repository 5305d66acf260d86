import Basics
import NIOCore
import Ring

/// The calls of convergence, GC and the global records sync.
public enum SyncCalls {
    /// The peer's digests, per partition, of its `kind` keys that it and the caller both own.
    public struct Digests: JSONCall {
        /// Partition number (as text: JSON object keys) to digest.
        public typealias Response = [String: String]
        public static let method = InternalMethod.post
        public static let route = "/internal/v1/sync/digests"
        public var request: DigestRequest

        public init(_ kind: SyncKind, asking peer: NodeID, partitions: [Int]) {
            request = DigestRequest(kind: kind, peer: peer.rawValue, partitions: partitions)
        }

        public init(wire: InternalRequest) async throws {
            request = try await wire.json(DigestRequest.self, upTo: 1 << 20)
            guard NodeID(request.peer) != nil, request.partitions.allSatisfy({ (0..<Partition.count).contains($0) }) else {
                throw InternalProtocolError("peer must be a node id and partitions 0-\(Partition.count - 1)")
            }
        }

        public var target: String { Self.route }
        public var body: ByteBuffer? { InternalJSON.body(request) }

        public func serve(by peer: some PeerHandler) async throws -> [String: String] {
            guard let asking = NodeID(request.peer) else { throw InternalProtocolError("peer must be a node id") }
            let digests = try await peer.digests(request.kind, peer: asking, partitions: Set(request.partitions))
            return Dictionary(uniqueKeysWithValues: digests.map { (String($0.key), $0.value) })
        }
    }

    /// Which of `keys` the peer holds, with the version of each (empty for chunks); with `all`,
    /// every key it holds with its version (manifests) or size (chunks).
    public struct Held: JSONCall {
        public typealias Response = [String: String]
        public static let method = InternalMethod.post
        public static let route = "/internal/v1/sync/held"
        public var request: HeldRequest

        public init(_ kind: SyncKind, keys: [String]) { request = HeldRequest(kind: kind, keys: keys) }
        public init(everything kind: SyncKind) { request = HeldRequest(kind: kind, keys: [], all: true) }
        public init(wire: InternalRequest) async throws { request = try await wire.json(HeldRequest.self) }

        public var target: String { Self.route }
        public var body: ByteBuffer? { InternalJSON.body(request) }

        public func serve(by peer: some PeerHandler) async throws -> [String: String] {
            try await peer.held(request.kind, keys: request.keys, all: request.all == true)
        }
    }

    /// The peer's Bloom filter of the chunks its live manifests and uploads in progress reference.
    public struct References: JSONCall {
        public typealias Response = ChunkBloomFilter
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/gc/references"

        public init() {}
        public init(wire: InternalRequest) async throws {}
        public var target: String { Self.route }
        public var maxResponseBytes: Int { 64 << 20 }

        public func serve(by peer: some PeerHandler) async throws -> ChunkBloomFilter { try await peer.references() }
    }

    /// The peer's digest of each nonempty bucket of global records (`MetadataStore.globalDigests`),
    /// keyed by the bucket's number as text.
    public struct GlobalDigests: JSONCall {
        public typealias Response = [String: String]
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/global/digests"

        public init() {}
        public init(wire: InternalRequest) async throws {}
        public var target: String { Self.route }

        public func serve(by peer: some PeerHandler) async throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try await peer.globalDigests().map { (String($0.key), $0.value) })
        }
    }

    /// The user, token and ring-decision records the peer holds: those in `buckets`, or all.
    public struct GetGlobal: JSONCall {
        public typealias Response = GlobalRecords
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/global"
        public var buckets: Set<Int>?

        public init(buckets: Set<Int>? = nil) { self.buckets = buckets }

        public init(wire: InternalRequest) async throws {
            guard let text = wire.query["buckets"] else { return }
            let numbers = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard numbers.count <= MetadataStore.globalBuckets, numbers.allSatisfy({ $0.map { (0..<MetadataStore.globalBuckets).contains($0) } ?? false }) else {
                throw InternalProtocolError("buckets must be up to \(MetadataStore.globalBuckets) comma-separated numbers below \(MetadataStore.globalBuckets)")
            }
            buckets = Set(numbers.compactMap { $0 })
        }

        public var target: String { InternalJSON.target(Self.route, [("buckets", buckets.map { $0.sorted().map(String.init).joined(separator: ",") })]) }
        public var maxResponseBytes: Int { 64 << 20 }

        public func serve(by peer: some PeerHandler) async throws -> GlobalRecords { try await peer.globalRecords(inBuckets: buckets) }
    }

    /// Merges global records into the peer; answers how many changed.
    public struct PutGlobal: JSONCall {
        public typealias Response = Int
        public static let method = InternalMethod.put
        public static let route = "/internal/v1/global"
        public var records: GlobalRecords

        public init(_ records: GlobalRecords) { self.records = records }
        public init(wire: InternalRequest) async throws { records = try await wire.json(GlobalRecords.self, upTo: 64 << 20) }
        public var target: String { Self.route }
        public var body: ByteBuffer? { InternalJSON.body(records) }

        public func serve(by peer: some PeerHandler) async throws -> Int { try await peer.mergeGlobal(records) }
    }
}

/// The body of `SyncCalls.Digests`.
public struct DigestRequest: Codable, Sendable {
    public var kind: SyncKind
    /// The asking node: digests cover keys both it and the answering node own.
    public var peer: String
    public var partitions: [Int]
}

/// The body of `SyncCalls.Held`.
public struct HeldRequest: Codable, Sendable {
    public var kind: SyncKind
    public var keys: [String]
    /// Every key held, with sizes for chunks (for ring plans).
    public var all: Bool? = nil
}
