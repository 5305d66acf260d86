import Basics

extension Ring {
    /// How much of the ring one member owns, computed exactly from the token arcs.
    public struct Share: Sendable, Equatable {
        /// Fraction of the key space for which the member comes first in the preference list.
        public var leading: Double
        /// Fraction of all replica copies the member holds (what share of stored data lands on it);
        /// sums to 1 over the members.
        public var stored: Double
    }

    /// The exact share of every member at `replication`, from the arc each token closes.
    public func ownership(replication: Int) -> [NodeID: Share] {
        var leading = [Double](repeating: 0, count: members.count)
        var stored = [Double](repeating: 0, count: members.count)
        let copies = Double(min(max(replication, 1), members.count))
        forEachArc(boundaries: tokenPositions) { arc, end in
            let owners = walk(fromToken: successor(of: end), wanted: replication)
            guard let first = owners.first else { return }
            leading[first] += arc
            for owner in owners { stored[owner] += arc / copies }
        }
        var shares: [NodeID: Share] = [:]
        for (index, member) in members.enumerated() {
            shares[member.id] = Share(leading: leading[index], stored: stored[index])
        }
        return shares
    }
}

/// Calls `body(fraction, end)` for every arc `(previous boundary, end]` of the ring, where
/// `fraction` is the arc's length as a fraction of the whole ring. `boundaries` must be ascending.
func forEachArc(boundaries: [UInt64], _ body: (Double, RingPosition) -> Void) {
    let ringSize = 18_446_744_073_709_551_616.0  // 2^64
    guard let last = boundaries.last else { return }
    if boundaries.count == 1 { return body(1, RingPosition(last)) }
    var previous = last
    for boundary in boundaries {
        // Wrapping subtraction gives the clockwise distance, including the arc across zero.
        body(Double(boundary &- previous) / ringSize, RingPosition(boundary))
        previous = boundary
    }
}
