/// What a user may do: admins manage users and see every namespace.
public enum Role: String, Codable, Sendable, CaseIterable {
    case admin, user
}

/// A user account, held by every node (DESIGN.md §8); deletion is a tombstone.
public struct UserRecord: Codable, Hashable, Sendable, LastWriterWins {
    public var name: String
    public var role: Role
    /// bcrypt hash of the password.
    public var passwordHash: String
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case name, role, version, deleted
        case passwordHash = "password_hash"
    }

    public init(name: String, role: Role, passwordHash: String, version: HybridTimestamp, deleted: Bool = false) {
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.version = version
        self.deleted = deleted
    }

    public var key: String { name }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(role.rawValue)\(passwordHash)" }

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
    /// Milliseconds since the Unix epoch after which the token is refused.
    public var expiresAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case hash, user, version, deleted
        case expiresAt = "expires_at_ms"
    }

    public init(hash: String, user: String, expiresAt: Int64, version: HybridTimestamp, deleted: Bool = false) {
        self.hash = hash
        self.user = user
        self.expiresAt = expiresAt
        self.version = version
        self.deleted = deleted
    }

    public var key: String { hash }
    public var tieBreak: String { "\(deleted ? 1 : 0)\(user)\(expiresAt)" }
}

/// Every global record a node holds: what nodes exchange to keep users and tokens everywhere.
public struct GlobalRecords: Codable, Sendable, Equatable {
    public var users: [UserRecord]
    public var tokens: [TokenRecord]

    public init(users: [UserRecord] = [], tokens: [TokenRecord] = []) {
        self.users = users
        self.tokens = tokens
    }
}
