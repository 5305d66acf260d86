import Foundation
import Hummingbird
import PublicAPI
import Ring

/// `/api/v1/auth/tokens` and `/api/v1/users`: bearer tokens and user administration. Every
/// change is a global record: stored here, then pushed to every live node (the periodic global
/// sync carries it to any node that missed the push).
struct AccountRoutes {
    let agent: AgentContext

    func register(on router: RouterGroup<AgentRequestContext>) {
        router.post("/api/v1/auth/tokens") { request, context in try await createToken(request, context) }
        router.get("/api/v1/auth/tokens") { _, context in try await listTokens(context) }
        router.delete("/api/v1/auth/tokens/:id") { _, context in try await revokeToken(context) }
        router.get("/api/v1/users") { _, context in try await listUsers(context) }
        router.post("/api/v1/users") { request, context in try await createUser(request, context) }
        router.patch("/api/v1/users/:name") { request, context in try await changeUser(request, context) }
        router.delete("/api/v1/users/:name") { request, context in try await deleteUser(request, context) }
        router.post("/api/v1/users/:name/keys") { _, context in try await createKey(context) }
        router.get("/api/v1/users/:name/keys") { _, context in try await listKeys(context) }
        router.delete("/api/v1/users/:name/keys/:id") { _, context in try await deleteKey(context) }
    }

    private func createToken(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("basic ") else {
            throw APIError.unauthorized("create tokens with Basic credentials (user name and password)")
        }
        let principal = try context.requireIdentity()
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        var lifetime = Accounts.defaultTokenLifetime
        if body.readableBytes > 0 {
            let options = try decode(TokenRequest.self, body)
            if let seconds = options.ttlSeconds {
                guard (60...(366 * 24 * 3600)).contains(seconds) else { throw APIError.badRequest("invalid_parameter", "ttl_seconds must be from 60 to one year") }
                lifetime = .seconds(seconds)
            }
        }
        let (text, record) = agent.accounts.makeToken(for: principal, lifetime: lifetime)
        try await agent.publish(GlobalRecords(tokens: [record]))
        context.logger.info("token created", metadata: ["user": "\(principal.name)"])
        return .json(status: .created, TokenGrant(token: text, expiresAt: APITime.rfc3339(milliseconds: record.expiresAt)))
    }

    /// The tokens still good: not revoked, not expired, issued under their user's current id and password.
    private func liveTokens(visibleTo principal: Principal) async throws -> [TokenRecord] {
        let records = try await agent.local.metadata.globalRecords()
        let users = Dictionary(records.users.map { ($0.name, $0) }) { first, _ in first }
        let now = Int64(HybridClock.systemMilliseconds())
        return records.tokens.filter { token in
            guard !token.deleted, token.expiresAt > now, let user = users[token.user], !user.deleted, token.belongs(to: user) else { return false }
            return principal.isAdmin || (token.user == principal.name && token.userID == principal.id)
        }
    }

    private func listTokens(_ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let tokens = try await liveTokens(visibleTo: principal).sorted { ($0.expiresAt, $0.hash) < ($1.expiresAt, $1.hash) }
        return .json(TokenList(tokens: tokens.map {
            TokenInfo(id: $0.hash, user: $0.user, expiresAt: APITime.rfc3339(milliseconds: $0.expiresAt), current: $0.hash == principal.tokenHash)
        }))
    }

    /// Revokes one of the caller's tokens (any user's for an admin); 404 for one it cannot see.
    private func revokeToken(_ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let id = try context.pathParameter("id")
        guard var token = try await liveTokens(visibleTo: principal).first(where: { $0.hash == id }) else { throw APIError.notFound("no token \(id.prefix(80))") }
        token.deleted = true
        token.version = agent.local.clock.now()
        try await agent.publish(GlobalRecords(tokens: [token]))
        context.logger.info("token revoked", metadata: ["user": "\(token.user)", "by": "\(principal.name)"])
        return Response(status: .noContent)
    }

    private func listUsers(_ context: AgentRequestContext) async throws -> Response {
        _ = try context.requireAdmin("manage users")
        let users = try await agent.local.metadata.globalRecords().users.filter { !$0.deleted }
        return .json(UserList(users: users.map { UserInfo(name: $0.name, role: $0.role) }))
    }

    private func createUser(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let admin = try context.requireAdmin("manage users")
        var request = request
        let new = try decode(NewUser.self, try await request.collectBody(upTo: 64 * 1024))
        if let existing = try await agent.local.metadata.user(new.name), !existing.deleted {
            throw APIError.conflict("user \(new.name) already exists")
        }
        let record = try await agent.accounts.makeUser(name: new.name, password: new.password, role: new.role ?? .user)
        try await agent.publish(GlobalRecords(users: [record]))
        context.logger.info("user created", metadata: ["user": "\(new.name)", "by": "\(admin.name)"])
        return .json(status: .created, UserInfo(name: record.name, role: record.role))
    }

