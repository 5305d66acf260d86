@testable import Agent
import Basics
import DevCluster
import Simulation
import Testing

/// The node-wide bound on what downloads hold: many chunk streams interleaved at random over a
/// small read-ahead pool never take more slots than it has, every stream still delivers every
/// chunk in order, and every slot comes back when the streams end, are cancelled or are dropped.
@Suite("download budget")
struct DownloadBudgetTests {
    @Test("interleaved downloads share the read-ahead pool and give every slot back", arguments: 0..<12)
    func readAheadPool(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let cluster = try InProcessCluster(nodes: 3, chunkSize: 4096)
        var files: [([UInt8], Manifest)] = []
        for index in 0..<3 {
            let bytes = (0..<(4096 * Int.random(in: 3...12, using: &random) + Int.random(in: 0..<4096, using: &random))).map { _ in UInt8.random(in: 0...255, using: &random) }
            files.append((bytes, try await cluster.upload(bytes, as: "f\(index)", via: "n1")))
        }
        let pool = Int.random(in: 0...8, using: &random)
        let budget = DownloadBudget(maxDownloads: 100, maxPerClient: 100, readAheadChunks: pool)
        let node = cluster["n2"].agent
        var reader = ReadCoordinator(calls: node.calls, view: node.view, logger: node.logger, budget: budget)
        reader.readAhead = Int.random(in: 1...6, using: &random)
        let snapshot = node.view.snapshot()

        // Streams over the three files, advanced one chunk at a time in a random order; some are
        // cancelled or simply dropped part-way.
        struct Stream {
            var fetcher: ReadCoordinator.ChunkFetcher
            var expected: [UInt8]
            var received: [UInt8] = []
        }
        var streams = (0..<Int.random(in: 2...6, using: &random)).map { _ in
            let (bytes, manifest) = files.randomElement(using: &random)!
            return Stream(fetcher: reader.chunks(of: manifest, indices: 0..<manifest.chunks.count, snapshot), expected: bytes)
        }
        var finished = 0
        while !streams.isEmpty {
            let pick = Int.random(in: 0..<streams.count, using: &random)
            if Int.random(in: 0..<40, using: &random) == 0 {
                var abandoned = streams.remove(at: pick)
                if Bool.random(using: &random) { abandoned.fetcher.cancel() }
                continue
            }
            if let (_, chunk) = try await streams[pick].fetcher.next() {
                streams[pick].received += Array(chunk.readableBytesView)
                #expect(budget.readAheadInUse <= pool, "seed \(seed): \(budget.readAheadInUse) read-ahead slots taken of \(pool)")
            } else {
                let done = streams.remove(at: pick)
                #expect(done.received == done.expected, "seed \(seed): a stream delivered other bytes than the file's")
                done.fetcher.cancel()
                finished += 1
            }
        }
        // Slots of fetches still running when a stream was dropped come back as they are freed.
        try await pollUntil("every read-ahead slot is back", timeout: .seconds(5), interval: .milliseconds(10)) {
            budget.readAheadInUse == 0 ? nil : "\(budget.readAheadInUse) still taken"
        }
    }

    @Test func downloadPlacesAreCappedPerNodeAndPerClientAndComeBack() throws {
        let budget = DownloadBudget(maxDownloads: 4, maxPerClient: 3, readAheadChunks: 0)
        var places = try (0..<3).map { _ in try budget.startDownload(for: "10.0.0.1") }
        #expect(budget.downloadsInFlight == 3)
        #expect(throws: DownloadBudget.Refusal.self, "a fourth download from one client is refused") { try budget.startDownload(for: "10.0.0.1") }
        places.append(try budget.startDownload(for: "10.0.0.2"))
        #expect(throws: DownloadBudget.Refusal.self, "a fifth download on the node is refused") { try budget.startDownload(for: "10.0.0.3") }
        places[0].release()
        places[0].release()
        #expect(budget.downloadsInFlight == 3, "a place is given back once, however often it is released")
        places.append(try budget.startDownload(for: "10.0.0.1"))
        places.removeAll()
        #expect(budget.downloadsInFlight == 0, "a place dropped unreleased is given back")
        _ = try (0..<3).map { _ in try budget.startDownload(for: "10.0.0.1") }
        #expect(budget.downloadsInFlight == 0, "and the client's share with it")
        #expect(budget.takeReadAhead() == nil, "an empty pool has no slot")
    }
}
