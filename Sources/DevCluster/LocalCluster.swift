import Agent
import Foundation
import S3
import Synchronization
import LocalProcesses
#if canImport(Glibc)
import Glibc
#endif

/// A throw-away cluster of real agent processes on loopback, for `filestore dev`, drills and
/// live tests: writes a `cluster.yml`, starts one `filestore agent` per node (and one
/// `moto_server` per node for S3 storage), and can kill, freeze, restart and stop them.
public final class LocalCluster: Sendable {
    /// How to lay the cluster out.
    public struct Options: Sendable {
        public enum Storage: String, Sendable { case directory = "dir", s3 }
        public var nodes = 3
        /// First HTTP port (0: free ports picked by the kernel, for tests).
        public var httpPort = 0
        public var gossipPort = 0
        /// First S3 port (0: free ports, for tests).
        public var s3Port = 0
        public var directory: String
        public var storage = Storage.directory
        public var replication = 2
        public var chunkSize = "5MiB"
        /// `cluster.inline_max` (nil: the agents' default).
        public var inlineMax: String?
        public var deadGrace = "5m"
        /// Self-healing timings (cluster.yml keys); nil keeps the agent's defaults.
        public var repairInterval: String?
        public var gcGrace: String?
        public var scrubPeriod: String?
        /// `cluster.s3_upload_expiry` (nil: the agents' default).
        public var s3UploadExpiry: String?
        public var clusterName = "dev"
        public var adminPassword: String
        /// The `filestore` executable (default: this process's own executable).
        public var executable: String?
        public var logLevel = "info"
        /// Entries of cluster.yml's `limits:` section (`idle_timeout: 3s`, …).
        public var limits: [String: String] = [:]
        /// Give each agent a listener of its own for the internal API (`nodes[].internal`).
        public var internalListeners = false
        /// TLS on every listener, with a cluster CA and node certificates made in `directory/tls`;
        /// with `internalListeners`, the internal listeners require agents' certificates (mutual TLS).
        public var tls = false
        /// Each agent on its own loopback address (node1 on 127.0.0.11, node2 on .12, …), so
        /// iptables rules can cut two agents apart without touching anything else.
        public var addressPerNode = false

        public init(directory: String, adminPassword: String) {
            self.directory = directory
            self.adminPassword = adminPassword
        }
    }

    /// One node: its addresses, where its files are, and its running process.
    public struct Node: Sendable {
        public var id: String
        public var httpPort: Int
        public var gossipPort: Int
        /// The internal API's own port, when it has one.
        public var internalPort: Int? = nil
        /// The S3 listener's port.
        public var s3Port = 0
        public var dataDirectory: String
        public var logFile: String
        /// "https" when the cluster runs over TLS.
        public var scheme = "http"
        /// The loopback address every listener of the node binds.
        public var host = "127.0.0.1"
        public var url: String { "\(scheme)://\(host):\(httpPort)" }
        /// The S3 endpoint.
        public var s3URL: String { "\(scheme)://\(host):\(s3Port)" }
        /// Where the internal API is served.
        public var peerAddress: String { "\(host):\(internalPort ?? httpPort)" }

        /// The node's address when each node has its own (`Options.addressPerNode`).
        static func host(index: Int, own: Bool) -> String { own ? "127.0.0.\(10 + index)" : "127.0.0.1" }
    }

    public let options: Options
    private let members: Mutex<[Node]>
    /// Every node, those added with `addNode` included.
    public var nodes: [Node] { members.withLock { $0 } }
    public let configurationFile: String
    private let processes: Mutex<[String: Process]>
    private let motos: Mutex<[String: MotoServer]>

    private init(options: Options, nodes: [Node], configurationFile: String, motos: [String: MotoServer]) {
        self.options = options
        self.members = Mutex(nodes)
        self.configurationFile = configurationFile
        self.motos = Mutex(motos)
        self.processes = Mutex([:])
    }

