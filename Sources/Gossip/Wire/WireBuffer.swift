import Basics
import Ring

/// Big-endian writer for the gossip wire format.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes.append(UInt8(value >> 8)); bytes.append(UInt8(value & 0xFF)) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
    mutating func f64(_ value: Double) { u64(value.bitPattern) }
    mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }

    /// A string of at most 255 UTF-8 bytes (longer ones are a programming error upstream: ids, hosts, zones are bounded).
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8.prefix(255))
        u8(UInt8(utf8.count))
        bytes += utf8
    }

    mutating func append(_ other: [UInt8]) { bytes += other }
}

/// Big-endian reader; every read is bounds-checked and throws on malformed input.
struct WireReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = start
        self.end = end ?? bytes.count
    }

    var isAtEnd: Bool { offset >= end }

    mutating func take(_ count: Int) throws(Gossip.WireError) -> ArraySlice<UInt8> {
        guard count >= 0, end - offset >= count else { throw .malformed("truncated: wanted \(count) bytes at \(offset)") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func u8() throws(Gossip.WireError) -> UInt8 { try take(1).first! }
    mutating func u16() throws(Gossip.WireError) -> UInt16 { try take(2).reduce(0) { $0 << 8 | UInt16($1) } }
    mutating func u32() throws(Gossip.WireError) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws(Gossip.WireError) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func f64() throws(Gossip.WireError) -> Double { Double(bitPattern: try u64()) }

    mutating func bool() throws(Gossip.WireError) -> Bool {
        switch try u8() {
        case 0: false
        case 1: true
        case let other: throw .malformed("bad boolean \(other)")
        }
    }

    mutating func string() throws(Gossip.WireError) -> String {
        let count = Int(try u8())
        guard let text = String(validating: try take(count), as: UTF8.self) else { throw .malformed("invalid UTF-8") }
        return text
    }

    mutating func nodeID() throws(Gossip.WireError) -> NodeID {
        let text = try string()
        guard let id = NodeID(text) else { throw .malformed("invalid node id") }
        return id
    }
}

extension Gossip {
    /// Why a packet was dropped.
    public enum WireError: Error, Equatable, Sendable {
        /// Bytes that do not parse (truncated, bad field, unknown version).
        case malformed(String)
        /// Larger than the packet limit.
        case oversized(Int)
        /// Failed authentication: wrong key, wrong cluster, or tampered.
        case unauthenticated
        /// Older than the replay window, or seen before.
        case replayed
    }
}
