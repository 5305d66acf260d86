import Gossip
import Ring

/// How to run one agent: the cluster's configuration, which node this is, and local overrides.
public struct AgentOptions: Sendable {
    public var cluster: ClusterConfiguration
    public var node: ClusterConfiguration.NodeConfiguration
    /// Holds `meta.sqlite` (and nothing else unless the storage path points here).
    public var dataDirectory: String
    /// `host:port` to bind HTTP to (default: the node's `http`, on all interfaces when it names a host).
    public var httpBind: String?
    /// `host:port` to bind gossip to (default: the node's `gossip`, likewise).
    public var gossipBind: String?
    /// `host:port` to bind the internal API's own listener to (default: the node's `internal`, likewise).
    public var internalBind: String?
    /// `host:port` to bind the S3 listener to (default: the node's `s3`, likewise).
    public var s3Bind: String?
    /// Extra gossip seeds (`--join`); the other configured nodes are always seeds.
    public var join: [Gossip.Address] = []
    /// Bootstrap admin password (`FILESTORE_ADMIN_PASSWORD`).
    public var adminPassword: String?
    public var gossipSettings = Gossip.Settings()
    /// Largest accepted upload.
    public var maxUploadBytes: Int64 = 1 << 40

    public init(cluster: ClusterConfiguration, node: ClusterConfiguration.NodeConfiguration, dataDirectory: String) {
        self.cluster = cluster
        self.node = node
        self.dataDirectory = dataDirectory
    }

    /// The S3 listener's URL as clients reach it (what gossip tells the others, and status shows).
    public var s3URL: String? { node.s3.map { (cluster.tls != nil ? "https://" : "http://") + $0 } }

    /// The address to bind for a configured `host:port`: IP literals and localhost as given,
    /// other host names (a container's own name) on all interfaces.
    static func bindAddress(for text: String) -> Gossip.Address? {
        guard let address = Gossip.Address(text) else { return nil }
        let host = address.host
        let isLiteral = host == "localhost" || host.contains(":") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        return isLiteral ? address : Gossip.Address(host: "0.0.0.0", port: address.port)
    }
}
