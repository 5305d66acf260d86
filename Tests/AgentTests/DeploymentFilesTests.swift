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

    @Test(arguments: ["cluster.yml", "examples/cluster-bare-metal.yml"])
    func clusterFilesParse(path: String) throws {
        let configuration = try ClusterConfiguration.parse(yaml: try Self.read(path))
        #expect(configuration.nodes.count == 3 && configuration.replication == 2)
    }

    @Test func composeFileIsValidAndMatchesClusterYml() throws {
        let compose = try Self.read("docker-compose.yml")
        let cluster = try ClusterConfiguration.parse(yaml: try Self.read("cluster.yml"))
        for (index, node) in cluster.nodes.enumerated() {
            // Every node of cluster.yml has its agent service and MinIO, and the addresses agree.
            #expect(compose.contains("agent\(index + 1):") && compose.contains("\"--node\", \"\(node.id)\""))
            #expect(node.http == "agent\(index + 1):8080" && node.gossip.description == "agent\(index + 1):7946")
            guard case .s3(let endpoint, _, _, _, _) = node.storage else { Issue.record("compose nodes use MinIO"); continue }
            #expect(endpoint == "http://minio\(index + 1):9000" && compose.contains("minio\(index + 1):"))
        }
        for port in ["9001:9001", "9003:9001", "9005:9001", "8080:8080", "8081:8080", "8082:8080"] { #expect(compose.contains(port)) }

        guard let tool = Executables.find("docker-compose") else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "docker-compose is required to validate docker-compose.yml (apt-get install docker-compose)")
            return
        }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: tool)
        check.arguments = ["-f", TestEnvironment.repositoryRoot.appendingPathComponent("docker-compose.yml").path, "config", "-q"]
        var environment = ProcessInfo.processInfo.environment
        environment["FILESTORE_ADMIN_PASSWORD"] = "validation-only"
        check.environment = environment
        let errors = Pipe()
        check.standardError = errors
        try check.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        while check.isRunning { usleep(10_000) }
        #expect(check.terminationStatus == 0, "docker-compose config: \(message)")
    }
}
