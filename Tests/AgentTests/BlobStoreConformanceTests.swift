import Basics
import ByteStreams
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import S3
import Testing
import LocalProcesses
import TestSupport
@testable import Agent

/// One behavioural contract, run against every `BlobStore`: the directory store on a temp folder
/// and the S3 store on a real moto_server (SigV4 checking on).
enum BlobStoreConformance {
    static func chunk(_ size: Int, seed: UInt64) -> (ChunkID, ByteBuffer) {
        var state = seed
        let bytes = (0..<size).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        return (ChunkID(digest: SHA256.hash(data: bytes)), ByteBuffer(bytes: bytes))
    }

    /// A stream that yields `buffer` in pieces of `piece` bytes.
    static func stream(_ buffer: ByteBuffer, piece: Int) -> BlobBody {
        var pieces: [ByteBuffer] = []
        var rest = buffer
        while rest.readableBytes > 0 { pieces.append(rest.readSlice(length: min(piece, rest.readableBytes))!) }
        return .stream(AnySendableByteSequence(PiecesSequence(pieces: pieces)))
    }

    static func readAll(_ store: some BlobStore, _ id: ChunkID, range: ClosedRange<Int64>? = nil) async throws -> ByteBuffer {
        try await store.read(id, range: range) { stream in
            var collected = ByteBuffer()
            for try await buffer in stream.bytes { collected.writeImmutableBuffer(buffer) }
            #expect(Int64(collected.readableBytes) == stream.length)
            return collected
        }
    }

    static func listed(_ store: some BlobStore) async throws -> [ChunkID: Int64] {
        var entries: [ChunkID: Int64] = [:]
        for try await entry in store.list() { entries[entry.id] = entry.size }
        return entries
    }

    /// The whole contract. Starts from an empty store.
    static func run(_ store: some BlobStore) async throws {
        // Round trip from memory and from a stream, ranges, listing, used bytes.
        let (one, oneBytes) = chunk(300_001, seed: 1)
        let (two, twoBytes) = chunk(1_048_576 + 17, seed: 2)
        let (empty, emptyBytes) = chunk(0, seed: 3)
        try await store.put(one, size: 300_001, body: .bytes(oneBytes))
        try await store.put(two, size: Int64(twoBytes.readableBytes), body: stream(twoBytes, piece: 65_536))
        try await store.put(empty, size: 0, body: .bytes(emptyBytes))
        #expect(try await readAll(store, one) == oneBytes)
        #expect(try await readAll(store, two) == twoBytes)
        #expect(try await readAll(store, empty).readableBytes == 0)
        #expect(try await readAll(store, two, range: 1000...70_000) == twoBytes.getSlice(at: 1000, length: 69_001))
        #expect(try await readAll(store, one, range: 300_000...300_000) == oneBytes.getSlice(at: 300_000, length: 1))
        #expect(try await store.size(of: one) == 300_001)
        #expect(try await listed(store) == [one: 300_001, two: Int64(twoBytes.readableBytes), empty: 0])
        #expect(try await store.usedBytes() == 300_001 + Int64(twoBytes.readableBytes))

        // Whole-chunk reads: the same bytes, typed errors for absent and oversized chunks.
        #expect(try await store.readWhole(two, limit: 2 << 20) == twoBytes)
        #expect(try await store.readWhole(empty, limit: 10).readableBytes == 0)
        await #expect { try await store.readWhole(one, limit: 300_000) } throws: { ($0 as? BlobStoreError)?.code == .integrity }
        let (absent, _) = chunk(10, seed: 5)
        await #expect { try await store.readWhole(absent, limit: 100) } throws: { ($0 as? BlobStoreError)?.code == .notFound }
        // Already-verified bytes still have to be the announced size.
        await #expect { try await store.put(absent, size: 11, body: .verified(chunk(10, seed: 5).1)) } throws: { ($0 as? BlobStoreError)?.code == .integrity }
        #expect(try await store.size(of: absent) == nil)

        // Storing the same chunk again is harmless (dedup is the caller's job, idempotence ours).
        try await store.put(one, size: 300_001, body: .bytes(oneBytes))
        #expect(try await listed(store).count == 3)

        // Ranges outside the chunk are refused.
        await #expect { try await readAll(store, one, range: 0...300_001) } throws: { ($0 as? BlobStoreError)?.code == .invalidRange }

        // Bad bytes never become visible: wrong hash (memory and stream), short and long streams.
        let (bad, badBytes) = chunk(200_000, seed: 4)
        var corrupted = badBytes
        corrupted.setInteger(UInt8(corrupted.getInteger(at: 777, as: UInt8.self)! ^ 1), at: 777)
        await #expect { try await store.put(bad, size: 200_000, body: .bytes(corrupted)) } throws: { ($0 as? BlobStoreError)?.code == .integrity }
        await #expect(throws: (any Error).self) { try await store.put(bad, size: 200_000, body: stream(corrupted, piece: 50_000)) }
        await #expect(throws: (any Error).self) { try await store.put(bad, size: 200_000, body: stream(badBytes.getSlice(at: 0, length: 150_000)!, piece: 50_000)) }
        await #expect(throws: (any Error).self) { try await store.put(bad, size: 150_000, body: stream(badBytes, piece: 50_000)) }
        #expect(try await store.size(of: bad) == nil)
        #expect(try await listed(store)[bad] == nil)

        // Concurrent puts of distinct chunks all land.
        let many = (10..<18).map { chunk(70_000 + Int($0), seed: $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (id, bytes) in many { group.addTask { try await store.put(id, size: Int64(bytes.readableBytes), body: .bytes(bytes)) } }
            try await group.waitForAll()
        }
        for (id, bytes) in many { #expect(try await readAll(store, id) == bytes) }

        // Deletion, also of absent chunks; reads of absent chunks are typed.
        try await store.delete(one)
        try await store.delete(one)
        #expect(try await store.size(of: one) == nil)
        await #expect { try await readAll(store, one) } throws: { ($0 as? BlobStoreError)?.code == .notFound }
        #expect(try await listed(store)[one] == nil)
    }
}

/// A finite sequence of prepared buffers.
struct PiecesSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let pieces: [ByteBuffer]
    func makeAsyncIterator() -> IndexingIterator<[ByteBuffer]>.AsyncAdapter { .init(base: pieces.makeIterator()) }
}

extension IndexingIterator {
    struct AsyncAdapter: AsyncIteratorProtocol {
        var base: IndexingIterator<Elements>
        mutating func next() async throws -> Elements.Element? { base.next() }
    }
}

@Suite("Blob stores: one contract, every implementation")
struct BlobStoreConformanceTests {
    @Test func directoryStore() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-blobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try await DirectoryBlobStore(root: FilePath(root.path))
        try await BlobStoreConformance.run(store)

