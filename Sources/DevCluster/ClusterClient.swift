import Agent
import AsyncHTTPClient
import Basics
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import LocalProcesses
import PublicAPI

/// An HTTP client for the public API of a local cluster, with the admin's credentials by default.
public struct ClusterClient: Sendable {
    public let cluster: LocalCluster
    /// Trusts the cluster's CA when it runs over TLS.
    public let http: HTTPClient
    /// `Basic` credentials of the cluster's admin.
    public let admin: String

    /// The internal protocol, signed with the cluster secret as if from `node1`.
    let peers: HTTPTransport

    public init(cluster: LocalCluster) {
        self.cluster = cluster
        self.admin = Self.basic("admin", cluster.options.adminPassword)
        let secret = (try? String(contentsOfFile: cluster.options.directory + "/secret", encoding: .utf8)) ?? ""
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(120)))
        var peerTLS: TLSConfiguration?
        if let authority = cluster.authorityCertificate, let roots = try? NIOSSLCertificate.fromPEMFile(authority) {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            configuration.tlsConfiguration = tls
            // Internal calls go as node1 would make them, with its certificate (for mutual TLS).
            let directory = (authority as NSString).deletingLastPathComponent
            if let chain = try? NIOSSLCertificate.fromPEMFile(directory + "/" + ClusterCertificates.certificateFile("node1")),
               let key = try? NIOSSLPrivateKey(file: directory + "/" + ClusterCertificates.keyFile("node1"), format: .pem) {
                tls.certificateChain = chain.map { .certificate($0) }
                tls.privateKey = .privateKey(key)
            }
            peerTLS = tls
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        peers = HTTPTransport(peers: PeerClient(selfID: "node1", auth: InternalAuth(clusterName: cluster.options.clusterName, secret: secret), tls: peerTLS))
    }

    /// Carries out a call of the internal protocol on `node` (what tests and drills use to look inside a node).
    // Not inlined: the 6.3 release compiler crashed (signal 11, splitting the coroutine) when it
    // inlined this into DrillRunner.heldChunkSizes.
    @inline(never)
    public func internalCall<C: InternalCall>(_ call: C, on node: String) async throws -> C.Response {
        guard let target = cluster.node(node), let id = NodeID(node) else { throw LocalProcessError("no node \(node)") }
        return try await peers.call(call, on: id, address: target.peerAddress)
    }

    /// An answer, its body collected.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        public var bytes: [UInt8] { Array(body.readableBytesView) }
        public var text: String { String(buffer: body) }
        /// The body decoded as one of the public API's types.
        public func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try APIJSON.decode(T.self, from: body.readableBytesView)
            } catch {
                throw LocalProcessError("HTTP \(status) answer is not a \(T.self): \(error); body: \(text.prefix(500))")
            }
        }

        /// The error code of an error answer (`{"error": {"code", …}}`), or nil when it is not one.
        public var errorCode: String? { (try? decode(APIErrorBody.self))?.error.code }
    }

    /// The `Authorization` value for Basic credentials.
    public static func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    public func shutdown() async throws {
        try? await peers.peers.shutdown()
        try await http.shutdown()
    }

    /// One request to `node` (`path` includes the query) with `authorization` as the
    /// `Authorization` header: nil sends the admin's credentials, an empty string sends none.
    public func send(
        _ method: HTTPMethod, _ node: String, _ path: String, body: ByteBuffer? = nil, authorization: String? = nil, headers: [(String, String)] = []
    ) async throws -> Reply {
        guard let target = cluster.node(node) else { throw LocalProcessError("no node \(node)") }
        var request = HTTPClientRequest(url: target.url + path)
        request.method = method
        if case let authorization = authorization ?? admin, !authorization.isEmpty { request.headers.add(name: "Authorization", value: authorization) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        // As the CLI does (Basic-authenticated POSTs need it); a test can send its own instead.
        if !headers.contains(where: { $0.0.lowercased() == "x-requested-with" }) { request.headers.add(name: "X-Requested-With", value: "filestore-tests") }
        if let body { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .seconds(120))
        return Reply(status: Int(response.status.code), headers: response.headers, body: try await response.body.collect(upTo: 256 << 20))
    }

    public func upload(_ node: String, _ path: String, _ bytes: [UInt8], authorization: String? = nil) async throws -> Reply {
        try await send(.PUT, node, "/api/v1/files/\(path)", body: ByteBuffer(bytes: bytes), authorization: authorization)
    }

    public func download(_ node: String, _ path: String, authorization: String? = nil) async throws -> Reply {
        try await send(.GET, node, "/api/v1/files/\(path)", authorization: authorization)
    }

    /// `GET /api/v1/cluster` from `node`: each node id with its status.
    public func statuses(from node: String) async throws -> [String: String] {
        Dictionary(try await cluster(from: node).nodes.map { ($0.id, $0.status) }, uniquingKeysWith: { first, _ in first })
    }

    /// `GET /api/v1/cluster` from `node`.
    public func cluster(from node: String) async throws -> ClusterStatus {
        try await send(.GET, node, "/api/v1/cluster").decode(ClusterStatus.self)
    }

    /// The nodes holding each chunk of a file, as `GET /api/v1/meta` reports them.
    public func replicas(_ path: String, from node: String = "node1") async throws -> [Set<String>] {
        try await meta(path, from: node).chunks.map { Set($0.replicas) }
    }

    /// `GET /api/v1/meta/{path}` from `node`.
    public func meta(_ path: String, from node: String = "node1") async throws -> FileMeta {
        try await send(.GET, node, "/api/v1/meta/\(path)").decode(FileMeta.self)
    }

    /// The cluster's repair health as `node` reports it.
    public func health(from node: String = "node1") async throws -> ClusterStatus.Health {
        try await cluster(from: node).health
    }

    /// Polls every agent's view until all agents see each other alive.
    public func waitUntilAllAlive(timeout: Duration = .seconds(30)) async throws {
        let ids = cluster.nodes.map(\.id)
        try await pollUntil("every node sees every node alive", timeout: timeout) {
            for id in ids {
                let view = try await statuses(from: id)
                guard ids.allSatisfy({ view[$0] == "alive" }) else { return "\(id) sees \(view)" }
            }
            return nil
        }
    }
}

/// Polls `check` (nil = done, text = what was last seen) until it passes or the deadline passes.
public func pollUntil(_ what: String, timeout: Duration, interval: Duration = .milliseconds(200), _ check: () async throws -> String?) async throws {
    let deadline = ContinuousClock.now + timeout
    var last = "never checked"
    while ContinuousClock.now < deadline {
        do {
            guard let seen = try await check() else { return }
            last = seen
        } catch {
            last = "\(error)"
        }
        try await Task.sleep(for: interval)
    }
    throw LocalProcessError("timed out after \(timeout) waiting until \(what); last seen: \(last)")
}

/// Reproducible pseudo-random bytes (fast enough for tens of MiB in a debug build).
public func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var index = 0
        while index < count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var word = state ^ (state >> 29)
            for _ in 0..<8 where index < count {
                raw[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
    return bytes
}

