import AsyncHTTPClient
import Basics
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Ring

/// Why a call to another agent failed.
public struct PeerError: Error, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Could not connect, or the connection broke or timed out.
        case unreachable
        /// The peer answered with an error status.
        case refused
        /// The peer's answer was not what the protocol says.
        case invalidResponse
    }

    public var code: Code
    public var node: NodeID
    public var status: Int?
    public var message: String
    public var description: String { "\(node): \(message)" }

    /// `error` as a PeerError (other errors become `refused`).
    static func from(_ error: any Error, node: NodeID) -> PeerError {
        error as? PeerError ?? PeerError(code: .refused, node: node, message: "\(error)")
    }
}

/// Calls other agents' internal API (`/internal/v1`), every request signed with `InternalAuth`.
/// One pooled HTTP client for the whole agent; bodies are small (manifests, lists) or one chunk.
/// `HTTPTransport` is its one user: the typed calls of the internal protocol ride on it.
public final class PeerClient: Sendable {
    let http: HTTPClient
    let auth: InternalAuth
    let selfID: NodeID
    let requestTimeout: TimeAmount
    /// "https" when peers speak TLS.
    let scheme: String

    /// `idleTimeout` must stay below the peers' own idle timeout (`limits.idle_timeout`), so a
    /// pooled connection is never reused just as the other end closes it.
    public init(
        selfID: NodeID, auth: InternalAuth, tls: TLSConfiguration? = nil,
        connectTimeout: Duration = .seconds(2), requestTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(30)
    ) {
        scheme = tls == nil ? "http" : "https"
        self.selfID = selfID
        self.auth = auth
        self.requestTimeout = TimeAmount(requestTimeout)
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: TimeAmount(connectTimeout), read: TimeAmount(requestTimeout)),
            connectionPool: .init(idleTimeout: TimeAmount(idleTimeout), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        )
        // A dead peer must fail fast so the write falls through to the next node.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        configuration.tlsConfiguration = tls
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes pooled connections (once, at shutdown).
    public func shutdown() async throws { try await http.shutdown() }

    /// Sends a signed request to `node` at `address` and returns status and (bounded) body, once
    /// the answer's signature (over this request's nonce, the status and the body) checks out.
    /// `bodyDigest` is the body's SHA-256 when the caller already knows it (a chunk's is its id).
    func call(
        _ method: HTTPMethod, node: NodeID, address: String, target: String, body: ByteBuffer? = nil, bodyDigest: String? = nil,
        contentAddressedAnswer: String? = nil,
        headers extra: [(String, String)] = [], maxResponseBytes: Int = 16 << 20
    ) async throws(PeerError) -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "\(scheme)://\(address)\(target)")
        request.method = method
        let nonce = InternalAuth.makeNonce()
        let digest = bodyDigest ?? body.map(InternalAuth.digest) ?? InternalAuth.emptyDigest
        for (name, value) in auth.sign(method: method.rawValue, target: target, node: selfID, milliseconds: Self.nowMilliseconds(), nonce: nonce, bodyDigest: digest) {
            request.headers.add(name: name, value: value)
        }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(body)
            request.headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: requestTimeout)
        } catch {
            throw PeerError(code: .unreachable, node: node, message: "\(method) \(target): \(error)")
        }
        var collected = ByteBuffer()
        do {
            // Into one buffer of the announced size: collecting by doubling would copy a 5 MiB
            // chunk about twice more on its way in (and fault in fresh pages for each copy).
            if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > 0, length <= maxResponseBytes {
                collected.reserveCapacity(length)
            }
            for try await part in response.body {
                guard collected.readableBytes + part.readableBytes <= maxResponseBytes else { throw NIOTooManyBytesError(maxBytes: maxResponseBytes) }
                collected.writeImmutableBuffer(part)
            }
        } catch {
            throw PeerError(code: .unreachable, node: node, status: Int(response.status.code), message: "\(method) \(target): body: \(error)")
        }
        let status = Int(response.status.code)
        do {
            // A content-addressed answer signed as its address is checked by the caller, against
            // that address, before it is used; any other is hashed here.
            let declared = response.headers.first(name: InternalAuth.digestHeader)?.lowercased()
            let actual = status == 200 && contentAddressedAnswer != nil && declared == contentAddressedAnswer ? declared! : InternalAuth.digest(collected)
            try auth.verifyResponse(nonce: nonce, status: status, header: { response.headers.first(name: $0) }, bodyDigest: actual)
        } catch {
            throw PeerError(
                code: .invalidResponse, node: node, status: status,
                message: "\(method) \(target): the answer (\(status)) is not signed by the cluster: \(String(buffer: collected).prefix(300))"
            )
        }
        return (status, response.headers, collected)
    }

    static func nowMilliseconds() -> Int64 { Int64(HybridClock.systemMilliseconds()) }
}
