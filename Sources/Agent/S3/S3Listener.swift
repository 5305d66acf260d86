import Basics
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

/// The S3 front door of an agent (DESIGN.md §16): every request is addressed (bucket, key,
/// operation), its SigV4 signature checked against the access key's sealed secret, then carried
/// out over the same coordinators as REST. Every answer carries `x-amz-request-id`; every error
/// is S3's XML error body.
struct S3Listener: HTTPResponder {
    typealias Context = AgentRequestContext

    let agent: AgentContext
    let counting: TrafficMiddleware<AgentRequestContext>
    let shedding: LoadSheddingMiddleware<AgentRequestContext>
    let verifier = S3.SigV4.Verifier(maxSkewSeconds: 900)

    /// `inFlight` is the REST listener's too: the node's limits hold across both doors.
    init(agent: AgentContext, traffic: TrafficCounters, inFlight: InFlightCounts) {
        self.agent = agent
        counting = TrafficMiddleware(traffic: traffic, metrics: agent.metrics, largestBody: Int(clamping: min(S3Operations.maxPutBytes, agent.maxUploadBytes)))
        shedding = LoadSheddingMiddleware(counts: inFlight, limits: agent.cluster.limits, exemptsHealthAndInternal: false)
    }

    func respond(to request: Request, context: AgentRequestContext) async throws -> Response {
        let requestID = Self.makeRequestID()
        let started = ContinuousClock.now
        var operation = "unknown"
        var response: Response
        do {
            response = try await counting.handle(request, context: context) { request, context in try await shedding.handle(request, context: context) { request, context in
                let received = Self.received(request)
                let addressed = try S3.address(
                    method: received.method, rawPath: received.rawPath, query: received.query, host: request.head.authority,
                    domain: agent.cluster.s3Domain, hasCopySource: !received.values(of: "x-amz-copy-source").isEmpty
                )
                operation = "\(addressed.operation)"
                let caller: Caller
                do {
                    caller = try await authenticate(received)
                } catch let error as S3.SigV4.VerificationError where error.code == .accessDenied {
                    // As S3 answers an unsigned request for a bucket that does not exist.
                    if let bucket = addressed.bucket, try await agent.local.metadata.bucket(bucket).map({ !$0.deleted }) != true { throw S3APIError.noSuchBucket(bucket) }
                    throw error
                }
                await ExpectContinueHandler.sendContinue(on: context.channel)
                return try await S3Operations(agent: agent, request: request, received: received, addressed: addressed, caller: caller, connection: context.download).run()
            } }
        } catch {
            let failure = S3APIError.from(error)
            if failure.status.code >= 500, failure.status != .notImplemented {
                context.logger.warning("S3 request failed", metadata: ["operation": "\(operation)", "error": "\(error)", "request": "\(requestID)"])
            }
            response = Self.errorResponse(failure, resource: request.uri.path, requestID: requestID, head: request.method == .head)
        }
        response.headers[HTTPField.Name("x-amz-request-id")!] = requestID
        agent.metrics.recordS3(operation: operation, status: Int(response.status.code), seconds: (ContinuousClock.now - started).inSeconds)
        return response
    }

    /// The request as the signature covers it. HTTP/1's `Host` header arrives as the request's
    /// authority (and is no longer among the header fields), so it is put back.
    static func received(_ request: Request) -> S3.SigV4.ReceivedRequest {
        var headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
        if let authority = request.head.authority { headers.append((name: "host", value: authority)) }
        let target = request.head.path ?? "/"
        let question = target.firstIndex(of: "?")
        let rawPath = String(target[..<(question ?? target.endIndex)])
        let rawQuery = question.map { String(target[target.index(after: $0)...]) } ?? ""
        return S3.SigV4.ReceivedRequest(method: request.method.rawValue, rawPath: rawPath, rawQuery: rawQuery, headers: headers)
    }

    /// The user whose access key signed the request.
    private func authenticate(_ received: S3.SigV4.ReceivedRequest) async throws -> Caller {
        let claimed = S3.SigV4.Verifier.claimedAccessKeyID(received)
        let credentials = if let claimed { try await agent.accessKeys.credentials(forAccessKey: claimed) } else { (user: UserRecord, secret: String)?.none }
        let now = Int64(HybridClock.systemMilliseconds() / 1000)
        let authenticated = try verifier.verify(received, now: now) { id in id == claimed ? credentials?.secret : nil }
        guard let credentials else { throw S3APIError(.forbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.") }
        return Caller(user: credentials.user, signature: authenticated)
    }

    static func errorResponse(_ error: S3APIError, resource: String, requestID: String, head: Bool) -> Response {
        var headers = error.headers
        headers[.contentType] = "application/xml"
        // A HEAD answer has no body, so clients read the code from the status alone.
        guard !head else { return Response(status: error.status, headers: headers) }
        let xml = S3.errorXML(code: error.code, message: error.message, resource: PercentEncoding.decodeLeniently(resource[...]), requestID: requestID)
        return Response(status: error.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: xml)))
    }

    /// 16 random upper-case hex digits, as S3's request ids look.
    static func makeRequestID() -> String {
        var random = SystemRandomNumberGenerator()
        return Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }).uppercased()
    }
}

/// Who sent an S3 request, and what its signature says about the body.
struct Caller: Sendable {
    var user: UserRecord
    var signature: S3.SigV4.Authenticated

    /// The owner key of this user's files.
    var namespaceKey: String { UserRecord.namespaceKey(id: user.id, name: user.name) }
}
