import Basics
import Gossip

extension GossipSimulator {
    /// Seconds from `since` until every running node holds `victim` dead; nil if one never did.
    public func detectionTime(of victim: Int, since: Duration) -> Double? {
        var latest = Duration.zero
        let id = nodes[victim].selfID
        for observer in nodes.indices where observer != victim && !crashed.contains(observer) {
            guard let change = changes.first(where: { $0.observer == observer && $0.member.id == id && $0.member.status == .dead && $0.time >= since }) else { return nil }
            latest = max(latest, change.time - since)
        }
        return latest.inSeconds
    }

    /// Per other running node, seconds from `since` until it saw `subject` at `incarnation` or above.
    public func disseminationTimes(of subject: Int, incarnation: UInt64, since: Duration) -> [Double] {
        let id = nodes[subject].selfID
        return nodes.indices.filter { $0 != subject && !crashed.contains($0) }.compactMap { observer in
            changes.first { $0.observer == observer && $0.member.id == id && $0.member.incarnation >= incarnation && $0.time >= since }
                .map { ($0.time - since).inSeconds }
        }
    }

    /// True when every running node sees every running node alive.
    public var allViewsAlive: Bool {
        let live = nodes.indices.filter { !crashed.contains($0) }
        let ids = live.map { nodes[$0].selfID }
        return live.allSatisfy { observer in ids.allSatisfy { nodes[observer].members[$0]?.status == .alive } }
    }

    /// Running nodes that were declared dead after `since` (false positives when nothing crashed).
    public func deathsOfRunningNodes(since: Duration) -> [Change] {
        let running = Set(nodes.indices.filter { !crashed.contains($0) }.map { nodes[$0].selfID })
        return changes.filter { $0.member.status == .dead && $0.time > since && running.contains($0.member.id) }
    }
}
