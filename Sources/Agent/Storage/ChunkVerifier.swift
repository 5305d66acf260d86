import Basics
import ByteStreams
import Crypto
import NIOCore

/// Checks, as bytes stream by, that a chunk is exactly `size` bytes hashing to its id.
struct ChunkVerifier: Sendable {
    let id: ChunkID
    let size: Int64
    private var hasher = SHA256()
    private(set) var received: Int64 = 0

    init(id: ChunkID, size: Int64) {
        self.id = id
        self.size = size
    }

    /// Feeds the next bytes; throws as soon as more than `size` bytes arrive.
    mutating func update(_ buffer: ByteBuffer) throws(BlobStoreError) {
        received += Int64(buffer.readableBytes)
        guard received <= size else { throw BlobStoreError(.integrity, "chunk \(id): more than the announced \(size) bytes") }
        buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
    }

    /// Throws unless exactly `size` bytes arrived and they hash to the id.
    func finish() throws(BlobStoreError) {
        guard received == size else { throw BlobStoreError(.integrity, "chunk \(id): got \(received) of \(size) bytes") }
        let actual = ChunkID(digest: hasher.finalize())
        guard actual == id else { throw BlobStoreError(.integrity, "chunk \(id): bytes hash to \(actual)") }
    }

    /// Checks only the size of an in-memory chunk this process has already verified.
    static func checkSize(_ buffer: ByteBuffer, id: ChunkID, size: Int64) throws(BlobStoreError) {
        guard buffer.readableBytes == size else { throw BlobStoreError(.integrity, "chunk \(id): got \(buffer.readableBytes) of \(size) bytes") }
    }

    /// Verifies a whole in-memory chunk.
    static func verify(_ buffer: ByteBuffer, id: ChunkID, size: Int64) throws(BlobStoreError) {
        var verifier = ChunkVerifier(id: id, size: size)
        try verifier.update(buffer)
        try verifier.finish()
    }
}

/// Passes a byte stream through a `ChunkVerifier`, holding back the final buffer until the whole
/// stream has verified — so a receiver never gets a complete body that fails the check.
struct VerifyingByteSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: AnySendableByteSequence
    let id: ChunkID
    let size: Int64

    func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), verifier: ChunkVerifier(id: id, size: size)) }

    struct Iterator: AsyncIteratorProtocol {
        var base: AnySendableByteSequence.AsyncIterator
        var verifier: ChunkVerifier
        var held: ByteBuffer?
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            while let buffer = try await base.next() {
                guard buffer.readableBytes > 0 else { continue }
                try verifier.update(buffer)
                if let previous = held {
                    held = buffer
                    return previous
                }
                held = buffer
            }
            finished = true
            try verifier.finish()
            defer { held = nil }
            return held
        }
    }
}
