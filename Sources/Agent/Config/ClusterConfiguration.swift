import Basics
import Gossip
import Ring
import Yams

/// `cluster.yml` (DESIGN.md §12): the cluster's settings and its known nodes, validated once at
/// start. Every refusal names the offending field (`nodes[1].storage.endpoint: …`).
public struct ClusterConfiguration: Sendable, Equatable {
    public var name: String
    public var secret: String
    /// The secret being rotated out: accepted from peers (gossip and internal calls), never used
    /// to sign, so every node can move to a new secret one restart at a time (docs/security.md).
    public var previousSecret: String?
    public var replication = 2
    public var writeQuorum = 2
    public var chunkSize = ByteSize(bytes: 5 << 20)
    /// Files of at most this size (and smaller than a chunk) are kept inline in their manifest
    /// instead of in chunks (docs/architecture.md, "Small files"); 0 keeps every file in chunks.
    public var inlineMax = Self.defaultInlineMax
    public static let defaultInlineMax = ByteSize(bytes: 64 << 10)
    public var vnodes = Ring.defaultVnodesPerWeight
    public var deadGrace: Duration = .seconds(300)
    /// How often the convergence loop runs when there is nothing pending (DESIGN.md §9).
    public var repairInterval: Duration = .seconds(30)
    /// Background repair traffic cap per node, bytes per second.
    public var repairBandwidth = ByteSize(bytes: 64 << 20)
    /// Scrub read rate per node, bytes per second.
    public var scrubRate = ByteSize(bytes: 32 << 20)
    /// Scrub covers the whole store once per this period.
    public var scrubPeriod: Duration = .seconds(7 * 24 * 3600)
    /// How long an unreferenced chunk is kept before GC may delete it.
    public var gcGrace: Duration = .seconds(3600)
    /// How long a tombstone is kept before it is purged.
    public var tombstoneTTL: Duration = .seconds(7 * 24 * 3600)
    /// How far ahead of this node's clock a peer's version may be stamped before it is refused
    /// and logged (a peer with a wrong clock); writes are re-stamped above versions within it.
    public var maxClockSkew: Duration = .seconds(60)
    public var nodes: [NodeConfiguration] = []
    /// What one agent lets its clients take (the `limits:` section).
    public var limits = Limits()
    /// The domain of virtual-hosted S3 addressing (`bucket.<domain>`); path-style only when nil.
    public var s3Domain: String?
    /// How long a multipart upload may stay neither completed nor aborted before it is aborted.
    public var s3UploadExpiry: Duration = .seconds(7 * 24 * 3600)
    /// TLS on every listener and for calls between agents (the `tls:` section); nil for plain HTTP.
    public var tls: TLS?

    /// Where each agent's TLS files are. `{node}` in a path stands for the node's id, so one
    /// section serves every node of the cluster (the layout `filestore cert` writes).
    public struct TLS: Sendable, Equatable {
        public var certificate: String
        public var key: String
        /// The cluster CA: peers' certificates must chain to it (system roots when nil).
        public var authority: String?
        /// The internal listener requires a client certificate signed by `authority`.
        public var mutual = false

        public init(certificate: String, key: String, authority: String? = nil, mutual: Bool = false) {
            self.certificate = certificate
            self.key = key
            self.authority = authority
            self.mutual = mutual
        }

        public func paths(for node: String) -> (certificate: String, key: String, authority: String?) {
            func fill(_ path: String) -> String { path.replacingOccurrences(of: "{node}", with: node) }
            return (fill(certificate), fill(key), authority.map(fill))
        }
    }

