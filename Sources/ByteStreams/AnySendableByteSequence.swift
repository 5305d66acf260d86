import NIOCore

/// A type-erased, sendable async sequence of byte buffers: the streamed body of a `PutObject`.
public struct AnySendableByteSequence: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    private let makeIterator: @Sendable () -> AsyncIterator

    /// Wraps `base`; it is iterated once, when the request body is sent.
    public init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == ByteBuffer {
        makeIterator = {
            var iterator = base.makeAsyncIterator()
            return AsyncIterator { try await iterator.next() }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextBuffer: () async throws -> ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? { try await nextBuffer() }
    }
}
