import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of every agent route: Hummingbird's core context plus who is asking,
/// which `AuthenticationMiddleware` fills in before any public handler runs.
struct AgentRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil only on routes outside the authenticated group.
    var identity: Principal?
    /// The verified signature of an internal call; set by `InternalAuthMiddleware` on `/internal/v1`.
    var internalCall: InternalAuth.Verified?

    /// The caller's IP address: whose connection and failed-sign-in budgets the request spends.
    let client: String
    /// The connection: where the S3 listener sends `100 Continue` once a request is authenticated.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "unknown"
        channel = source.channel
    }

    /// The caller, for handlers registered behind `AuthenticationMiddleware` (always set there).
    func requireIdentity() throws(APIError) -> Principal {
        guard let identity else { throw APIError.unauthorized("send Authorization: Bearer <token> or Basic credentials") }
        return identity
    }

    /// The caller when an admin; 403 `forbidden` (naming `what` only admins do) otherwise.
    func requireAdmin(_ what: String) throws(APIError) -> Principal {
        let identity = try requireIdentity()
        guard identity.isAdmin else { throw APIError.forbidden("only admins \(what)") }
        return identity
    }
}

/// Authenticates every public API request: Bearer or Basic credentials, or the web session
/// cookie (with its CSRF token for anything but reads), and puts the caller on the context.
/// A request it cannot authenticate never reaches a handler (401, or 403 for a missing CSRF token).
struct AuthenticationMiddleware: RouterMiddleware {
    let accounts: Accounts

    func handle(_ request: Request, context: AgentRequestContext, next: (Request, AgentRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = try await accounts.authenticate(
            authorization: request.headers[.authorization], cookie: request.cookies[Accounts.sessionCookie]?.value,
            method: request.method.rawValue, csrf: request.headers[Self.csrfHeader], client: context.client,
            simple: Accounts.isSimpleRequest(
                method: request.method.rawValue, contentType: request.headers[.contentType],
                customHeader: request.headers[Self.requestedWithHeader] != nil || request.headers[Self.csrfHeader] != nil
            )
        )
        return try await next(request, context)
    }

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    static let requestedWithHeader = HTTPField.Name("X-Requested-With")!
}

/// Refuses every `/internal/v1` call without a valid, fresh cluster signature (401; a replayed
/// nonce is refused too) before any handler runs; public credentials are never accepted there.
struct InternalAuthMiddleware: RouterMiddleware {
    let auth: InternalAuth
    let replays: ReplayGuard

    func handle(_ request: Request, context: AgentRequestContext, next: (Request, AgentRequestContext) async throws -> Response) async throws -> Response {
        let now = Int64(HybridClock.systemMilliseconds())
        let verified: InternalAuth.Verified
        do {
            verified = try auth.verify(
                method: request.method.rawValue, target: request.uri.string,
                header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } }, nowMilliseconds: now
            )
        } catch {
            throw APIError(.unauthorized, "unauthorized", "internal API: \(error == .skewed ? "clock skew over 5 minutes" : "missing or invalid cluster signature")")
        }
        switch replays.admit(nonce: verified.nonce, milliseconds: verified.milliseconds, now: now) {
        case .fresh: break
        case .outsideWindow: throw APIError(.unauthorized, "unauthorized", "internal API: clock skew over 5 minutes")
        case .replayed: throw APIError(.unauthorized, "unauthorized", "internal API: this request was already received (replay)")
        case .full: throw APIError(.serviceUnavailable, "unavailable", "internal API: too many calls in the replay window; retry")
        }
        var context = context
        context.internalCall = verified
        return try await next(request, context)
    }
}

extension AgentRequestContext {
    /// A path parameter (`:name`, `:id`) percent-decoded: `/users/al%2Dice` names `al-ice`.
    func pathParameter(_ name: String) throws -> String {
        try FilePathRules.percentDecode(try parameters.require(name))
    }
}
