import Crypto

/// SHA-256 of small in-memory payloads (request bodies the client itself builds).
enum SHA256Hex {
    static func digest(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}
