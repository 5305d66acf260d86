import Foundation
import Basics
import Crypto
import Ring
import Simulation
import Testing
@testable import Agent

@Suite("convergence decisions")
struct ConvergenceTests {
    static let nodes: [NodeID] = ["n1", "n2", "n3", "n4", "n5"]

    @Test(arguments: 0..<30)
    func decisionsNeverDropANeededCopy(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            let me = Self.nodes.randomElement(using: &random)!
            let owners = Array(Self.nodes.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
            let down = Set(Self.nodes.filter { _ in Bool.random(using: &random) && Bool.random(using: &random) })
            let holders = Set(Self.nodes.filter { _ in Bool.random(using: &random) })
            let action = Convergence.decide(selfID: me, owners: owners, isAvailable: { !down.contains($0) }, holders: holders)
            switch action {
            case .delete:
                #expect(!owners.contains(me), "an owner never drops its copy")
                #expect(owners.allSatisfy(holders.contains), "a copy goes only once every owner holds the key")
            case .push(let targets):
                #expect(!targets.isEmpty && targets.allSatisfy { owners.contains($0) && !down.contains($0) && !holders.contains($0) && $0 != me })
            case .keep:
                #expect(owners.allSatisfy { $0 == me || down.contains($0) || holders.contains($0) })
            }
        }
    }

