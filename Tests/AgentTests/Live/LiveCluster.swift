import AsyncHTTPClient
import DevCluster
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Runs live tests against a real multi-process cluster: starts it, waits until every agent sees
/// every other alive, hands it to the test with an HTTP client, and always tears it down —
/// printing every node's log when the test failed.
enum LiveCluster {
    static let adminPassword = "live-test-admin-pw"

    /// The `filestore` executable built beside the tests (or $FILESTORE_BINARY).
    static var executable: String? {
        if let path = ProcessInfo.processInfo.environment["FILESTORE_BINARY"] { return path }
        let path = Executables.repositoryRoot.appendingPathComponent(".build/debug/filestore").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    static func run(
        nodes: Int = 3, storage: LocalCluster.Options.Storage = .directory, chunkSize: String = "1MiB",
        configure: (inout LocalCluster.Options) -> Void = { _ in },
        _ body: (LocalCluster, API) async throws -> Void
    ) async throws {
        guard let executable else {
            #expect(Bool(!MotoServer.isRequired), "the filestore executable is not built (swift build first)")
            print("SKIPPED: .build/debug/filestore not found; live cluster tests did not run")
            return
        }
        if storage == .s3, MotoServer.executable == nil {
            #expect(Bool(!MotoServer.isRequired), "moto_server is required for S3 live tests")
            print("SKIPPED: moto_server not found; S3 live tests did not run")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-live-\(UUID().uuidString.prefix(8))").path
        var options = LocalCluster.Options(directory: directory, adminPassword: adminPassword)
        options.nodes = nodes
        options.storage = storage
        options.chunkSize = chunkSize
        options.executable = executable
        options.clusterName = "live"
        options.logLevel = "info"
        configure(&options)
        let cluster = try await LocalCluster.start(options)
        let api = API(cluster: cluster)
        do {
            try await api.waitUntilAllAlive()
            try await body(cluster, api)
        } catch {
            print("live cluster test failed: \(error)\n\(cluster.logs())")
            await cluster.stop()
            try? await api.shutdown()
            throw error
        }
        await cluster.stop()
        try? await api.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// An HTTP client for the public API of a live cluster, with admin credentials by default.
struct API: Sendable {
    let cluster: LocalCluster
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(120))))

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        var bytes: [UInt8] { Array(body.readableBytesView) }
        var text: String { String(buffer: body) }
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else { throw TestSupportError("not a JSON object: \(text)") }
            return object
        }
    }

    static func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
    static let admin = basic("admin", LiveCluster.adminPassword)

    func shutdown() async throws { try await http.shutdown() }

    /// One request to `node` (`path` includes the query); `authorization` nil sends none.
    func send(
        _ method: HTTPMethod, _ node: String, _ path: String, body: ByteBuffer? = nil, authorization: String? = API.admin, headers: [(String, String)] = []
    ) async throws -> Reply {
        guard let target = cluster.node(node) else { throw TestSupportError("no node \(node)") }
        var request = HTTPClientRequest(url: target.url + path)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .seconds(120))
        return Reply(status: Int(response.status.code), headers: response.headers, body: try await response.body.collect(upTo: 256 << 20))
    }

    func upload(_ node: String, _ path: String, _ bytes: [UInt8], authorization: String = API.admin) async throws -> Reply {
        try await send(.PUT, node, "/api/v1/files/\(path)", body: ByteBuffer(bytes: bytes), authorization: authorization)
    }

    func download(_ node: String, _ path: String, authorization: String = API.admin) async throws -> Reply {
        try await send(.GET, node, "/api/v1/files/\(path)", authorization: authorization)
    }

    /// `GET /api/v1/cluster` from `node`: each node id with its status.
    func statuses(from node: String) async throws -> [String: String] {
        let reply = try await send(.GET, node, "/api/v1/cluster")
        let nodes = try reply.json()["nodes"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: nodes.compactMap { entry in (entry["id"] as? String).map { ($0, entry["status"] as? String ?? "?") } })
    }

    /// The nodes holding each chunk of a file, as `GET /api/v1/meta` reports them.
    func replicas(_ path: String, from node: String = "node1") async throws -> [Set<String>] {
        let meta = try await send(.GET, node, "/api/v1/meta/\(path)").json()
        return (meta["chunks"] as? [[String: Any]] ?? []).map { Set($0["replicas"] as? [String] ?? []) }
    }

    /// The cluster's repair health as `node` reports it.
    func health(from node: String = "node1") async throws -> [String: Any] {
        try await send(.GET, node, "/api/v1/cluster").json()["health"] as? [String: Any] ?? [:]
    }

    /// Polls every agent's view until all agents see each other alive.
    func waitUntilAllAlive(timeout: Duration = .seconds(30)) async throws {
        let ids = cluster.nodes.map(\.id)
        try await poll("every node sees every node alive", timeout: timeout) {
            for id in ids {
                let view = try await statuses(from: id)
                guard ids.allSatisfy({ view[$0] == "alive" }) else { return "\(id) sees \(view)" }
            }
            return nil
        }
    }
}

/// Polls `check` (nil = done, text = what was last seen) until it passes or the deadline passes.
func poll(_ what: String, timeout: Duration, interval: Duration = .milliseconds(200), _ check: () async throws -> String?) async throws {
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
    throw TestSupportError("timed out after \(timeout) waiting until \(what); last seen: \(last)")
}

/// Reproducible pseudo-random bytes (fast enough for tens of MiB in a debug build).
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
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

/// Bytes of every chunk file under each node's directory store (or one node's).
func storedChunkBytes(_ cluster: LocalCluster, only: String? = nil) -> Int64 {
    var total: Int64 = 0
    for node in cluster.nodes where only == nil || node.id == only {
        guard let walker = FileManager.default.enumerator(atPath: node.dataDirectory + "/chunks/chunks") else { continue }
        while let name = walker.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: node.dataDirectory + "/chunks/chunks/" + name))?[.size] as? NSNumber,
                (walker.fileAttributes?[.type] as? FileAttributeType) == .typeRegular {
                total += size.int64Value
            }
        }
    }
    return total
}
