/// A replicated record merged last-writer-wins (DESIGN.md §8): of two copies of the same key the
/// one with the higher version wins (unless the other is final); equal versions fall back to a
/// content tie-break, so the merge is commutative, associative and idempotent whatever order
/// copies meet in: it takes the larger by (final, version, tie-break), a total order.
public protocol LastWriterWins: Sendable, Equatable {
    associatedtype Key: Hashable & Sendable
    var key: Key { get }
    var version: HybridTimestamp { get }
    /// Orders two different copies that carry the same version (never expected, but must be total).
    var tieBreak: String { get }
    /// A copy no other copy replaces, whatever its version (a deleted access key: nothing brings
    /// one back, so a copy stamped later by a node that had not seen the delete must not either).
    var isFinal: Bool { get }
}

extension LastWriterWins {
    public var isFinal: Bool { false }

    /// The copy that wins between `self` and `other` (same key): a final one, else the newer.
    public func merged(with other: Self) -> Self {
        if isFinal != other.isFinal { return isFinal ? self : other }
        if version != other.version { return version > other.version ? self : other }
        return tieBreak >= other.tieBreak ? self : other
    }

    /// Whether `other` would replace `self` in a merge.
    public func isSuperseded(by other: Self) -> Bool { merged(with: other) != self }
}

extension Dictionary where Value: LastWriterWins, Key == Value.Key {
    /// Merges `record` into the map of winners.
    public mutating func merge(_ record: Value) {
        if let current = self[record.key] {
            self[record.key] = current.merged(with: record)
        } else {
            self[record.key] = record
        }
    }
}