    /// Admins change anything; a user may change only their own password.
    private func changeUser(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let name = try context.pathParameter("name")
        guard principal.isAdmin || principal.name == name else { throw APIError.forbidden("only admins change other users") }
        var request = request
        let change = try decode(UserChange.self, try await request.collectBody(upTo: 64 * 1024))
        guard change.role == nil || principal.isAdmin else { throw APIError.forbidden("only admins change roles") }
        // Like deleting oneself: an admin who demotes themselves could leave the cluster without one.
        guard !(principal.name == name && change.role == .user) else { throw APIError.conflict("admins cannot demote themselves") }
        guard var record = try await agent.local.metadata.user(name), !record.deleted else { throw APIError.notFound("no user \(name)") }
        var kept: [TokenRecord] = []
        if let password = change.password {
            // Someone holding a stolen token must not be able to lock the owner out.
            if !principal.isAdmin {
                guard let current = change.currentPassword, (try? await agent.accounts.checkPassword(user: name, password: current, client: context.client)) != nil else {
                    throw APIError.forbidden("give your current password (current_password; filestore user passwd NAME --current) to change it")
                }
            }
            record = try await agent.accounts.changingPassword(of: record, to: password)
            // Every other token of the user is revoked; the one this request came with carries on.
            if principal.name == name, let hash = principal.tokenHash, var token = try await agent.local.metadata.token(hash: hash) {
                token.credentials = record.credentials
                token.version = agent.local.clock.now()
                kept.append(token)
            }
        }
        if let role = change.role {
            record.role = role
            record.version = agent.local.clock.now()
        }
        try await agent.publish(GlobalRecords(users: [record], tokens: kept))
        return .json(UserInfo(name: record.name, role: record.role))
    }

    private func deleteUser(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let admin = try context.requireAdmin("manage users")
        let name = try context.pathParameter("name")
        guard name != admin.name else { throw APIError.conflict("admins cannot delete themselves") }
        guard var record = try await agent.local.metadata.user(name), !record.deleted else { throw APIError.notFound("no user \(name)") }
        // Its keys stop working with the user (`AccessKeyRecord.belongs`); their tombstones
        // also keep them out of every listing.
        let keys = try await agent.accessKeys.keys(of: record).map { key in
            var key = key
            key.deleted = true
            key.sealedSecret = ""
            key.version = agent.local.clock.now()
            return key
        }
        // Its buckets go too (their objects were the user's files), so their names are free again.
        let buckets = try await agent.local.metadata.globalRecords().buckets.filter { $0.isOwned(by: record) }.map { bucket in
            var bucket = bucket
            bucket.deleted = true
            bucket.version = agent.local.clock.now()
            return bucket
        }
        record.deleted = true
        record.passwordHash = ""
        record.version = agent.local.clock.now()
        try await agent.publish(GlobalRecords(users: [record], accessKeys: keys, buckets: buckets))
        context.logger.info("user deleted", metadata: ["user": "\(name)", "by": "\(admin.name)"])
        return Response(status: .noContent)
    }

    // MARK: S3 access keys

    /// The user a key request names, when the caller may manage its keys: themselves, or anyone for an admin.
    private func keyOwner(_ context: AgentRequestContext) async throws -> (principal: Principal, user: UserRecord) {
        let principal = try context.requireIdentity()
        let name = try context.pathParameter("name")
        guard principal.isAdmin || principal.name == name else { throw APIError.forbidden("only admins manage other users' keys") }
        guard UserRecord.isValidName(name), let user = try await agent.local.metadata.user(name), !user.deleted else { throw APIError.notFound("no user \(name.prefix(80))") }
        return (principal, user)
    }

    private func createKey(_ context: AgentRequestContext) async throws -> Response {
        let (principal, user) = try await keyOwner(context)
        guard try await agent.accessKeys.keys(of: user).count < AccessKeys.maxPerUser else {
            throw APIError.conflict("\(user.name) already has \(AccessKeys.maxPerUser) access keys; delete one first")
        }
        let (secret, record) = try agent.accessKeys.make(for: user)
        try await agent.publish(GlobalRecords(accessKeys: [record]))
        context.logger.info("access key created", metadata: ["user": "\(user.name)", "key": "\(record.id)", "by": "\(principal.name)"])
        return .json(status: .created, AccessKeyGrant(accessKeyID: record.id, secretAccessKey: secret, createdAt: APITime.rfc3339(milliseconds: record.createdAt)))
    }

    private func listKeys(_ context: AgentRequestContext) async throws -> Response {
        let (_, user) = try await keyOwner(context)
        let keys = try await agent.accessKeys.keys(of: user)
        return .json(AccessKeyList(keys: keys.map { AccessKeyInfo(accessKeyID: $0.id, user: $0.user, createdAt: APITime.rfc3339(milliseconds: $0.createdAt)) }))
    }

    private func deleteKey(_ context: AgentRequestContext) async throws -> Response {
        let (principal, user) = try await keyOwner(context)
        let id = try context.pathParameter("id")
        guard var key = try await agent.accessKeys.keys(of: user).first(where: { $0.id == id }) else { throw APIError.notFound("\(user.name) has no access key \(id.prefix(80))") }
        key.deleted = true
        key.sealedSecret = ""
        key.version = agent.local.clock.now()
        try await agent.publish(GlobalRecords(accessKeys: [key]))
        context.logger.info("access key deleted", metadata: ["user": "\(user.name)", "key": "\(id)", "by": "\(principal.name)"])
        return Response(status: .noContent)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError.badRequest("bad_json", "the body is not the expected JSON: \(error)")
        }
    }
}
