import Crypto

extension Gossip {
    /// Seals packets with AES-GCM under a key derived (HKDF-SHA256) from the cluster secret, with
    /// the cluster name as authenticated data. A second (previous) secret is accepted when opening,
    /// so the secret can be rotated node by node.
    ///
    /// Sealed layout: `[0xF1][nonce 12][ciphertext][tag 16]`; the plaintext starts with the
    /// sender's wall-clock milliseconds, which the receiver's `NonceWindow` checks.
    public struct Sealer: Sendable {
        /// Bytes sealing adds to a packet.
        public static let overhead = 1 + 12 + 16 + 8
        private static let marker: UInt8 = 0xF1

        private let key: SymmetricKey
        private let previousKey: SymmetricKey?
        private let clusterName: [UInt8]

        public init(clusterName: String, secret: String, previousSecret: String? = nil) {
            self.clusterName = Array(clusterName.utf8)
            self.key = Sealer.deriveKey(secret)
            self.previousKey = previousSecret.map(Sealer.deriveKey)
        }

        private static func deriveKey(_ secret: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)), salt: Array("filestore-gossip-v1".utf8),
                info: Array("packet-key".utf8), outputByteCount: 32
            )
        }

        /// Seals `packet`, stamping it with `wallMilliseconds`.
        public func seal(_ packet: [UInt8], wallMilliseconds: UInt64) -> [UInt8] {
            var plaintext = WireWriter()
            plaintext.u64(wallMilliseconds)
            plaintext.append(packet)
            // AES-GCM with a random nonce and valid inputs cannot fail.
            let box = try! AES.GCM.seal(plaintext.bytes, using: key, nonce: AES.GCM.Nonce(), authenticating: clusterName)
            return [Sealer.marker] + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        }

        /// Opens a sealed packet: its sender timestamp, nonce and the packet inside, and whether it
        /// was sealed under the previous secret (its sender has not moved to the current one).
        public func open(_ sealed: [UInt8]) throws(WireError) -> (wallMilliseconds: UInt64, nonce: [UInt8], packet: [UInt8], underPreviousSecret: Bool) {
            guard sealed.count >= Sealer.overhead, sealed[0] == Sealer.marker else { throw .unauthenticated }
            let nonceBytes = Array(sealed[1..<13])
            guard let nonce = try? AES.GCM.Nonce(data: nonceBytes),
                  let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: sealed[13..<(sealed.count - 16)], tag: sealed[(sealed.count - 16)...])
            else { throw .unauthenticated }
            for (candidate, isPrevious) in [(key, false), previousKey.map { ($0, true) }].compactMap({ $0 }) {
                if let plaintext = try? AES.GCM.open(box, using: candidate, authenticating: clusterName) {
                    var reader = WireReader(Array(plaintext))
                    let stamp = try reader.u64()
                    return (stamp, nonceBytes, Array(plaintext.dropFirst(8)), isPrevious)
                }
            }
            throw .unauthenticated
        }
    }
}
