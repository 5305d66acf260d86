import Basics
import Ring
import Testing
@testable import Gossip

/// Every membership rule, driven directly on one state machine with hand-made packets.
@Suite("Membership rules")
struct MembershipRuleTests {
    static let peerAddress = Gossip.Address(host: "10.0.0.9", port: 7946)

    static func metadata(_ index: Int) -> Gossip.Metadata {
        Gossip.Metadata(gossip: Gossip.Address(host: "10.0.0.\(index)", port: 7946), http: "n\(index):8080")
    }

    static func member(_ id: NodeID, index: Int, incarnation: UInt64, status: Gossip.Status = .alive) -> Gossip.Member {
        Gossip.Member(id: id, incarnation: incarnation, status: status, metadata: metadata(index))
    }

    /// Node "a" knowing `peers` (b, c, d, …) alive at incarnation 1.
    static func node(peers: Int = 3) -> Gossip.Membership {
        var membership = Gossip.Membership(selfID: "a", metadata: metadata(1), incarnation: 1, seed: 1)
        let ids: [NodeID] = ["b", "c", "d"] + (3..<max(peers, 3)).map { NodeID("p\($0)")! }
        let state = (0..<peers).map { member(ids[$0], index: $0 + 2, incarnation: 1) }
        _ = membership.onPacket([.state(members: state, reply: true, from: "b")], from: peerAddress, now: .zero)
        return membership
    }

    @Test func refutesSuspicionWithAHigherIncarnation() {
        var a = Self.node()
        let directives = a.onPacket([.suspect(id: "a", incarnation: 1, from: "b")], from: Self.peerAddress, now: .seconds(1))
        #expect(a.me.incarnation == 2 && a.me.status == .alive)
        #expect(directives.contains(.memberChanged(a.me)))
        #expect(a.localHealth == 1)  // Lifeguard: being suspected raises local health
        // The refutation is gossiped.
        let sends = a.onTimer(.gossipTick, now: .seconds(1))
        #expect(sends.contains { if case .send(let messages, _) = $0 { messages.contains(.alive(a.me)) } else { false } })
        // Dead claims are refuted the same way.
        _ = a.onPacket([.dead(id: "a", incarnation: 2, from: "c")], from: Self.peerAddress, now: .seconds(2))
        #expect(a.me.incarnation == 3 && a.me.status == .alive)
    }

    @Test func staleAccusationsAboutUsAreAnsweredWithOurCurrentState() {
        var a = Self.node()
        _ = a.onPacket([.suspect(id: "a", incarnation: 1, from: "b")], from: Self.peerAddress, now: .zero)  // refuted: now at 2
        let reply = a.onPacket([.suspect(id: "a", incarnation: 1, from: "c")], from: Self.peerAddress, now: .seconds(1))
        #expect(reply == [.send([.alive(a.me)], to: Self.peerAddress)])
        #expect(a.me.incarnation == 2)  // no new bump: the sender only missed the refutation
    }

