import Basics
import Ring
import Testing
@testable import Gossip

@Suite("Gossip wire format and sealing")
struct WireTests {
    @Test("messages survive encode/decode, packets stay within the limit", arguments: 0..<40)
    func roundTrip(seed: UInt64) throws {
        var random = RandomMessages(seed: seed)
        let messages = (0..<random.int(1...40)).map { _ in random.message() }
        let packets = Gossip.Codec.encode(messages, limit: 1400 - Gossip.Sealer.overhead)
        #expect(packets.allSatisfy { $0.count <= 1400 - Gossip.Sealer.overhead })
        let decoded = try packets.flatMap { try Gossip.Codec.decode($0) }
        // Large state messages are split across packets: compare with the split members rejoined.
        #expect(normalize(decoded) == normalize(messages))
    }

    @Test("a thousand-member state splits into full packets, every member once and in order", arguments: 0..<5)
    func largeStateSplit(seed: UInt64) throws {
        var random = RandomMessages(seed: seed + 900)
        let members = (0..<1_000).map { _ in random.member() }
        let limit = 1400 - Gossip.Sealer.overhead
        let packets = Gossip.Codec.encode([.state(members: members, reply: false, from: "node1")], limit: limit)
        #expect(packets.allSatisfy { $0.count <= limit })
        let decoded = try packets.flatMap { try Gossip.Codec.decode($0) }
        var rejoined: [Gossip.Member] = []
        for case .state(let part, false, "node1") in decoded { rejoined += part }
        #expect(rejoined == members)
        // Packed in order: no packet but the last is less than full by more than one member.
        let total = packets.reduce(0) { $0 + $1.count }
        #expect(packets.count <= total / (limit - 300) + 1)
    }

    @Test("random, truncated and bit-flipped bytes never crash", arguments: 0..<20)
    func fuzzDecoding(seed: UInt64) {
        var random = RandomMessages(seed: seed + 500)
        let packet = Gossip.Codec.encode((0..<5).map { _ in random.message() }, limit: 1400)[0]
        for _ in 0..<300 {
            var bytes = packet
            switch random.int(0...2) {
            case 0: bytes = Array(bytes.prefix(random.int(0...bytes.count)))
            case 1: bytes[random.int(0...bytes.count - 1)] ^= UInt8(random.int(1...255))
            default: bytes = (0..<random.int(0...200)).map { _ in UInt8(random.int(0...255)) }
            }
            _ = try? Gossip.Codec.decode(bytes)  // must return or throw, never trap
        }
    }

    @Test func sealedPacketsOpenOnlyWithTheRightKeyAndCluster() throws {
        let sealer = Gossip.Sealer(clusterName: "demo", secret: "s3cret")
        let packet = Gossip.Codec.encode([.ack(sequence: 7, from: "node1")], limit: 1400)[0]
        let sealed = sealer.seal(packet, wallMilliseconds: 1_000)
        let opened = try sealer.open(sealed)
        #expect(opened.packet == packet && opened.wallMilliseconds == 1_000)

        #expect(throws: Gossip.WireError.unauthenticated) { try Gossip.Sealer(clusterName: "demo", secret: "other").open(sealed) }
        #expect(throws: Gossip.WireError.unauthenticated) { try Gossip.Sealer(clusterName: "prod", secret: "s3cret").open(sealed) }
        for index in [0, 5, 20, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x40
            #expect(throws: Gossip.WireError.unauthenticated) { try sealer.open(tampered) }
        }
        #expect(throws: Gossip.WireError.unauthenticated) { try sealer.open(Array(sealed.prefix(20))) }
        #expect(throws: Gossip.WireError.unauthenticated) { try sealer.open([]) }

        // Rotation: a node with the new secret still opens packets sealed under the old one.
        let rotated = Gossip.Sealer(clusterName: "demo", secret: "new", previousSecret: "s3cret")
        #expect(try rotated.open(sealed).packet == packet)
        #expect(try rotated.open(sealed).underPreviousSecret && !(try sealer.open(sealed).underPreviousSecret))
        #expect(try !rotated.open(rotated.seal(packet, wallMilliseconds: 6)).underPreviousSecret)
        // ...while a node that knows only the old secret cannot read the new key: rotate by adding the
        // new secret as the second key everywhere first, then making it primary.
        #expect(throws: Gossip.WireError.unauthenticated) { try sealer.open(rotated.seal(packet, wallMilliseconds: 5)) }
    }

    @Test func replayGuardDropsRepeatsAndStalePackets() {
        var guardian = NonceWindow<[UInt8]>(window: 60_000)
        let admitted = [
            guardian.admit([1], stamp: 100_000, now: 100_500) == .fresh,
            guardian.admit([1], stamp: 100_000, now: 100_600) == .fresh,  // exact repeat
            guardian.admit([2], stamp: 100_000, now: 100_600) == .fresh,
            guardian.admit([3], stamp: 10_000, now: 100_600) == .fresh,   // older than the window
            guardian.admit([4], stamp: 200_000, now: 100_600) == .fresh,  // from the future
            guardian.admit([5], stamp: 150_000, now: 155_000) == .fresh,
        ]
        #expect(admitted == [true, false, true, false, false, true])
    }

    private func normalize(_ messages: [Gossip.Message]) -> [String] {
        messages.flatMap { message -> [String] in
            if case .state(let members, let reply, let from) = message { return members.map { "state \(reply) \(from) \($0)" } }
            return ["\(message)"]
        }
    }
}
