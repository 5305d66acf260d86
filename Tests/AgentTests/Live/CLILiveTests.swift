import PublicAPI
import DevCluster
import Foundation
import Testing
import LocalProcesses
import TestSupport

/// The `filestore` client commands against a live cluster, as a user runs them.
@Suite("filestore CLI and /metrics", .serialized)
struct CLILiveTests {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs `filestore ARGS` with `stdin`, a private config dir and the given URL.
    /// `authority` (a cluster's CA, under TLS) is trusted through `FILESTORE_CA_CERT`.
    static func cli(
        _ arguments: [String], stdin: String? = nil, config: String, url: String, authority: String? = nil, environment extra: [String: String] = [:]
    ) async throws -> Run {
        let executable = try #require(LiveCluster.executable)
        return try await Executables.offload {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_CONFIG_HOME"] = config
            environment["FILESTORE_URL"] = url
            environment["FILESTORE_TOKEN"] = nil
            if let authority { environment["FILESTORE_CA_CERT"] = authority }
            environment.merge(extra) { $1 }
            process.environment = environment
            let output = Pipe(), errors = Pipe(), input = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = input
            try process.run()
            if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
            try input.fileHandleForWriting.close()
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = errors.fileHandleForReading.readDataToEndOfFile()
            while process.isRunning { usleep(10_000) }
            return Run(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
        }
    }

    @Test func clientCommandsWorkEndToEnd() async throws {
        try await LiveCluster.run { cluster, api in
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-cli-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let url = try #require(cluster.node("node1")).url
            func run(_ arguments: String..., stdin: String? = nil) async throws -> Run {
                try await Self.cli(arguments, stdin: stdin, config: work + "/config", url: url, authority: cluster.authorityCertificate)
            }

            let login = try await run("login", "--password-stdin", stdin: LiveCluster.adminPassword + "\n")
            try #require(login.status == 0, "login: \(login.errors)")
            let saved = work + "/config/filestore/credentials.json"
            let permissions = try FileManager.default.attributesOfItem(atPath: saved)[.posixPermissions] as? NSNumber
            #expect(permissions?.intValue == 0o600, "the token file is private")

            let bytes = randomBytes(2_500_000, seed: 61)
            try Data(bytes).write(to: URL(fileURLWithPath: work + "/a.bin"))
            let put = try await run("put", work + "/a.bin", "docs/a.bin")
            #expect(put.status == 0 && put.output.contains("stored docs/a.bin"), "put: \(put.output) \(put.errors)")
            let listed = try await run("ls")
            #expect(listed.output.contains("docs/a.bin"))
            let stat = try await run("stat", "docs/a.bin")
            #expect(stat.output.contains("chunk 2 ") && stat.output.contains(" on node"), "stat: \(stat.output)")
            let get = try await run("get", "docs/a.bin", work + "/back.bin")
            #expect(get.status == 0, "get: \(get.errors)")
            #expect(FileManager.default.contents(atPath: work + "/back.bin") == Data(bytes))

            let piped = try await run("put", "-", "notes/stdin.txt", stdin: "from standard input\n")
            #expect(piped.status == 0, "put from stdin: \(piped.errors)")
            let cat = try await run("get", "notes/stdin.txt")
            #expect(cat.output == "from standard input\n")

            #expect(try await run("rm", "docs/a.bin").status == 0)
            #expect(!(try await run("ls", "docs/")).output.contains("a.bin"))
            let missing = try await run("get", "docs/a.bin", work + "/nothing.bin")
            #expect(missing.status == 1 && missing.errors.hasPrefix("filestore: no file") && missing.errors.split(separator: "\n").count == 1, "one clear line: \(missing.errors)")
            #expect(!FileManager.default.fileExists(atPath: work + "/nothing.bin"))

            #expect(try await run("user", "add", "bob", "--password-stdin", stdin: "bob-password-1\n").status == 0)
            #expect(try await run("user", "list").output.contains("bob\tuser"))
            // S3 access keys: the secret is printed once, never listed; deleting the user ends its keys.
            let made = try await run("key", "create", "bob")
            #expect(made.status == 0, "key create: \(made.errors)")
            let keyID = try #require(made.output.split(separator: "\n").first { $0.hasPrefix("access key id:") }?.split(separator: " ").last.map(String.init))
            let secret = try #require(made.output.split(separator: "\n").first { $0.hasPrefix("secret access key:") }?.split(separator: " ").last.map(String.init))
            let keyList = try await run("key", "list", "bob")
            #expect(keyList.output.hasPrefix(keyID + "\t") && !keyList.output.contains(secret), "key list: \(keyList.output)")
            let other = try await run("key", "create", "bob")
            #expect(try await run("key", "list", "bob").output.split(separator: "\n").count == 2)
            #expect(try await run("key", "rm", "bob", keyID).status == 0)
            #expect(!(try await run("key", "list", "bob")).output.contains(keyID))
            #expect(try await run("key", "rm", "bob", keyID).status == 1, "a deleted key is not found")
            #expect(try await run("user", "rm", "bob").status == 0)
            #expect(try await run("key", "list", "bob").status == 1, "the user is gone: \(other.output)")
            #expect(try await run("user", "add", "bob", "--password-stdin", stdin: "bob-password-2\n").status == 0)
            #expect(try await run("key", "list", "bob").output.isEmpty, "a new bob has none of the old one's keys")
            #expect(try await run("ring", "plan", "--add", "node9").output.contains("→"))

            try await pollUntil("status reports a healthy cluster", timeout: .seconds(20)) {
                let status = try await run("status")
                return status.status == 0 ? nil : "exit \(status.status): \(status.output)"
            }
            await cluster.kill("node3")
            try await pollUntil("status exits 2 once node3 is dead", timeout: .seconds(20), interval: .milliseconds(500)) {
                let status = try await run("status")
                return status.status == 2 && status.output.contains("DEGRADED") ? nil : "exit \(status.status)"
            }
            let json = try await run("status", "--json")
            #expect(json.status == 2 && (try? APIJSON.decode(ClusterStatus.self, from: Array(json.output.utf8)))?.nodes.count == 3)
        }
    }

    /// `filestore cert` makes one CA and, for every node of cluster.yml, a certificate signed by
    /// it for the node's hosts; a second run keeps the CA; keys are private to their owner.
    @Test func certMakesTheClusterCAAndNodeCertificates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-cert-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = TestEnvironment.repositoryRoot.appendingPathComponent("cluster.yml").path
        let first = try await Self.cli(["cert", "--config", configuration, "--out", directory], config: directory + "/config", url: "http://127.0.0.1:1")
        try #require(first.status == 0, "filestore cert: \(first.errors)")
        let authority = try String(contentsOfFile: directory + "/ca.crt", encoding: .utf8)
        for node in ["node1", "node2", "node3"] {
            let permissions = try FileManager.default.attributesOfItem(atPath: "\(directory)/\(node).key")[.posixPermissions] as? NSNumber
            #expect(permissions?.intValue == 0o600, "\(node).key is private")
            let verified = try Executables.run("openssl", ["verify", "-CAfile", directory + "/ca.crt", "\(directory)/\(node).crt"])
            #expect(verified.contains(": OK"), "\(verified)")
            let text = try Executables.run("openssl", ["x509", "-noout", "-ext", "subjectAltName,extendedKeyUsage", "-in", "\(directory)/\(node).crt"])
            let host = "agent\(node.dropFirst(4))"
            #expect(text.contains("DNS:\(host)") && text.contains("IP Address:127.0.0.1"), "\(text)")
            #expect(text.contains("TLS Web Server Authentication") && text.contains("TLS Web Client Authentication"), "\(text)")
        }
        let second = try await Self.cli(["cert", "--config", configuration, "--out", directory, "--node", "node2", "--host", "filestore.example.com"], config: directory + "/config", url: "http://127.0.0.1:1")
        try #require(second.status == 0, "filestore cert again: \(second.errors)")
        #expect(try String(contentsOfFile: directory + "/ca.crt", encoding: .utf8) == authority, "the CA is kept")
        #expect(try Executables.run("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", directory + "/node2.crt"]).contains("DNS:filestore.example.com"))
        #expect(try Executables.run("openssl", ["verify", "-CAfile", directory + "/ca.crt", directory + "/node2.crt"]).contains(": OK"))
    }

