import Basics
import ByteStreams
import NIOCore

/// Where an agent keeps chunk bytes: an S3 server (MinIO in production) or a local directory.
///
/// Every implementation guarantees: a chunk is visible under its id only once all of its bytes
/// are stored and their SHA-256 equals the id; reads stream with bounded memory; deleting an
/// absent chunk succeeds.
public protocol BlobStore: Sendable {
    /// Stores exactly `size` bytes whose SHA-256 must equal `id`; throws `BlobStoreError` and
    /// leaves nothing visible when the bytes are short, long or do not hash to `id`.
    func put(_ id: ChunkID, size: Int64, body: BlobBody) async throws

    /// Streams the chunk (or the inclusive byte `range` of it) to `body`, which must finish
    /// reading before it returns. Throws `BlobStoreError.notFound` when absent.
    func read<Result: Sendable>(_ id: ChunkID, range: ClosedRange<Int64>?, _ body: (BlobStream) async throws -> Result) async throws -> Result

    /// The whole chunk in memory (at most `limit` bytes, else `BlobStoreError.integrity`), not
    /// verified. Throws `BlobStoreError.notFound` when absent.
    func readWhole(_ id: ChunkID, limit: Int) async throws -> ByteBuffer

    /// The chunk's size, or nil when it is absent.
    func size(of id: ChunkID) async throws -> Int64?

    /// Removes the chunk; an absent chunk is not an error.
    func delete(_ id: ChunkID) async throws

    /// Every stored chunk with its size, in no particular order.
    func list() -> AsyncThrowingStream<(id: ChunkID, size: Int64), any Error>
}

extension BlobStore {
    /// Total bytes of all stored chunks (walks the whole store: for start-up and reconciliation).
    public func usedBytes() async throws -> Int64 {
        var total: Int64 = 0
        for try await entry in list() { total += entry.size }
        return total
    }

    /// `readWhole` by collecting the stream (for stores without a faster way).
    public func collectWhole(_ id: ChunkID, limit: Int) async throws -> ByteBuffer {
        try await read(id) { stream in
            guard stream.length <= Int64(limit) else { throw BlobStoreError(.integrity, "chunk \(id) is \(stream.length) bytes, more than \(limit)") }
            var buffer = ByteBuffer()
            buffer.reserveCapacity(Int(stream.length))
            for try await part in stream.bytes { buffer.writeImmutableBuffer(part) }
            return buffer
        }
    }

    /// Streams the whole chunk to `body`.
    public func read<Result: Sendable>(_ id: ChunkID, _ body: (BlobStream) async throws -> Result) async throws -> Result {
        try await read(id, range: nil, body)
    }
}

/// Bytes to store: in memory (an S3 store may resend them on a retry) or a one-shot stream.
public enum BlobBody: Sendable {
    /// In memory; the store checks them against the id.
    case bytes(ByteBuffer)
    /// In memory and already checked against the id by this process (the coordinator hashed
    /// them as they arrived, or they were read back and verified): the store only checks the
    /// size — hashing 5 MiB again would change nothing but cost CPU on every local copy.
    case verified(ByteBuffer)
    case stream(AnySendableByteSequence)
}

/// A chunk being read: its length (of the requested range) and its bytes as they arrive.
public struct BlobStream: Sendable {
    public var length: Int64
    public var bytes: AnySendableByteSequence
}

/// Why a blob store refused or failed.
public struct BlobStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// No chunk with that id.
        case notFound
        /// The bytes did not hash to the id, or were not the announced size.
        case integrity
        /// A range outside the chunk.
        case invalidRange
        /// The storage node failed (disk, S3 server).
        case storage
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
