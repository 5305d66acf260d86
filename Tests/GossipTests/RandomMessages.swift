import Basics
import Ring
import Simulation
@testable import Gossip

/// Random but valid protocol values for property tests.
struct RandomMessages {
    var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
    mutating func u64() -> UInt64 { generator.next() }

    mutating func nodeID() -> NodeID {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-")
        return NodeID(String((0..<int(1...24)).map { _ in alphabet[int(0...alphabet.count - 1)] }))!
    }

    mutating func address() -> Gossip.Address { Gossip.Address(host: "10.\(int(0...255)).\(int(0...255)).\(int(1...254))", port: int(1...65_535)) }

    mutating func load() -> Gossip.LoadReport {
        var load = Gossip.LoadReport()
        load.inFlightRequests = UInt32(truncatingIfNeeded: u64())
        load.bytesInPerSecond = u64()
        load.storageUsedBytes = u64()
        load.chunkCount = u64()
        load.underReplicated = u64()
        load.atRisk = u64()
        load.hintsPending = u64()
        return load
    }

    mutating func member() -> Gossip.Member {
        Gossip.Member(
            id: nodeID(), incarnation: u64(), status: Gossip.Status(rawValue: UInt8(int(0...3)))!,
            metadata: Gossip.Metadata(gossip: address(), http: "host-\(int(0...999)):8080", peer: ["", "10.1.0.\(int(0...255)):9080"][int(0...1)], s3: ["", "https://10.1.0.\(int(0...255)):3900"][int(0...1)], zone: ["", "a", "zone-b"][int(0...2)], weight: [0.5, 1, 2][int(0...2)], ringState: Gossip.RingState(rawValue: UInt8(int(0...2)))!),
            load: load(), loadVersion: u64()
        )
    }

    mutating func message() -> Gossip.Message {
        switch int(0...9) {
        case 0: .ping(sequence: u64(), target: nodeID(), from: nodeID())
        case 1: .ack(sequence: u64(), from: nodeID())
        case 2: .nack(sequence: u64(), from: nodeID())
        case 3: .pingRequest(sequence: u64(), target: nodeID(), targetAddress: address(), from: nodeID())
        case 4: .alive(member())
        case 5: .suspect(id: nodeID(), incarnation: u64(), from: nodeID())
        case 6: .dead(id: nodeID(), incarnation: u64(), from: nodeID())
        case 7: .left(id: nodeID(), incarnation: u64())
        case 8: .load(id: nodeID(), version: u64(), report: load())
        default: .state(members: (0..<int(0...30)).map { _ in member() }, reply: int(0...1) == 1, from: nodeID())
        }
    }
}
