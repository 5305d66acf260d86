import Basics
import ArgumentParser
import AsyncHTTPClient
import Crypto
import DevCluster
import Foundation
import NIOCore

/// `filestore-bench agent`: a large file through one agent of a 3-node local cluster (directory
/// storage, replication 2): upload and download throughput, and the coordinator's peak memory.
struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Large-file upload/download through a live 3-node cluster, with peak agent RSS.")

    @Option(help: "File size in MiB.") var sizeMiB = 2048
    @Option(help: "The filestore executable (default: beside this benchmark).") var executable: String?

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-bench-agent-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withBenchCluster(executable: executable, directory: directory) { cluster, http, authorization in
            let coordinator = String(cluster.pid("node1") ?? 0)
            let size = Int64(sizeMiB) << 20
            let baseline = ProcessMemory.residentBytes(pid: coordinator)
            ProcessMemory.resetPeak(pid: coordinator)

            let putSeconds = try await Transfer.upload(http, cluster.nodes[0].url + "/api/v1/files/bench/large.bin", authorization: authorization, size: size, seed: 7)
            let peak = ProcessMemory.peakResidentBytes(pid: coordinator)
            var sent = SHA256()
            for try await buffer in GeneratedBytes(total: size, seed: 7) { buffer.withUnsafeReadableBytes { sent.update(bufferPointer: $0) } }
            let got = try await Transfer.download(http, cluster.nodes[1].url + "/api/v1/files/bench/large.bin", authorization: authorization)
            guard got.bytes == size, got.sha256 == Hex.encode(sent.finalize()) else { throw ValidationError("the download differs from the upload") }
            let getSeconds = got.seconds
            print("agent upload \(sizeMiB) MiB through node1 (3 nodes, dir storage, replication 2): \(fixed(Double(sizeMiB) / putSeconds)) MiB/s")
            print("agent upload peak RSS of the coordinating agent: \(fixed(Double(peak) / 1_048_576)) MiB (baseline \(fixed(Double(baseline) / 1_048_576)) MiB; target ≤ 150 MiB)")
            print("agent download \(sizeMiB) MiB from node2: \(fixed(Double(sizeMiB) / getSeconds)) MiB/s, SHA-256 verified")
        }
    }
}
