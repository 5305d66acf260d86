import ByteStreams
import HTTPTypes
import Hummingbird
import NIOCore

/// `/internal/v1/…`: what agents ask of each other, one route per call type of the internal
/// protocol (`Internal/`). Registered behind `InternalAuthMiddleware`: every call carries a valid
/// cluster signature; public credentials are never accepted here.
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
        add(SyncCalls.PutGlobal.self, on: router)
    }

    /// Serves `C` at its route: the request as the protocol sees it, answered by this node.
    private func add<C: InternalCall>(_ type: C.Type, on router: RouterGroup<AgentRequestContext>) {
        let peer = agent.peer
        router.on(RouterPath(C.route), method: HTTPRequest.Method(C.method.rawValue)!) { request, context in
            let answer: InternalResponse
            do {
                let wire = try InternalRequest(
                    route: C.route, target: request.uri.string, contentLength: request.headers[.contentLength].flatMap(Int64.init),
                    body: AnySendableByteSequence(request.body)
                )
                answer = await InternalExchange.serve(C.self, wire, by: peer)
            } catch {
                answer = InternalExchange.failure(error)
            }
            if answer.status >= 500 {
                context.logger.error("internal call failed", metadata: ["route": "\(C.route)", "error": "\(String(buffer: answer.body).prefix(300))"])
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: [.contentType: answer.contentType],
                body: ResponseBody(byteBuffer: answer.body)
            )
        }
    }
}
