import ArgumentParser
import Basics
import Ring
import Simulation

/// `filestore-bench ring`: lookup time, balance and movement for rings of several sizes.
struct RingBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ring", abstract: "Ring lookup time, balance and move figures.")

    @Option(parsing: .upToNextOption, help: "Cluster sizes to measure.") var nodes: [Int] = [3, 10, 100, 1000]
    @Option(help: "Tokens per unit of weight.") var vnodes: Int = Ring.defaultVnodesPerWeight
    @Option(help: "Replication factor.") var replication: Int = 2
    @Option(help: "Random keys looked up per size.") var lookups: Int = 200_000
    @Option(help: "Namings of the members to try per size; balance figures are the worst seen.") var seeds: Int = 1

    func run() throws {
        print("ring: vnodes=\(vnodes) replication=\(replication)")
        for count in nodes {
            let members = (1...count).map { Ring.Member(id: NodeID("node\($0)")!) }
            let (ring, buildSeconds) = try measure { try Ring(members: members, vnodesPerWeight: vnodes) }

            var generator = SeededGenerator(seed: UInt64(count))
            let keys = (0..<lookups).map { _ in RingPosition(generator.next()) }
            var checksum = 0
            let (_, lookupSeconds) = measure {
                for key in keys { checksum &+= ring.owners(of: key, replication: replication).count }
            }
            precondition(checksum > 0)

            var storedMax = 0.0, leadingMax = 0.0, moved = 0.0, weightedError = 0.0, planSeconds = 0.0
            for seed in 0..<seeds {
                let named = seed == 0 ? ring : try Ring(members: (1...count).map { Ring.Member(id: NodeID("s\(seed)-node\($0)")!) }, vnodesPerWeight: vnodes)
                let shares = named.ownership(replication: replication).values
                storedMax = max(storedMax, shares.map(\.stored).max()! * Double(count))
                leadingMax = max(leadingMax, shares.map(\.leading).max()! * Double(count))
                let grown = try named.adding(Ring.Member(id: NodeID("s\(seed)-new")!))
                let (plan, seconds) = measure { named.plan(to: grown, replication: replication) }
                moved = max(moved, plan.movedFraction)
                planSeconds = max(planSeconds, seconds)
                // Weighted: every third member has weight 2, every fifth 3; key space should follow weight.
                let weighted = try Ring(members: named.members.enumerated().map { index, member in
                    Ring.Member(id: member.id, weight: index % 3 == 0 ? 2 : index % 5 == 0 ? 3 : 1)
                }, vnodesPerWeight: vnodes)
                let totalWeight = weighted.members.reduce(0) { $0 + $1.weight }
                for (id, share) in weighted.ownership(replication: 1) {
                    weightedError = max(weightedError, abs(share.leading / (weighted.member(id)!.weight / totalWeight) - 1))
                }
            }
            // Tokens are a sorted UInt64 array plus an Int32 owner index each.
            let memoryKiB = ring.tokenCount * 12 / 1024

            print("""
                ring N=\(pad(count, 4)) tokens=\(pad(ring.tokenCount, 7)) build=\(fixed(buildSeconds * 1000, 1))ms memory=\(memoryKiB)KiB \
                lookup=\(fixed(lookupSeconds / Double(lookups) * 1e9, 0))ns/key \
                stored max/mean=\(fixed(storedMax, 3)) leading max/mean=\(fixed(leadingMax, 3)) \
                add-one moved=\(fixed(moved * 100, 2))% (x(N+1)=\(fixed(moved * Double(count + 1), 3))) \
                weighted max error=\(fixed(weightedError * 100, 1))% plan=\(fixed(planSeconds * 1000, 0))ms
                """)
        }
    }
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if decimals == 0, text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

func pad(_ value: Int, _ width: Int) -> String {
    let text = "\(value)"
    return String(repeating: " ", count: max(0, width - text.count)) + text
}
