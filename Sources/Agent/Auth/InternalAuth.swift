import Basics
import Crypto
import Foundation
import Ring

/// Authenticates agent-to-agent calls (`/internal/v1/…`, DESIGN.md §10): an HMAC-SHA256 over
/// method, path and query, date and calling node, under a key derived (HKDF) from the cluster
/// secret — a different key from gossip's, so neither credential opens the other door. Dates
/// more than 5 minutes from local time are refused.
public struct InternalAuth: Sendable {
    public static let dateHeader = "X-Filestore-Date"
    public static let nodeHeader = "X-Filestore-Node"
    public static let signatureHeader = "X-Filestore-Signature"
    public static let maxSkewMilliseconds: Int64 = 5 * 60 * 1000

    private let key: SymmetricKey
    private let previousKey: SymmetricKey?

    /// `previousSecret` is also accepted (never used to sign) while a secret rotation rolls out.
    public init(clusterName: String, secret: String, previousSecret: String? = nil) {
        func derive(_ secret: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)), salt: Data("filestore internal api".utf8),
                info: Data("v1 \(clusterName)".utf8), outputByteCount: 32
            )
        }
        key = derive(secret)
        previousKey = previousSecret.map(derive)
    }

    /// The three headers for a request from `node` (`target` is the path with its query).
    public func sign(method: String, target: String, node: NodeID, milliseconds: Int64) -> [(String, String)] {
        [
            (Self.dateHeader, String(milliseconds)), (Self.nodeHeader, node.rawValue),
            (Self.signatureHeader, Self.mac(key, method: method, target: target, node: node.rawValue, date: String(milliseconds))),
        ]
    }

    /// Why a call was refused.
    public enum Failure: Error, Equatable {
        case missing, malformed, skewed, badSignature
    }

    /// Checks the headers of an incoming call; returns the calling node.
    public func verify(method: String, target: String, header: (String) -> String?, nowMilliseconds: Int64) throws(Failure) -> NodeID {
        guard let date = header(Self.dateHeader), let nodeText = header(Self.nodeHeader), let signature = header(Self.signatureHeader) else { throw .missing }
        guard let milliseconds = Int64(date), let node = NodeID(nodeText) else { throw .malformed }
        guard abs(milliseconds - nowMilliseconds) <= Self.maxSkewMilliseconds else { throw .skewed }
        for candidate in [key] + (previousKey.map { [$0] } ?? []) {
            let expected = Self.mac(candidate, method: method, target: target, node: nodeText, date: date)
            if Self.constantTimeEqual(expected, signature) { return node }
        }
        throw .badSignature
    }

    private static func mac(_ key: SymmetricKey, method: String, target: String, node: String, date: String) -> String {
        let message = "\(method)\n\(target)\n\(date)\n\(node)"
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
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