    /// A key with an owner down is counted as at risk by exactly one of the nodes that are up and
    /// hold it (its first owner that is up), never while every owner is up; while every owner is
    /// down, each holder that is up counts it (no risk is left unreported).
    @Test(arguments: 0..<30)
    func atRiskKeysAreCountedOnceByANodeThatIsUp(seed: UInt64) {
        var random = SeededGenerator(seed: 700 + seed)
        for _ in 0..<300 {
            let owners = Array(Self.nodes.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
            let down = Set(Self.nodes.filter { _ in Bool.random(using: &random) && Bool.random(using: &random) })
            let standIns = Set(Self.nodes.filter { !owners.contains($0) && Bool.random(using: &random) })
            let holders = owners.filter { !down.contains($0) } + standIns.filter { !down.contains($0) }
            let reporters = holders.filter { Convergence.reportsAtRisk(selfID: $0, owners: owners, isAvailable: { !down.contains($0) }) }
            if owners.allSatisfy({ !down.contains($0) }) {
                #expect(reporters.isEmpty, "owners \(owners), down \(down)")
            } else if let first = owners.first(where: { !down.contains($0) }) {
                #expect(reporters == [first], "owners \(owners), down \(down)")
            } else {
                #expect(Set(reporters) == Set(holders), "owners \(owners), down \(down)")
            }
        }
    }

    /// After a long absence (`AbsenceCheck`): a suspect copy is dropped only when every other
    /// owner answered and none holds the key; kept as usual when one holds it; undecided otherwise.
    @Test(arguments: 0..<30)
    func suspectsAreDroppedOnlyWhenEveryOtherOwnerSaysAbsent(seed: UInt64) async {
        var random = SeededGenerator(seed: 900 + seed)
        for _ in 0..<100 {
            let me = Self.nodes.randomElement(using: &random)!
            let items = (0..<8).map { index in
                SyncItem(key: "alice/f\(index)", version: "", position: RingPosition(UInt64.random(in: 0...UInt64.max, using: &random)), size: 0)
            }
            var owners: [RingPosition: [NodeID]] = [:]
            for item in items { owners[item.position] = Array(Self.nodes.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random))) }
            let down = Set(Self.nodes.filter { _ in Int.random(in: 0..<5, using: &random) == 0 })
            let silent = Set(Self.nodes.filter { _ in Int.random(in: 0..<5, using: &random) == 0 })
            var holds: [NodeID: Set<String>] = [:]
            for node in Self.nodes { holds[node] = Set(items.map(\.key).filter { _ in Bool.random(using: &random) }) }
            let verdict = await AbsenceCheck.resolve(
                items, selfID: me, owners: { owners[$0] ?? [] }, isAvailable: { !down.contains($0) },
                ask: { peer, keys in silent.contains(peer) ? nil : Dictionary(uniqueKeysWithValues: keys.filter { holds[peer]!.contains($0) }.map { ($0, "v") }) }
            )
            for item in items {
                let others = owners[item.position]!.filter { $0 != me }
                let answered = others.filter { !down.contains($0) && !silent.contains($0) }
                let held = answered.contains { holds[$0]!.contains(item.key) }
                #expect([verdict.confirmed, verdict.deleted, verdict.unresolved].filter { $0.contains(item.key) }.count == 1)
                if verdict.deleted.contains(item.key) { #expect(!others.isEmpty && answered.count == others.count && !held, "dropped only when every other owner says absent") }
                if verdict.confirmed.contains(item.key) { #expect(others.isEmpty || held) }
                if verdict.unresolved.contains(item.key) { #expect(!held && answered.count < others.count) }
            }
        }
    }

    /// Many nodes applying the rule to random holdings, with random nodes down in each round:
    /// no key ever loses its last copy, and once everyone is up every key ends on exactly its owners.
    @Test(arguments: 0..<30)
    func repeatedRoundsConvergeWithoutLosingData(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let keys = 40
        let owners = (0..<keys).map { _ in Array(Self.nodes.shuffled(using: &random).prefix(2)) }
        var holdings = (0..<keys).map { _ in Set(Self.nodes.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }) }
        for key in 0..<keys where holdings[key].isEmpty { holdings[key].insert(Self.nodes.randomElement(using: &random)!) }
        for round in 0..<30 {
            let down: Set<NodeID> = round < 20 ? Set(Self.nodes.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }) : []
            for key in 0..<keys {
                for node in Self.nodes.shuffled(using: &random) where holdings[key].contains(node) && !down.contains(node) {
                    // Each holder sees the holdings of nodes that are up (down nodes cannot answer).
                    let visible = holdings[key].filter { !down.contains($0) }
                    switch Convergence.decide(selfID: node, owners: owners[key], isAvailable: { !down.contains($0) }, holders: visible) {
                    case .push(let targets): holdings[key].formUnion(targets)
                    case .delete: holdings[key].remove(node)
                    case .keep: break
                    }
                    #expect(!holdings[key].isEmpty, "key \(key) lost its last copy in round \(round)")
                }
            }
        }
        for key in 0..<keys { #expect(holdings[key] == Set(owners[key]), "key \(key): \(holdings[key]) vs owners \(owners[key])") }
    }

    @Test(arguments: 0..<10)
    func digestsIgnoreOrderAndSeeDifferences(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let items = (0..<50).map { (key: "k\($0)-\(UInt64.random(in: 0...UInt64.max, using: &random))", version: "v\(Int.random(in: 0..<3, using: &random))") }
        #expect(SyncItem.digest(items) == SyncItem.digest(items.shuffled(using: &random)))
        #expect(SyncItem.digest(items) != SyncItem.digest(items.dropLast()))
        var changed = items
        changed[7].version += "x"
        #expect(SyncItem.digest(items) != SyncItem.digest(changed))
        #expect(SyncItem.digest([]) == SyncItem.digest([]))
    }

    @Test func bloomFiltersHaveNoFalseNegativesAndFewFalsePositives() {
        let inserted = (0..<10_000).map { ChunkID(digest: SHA256.hash(data: Array("in\($0)".utf8))) }
        var filter = ChunkBloomFilter(expected: inserted.count)
        for id in inserted { filter.insert(id) }
        #expect(inserted.allSatisfy(filter.mayContain))
        let outside = (0..<10_000).map { ChunkID(digest: SHA256.hash(data: Array("out\($0)".utf8))) }
        let falsePositives = outside.filter(filter.mayContain).count
        #expect(falsePositives < 300, "false positives: \(falsePositives) of 10000")
    }

    /// Nodes of different builds exchange filters during GC: the bits an id sets must not change.
    /// Recorded from the first implementation (which read the words from the hex digits).
    @Test func bloomFilterPositionsAreStableAcrossVersions() throws {
        var filter = ChunkBloomFilter(expected: 1)
        filter.insert(ChunkID(digest: SHA256.hash(data: Array("stable".utf8))))
        let set: [Int] = filter.bits.enumerated().flatMap { index, byte in (0..<8).filter { byte & (1 << UInt8($0)) != 0 }.map { index * 8 + $0 } }
        #expect(set == Self.stablePositions)
    }

    static let stablePositions = [88, 201, 354, 467, 580, 733, 846]

    @Test func bloomFiltersFromPeersMustBeUsable() throws {
        for bad in [#"{"bits":[],"hashes":7}"#, #"{"bits":[1],"hashes":0}"#, #"{"bits":[1],"hashes":1000000000}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(ChunkBloomFilter.self, from: Data(bad.utf8)) }
        }
        let good = try JSONDecoder().decode(ChunkBloomFilter.self, from: Data(#"{"bits":[255],"hashes":3}"#.utf8))
        #expect(good.mayContain(ChunkID(String(repeating: "a", count: 64))!))
    }
}