    /// Caps on what clients of one agent can hold or spend (DESIGN.md §17): beyond them a
    /// connection is closed, a request answered 503 or a sign-in 429, instead of memory or CPU
    /// growing without bound.
    public struct Limits: Sendable, Equatable {
        /// A connection with no request for this long is closed (and one whose request stalls
        /// this long between reads).
        public var idleTimeout: Duration = .seconds(60)
        /// Connections open at once (per listener), and from one client address.
        public var maxConnections = 4096
        public var maxConnectionsPerClient = 512
        /// Public requests being handled at once, and of them uploads (each holds a few chunk
        /// buffers while it streams); beyond, 503 with `Retry-After`.
        public var maxRequestsInFlight = 1024
        public var maxUploadsInFlight = 64
        /// Download bodies streaming at once, and of them to one client address (each holds
        /// about two chunk buffers while its client reads it), and chunk buffers fetched ahead
        /// of them all, node-wide: together they bound the memory downloads take. Beyond the
        /// first two, 503 with `Retry-After`; beyond the last, downloads fetch only the chunk
        /// they send next.
        public var maxDownloadsInFlight = 128
        public var maxDownloadsPerClient = 32
        public var readAheadChunks = 64
        /// Failed password checks one client address may have per minute (also the burst);
        /// beyond, 429 with `Retry-After`.
        public var signInFailuresPerMinute = 10

        public init() {}
    }

    /// One node of the cluster: its id, addresses, zone, weight and storage.
    public struct NodeConfiguration: Sendable, Equatable {
        public var id: NodeID
        /// `host:port` of the agent's HTTP server.
        public var http: String
        /// `host:port` of a listener of its own for the internal API (agent-to-agent calls);
        /// nil to serve it on `http`. Bind it to a private network.
        public var peer: String?
        public var gossip: Gossip.Address
        /// `host:port` of the node's S3 listener (cluster.yml default: the `http` host, port
        /// 3900); nil for none.
        public var s3: String?
        public var zone = ""
        public var weight = 1.0
        public var storage: StorageConfiguration

        public init(
            id: NodeID, http: String, peer: String? = nil, gossip: Gossip.Address, s3: String? = nil, zone: String = "", weight: Double = 1, storage: StorageConfiguration
        ) {
            self.id = id
            self.http = http
            self.peer = peer
            self.s3 = s3
            self.gossip = gossip
            self.zone = zone
            self.weight = weight
            self.storage = storage
        }
    }

    /// Where a node keeps chunk bytes.
    public enum StorageConfiguration: Sendable, Equatable {
        /// A local directory (the embedded default). `directIO`: chunk files are written and read
        /// past the page cache (docs/storage.md); off, they go through it.
        case directory(path: String, directIO: Bool = true)
        /// An S3-compatible server (MinIO).
        case s3(endpoint: String, bucket: String, accessKey: String, secretKey: String, region: String)
    }

    /// A refused configuration: the field and what is wrong with it.
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var field: String
        public var problem: String
        public var description: String { "\(field): \(problem)" }

