import Hummingbird
import PublicAPI
import Synchronization

/// The agent's HTTP surface: the public API, the internal API, and the middleware around them.
/// The internal API is on the public listener unless the node has a listener of its own for it
/// (`nodes[].internal`): then `build` leaves it out and `buildInternal` serves it alone.
enum AgentRouter {
    /// The public listener's routes; `internalCalls` is nil when the internal API has its own listener.
    /// `inFlight` is shared with the S3 listener: the limits bound the node's public requests, whichever door they come through.
    static func build(_ agent: AgentContext, traffic: TrafficCounters, inFlight: InFlightCounts, assets: WebAssets, internalCalls replays: ReplayGuard?) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: TrafficMiddleware(traffic: traffic, metrics: agent.metrics, largestBody: Int(clamping: agent.maxUploadBytes)))
        router.add(middleware: LoadSheddingMiddleware(counts: inFlight, limits: agent.cluster.limits))
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

/// Tells browsers to use HTTPS only for this host from now on (sent when the listener speaks TLS).
struct StrictTransportSecurity<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
