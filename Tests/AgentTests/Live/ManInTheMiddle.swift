import AsyncHTTPClient
import HTTPTypes
import Logging
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization

/// An HTTP proxy in front of one agent, playing the attacker on the wire between two agents: it
/// records every request as it passed (method, target, headers, body) and every answer, and can
/// rewrite a request body, an answer body, or answer with an earlier answer instead.
final class ManInTheMiddle: Sendable {
    struct Exchange: Sendable {
        var method: HTTPMethod
        var target: String
        var headers: [(String, String)]
        var body: ByteBuffer
        var status: Int
        var answerHeaders: [(String, String)]
        var answer: ByteBuffer
    }

    enum Tamper: Sendable {
        case none
        case requestBody(ByteBuffer)
        case answerBody(ByteBuffer)
        /// Answers with this earlier exchange's status, headers and body (never reaching the agent).
        case staleAnswer(Exchange)
    }

    let upstream: String
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    private let log = Mutex<[Exchange]>([])
    private let mode = Mutex<Tamper>(.none)

    private init(upstream: String) { self.upstream = upstream }

    var exchanges: [Exchange] { log.withLock { $0 } }
    func tamper(_ tamper: Tamper) { mode.withLock { $0 = tamper } }

    /// Runs a proxy to `upstream` (`host:port`) on a free loopback port for the time of `body`.
    static func run(upstream: String, _ body: (ManInTheMiddle, _ address: String) async throws -> Void) async throws {
        let proxy = ManInTheMiddle(upstream: upstream)
        let router = Router()
        for method in [HTTPRequest.Method.get, .put, .post, .head] {
            router.on("**", method: method) { request, _ in try await proxy.forward(request) }
        }
        let (ports, portsContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portsContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "man-in-the-middle", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var iterator = ports.makeAsyncIterator()
            do {
                guard let port = await iterator.next(), port > 0 else { throw ProxyError() }
                try await body(proxy, "127.0.0.1:\(port)")
            } catch {
                group.cancelAll()
                try? await proxy.client.shutdown()
                throw error
            }
            group.cancelAll()
            try await proxy.client.shutdown()
        }
    }

    struct ProxyError: Error {}

    private func forward(_ request: Request) async throws -> Response {
        let received = try await request.body.collect(upTo: 64 << 20)
        let method = HTTPMethod(rawValue: request.method.rawValue)
        let headers = request.headers.filter { $0.name != .contentLength && $0.name.canonicalName != "host" }.map { ($0.name.rawName, $0.value) }
        let tamper = mode.withLock { $0 }
        var exchange = Exchange(method: method, target: request.uri.string, headers: headers, body: received, status: 0, answerHeaders: [], answer: ByteBuffer())
        if case .staleAnswer(let earlier) = tamper {
            exchange.status = earlier.status
            exchange.answerHeaders = earlier.answerHeaders
            exchange.answer = earlier.answer
        } else {
            var outgoing = HTTPClientRequest(url: "http://\(upstream)\(exchange.target)")
            outgoing.method = method
            for (name, value) in headers { outgoing.headers.add(name: name, value: value) }
            if case .requestBody(let replacement) = tamper { outgoing.body = .bytes(replacement) } else { outgoing.body = .bytes(received) }
            let response = try await client.execute(outgoing, timeout: .seconds(30))
            exchange.status = Int(response.status.code)
            exchange.answerHeaders = response.headers.filter { !["content-length", "transfer-encoding", "connection"].contains($0.name.lowercased()) }
                .map { ($0.name, $0.value) }
            exchange.answer = try await response.body.collect(upTo: 64 << 20)
            if case .answerBody(let replacement) = tamper { exchange.answer = replacement }
        }
        log.withLock { $0.append(exchange) }
        var fields = HTTPFields()
        for (name, value) in exchange.answerHeaders { if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) } }
        return Response(status: .init(code: exchange.status), headers: fields, body: .init(byteBuffer: exchange.answer))
    }
}
