import Foundation
import HTTPTypes
import Hummingbird

/// The web dashboard under `/ui` (issue: served by every agent, no external code): server-side
/// pages from mustache templates, data from the public API through small JavaScript. Sessions
/// are bearer tokens in an `HttpOnly`, `SameSite=Strict` cookie; every change carries the
/// session's CSRF token.
struct WebRoutes {
    let agent: AgentContext
    let assets: WebAssets

    func register(on router: Router<AgentRequestContext>) {
        router.get("/") { _, _ in Self.redirect("/ui") }
        router.get("/ui/login") { request, _ in
            if (try? await session(request)) != nil { return Self.redirect("/ui") }
            return page("login", title: "Sign in", extra: [:])
        }
        router.post("/ui/login") { request, context in try await login(request, client: context.client) }
        router.post("/ui/logout") { request, _ in try await logout(request) }
        router.get("/ui") { request, _ in try await protected(request, "dashboard", title: "Dashboard", flag: "isDashboard") }
        router.get("/ui/files") { request, _ in try await protected(request, "files", title: "Files", flag: "isFiles") }
        router.get("/ui/file") { request, _ in
            let path = try QueryItems(request.uri.query)["path"] ?? ""
            return try await protected(request, "file", title: path, flag: "isFiles", extra: ["path": path])
        }
        router.get("/ui/tokens") { request, _ in try await protected(request, "tokens", title: "Tokens", flag: "isTokens") }
        router.get("/ui/keys") { request, _ in try await protected(request, "keys", title: "S3 keys", flag: "isKeys") }
        router.get("/ui/admin") { request, _ in try await protected(request, "admin", title: "Administration", flag: "isAdminPage", adminOnly: true) }
        router.get("/ui/static/:name") { _, context in
            guard let file = assets.files[try context.parameters.require("name")] else { throw APIError.notFound("no such file") }
            return Response(
                status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes))
            )
        }
    }

    /// Under TLS the session cookie never travels over plain HTTP.
    private var cookieSecurity: String { agent.servesTLS ? "; Secure" : "" }

    private struct Session {
        var principal: Principal
        var token: String
    }

    private func session(_ request: Request) async throws -> Session {
        guard let token = request.cookies[Accounts.sessionCookie]?.value, !token.isEmpty else { throw APIError.unauthorized("no session") }
        // A token: no password check, so no client budget to spend.
        return Session(principal: try await agent.accounts.authenticate(authorization: "Bearer \(token)", client: ""), token: token)
    }

    private func protected(_ request: Request, _ template: String, title: String, flag: String, adminOnly: Bool = false, extra: [String: Any] = [:]) async throws -> Response {
        guard let session = try? await session(request) else { return Self.redirect("/ui/login") }
        var context: [String: Any] = [
            "user": session.principal.name, "isAdmin": session.principal.isAdmin, "csrf": Accounts.csrfToken(forSession: session.token), flag: true,
        ]
        context.merge(extra) { $1 }
        guard !adminOnly || session.principal.isAdmin else {
            var response = page("login", title: "Not allowed", extra: context.merging(["error": "Only admins may open this page."]) { $1 })
            response.status = .forbidden
            return response
        }
        return page(template, title: title, extra: context)
    }

    private func page(_ template: String, title: String, extra: [String: Any]) -> Response {
        var context: [String: Any] = ["title": title, "page": template, "cluster": agent.cluster.name, "node": agent.selfID.rawValue, "csrf": ""]
        context.merge(extra) { $1 }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: assets.render(template, context)))
        )
    }

    private func login(_ request: Request, client: String) async throws -> Response {
        var request = request
        let form = try Self.form(try await request.collectBody(upTo: 16 * 1024))
        do {
            let principal = try await agent.accounts.checkPassword(user: form["user"] ?? "", password: form["password"] ?? "", client: client)
            let (token, record) = agent.accounts.makeToken(for: principal, lifetime: Accounts.sessionLifetime)
            try await agent.publish(GlobalRecords(tokens: [record]))
            var response = Self.redirect("/ui")
            response.headers[.setCookie] = "\(Accounts.sessionCookie)=\(token); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Accounts.sessionLifetime.components.seconds)\(cookieSecurity)"
            return response
        } catch let error as AuthError where error.code == .unauthenticated {
            var response = page("login", title: "Sign in", extra: ["error": "Wrong user name or password."])
            response.status = .unauthorized
            return response
        }
    }

    private func logout(_ request: Request) async throws -> Response {
        var request = request
        let form = try Self.form(try await request.collectBody(upTo: 16 * 1024))
        var response = Self.redirect("/ui/login")
        response.headers[.setCookie] = "\(Accounts.sessionCookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\(cookieSecurity)"
        guard let current = try? await session(request) else { return response }
        guard form["csrf"] == Accounts.csrfToken(forSession: current.token) else { throw APIError.forbidden("missing or wrong CSRF token (reload the page)") }
        if var record = try await agent.local.metadata.token(hash: Accounts.tokenHash(current.token)) {
            record.deleted = true
            record.version = agent.local.clock.now()
            try await agent.publish(GlobalRecords(tokens: [record]))
        }
        return response
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// An `application/x-www-form-urlencoded` body.
    static func form(_ body: ByteBuffer) throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[try FilePathRules.percentDecode(pieces[0], plusIsSpace: true)] = try FilePathRules.percentDecode(pieces.count > 1 ? pieces[1] : "", plusIsSpace: true)
        }
        return values
    }
}
