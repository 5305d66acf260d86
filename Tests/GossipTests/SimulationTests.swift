import GossipSimulation
import Ring
import Testing
@testable import Gossip

/// Protocol behaviour over many nodes on a virtual clock (DESIGN.md §5 targets), many seeds.
@Suite("Gossip simulation")
struct SimulationTests {
    @Test("members converge after joining through one seed", arguments: [3, 10, 30])
    func converges(count: Int) {
        var simulator = GossipSimulator(count: count, seed: UInt64(count))
        simulator.run(until: .seconds(10))
        for observer in 0..<count {
            #expect(simulator.nodes[observer].members.count == count)
            #expect(simulator.nodes[observer].members.values.allSatisfy { $0.status == .alive })
        }
    }

    @Test("a crashed member is marked dead by every survivor within the target", arguments: [(3, 8.0, 10), (10, 10.0, 10), (100, 15.0, 2)])
    func detectsCrash(count: Int, target: Double, seeds: Int) {
        var worst = 0.0
        for seed in 0..<UInt64(seeds) {
            var simulator = GossipSimulator(count: count, seed: seed * 131 + UInt64(count))
            let warmUp = Duration.seconds(count >= 100 ? 30 : 15)
            simulator.run(until: warmUp)
            let victim = Int(seed) % count
            simulator.crash(victim)
            simulator.run(for: .seconds(40))
            let time = simulator.detectionTime(of: victim, since: warmUp)
            #expect(time != nil, "seed \(seed): not every survivor marked node\(victim) dead")
            worst = max(worst, time ?? .infinity)
        }
        print("gossip sim N=\(count): worst detection over \(seeds) seeds \(worst) s")
        #expect(worst <= target)
    }
}

extension SimulationTests {
    @Test("no healthy member is declared dead over a simulated hour at 10% loss", arguments: [(5, UInt64(1)), (5, 3), (10, 2), (10, 4)])
    func noFalsePositivesUnderLoss(count: Int, seed: UInt64) {
        var simulator = GossipSimulator(count: count, seed: seed)
        simulator.run(until: .seconds(10))
        simulator.network.loss = 0.10
        simulator.run(until: .seconds(3610))
        let falseDeaths = simulator.deathsOfRunningNodes(since: .seconds(10))
        #expect(falseDeaths.isEmpty, "\(falseDeaths.count) false deaths, first: \(falseDeaths.first.map { "node\($0.observer) declared \($0.member.id) at \($0.time)" } ?? "")")
    }

    @Test("an update reaches every member quickly (N=100)")
    func disseminationAtHundred() {
        var simulator = GossipSimulator(count: 100, seed: 100)
        simulator.run(until: .seconds(30))
        #expect((0..<100).allSatisfy { simulator.nodes[$0].members.count == 100 })
        let start = simulator.now
        simulator.restart(7, seed: 0, crashFirst: true)  // a restart announces a higher incarnation
        simulator.run(for: .seconds(10))
        let delays = simulator.disseminationTimes(of: 7, incarnation: simulator.nodes[7].me.incarnation, since: start)
        #expect(delays.count == 99)
        let p99 = delays.sorted()[min(delays.count - 1, Int(Double(delays.count) * 0.99))]
        print("gossip sim N=100: update reached 99 members, p99 \(p99) s")
        #expect(p99 <= 2.0)
    }

    @Test("views agree again soon after a partition heals")
    func partitionHeals() {
        var simulator = GossipSimulator(count: 10, seed: 9)
        simulator.run(until: .seconds(10))
        simulator.partition = Dictionary(uniqueKeysWithValues: (0..<10).map { ($0, $0 < 5 ? 0 : 1) })
        simulator.run(until: .seconds(70))
        #expect(simulator.status(of: 9, seenBy: 0) == .dead)  // each side gave up on the other
        simulator.partition = nil
        let healed = simulator.now
        let deadline = healed + simulator.nodes[0].settings.pushPullInterval + .seconds(2)
        while simulator.now < deadline && !simulator.allViewsAlive { simulator.run(for: .milliseconds(100)) }
        #expect(simulator.allViewsAlive, "views still disagree \(simulator.now - healed) after healing")
    }

    @Test("a frozen member is declared dead, then refutes and is alive again after it resumes")
    func frozenMemberComesBack() {
        var simulator = GossipSimulator(count: 5, seed: 4)
        simulator.run(until: .seconds(10))
        simulator.freeze(3)
        simulator.run(for: .seconds(30))
        #expect(simulator.status(of: 3, seenBy: 0) == .dead)
        simulator.thaw(3)
        simulator.run(for: .seconds(10))
        #expect(simulator.allViewsAlive)
        #expect(simulator.nodes[3].me.incarnation > 1)
    }

    @Test("a crashed member that restarts with a higher incarnation is alive again everywhere")
    func restartedMemberComesBack() {
        var simulator = GossipSimulator(count: 5, seed: 5)
        simulator.run(until: .seconds(10))
        simulator.crash(2)
        simulator.run(for: .seconds(30))
        #expect((0..<5).filter { $0 != 2 }.allSatisfy { simulator.status(of: 2, seenBy: $0) == .dead })
        simulator.restart(2, seed: 0)
        simulator.run(for: .seconds(10))
        #expect(simulator.allViewsAlive)
    }

    @Test("a member that leaves is marked left everywhere and stays so")
    func gracefulLeave() {
        var simulator = GossipSimulator(count: 5, seed: 6)
        simulator.run(until: .seconds(10))
        simulator.leave(4)
        simulator.run(for: .seconds(5))
        simulator.crash(4)
        simulator.run(for: .seconds(60))
        #expect((0..<4).allSatisfy { simulator.status(of: 4, seenBy: $0) == .left })
    }
}

extension SimulationTests {
    @Test("the same seed replays the same run")
    func deterministic() {
        func run() -> [String] {
            var simulator = GossipSimulator(count: 8, seed: 77)
            simulator.network.loss = 0.05
            simulator.run(until: .seconds(20))
            simulator.crash(3)
            simulator.run(for: .seconds(30))
            return simulator.changes.map { "\($0.time) \($0.observer) \($0.member.id) \($0.member.status) \($0.member.incarnation)" }
        }
        #expect(run() == run())
    }
}
