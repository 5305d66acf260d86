import Basics
import Crypto
import Simulation
import Testing
@testable import Ring

/// A deliberately naive placement: hash every token, sort, walk clockwise collecting distinct
/// nodes, then put the first node of each zone ahead of the rest. The ring must agree with it.
private func referencePreferenceList(_ members: [Ring.Member], vnodes: Int, key: RingPosition) -> [NodeID] {
    var tokens: [(UInt64, String, Ring.Member)] = []
    for member in members {
        for index in 0..<Ring.tokenCount(weight: member.weight, vnodesPerWeight: vnodes) {
            let digest = Array(SHA256.hash(data: Array("\(member.id.rawValue)#\(index)".utf8)))
            tokens.append((digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, member.id.rawValue, member))
        }
    }
    tokens.sort { ($0.0, $0.1) < ($1.0, $1.1) }
    let start = tokens.firstIndex { $0.0 >= key.value } ?? 0
    var walk: [Ring.Member] = []
    for offset in 0..<tokens.count {
        let member = tokens[(start + offset) % tokens.count].2
        if !walk.contains(member) { walk.append(member) }
    }
    var zonesSeen = Set<String>()
    let leaders = walk.filter { zonesSeen.insert($0.zone).inserted }
    return (leaders + walk.filter { !leaders.contains($0) }).map(\.id)
}

@Suite("Placement")
struct PlacementTests {
    @Test("matches a naive reference implementation", arguments: 0..<12)
    func matchesReference(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let members = randomMembers(count: Int(2 + generator.next() % 7), zones: Int(1 + generator.next() % 4), weights: [0.5, 1, 2], using: &generator)
        let vnodes = 16
        let ring = try Ring(members: members, vnodesPerWeight: vnodes)
        for key in randomKeys(200, using: &generator) + [RingPosition(0), RingPosition(.max)] {
            let expected = referencePreferenceList(members, vnodes: vnodes, key: key)
            #expect(ring.preferenceList(for: key) == expected)
            for replication in 1...4 {
                #expect(ring.owners(of: key, replication: replication) == Array(expected.prefix(replication)))
            }
        }
    }

    @Test("is identical whatever the member order", arguments: 0..<20)
    func independentOfMemberOrder(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let members = randomMembers(count: Int(3 + generator.next() % 30), zones: Int(1 + generator.next() % 4), weights: [1, 2], using: &generator)
        let ring = try Ring(members: members, vnodesPerWeight: 64)
        let shuffled = try Ring(members: members.shuffled(using: &generator), vnodesPerWeight: 64)
        let reversed = try Ring(members: members.reversed(), vnodesPerWeight: 64)
        for key in randomKeys(500, using: &generator) {
            let owners = ring.owners(of: key, replication: 3)
            #expect(shuffled.owners(of: key, replication: 3) == owners)
            #expect(reversed.owners(of: key, replication: 3) == owners)
        }
        #expect(ring.ownership(replication: 2) == shuffled.ownership(replication: 2))
    }

    @Test("owners are distinct nodes, spread over zones when possible", arguments: 0..<30)
    func ownersDistinctAndZoneSpread(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let zones = Int(1 + generator.next() % 5)
        let members = randomMembers(count: Int(1 + generator.next() % 25), zones: zones, weights: [1, 3], using: &generator)
        let ring = try Ring(members: members, vnodesPerWeight: 32)
        for key in randomKeys(300, using: &generator) {
            for replication in 1...4 {
                let owners = ring.owners(of: key, replication: replication)
                #expect(owners.count == min(replication, members.count))
                #expect(Set(owners).count == owners.count)
                // As many distinct zones as there can be: all distinct when zones >= replication.
                let ownerZones = Set(owners.map { ring.member($0)!.zone })
                #expect(ownerZones.count == min(owners.count, ring.zoneCount))
            }
            #expect(Set(ring.preferenceList(for: key)) == Set(members.map(\.id)))
        }
    }

    @Test func emptyAndTinyRings() throws {
        let empty = try Ring(members: [])
        #expect(empty.owners(of: RingPosition(42), replication: 2).isEmpty)
        #expect(empty.ownership(replication: 2).isEmpty)
        let single = try Ring(members: [Ring.Member(id: "solo")], vnodesPerWeight: 1)
        #expect(single.owners(of: RingPosition(42), replication: 2) == ["solo"])
        #expect(single.ownership(replication: 2)["solo"] == Ring.Share(leading: 1, stored: 1))
        #expect(single.owners(of: RingPosition(42), replication: 0).isEmpty)
    }

    @Test func refusesBadMembership() {
        #expect(throws: RingError(.duplicateMember, "node a is listed twice")) {
            try Ring(members: [Ring.Member(id: "a"), Ring.Member(id: "a", weight: 2)])
        }
        for weight in [0, -1, .nan, .infinity, Ring.maxWeight.nextUp, 1e300] {
            #expect { try Ring(members: [Ring.Member(id: "a", weight: weight)]) } throws: { ($0 as? RingError)?.code == .invalidWeight }
        }
        #expect { try Ring(members: [Ring.Member(id: "a")], vnodesPerWeight: 0) } throws: { ($0 as? RingError)?.code == .invalidVnodes }
    }

    @Test func sharesSumToOne() throws {
        var generator = SeededGenerator(seed: 5)
        let ring = try Ring(members: randomMembers(count: 17, zones: 3, weights: [1, 2], using: &generator), vnodesPerWeight: 64)
        for replication in 1...3 {
            let shares = ring.ownership(replication: replication).values
            #expect(abs(shares.map(\.stored).reduce(0, +) - 1) < 1e-9)
            #expect(abs(shares.map(\.leading).reduce(0, +) - 1) < 1e-9)
        }
    }
}
