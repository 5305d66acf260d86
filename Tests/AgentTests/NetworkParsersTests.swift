import Simulation
import Testing
@testable import Agent

/// The fuzz targets' entry points (`NetworkParsers`, which `scripts/fuzz` runs under libFuzzer)
/// over their seeds and seeded mutations of them, on every test run: a parser change that traps
/// or breaks an invariant on a near-valid input fails here before any fuzzer runs.
@Suite("network parsers: the fuzz targets over seeded mutations")
struct NetworkParsersTests {
    @Test(arguments: NetworkParsers.all.map(\.name))
    func survivesMutatedSeeds(name: String) throws {
        let target = try #require(NetworkParsers.named(name))
        #expect(!target.seeds.isEmpty)
        var random = SeededGenerator(seed: 0x5EED_F022)
        for seed in target.seeds { target.run(seed) }
        for _ in 0..<3_000 {
            target.run(Self.mutate(target.seeds.randomElement(using: &random)!, &random))
        }
        for length in 0..<64 { target.run((0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }) }
    }

    /// The edits libFuzzer makes most: flip, replace, insert, delete, duplicate a run, truncate.
    static func mutate(_ input: [UInt8], _ random: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty: bytes[index] = [0, 0xFF, 0x7F, 0x80, 10, 13, 45, 48, 57].randomElement(using: &random)!
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            case 3 where !bytes.isEmpty: bytes.remove(at: index)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, index + Int.random(in: 1...16, using: &random))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            default: bytes = Array(bytes.prefix(index))
            }
        }
        return bytes
    }
}
