import Basics
import ByteStreams
import Foundation
import NIOCore

/// The internal (agent-to-agent) protocol, one type per call. A call type says everything about
/// its call in one place: method, route, how it is written as a request target and body, how the
/// receiving node decodes it, what it does there (`serve`), and how its answer travels. The
/// client (`HTTPTransport`), the server (`InternalRoutes`) and the in-process transport of the
/// coordinator tests all go through these, so the protocol is written once.
public protocol InternalCall: Sendable {
    associatedtype Response: Sendable

    /// The HTTP method.
    static var method: InternalMethod { get }
    /// The route pattern the server registers, `:name` for a path parameter.
    static var route: String { get }
    /// Whether a 404 is an answer ("not held") rather than a failure.
    static var absentIsAnswer: Bool { get }
    /// The media type of the request body.
    static var bodyType: String { get }

    /// The request target: the path with its parameters filled in, and the query.
    var target: String { get }
    /// The request body, if any.
    var body: ByteBuffer? { get }
    /// The body's SHA-256 (hex) when known without hashing it; nil to have it computed.
    var bodyDigest: String? { get }
    /// The largest answer the client accepts.
    var maxResponseBytes: Int { get }

    /// The SHA-256 (hex) a successful answer's body has by the call's own terms — a chunk's is
    /// its id — or nil. The answer is then signed over it without hashing the body, and the
    /// caller takes the check of the content it makes anyway (against that same digest) as the
    /// check of the body: a call may name one only if every caller makes that check.
    var contentAddressedAnswer: String? { get }
    /// Whether the request body is checked against the call's own content address by the call
    /// itself (a chunk's bytes against its id, before anything is committed): the receiver then
    /// leaves it unhashed and hands the signed digest over in `InternalRequest.uncheckedBodyDigest`.
    static var contentAddressedBody: Bool { get }

    /// Decodes the call on the receiving node; throws `InternalProtocolError` for a malformed one.
    init(wire: InternalRequest) async throws

    /// Carries the call out on the receiving node.
    func serve(by peer: some PeerHandler) async throws -> Response

    /// The answer as it travels, and back.
    static func encode(_ response: Response) throws -> InternalResponse
    static func decode(_ response: InternalResponse) throws -> Response
}

extension InternalCall {
    public static var absentIsAnswer: Bool { false }
    public static var bodyType: String { "application/json" }
    public var body: ByteBuffer? { nil }
    public var bodyDigest: String? { nil }
    public var contentAddressedAnswer: String? { nil }
    public static var contentAddressedBody: Bool { false }
    public var maxResponseBytes: Int { 16 << 20 }
}

/// A call whose answer is JSON (the body, when it has one, is JSON too).
public protocol JSONCall: InternalCall where Response: Codable {}

extension JSONCall {
    public static func encode(_ response: Response) throws -> InternalResponse {
        InternalResponse(status: 200, body: ByteBuffer(bytes: try InternalJSON.encoder.encode(response)))
    }

    public static func decode(_ response: InternalResponse) throws -> Response {
        try InternalJSON.decode(Response.self, response.body)
    }
}

/// The HTTP methods the internal protocol uses.
public enum InternalMethod: String, Sendable {
    case get = "GET", head = "HEAD", put = "PUT", post = "POST"
}

/// A call as it arrives: path parameters (by the route's `:name`s), the decoded query, and the body.
public struct InternalRequest: Sendable {
    public var parameters: [String: String]
    public var query: [String: String]
    public var contentLength: Int64?
    public var body: AnySendableByteSequence
    /// For a `contentAddressedBody` call over the network: the SHA-256 the sender signed, which
    /// the transport did not check; the call must check the body against it itself.
    public var uncheckedBodyDigest: String?

    public init(parameters: [String: String], query: [String: String], contentLength: Int64?, body: AnySendableByteSequence, uncheckedBodyDigest: String? = nil) {
        self.parameters = parameters
        self.query = query
        self.contentLength = contentLength
        self.body = body
        self.uncheckedBodyDigest = uncheckedBodyDigest
    }

    /// A path parameter, or a malformed-call error naming it.
    public func parameter(_ name: String) throws -> String {
        guard let value = parameters[name] else { throw InternalProtocolError("missing path parameter \(name)") }
        return value
    }

    /// A chunk id path parameter.
    public func chunkID(_ name: String = "id") throws -> ChunkID {
        guard let id = ChunkID(try parameter(name)) else { throw InternalProtocolError("\(name) is not a chunk id") }
        return id
    }

    /// An optional node id query parameter.
    public func node(_ name: String) throws -> NodeID? {
        guard let text = query[name] else { return nil }
        guard let node = NodeID(text) else { throw InternalProtocolError("\(name) is not a node id") }
        return node
    }

    /// The whole body (at most `limit` bytes).
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await buffer in body {
            guard collected.readableBytes + buffer.readableBytes <= limit else { throw InternalProtocolError("the body is over \(limit) bytes") }
            var buffer = buffer
            collected.writeBuffer(&buffer)
        }
        return collected
    }

    /// The body decoded as JSON (at most `limit` bytes).
    public func json<T: Decodable>(_ type: T.Type, upTo limit: Int = 16 << 20) async throws -> T {
        try InternalJSON.decode(T.self, try await collect(upTo: limit))
    }
}

/// An answer as it travels: a status and a body (JSON unless said otherwise).
public struct InternalResponse: Sendable {
    public var status: Int
    public var body: ByteBuffer
    public var contentType: String
    /// The call's `contentAddressedAnswer`, set by the receiving side: the answer is signed over it.
    public var declaredDigest: String?

    public init(status: Int, body: ByteBuffer = ByteBuffer(), contentType: String = "application/json") {
        self.status = status
        self.body = body
        self.contentType = contentType
    }
}

/// A call that does not follow the protocol (bad parameter, bad JSON, body too large): a 400.
public struct InternalProtocolError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The protocol's JSON coding, and the query text of its targets.
public enum InternalJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Encodes a request body.
    public static func body(_ value: some Encodable) -> ByteBuffer {
        // Encoding the protocol's own value types cannot fail; an empty body is the impossible fallback.
        ByteBuffer(bytes: (try? encoder.encode(value)) ?? Data())
    }

    /// Decodes `bytes` as `T`, or throws a protocol error saying what was wrong.
    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
        } catch {
            throw InternalProtocolError("not valid \(T.self) JSON: \(error)")
        }
    }

    /// `path?name=value&…` with every part percent-encoded; nil values are left out.
    public static func target(_ path: String, _ query: [(String, String?)]) -> String {
        let pairs = query.compactMap { name, value in value.map { "\(name)=\(PercentEncoding.encode($0, keepSlash: false))" } }
        return pairs.isEmpty ? path : path + "?" + pairs.joined(separator: "&")
    }
}
