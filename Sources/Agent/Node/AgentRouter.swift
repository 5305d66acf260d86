import Hummingbird
import PublicAPI
import Synchronization

/// The agent's HTTP surface: the public API, the internal API, and the middleware around them.
/// The internal API is on the public listener unless the node has a listener of its own for it
/// (`nodes[].internal`): then `build` leaves it out and `buildInternal` serves it alone.
enum AgentRouter {
    /// The public listener's routes; `internalCalls` is nil when the internal API has its own listener.
    static func build(_ agent: AgentContext, traffic: TrafficCounters, assets: WebAssets, internalCalls replays: ReplayGuard?) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: TrafficMiddleware(traffic: traffic, metrics: agent.metrics, largestBody: Int(clamping: agent.maxUploadBytes)))
        router.add(middleware: LoadSheddingMiddleware(counts: InFlightCounts(), limits: agent.cluster.limits))
        router.add(middleware: MetricsMiddleware())
        // Outside ErrorMiddleware, so error answers carry it too.
        if agent.servesTLS { router.add(middleware: StrictTransportSecurity()) }
        router.add(middleware: ErrorMiddleware())
        // Open to anyone: liveness, metrics, and the web pages (which check their own session).
        router.get("/api/v1/health") { _, _ in Response.json(HealthAnswer(status: "ok", node: agent.selfID.rawValue, time: HybridClock.rfc3339(HybridClock.systemMilliseconds()))) }
        router.get("/api/v1/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: assets.openAPI)))
        }
        WebRoutes(agent: agent, assets: assets).register(on: router)
        // Everything else under /api/v1 runs only with a caller on the context.
        let api = router.group().add(middleware: AuthenticationMiddleware(accounts: agent.accounts))
        FilesRoutes(agent: agent).register(on: api)
        ClusterRoutes(agent: agent).register(on: api)
        AccountRoutes(agent: agent).register(on: api)
        // Agent-to-agent calls run only with a valid cluster signature.
        if let replays { InternalRoutes(agent: agent).register(on: router.group().add(middleware: InternalAuthMiddleware(auth: agent.internalAuth, replays: replays))) }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: agent.metrics.render()))
            )
        }
        return router
    }

    /// The internal listener's routes: the internal API and a health check, nothing public.
    static func buildInternal(_ agent: AgentContext, traffic: TrafficCounters, replays: ReplayGuard) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: TrafficMiddleware(traffic: traffic, metrics: agent.metrics, largestBody: max(Int(clamping: ChunkCalls.maxChunkBytes), Manifest.maxWireBytes)))
        router.add(middleware: ErrorMiddleware())
        router.get("/api/v1/health") { _, _ in Response.json(HealthAnswer(status: "ok", node: agent.selfID.rawValue, time: HybridClock.rfc3339(HybridClock.systemMilliseconds()))) }
        InternalRoutes(agent: agent).register(on: router.group().add(middleware: InternalAuthMiddleware(auth: agent.internalAuth, replays: replays)))
        return router
    }
}

/// Counts requests in flight and bytes moved, for the load this node gossips (replica choice).
struct TrafficMiddleware<Context: RequestContext>: RouterMiddleware {
    let traffic: TrafficCounters
    let metrics: AgentMetrics
    /// The largest body any route reads: a declared length beyond it is refused unread, so it
    /// is not counted (and a client's `Content-Length: 9223372036854775807` cannot overflow the sums).
    let largestBody: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        traffic.inFlight.wrappingAdd(1, ordering: .relaxed)
        defer { traffic.inFlight.wrappingSubtract(1, ordering: .relaxed) }
        if let length = request.headers[.contentLength].flatMap(Int.init), (1...largestBody).contains(length) {
            traffic.bytesIn.wrappingAdd(length, ordering: .relaxed)
            metrics.bytesIn.increment(by: length)
        }
        let response = try await next(request, context)
        if let length = response.body.contentLength, length > 0 {
            traffic.bytesOut.wrappingAdd(length, ordering: .relaxed)
            metrics.bytesOut.increment(by: length)
        }
        return response
    }
}

/// Tells browsers to use HTTPS only for this host from now on (sent when the listener speaks TLS).
struct StrictTransportSecurity<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}

/// Public requests being handled now, in all and of them uploads.
final class InFlightCounts: Sendable {
    let requests = Atomic<Int>(0)
    let uploads = Atomic<Int>(0)

    /// Counts one more on `counter` unless that would pass `limit`.
    static func enter(_ counter: borrowing Atomic<Int>, limit: Int) -> Bool {
        guard counter.wrappingAdd(1, ordering: .relaxed).newValue <= limit else {
            counter.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }
}

/// Answers 503 with `Retry-After` instead of taking on more public requests, or uploads, than
/// the limits allow: each upload holds a few chunk buffers while it streams, so their number
/// bounds the agent's memory. Health checks and internal calls (authenticated peers finishing
/// writes already accepted) are never shed.
struct LoadSheddingMiddleware<Context: RequestContext>: RouterMiddleware {
    let counts: InFlightCounts
    let limits: ClusterConfiguration.Limits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/api/v1/health" || path.hasPrefix("/internal/") { return try await next(request, context) }
        guard InFlightCounts.enter(counts.requests, limit: limits.maxRequestsInFlight) else {
            throw APIError(.serviceUnavailable, "overloaded", "this node is handling \(limits.maxRequestsInFlight) requests; retry").retrying(after: 1)
        }
        defer { counts.requests.wrappingSubtract(1, ordering: .relaxed) }
        // A body of unknown length, or over 64 KiB, streams through chunk buffers.
        let length = request.headers[.contentLength].flatMap(Int.init)
        let isUpload = (request.method == .put || request.method == .post) && (length ?? .max) > 64 << 10
        if isUpload {
            guard InFlightCounts.enter(counts.uploads, limit: limits.maxUploadsInFlight) else {
                throw APIError(.serviceUnavailable, "overloaded", "this node is taking \(limits.maxUploadsInFlight) uploads; retry").retrying(after: 1)
            }
        }
        defer { if isUpload { counts.uploads.wrappingSubtract(1, ordering: .relaxed) } }
        return try await next(request, context)
    }
}
