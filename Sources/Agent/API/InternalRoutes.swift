import ByteStreams
import HTTPTypes
import Hummingbird
import NIOCore

/// `/internal/v1/…`: what agents ask of each other, one route per call type of the internal
/// protocol (`Internal/`). Registered behind `InternalAuthMiddleware`: every call carries a valid,
/// fresh cluster signature; its body is checked against the signed digest as it arrives, and the
/// answer is signed over the call's nonce, its status and its body. Public credentials never work here.
struct InternalRoutes {
    let agent: AgentContext

    func register(on router: RouterGroup<AgentRequestContext>) {
        add(ChunkCalls.Size.self, on: router)
        add(ChunkCalls.Put.self, on: router)
        add(ChunkCalls.Get.self, on: router)
        add(ChunkCalls.Verify.self, on: router)
        add(ManifestCalls.Put.self, on: router)
        add(ManifestCalls.Get.self, on: router)
        add(ManifestCalls.List.self, on: router)
        add(SyncCalls.Digests.self, on: router)
        add(SyncCalls.Held.self, on: router)
        add(SyncCalls.References.self, on: router)
        add(SyncCalls.GetGlobal.self, on: router)
        add(SyncCalls.GlobalDigests.self, on: router)
        add(SyncCalls.PutGlobal.self, on: router)
    }

    /// Serves `C` at its route: the request as the protocol sees it, answered by this node.
    private func add<C: InternalCall>(_ type: C.Type, on router: RouterGroup<AgentRequestContext>) {
        let peer = agent.peer
        let auth = agent.internalAuth
        router.on(RouterPath(C.route), method: HTTPRequest.Method(C.method.rawValue)!) { request, context in
            // Set by InternalAuthMiddleware, which runs before every route here.
            guard let call = context.internalCall else { throw APIError.unauthorized("internal API: no cluster signature") }
            let answer: InternalResponse
            do {
                // A content-addressed body is checked by the call itself (against the same digest);
                // any other is hashed here as it streams in.
                let body = C.contentAddressedBody
                    ? AnySendableByteSequence(request.body)
                    : AnySendableByteSequence(DigestCheckedBody(base: AnySendableByteSequence(request.body), expected: call.bodyDigest))
                let wire = try InternalRequest(
                    route: C.route, target: request.uri.string, contentLength: request.headers[.contentLength].flatMap(Int64.init),
                    body: body, uncheckedBodyDigest: C.contentAddressedBody ? call.bodyDigest : nil
                )
                answer = await InternalExchange.serve(C.self, wire, by: peer)
            } catch {
                answer = InternalExchange.failure(error)
            }
            if answer.status >= 500 {
                context.logger.error("internal call failed", metadata: ["route": "\(C.route)", "error": "\(String(buffer: answer.body).prefix(300))"])
            }
            var headers: HTTPFields = [.contentType: answer.contentType]
            for (name, value) in auth.signResponse(nonce: call.nonce, status: answer.status, bodyDigest: answer.declaredDigest ?? InternalAuth.digest(answer.body)) {
                headers[HTTPField.Name(name)!] = value
            }
            return Response(status: HTTPResponse.Status(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: answer.body))
        }
    }
}
