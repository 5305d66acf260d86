import Basics
import Hummingbird
import Synchronization

/// Request and byte counts the load reporter turns into gossiped load.
final class TrafficCounters: Sendable {
    let inFlight = Atomic<Int>(0)
    let bytesIn = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)
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

/// Public requests being handled now, in all and of them uploads.
final class InFlightCounts: Sendable {
    let requests = Atomic<Int>(0)
    let uploads = Atomic<Int>(0)
}

/// Answers 503 with `Retry-After` instead of taking on more public requests, or uploads, than
/// the limits allow: each upload holds a few chunk buffers while it streams, so their number
/// bounds the agent's memory. Health checks and internal calls (authenticated peers finishing
/// writes already accepted) are never shed.
struct LoadSheddingMiddleware<Context: RequestContext>: RouterMiddleware {
    let counts: InFlightCounts
    let limits: ClusterConfiguration.Limits
    /// Whether health checks and internal calls pass unshed (the S3 listener has neither: there
    /// `/internal/…` is a bucket like any other).
    var exemptsHealthAndInternal = true

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if exemptsHealthAndInternal, path == "/api/v1/health" || path.hasPrefix("/internal/") { return try await next(request, context) }
        guard counts.requests.enter(limit: limits.maxRequestsInFlight) else {
            throw APIError(.serviceUnavailable, "overloaded", "this node is handling \(limits.maxRequestsInFlight) requests; retry").retrying(after: 1)
        }
        defer { counts.requests.wrappingSubtract(1, ordering: .relaxed) }
        // A body of unknown length, or over 64 KiB, streams through chunk buffers.
        let length = request.headers[.contentLength].flatMap(Int.init)
        let isUpload = (request.method == .put || request.method == .post) && (length ?? .max) > 64 << 10
        if isUpload {
            guard counts.uploads.enter(limit: limits.maxUploadsInFlight) else {
                throw APIError(.serviceUnavailable, "overloaded", "this node is taking \(limits.maxUploadsInFlight) uploads; retry").retrying(after: 1)
            }
        }
        defer { if isUpload { counts.uploads.wrappingSubtract(1, ordering: .relaxed) } }
        return try await next(request, context)
    }
}
