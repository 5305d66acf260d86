import Agent
import ArgumentParser
import Basics
import ByteStreams
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import S3
import Simulation
import LocalProcesses

/// `filestore-bench blobs`: blob store throughput (5 MiB chunks) and S3 streaming memory (1 GiB object).
struct BlobBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blobs", abstract: "Blob store throughput and S3 streaming memory.")

    @Option(help: "Chunks put and read per store.") var chunks = 40
    @Option(help: "Chunk size in MiB.") var chunkMiB = 5
    @Option(help: "Chunks in flight at once.") var concurrency = 4
    @Option(help: "Size of the streamed object, MiB (0 skips the streaming test).") var streamMiB = 1024

    func run() async throws {
        guard let server = try await MotoServer.start() else { throw ValidationError("moto_server is needed for the S3 figures") }
        let client = try S3.Client(configuration: server.configuration)
        let store = try S3BlobStore(client: client, bucket: "filestore")
        try await store.prepare()
        // Streaming first, before the chunk payloads below occupy memory.
        if streamMiB > 0 { try await measureStreaming(client) }

        let payloads = (0..<chunks).map { index -> (ChunkID, ByteBuffer) in
            var generator = SeededGenerator(seed: UInt64(index) + 1)
            var buffer = ByteBuffer()
            for _ in 0..<(chunkMiB << 20) / 8 { buffer.writeInteger(generator.next()) }
            return (ChunkID(digest: buffer.withUnsafeReadableBytes { SHA256.hash(data: $0) }), buffer)
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try await measureStore("directory", try await DirectoryBlobStore(root: FilePath(root.path)), payloads)
        try await measureStore("s3 (moto)", store, payloads)
        try await client.shutdown()
        await server.stop()
    }

    private func measureStore(_ name: String, _ store: some BlobStore, _ payloads: [(ChunkID, ByteBuffer)]) async throws {
        let totalMiB = Double(payloads.count * chunkMiB)
        let putSeconds = try await timed {
            try await forEachConcurrently(payloads, limit: concurrency) { id, bytes in try await store.put(id, size: Int64(bytes.readableBytes), body: .bytes(bytes)) }
        }
        let getSeconds = try await timed {
            try await forEachConcurrently(payloads, limit: concurrency) { id, bytes in
                let received = try await store.read(id) { stream in
                    var count = 0
                    for try await buffer in stream.bytes { count += buffer.readableBytes }
                    return count
                }
                precondition(received == bytes.readableBytes)
            }
        }
        print("blobs \(name): put \(fixed(totalMiB / putSeconds)) MiB/s, get \(fixed(totalMiB / getSeconds)) MiB/s (\(payloads.count) × \(chunkMiB) MiB, \(concurrency) in flight)")
    }

    /// Puts then gets one large object as a stream; prints the client's RSS growth over the run.
    private func measureStreaming(_ client: S3.Client) async throws {
        let size = Int64(streamMiB) << 20
        ProcessMemory.resetPeak()
        let baseline = ProcessMemory.residentBytes()
        var sent = SHA256()
        let source = GeneratedBytes(total: size, seed: 42)
        for try await buffer in source { buffer.withUnsafeReadableBytes { sent.update(bufferPointer: $0) } }
        let putSeconds = try await timed {
            try await client.putObject(bucket: "filestore", key: "bench/stream", body: .stream(length: size, AnySendableByteSequence(source)))
        }
        var received = SHA256()
        var count: Int64 = 0
        let getSeconds = try await timed {
            let object = try await client.getObject(bucket: "filestore", key: "bench/stream")
            for try await buffer in object.body {
                count += Int64(buffer.readableBytes)
                buffer.withUnsafeReadableBytes { received.update(bufferPointer: $0) }
            }
        }
        precondition(count == size && sent.finalize() == received.finalize(), "streamed object came back different")
        let growth = Double(ProcessMemory.peakResidentBytes() - baseline) / 1_048_576
        print("s3 stream \(streamMiB) MiB: put \(fixed(Double(streamMiB) / putSeconds)) MiB/s, get \(fixed(Double(streamMiB) / getSeconds)) MiB/s, client RSS growth \(fixed(growth)) MiB (peak over baseline), bytes verified by SHA-256")
        try await client.deleteObject(bucket: "filestore", key: "bench/stream")
    }
}

/// Deterministic pseudo-random bytes generated on the fly, 256 KiB at a time (never held whole).
struct GeneratedBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int64
    let seed: UInt64

    func makeAsyncIterator() -> Iterator { Iterator(remaining: total, generator: SeededGenerator(seed: seed)) }

    struct Iterator: AsyncIteratorProtocol {
        var remaining: Int64
        var generator: SeededGenerator
        mutating func next() async -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let count = Int(Swift.min(remaining, 256 * 1024))
            remaining -= Int64(count)
            var buffer = ByteBuffer()
            buffer.reserveCapacity(count)
            for _ in 0..<(count / 8) { buffer.writeInteger(generator.next()) }
            return buffer
        }
    }
}

/// A process's resident memory, from /proc/<pid>/status (this process by default).
enum ProcessMemory {
    static func residentBytes(pid: String = "self") -> Int64 { field("VmRSS:", pid: pid) }
    static func peakResidentBytes(pid: String = "self") -> Int64 { field("VmHWM:", pid: pid) }

    /// Restarts the peak (VmHWM) from the current RSS (Linux: writing 5 to clear_refs).
    static func resetPeak(pid: String = "self") { try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8) }

    private static func field(_ name: String, pid: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let kib = Int64(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kib * 1024
    }
}

/// Seconds taken by `body`.
func timed(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return elapsed.inSeconds
}

func fixed(_ value: Double) -> String { fixed(value, 1) }
