import PublicAPI
import Basics
import Crypto
import Foundation
import HummingbirdBcrypt
import Logging
import Synchronization

/// Who is making a request.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The user's stable id and credential generation (what a token made for it carries).
    public var id: String
    public var credentials: String
    /// The hash of the bearer token (or web session) the request came with; nil for a password.
    public var tokenHash: String?
    public var isAdmin: Bool { role == .admin }

    init(_ user: UserRecord, tokenHash: String? = nil) {
        name = user.name
        role = user.role
        id = user.id
        credentials = user.credentials
        self.tokenHash = tokenHash
    }
}

/// Users and bearer tokens (DESIGN.md §§8, 10): bcrypt password hashes, tokens stored as their
/// SHA-256 only, both held by every node as last-writer-wins records. Checking a password costs a
/// bcrypt round, so a successful check is remembered briefly (keyed by the stored hash, so a
/// password change takes effect at once).
public final class Accounts: Sendable {
    public static let bcryptCost: UInt8 = 10
    public static let defaultTokenLifetime: Duration = .seconds(30 * 24 * 3600)
    static let verifiedCacheLifetime: Int64 = 60_000

    let metadata: MetadataStore
    let clock: HybridClock
    let gate: PasswordGate
    private let passwordChecks = Mutex(PasswordChecks())
    /// Bearer tokens (and web sessions) already checked against the shard: principal, token expiry
    /// and the shard's `globalGeneration` when read. Used only while the generation is unchanged,
    /// so a revocation, a deleted user or a changed password (all merged into the shard, from this
    /// node or from gossip's sync) takes effect exactly as without the cache; it saves each request
    /// two shard reads.
    private let checkedTokens = Mutex<[String: (principal: Principal, expiresAt: Int64, generation: UInt64)]>([:])
    static let checkedTokensLimit = 10_000

    init(metadata: MetadataStore, clock: HybridClock, passwordLimits: PasswordGate.Limits = .init()) {
        self.metadata = metadata
        self.clock = clock
        gate = PasswordGate(passwordLimits)
    }

    public convenience init(metadata: MetadataStore, clock: HybridClock) {
        self.init(metadata: metadata, clock: clock, passwordLimits: .init())
    }

    /// The name of the web session cookie.
    public static let sessionCookie = "filestore_session"
    /// How long a web session lasts.
    public static let sessionLifetime: Duration = .seconds(12 * 3600)

    /// The principal behind a request: its `Authorization` header, else the web session cookie.
    /// A cookie-authenticated request that changes anything must carry the session's CSRF token
    /// in `X-CSRF-Token` (cookies travel on cross-site requests; that header cannot).
    /// Browsers replay cached Basic credentials on cross-site requests too, so a state change
    /// authenticated by Basic must not be a `simple` request (one a page on another site could
    /// send without a preflight: see `isSimpleRequest`).
    /// `client` (the caller's address) is whose budget of failed password checks is spent.
    public func authenticate(
        authorization: String?, cookie: String?, method: String, csrf: String?, client: String, simple: Bool = false
    ) async throws -> Principal {
        if authorization != nil || cookie == nil {
            let principal = try await authenticate(authorization: authorization, client: client)
            if simple, !["GET", "HEAD"].contains(method), authorization?.lowercased().hasPrefix("basic ") == true {
                throw AuthError(.csrfMissing, "a \(method) with Basic credentials needs a JSON body or an X-Requested-With header (a page on another site could send this one)")
            }
            return principal
        }
        let session = try await authenticate(authorization: "Bearer \(cookie!)", client: client)
        if !["GET", "HEAD"].contains(method) {
            guard let csrf, Self.csrfToken(forSession: cookie!) == csrf else { throw AuthError(.csrfMissing, "missing or wrong CSRF token (reload the page)") }
        }
        return session
    }

    /// Whether a page on another site could make a browser send this request without a CORS
    /// preflight: GET, HEAD or POST, with no body type or a form or plain-text one, and none of
    /// the headers such a page cannot set (`customHeader`: `X-Requested-With`, `X-CSRF-Token`).
    public static func isSimpleRequest(method: String, contentType: String?, customHeader: Bool) -> Bool {
        guard ["GET", "HEAD", "POST"].contains(method), !customHeader else { return false }
        guard let type = contentType?.split(separator: ";").first?.trimmingSpaces().lowercased(), !type.isEmpty else { return true }
        return ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"].contains(type)
    }

