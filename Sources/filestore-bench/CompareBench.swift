import Basics
import ArgumentParser
import AsyncHTTPClient
import Crypto
import DevCluster
import Foundation
import NIOCore
import LocalProcesses

/// `filestore-bench compare`: DESIGN.md §15's ratios against nginx measured in the same run —
/// a large file through one agent of a 3-node cluster (directory storage, replication 2) vs
/// nginx receiving it once (WebDAV PUT) and serving it (GET); 4 KiB files with 16 concurrent
/// clients against both.
struct CompareBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare", abstract: "Agent vs nginx: large-file upload/download and 4 KiB files with 16 clients.")

    @Option(help: "Large file size in MiB.") var sizeMiB = 1024
    @Option(help: "Rounds of the large-file upload and download (medians are reported).") var rounds = 3
    @Option(help: "4 KiB files to upload (and then download).") var smallFiles = 2000
    @Option(help: "Concurrent clients for the small files.") var clients = 16
    @Option(help: "The filestore executable (default: beside this benchmark).") var executable: String?
    @Option(help: "The nginx executable.") var nginx = "/usr/sbin/nginx"
    @Flag(help: "Run the agents over TLS (clients and agents alike speak https; nginx stays plain HTTP).") var tls = false

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: nginx) else { throw ValidationError("nginx not found at \(nginx) (scripts/bench compare installs it)") }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("filestore-bench-compare-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: work + "/dav", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let server = try NginxServer(executable: nginx, root: work)
        defer { server.stop() }

        try await withBenchCluster(executable: executable, directory: work + "/cluster", tls: tls) { cluster, http, agent in
            let size = Int64(sizeMiB) << 20
            // Alternate the two servers and take medians: the nginx figure swings with the page
            // cache (fresh pages are slow to fault in on this VM), one run proves little.
            var puts: (agent: [Double], nginx: [Double]) = ([], [])
            for round in 0..<rounds {
                // A new file every round: the agent would deduplicate a repeated one.
                let seed = UInt64(11 + round)
                // nginx leaves its bytes dirty in the page cache; flush them so that neither
                // server's measurement pays for the other's writeback.
                sync()
                puts.nginx.append(try await Transfer.upload(http, server.url + "/dav/large\(round).bin", authorization: nil, size: size, seed: seed).mibPerSecond(size))
                sync()
                puts.agent.append(try await Transfer.upload(http, cluster.nodes[0].url + "/api/v1/files/bench/large\(round).bin", authorization: agent, size: size, seed: seed).mibPerSecond(size))
            }
            line("large upload \(sizeMiB) MiB", puts.agent, puts.nginx, unit: "MiB/s", target: 0.5)
            sync()
            var gets: (agent: [Double], nginx: [Double]) = ([], [])
            for round in 0..<rounds {
                let nginxGet = try await Transfer.download(http, server.url + "/dav/large\(round).bin", authorization: nil)
                let agentGet = try await Transfer.download(http, cluster.nodes[1].url + "/api/v1/files/bench/large\(round).bin", authorization: agent)
                guard nginxGet.sha256 == agentGet.sha256, nginxGet.bytes == size else { throw ValidationError("the downloads differ") }
                gets.nginx.append(nginxGet.seconds.mibPerSecond(size))
                gets.agent.append(agentGet.seconds.mibPerSecond(size))
            }
            line("large download \(sizeMiB) MiB", gets.agent, gets.nginx, unit: "MiB/s", target: 0.7)

            let nginxSmall = try await Transfer.smallFiles(http, base: server.url + "/dav/small/", authorization: nil, count: smallFiles, clients: clients)
            let agentSmall = try await Transfer.smallFiles(http, base: cluster.nodes[0].url + "/api/v1/files/small/", authorization: agent, count: smallFiles, clients: clients)
            line("4 KiB uploads, \(clients) clients", [agentSmall.uploadsPerSecond], [nginxSmall.uploadsPerSecond], unit: "files/s", target: nil)
            line("4 KiB downloads, \(clients) clients", [agentSmall.downloadsPerSecond], [nginxSmall.downloadsPerSecond], unit: "files/s", target: nil)
        }
    }

    /// One line: medians (and the spread when there are several rounds) and their ratio.
    private func line(_ name: String, _ values: [Double], _ baselines: [Double], unit: String, target: Double?) {
        let (value, baseline) = (median(values), median(baselines))
        let ratio = baseline > 0 ? value / baseline : 0
        let goal = target.map { " (target ≥ \($0)×: \(ratio >= $0 ? "met" : "NOT met"))" } ?? ""
        func spread(_ list: [Double]) -> String { list.count > 1 ? " [\(fixed(list.min()!))–\(fixed(list.max()!))]" : "" }
        let rounds = values.count > 1 ? ", medians of \(values.count)" : ""
        print("compare \(name): filestore \(fixed(value)) \(unit)\(spread(values)), nginx \(fixed(baseline)) \(unit)\(spread(baselines)), ratio \(fixed(ratio, 2))×\(goal)\(rounds)")
    }

    private func median(_ list: [Double]) -> Double {
        let sorted = list.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension Double {
    func mibPerSecond(_ bytes: Int64) -> Double { Double(bytes) / 1_048_576 / self }
}

/// Timed HTTP transfers for the benchmarks.
enum Transfer {
    static func upload(_ http: HTTPClient, _ url: String, authorization: String?, size: Int64, seed: UInt64) async throws -> Double {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .stream(GeneratedBytes(total: size, seed: seed), length: .known(size))
        var status: UInt = 0
        let seconds = try await timed {
            let response = try await http.execute(request, timeout: .seconds(3600))
            status = response.status.code
            _ = try await response.body.collect(upTo: 1 << 20)
        }
        guard (200..<300).contains(status) else { throw ValidationError("PUT \(url) answered \(status)") }
        return seconds
    }

    static func download(_ http: HTTPClient, _ url: String, authorization: String?) async throws -> (seconds: Double, bytes: Int64, sha256: String) {
        var request = HTTPClientRequest(url: url)
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        var hasher = SHA256()
        var count: Int64 = 0
        let seconds = try await timed {
            let response = try await http.execute(request, timeout: .seconds(3600))
            guard response.status.code == 200 else { throw ValidationError("GET \(url) answered \(response.status)") }
            for try await buffer in response.body {
                count += Int64(buffer.readableBytes)
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
        }
        return (seconds, count, Hex.encode(hasher.finalize()))
    }

    /// Uploads `count` distinct 4 KiB files with `clients` concurrent clients, then downloads them.
    static func smallFiles(_ http: HTTPClient, base: String, authorization: String?, count: Int, clients: Int) async throws -> (uploadsPerSecond: Double, downloadsPerSecond: Double) {
        func each(_ work: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
            try await timed {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for client in 0..<clients {
                        group.addTask { for index in stride(from: client, to: count, by: clients) { try await work(index) } }
                    }
                    try await group.waitForAll()
                }
            }
        }
        let put = try await each { index in
            var request = HTTPClientRequest(url: base + "f\(index).bin")
            request.method = .PUT
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            var buffer = ByteBuffer()
            var generator = SplitMix(seed: UInt64(index) &+ 1)
            for _ in 0..<512 { buffer.writeInteger(generator.next()) }
            request.body = .bytes(buffer)
            let response = try await http.execute(request, timeout: .seconds(60))
            _ = try await response.body.collect(upTo: 1 << 16)
            guard (200..<300).contains(response.status.code) else { throw ValidationError("PUT small file answered \(response.status)") }
        }
        let get = try await each { index in
            var request = HTTPClientRequest(url: base + "f\(index).bin")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let response = try await http.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 16)
            guard response.status.code == 200, body.readableBytes == 4096 else { throw ValidationError("GET small file answered \(response.status)") }
        }
        return (Double(count) / put, Double(count) / get)
    }
}

