import Basics
import Crypto
import Foundation
import Ring

/// The decisions of the convergence loop (DESIGN.md §9) as pure functions: given who owns a key,
/// who can be reached and who is known to hold it, what this node should do with its copy.
/// Hinted handoff, re-replication, rebalancing and draining are all this one rule applied to
/// different placements.
public enum Convergence {
    /// What to do with one key held here.
    public enum Action: Equatable, Sendable {
        /// Nothing to do: every reachable owner has it, and this copy is needed (an owner's, or
        /// the only one until an owner that is down returns).
        case keep
        /// These owners lack it (or hold an older version): push it to them.
        case push(to: [NodeID])
        /// This node is not an owner and every owner holds it: the local copy can go.
        case delete
    }

    /// - Parameters:
    ///   - owners: the key's owners (placement list, first `replication`), possibly down.
    ///   - isAvailable: whether a node can be written to now.
    ///   - holders: nodes known to hold the key (the current version, for a manifest).
    public static func decide(selfID: NodeID, owners: [NodeID], isAvailable: (NodeID) -> Bool, holders: Set<NodeID>) -> Action {
        let missing = owners.filter { $0 != selfID && isAvailable($0) && !holders.contains($0) }
        if !missing.isEmpty { return .push(to: missing) }
        if owners.contains(selfID) { return .keep }
        // Not an owner (a hint, a previous owner, a draining node): the copy may go only once
        // every owner has confirmed its own — never while an owner that is down still lacks it.
        return !owners.isEmpty && owners.allSatisfy { holders.contains($0) } ? .delete : .keep
    }

    /// An order-independent digest of a set of (key, version) items: the XOR of their SHA-256s,
    /// with the count. Equal sets give equal digests; a different set almost surely does not.
    public static func digest(_ items: some Sequence<(key: String, version: String)>) -> String {
        var accumulator = [UInt8](repeating: 0, count: 32)
        var count = 0
        for item in items {
            let hash = SHA256.hash(data: Data("\(item.key)\u{0}\(item.version)".utf8))
            for (index, byte) in hash.enumerated() { accumulator[index] ^= byte }
            count += 1
        }
        return "\(count):" + ChunkID(digest: accumulator).hex
    }
}

/// Paces background traffic (repair pushes, scrub reads) to a rate in bytes per second, so it
/// never starves client traffic: a token bucket holding at most one second of tokens.
public actor Throttle {
    let bytesPerSecond: Double
    private var available: Double
    private var refilled = ContinuousClock.now

    public init(bytesPerSecond: Int64) {
        self.bytesPerSecond = Double(max(bytesPerSecond, 1))
        self.available = self.bytesPerSecond
    }

    /// Waits until `bytes` may be sent.
    public func take(_ bytes: Int) async throws {
        refill()
        available -= Double(bytes)
        if available < 0 {
            let seconds = -available / bytesPerSecond
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            refill()
        }
    }

    private func refill() {
        let now = ContinuousClock.now
        let elapsed = now - refilled
        refilled = now
        let seconds = elapsed.inSeconds
        available = min(bytesPerSecond, available + seconds * bytesPerSecond)
    }
}

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

    /// Double hashing over two 64-bit halves of the id (already a uniform hash).
    private func positions(_ id: ChunkID) -> [Int] {
        let bytes = Array(id.hex.utf8)
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in offset..<(offset + 16) {
                let c = bytes[index]
                value = value << 4 | UInt64(c >= 0x61 ? c - 0x61 + 10 : c - 0x30)
            }
            return value
        }
        let first = word(0), second = word(16) | 1
        let count = UInt64(bits.count * 8)
        return (0..<UInt64(hashes)).map { Int((first &+ $0 &* second) % count) }
    }
}
