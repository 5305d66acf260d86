@testable import Agent
import Basics
import ByteStreams
import Crypto
import NIOCore
import Synchronization

/// A blob store in memory, for in-process clusters: the `BlobStore` contract (verify on the way
/// in unless the bytes are already verified, nothing visible until whole) without a disk.
final class MemoryBlobStore: BlobStore {
    private let chunks = Mutex<[ChunkID: ByteBuffer]>([:])

    func put(_ id: ChunkID, size: Int64, body: BlobBody) async throws {
        var bytes = ByteBuffer()
        switch body {
        case .bytes(let buffer), .verified(let buffer): bytes = buffer
        case .stream(let stream):
            for try await part in stream {
                guard Int64(bytes.readableBytes + part.readableBytes) <= size else { throw BlobStoreError(.integrity, "chunk \(id): more than \(size) bytes") }
                bytes.writeImmutableBuffer(part)
            }
        }
        guard Int64(bytes.readableBytes) == size else { throw BlobStoreError(.integrity, "chunk \(id): got \(bytes.readableBytes) of \(size) bytes") }
        if case .verified = body {} else {
            let actual = ChunkID(digest: bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) })
            guard actual == id else { throw BlobStoreError(.integrity, "chunk \(id): bytes hash to \(actual)") }
        }
        chunks.withLock { $0[id] = bytes }
    }

    func read<Result: Sendable>(_ id: ChunkID, range: ClosedRange<Int64>?, _ body: (BlobStream) async throws -> Result) async throws -> Result {
        guard var bytes = chunks.withLock({ $0[id] }) else { throw BlobStoreError(.notFound, "no chunk \(id)") }
        if let range { bytes = bytes.getSlice(at: Int(range.lowerBound), length: Int(range.count)) ?? ByteBuffer() }
        return try await body(BlobStream(length: Int64(bytes.readableBytes), bytes: AnySendableByteSequence(OneBuffer(bytes))))
    }

    func readWhole(_ id: ChunkID, limit: Int) async throws -> ByteBuffer {
        guard let bytes = chunks.withLock({ $0[id] }) else { throw BlobStoreError(.notFound, "no chunk \(id)") }
        guard bytes.readableBytes <= limit else { throw BlobStoreError(.integrity, "chunk \(id) is over \(limit) bytes") }
        return bytes
    }

    func size(of id: ChunkID) async throws -> Int64? { chunks.withLock { $0[id].map { Int64($0.readableBytes) } } }

    func delete(_ id: ChunkID) async throws { _ = chunks.withLock { $0.removeValue(forKey: id) } }

    func list() -> AsyncThrowingStream<(id: ChunkID, size: Int64), any Error> {
        let entries = chunks.withLock { $0.map { ($0.key, Int64($0.value.readableBytes)) } }
        return AsyncThrowingStream { continuation in
            for entry in entries { continuation.yield(entry) }
            continuation.finish()
        }
    }

    /// Flips the first byte of a stored chunk (a disk that rotted).
    func corrupt(_ id: ChunkID) {
        chunks.withLock { chunks in
            guard var bytes = chunks[id], let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
            bytes.setInteger(first ^ 0xFF, at: bytes.readerIndex)
            chunks[id] = bytes
        }
    }

    var ids: Set<ChunkID> { chunks.withLock { Set($0.keys) } }
}
