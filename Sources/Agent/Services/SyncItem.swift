import Basics
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
            return try await metadata.manifestVersions().map { SyncItem(key: "\($0.key.owner)/\($0.key.path)", version: $0.version.description, position: $0.key.position, size: 0) }
        }
    }

    /// `owner/path` back to a file key.
    public static func fileKey(_ key: String) -> FileKey? {
        guard let slash = key.firstIndex(of: "/") else { return nil }
        return FileKey(owner: String(key[..<slash]), path: String(key[key.index(after: slash)...]))
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
        return grouped.mapValues { Convergence.digest($0) }
    }
}
