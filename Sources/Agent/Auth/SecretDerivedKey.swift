import Crypto
import Foundation

/// A key derived (HKDF-SHA256) from the cluster secret for one purpose, and the same from the
/// previous secret while a rotation rolls out: what is made now uses `current`; what arrives
/// may have been made under either (`accepted`).
struct SecretDerivedKey: Sendable {
    let current: SymmetricKey
    let previous: SymmetricKey?

    /// `purpose` (the HKDF salt) keeps keys for different uses apart; `info` binds the cluster.
    init(secret: String, previousSecret: String?, purpose: String, info: String) {
        func derive(_ secret: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)), salt: Data(purpose.utf8), info: Data(info.utf8), outputByteCount: 32)
        }
        current = derive(secret)
        previous = previousSecret.map(derive)
    }

    /// The keys to try on something received, current first.
    var accepted: [SymmetricKey] { [current] + (previous.map { [$0] } ?? []) }
}
