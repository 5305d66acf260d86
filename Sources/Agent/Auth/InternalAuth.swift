import Basics
import Crypto
import Foundation
import NIOCore
import Ring

/// Authenticates agent-to-agent calls (`/internal/v1/…`, DESIGN.md §17), both ways.
///
/// A request carries an HMAC-SHA256 over method, path and query, timestamp, a random nonce, the
/// calling node and the SHA-256 of its body. The receiver refuses timestamps more than 5 minutes
/// from its clock and nonces it has seen (`ReplayGuard`), and checks the body against the signed
/// digest as it streams in. The answer carries an HMAC over the request's nonce, the status and
/// the answer body's digest, so a man in the middle can neither replay, alter nor forge a call
/// or its answer. The key is derived (HKDF) from the cluster secret and differs from gossip's.
public struct InternalAuth: Sendable {
    public static let dateHeader = "X-Filestore-Date"
    public static let nodeHeader = "X-Filestore-Node"
    public static let nonceHeader = "X-Filestore-Nonce"
    public static let digestHeader = "X-Filestore-Content-SHA256"
    public static let signatureHeader = "X-Filestore-Signature"
    public static let maxSkewMilliseconds: Int64 = 5 * 60 * 1000
    /// The SHA-256 of no bytes: the digest of a call without a body.
    public static let emptyDigest = Hex.encode(SHA256.hash(data: Data()))

    private let keys: SecretDerivedKey
    private var key: SymmetricKey { keys.current }

    /// `previousSecret` is also accepted (never used to sign) while a secret rotation rolls out.
    public init(clusterName: String, secret: String, previousSecret: String? = nil) {
        keys = SecretDerivedKey(secret: secret, previousSecret: previousSecret, purpose: "filestore internal api", info: "v2 \(clusterName)")
    }

    /// What a verified request said about itself.
    public struct Verified: Sendable, Equatable {
        public var node: NodeID
        public var nonce: String
        /// The SHA-256 (hex) the body must have; the receiver checks it as the body arrives.
        public var bodyDigest: String
        /// The request's timestamp: the nonce must be remembered until it is too old to replay.
        public var milliseconds: Int64
    }

    /// Why a call (or an answer) was refused.
    public enum Failure: Error, Equatable {
        case missing, malformed, skewed, badSignature, replayed
    }

    /// A fresh random nonce (128 bits, hex).
    public static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The headers for a request from `node` (`target` is the path with its query).
    public func sign(
        method: String, target: String, node: NodeID, milliseconds: Int64, nonce: String = makeNonce(), bodyDigest: String = emptyDigest
    ) -> [(String, String)] {
        let fields = RequestFields(method: method, target: target, date: String(milliseconds), nonce: nonce, node: node.rawValue, digest: bodyDigest)
        return [
            (Self.dateHeader, fields.date), (Self.nodeHeader, fields.node), (Self.nonceHeader, nonce), (Self.digestHeader, bodyDigest),
            (Self.signatureHeader, Self.mac(key, fields.message)),
        ]
    }

    /// Checks the headers of an incoming call. The nonce is not yet remembered: the caller passes
    /// the result to `ReplayGuard.admit` (only signed nonces, so nobody without the key can fill it).
    public func verify(method: String, target: String, header: (String) -> String?, nowMilliseconds: Int64) throws(Failure) -> Verified {
        guard let date = header(Self.dateHeader), let nodeText = header(Self.nodeHeader), let nonce = header(Self.nonceHeader),
              let digest = header(Self.digestHeader), let signature = header(Self.signatureHeader)
        else { throw .missing }
        guard let milliseconds = Int64(date), let node = NodeID(nodeText), Self.isHex(nonce, count: 16...64), Self.isHex(digest, count: 64...64) else {
            throw .malformed
        }
        // Subtraction of two client numbers: compared without overflow.
        let (difference, overflow) = milliseconds.subtractingReportingOverflow(nowMilliseconds)
        guard !overflow, difference.magnitude <= Self.maxSkewMilliseconds.magnitude else { throw .skewed }
        let fields = RequestFields(method: method, target: target, date: date, nonce: nonce, node: nodeText, digest: digest)
        guard matches(signature, fields.message) else { throw .badSignature }
        return Verified(node: node, nonce: nonce, bodyDigest: digest.lowercased(), milliseconds: milliseconds)
    }

    /// The headers for the answer to the request with `nonce`.
    public func signResponse(nonce: String, status: Int, bodyDigest: String) -> [(String, String)] {
        [(Self.digestHeader, bodyDigest), (Self.signatureHeader, Self.mac(key, Self.responseMessage(nonce: nonce, status: status, digest: bodyDigest)))]
    }

    /// Checks an answer to the request sent with `nonce`: its signature over status and the
    /// digest it declares, and that the body received has that digest.
    public func verifyResponse(nonce: String, status: Int, header: (String) -> String?, bodyDigest actual: String) throws(Failure) {
        guard let digest = header(Self.digestHeader), let signature = header(Self.signatureHeader) else { throw .missing }
        guard matches(signature, Self.responseMessage(nonce: nonce, status: status, digest: digest)),
              Self.constantTimeEqual(digest.lowercased(), actual)
        else { throw .badSignature }
    }

    /// The SHA-256 of `buffer`'s readable bytes, hex.
    public static func digest(_ buffer: ByteBuffer) -> String {
        buffer.withUnsafeReadableBytes { Hex.encode(SHA256.hash(data: $0)) }
    }

    private struct RequestFields {
        var method, target, date, nonce, node, digest: String
        var message: String { "filestore-request-v2\n\(method)\n\(target)\n\(date)\n\(nonce)\n\(node)\n\(digest)" }
    }

    private static func responseMessage(nonce: String, status: Int, digest: String) -> String {
        "filestore-response-v2\n\(nonce)\n\(status)\n\(digest)"
    }

    private func matches(_ signature: String, _ message: String) -> Bool {
        for candidate in keys.accepted where Self.constantTimeEqual(Self.mac(candidate, message), signature) {
            return true
        }
        return false
    }

    private static func mac(_ key: SymmetricKey, _ message: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }

    private static func isHex(_ text: String, count: ClosedRange<Int>) -> Bool {
        count.contains(text.utf8.count) && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0 | 0x20) }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
