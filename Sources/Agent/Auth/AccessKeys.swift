import Basics
import Crypto
import Foundation

/// S3 access keys (DESIGN.md §16): an id and a secret per key, any number per user. The secret
/// is shown once, when the key is made, and stored only sealed (`AccessKeySealer`): SigV4 needs
/// the secret itself to check a signature, so a hash would not do, but a copy of a metadata
/// shard or of a peer's global sync gives nothing without the cluster secret.
public struct AccessKeys: Sendable {
    let metadata: MetadataStore
    let clock: HybridClock
    let sealer: AccessKeySealer

    public init(metadata: MetadataStore, clock: HybridClock, sealer: AccessKeySealer) {
        self.metadata = metadata
        self.clock = clock
        self.sealer = sealer
    }

    /// The most keys one user may hold (each is a global record every node keeps).
    public static let maxPerUser = 100

    /// A new key for `user`: the secret (shown once) and the record to store.
    public func make(for user: UserRecord) throws -> (secret: String, record: AccessKeyRecord) {
        var random = SystemRandomNumberGenerator()
        let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let id = "FS" + String((0..<18).map { _ in base32[Int.random(in: 0..<32, using: &random)] })
        let alphanumeric = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let secret = String((0..<40).map { _ in alphanumeric[Int.random(in: 0..<alphanumeric.count, using: &random)] })
        let sealed = try sealer.seal(secret, id: id, userID: user.id)
        let record = AccessKeyRecord(
            id: id, user: user.name, userID: user.id, sealedSecret: sealed, createdAt: Int64(HybridClock.systemMilliseconds()), version: clock.now()
        )
        return (secret, record)
    }

    /// The live keys of `user`, oldest first.
    public func keys(of user: UserRecord) async throws -> [AccessKeyRecord] {
        try await metadata.globalRecords().accessKeys.filter { $0.belongs(to: user) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// The user and secret behind an access key id, for checking a signature; nil when the key
    /// is unknown, deleted, its user gone, or its secret cannot be opened.
    public func credentials(forAccessKey id: String) async throws -> (user: UserRecord, secret: String)? {
        guard id.utf8.count <= 128, let key = try await metadata.accessKey(id: id), !key.deleted,
            let user = try await metadata.user(key.user), key.belongs(to: user),
            let secret = sealer.open(key.sealedSecret, id: key.id, userID: key.userID)
        else { return nil }
        return (user, secret)
    }

    /// The live keys still sealed under the previous cluster secret, sealed again under the
    /// current one (new versions, to publish): run while a rotation rolls out, so that keys made
    /// before it keep working once `previous_secret` is removed. Empty when there is no rotation.
    public func resealedUnderCurrentSecret() async throws -> [AccessKeyRecord] {
        guard sealer.isRotating else { return [] }
        return try await metadata.globalRecords().accessKeys.filter { !$0.deleted }.compactMap { key in
            guard let sealed = try sealer.reseal(key.sealedSecret, id: key.id, userID: key.userID) else { return nil }
            var record = key
            record.sealedSecret = sealed
            record.version = clock.now()
            return record
        }
    }
}

/// Seals access key secrets with AES-256-GCM under a key derived (HKDF) from the cluster
/// secret, bound to the key's id and user id (so a sealed secret moved to another record does
/// not open). While a secret rotation rolls out, secrets sealed under the previous cluster
/// secret still open; new ones are sealed under the current one.
public struct AccessKeySealer: Sendable {
    private let keys: SecretDerivedKey

    public init(clusterName: String, secret: String, previousSecret: String? = nil) {
        keys = SecretDerivedKey(secret: secret, previousSecret: previousSecret, purpose: "filestore access key sealing", info: "v1 \(clusterName)")
    }

    private static func context(id: String, userID: String) -> Data { Data("access key\u{0}\(id)\u{0}\(userID)".utf8) }

    /// base64 of nonce, ciphertext and tag.
    public func seal(_ secret: String, id: String, userID: String) throws -> String {
        try AES.GCM.seal(Data(secret.utf8), using: keys.current, authenticating: Self.context(id: id, userID: userID)).combined!.base64EncodedString()
    }

    /// Whether a previous cluster secret is still accepted (a rotation is rolling out).
    var isRotating: Bool { keys.previous != nil }

    /// The secret sealed anew under the current cluster secret when it opens only under the
    /// previous one; nil when it is sealed under the current one already, or does not open.
    func reseal(_ sealed: String, id: String, userID: String) throws -> String? {
        guard let previous = keys.previous, let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data) else { return nil }
        let context = Self.context(id: id, userID: userID)
        guard (try? AES.GCM.open(box, using: keys.current, authenticating: context)) == nil,
            let plain = try? AES.GCM.open(box, using: previous, authenticating: context), let secret = String(data: plain, encoding: .utf8)
        else { return nil }
        return try seal(secret, id: id, userID: userID)
    }

    /// The secret, or nil when the box is not one this cluster sealed for this key.
    public func open(_ sealed: String, id: String, userID: String) -> String? {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data) else { return nil }
        for key in keys.accepted {
            if let plain = try? AES.GCM.open(box, using: key, authenticating: Self.context(id: id, userID: userID)) { return String(data: plain, encoding: .utf8) }
        }
        return nil
    }
}