        // The directory layout is DESIGN.md's, and nothing but finished chunks is ever under chunks/.
        let (id, bytes) = BlobStoreConformance.chunk(1234, seed: 99)
        try await store.put(id, size: 1234, body: .bytes(bytes))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(id.storagePath).path))
        #expect(id.storagePath == "chunks/\(id.hex.prefix(2))/\(id.hex.dropFirst(2).prefix(2))/\(id.hex)")
        let files = FileManager.default.enumerator(atPath: root.appendingPathComponent("chunks").path)?.compactMap { $0 as? String } ?? []
        #expect(!files.contains { $0.hasSuffix(".part") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path).isEmpty)

        // Temp files a crash left behind are cleared when the store opens.
        FileManager.default.createFile(atPath: root.appendingPathComponent("tmp/stale.part").path, contents: Data([1, 2, 3]))
        _ = try await DirectoryBlobStore(root: FilePath(root.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path).isEmpty)
    }

    /// Chunk writes and whole reads go past the page cache in aligned blocks (`DirectIO`): every
    /// size around a block or staging boundary, from memory and from odd-sized stream pieces,
    /// on a disk folder, on tmpfs (which may refuse direct I/O: the buffered fallback) and with
    /// direct I/O turned off (`direct_io: false`).
    @Test(arguments: ["disk", "tmpfs", "buffered"])
    func directIOSizesAroundBoundaries(_ where: String) async throws {
        let base = `where` == "tmpfs" && FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let root = base.appendingPathComponent("filestore-directio-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try await DirectoryBlobStore(root: FilePath(root.path), directIO: `where` != "buffered")
        let block = DirectFileWriter.alignment, staging = DirectFileWriter.stagingSize
        let sizes = [1, block - 1, block, block + 1, 3 * block + 5, staging - 1, staging, staging + 1, 2 * staging + block + 3, (5 << 20) + 7]
        for (index, size) in sizes.enumerated() {
            let (id, bytes) = BlobStoreConformance.chunk(size, seed: UInt64(100 + index))
            switch index % 3 {
            case 0: try await store.put(id, size: Int64(size), body: .verified(bytes))
            case 1: try await store.put(id, size: Int64(size), body: .bytes(bytes))
            default: try await store.put(id, size: Int64(size), body: BlobStoreConformance.stream(bytes, piece: 65_537))
            }
            #expect(try await store.size(of: id) == Int64(size), "size \(size)")
            #expect(try await store.readWhole(id, limit: size) == bytes, "size \(size)")
            #expect(try await BlobStoreConformance.readAll(store, id) == bytes, "size \(size)")
        }
    }

    @Test func s3StoreOnMoto() async throws {
        guard let server = try await MotoServer.start() else {
            if TestEnvironment.requiresAllTools { Issue.record("moto_server is required (FILESTORE_REQUIRE_ALL_TESTS) but missing") }
            return
        }
        do {
            try await S3.Client.withClient(server.configuration) { client in
                let store = try S3BlobStore(client: client, bucket: "filestore")
                try await store.prepare()
                try await store.prepare()  // ensure-exists is idempotent
                try await BlobStoreConformance.run(store)
            }
        } catch {
            print("moto log:\n\((try? String(contentsOf: server.logFile, encoding: .utf8))?.suffix(4000) ?? "")")
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test(arguments: ["", "abc", String(repeating: "A", count: 64), String(repeating: "0", count: 63) + "g", "../" + String(repeating: "0", count: 61)])
    func chunkIDsAreValidated(_ text: String) {
        #expect(ChunkID(text) == nil)
    }
}
