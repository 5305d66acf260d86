import Hummingbird
import PublicAPI

/// The agent's HTTP surface: the public API, the internal API, and the middleware around them.
enum AgentRouter {
    static func build(_ agent: AgentContext, traffic: TrafficCounters, assets: WebAssets) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: TrafficMiddleware(traffic: traffic, metrics: agent.metrics, largestBody: Int(clamping: agent.maxUploadBytes)))
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware())
        // Open to anyone: liveness, metrics, and the web pages (which check their own session).
        router.get("/api/v1/health") { _, _ in Response.json(HealthAnswer(status: "ok", node: agent.selfID.rawValue)) }
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
        InternalRoutes(agent: agent).register(on: router.group().add(middleware: InternalAuthMiddleware(auth: agent.internalAuth, replays: ReplayGuard())))
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: agent.metrics.render()))
            )
        }
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
