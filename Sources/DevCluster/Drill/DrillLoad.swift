import Agent
import Basics
import Crypto
import Foundation
import NIOCore

/// The background load drills run under (DESIGN.md §13): uploads of random files and reads of
/// acknowledged ones, spread over the nodes currently meant to be up, every read checked by
/// SHA-256. Every acknowledged upload is remembered so each drill can verify all of them.
actor DrillLoad {
    struct File: Sendable {
        var path: String
        var size: Int
        var sha256: String
        var chunks: [String]
    }

    struct Counters: Sendable, Equatable {
        var uploads = 0, uploadFailures = 0, reads = 0, readFailures = 0, mismatches = 0
    }

    private let client: ClusterClient
    private let chunkSize: Int
    private let inlineMax: Int
    private(set) var files: [File] = []
    private(set) var counters = Counters()
    private(set) var problems: [String] = []
    private var live: [String]
    private var sequence = 0
    private var running = true
    /// How many requests are on their way to each node right now.
    private var inFlight: [String: Int] = [:]

    init(client: ClusterClient, chunkSize: Int, inlineMax: Int, live: [String]) {
        self.client = client
        self.chunkSize = chunkSize
        self.inlineMax = inlineMax
        self.live = live
    }

    /// The nodes the load may use (a drill takes a node out before it kills it). Returns once
    /// no request is still on its way to a node left out, so a drill that kills that node next
    /// cannot fail a request it had already started (the actor is reentrant: a request begun
    /// before this call is awaiting its reply meanwhile). Gives up after `drainTimeout`.
    func use(_ nodes: [String], drainTimeout: Duration = .seconds(30)) async {
        live = nodes
        let kept = Set(nodes)
        let deadline = ContinuousClock.now + drainTimeout
        while inFlight.contains(where: { !kept.contains($0.key) && $0.value > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs `operation` counted as in flight to `node`.
    private func sending<T>(to node: String, _ operation: () async throws -> T) async rethrows -> T {
        inFlight[node, default: 0] += 1
        defer { inFlight[node, default: 1] -= 1 }
        return try await operation()
    }

    /// The nodes the load uses now.
    var nodes: [String] { live }

    func stop() { running = false }

    /// Runs until `stop()`: one upload and one verified read about every 300 ms.
    func run() async {
        var random = SystemRandomNumberGenerator()
        while running {
            if let node = live.randomElement(using: &random) {
                sequence += 1
                let bytes = randomBytes(Int.random(in: 0...(3 * chunkSize / 2), using: &random), seed: UInt64(sequence) &* 7919)
                let path = "drill/load-\(sequence).bin"
                do {
                    let reply = try await sending(to: node) { try await client.upload(node, path, bytes) }
                    if reply.status == 201 {
                        counters.uploads += 1
                        files.append(File(path: path, size: bytes.count, sha256: Self.hex(SHA256.hash(data: bytes)), chunks: Self.chunkIDs(bytes, chunkSize: chunkSize, inlineMax: inlineMax)))
                    } else {
                        note("upload \(path) to \(node): \(reply.status) \(reply.text.prefix(200))")
                        counters.uploadFailures += 1
                    }
                } catch {
                    note("upload \(path) to \(node): \(error)")
                    counters.uploadFailures += 1
                }
            }
            if let node = live.randomElement(using: &random), let file = files.randomElement(using: &random) {
                await read(file, from: node)
            }
            try? await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Reads one acknowledged file and checks it; returns whether it came back intact. Counted
    /// as load unless `counted` is false.
    @discardableResult
    func read(_ file: File, from node: String, counted: Bool = true) async -> Bool {
        let before = counters
        let intact = await fetch(file, from: node)
        if !counted { counters = Counters(uploads: counters.uploads, uploadFailures: counters.uploadFailures, reads: before.reads, readFailures: before.readFailures, mismatches: before.mismatches) }
        return intact
    }

    private func fetch(_ file: File, from node: String) async -> Bool {
        do {
            let reply = try await sending(to: node) { try await client.download(node, file.path) }
            guard reply.status == 200 else {
                note("read \(file.path) from \(node): \(reply.status) \(reply.text.prefix(200))")
                counters.readFailures += 1
                return false
            }
            guard Self.hex(SHA256.hash(data: reply.bytes)) == file.sha256 else {
                note("read \(file.path) from \(node): bytes differ from what was acknowledged")
                counters.mismatches += 1
                return false
            }
            counters.reads += 1
            return true
        } catch {
            note("read \(file.path) from \(node): \(error)")
            counters.readFailures += 1
            return false
        }
    }

    /// Reads every acknowledged file from every node given; returns how many verified and what failed.
    func verifyAll(from nodes: [String]) async -> (verified: Int, failures: [String]) {
        var verified = 0
        var failures: [String] = []
        for file in files {
            // The final check is reported on its own, not as load.
            for node in nodes {
                if await read(file, from: node, counted: false) { verified += 1 } else { failures.append("\(file.path) from \(node)") }
            }
        }
        return (verified, failures)
    }

    private func note(_ problem: String) {
        if problems.count < 20 { problems.append(problem) }
    }

    static func chunkIDs(_ bytes: [UInt8], chunkSize: Int, inlineMax: Int) -> [String] {
        // A small file's content is kept in its manifest: it has no chunks (docs/architecture.md, "Small files").
        if !bytes.isEmpty, bytes.count <= inlineMax, bytes.count < chunkSize { return [] }
        return stride(from: 0, to: bytes.count, by: chunkSize).map { hex(SHA256.hash(data: bytes[$0..<min(bytes.count, $0 + chunkSize)])) }
    }

    static func hex(_ digest: SHA256.Digest) -> String { Hex.encode(digest) }
}
