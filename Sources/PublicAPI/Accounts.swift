/// What a user may do: admins manage users and see every namespace.
public enum Role: String, Codable, Sendable, CaseIterable {
    case admin, user
}

/// The body of `POST /api/v1/auth/tokens` (optional).
public struct TokenRequest: Codable, Equatable, Sendable {
    public var ttlSeconds: Int?

    public init(ttlSeconds: Int? = nil) { self.ttlSeconds = ttlSeconds }

    enum CodingKeys: String, CodingKey { case ttlSeconds = "ttl_seconds" }
}

/// A new bearer token: shown once, stored only as a hash.
public struct TokenGrant: Codable, Equatable, Sendable {
    public var token: String
    /// RFC 3339.
    public var expiresAt: String

    public init(token: String, expiresAt: String) {
        self.token = token
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey { case token; case expiresAt = "expires_at" }
}

/// A bearer token as `GET /api/v1/auth/tokens` shows it: never the token itself.
public struct TokenInfo: Codable, Equatable, Sendable {
    /// The token's SHA-256 (hex): what `DELETE /api/v1/auth/tokens/{id}` names.
    public var id: String
    public var user: String
    /// RFC 3339.
    public var expiresAt: String
    /// The token this request came with.
    public var current: Bool

    public init(id: String, user: String, expiresAt: String, current: Bool) {
        self.id = id
        self.user = user
        self.expiresAt = expiresAt
        self.current = current
    }

    enum CodingKeys: String, CodingKey { case id, user, current; case expiresAt = "expires_at" }
}

/// `GET /api/v1/auth/tokens`: the caller's live tokens (every user's for an admin), soonest to expire first.
public struct TokenList: Codable, Equatable, Sendable {
    public var tokens: [TokenInfo]

    public init(tokens: [TokenInfo]) { self.tokens = tokens }
}

/// A user as the API shows it (never its password hash).
public struct UserInfo: Codable, Equatable, Sendable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// `GET /api/v1/users`.
public struct UserList: Codable, Equatable, Sendable {
    public var users: [UserInfo]

    public init(users: [UserInfo]) { self.users = users }
}

/// The body of `POST /api/v1/users`.
public struct NewUser: Codable, Equatable, Sendable {
    public var name: String
    public var password: String
    /// Default `user`.
    public var role: Role?

    public init(name: String, password: String, role: Role? = nil) {
        self.name = name
        self.password = password
        self.role = role
    }
}

/// The body of `PATCH /api/v1/users/{name}`: what to change.
public struct UserChange: Codable, Equatable, Sendable {
    /// The new password: every other token of the user stops working.
    public var password: String?
    /// Required when a user who is not an admin changes their own password.
    public var currentPassword: String?
    public var role: Role?

    public init(password: String? = nil, currentPassword: String? = nil, role: Role? = nil) {
        self.password = password
        self.currentPassword = currentPassword
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case password, role
        case currentPassword = "current_password"
    }
}

/// A new S3 access key (`POST /api/v1/users/{name}/keys`): the secret is shown this once.
public struct AccessKeyGrant: Codable, Equatable, Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// RFC 3339.
    public var createdAt: String

    public init(accessKeyID: String, secretAccessKey: String, createdAt: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case accessKeyID = "access_key_id"
        case secretAccessKey = "secret_access_key"
        case createdAt = "created_at"
    }
}

/// An S3 access key as `GET /api/v1/users/{name}/keys` shows it: never its secret.
public struct AccessKeyInfo: Codable, Equatable, Sendable {
    public var accessKeyID: String
    public var user: String
    /// RFC 3339.
    public var createdAt: String

    public init(accessKeyID: String, user: String, createdAt: String) {
        self.accessKeyID = accessKeyID
        self.user = user
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case user
        case accessKeyID = "access_key_id"
        case createdAt = "created_at"
    }
}

/// `GET /api/v1/users/{name}/keys`: the user's keys, oldest first.
public struct AccessKeyList: Codable, Equatable, Sendable {
    public var keys: [AccessKeyInfo]

    public init(keys: [AccessKeyInfo]) { self.keys = keys }
}
