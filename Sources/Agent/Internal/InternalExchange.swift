import Basics
import ByteStreams
import Foundation
import NIOCore

/// The two halves of carrying out a call, shared by every transport: the receiving side
/// (decode, serve, encode, with every failure turned into a status) and the calling side (check
/// the status, decode the answer, or say why the peer refused).
public enum InternalExchange {
    /// Decodes `wire` as a `C`, has `peer` serve it, and encodes the answer. Never throws: a
    /// malformed call is a 400, a chunk that fails verification a 422, a version from the future
    /// a 409, anything else a 500 (whose details stay in the receiver's log).
    public static func serve<C: InternalCall>(_ type: C.Type, _ wire: InternalRequest, by peer: some PeerHandler) async -> InternalResponse {
        do {
            let call = try await C(wire: wire)
            var response = try C.encode(try await call.serve(by: peer))
            if response.status == 200 { response.declaredDigest = call.contentAddressedAnswer }
            return response
        } catch {
            return failure(error)
        }
    }

    /// The status and error body for an error a call threw on the receiving side.
    public static func failure(_ error: any Error) -> InternalResponse {
        let (status, code): (Int, String) = switch error {
        case is InternalProtocolError: (400, "bad_request")
        case let error as BlobStoreError where error.code == .integrity: (422, "checksum_mismatch")
        case is ClockSkewError: (409, "conflict")
        case is CollectedGarbageError: (409, "collected")
        default: (500, "internal")
        }
        let body = InternalJSON.body(["error": ["code": code, "message": "\(error)"]])
        return InternalResponse(status: status, body: body)
    }

    /// The typed answer of `node` to a `C`, or the `PeerError` saying why there is none.
    public static func answer<C: InternalCall>(_ type: C.Type, _ response: InternalResponse, from node: NodeID, target: String) throws(PeerError) -> C.Response {
        guard (200..<300).contains(response.status) || (C.absentIsAnswer && response.status == 404) else {
            throw PeerError(code: .refused, node: node, status: response.status, message: "\(target) answered \(response.status): \(String(buffer: response.body).prefix(300))")
        }
        do {
            return try C.decode(response)
        } catch {
            throw PeerError(code: .invalidResponse, node: node, status: response.status, message: "\(target): cannot decode answer: \(error)")
        }
    }
}

extension InternalRequest {
    /// The call `target` (path and query, as sent) names on `route`: its path parameters and its
    /// decoded query. Throws for a target that does not fit the route or has a bad escape.
    public init(route: String, target: String, contentLength: Int64?, body: AnySendableByteSequence, uncheckedBodyDigest: String? = nil) throws {
        let (path, query) = target.firstIndex(of: "?").map { (target[..<$0], target[target.index(after: $0)...]) } ?? (target[...], ""[...])
        let pattern = route.split(separator: "/", omittingEmptySubsequences: false)
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard pattern.count == segments.count else { throw InternalProtocolError("\(path) does not match \(route)") }
        var parameters: [String: String] = [:]
        for (expected, segment) in zip(pattern, segments) {
            if expected.hasPrefix(":") {
                parameters[String(expected.dropFirst())] = try Self.decode(segment)
            } else if expected != segment {
                throw InternalProtocolError("\(path) does not match \(route)")
            }
        }
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[try Self.decode(pieces[0])] = try Self.decode(pieces.count > 1 ? pieces[1] : "")
        }
        self.init(parameters: parameters, query: values, contentLength: contentLength, body: body, uncheckedBodyDigest: uncheckedBodyDigest)
    }

    private static func decode(_ text: Substring) throws -> String {
        guard let bytes = PercentEncoding.decodeBytes(text), let decoded = String(validating: bytes, as: UTF8.self) else {
            throw InternalProtocolError("bad percent-escape or invalid UTF-8 in \"\(text.prefix(100))\"")
        }
        return decoded
    }
}

/// A body that is one buffer (or none), as a byte stream.
public struct OneBuffer: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let buffer: ByteBuffer?

    public init(_ buffer: ByteBuffer?) { self.buffer = buffer }

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    public struct Iterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? {
            defer { buffer = nil }
            return buffer
        }
    }
}
