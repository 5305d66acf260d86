import Agent
import ArgumentParser
import Basics
import Foundation
import Gossip
import Logging
import Ring

/// `filestore agent`: run one node of a cluster.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run one agent (one per storage node).",
        discussion: """
            A node listed in cluster.yml needs only --config and --node. A node not in the file joins \
            with --node, --http, --gossip, --storage and --join HOST:PORT (any member's gossip address).
            """
    )

    @Option(help: "The cluster configuration file.") var config: String = "cluster.yml"
    @Option(help: "This node's id (a-z, 0-9, -).") var node: String
    @Option(help: "Data directory for meta.sqlite (default ./data/<node>).") var dataDir: String?
    @Option(help: "HTTP host:port (for a node not in the file, also what others use to reach it).") var http: String?
    @Option(help: "Gossip host:port, likewise.") var gossip: String?
    @Option(name: .customLong("internal"), help: "A listener of its own for the internal (agent-to-agent) API, host:port on a private network, likewise.") var internalAddress: String?
    @Option(help: "S3 listener host:port (a node not in the file has one only when given), likewise.") var s3: String?
    @Option(help: "Storage: dir:PATH or s3://ACCESS:SECRET@host:port/bucket (nodes not in the file).") var storage: String?
    @Option(help: "Zone of a node not in the file.") var zone: String = ""
    @Option(help: "Gossip address of a member to join through (repeatable).") var join: [String] = []
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @Flag(help: "Accept a short or published cluster secret (a throw-away cluster on a machine nobody else can reach).") var insecureDev = false

    func run() async throws {
        ProcessTuning.applyForAgent()
        let environment = ProcessInfo.processInfo.environment
        let options: AgentOptions
        do {
            options = try makeOptions(environment: environment)
        } catch {
            // makeOptions throws only ClusterConfiguration.Error (typed throws).
            FileHandle.standardError.write(Data("filestore agent: \(error)\n".utf8))
            throw ExitCode(64)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "filestore")
        if let problem = SecretPolicy.problem(with: options.cluster.secret) {
            logger.warning("--insecure-dev: running with a weak cluster secret; anyone who can reach this node can act as one", metadata: ["secret": "\(problem)"])
        }
        try await AgentNode.run(options, logger: logger)
    }

    func makeOptions(environment: [String: String]) throws(ClusterConfiguration.Error) -> AgentOptions {
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
            throw .init(field: "--config", problem: "cannot read \(config)")
        }
        let cluster = try ClusterConfiguration.parse(yaml: text, environment: environment, allowInsecureSecret: insecureDev)
        guard let id = NodeID(node) else { throw .init(field: "--node", problem: "\"\(node)\" must be 1-64 characters of a-z, 0-9 and -") }
        var nodeConfiguration: ClusterConfiguration.NodeConfiguration
        if let configured = cluster.nodes.first(where: { $0.id == id }) {
            nodeConfiguration = configured
            if let storage { nodeConfiguration.storage = try StorageSpec.parse(storage) }
        } else {
            guard let http, Gossip.Address(http) != nil else { throw .init(field: "--http", problem: "\(id) is not in \(config): give --http host:port") }
            guard let gossip, let gossipAddress = Gossip.Address(gossip) else { throw .init(field: "--gossip", problem: "\(id) is not in \(config): give --gossip host:port") }
            guard let storage else { throw .init(field: "--storage", problem: "\(id) is not in \(config): give --storage dir:PATH or s3://…") }
            if let internalAddress, Gossip.Address(internalAddress) == nil || internalAddress == http {
                throw .init(field: "--internal", problem: "\"\(internalAddress)\" is not a host:port other than --http")
            }
            if let s3, Gossip.Address(s3) == nil || s3 == http || s3 == internalAddress {
                throw .init(field: "--s3", problem: "\"\(s3)\" is not a host:port other than --http and --internal")
            }
            nodeConfiguration = .init(id: id, http: http, peer: internalAddress, gossip: gossipAddress, s3: s3, zone: zone, weight: 1, storage: try StorageSpec.parse(storage))
            guard !join.isEmpty || !cluster.nodes.isEmpty else { throw .init(field: "--join", problem: "a node not in \(config) needs --join host:port") }
        }
        var options = AgentOptions(cluster: cluster, node: nodeConfiguration, dataDirectory: dataDir ?? "./data/\(id)")
        for seed in join {
            guard let address = Gossip.Address(seed) else { throw .init(field: "--join", problem: "\"\(seed)\" is not host:port") }
            options.join.append(address)
        }
        if cluster.nodes.contains(where: { $0.id == id }) {
            options.httpBind = http
            options.gossipBind = gossip
            options.internalBind = internalAddress
            options.s3Bind = s3
        }
        options.adminPassword = environment["FILESTORE_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        // Refused here rather than when the bootstrap admin is created: the agent would run without one.
        if let password = options.adminPassword, (try? Accounts.validatePassword(password)) == nil {
            throw .init(field: "FILESTORE_ADMIN_PASSWORD", problem: "must be 8-256 bytes")
        }
        return options
    }
}
