import Gossip

extension GossipSimulator {
    /// Seconds from `since` until every running node holds `victim` dead; nil if one never did.
    public func detectionTime(of victim: Int, since: Duration) -> Double? {
        var latest = Duration.zero
        for observer in nodes.indices where observer != victim && !crashed.contains(observer) {
            guard let change = changes.first(where: { $0.observer == observer && $0.member.id == Self.id(victim) && $0.member.status == .dead && $0.time >= since }) else { return nil }
            latest = max(latest, change.time - since)
        }
        return latest.seconds
    }

    /// Per other running node, seconds from `since` until it saw `subject` at `incarnation` or above.
    public func disseminationTimes(of subject: Int, incarnation: UInt64, since: Duration) -> [Double] {
        nodes.indices.filter { $0 != subject && !crashed.contains($0) }.compactMap { observer in
            changes.first { $0.observer == observer && $0.member.id == Self.id(subject) && $0.member.incarnation >= incarnation && $0.time >= since }
                .map { ($0.time - since).seconds }
        }
    }

    /// True when every running node sees every running node alive.
    public var allViewsAlive: Bool {
        let live = nodes.indices.filter { !crashed.contains($0) }
        return live.allSatisfy { observer in live.allSatisfy { status(of: $0, seenBy: observer) == .alive } }
    }

    /// Running nodes that were declared dead after `since` (false positives when nothing crashed).
    public func deathsOfRunningNodes(since: Duration) -> [Change] {
        changes.filter { $0.member.status == .dead && $0.time > since && !crashed.contains(Int($0.member.id.rawValue.dropFirst(4))!) }
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
