import Simulation
import Testing
@testable import Ring

@Suite("Balance at the default vnode count")
struct BalanceTests {
    /// With replication 2, the fullest node holds at most 1.15× the mean share of stored copies.
    @Test("max/mean ownership of replica copies <= 1.15", arguments: [3, 5, 10, 20, 50, 100])
    func storedBalance(count: Int) throws {
        for seed in 0..<4 as Range<UInt64> {
            var generator = SeededGenerator(seed: seed * 1_000_003 + UInt64(count))
            let ring = try Ring(members: randomMembers(count: count, using: &generator))
            let shares = ring.ownership(replication: 2).values.map(\.stored)
            let ratio = shares.max()! * Double(count)
            #expect(ratio <= 1.15, "N=\(count) seed \(seed): max/mean \(ratio)")
        }
    }

    /// Each member's key space is proportional to its weight within ±10%.
    @Test("weighted members own key space in proportion", arguments: [3, 5, 10, 20])
    func weightedShare(count: Int) throws {
        for seed in 0..<5 as Range<UInt64> {
            var generator = SeededGenerator(seed: seed * 31 + UInt64(count))
            let ring = try Ring(members: randomMembers(count: count, weights: [1, 2, 3], using: &generator))
            let totalWeight = ring.members.reduce(0) { $0 + $1.weight }
            for (id, share) in ring.ownership(replication: 1) {
                let expected = ring.member(id)!.weight / totalWeight
                #expect(abs(share.leading / expected - 1) <= 0.10, "N=\(count) seed \(seed) \(id): \(share.leading) vs \(expected)")
            }
        }
    }
}
