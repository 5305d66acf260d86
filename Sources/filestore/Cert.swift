import Agent
import ArgumentParser
import Foundation
import Gossip

/// `filestore cert`: the cluster's CA and a certificate for each agent, for `tls:` in cluster.yml.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Make the cluster CA (once) and TLS certificates for its agents.",
        discussion: """
            Writes ca.crt and ca.key (kept when present: every certificate must come from the same CA) and \
            NODE.crt / NODE.key for every node of --config, good for the hosts of its http and internal \
            addresses plus localhost and 127.0.0.1 (and every --host). With --node, only that node (one not \
            in the file needs --host). Point cluster.yml at them:
              tls: {certificate: DIR/{node}.crt, key: DIR/{node}.key, ca: DIR/ca.crt, mutual: true}
            Keep ca.key off the agents: it is needed only to make more certificates.
            """
    )

    @Option(help: "The cluster configuration file.") var config: String = "cluster.yml"
    @Option(help: "Where to write the files.") var out: String = "tls"
    @Option(help: "Only this node.") var node: String?
    @Option(help: "Another host name or IP address the certificates are good for (repeatable).") var host: [String] = []

    func run() async throws {
        let configuration: ClusterConfiguration
        do {
            let text = try String(contentsOfFile: config, encoding: .utf8)
            // Certificates do not need the secret: accept a file (or environment) without one.
            configuration = try ClusterConfiguration.parse(yaml: text, environment: ["FILESTORE_CLUSTER_SECRET": "only-making-certificates"], allowInsecureSecret: true)
        } catch {
            throw ValidationError("\(config): \(error)")
        }
        var nodes: [(id: String, hosts: [String])] = []
        for entry in configuration.nodes where node == nil || entry.id.rawValue == node {
            let addresses = [entry.http] + (entry.peer.map { [$0] } ?? [])
            nodes.append((entry.id.rawValue, Self.unique(addresses.compactMap { Gossip.Address($0)?.host } + host + ["localhost", "127.0.0.1"])))
        }
        if let node, nodes.isEmpty {
            guard !host.isEmpty else { throw ValidationError("\(node) is not in \(config): give its --host") }
            nodes.append((node, Self.unique(host + ["localhost", "127.0.0.1"])))
        }
        guard !nodes.isEmpty else { throw ValidationError("\(config) lists no nodes") }
        for path in try ClusterCertificates.write(into: out, clusterName: configuration.name, nodes: nodes) { print(path) }
    }

    static func unique(_ hosts: [String]) -> [String] {
        var seen = Set<String>()
        return hosts.filter { seen.insert($0).inserted }
    }
}
