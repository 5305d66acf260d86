import Basics
import Simulation
import Testing
@testable import Ring

@Suite("Movement on membership changes")
struct MovementTests {
    /// Adding one node to N at the default vnode count: every moved copy goes to the new node,
    /// and the moved fraction of replica copies stays within 1.2/(N+1).
    @Test("adding a node moves keys only to it, about 1/(N+1) of them", arguments: Array(3...100))
    func addMovesOnlyToNewNode(count: Int) throws {
        var generator = SeededGenerator(seed: UInt64(count) * 7919)
        let members = randomMembers(count: count, using: &generator)
        let ring = try Ring(members: members)
        let newcomer: NodeID = "joiner"
        let grown = try ring.adding(Ring.Member(id: newcomer))
        let plan = ring.plan(to: grown, replication: 2)
        #expect(plan.routes.keys.allSatisfy { $0.to == newcomer })
        #expect(plan.movedFraction <= 1.2 / Double(count + 1), "moved \(plan.movedFraction) at N=\(count)")
        #expect(plan.movedFraction >= 0.8 / Double(count + 1), "moved \(plan.movedFraction) at N=\(count)")
        // The exact figure equals the newcomer's share of stored copies on the grown ring.
        #expect(abs(plan.movedFraction - grown.ownership(replication: 2)[newcomer]!.stored) < 1e-9)
    }

    @Test("joins with zones and weights never move a key between two old nodes", arguments: 0..<25)
    func addWithZonesAndWeights(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let zones = Int(1 + generator.next() % 4)
        let members = randomMembers(count: Int(2 + generator.next() % 20), zones: zones, weights: [0.5, 1, 2], using: &generator)
        let ring = try Ring(members: members, vnodesPerWeight: 64)
        let newcomer = Ring.Member(id: "joiner", weight: [0.5, 1, 3].randomElement(using: &generator)!, zone: "zone-\(generator.next() % UInt64(zones + 1))")
        let grown = try ring.adding(newcomer)
        for replication in 1...3 {
            for key in randomKeys(400, using: &generator) {
                let before = Set(ring.owners(of: key, replication: replication))
                let after = Set(grown.owners(of: key, replication: replication))
                #expect(after.subtracting(before).isSubset(of: [newcomer.id]))
                if before.count == replication {
                    #expect(before.subtracting(after).count == after.subtracting(before).count)
                } else {
                    #expect(before.isSubset(of: after))  // the ring had fewer members than copies wanted
                }
            }
            #expect(ring.plan(to: grown, replication: replication).routes.keys.allSatisfy { $0.to == newcomer.id })
        }
    }

    @Test("removing a node moves only the copies it held", arguments: 0..<25)
    func removeMovesOnlyItsKeys(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed + 1000)
        let members = randomMembers(count: Int(3 + generator.next() % 20), zones: Int(1 + generator.next() % 3), weights: [1, 2], using: &generator)
        let ring = try Ring(members: members, vnodesPerWeight: 64)
        let leaving = members.randomElement(using: &generator)!.id
        let shrunk = ring.removing(leaving)
        for key in randomKeys(400, using: &generator) {
            let before = ring.owners(of: key, replication: 2)
            let after = shrunk.owners(of: key, replication: 2)
            if before.contains(leaving) {
                #expect(Set(before).subtracting([leaving]).isSubset(of: Set(after)))
            } else {
                #expect(before == after)
            }
        }
        let plan = ring.plan(to: shrunk, replication: 2)
        #expect(plan.routes.keys.allSatisfy { $0.from == leaving })
        #expect(abs(plan.movedFraction - ring.ownership(replication: 2)[leaving]!.stored) < 1e-9)
    }

    @Test func planCountsSuppliedKeysAndBytes() throws {
        var generator = SeededGenerator(seed: 99)
        let ring = try Ring(members: randomMembers(count: 6, using: &generator), vnodesPerWeight: 128)
        let grown = try ring.adding(Ring.Member(id: "joiner", weight: 2))
        let keys = randomKeys(20_000, using: &generator).map { ($0, UInt64(1 + generator.next() % 5_242_880)) }
        let plan = ring.plan(to: grown, replication: 2, keys: keys)

        var movedKeys = 0
        var movedBytes: UInt64 = 0
        for (key, bytes) in keys where grown.owners(of: key, replication: 2).contains("joiner") {
            movedKeys += 1
            movedBytes += bytes
        }
        #expect(plan.keysExamined == keys.count)
        #expect(plan.gained(by: "joiner").keys == movedKeys)
        #expect(plan.gained(by: "joiner").bytes == movedBytes)
        #expect(plan.total.bytes == movedBytes)
        // The sampled figure agrees with the exact key-space figure (20k uniform keys: within 2%).
        let sampled = Double(movedKeys) / Double(keys.count) / 2
        #expect(abs(sampled - plan.movedFraction) < 0.02)
        #expect(ring.members.allSatisfy { plan.gained(by: $0.id) == .init() })
    }

    @Test func growingPastFewerThanReplicationMembers() throws {
        let one = try Ring(members: [Ring.Member(id: "a")], vnodesPerWeight: 8)
        let two = try one.adding(Ring.Member(id: "b"))
        let plan = one.plan(to: two, replication: 2)
        // Every key gains its second copy on b, sent by a (which holds them all).
        #expect(plan.routes.keys.sorted() == [.init(from: "a", to: "b")])
        #expect(abs(plan.total.keySpace - 1) < 1e-9)
    }
}
