import Basics
import ByteStreams
import NIOCore

/// The chunk calls: dedup probe, copy, read and re-verify.
public enum ChunkCalls {
    /// Chunks on the wire are at most this large (the largest `chunk_size` is far below).
    public static let maxChunkBytes: Int64 = 64 << 20

    /// The stored size of a chunk on the peer, or nil (`GET …/size`, 404 when not held).
    public struct Size: JSONCall {
        public typealias Response = Int64?
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/chunks/:id/size"
        public static var absentIsAnswer: Bool { true }
        public var id: ChunkID

        public init(_ id: ChunkID) { self.id = id }
        public init(wire: InternalRequest) async throws { id = try wire.chunkID() }
        public var target: String { "/internal/v1/chunks/\(id.hex)/size" }

        public func serve(by peer: some PeerHandler) async throws -> Int64? { try await peer.chunkSize(id) }

        public static func encode(_ response: Int64?) throws -> InternalResponse {
            guard let size = response else { return InternalResponse(status: 404) }
            return InternalResponse(status: 200, body: InternalJSON.body(size))
        }

        public static func decode(_ response: InternalResponse) throws -> Int64? {
            response.status == 404 ? nil : try InternalJSON.decode(Int64.self, response.body)
        }
    }

    /// Stores a chunk on the peer, which verifies its SHA-256 before answering (`PUT`, body =
    /// the bytes, streamed into storage on arrival). Answers whether it was new there.
    public struct Put: JSONCall {
        public typealias Response = Bool
        public static let method = InternalMethod.put
        public static let route = "/internal/v1/chunks/:id"
        public static var bodyType: String { "application/octet-stream" }
        public var id: ChunkID
        public var hintFor: NodeID?
        /// A copy the convergence loop pushes (refused where GC collected the chunk as garbage).
        public var repair: Bool
        /// What the sender sends, or what the receiver stores (the stream as it arrives).
        var payload: Payload

        enum Payload: Sendable {
            case bytes(ByteBuffer)
            case stream(length: Int64, AnySendableByteSequence)
        }

        /// A copy to send: `bytes` must hash to `id` (the receiver checks, and refuses otherwise).
        public init(_ id: ChunkID, _ bytes: ByteBuffer, hintFor: NodeID?, repair: Bool = false) {
            self.id = id
            self.hintFor = hintFor
            self.repair = repair
            payload = .bytes(bytes)
        }

        /// The bytes are hashed into storage and refused unless they hash to the id, so a body
        /// signed as the id is checked there, before anything is committed.
        public static var contentAddressedBody: Bool { true }

        public init(wire: InternalRequest) async throws {
            id = try wire.chunkID()
            if let signed = wire.uncheckedBodyDigest, signed != id.hex {
                throw InternalProtocolError("the body is signed as \(signed.prefix(64)), not as the chunk \(id)")
            }
            hintFor = try wire.node("hint_for")
            switch wire.query["repair"] {
            case nil: repair = false
            case "1": repair = true
            default: throw InternalProtocolError("repair must be 1 when present")
            }
            guard let length = wire.contentLength, (0...ChunkCalls.maxChunkBytes).contains(length) else {
                throw InternalProtocolError("a chunk needs a Content-Length of at most \(ChunkCalls.maxChunkBytes)")
            }
            payload = .stream(length: length, wire.body)
        }

        public var target: String { InternalJSON.target("/internal/v1/chunks/\(id.hex)", [("hint_for", hintFor?.rawValue), ("repair", repair ? "1" : nil)]) }
        public var body: ByteBuffer? {
            if case .bytes(let bytes) = payload { return bytes }
            return nil
        }
        /// A chunk's bytes hash to its id (the receiver checks them against both anyway).
        public var bodyDigest: String? { id.hex }

        public func serve(by peer: some PeerHandler) async throws -> Bool {
            switch payload {
            // Bytes that arrive are never trusted: both forms are hashed on the way into storage.
            case .bytes(let bytes): try await peer.putChunk(id, size: Int64(bytes.readableBytes), body: .bytes(bytes), hintFor: hintFor, repair: repair)
            case .stream(let length, let stream): try await peer.putChunk(id, size: length, body: .stream(stream), hintFor: hintFor, repair: repair)
            }
        }
    }

    /// A whole chunk from the peer as it is stored, or nil (`GET`, 404 when not held). The
    /// caller verifies it against its id before using a byte.
    public struct Get: InternalCall {
        public typealias Response = ByteBuffer?
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/chunks/:id"
        public static var absentIsAnswer: Bool { true }
        public var id: ChunkID
        /// The size the manifest gives: a longer answer is refused unread.
        public var size: Int64

        public init(_ id: ChunkID, size: Int64) {
            self.id = id
            self.size = size
        }

        public init(wire: InternalRequest) async throws {
            id = try wire.chunkID()
            size = ChunkCalls.maxChunkBytes
        }

        public var target: String { "/internal/v1/chunks/\(id.hex)" }
        public var maxResponseBytes: Int { Int(min(size, ChunkCalls.maxChunkBytes)) + 1 }
        /// Every caller verifies the bytes against the id (`NodeCalls.readChunk`).
        public var contentAddressedAnswer: String? { id.hex }

        public func serve(by peer: some PeerHandler) async throws -> ByteBuffer? {
            try await peer.chunkBytes(id, limit: Int(ChunkCalls.maxChunkBytes))
        }

        public static func encode(_ response: ByteBuffer?) throws -> InternalResponse {
            response.map { InternalResponse(status: 200, body: $0, contentType: "application/octet-stream") } ?? InternalResponse(status: 404)
        }

        public static func decode(_ response: InternalResponse) throws -> ByteBuffer? {
            response.status == 404 ? nil : response.body
        }
    }

    /// Has the peer re-read and re-hash its copy, deleting it when bad (`POST …/verify`); true when good.
    public struct Verify: JSONCall {
        public typealias Response = Bool
        public static let method = InternalMethod.post
        public static let route = "/internal/v1/chunks/:id/verify"
        public var id: ChunkID

        public init(_ id: ChunkID) { self.id = id }
        public init(wire: InternalRequest) async throws { id = try wire.chunkID() }
        public var target: String { "/internal/v1/chunks/\(id.hex)/verify" }

        public func serve(by peer: some PeerHandler) async throws -> Bool { try await peer.verifyChunk(id) }
    }
}
