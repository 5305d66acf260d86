import Agent
import ArgumentParser
import DevCluster
import Foundation
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// `filestore dev`: a local multi-process cluster for laptops, tests and demos (DESIGN.md §11).
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a local cluster of agents as child processes.",
        subcommands: [DevUp.self, DevStart.self],
        defaultSubcommand: DevUp.self
    )
}

/// Options shared by the dev subcommands.
struct DevLocation: ParsableArguments {
    @Option(help: "Where the cluster keeps its files (cluster.yml, cluster.json, one folder per node).") var dir: String = ".filestore-dev"
}

struct DevUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the cluster and keep it running until Ctrl-C (the default).",
        discussion: "Agents that crash are not restarted; bring one back with `filestore dev start ID`."
    )

    @OptionGroup var location: DevLocation
    @Option(help: "Number of agents.") var nodes: Int = 3
    @Option(help: "HTTP port of the first agent; the others follow consecutively.") var port: Int = 8080
    @Option(help: "Gossip (UDP) port of the first agent; likewise.") var gossipPort: Int = 7946
    @Option(help: "S3 port of the first agent; likewise.") var s3Port: Int = 3900
    @Option(help: "Storage: dir (a folder per node) or s3 (one moto_server per node).") var storage: String = "dir"
    @Option(help: "Copies of every chunk.") var replication: Int = 2
    @Option(help: "Chunk size, like 5MiB.") var chunkSize: String = "5MiB"
    @Option(help: "How long a dead node may stay away before its data is re-replicated, like 5m or 30s.") var deadGrace: String = "5m"
    @Option(help: "Convergence round interval (hints drain and repairs run this often when idle).") var repairInterval: String = "5s"
    @Option(help: "Agent log level.") var logLevel: String = "info"
    @Option(name: .customLong("limit"), help: "An entry of cluster.yml's limits: section, KEY=VALUE, like idle_timeout=5s (repeatable).") var limits: [String] = []
    @Flag(help: "Serve everything over TLS, with a cluster CA and node certificates made in DIR/tls (clients trust DIR/tls/ca.crt).") var tls = false
    @Flag(help: "Give every agent a listener of its own for the internal API (with --tls: mutual TLS between agents).") var internalListeners = false

    func validate() throws {
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be from 1 to 64") }
        guard (1...nodes).contains(replication) else { throw ValidationError("--replication must be from 1 to --nodes (\(nodes))") }
        guard (1...(65_535 - nodes)).contains(port), (1...(65_535 - nodes)).contains(gossipPort), (1...(65_535 - nodes)).contains(s3Port) else { throw ValidationError("ports must leave room for \(nodes) agents") }
        guard LocalCluster.Options.Storage(rawValue: storage) != nil else { throw ValidationError("--storage must be dir or s3") }
        for entry in limits {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].allSatisfy({ $0.isLetter || $0 == "_" }), !parts[1].isEmpty, parts[1].allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw ValidationError("--limit \(entry): give KEY=VALUE, like idle_timeout=5s")
            }
        }
    }

    func run() async throws {
        let password = try Self.adminPassword(in: location.dir)
        var options = LocalCluster.Options(directory: location.dir, adminPassword: password)
        options.nodes = nodes
        options.httpPort = port
        options.gossipPort = gossipPort
        options.s3Port = s3Port
        options.storage = LocalCluster.Options.Storage(rawValue: storage) ?? .directory
        options.replication = replication
        options.chunkSize = chunkSize
        options.deadGrace = deadGrace
        options.repairInterval = repairInterval
        options.logLevel = logLevel
        options.tls = tls
        options.limits = Dictionary(limits.map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), String(parts[1]))
        }) { _, last in last }
        options.internalListeners = internalListeners

        // Listen for Ctrl-C before starting anything, so no signal is missed.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        say("filestore dev: starting \(nodes) agents in \(location.dir) …")
        let cluster: LocalCluster
        do {
            cluster = try await LocalCluster.start(options)
        } catch {
            say("filestore dev: could not start the cluster: \(error)")
            throw ExitCode(1)
        }
        let jsonPath = "\(location.dir)/cluster.json"
        try cluster.clusterJSON().write(toFile: jsonPath, atomically: true, encoding: .utf8)
        say("")
        for node in cluster.nodes { say("  \(node.id)  \(node.url)   S3: \(node.s3URL)   log: \(node.logFile)") }
        say("")
        say("  user: admin   password: \(password)")
        let trust = cluster.authorityCertificate.map { " --cacert \($0)" } ?? ""
        say("  try:  curl\(trust) -u admin:\(password) -T README.md \(cluster.nodes[0].url)/api/v1/files/README.md")
        say("        curl\(trust) -u admin:\(password) \(cluster.nodes.last!.url)/api/v1/files/README.md")
        if let authority = cluster.authorityCertificate { say("  the CLI: filestore status --url \(cluster.nodes[0].url) --ca-cert \(authority)") }
        say("  nodes and credentials for scripts: \(jsonPath)")
        say("\nfilestore dev: running; Ctrl-C stops every agent.")
        for await _ in signals { break }
        say("\nfilestore dev: stopping …")
        let started = Set(cluster.nodes.compactMap { cluster.pid($0.id) })
        await cluster.stop()
        // Agents brought back with `filestore dev start` are not our children: stop them by pid.
        for pid in Self.recordedPIDs(jsonPath) where !started.contains(pid) && pid > 0 { kill(pid, SIGTERM) }
        say("filestore dev: stopped.")
    }

    /// FILESTORE_ADMIN_PASSWORD, else the one saved in the directory, else a new one saved there (0600).
    static func adminPassword(in directory: String) throws -> String {
        if let password = ProcessInfo.processInfo.environment["FILESTORE_ADMIN_PASSWORD"], !password.isEmpty {
            guard (try? Accounts.validatePassword(password)) != nil else { throw ValidationError("FILESTORE_ADMIN_PASSWORD must be 8-256 bytes") }
            return password
        }
        let path = "\(directory)/admin-password"
        if let saved = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !saved.isEmpty { return saved }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let password = Accounts.generatePassword()
        FileManager.default.createFile(atPath: path, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        return password
    }

    static func recordedPIDs(_ jsonPath: String) -> [Int32] {
        ClusterFile.read(jsonPath)?.nodes.map(\.pid).filter { $0 > 0 } ?? []
    }
}