        public init(field: String, problem: String) {
            self.field = field
            self.problem = problem
        }
    }

    /// Parses and validates YAML text; `environment` may override the secret (`FILESTORE_CLUSTER_SECRET`).
    /// A missing, short or published secret is refused (`SecretPolicy`) unless `insecureSecret`
    /// is allowed (`filestore agent --insecure-dev`); an empty one is refused always.
    public static func parse(yaml: String, environment: [String: String] = [:], allowInsecureSecret: Bool = false) throws(Error) -> ClusterConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw Error(field: "cluster.yml", problem: "the file is empty") }
            root = node
        } catch let error as Error {
            throw error
        } catch {
            throw Error(field: "cluster.yml", problem: "not valid YAML: \(error)")
        }
        let top = try Fields(root, at: "cluster.yml", allowed: ["cluster", "nodes", "limits", "tls"])
        let cluster = try Fields(try top.required("cluster"), at: "cluster", allowed: ["name", "secret", "previous_secret", "replication", "write_quorum", "chunk_size", "inline_max", "vnodes", "dead_grace", "repair_interval", "repair_bandwidth", "scrub_rate", "scrub_period", "gc_grace", "tombstone_ttl", "max_clock_skew", "s3_domain", "s3_upload_expiry"])

        var configuration = ClusterConfiguration(name: try cluster.string("name"), secret: "")
        guard !configuration.name.isEmpty, configuration.name.utf8.count <= 64 else { throw Error(field: "cluster.name", problem: "must be 1-64 characters") }
        let secret = environment["FILESTORE_CLUSTER_SECRET"] ?? cluster.optionalString("secret")
        if let problem = SecretPolicy.problem(with: secret), !allowInsecureSecret || (secret ?? "").isEmpty {
            throw Error(field: "cluster.secret", problem: problem + " (or run with --insecure-dev on a machine nobody else can reach)")
        }
        configuration.secret = secret ?? ""
        if let previous = environment["FILESTORE_PREVIOUS_CLUSTER_SECRET"] ?? cluster.optionalString("previous_secret"), !previous.isEmpty {
            // Whoever holds an accepted secret can act as a node, so the old one is held to the same rules.
            if let problem = SecretPolicy.problem(with: previous), !allowInsecureSecret {
                throw Error(field: "cluster.previous_secret", problem: problem)
            }
            guard previous != configuration.secret else { throw Error(field: "cluster.previous_secret", problem: "is the same as cluster.secret") }
            configuration.previousSecret = previous
        }
        configuration.replication = try cluster.int("replication", default: 2, in: 1...16)
        configuration.writeQuorum = try cluster.int("write_quorum", default: configuration.replication, in: 1...configuration.replication)
        configuration.vnodes = try cluster.int("vnodes", default: Ring.defaultVnodesPerWeight, in: 1...65_536)
        if let text = cluster.optionalString("chunk_size") {
            guard let size = ByteSize(text), size.bytes >= 64 << 10, size.bytes <= 64 << 20 else {
                throw Error(field: "cluster.chunk_size", problem: "\"\(text)\" is not a size between 64KiB and 64MiB")
            }
            configuration.chunkSize = size
        }
        if let text = cluster.optionalString("inline_max") {
            guard let size = ByteSize(text), size.bytes >= 0, size.bytes <= Int64(Manifest.maxInlineBytes) else {
                throw Error(field: "cluster.inline_max", problem: "\"\(text)\" is not a size between 0 and 1MiB")
            }
            configuration.inlineMax = size
        }
        configuration.deadGrace = try cluster.duration("dead_grace", default: configuration.deadGrace, minimum: .seconds(1))
        configuration.repairInterval = try cluster.duration("repair_interval", default: configuration.repairInterval, minimum: .milliseconds(100))
        configuration.scrubPeriod = try cluster.duration("scrub_period", default: configuration.scrubPeriod, minimum: .seconds(1))
        configuration.gcGrace = try cluster.duration("gc_grace", default: configuration.gcGrace, minimum: .seconds(1))
        configuration.tombstoneTTL = try cluster.duration("tombstone_ttl", default: configuration.tombstoneTTL, minimum: .seconds(1))
        configuration.s3UploadExpiry = try cluster.duration("s3_upload_expiry", default: configuration.s3UploadExpiry, minimum: .seconds(1))
        configuration.maxClockSkew = try cluster.duration("max_clock_skew", default: configuration.maxClockSkew, minimum: .seconds(1))
        guard configuration.maxClockSkew <= .seconds(3600) else { throw Error(field: "cluster.max_clock_skew", problem: "must be at most 1h (clocks further apart need fixing, not tolerating)") }
        configuration.repairBandwidth = try cluster.size("repair_bandwidth", default: configuration.repairBandwidth, minimum: 64 << 10)
        configuration.scrubRate = try cluster.size("scrub_rate", default: configuration.scrubRate, minimum: 64 << 10)

        if let domain = cluster.optionalString("s3_domain"), !domain.isEmpty {
            guard domain.utf8.count <= 253, domain.utf8.allSatisfy({ $0 == 0x2E || $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw Error(field: "cluster.s3_domain", problem: "\"\(domain.prefix(80))\" is not a lowercase DNS name")
            }
            configuration.s3Domain = domain
        }
        if let limits = top.node("limits") { configuration.limits = try parseLimits(limits) }
        if let tls = top.node("tls") {
            let fields = try Fields(tls, at: "tls", allowed: ["certificate", "key", "ca", "mutual"])
            configuration.tls = TLS(
                certificate: try fields.string("certificate"), key: try fields.string("key"), authority: fields.optionalString("ca"),
                mutual: try fields.bool("mutual", default: false)
            )
            if configuration.tls?.mutual == true, configuration.tls?.authority == nil {
                throw Error(field: "tls.mutual", problem: "needs tls.ca, the CA agents' certificates are checked against")
            }
        }

        guard let nodes = top.node("nodes") else { return configuration }
        guard case .sequence(let list) = nodes else { throw Error(field: "nodes", problem: "must be a list") }
        var seen = Set<NodeID>()
        for (index, item) in list.enumerated() {
            let node = try parseNode(item, at: "nodes[\(index)]")
            guard seen.insert(node.id).inserted else { throw Error(field: "nodes[\(index)].id", problem: "\(node.id) is listed twice") }
            configuration.nodes.append(node)
        }
        return configuration
    }

    /// The S3 listener's port when a node does not name one.
    public static let defaultS3Port = 3900

    private static func parseNode(_ item: Node, at path: String) throws(Error) -> NodeConfiguration {
        let fields = try Fields(item, at: path, allowed: ["id", "http", "internal", "gossip", "s3", "zone", "weight", "storage"])
        let idText = try fields.string("id")
        guard let id = NodeID(idText) else { throw Error(field: "\(path).id", problem: "\"\(idText)\" must be 1-64 characters of a-z, 0-9 and -") }
        let http = try fields.string("http")
        guard Gossip.Address(http) != nil else { throw Error(field: "\(path).http", problem: "\"\(http)\" is not host:port") }
        let peer = fields.optionalString("internal")
        if let peer {
            guard Gossip.Address(peer) != nil else { throw Error(field: "\(path).internal", problem: "\"\(peer)\" is not host:port") }
            guard peer != http else { throw Error(field: "\(path).internal", problem: "must differ from http (leave it out to serve the internal API there)") }
        }
        let gossipText = try fields.string("gossip")
        guard let gossip = Gossip.Address(gossipText) else { throw Error(field: "\(path).gossip", problem: "\"\(gossipText)\" is not host:port") }
        let s3 = fields.optionalString("s3") ?? Gossip.Address(host: Gossip.Address(http)!.host, port: defaultS3Port).description
        guard Gossip.Address(s3) != nil, s3 != http, s3 != peer else { throw Error(field: "\(path).s3", problem: "\"\(s3)\" is not a host:port other than http and internal") }
        var weight = 1.0
        if let text = fields.optionalString("weight") {
            guard let value = Double(text), value.isFinite, value > 0, value <= Ring.maxWeight else {
                throw Error(field: "\(path).weight", problem: "\"\(text)\" is not a number above 0 and at most \(Int(Ring.maxWeight))")
            }
            weight = value
        }
        let storage = try parseStorage(try fields.required("storage"), at: "\(path).storage")
        return NodeConfiguration(id: id, http: http, peer: peer, gossip: gossip, s3: s3, zone: fields.optionalString("zone") ?? "", weight: weight, storage: storage)
    }

    private static func parseStorage(_ item: Node, at path: String) throws(Error) -> StorageConfiguration {
        let fields = try Fields(item, at: path, allowed: ["type", "path", "direct_io", "endpoint", "bucket", "access_key", "secret_key", "region"])
        switch try fields.string("type") {
        case "dir", "directory":
            return .directory(path: try fields.string("path"), directIO: try fields.bool("direct_io", default: true))
        case "s3":
            let endpoint = try fields.string("endpoint")
            guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
                throw Error(field: "\(path).endpoint", problem: "\"\(endpoint)\" must start with http:// or https://")
            }
            return .s3(
                endpoint: endpoint, bucket: fields.optionalString("bucket") ?? "filestore",
                accessKey: try fields.string("access_key"), secretKey: try fields.string("secret_key"), region: fields.optionalString("region") ?? "us-east-1"
            )
        case let other:
            throw Error(field: "\(path).type", problem: "\"\(other)\" is not a storage type (use dir or s3)")
        }
    }

    private static func parseLimits(_ node: Node) throws(Error) -> Limits {
        let fields = try Fields(node, at: "limits", allowed: [
            "idle_timeout", "max_connections", "max_connections_per_client", "max_requests_in_flight", "max_uploads_in_flight",
            "max_downloads_in_flight", "max_downloads_per_client", "read_ahead_chunks", "sign_in_failures_per_minute",
        ])
        var limits = Limits()
        limits.idleTimeout = try fields.duration("idle_timeout", default: limits.idleTimeout, minimum: .milliseconds(100))
        limits.maxConnections = try fields.int("max_connections", default: limits.maxConnections, in: 1...1_000_000)
        limits.maxConnectionsPerClient = try fields.int("max_connections_per_client", default: limits.maxConnectionsPerClient, in: 1...1_000_000)
        limits.maxRequestsInFlight = try fields.int("max_requests_in_flight", default: limits.maxRequestsInFlight, in: 1...1_000_000)
        limits.maxUploadsInFlight = try fields.int("max_uploads_in_flight", default: limits.maxUploadsInFlight, in: 1...100_000)
        limits.maxDownloadsInFlight = try fields.int("max_downloads_in_flight", default: limits.maxDownloadsInFlight, in: 1...100_000)
        limits.maxDownloadsPerClient = try fields.int("max_downloads_per_client", default: limits.maxDownloadsPerClient, in: 1...100_000)
        limits.readAheadChunks = try fields.int("read_ahead_chunks", default: limits.readAheadChunks, in: 0...100_000)
        limits.signInFailuresPerMinute = try fields.int("sign_in_failures_per_minute", default: limits.signInFailuresPerMinute, in: 1...100_000)
        return limits
    }

    /// A YAML mapping whose keys are checked against the allowed ones (typos are refused, not ignored).
    private struct Fields {
        let values: [String: Node]
        let path: String

        init(_ node: Node, at path: String, allowed: Set<String>) throws(Error) {
            guard case .mapping(let mapping) = node else { throw Error(field: path, problem: "must be a mapping of keys to values") }
            var values: [String: Node] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw Error(field: path, problem: "keys must be text") }
                guard allowed.contains(name) else { throw Error(field: "\(path).\(name)", problem: "unknown key (known: \(allowed.sorted().joined(separator: ", ")))") }
                values[name] = value
            }
            self.values = values
            self.path = path
        }

        func node(_ name: String) -> Node? { values[name] }

        func required(_ name: String) throws(Error) -> Node {
            guard let node = values[name] else { throw Error(field: "\(path).\(name)", problem: "is required") }
            return node
        }

        func optionalString(_ name: String) -> String? { values[name]?.string }

        func string(_ name: String) throws(Error) -> String {
            guard let text = try required(name).string, !text.isEmpty else { throw Error(field: "\(path).\(name)", problem: "must be non-empty text") }
            return text
        }

        func duration(_ name: String, default fallback: Duration, minimum: Duration) throws(Error) -> Duration {
            guard let text = optionalString(name) else { return fallback }
            guard let value = DurationText.parse(text), value >= minimum else {
                throw Error(field: "\(path).\(name)", problem: "\"\(text)\" is not a duration of at least \(minimum) (like 30s, 5m)")
            }
            return value
        }

        func size(_ name: String, default fallback: ByteSize, minimum: Int64) throws(Error) -> ByteSize {
            guard let text = optionalString(name) else { return fallback }
            guard let value = ByteSize(text), value.bytes >= minimum else {
                throw Error(field: "\(path).\(name)", problem: "\"\(text)\" is not a size of at least \(minimum) bytes (like 64MiB)")
            }
            return value
        }

        func bool(_ name: String, default fallback: Bool) throws(Error) -> Bool {
            guard let node = values[name] else { return fallback }
            guard let value = node.bool else { throw Error(field: "\(path).\(name)", problem: "\"\(node.string ?? "?")\" must be true or false") }
            return value
        }

        func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(Error) -> Int {
            guard let node = values[name] else { return fallback }
            guard let value = node.int, range.contains(value) else {
                throw Error(field: "\(path).\(name)", problem: "\"\(node.string ?? "?")\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
    }
}
