import GossipSimulation
import Ring
import Testing
@testable import Gossip

/// Protocol behaviour over many nodes on a virtual clock (DESIGN.md §5 targets), many seeds.
@Suite("Gossip simulation")
struct SimulationTests {
    /// Seconds until every survivor holds `victim` dead, or nil if some never did.
    static func detectionTime(_ simulator: GossipSimulator, victim: Int, crashedAt: Duration) -> Double? {
        var latest = Duration.zero
        for observer in simulator.nodes.indices where observer != victim && !simulator.crashed.contains(observer) {
            guard let change = simulator.changes.first(where: { $0.observer == observer && $0.member.id == GossipSimulator.id(victim) && $0.member.status == .dead && $0.time >= crashedAt }) else { return nil }
            latest = max(latest, change.time - crashedAt)
        }
        return Double(latest.components.seconds) + Double(latest.components.attoseconds) / 1e18
    }

    @Test("members converge after joining through one seed", arguments: [3, 10, 30])
    func converges(count: Int) {
        var simulator = GossipSimulator(count: count, seed: UInt64(count))
        simulator.run(until: .seconds(10))
        for observer in 0..<count {
            #expect(simulator.nodes[observer].members.count == count)
            #expect(simulator.nodes[observer].members.values.allSatisfy { $0.status == .alive })
        }
    }

    @Test("a crashed member is marked dead by every survivor within the target", arguments: [(3, 8.0), (10, 10.0)])
    func detectsCrash(count: Int, target: Double) {
        var worst = 0.0
        for seed in 0..<10 as Range<UInt64> {
            var simulator = GossipSimulator(count: count, seed: seed * 131 + UInt64(count))
            simulator.run(until: .seconds(15))
            let victim = Int(seed) % count
            simulator.crash(victim)
            simulator.run(for: .seconds(40))
            let time = Self.detectionTime(simulator, victim: victim, crashedAt: .seconds(15))
            #expect(time != nil, "seed \(seed): not every survivor marked node\(victim) dead")
            worst = max(worst, time ?? .infinity)
        }
        print("gossip sim N=\(count): worst detection over 10 seeds \(worst) s")
        #expect(worst <= target)
    }
}