    /// The names every local agent's certificate is good for.
    static let hosts = ["127.0.0.1", "localhost"]
    /// The names a node's certificate is good for.
    static func hosts(of node: Node) -> [String] { hosts.contains(node.host) ? hosts : hosts + [node.host] }

    /// The cluster CA's certificate, when the cluster runs over TLS.
    public var authorityCertificate: String? {
        options.tls ? URL(fileURLWithPath: options.directory).standardizedFileURL.path + "/tls/" + ClusterCertificates.authorityCertificateFile : nil
    }

    /// Lays out the cluster and starts every agent; returns once each answers HTTP.
    public static func start(_ options: Options) async throws -> LocalCluster {
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        let directory = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        var motos: [String: MotoServer] = [:]
        var nodes: [Node] = []
        var yaml = """
            # Written by filestore; one agent per node below.
            cluster:
              name: \(options.clusterName)
              secret: \(try secret(in: directory))
              replication: \(options.replication)
              write_quorum: \(options.replication)
              chunk_size: \(options.chunkSize)
              dead_grace: \(options.deadGrace)

            """
        for (key, value) in [("repair_interval", options.repairInterval), ("gc_grace", options.gcGrace), ("scrub_period", options.scrubPeriod), ("s3_upload_expiry", options.s3UploadExpiry), ("inline_max", options.inlineMax)] {
            if let value { yaml += "  \(key): \(value)\n" }
        }
        if options.tls {
            yaml += """
                tls:
                  certificate: "\(directory)/tls/{node}.crt"
                  key: "\(directory)/tls/{node}.key"
                  ca: "\(directory)/tls/\(ClusterCertificates.authorityCertificateFile)"
                  mutual: \(options.internalListeners)

                """
        }
        if !options.limits.isEmpty {
            yaml += "limits:\n" + options.limits.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)\n" }.joined()
        }
        yaml += "nodes:\n"
        do {
            var taken: Set<Int> = []
            for index in 1...options.nodes {
                let id = "node\(index)"
                let httpPort = options.httpPort == 0 ? try FreePort.pickForTCPAndUDP(avoiding: taken) : options.httpPort + index - 1
                taken.insert(httpPort)
                let gossipPort = options.gossipPort == 0 ? try FreePort.pickForTCPAndUDP(avoiding: taken) : options.gossipPort + index - 1
                taken.insert(gossipPort)
                var node = Node(id: id, httpPort: httpPort, gossipPort: gossipPort, dataDirectory: "\(directory)/\(id)", logFile: "\(directory)/\(id)/agent.log")
                node.host = Node.host(index: index, own: options.addressPerNode)
                if options.tls { node.scheme = "https" }
                node.s3Port = options.s3Port == 0 ? try FreePort.pickForTCPAndUDP(avoiding: taken) : options.s3Port + index - 1
                taken.insert(node.s3Port)
                if options.internalListeners {
                    let port = try FreePort.pickForTCPAndUDP(avoiding: taken)
                    taken.insert(port)
                    node.internalPort = port
                }
                try FileManager.default.createDirectory(atPath: node.dataDirectory, withIntermediateDirectories: true)
                let storage: String
                switch options.storage {
                case .directory:
                    storage = "{type: dir, path: \"\(node.dataDirectory)/chunks\"}"
                case .s3:
                    guard let moto = try await MotoServer.start() else { throw LocalProcessError("--storage s3 needs moto_server (pip install 'moto[server]')") }
                    motos[id] = moto
                    storage = "{type: s3, endpoint: \"\(moto.endpoint)\", bucket: filestore, access_key: \"\(moto.accessKey)\", secret_key: \"\(moto.secretKey)\"}"
                }
                let internalEntry = node.internalPort.map { ", internal: \"\(node.host):\($0)\"" } ?? ""
                yaml += "  - {id: \(id), http: \"\(node.host):\(node.httpPort)\"\(internalEntry), gossip: \"\(node.host):\(node.gossipPort)\", s3: \"\(node.host):\(node.s3Port)\", storage: \(storage)}\n"
                nodes.append(node)
            }
        } catch {
            for moto in motos.values { await moto.stop() }
            throw error
        }
        let configurationFile = "\(directory)/cluster.yml"
        try yaml.write(toFile: configurationFile, atomically: true, encoding: .utf8)
        if options.tls { try ClusterCertificates.write(into: "\(directory)/tls", clusterName: options.clusterName, nodes: nodes.map { ($0.id, Self.hosts(of: $0)) }) }
        let cluster = LocalCluster(options: options, nodes: nodes, configurationFile: configurationFile, motos: motos)
        do {
            for node in nodes { try cluster.launch(node) }
            for node in nodes { try await cluster.waitUntilListening(node) }
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    /// The cluster secret, kept in the directory so a restarted dev cluster keeps its identity.
    private static func secret(in directory: String) throws -> String {
        let path = "\(directory)/secret"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing.count >= 16 { return existing }
        var random = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &random), radix: 16) }.joined()
        FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        return secret
    }

    /// The node with this id.
    public func node(_ id: String) -> Node? { nodes.first { $0.id == id } }

    /// Process id of a running agent.
    public func pid(_ id: String) -> Int32? { processes.withLock { $0[id].map(\.processIdentifier) } }

    /// Starts a new agent that is not in cluster.yml and joins through node1's gossip port (a
    /// ring join, DESIGN.md §4), with storage of the cluster's kind.
    public func addNode() async throws -> Node {
        let id = "node\(nodes.count + 1)"
        let directory = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        let taken = Set(nodes.flatMap { [$0.httpPort, $0.gossipPort, $0.s3Port] + ($0.internalPort.map { [$0] } ?? []) })
        let httpPort = try FreePort.pickForTCPAndUDP(avoiding: taken)
        let gossipPort = try FreePort.pickForTCPAndUDP(avoiding: taken.union([httpPort]))
        var node = Node(id: id, httpPort: httpPort, gossipPort: gossipPort, dataDirectory: "\(directory)/\(id)", logFile: "\(directory)/\(id)/agent.log")
        node.host = Node.host(index: nodes.count + 1, own: options.addressPerNode)
        node.s3Port = try FreePort.pickForTCPAndUDP(avoiding: taken.union([httpPort, gossipPort]))
        if options.internalListeners { node.internalPort = try FreePort.pickForTCPAndUDP(avoiding: taken.union([httpPort, gossipPort, node.s3Port])) }
        if options.tls {
            node.scheme = "https"
            try ClusterCertificates.write(into: "\(directory)/tls", clusterName: options.clusterName, nodes: [(id, Self.hosts(of: node))])
        }
        try FileManager.default.createDirectory(atPath: node.dataDirectory, withIntermediateDirectories: true)
        members.withLock { $0.append(node) }
        let seed = nodes[0]
        var storage = "dir:\(node.dataDirectory)/chunks"
        if options.storage == .s3 {
            guard let moto = try await MotoServer.start() else { throw LocalProcessError("S3 storage needs moto_server") }
            motos.withLock { $0[id] = moto }
            storage = "s3://\(moto.accessKey):\(moto.secretKey)@\(moto.endpoint.dropFirst("http://".count))/filestore"
        }
        try launch(node, extra: [
            "--http", "\(node.host):\(node.httpPort)", "--gossip", "\(node.host):\(node.gossipPort)", "--s3", "\(node.host):\(node.s3Port)",
            "--storage", storage, "--join", "\(seed.host):\(seed.gossipPort)",
        ] + (node.internalPort.map { ["--internal", "\(node.host):\($0)"] } ?? []))
        try await waitUntilListening(node)
        return node
    }

    /// Starts (or restarts) one agent.
    /// Starts `node`'s agent; `environment` adds variables (a test clock offset, say).
    public func launch(_ node: Node, extra: [String] = [], environment added: [String: String] = [:]) throws {
        let executable = try options.executable ?? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["agent", "--config", configurationFile, "--node", node.id, "--data-dir", node.dataDirectory, "--log-level", options.logLevel] + extra
        var environment = ProcessInfo.processInfo.environment
        // An empty password starts the agents without one: the cluster then makes its own admin.
        environment["FILESTORE_ADMIN_PASSWORD"] = options.adminPassword.isEmpty ? nil : options.adminPassword
        environment.merge(added) { $1 }
        process.environment = environment
        if !FileManager.default.fileExists(atPath: node.logFile) { FileManager.default.createFile(atPath: node.logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: node.logFile))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        processes.withLock { $0[node.id] = process }
    }

    /// Restarts a stopped or killed agent and waits until it answers; `wipe` deletes its data
    /// directory first (a node that returns with an empty disk).
    public func restart(_ id: String, wipe: Bool = false, environment: [String: String] = [:]) async throws {
        guard let node = node(id) else { throw LocalProcessError("no node \(id)") }
        if wipe {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: node.dataDirectory)) ?? [] where name != "agent.log" {
                try FileManager.default.removeItem(atPath: "\(node.dataDirectory)/\(name)")
            }
        }
        try launch(node, environment: environment)
        try await waitUntilListening(node)
    }

    /// Waits until the agent accepts HTTP connections (or has exited, which is an error).
    public func waitUntilListening(_ node: Node, timeout: Duration = .seconds(60)) async throws {
        let process = processes.withLock { $0[node.id] }
        try await Executables.offload {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if FreePort.canConnect(port: node.httpPort, host: node.host) { return }
                if let process, !process.isRunning {
                    throw LocalProcessError("agent \(node.id) exited with status \(process.terminationStatus):\n\(Self.tail(node.logFile))")
                }
                usleep(50_000)  // a poll interval, not a wait for a condition
            }
            throw LocalProcessError("agent \(node.id) not listening on \(node.httpPort) after \(timeout):\n\(Self.tail(node.logFile))")
        }
    }

    /// SIGKILL: the agent dies at once, as in a crash.
    public func kill(_ id: String) async {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        _ = try? await Executables.offload { while process.isRunning { usleep(10_000) } }
    }

    /// SIGSTOP / SIGCONT: the agent freezes with its state, then resumes.
    public func freeze(_ id: String) { if let pid = pid(id) { Glibc.kill(pid, SIGSTOP) } }
    public func thaw(_ id: String) { if let pid = pid(id) { Glibc.kill(pid, SIGCONT) } }

    /// Stops one agent gracefully (SIGTERM, SIGKILL after 5 s).
    public func stop(_ id: String) async {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
        _ = try? await Executables.offload { Executables.terminate(process) }
    }

    /// Stops every agent and S3 server.
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await self.stop(node.id) } }
        }
        for moto in motos.withLock({ Array($0.values) }) { await moto.stop() }
    }

    /// The S3 server of a node with S3 storage: its endpoint and credentials.
    public func s3Server(of id: String) -> S3.Configuration? {
        motos.withLock { $0[id]?.configuration }
    }

    /// The last lines of every node's log, for a failing test's report.
    public func logs(lines: Int = 60) -> String {
        nodes.map { "----- \($0.id) (\($0.logFile)) -----\n\(Self.tail($0.logFile, lines: lines))" }.joined(separator: "\n")
    }

    static func tail(_ path: String, lines: Int = 40) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// `cluster.json` for scripts: every node's id, URL, pid and data directory, and the admin login.
    public func clusterJSON() -> String {
        ClusterFile(
            nodes: nodes.map { ClusterFile.Node(id: $0.id, url: $0.url, s3: $0.s3URL, pid: pid($0.id) ?? 0, dataDirectory: $0.dataDirectory) },
            admin: ClusterFile.Login(user: "admin", password: options.adminPassword)
        ).text()
    }
}
