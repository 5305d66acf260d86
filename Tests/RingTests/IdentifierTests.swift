import Foundation
import Basics
import Crypto
import Simulation
import Testing
@testable import Ring

@Suite("Identifiers and positions")
struct IdentifierTests {
    @Test(arguments: ["node1", "a", "rack-3-node-12", String(repeating: "z", count: 64)])
    func acceptsValidNodeIDs(_ text: String) {
        #expect(NodeID(text)?.rawValue == text)
    }

    @Test(arguments: ["", "Node1", "node_1", "node 1", "nöde", "../x", String(repeating: "z", count: 65), "a\u{0}"])
    func rejectsInvalidNodeIDs(_ text: String) {
        #expect(NodeID(text) == nil)
        #expect(throws: RingError.self) { try NodeID(validating: text) }
    }

    @Test func tokensArePinnedToSHA256() {
        // Pinned against an independent implementation (Python hashlib): placement never depends on the process.
        #expect(Ring.token(of: "node1", index: 0) == RingPosition(0xdec6_af8a_a38d_bf62))
        #expect(Ring.token(of: "node2", index: 1023) == RingPosition(0xe320_2709_873e_156b))
        #expect(RingPosition.manifest(owner: "alice", path: "docs/a.txt") == RingPosition(0x8a5c_d0e6_4fec_ba94))
    }

    @Test func chunkPositionIsTheDigestPrefix() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let digest = SHA256.hash(data: bytes)
            let hex = digest.map { byte in String(byte >> 4, radix: 16) + String(byte & 15, radix: 16) }.joined()
            let id = try #require(ChunkID(hex))
            #expect(id.hex == hex && id.bytes == Array(digest) && ChunkID(digest: digest) == id)
            #expect(RingPosition(chunk: id) == RingPosition(digest: digest) && id.position == RingPosition(digest: digest))
            #expect(RingPosition(hashing: bytes) == RingPosition(digest: digest))
        }
    }

    @Test(arguments: ["", "abc", String(repeating: "A", count: 64), String(repeating: "g", count: 64), String(repeating: "0", count: 63) + "/"])
    func rejectsMalformedChunkIDs(_ text: String) {
        #expect(ChunkID(text) == nil)
    }

    @Test func chunkIDsOrderAsTheirHexAndRoundTripThroughJSON() throws {
        var generator = SeededGenerator(seed: 13)
        let ids = (0..<300).map { _ in ChunkID(digest: SHA256.hash(data: (0..<8).map { _ in UInt8(truncatingIfNeeded: generator.next()) })) }
        #expect(ids.sorted().map(\.hex) == ids.map(\.hex).sorted())
        let decoded = try JSONDecoder().decode([ChunkID].self, from: JSONEncoder().encode(ids))
        #expect(decoded == ids)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ChunkID].self, from: Data(#"["\#(String(repeating: "A", count: 64))"]"#.utf8)) }
    }

    @Test func partitionsAreTheTopTenBits() {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<1000 {
            let position = RingPosition(generator.next())
            let partition = position.partition
            #expect(partition.index == Int(position.value >> 54))
            #expect(partition.lowerBound <= position && position <= partition.upperBound)
        }
        #expect(Partition.all.count == 1024)
        #expect(Partition(index: 1024) == nil && Partition(index: -1) == nil)
        #expect(Partition(index: 1023)!.upperBound == RingPosition(.max))
    }
}
