import Foundation
import LocalProcesses
import Testing
import TestSupport

/// The S3 and REST listeners against clients that send bodies nobody invited, and multipart
/// uploads nobody finishes (Tests/s3tools/s3_protocol_test.py, boto3 and raw sockets).
@Suite("S3 protocol edges, live", .serialized)
struct S3ProtocolLiveTests {
    @Test func uninvitedBodiesAndAbandonedUploads() async throws {
        guard (try? Executables.run("python3", ["-c", "import boto3"])) != nil else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "boto3 is required for the S3 protocol tests")
            print("SKIPPED: boto3 missing; S3 protocol tests did not run")
            return
        }
        try await LiveCluster.run(configure: { options in
            options.s3UploadExpiry = "4s"
            options.gcGrace = "1s"
            options.repairInterval = "1s"
        }) { cluster, _ in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/s3tools/s3_protocol_test.py").path
            let node1 = try #require(cluster.node("node1"))
            let result = try await Executables.runCapturingAll("python3", [script, node1.s3URL, node1.url, LiveCluster.adminPassword])
            print(result.1)
            guard result.0 == 0 else { throw S3ToolsLiveTests.ToolFailure(output: result.1) }
            // Every object was deleted and the abandoned upload expired: GC frees every chunk.
            let deadline = ContinuousClock.now + .seconds(60)
            while storedChunkBytes(cluster) > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(500)) }
            #expect(storedChunkBytes(cluster) == 0, "the expired upload's part is still stored")
        }
    }
}
