/// A replicated record merged last-writer-wins (DESIGN.md §8): of two copies of the same key the
/// one with the higher version wins; equal versions fall back to a content tie-break so the merge
/// is commutative, associative and idempotent whatever order copies meet in.
public protocol LastWriterWins: Sendable, Equatable {
    associatedtype Key: Hashable & Sendable
    var key: Key { get }
    var version: HybridTimestamp { get }
    /// Orders two different copies that carry the same version (never expected, but must be total).
    var tieBreak: String { get }
}

extension LastWriterWins {
    /// The copy that wins between `self` and `other` (same key).
    public func merged(with other: Self) -> Self {
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
