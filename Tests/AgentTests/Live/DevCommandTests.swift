import AsyncHTTPClient
import DevCluster
import Foundation
import NIOCore
import Testing
import LocalProcesses
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `filestore dev` as the README's quick start uses it: a working cluster, cluster.json, Ctrl-C stops all.
@Suite("filestore dev", .serialized)
struct DevCommandTests {
    @Test func devStartsAWorkingClusterAndCtrlCStopsIt() async throws {
        guard let executable = LiveCluster.executable else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "the filestore executable is not built")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-dev-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // dev numbers each agent's ports from the first: three consecutive free ones of each kind.
        let port = try FreePort.pickConsecutive(3)
        let gossipPort = try FreePort.pickConsecutive(3, udp: true, avoiding: Set(port..<(port + 3)))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["dev", "--dir", directory, "--port", String(port), "--gossip-port", String(gossipPort), "--chunk-size", "1MiB"]
        var environment = ProcessInfo.processInfo.environment
        environment["FILESTORE_ADMIN_PASSWORD"] = nil
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-dev-\(UUID().uuidString.prefix(8)).out").path
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = process.standardOutput
        try process.run()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var pids: [Int32] = []
        do {
            // cluster.json appears once every agent answers.
            var nodes: [ClusterFile.Node] = []
            var password = ""
            try await pollUntil("cluster.json is written", timeout: .seconds(60)) {
                guard let file = ClusterFile.read("\(directory)/cluster.json") else { return "not yet" }
                nodes = file.nodes
                password = file.admin.password
                return nil
            }
            #expect(nodes.count == 3 && password.count >= 16)
            pids = nodes.map(\.pid)
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(printed.contains(password) && printed.contains("http://127.0.0.1:\(port)"), "dev prints URLs and credentials:\n\(printed)")

            let authorization = "Basic " + Data("admin:\(password)".utf8).base64EncodedString()
            let bytes = randomBytes(3 << 20, seed: 11)
            let urls = nodes.map(\.url)
            var put = HTTPClientRequest(url: urls[0] + "/api/v1/files/hello.bin")
            put.method = .PUT
            put.headers.add(name: "Authorization", value: authorization)
            put.body = .bytes(ByteBuffer(bytes: bytes))
            // The admin is created as each agent starts: retry until it exists.
            try await pollUntil("the upload succeeds", timeout: .seconds(30)) {
                let response = try await http.execute(put, timeout: .seconds(30))
                let status = response.status.code
                _ = try await response.body.collect(upTo: 1 << 20)
                return status == 201 ? nil : "status \(status)"
            }
            var get = HTTPClientRequest(url: urls[2] + "/api/v1/files/hello.bin")
            get.headers.add(name: "Authorization", value: authorization)
            let response = try await http.execute(get, timeout: .seconds(30))
            #expect(Array(try await response.body.collect(upTo: 8 << 20).readableBytesView) == bytes)
        } catch {
            print("dev output:\n\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
            kill(process.processIdentifier, SIGINT)
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()

        kill(process.processIdentifier, SIGINT)
        try await pollUntil("dev and every agent exit", timeout: .seconds(30)) {
            let running = pids.filter { kill($0, 0) == 0 }
            return !process.isRunning && running.isEmpty ? nil : "dev running: \(process.isRunning), agents running: \(running)"
        }
        #expect(process.terminationStatus == 0)
    }

    @Test func agentRefusesBadConfigurationNamingTheField() async throws {
        guard let executable = LiveCluster.executable else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-badconf-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = TestEnvironment.randomClusterSecret()
        let good = "cluster: {name: x, secret: \(secret)}\nnodes:\n  - {id: node1, http: \"127.0.0.1:1\", gossip: \"127.0.0.1:2\", storage: {type: dir, path: /tmp/x}}"
        let cases: [(yaml: String, arguments: [String], field: String, environment: [String: String])] = [
            ("cluster: {name: x, secret: \(secret), replication: 0}\nnodes: []", ["--node", "node1"], "cluster.replication", [:]),
            ("cluster: {name: x, secret: \(secret)}\nnodes:\n  - {id: node1, http: \"127.0.0.1:1\", gossip: nope, storage: {type: dir, path: /tmp/x}}", ["--node", "node1"], "nodes[0].gossip", [:]),
            ("cluster: {name: x, secret: \(secret)}\nnodes: []", ["--node", "node9"], "--http", [:]),
            ("cluster: {name: x, secret: \(secret)}\nnodes: []", ["--node", "Bad_Id"], "--node", [:]),
            // A published or short cluster secret: anyone could act as a node (--insecure-dev accepts it).
            ("cluster: {name: x, secret: change-me-please}\nnodes: []", ["--node", "node1"], "cluster.secret", [:]),
            (good, ["--node", "node1"], "cluster.secret", ["FILESTORE_CLUSTER_SECRET": "short"]),
            // A bootstrap admin password too short to be created: refused before anything starts.
            (good, ["--node", "node1"], "FILESTORE_ADMIN_PASSWORD", ["FILESTORE_ADMIN_PASSWORD": "short"]),
        ]
        for (index, item) in cases.enumerated() {
            let file = "\(directory)/c\(index).yml"
            try item.yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try await Executables.offload { () -> (Int32, String) in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["agent", "--config", file, "--data-dir", "\(directory)/data"] + item.arguments
                process.environment = ProcessInfo.processInfo.environment.merging(item.environment) { $1 }
                let errors = Pipe()
                process.standardError = errors
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                while process.isRunning { usleep(10_000) }
                return (process.terminationStatus, text)
            }
            #expect(result.0 == 64, "exit code for \(item.field): \(result.0)")
            #expect(result.1.contains(item.field), "the message names \(item.field): \(result.1)")
        }
    }
}
