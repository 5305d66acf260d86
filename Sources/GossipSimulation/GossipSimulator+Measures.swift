import Basics
import Gossip

extension GossipSimulator {
    /// Seconds from `since` until every running node holds `victim` dead; nil if one never did.
    public func detectionTime(of victim: Int, since: Duration) -> Double? {
        let id = nodes[victim].selfID
        let firsts = firstChanges(about: id, since: since) { $0.status == .dead }
        var latest = Duration.zero
        for observer in nodes.indices where observer != victim && !crashed.contains(observer) {
            guard let time = firsts[observer] else { return nil }
            latest = max(latest, time - since)
        }
        return latest.inSeconds
    }

    /// Seconds from `since` to the first suspicion of `victim` anywhere, the first death declared
    /// and how many distinct members accused it before that death: what explains a slow detection.
    public func detectionTimeline(of victim: Int, since: Duration) -> (firstSuspect: Double?, firstDead: Double?, accusers: Int) {
        let id = nodes[victim].selfID
        let suspects = firstChanges(about: id, since: since) { $0.status == .suspect }.values
        let deaths = firstChanges(about: id, since: since) { $0.status == .dead }.values
        let firstDead = deaths.min()
        return (suspects.min().map { ($0 - since).inSeconds }, firstDead.map { ($0 - since).inSeconds }, suspects.filter { $0 <= firstDead ?? .seconds(1e9) }.count)
    }

    /// Per other running node, seconds from `since` until it saw `subject` at `incarnation` or above.
    public func disseminationTimes(of subject: Int, incarnation: UInt64, since: Duration) -> [Double] {
        let firsts = firstChanges(about: nodes[subject].selfID, since: since) { $0.incarnation >= incarnation }
        return nodes.indices.filter { $0 != subject && !crashed.contains($0) }.compactMap { observer in firsts[observer].map { ($0 - since).inSeconds } }
    }

    /// When each observer first reported a change about `id` at or after `since` that matches.
    private func firstChanges(about id: NodeID, since: Duration, where matches: (Gossip.Member) -> Bool) -> [Int: Duration] {
        var firsts: [Int: Duration] = [:]
        for position in changesAbout[id] ?? [] {
            let change = changes[position]
            guard change.time >= since, firsts[change.observer] == nil, matches(change.member) else { continue }
            firsts[change.observer] = change.time
        }
        return firsts
    }

    /// True when every running node sees every running node alive.
    public var allViewsAlive: Bool {
        let live = nodes.indices.filter { !crashed.contains($0) }
        // Cheap first: a node whose live count is off cannot agree.
        guard live.allSatisfy({ nodes[$0].liveCount >= live.count }) else { return false }
        let ids = live.map { nodes[$0].selfID }
        return live.allSatisfy { observer in ids.allSatisfy { nodes[observer].members[$0]?.status == .alive } }
    }

    /// Running nodes that were declared dead after `since` (false positives when nothing crashed).
    public func deathsOfRunningNodes(since: Duration) -> [Change] {
        let running = Set(nodes.indices.filter { !crashed.contains($0) }.map { nodes[$0].selfID })
        return changes.filter { $0.member.status == .dead && $0.time > since && running.contains($0.member.id) }
    }
}
