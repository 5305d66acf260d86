import Basics
import Foundation
import Simulation
import Testing
@testable import Agent

/// A manifest comes from disk or from a peer: decoding refuses one whose sizes a read could not
/// trust, so a forged manifest is an error and never a crash.
@Suite("manifest decoding")
struct ManifestDecodingTests {
    static func valid(_ random: inout SeededGenerator) -> Manifest {
        let sizes = (0..<Int.random(in: 0...5, using: &random)).map { _ in Int64.random(in: 1...Manifest.maxChunkBytes, using: &random) }
        let chunks = sizes.map { ChunkReference(id: ChunkID(Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }))!, size: $0) }
        return Manifest(
            owner: "alice", path: "p/\(random.next() % 1000)", size: sizes.reduce(0, +), sha256: String(repeating: "c", count: 64), chunkSize: 5 << 20,
            chunks: chunks, contentType: "x", createdAt: 1, version: HybridTimestamp(wallMilliseconds: 7, counter: 0, node: "node1")
        )
    }

    static func roundTrip(_ manifest: Manifest) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: try JSONEncoder().encode(manifest))
    }

    @Test(arguments: 0..<40)
    func validManifestsRoundTripAndForgedOnesAreRefused(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let manifest = Self.valid(&random)
        #expect(try Self.roundTrip(manifest) == manifest)
        var forgeries: [(String, Manifest)] = []
        var wrongTotal = manifest
        wrongTotal.size += Int64.random(in: 1...1000, using: &random)
        forgeries.append(("sizes that do not add up", wrongTotal))
        var negative = manifest
        negative.size = -1
        forgeries.append(("a negative size", negative))
        var badSHA = manifest
        badSHA.sha256 = "abc"
        forgeries.append(("a short sha256", badSHA))
        var tombstone = manifest
        tombstone.deleted = true
        if !manifest.chunks.isEmpty { forgeries.append(("a tombstone with chunks", tombstone)) }
        if let first = manifest.chunks.first {
            var huge = manifest
            huge.chunks[0].size = Manifest.maxChunkBytes + 1
            huge.size += 1
            forgeries.append(("an oversized chunk", huge))
            var overflowing = manifest
            overflowing.chunks = [first, ChunkReference(id: first.id, size: .max)]
            overflowing.size = .max
            forgeries.append(("sizes that overflow", overflowing))
            var empty = manifest
            empty.chunks[0].size = 0
            empty.size -= first.size
            forgeries.append(("an empty chunk", empty))
        }
        for (what, forged) in forgeries {
            #expect(throws: DecodingError.self, "\(what) is refused") { try Self.roundTrip(forged) }
        }
    }
}
