import Foundation

/// An S3 access key of a user (DESIGN.md §16), held by every node. The secret is stored sealed
/// (`AccessKeySealer`): a copy of the metadata shard, or a peer's global sync, never shows it.
/// A key works only while its user exists with the same id: deleting the user ends its keys
/// even on a node that has not yet seen the keys' own tombstones.
public struct AccessKeyRecord: Codable, Hashable, Sendable, LastWriterWins {
    /// The access key id clients send (`FS` and 18 characters of A-Z 2-7).
    public var id: String
    public var user: String
    public var userID: String
    /// base64 of the AES-GCM box (nonce, ciphertext, tag) holding the secret; empty in a tombstone.
    public var sealedSecret: String
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case id, user, version, deleted
        case userID = "user_id"
        case sealedSecret = "sealed_secret"
        case createdAt = "created_at_ms"
    }

    public init(id: String, user: String, userID: String, sealedSecret: String, createdAt: Int64, version: HybridTimestamp, deleted: Bool = false) {
        self.id = id
        self.user = user
        self.userID = userID
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
        self.version = version
        self.deleted = deleted
    }

    /// True while it may sign requests for this very user.
    public func belongs(to user: UserRecord) -> Bool { !deleted && !user.deleted && user.name == self.user && user.id == userID }

    public var key: String { id }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(user)\(userID)\(sealedSecret)" }
    /// Key ids are random and never reused, and no operation undeletes a key: a delete stands
    /// against any copy, also one a re-seal stamped later on a node that had not seen it.
    public var isFinal: Bool { deleted }
}

/// An S3 bucket (DESIGN.md §16), held by every node: names are global, and the bucket's
/// objects are files of its owner under `name/`.
public struct BucketRecord: Codable, Hashable, Sendable, LastWriterWins {
    public var name: String
    public var owner: String
    public var ownerID: String
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case name, owner, version, deleted
        case ownerID = "owner_id"
        case createdAt = "created_at_ms"
    }

    public init(name: String, owner: String, ownerID: String, createdAt: Int64, version: HybridTimestamp, deleted: Bool = false) {
        self.name = name
        self.owner = owner
        self.ownerID = ownerID
        self.createdAt = createdAt
        self.version = version
        self.deleted = deleted
    }

    /// True while the bucket exists and belongs to this very user.
    public func isOwned(by user: UserRecord) -> Bool { !deleted && !user.deleted && user.name == owner && user.id == ownerID }

    public var key: String { name }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(owner)\(ownerID)\(createdAt)" }
}
