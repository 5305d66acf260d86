import Basics
import Ring
import Simulation

/// Random but reproducible ring members: random-looking ids, optional zones and weights.
func randomMembers(count: Int, zones: Int = 1, weights: [Double] = [1], using generator: inout SeededGenerator) -> [Ring.Member] {
    var ids = Set<String>()
    while ids.count < count { ids.insert("n\(generator.next() % 1_000_000)-\(ids.count)") }
    return ids.sorted().map { id in
        Ring.Member(
            id: NodeID(id)!,
            weight: weights.randomElement(using: &generator)!,
            zone: zones > 1 ? "zone-\(Int(generator.next() % UInt64(zones)))" : ""
        )
    }
}

/// Random key positions.
func randomKeys(_ count: Int, using generator: inout SeededGenerator) -> [RingPosition] {
    (0..<count).map { _ in RingPosition(generator.next()) }
}
