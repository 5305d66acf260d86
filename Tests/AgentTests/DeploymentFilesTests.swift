import Foundation
import Testing
import LocalProcesses
import TestSupport
@testable import Agent

/// The deployment files at the top of the repository stay valid.
@Suite("deployment files")
struct DeploymentFilesTests {
    static func read(_ path: String) throws -> String {
        try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    static let environment = ["FILESTORE_CLUSTER_SECRET": TestEnvironment.randomClusterSecret()]

    @Test(arguments: ["cluster.yml", "examples/cluster-bare-metal.yml"])
    func clusterFilesParse(path: String) throws {
        let configuration = try ClusterConfiguration.parse(yaml: try Self.read(path), environment: Self.environment)
        #expect(configuration.nodes.count == 3 && configuration.replication == 2)
        // The shipped files carry no secret an agent would accept: one must be chosen.
        #expect { try ClusterConfiguration.parse(yaml: try Self.read(path)) } throws: { ($0 as? ClusterConfiguration.Error)?.field == "cluster.secret" }
    }

    /// Every cluster secret written in the repository's deployment files and docs is one that
    /// agents refuse: copying an example never yields a cluster anyone could join.
    @Test func everyPublishedSecretIsRefused() throws {
        let files = ["README.md", "cluster.yml", "docker-compose.yml", "examples/cluster-bare-metal.yml"]
            + (try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.repositoryRoot.appendingPathComponent("docs").path)).filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        // `secret: VALUE` as YAML writes it (block or flow style), and `FILESTORE_CLUSTER_SECRET=VALUE`
        // as a shell line does; a shell substitution (`$(…)`, `${…}`) is no value.
        let pattern = try Regex(#"(?m)(?:(?:^|[{,\s])secret:[ \t]*"?([A-Za-z0-9][A-Za-z0-9._~+/=-]*)"?[ \t]*(?:$|[,}#])|FILESTORE_CLUSTER_SECRET=([A-Za-z0-9][^\s"'`]*))"#)
        // The pattern finds what it must (so an empty result means there is none).
        for (sample, value) in [("  secret: a-long-value-0123\n", "a-long-value-0123"), ("cluster: {name: x, secret: \"q0123456789abcdefg\"}", "q0123456789abcdefg"), ("FILESTORE_CLUSTER_SECRET=abcdef0123 docker compose up", "abcdef0123")] {
            let match = try #require(sample.firstMatch(of: pattern))
            #expect((match.output[1].substring ?? match.output[2].substring).map(String.init) == value)
        }
        var found: [String] = []
        for file in files {
            for match in try Self.read(file).matches(of: pattern) {
                guard let value = (match.output[1].substring ?? match.output[2].substring).map(String.init) else { continue }
                found.append(value)
                #expect(SecretPolicy.problem(with: value) != nil, "\(file) shows the secret \(value), which an agent would accept")
            }
        }
        print("published secrets checked: \(found)")
    }

    @Test func composeFileIsValidAndMatchesClusterYml() throws {
        let compose = try Self.read("docker-compose.yml")
        let cluster = try ClusterConfiguration.parse(yaml: try Self.read("cluster.yml"), environment: Self.environment)
        for (index, node) in cluster.nodes.enumerated() {
            // Every node of cluster.yml has its agent service and MinIO, and the addresses agree.
            #expect(compose.contains("agent\(index + 1):") && compose.contains("\"--node\", \"\(node.id)\""))
            #expect(node.http == "agent\(index + 1):8080" && node.gossip.description == "agent\(index + 1):7946")
            // The internal API has its own port, which compose never publishes.
            #expect(node.peer == "agent\(index + 1):9080")
            guard case .s3(let endpoint, _, _, _, _) = node.storage else { Issue.record("compose nodes use MinIO"); continue }
            #expect(endpoint == "http://minio\(index + 1):9000" && compose.contains("minio\(index + 1):"))
        }
        for port in ["9001:9001", "9003:9001", "9005:9001", "8080:8080", "8081:8080", "8082:8080"] { #expect(compose.contains(port)) }
        #expect(!compose.contains(":9080\""), "the internal port is reachable on the compose network only")

        guard let tool = Executables.find("docker-compose") else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "docker-compose is required to validate docker-compose.yml (apt-get install docker-compose)")
            return
        }
        let valid = try Self.composeConfig(tool, ["FILESTORE_ADMIN_PASSWORD": "validation-only", "FILESTORE_CLUSTER_SECRET": TestEnvironment.randomClusterSecret()])
        #expect(valid.status == 0, "docker-compose config: \(valid.message)")
        // Without a cluster secret, compose refuses to start (no default to fall back on).
        let unset = try Self.composeConfig(tool, ["FILESTORE_ADMIN_PASSWORD": "validation-only"])
        #expect(unset.status != 0 && unset.message.contains("FILESTORE_CLUSTER_SECRET"), "docker-compose config without a secret: \(unset.message)")
    }

    /// `docker-compose config -q` on the repository's file with `variables` set (and the two
    /// secrets unset unless given).
    static func composeConfig(_ tool: String, _ variables: [String: String]) throws -> (status: Int32, message: String) {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: tool)
        check.arguments = ["-f", TestEnvironment.repositoryRoot.appendingPathComponent("docker-compose.yml").path, "config", "-q"]
        var environment = ProcessInfo.processInfo.environment
        environment["FILESTORE_ADMIN_PASSWORD"] = nil
        environment["FILESTORE_CLUSTER_SECRET"] = nil
        check.environment = environment.merging(variables) { $1 }
        let errors = Pipe()
        check.standardError = errors
        try check.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        while check.isRunning { usleep(10_000) }
        return (check.terminationStatus, message)
    }
}