    @Test func metricsAreValidPrometheusTextAndCountBytes() async throws {
        guard Executables.find("python3") != nil,
            (try? Executables.run("python3", ["-c", "import prometheus_client.parser"])) != nil
        else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "the prometheus-client Python package is required (pip install prometheus-client)")
            return
        }
        try await LiveCluster.run { cluster, api in
            func bytesIn() async throws -> Double {
                let text = try await api.send(.GET, "node1", "/metrics", authorization: "").text
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString.prefix(8)).txt").path
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: file) }
                // The official parser must accept the whole exposition.
                let value = try await Executables.offload {
                    try Executables.run("python3", ["-c", """
                        import sys
                        from prometheus_client.parser import text_string_to_metric_families
                        total = 0.0
                        names = set()
                        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                            names.add(family.name)
                            for sample in family.samples:
                                if sample.name == "filestore_client_bytes_in_total":
                                    total += sample.value
                        for needed in ["filestore_chunk_puts", "filestore_members", "filestore_gossip_packets_in", "hb_requests"]:
                            assert needed in names, needed + " missing: " + ", ".join(sorted(names))
                        print(total)
                        """, file])
                }
                return Double(value.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }
            try await pollUntil("gossip gauges are reported", timeout: .seconds(10)) { (try? await bytesIn()) == nil ? "not yet" : nil }
            let before = try await bytesIn()
            try #require(try await api.upload("node1", "m.bin", randomBytes(1_000_000, seed: 5)).status == 201)
            let after = try await bytesIn()
            #expect(after - before >= 1_000_000, "bytes in moved from \(before) to \(after)")
        }
    }
}
