import Basics
import ByteStreams
import Crypto
import NIOCore

/// A request body checked, as it streams by, against the SHA-256 its signature covers: the last
/// `next()` throws instead of ending when the bytes differ, so a consumer that stores and then
/// commits at the end of the stream (every internal call does) commits only a body the sender signed.
struct DigestCheckedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: AnySendableByteSequence
    /// Lowercase hex.
    let expected: String

    func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), expected: expected) }

    struct Iterator: AsyncIteratorProtocol {
        var base: AnySendableByteSequence.AsyncIterator
        let expected: String
        var hasher = SHA256()
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            if let buffer = try await base.next() {
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                return buffer
            }
            finished = true
            guard Hex.encode(hasher.finalize()) == expected else {
                throw InternalProtocolError("the body does not match the SHA-256 its signature covers")
            }
            return nil
        }
    }
}