/// A tiny seeded generator for benchmark payloads.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// nginx on a free loopback port: WebDAV PUT into `root/dav`, static GET from there.
final class NginxServer: @unchecked Sendable {
    // Unchecked: the process handle is only touched at start and stop, from one task.
    let url: String
    private let process: Process

    init(executable: String, root: String) throws {
        let port = try FreePort.pick()
        url = "http://127.0.0.1:\(port)"
        // Workers write the PUT bodies into `root`: as root, let them run as root too.
        let user = getuid() == 0 ? "user root;" : ""
        let configuration = """
            \(user)
            daemon off;
            worker_processes 2;
            error_log \(root)/nginx-error.log;
            pid \(root)/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                sendfile on;
                client_body_temp_path \(root)/body-temp;
                proxy_temp_path \(root)/proxy-temp;
                fastcgi_temp_path \(root)/fastcgi-temp;
                uwsgi_temp_path \(root)/uwsgi-temp;
                scgi_temp_path \(root)/scgi-temp;
                server {
                    listen 127.0.0.1:\(port);
                    location /dav/ {
                        root \(root);
                        dav_methods PUT;
                        create_full_put_path on;
                        client_max_body_size 0;
                    }
                }
            }
            """
        try configuration.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", root + "/nginx.conf", "-p", root]
        process.standardError = FileHandle.nullDevice
        try process.run()
        try FreePort.waitUntilListening(port: port, timeout: .seconds(10))
    }

    func stop() { Executables.terminate(process) }
}
