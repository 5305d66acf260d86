import Gossip
import PublicAPI

/// A user account, held by every node (DESIGN.md §8); deletion is a tombstone.
public struct UserRecord: Codable, Hashable, Sendable, LastWriterWins {
    public var name: String
    /// Random, fixed when the user is created: a user deleted and created again under the same
    /// name is another user, and the old one's tokens name the old id.
    public var id: String
    /// Random, new at every password change: tokens carry the generation they were issued
    /// under, so a password change revokes every token issued before it.
    public var credentials: String
    public var role: Role
    /// bcrypt hash of the password.
    public var passwordHash: String
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case name, id, credentials, role, version, deleted
        case passwordHash = "password_hash"
    }

    public init(name: String, id: String, credentials: String, role: Role, passwordHash: String, version: HybridTimestamp, deleted: Bool = false) {
        self.name = name
        self.id = id
        self.credentials = credentials
        self.role = role
        self.passwordHash = passwordHash
        self.version = version
        self.deleted = deleted
    }

    /// Records written before ids existed decode with empty ones (their tokens, likewise, match).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? ""
        credentials = try container.decodeIfPresent(String.self, forKey: .credentials) ?? ""
        role = try container.decode(Role.self, forKey: .role)
        passwordHash = try container.decode(String.self, forKey: .passwordHash)
        version = try container.decode(HybridTimestamp.self, forKey: .version)
        deleted = try container.decode(Bool.self, forKey: .deleted)
    }

    public var key: String { name }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(role.rawValue)\(passwordHash)\(id)\(credentials)" }

    /// The owner key of a user's files (`Manifest.owner`): `~` and the user's random id, so a
    /// user deleted and created again under the same name starts with no files. Users recorded
    /// before ids existed keep their name; `~` cannot begin a name, so the two never collide.
    public static func namespaceKey(id: String, name: String) -> String { id.isEmpty ? name : "~" + id }

    /// The id every node gives the bootstrap admin it creates from FILESTORE_ADMIN_PASSWORD.
    public static let bootstrapAdminID = "bootstrap-admin"

    /// User names: 1-64 characters of a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) }
        return alphanumeric(bytes[0]) && bytes.allSatisfy { alphanumeric($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }
}

/// A bearer token, held by every node; only its SHA-256 is stored.
public struct TokenRecord: Codable, Hashable, Sendable, LastWriterWins {
    /// Hex SHA-256 of the token text.
    public var hash: String
    public var user: String
    /// The `UserRecord.id` and `credentials` it was issued under: it is refused once either changes.
    public var userID: String
    public var credentials: String
    /// Milliseconds since the Unix epoch after which the token is refused.
    public var expiresAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case hash, user, credentials, version, deleted
        case userID = "user_id"
        case expiresAt = "expires_at_ms"
    }

    public init(hash: String, user: String, userID: String, credentials: String, expiresAt: Int64, version: HybridTimestamp, deleted: Bool = false) {
        self.hash = hash
        self.user = user
        self.userID = userID
        self.credentials = credentials
        self.expiresAt = expiresAt
        self.version = version
        self.deleted = deleted
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hash = try container.decode(String.self, forKey: .hash)
        user = try container.decode(String.self, forKey: .user)
        userID = try container.decodeIfPresent(String.self, forKey: .userID) ?? ""
        credentials = try container.decodeIfPresent(String.self, forKey: .credentials) ?? ""
        expiresAt = try container.decode(Int64.self, forKey: .expiresAt)
        version = try container.decode(HybridTimestamp.self, forKey: .version)
        deleted = try container.decode(Bool.self, forKey: .deleted)
    }

    /// True when it was issued to this very user under its current password.
    public func belongs(to user: UserRecord) -> Bool {
        !user.deleted && user.name == self.user && user.id == userID && user.credentials == credentials
    }

    public var key: String { hash }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(user)\(expiresAt)" }
}

/// An admin's decision about a node's place in the ring: drain it, or remove it for good.
public struct RingStateRecord: Codable, Hashable, Sendable, LastWriterWins {
    public enum State: String, Codable, Sendable {
        /// Stop writing to it; move its data to the other owners; then it becomes `removed`.
        case draining
        /// Out of the ring; survivors re-replicate what it held.
        case removed

        var ringState: Gossip.RingState { self == .draining ? .leaving : .left }
    }

    public var node: String
    public var state: State
    public var version: HybridTimestamp
    /// A tombstone undoes the decision (the node may come back as a member).
    public var deleted: Bool = false

    public init(node: String, state: State, version: HybridTimestamp) {
        self.node = node
        self.state = state
        self.version = version
    }

    public var key: String { node }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(state.rawValue)" }
}

/// Every global record a node holds: what nodes exchange to keep users, tokens, S3 access keys
/// and buckets, and admins' ring decisions everywhere.
public struct GlobalRecords: Codable, Sendable, Equatable {
    public var users: [UserRecord]
    public var tokens: [TokenRecord]
    public var ringStates: [RingStateRecord]
    public var accessKeys: [AccessKeyRecord]
    public var buckets: [BucketRecord]

    enum CodingKeys: String, CodingKey {
        case users, tokens, buckets
        case ringStates = "ring_states"
        case accessKeys = "access_keys"
    }

    public init(
        users: [UserRecord] = [], tokens: [TokenRecord] = [], ringStates: [RingStateRecord] = [], accessKeys: [AccessKeyRecord] = [], buckets: [BucketRecord] = []
    ) {
        self.users = users
        self.tokens = tokens
        self.ringStates = ringStates
        self.accessKeys = accessKeys
        self.buckets = buckets
    }

    /// Kinds a peer does not know yet decode as none (a node of an older version sends fewer).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        users = try container.decodeIfPresent([UserRecord].self, forKey: .users) ?? []
        tokens = try container.decodeIfPresent([TokenRecord].self, forKey: .tokens) ?? []
        ringStates = try container.decodeIfPresent([RingStateRecord].self, forKey: .ringStates) ?? []
        accessKeys = try container.decodeIfPresent([AccessKeyRecord].self, forKey: .accessKeys) ?? []
        buckets = try container.decodeIfPresent([BucketRecord].self, forKey: .buckets) ?? []
    }

    /// Every record's version (what a receiver folds into its clock).
    public var versions: [HybridTimestamp] {
        users.map(\.version) + tokens.map(\.version) + ringStates.map(\.version) + accessKeys.map(\.version) + buckets.map(\.version)
    }
}
