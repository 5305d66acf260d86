import Basics
import ArgumentParser
import AsyncHTTPClient
import Crypto
import DevCluster
import Foundation
import NIOCore
import S3
import LocalProcesses

/// `filestore-bench s3`: the agent's overhead over its S3 backend. A file through node1 of a
/// 3-node cluster on S3 storage (one moto_server per node, replication 2) and back from node2,
/// against the same work done straight on moto: the file's 5 MiB chunks hashed and PUT to two
/// moto_servers with 4 in flight (the agent's window), then read back from one with 3 in flight
/// (its read-ahead 2 plus the chunk being sent), hashing what it reads as the benchmark client
/// hashes the agent's download.
struct S3OverheadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "s3", abstract: "Agent on S3 storage (moto) vs the same chunks written to and read from moto directly.")

    @Option(help: "File size in MiB (moto keeps everything in memory).") var sizeMiB = 256
    @Option(help: "The filestore executable (default: beside this benchmark).") var executable: String?

    func run() async throws {
        let size = Int64(sizeMiB) << 20
        let direct = try await directOnMoto(size: size)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-bench-s3-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        try await withBenchCluster(executable: executable, directory: work, storage: .s3) { cluster, http, authorization in
            let put = try await Transfer.upload(http, cluster.nodes[0].url + "/api/v1/files/bench/s3.bin", authorization: authorization, size: size, seed: 5)
            let get = try await Transfer.download(http, cluster.nodes[1].url + "/api/v1/files/bench/s3.bin", authorization: authorization)
            guard get.bytes == size, get.sha256 == direct.sha256 else { throw ValidationError("the download differs from the upload") }
            report("upload", agent: put.mibPerSecond(size), direct: direct.put.mibPerSecond(size), what: "2 copies")
            report("download", agent: get.seconds.mibPerSecond(size), direct: direct.get.mibPerSecond(size), what: "1 copy")
        }
    }

    private func report(_ name: String, agent: Double, direct: Double, what: String) {
        print("s3 \(name) \(sizeMiB) MiB: agent on moto \(fixed(agent)) MiB/s, chunks straight to moto (\(what)) \(fixed(direct)) MiB/s, ratio \(fixed(agent / direct, 2))× (agent overhead \(fixed(max(0, 1 / (agent / direct) - 1) * 100, 0)) %)")
    }

    /// The file's chunks PUT to two moto_servers and read back from one; seconds for each, and
    /// the file's SHA-256 (to check the agent's download against).
    private func directOnMoto(size: Int64) async throws -> (put: Double, get: Double, sha256: String) {
        guard let first = try await MotoServer.start(), let second = try await MotoServer.start() else { throw ValidationError("moto_server is needed (pip install 'moto[server]')") }
        let clients = try [S3.Client(configuration: first.configuration), S3.Client(configuration: second.configuration)]
        for client in clients { try await client.createBucket("chunks") }
        var fileHash = SHA256()
        var keys: [String] = []
        let put = try await timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                var chunk = ByteBuffer()
                func send(_ bytes: ByteBuffer) async throws {
                    let id = Hex.encode(bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) })
                    keys.append(id)
                    if inFlight == 4 { try await group.next(); inFlight -= 1 }
                    inFlight += 1
                    group.addTask {
                        try await withThrowingTaskGroup(of: Void.self) { copies in
                            for client in clients { copies.addTask { _ = try await client.putObject(bucket: "chunks", key: id, body: .bytes(bytes), sha256: id) } }
                            try await copies.waitForAll()
                        }
                    }
                }
                for try await var buffer in GeneratedBytes(total: size, seed: 5) {
                    buffer.withUnsafeReadableBytes { fileHash.update(bufferPointer: $0) }
                    while buffer.readableBytes > 0 {
                        var piece = buffer.readSlice(length: min(buffer.readableBytes, (5 << 20) - chunk.readableBytes))!
                        chunk.writeBuffer(&piece)
                        if chunk.readableBytes == 5 << 20 {
                            try await send(chunk)
                            chunk = ByteBuffer()
                        }
                    }
                }
                if chunk.readableBytes > 0 { try await send(chunk) }
                try await group.waitForAll()
            }
        }
        let reader = clients[0]
        let get = try await timed {
            try await forEachConcurrently(keys, limit: 3) { key in try await Self.readAll(reader, key) }
        }
        for client in clients { try await client.shutdown() }
        await first.stop()
        await second.stop()
        return (put, get, Hex.encode(fileHash.finalize()))
    }

    private static func readAll(_ client: S3.Client, _ key: String) async throws {
        let object = try await client.getObject(bucket: "chunks", key: key)
        var hasher = SHA256()
        for try await buffer in object.body { buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        _ = hasher.finalize()
    }
}
