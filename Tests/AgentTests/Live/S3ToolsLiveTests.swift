import Foundation
import LocalProcesses
import Testing
import TestSupport

/// Real S3 clients against a live cluster's S3 listeners (Tests/s3tools): boto3 with its
/// default checksums, the aws cli, rclone, restic and s3cmd as their users use them; the same
/// objects through REST.
@Suite("S3 API with real clients", .serialized)
struct S3ToolsLiveTests {
    static var available: Bool {
        ["aws", "rclone", "restic", "s3cmd"].allSatisfy { Executables.find($0) != nil } && (try? Executables.run("python3", ["-c", "import boto3"])) != nil
    }

    struct ToolFailure: Error, CustomStringConvertible {
        var output: String
        var description: String { "the S3 tools test failed:\n\(output.suffix(6000))" }
    }

    @Test func realS3ClientsWorkUnmodified() async throws {
        guard Self.available else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "the aws cli, boto3, rclone, restic and s3cmd are required for the S3 tool tests")
            print("SKIPPED: aws cli, boto3, rclone, restic or s3cmd missing; S3 tool tests did not run")
            return
        }
        try await LiveCluster.run { cluster, _ in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/s3tools/s3_tools_test.py").path
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-s3tools-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: work) }
            let node1 = try #require(cluster.node("node1"))
            let node2 = try #require(cluster.node("node2"))
            let arguments = [script, node1.s3URL, node2.s3URL, cluster.nodes.map(\.url).joined(separator: ","), LiveCluster.adminPassword, work]
            let result = try await Executables.runCapturingAll("python3", arguments)
            print(result.1)
            // Thrown, so the live cluster prints the agents' logs.
            guard result.0 == 0 else { throw ToolFailure(output: result.1) }
        }
    }
}
