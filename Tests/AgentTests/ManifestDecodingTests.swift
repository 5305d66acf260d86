import Basics
import Crypto
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

    /// A small file's manifest carries its content: it round-trips on the wire, and one whose
    /// content cannot stand for the file (chunks beside it, more than a manifest may carry, a
    /// tombstone with content) is refused; damaged content decodes but is not intact.
    @Test(arguments: 0..<20)
    func inlineManifestsRoundTripAndForgedOnesAreRefused(seed: UInt64) throws {
        var random = SeededGenerator(seed: 500 + seed)
        let bytes = Data((0..<Int.random(in: 1...4096, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        var manifest = Self.valid(&random)
        (manifest.chunks, manifest.size, manifest.inline) = ([], Int64(bytes.count), bytes)
        manifest.sha256 = Hex.encode(SHA256.hash(data: bytes))
        #expect(try Self.roundTrip(manifest) == manifest && manifest.inlineIsIntact && manifest.isInline)
        var forgeries: [(String, Manifest)] = []
        var withChunks = manifest
        withChunks.chunks = [ChunkReference(id: ChunkID(manifest.sha256)!, size: manifest.size)]
        forgeries.append(("inline content and chunks", withChunks))
        var huge = manifest
        huge.inline = Data(count: Manifest.maxInlineBytes + 1)
        huge.size = Int64(Manifest.maxInlineBytes + 1)
        forgeries.append(("more than a manifest may carry", huge))
        var tombstone = manifest
        tombstone.deleted = true
        forgeries.append(("a tombstone with content", tombstone))
        for (what, forged) in forgeries {
            #expect(throws: DecodingError.self, "\(what) is refused") { try Self.roundTrip(forged) }
        }
        // Damage (a flipped byte, content of another length) decodes but is not intact: never served.
        var flipped = manifest
        flipped.inline![Int.random(in: 0..<bytes.count, using: &random)] ^= 0x01
        var short = manifest
        short.inline = bytes.dropLast()
        for damaged in [flipped, short] { #expect(try Self.roundTrip(damaged).inlineIsIntact == false) }
    }

    /// A listing's shard page from a peer: summaries round-trip (the chunk count kept, the list
    /// left out), and one no manifest could have is refused.
    @Test(arguments: 0..<20)
    func shardPagesRoundTripAndForgedSummariesAreRefused(seed: UInt64) throws {
        var random = SeededGenerator(seed: 500 + seed)
        let manifests = (0..<3).map { _ in Self.valid(&random) }
        let page = ShardPage(files: manifests.map(FileSummary.init), more: Bool.random(using: &random))
        let decoded = try JSONDecoder().decode(ShardPage.self, from: try JSONEncoder().encode(page))
        #expect(decoded == page && decoded.files.map(\.chunkCount) == manifests.map(\.chunks.count))
        var forged = page
        switch Int.random(in: 0..<4, using: &random) {
        case 0: forged.files[1].size = -1
        case 1: forged.files[1].chunkCount = -3
        case 2: forged.files[1].path = ""
        default:
            forged.files[1].deleted = true
            forged.files[1].chunkCount = 2
        }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ShardPage.self, from: try JSONEncoder().encode(forged)) }
    }
}
