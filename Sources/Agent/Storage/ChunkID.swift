import Ring

/// A chunk's identity: the lowercase hex SHA-256 of its bytes (DESIGN.md §3).
public struct ChunkID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 64 lowercase hex digits.
    public let hex: String

    /// Validates `hex`; nil unless it is exactly 64 lowercase hex digits.
    public init?(_ hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        self.hex = hex
    }

    /// The id of `digest` bytes (32 of them).
    public init(digest: some Sequence<UInt8>) {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        precondition(text.count == 64, "a SHA-256 digest has 32 bytes")
        self.hex = String(decoding: text, as: UTF8.self)
    }

    /// Where the chunk lives in a blob store: `chunks/<h[0..2]>/<h[2..4]>/<h>`.
    public var storagePath: String {
        let bytes = hex.utf8
        let first = String(decoding: bytes.prefix(2), as: UTF8.self)
        let second = String(decoding: bytes.dropFirst(2).prefix(2), as: UTF8.self)
        return "chunks/\(first)/\(second)/\(hex)"
    }

    /// The chunk's position on the ring (its first 8 digest bytes).
    public var position: RingPosition {
        // Cannot fail: the id was validated as 64 lowercase hex digits.
        (try? RingPosition(chunkID: hex)) ?? RingPosition(0)
    }

    public static func < (lhs: ChunkID, rhs: ChunkID) -> Bool { lhs.hex < rhs.hex }
    public var description: String { hex }
}