    /// The CSRF token of a web session: derived from the session token, so nothing more is stored.
    public static func csrfToken(forSession session: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Data("csrf".utf8), using: SymmetricKey(data: Data(session.utf8))))
    }

    /// The principal behind an `Authorization` header; `unauthenticated` for anything missing or wrong.
    public func authenticate(authorization: String?, client: String) async throws -> Principal {
        guard let authorization, let space = authorization.firstIndex(of: " ") else {
            throw AuthError(.unauthenticated, "send Authorization: Bearer <token> or Basic credentials")
        }
        let scheme = authorization[..<space].lowercased()
        let value = authorization[authorization.index(after: space)...].trimmingSpaces()
        switch scheme {
        case "bearer":
            let hash = Self.tokenHash(value)
            let now = Int64(HybridClock.systemMilliseconds())
            // Read before the shard: a change merged meanwhile leaves this entry unusable.
            let generation = metadata.globalGeneration.current
            if let checked = checkedTokens.withLock({ $0[hash] }), checked.generation == generation, checked.expiresAt > now { return checked.principal }
            guard let token = try await metadata.token(hash: hash), !token.deleted, token.expiresAt > now else {
                throw AuthError(.unauthenticated, "the token is unknown, revoked or expired")
            }
            guard let user = try await metadata.user(token.user), token.belongs(to: user) else {
                throw AuthError(.unauthenticated, "the token was revoked: its user was deleted or changed password")
            }
            let principal = Principal(user, tokenHash: hash)
            checkedTokens.withLock { checked in
                if checked.count >= Self.checkedTokensLimit { checked.removeAll(keepingCapacity: true) }
                checked[hash] = (principal, token.expiresAt, generation)
            }
            return principal
        case "basic":
            guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                throw AuthError(.unauthenticated, "malformed Basic credentials")
            }
            return try await checkPassword(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]), client: client)
        default:
            throw AuthError(.unauthenticated, "unsupported authorization scheme \(scheme)")
        }
    }

    /// Checks a user's password; `unauthenticated` when the user is unknown or the password wrong.
    /// Unknown users cost a bcrypt round like known ones (their answer takes as long), and every
    /// check but a remembered good one spends from `client`'s failure budget first
    /// (`rateLimited` once spent; refunded on success). bcrypt runs on `PasswordGate`'s workers.
    public func checkPassword(user name: String, password: String, client: String) async throws -> Principal {
        let user = try await metadata.user(name).flatMap { $0.deleted ? nil : $0 }
        let hash = user?.passwordHash ?? Self.unknownUserHash
        let cacheKey = Hex.encode(SHA256.hash(data: Data("\(hash)\u{0}\(password)".utf8)))
        let now = Int64(HybridClock.systemMilliseconds())
        if user != nil, passwordChecks.withLock({ ($0.verified[cacheKey] ?? 0) > now }) { return Principal(user!) }
        // Concurrent checks of the same credentials share one bcrypt run: 16 clients arriving
        // together would otherwise pay 16 (measured in docs/benchmarks.md: bcrypt was 7 % of the
        // coordinator's CPU in the 4 KiB upload benchmark before this). Only the check that
        // starts a run spends from the client's budget: joining one costs nothing.
        let (running, started): (Task<Bool, any Error>, Bool) = try passwordChecks.withLock { state throws(AuthError) in
            if let running = state.running[cacheKey] { return (running, false) }
            try gate.admit(client: client, now: now)
            state.bcryptRuns += 1
            let gate = gate
            let task = Task { try await gate.run { Bcrypt.verify(password, hash: hash) } }
            state.running[cacheKey] = task
            return (task, true)
        }
        let good: Bool
        do {
            good = try await running.value
        } catch {
            passwordChecks.withLock { $0.running[cacheKey] = nil }
            if started { gate.refund(client: client, now: now) }
            throw error
        }
        passwordChecks.withLock { state in
            state.running[cacheKey] = nil
            guard good, user != nil else { return }
            if state.verified.count > 10_000 { state.verified = state.verified.filter { $0.value > now } }
            state.verified[cacheKey] = now + Self.verifiedCacheLifetime
        }
        guard good, let user else { throw AuthError(.unauthenticated, "wrong user name or password") }
        if started { gate.refund(client: client, now: now) }
        return Principal(user)
    }

    /// What a password is checked against when the user does not exist: a real bcrypt hash of
    /// the same cost, of a random password, so the answer takes as long as for a known user.
    static let unknownUserHash = Bcrypt.hash(randomID(), cost: bcryptCost)

    /// How many bcrypt verifications have run (the rest were answered from the cache or joined one in progress).
    var bcryptRuns: Int { passwordChecks.withLock { $0.bcryptRuns } }

    /// Remembered good passwords and the bcrypt checks in progress, by hash of (stored hash, password).
    private struct PasswordChecks {
        var verified: [String: Int64] = [:]
        var running: [String: Task<Bool, any Error>] = [:]
        var bcryptRuns = 0
    }

    /// A user record with a fresh bcrypt hash (validated name and password), not yet stored.
    public func makeUser(name: String, password: String, role: Role) async throws -> UserRecord {
        guard UserRecord.isValidName(name) else {
            throw AuthError(.invalidName, "user names are 1-64 characters of a-z, 0-9, '.', '_' and '-'")
        }
        try Self.validatePassword(password)
        let hash = try await gate.run { Bcrypt.hash(password, cost: Self.bcryptCost) }
        return UserRecord(name: name, id: Self.randomID(), credentials: Self.randomID(), role: role, passwordHash: hash, version: clock.now())
    }

    /// `user` with a new password: the same id, a new credential generation (every token issued
    /// before stops working), not yet stored.
    public func changingPassword(of user: UserRecord, to password: String) async throws -> UserRecord {
        try Self.validatePassword(password)
        var changed = user
        changed.passwordHash = try await gate.run { Bcrypt.hash(password, cost: Self.bcryptCost) }
        changed.credentials = Self.randomID()
        changed.version = clock.now()
        return changed
    }

    /// 16 random bytes in hex.
    static func randomID() -> String {
        var random = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    /// Throws `weakPassword` unless `password` is 8-256 bytes.
    public static func validatePassword(_ password: String) throws {
        guard (8...256).contains(password.utf8.count) else { throw AuthError(.weakPassword, "passwords are 8-256 bytes") }
    }

    /// A new bearer token for `user`: the text (shown once) and the record to store.
    public func makeToken(for user: Principal, lifetime: Duration = defaultTokenLifetime) -> (text: String, record: TokenRecord) {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let text = "fst_" + Hex.encode(bytes)
        let expires = Int64(HybridClock.systemMilliseconds()) + lifetime.inMilliseconds
        return (text, TokenRecord(hash: Self.tokenHash(text), user: user.name, userID: user.id, credentials: user.credentials, expiresAt: expires, version: clock.now()))
    }

    /// A new random password: 20 characters from an alphabet without look-alikes.
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var random = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
    }

    static func tokenHash(_ text: String) -> String { Hex.encode(SHA256.hash(data: Data(text.utf8))) }
}
