import Basics

/// A Bloom filter of chunk ids: what GC exchanges instead of full reference lists. A false
/// positive only keeps a garbage chunk one more round; there are no false negatives.
public struct ChunkBloomFilter: Codable, Sendable, Equatable {
    public var bits: [UInt8]
    public var hashes: Int

    /// Sized for `expected` ids at about a 1% false-positive rate.
    public init(expected: Int) {
        let bitCount = max(1024, Int(Double(max(expected, 1)) * 9.6))
        bits = [UInt8](repeating: 0, count: (bitCount + 7) / 8)
        hashes = 7
    }

    public mutating func insert(_ id: ChunkID) {
        for index in positions(id) { bits[index >> 3] |= 1 << UInt8(index & 7) }
    }

    public func mayContain(_ id: ChunkID) -> Bool {
        positions(id).allSatisfy { bits[$0 >> 3] & (1 << UInt8($0 & 7)) != 0 }
    }

    /// A filter as a peer sent it: at least one byte and 1-32 hash functions, so neither a
    /// division by an empty filter nor a billion hash rounds can be asked of this node.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        bits = try container.decode([UInt8].self, forKey: .bits)
        hashes = try container.decode(Int.self, forKey: .hashes)
        guard !bits.isEmpty, (1...32).contains(hashes) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a Bloom filter needs bits and 1-32 hashes"))
        }
    }

    private enum CodingKeys: String, CodingKey { case bits, hashes }

    /// Double hashing over the id's first two 64-bit big-endian words (the id is already a
    /// uniform hash). Every node must compute the same positions: GC compares their filters.
    private func positions(_ id: ChunkID) -> [Int] {
        let bytes = id.bytes
        func word(_ offset: Int) -> UInt64 { bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        let first = word(0), second = word(8) | 1
        let count = UInt64(bits.count * 8)
        return (0..<UInt64(hashes)).map { Int((first &+ $0 &* second) % count) }
    }
}
