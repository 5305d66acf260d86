import Basics
import Crypto
import Foundation
import Ring

/// What the convergence loop reconciles: chunks and manifests.
public enum SyncKind: String, Codable, Sendable, CaseIterable {
    case chunk, manifest
}

/// One key a node holds, as the convergence loop sees it: its text key (a chunk id, or
/// `owner/path` — user names cannot contain `/`), its version (empty for a chunk), its ring
/// position and size.
public struct SyncItem: Sendable, Hashable {
    public var key: String
    public var version: String
    public var position: RingPosition
    public var size: Int64

    /// The items of one kind in this node's shard.
    public static func load(_ kind: SyncKind, from metadata: MetadataStore) async throws -> [SyncItem] {
        switch kind {
        case .chunk:
            return try await metadata.chunkEntries().map { SyncItem(key: $0.id.hex, version: "", position: $0.id.position, size: $0.size) }
        case .manifest:
            return try await metadata.manifestVersions().map { SyncItem(key: $0.key.text, version: $0.version.description, position: $0.key.position, size: 0) }
        }
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
        return "\(count):" + Hex.encode(accumulator)
    }

    /// Whether `other` (a peer's version of the same key) is at least as new as this one.
    public func isCovered(byVersion other: String?) -> Bool {
        guard let other else { return false }
        if version.isEmpty { return true }
        guard let mine = HybridTimestamp(version), let theirs = HybridTimestamp(other) else { return other == version }
        return theirs >= mine
    }
}

extension ClusterSnapshot {
    /// The digest of `items` restricted to those whose owners include both `a` and `b`, per partition.
    func coOwnedDigests(_ items: [SyncItem], _ a: NodeID, _ b: NodeID, partitions: Set<Int>) -> [Int: String] {
        var grouped: [Int: [(key: String, version: String)]] = [:]
        for partition in partitions { grouped[partition] = [] }
        for item in items where partitions.contains(item.position.partition.index) {
            let owners = owners(of: item.position)
            if owners.contains(a) && owners.contains(b) { grouped[item.position.partition.index, default: []].append((item.key, item.version)) }
        }
        return grouped.mapValues { SyncItem.digest($0) }
    }
}
