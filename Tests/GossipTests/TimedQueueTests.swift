import Basics
import Simulation
import Testing

@Suite("TimedQueue: earliest first, ties in insertion order")
struct TimedQueueTests {
    /// Random pushes, pops and removals against a plain sorted list of (time, order, value).
    @Test("matches a sorted reference over random operations", arguments: 0..<30)
    func matchesReference(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var queue = TimedQueue<[Int]>()  // a payload with storage, as the simulator's packets have
        var reference: [(time: Int, order: Int, value: Int)] = []
        var order = 0
        for step in 0..<2_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let time = Int.random(in: 0..<50, using: &random)  // few distinct times: many ties
                order += 1
                queue.push(.milliseconds(time), [step])
                reference.append((time, order, step))
            case 5..<9:
                reference.sort { ($0.time, $0.order) < ($1.time, $1.order) }
                let popped = queue.pop()
                #expect(popped.map { [Int($0.time.components.attoseconds / 1_000_000_000_000_000) + Int($0.time.components.seconds) * 1_000] + $0.event }
                    == reference.first.map { [$0.time, $0.value] })
                if !reference.isEmpty { reference.removeFirst() }
            default:
                let modulus = Int.random(in: 2...5, using: &random)
                queue.removeAll { $0[0] % modulus == 0 }
                reference.removeAll { $0.value % modulus == 0 }
            }
            #expect(queue.count == reference.count)
        }
        reference.sort { ($0.time, $0.order) < ($1.time, $1.order) }
        #expect(queue.popDue(at: .seconds(1)).map { $0[0] } == reference.map(\.value))
        #expect(queue.isEmpty)
    }
}
