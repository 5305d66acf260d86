/// A chunk's identity: the SHA-256 of its bytes (DESIGN.md §3), held as its 32 bytes and
/// written as 64 lowercase hex digits. Only valid ids exist: every way in validates.
public struct ChunkID: Hashable, Comparable, Sendable, CustomStringConvertible {
    // Four big-endian words: hashing and comparing are a few integer operations, and the first
    // word is the ring position.
    private let word0: UInt64, word1: UInt64, word2: UInt64, word3: UInt64

    /// Validates `hex`; nil unless it is exactly 64 lowercase hex digits (the canonical form:
    /// an uppercase spelling would name the same bytes under a second key).
    public init?(_ hex: some StringProtocol) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy(Hex.isLowercaseDigit), let bytes = Hex.decode(hex) else { return nil }
        self.init(validBytes: bytes)
    }

    /// The id of a 32-byte digest; nil for any other length.
    public init?(bytes: some Sequence<UInt8>) {
        let bytes = Array(bytes)
        guard bytes.count == 32 else { return nil }
        self.init(validBytes: bytes)
    }

    /// The id of a SHA-256 digest (32 bytes by construction; anything else is a programming error).
    public init(digest: some Sequence<UInt8>) {
        guard let id = ChunkID(bytes: digest) else { preconditionFailure("a SHA-256 digest has 32 bytes") }
        self = id
    }

    private init(validBytes bytes: [UInt8]) {
        func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        (word0, word1, word2, word3) = (word(0), word(8), word(16), word(24))
    }

    /// The 32 digest bytes.
    public var bytes: [UInt8] { [word0, word1, word2, word3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } } }

    /// 64 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// The first 8 digest bytes as a big-endian integer (the chunk's ring position).
    public var prefix64: UInt64 { word0 }

    /// Where the chunk lives in a blob store: `chunks/<h[0..2]>/<h[2..4]>/<h>`.
    public var storagePath: String {
        let hex = hex
        return "chunks/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
    }

    public static func < (lhs: ChunkID, rhs: ChunkID) -> Bool {
        (lhs.word0, lhs.word1, lhs.word2, lhs.word3) < (rhs.word0, rhs.word1, rhs.word2, rhs.word3)
    }

    public var description: String { hex }
}

extension ChunkID: TextCodable {
    public init?(text: String) { self.init(text) }
    public var text: String { hex }
    public static var textForm: String { "a chunk id (64 lowercase hex digits)" }
}
