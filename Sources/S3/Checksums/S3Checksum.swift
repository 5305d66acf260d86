import Crypto
import Foundation

extension S3 {
    /// The checksums S3 clients send in `x-amz-checksum-*` headers and `aws-chunked` trailers,
    /// computed incrementally as bytes stream by; values are base64 of the big-endian digest.
    public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
        case crc32, crc32c, crc64nvme, sha1, sha256

        /// `x-amz-checksum-crc32` and so on.
        public var headerName: String { "x-amz-checksum-\(rawValue)" }

        /// The algorithm a `x-amz-checksum-*` header (any case) names, or nil.
        public init?(headerName: String) {
            let lowered = headerName.lowercased()
            guard lowered.hasPrefix("x-amz-checksum-"), let algorithm = ChecksumAlgorithm(rawValue: String(lowered.dropFirst("x-amz-checksum-".count))) else { return nil }
            self = algorithm
        }

        /// The algorithm `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm` names (any case).
        public init?(name: String) { self.init(rawValue: name.lowercased()) }

        public func makeChecksummer() -> Checksummer { Checksummer(self) }
    }

    /// One running checksum.
    public struct Checksummer: Sendable {
        public let algorithm: ChecksumAlgorithm
        private var crc32: UInt32 = 0
        private var crc64: UInt64 = 0
        private var sha1 = Insecure.SHA1()
        private var sha256 = SHA256()

        public init(_ algorithm: ChecksumAlgorithm) { self.algorithm = algorithm }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            switch algorithm {
            case .crc32: crc32 = CRC.crc32.update(crc32, bytes)
            case .crc32c: crc32 = CRC.crc32c.update(crc32, bytes)
            case .crc64nvme: crc64 = CRC.crc64nvme.update(crc64, bytes)
            case .sha1: sha1.update(bufferPointer: bytes)
            case .sha256: sha256.update(bufferPointer: bytes)
            }
        }

        public mutating func update(_ bytes: some Sequence<UInt8>) {
            let array = Array(bytes)
            array.withUnsafeBytes { update($0) }
        }

        /// The digest, big-endian.
        public var digest: [UInt8] {
            switch algorithm {
            case .crc32, .crc32c: return withUnsafeBytes(of: crc32.bigEndian, Array.init)
            case .crc64nvme: return withUnsafeBytes(of: crc64.bigEndian, Array.init)
            case .sha1: return Array(sha1.finalize())
            case .sha256: return Array(sha256.finalize())
            }
        }

        /// The digest as S3 sends it: base64.
        public var base64: String { Data(digest).base64EncodedString() }
    }
}

/// A reflected 32-bit CRC, eight bytes per step (slicing-by-8): fast enough to run beside
/// SHA-256 on every byte of an upload.
struct CRC32Table: Sendable {
    /// `table[k * 256 + n]`: the CRC of byte n followed by k zero bytes.
    private let table: [UInt32]

    init(reflectedPolynomial polynomial: UInt32) {
        table = sliceTables(bits: 32, polynomial: UInt64(polynomial)).map { UInt32(truncatingIfNeeded: $0) }
    }

    /// Continues `crc` (a finished value: inverted in and out) over `bytes`.
    func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var state = ~crc
        var index = 0
        table.withUnsafeBufferPointer { t in
            while index + 8 <= bytes.count {
                let low = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self)) ^ state
                let high = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self))
                var next = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                next ^= t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                next ^= t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                next ^= t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                state = next
                index += 8
            }
            while index < bytes.count {
                state = t[Int((state ^ UInt32(bytes[index])) & 0xFF)] ^ (state >> 8)
                index += 1
            }
        }
        return ~state
    }
}

/// A reflected 64-bit CRC, eight bytes per step.
struct CRC64Table: Sendable {
    private let table: [UInt64]

    init(reflectedPolynomial polynomial: UInt64) {
        table = sliceTables(bits: 64, polynomial: polynomial)
    }

    func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state = ~crc
        var index = 0
        table.withUnsafeBufferPointer { t in
            while index + 8 <= bytes.count {
                let x = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ state
                var next: UInt64 = 0
                for k in 0..<8 { next ^= t[(7 - k) * 256 + Int((x >> UInt64(8 * k)) & 0xFF)] }
                state = next
                index += 8
            }
            while index < bytes.count {
                state = t[Int((state ^ UInt64(bytes[index])) & 0xFF)] ^ (state >> 8)
                index += 1
            }
        }
        return ~state
    }
}

/// The eight 256-entry tables of a reflected CRC of `bits` (32 or 64) bits.
private func sliceTables(bits: Int, polynomial: UInt64) -> [UInt64] {
    var tables = [UInt64](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt64(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
        tables[byte] = crc
    }
    for slice in 1..<8 {
        for byte in 0..<256 {
            let previous = tables[(slice - 1) * 256 + byte]
            tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
        }
    }
    return tables
}

/// The three CRCs S3 uses, built once.
enum CRC {
    /// CRC-32 (ISO-HDLC, zlib's).
    static let crc32 = CRC32Table(reflectedPolynomial: 0xEDB8_8320)
    /// CRC-32C (Castagnoli, iSCSI's).
    static let crc32c = CRC32Table(reflectedPolynomial: 0x82F6_3B78)
    /// CRC-64/NVME.
    static let crc64nvme = CRC64Table(reflectedPolynomial: 0x9A6C_9329_AC4B_C9B5)
}
