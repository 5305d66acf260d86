import Basics
import Ring
import Simulation
import Testing
@testable import Gossip

/// The indexes that keep every gossip event O(1) in the cluster size: they must hold exactly
/// what a scan of the member table would find, in any order of operations.
@Suite("gossip indexes")
struct MembershipIndexTests {
    @Test("the indexed id set holds what a plain set holds", arguments: 0..<20)
    func indexedIDsMatchASet(seed: UInt64) {
        var random = SeededGenerator(seed: 500 + seed)
        var indexed = Gossip.IndexedIDs()
        var model: Set<NodeID> = []
        for _ in 0..<2_000 {
            let id = NodeID("n\(Int.random(in: 0..<60, using: &random))")!
            if Bool.random(using: &random) {
                indexed.insert(id)
                model.insert(id)
            } else {
                indexed.remove(id)
                model.remove(id)
            }
            #expect(indexed.count == model.count && Set(indexed.ids) == model)
            let excluded = NodeID("n\(Int.random(in: 0..<60, using: &random))")!
            let picked = indexed.randomElement(excluding: excluded, using: &random)
            #expect(picked.map { model.contains($0) && $0 != excluded } ?? model.subtracting([excluded]).isEmpty, "a pick is a member other than the excluded one")
        }
    }

    @Test("a random pick that excludes one id still reaches every other id")
    func randomPickCoversTheRest() {
        var random = SeededGenerator(seed: 77)
        var indexed = Gossip.IndexedIDs()
        let ids = (0..<5).map { NodeID("n\($0)")! }
        ids.forEach { indexed.insert($0) }
        var seen: [NodeID: Int] = [:]
        for _ in 0..<4_000 { if let id = indexed.randomElement(excluding: ids[2], using: &random) { seen[id, default: 0] += 1 } }
        #expect(Set(seen.keys) == Set(ids).subtracting([ids[2]]))
        #expect(seen.values.allSatisfy { (800...1_200).contains($0) }, "about uniform: \(seen)")
    }

    @Test("queued updates go least-sent first, each at most the retransmit limit, a newer one replacing the older", arguments: 0..<20)
    func broadcastQueueKeepsItsPromises(seed: UInt64) {
        var random = SeededGenerator(seed: 600 + seed)
        var queue = Gossip.BroadcastQueue()
        let limit = Int.random(in: 1...8, using: &random)
        // The model: per subject, the current message and how often it was sent.
        var current: [NodeID: (message: Gossip.Message, sends: Int)] = [:]
        for _ in 0..<3_000 {
            if Int.random(in: 0..<3, using: &random) == 0 {
                let subject = NodeID("n\(Int.random(in: 0..<40, using: &random))")!
                let message = Gossip.Message.left(id: subject, incarnation: UInt64.random(in: 0..<1_000_000, using: &random))
                queue.enqueue(message, about: subject, size: Gossip.Codec.encodedSize(message))
                current[subject] = (message, 0)
            } else {
                let budget = Int.random(in: 0...400, using: &random)
                let least = current.values.map(\.sends).min()
                let taken = queue.take(fitting: budget, retransmitLimit: limit)
                #expect(taken.reduce(0) { $0 + Gossip.Codec.encodedSize($1) } <= budget, "a packet holds what fits")
                var sendsTaken: [Int] = []
                for message in taken {
                    guard case .left(let subject, _) = message, let entry = current[subject] else {
                        Issue.record("an update that is not queued was sent: \(message)")
                        continue
                    }
                    #expect(entry.message == message, "only the newest update about \(subject) is sent")
                    sendsTaken.append(entry.sends)
                    current[subject] = entry.sends + 1 >= limit ? nil : (entry.message, entry.sends + 1)
                }
                // Least-sent first: when anything was taken, the least-sent level was reached first.
                if let first = sendsTaken.first, budget >= 64 { #expect(first == least) }
                #expect(zip(sendsTaken, sendsTaken.dropFirst()).allSatisfy { $0 <= $1 }, "taken in order of sends: \(sendsTaken)")
                #expect(queue.count == current.count, "the queue holds exactly the updates not yet sent \(limit) times")
            }
        }
    }
}
