import Basics
import Crypto

/// A point on the 64-bit hash ring: the first 8 bytes (big-endian) of a SHA-256 digest.
public struct RingPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The position as an unsigned 64-bit integer; the ring wraps from `UInt64.max` to 0.
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// The position of arbitrary bytes: the first 8 bytes of their SHA-256, big-endian.
    public init(hashing bytes: some Sequence<UInt8>) {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        self.init(digest: hasher.finalize())
    }

    /// The position named by the first 8 bytes of `digest`, big-endian.
    public init(digest: SHA256.Digest) {
        self.value = digest.withUnsafeBytes { raw in
            var value: UInt64 = 0
            for byte in raw.prefix(8) { value = value << 8 | UInt64(byte) }
            return value
        }
    }

    /// The position of a chunk: the first 8 bytes of its digest.
    public init(chunk: ChunkID) { self.value = chunk.prefix64 }

    /// The position of a file manifest: SHA-256(`"file\0" + owner + "\0" + path`) (DESIGN.md §3).
    public static func manifest(owner: String, path: String) -> RingPosition {
        RingPosition(hashing: Array("file\0\(owner)\0\(path)".utf8))
    }

    /// The partition this position falls in (its top 10 bits).
    public var partition: Partition { Partition(position: self) }

    public static func < (lhs: RingPosition, rhs: RingPosition) -> Bool { lhs.value < rhs.value }

    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// One of the 1024 slices of the ring (the top 10 bits of a position); anti-entropy compares digests per partition.
public struct Partition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// How many bits of a position select its partition.
    public static let bits = 10
    /// The number of partitions on the ring.
    public static let count = 1 << bits

    /// The partition number, `0 ..< Partition.count`.
    public let index: Int

    /// The partition with the given number; nil when out of range.
    public init?(index: Int) {
        guard (0..<Partition.count).contains(index) else { return nil }
        self.index = index
    }

    /// The partition containing `position`.
    public init(position: RingPosition) { self.index = Int(position.value >> UInt64(64 - Partition.bits)) }

    /// All partitions in ring order.
    public static var all: [Partition] { (0..<count).map { Partition(uncheckedIndex: $0) } }

    /// The first position inside this partition.
    public var lowerBound: RingPosition { RingPosition(UInt64(index) << UInt64(64 - Partition.bits)) }

    /// The last position inside this partition.
    public var upperBound: RingPosition { RingPosition(lowerBound.value | (UInt64.max >> UInt64(Partition.bits))) }

    public static func < (lhs: Partition, rhs: Partition) -> Bool { lhs.index < rhs.index }
    public var description: String { "p\(index)" }

    private init(uncheckedIndex: Int) { self.index = uncheckedIndex }
}