/// `filestore dev start ID`: bring one agent of a running dev cluster back (after a crash or a drill).
struct DevStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one agent of the dev cluster again.")

    @OptionGroup var location: DevLocation
    @Argument(help: "The node id, like node2.") var id: String

    func run() async throws {
        let jsonPath = "\(location.dir)/cluster.json"
        guard var file = ClusterFile.read(jsonPath), let index = file.nodes.firstIndex(where: { $0.id == id }) else {
            say("filestore dev start: no node \(id) in \(jsonPath) (is `filestore dev` running there?)")
            throw ExitCode(1)
        }
        let dataDirectory = file.nodes[index].dataDirectory
        if case let pid = file.nodes[index].pid, pid > 0, kill(pid, 0) == 0 {
            say("filestore dev start: \(id) is already running (pid \(pid))")
            throw ExitCode(1)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["agent", "--config", "\(location.dir)/cluster.yml", "--node", id, "--data-dir", dataDirectory]
        var environment = ProcessInfo.processInfo.environment
        environment["FILESTORE_ADMIN_PASSWORD"] = try DevUp.adminPassword(in: location.dir)
        process.environment = environment
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dataDirectory)/agent.log"))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        file.nodes[index].pid = process.processIdentifier
        try file.write(to: jsonPath)
        say("filestore dev start: \(id) started (pid \(process.processIdentifier)); log: \(dataDirectory)/agent.log")
    }
}

/// Writes a line to standard output at once (print's buffer would hold it when piped).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