    @Test func staleIncarnationsAreIgnored() {
        var a = Self.node()
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 5))], from: Self.peerAddress, now: .zero)
        #expect(a.onPacket([.suspect(id: "b", incarnation: 4, from: "c")], from: Self.peerAddress, now: .zero).isEmpty)
        #expect(a.onPacket([.dead(id: "b", incarnation: 3, from: "c")], from: Self.peerAddress, now: .zero).isEmpty)
        #expect(a.onPacket([.alive(Self.member("b", index: 2, incarnation: 4))], from: Self.peerAddress, now: .zero).isEmpty)
        #expect(a.members["b"]?.status == .alive && a.members["b"]?.incarnation == 5)
        // Alive at the same incarnation does not clear a suspicion; only a higher one does.
        _ = a.onPacket([.suspect(id: "b", incarnation: 5, from: "c")], from: Self.peerAddress, now: .zero)
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 5))], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.status == .suspect)
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 6))], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.status == .alive)
    }

    @Test(arguments: [3, 5, 10])
    func suspectBecomesDeadAtTheComputedTimeout(peers: Int) {
        var a = Self.node(peers: peers)
        let start = Duration.seconds(10)
        let directives = a.onPacket([.suspect(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: start)
        let timeout = a.suspicionTimeout(confirmations: 0)
        #expect(directives.contains(.schedule(.suspicionTimeout(id: "b", incarnation: 1), after: timeout)))
        // Just before the deadline: still suspect, and the check is re-armed for the remainder.
        let early = a.onTimer(.suspicionTimeout(id: "b", incarnation: 1), now: start + timeout - .milliseconds(100))
        #expect(a.members["b"]?.status == .suspect)
        #expect(early == [.schedule(.suspicionTimeout(id: "b", incarnation: 1), after: .milliseconds(100))])
        _ = a.onTimer(.suspicionTimeout(id: "b", incarnation: 1), now: start + timeout)
        #expect(a.members["b"]?.status == .dead)
    }

    @Test func confirmationsShortenTheSuspicion() {
        var a = Self.node(peers: 6)
        let unconfirmed = a.suspicionTimeout(confirmations: 0)
        let confirmed = a.suspicionTimeout(confirmations: 2)
        #expect(unconfirmed == a.settings.maxSuspicionTimeout(members: 7))
        #expect(confirmed == a.settings.minSuspicionTimeout(members: 7))
        #expect(a.suspicionTimeout(confirmations: 1) < unconfirmed && a.suspicionTimeout(confirmations: 1) > confirmed)
        _ = a.onPacket([.suspect(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: .zero)
        // The accuser repeating itself is not a confirmation; others are.
        #expect(a.onPacket([.suspect(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: .seconds(1)).isEmpty)
        let sooner = a.onPacket([.suspect(id: "b", incarnation: 1, from: "d")], from: Self.peerAddress, now: .seconds(1))
        #expect(sooner.contains(.schedule(.suspicionTimeout(id: "b", incarnation: 1), after: a.suspicionTimeout(confirmations: 1) - .seconds(1))))
    }

    @Test func localHealthStaysWithinBounds() {
        var a = Self.node()
        for round in 1...20 { _ = a.onPacket([.suspect(id: "a", incarnation: a.me.incarnation, from: "b")], from: Self.peerAddress, now: .seconds(Int64(round))) }
        #expect(a.localHealth == a.settings.maxLocalHealth - 1)
        // Successful probes bring it back down, never below zero.
        for round in 0..<20 {
            let now = Duration.seconds(100 + Int64(round) * 10)
            let tick = a.onTimer(.probeTick, now: now)
            guard case .send(let messages, let address)? = tick.first(where: { if case .send = $0 { true } else { false } }),
                  case .ping(let sequence, let target, _)? = messages.first else { continue }
            _ = a.onPacket([.ack(sequence: sequence, from: target)], from: address, now: now + .milliseconds(10))
        }
        #expect(a.localHealth == 0)
    }

    @Test func leftIsFinal() {
        var a = Self.node()
        _ = a.onPacket([.left(id: "b", incarnation: 1)], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.status == .left)
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 1))], from: Self.peerAddress, now: .zero)
        _ = a.onPacket([.suspect(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: .zero)
        _ = a.onPacket([.dead(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.status == .left)
        // A node that left ignores everything and sends nothing but its farewell.
        _ = a.leave(now: .seconds(1))
        #expect(a.me.status == .left)
        #expect(a.onPacket([.ping(sequence: 1, target: "a", from: "c")], from: Self.peerAddress, now: .seconds(2)).isEmpty)
    }

    /// A node that left and restarted at the incarnation it left with (the leave's bump was not
    /// persisted before it stopped) hears it left, directly or in a full state: it must come
    /// back alive above it, or stay "left" for good.
    @Test func aRestartAtTheIncarnationWeLeftWithIsRefuted() {
        var a = Self.node()
        _ = a.onPacket([.left(id: "a", incarnation: 1)], from: Self.peerAddress, now: .zero)
        #expect(a.me.status == .alive && a.me.incarnation == 2)
        _ = a.onPacket([.state(members: [Self.member("a", index: 1, incarnation: 2, status: .left)], reply: false, from: "b")], from: Self.peerAddress, now: .seconds(1))
        #expect(a.me.status == .alive && a.me.incarnation == 3)
        // A stale farewell changes nothing.
        _ = a.onPacket([.left(id: "a", incarnation: 1)], from: Self.peerAddress, now: .seconds(2))
        #expect(a.me.incarnation == 3)
        // The peer that held us "left" takes the refutation.
        var b = Gossip.Membership(selfID: "b", metadata: Self.metadata(2), incarnation: 1, seed: 2)
        _ = b.onPacket([.state(members: [Self.member("a", index: 1, incarnation: 2, status: .left)], reply: true, from: "c")], from: Self.peerAddress, now: .zero)
        #expect(b.members["a"]?.status == .left)
        _ = b.onPacket([.alive(a.me)], from: Self.peerAddress, now: .seconds(1))
        #expect(b.members["a"]?.status == .alive)
    }

    @Test func deadMemberRestartingWithAHigherIncarnationComesBack() {
        var a = Self.node()
        _ = a.onPacket([.dead(id: "b", incarnation: 1, from: "c")], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.status == .dead)
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 1))], from: Self.peerAddress, now: .seconds(1))
        #expect(a.members["b"]?.status == .dead)  // same incarnation: still dead
        _ = a.onPacket([.alive(Self.member("b", index: 2, incarnation: 2))], from: Self.peerAddress, now: .seconds(2))
        #expect(a.members["b"]?.status == .alive && a.members["b"]?.incarnation == 2)
    }

    @Test func pingsForAnotherNodeAreNotAnswered() {
        var a = Self.node()
        #expect(a.onPacket([.ping(sequence: 9, target: "zz", from: "b")], from: Self.peerAddress, now: .zero).isEmpty)
        let answer = a.onPacket([.ping(sequence: 9, target: "a", from: "b")], from: Self.peerAddress, now: .zero)
        guard case .send(let messages, let address)? = answer.first else { Issue.record("no ack"); return }
        #expect(address == Self.peerAddress && messages.first == .ack(sequence: 9, from: "a"))
    }

    @Test func loadReportsTravelWithoutIncarnationChanges() {
        var a = Self.node()
        var load = Gossip.LoadReport()
        load.inFlightRequests = 7
        _ = a.onPacket([.load(id: "b", version: 3, report: load)], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.load.inFlightRequests == 7 && a.members["b"]?.incarnation == 1)
        var older = load
        older.inFlightRequests = 1
        _ = a.onPacket([.load(id: "b", version: 2, report: older)], from: Self.peerAddress, now: .zero)
        #expect(a.members["b"]?.load.inFlightRequests == 7)
        a.updateLoad(load)
        #expect(a.me.incarnation == 1)
    }

    @Test func failedProbeLeadsToIndirectProbesThenSuspicion() {
        var a = Self.node(peers: 4)
        let tick = a.onTimer(.probeTick, now: .seconds(1))
        guard case .send(let messages, _)? = tick.first(where: { if case .send = $0 { true } else { false } }),
              case .ping(let sequence, let target, _)? = messages.first else { Issue.record("no ping"); return }
        let indirect = a.onTimer(.probeTimeout(sequence: sequence), now: .milliseconds(1500))
        let requests = indirect.filter { if case .send(let messages, _) = $0, case .pingRequest? = messages.first { true } else { false } }
        #expect(requests.count == 3)
        let end = a.onTimer(.probeEnd(sequence: sequence), now: .seconds(2))
        #expect(a.members[target]?.status == .suspect)
        #expect(end.contains { if case .memberChanged(let member) = $0 { member.id == target } else { false } })
        #expect(a.localHealth == 3)  // none of the three helpers sent a nack
    }
}
