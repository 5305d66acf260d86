import Basics
import Ring
import Simulation
import Synchronization
import Testing
@testable import Agent

@Suite("HLC and last-writer-wins merge")
struct MetadataMergeTests {
    static let nodes: [NodeID] = ["node1", "node2", "node3", "n4"]

    static func randomTimestamp(_ random: inout SeededGenerator) -> HybridTimestamp {
        // A small space so equal wall times, counters and versions actually occur.
        HybridTimestamp(wallMilliseconds: UInt64.random(in: 1_000...1_004, using: &random), counter: UInt16.random(in: 0...2, using: &random), node: nodes.randomElement(using: &random)!)
    }

    static func randomManifest(_ random: inout SeededGenerator) -> Manifest {
        let deleted = Bool.random(using: &random)
        let sha = String(repeating: ["a", "b", "c"].randomElement(using: &random)!, count: 64)
        let size = deleted ? 0 : Int64.random(in: 0...3, using: &random)
        return Manifest(
            owner: "alice", path: "f", size: size, sha256: deleted ? "" : sha, chunkSize: 5,
            chunks: size == 0 ? [] : [ChunkReference(id: ChunkID(sha)!, size: size)], contentType: "x", createdAt: 0, version: randomTimestamp(&random), deleted: deleted
        )
    }

    @Test(arguments: 0..<40)
    func mergeIsCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            let a = Self.randomManifest(&random)
            let b = Self.randomManifest(&random)
            let c = Self.randomManifest(&random)
            #expect(a.merged(with: b) == b.merged(with: a))
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)))
            #expect(a.merged(with: a) == a)
            // The winner is one of the inputs and no input has a higher version.
            let winner = a.merged(with: b)
            #expect((winner == a || winner == b) && winner.version >= a.version && winner.version >= b.version)
        }
    }

    static func randomAccessKey(_ random: inout SeededGenerator) -> AccessKeyRecord {
        let deleted = Bool.random(using: &random)
        return AccessKeyRecord(
            id: "FSKEY", user: "alice", userID: "u1", sealedSecret: deleted ? "" : ["s1", "s2"].randomElement(using: &random)!, createdAt: 0,
            version: randomTimestamp(&random), deleted: deleted
        )
    }

    @Test("an access key's delete stands against any later copy, and the merge still converges", arguments: 0..<20)
    func deletedAccessKeysStayDeleted(seed: UInt64) {
        var random = SeededGenerator(seed: 7_000 + seed)
        for _ in 0..<200 {
            let (a, b, c) = (Self.randomAccessKey(&random), Self.randomAccessKey(&random), Self.randomAccessKey(&random))
            #expect(a.merged(with: b) == b.merged(with: a))
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)))
            #expect(a.merged(with: a) == a)
            // A re-sealed copy stamped after a delete it had not seen still loses to it.
            if a.deleted != b.deleted { #expect(a.merged(with: b).deleted) }
        }
    }

    @Test(arguments: 0..<20)
    func anyDeliveryOrderConvergesToTheSameRecords(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let copies = (0..<12).map { _ in Self.randomManifest(&random) }
        var reference: [FileKey: Manifest] = [:]
        for copy in copies { reference.merge(copy) }
        for _ in 0..<10 {
            var replica: [FileKey: Manifest] = [:]
            // Shuffled, with duplicates delivered again.
            for copy in (copies + copies.prefix(4)).shuffled(using: &random) { replica.merge(copy) }
            #expect(replica == reference)
        }
    }

    @Test(arguments: 0..<20)
    func clockNeverRepeatsOrGoesBackwards(seed: UInt64) {
        // A wall clock that jumps back and forth, as NTP corrections do.
        let wall = Mutex(SeededGenerator(seed: seed))
        let clock = HybridClock(node: "node1") { wall.withLock { UInt64.random(in: 5_000...5_020, using: &$0) } }
        var last = clock.now()
        for _ in 0..<2_000 {
            let next = clock.now()
            #expect(next > last)
            last = next
        }
    }

    @Test func observingAPeerVersionOrdersLaterWritesAfterIt() throws {
        let clock = HybridClock(node: "node1") { 10_000 }
        let remote = HybridTimestamp(wallMilliseconds: 30_000, counter: 7, node: "node2")
        try clock.observe(remote)
        #expect(clock.now() > remote)
        let farAhead = HybridTimestamp(wallMilliseconds: 10_000 + HybridClock.defaultMaxDrift + 1, counter: 0, node: "node2")
        #expect(throws: ClockSkewError.self) { try clock.observe(farAhead) }
    }

    /// `max_clock_skew` is the clock's own limit: a version just inside is taken, just beyond refused.
    @Test(arguments: [UInt64(1_000), 5_000, 3_600_000])
    func theSkewLimitIsConfigurable(limit: UInt64) throws {
        let clock = HybridClock(node: "node1", maxDrift: limit) { 10_000 }
        try clock.observe(HybridTimestamp(wallMilliseconds: 10_000 + limit, counter: 0, node: "node2"))
        #expect(throws: ClockSkewError.self) { try clock.observe(HybridTimestamp(wallMilliseconds: 10_000 + limit + 1, counter: 0, node: "node2")) }
    }

    /// A restart resumes above the persisted high-water mark even when the wall clock went back.
    @Test func aRestartedClockNeverGoesBackwards() throws {
        let before = HybridClock(node: "node1") { 50_000 }
        var issued = before.now()
        for _ in 0..<10 { issued = before.now() }
        let restarted = HybridClock(node: "node1") { 20_000 }
        restarted.resume(after: HybridTimestamp(before.highWater.text)!)
        #expect(restarted.now() > issued)
    }

    @Test func testClockOffsetsAreSignedDurations() {
        #expect(WallClock.parseOffset(nil).milliseconds == nil && WallClock.parseOffset(nil).error == nil)
        #expect(WallClock.parseOffset("-90s").milliseconds == -90_000)
        #expect(WallClock.parseOffset("40s").milliseconds == 40_000)
        #expect(WallClock.parseOffset("+1500ms").milliseconds == 1_500)
        #expect(WallClock.parseOffset("1m30s").milliseconds == 90_000)
        for bad in ["90", "--5s", "ten", "-", "400d", "5s ago"] { #expect(WallClock.parseOffset(bad).error != nil, "\(bad) refused") }
        #expect(HybridClock.rfc3339(1_796_169_598_123) == "2026-12-01T23:59:58.123Z")
    }

    @Test(arguments: 0..<10)
    func textFormRoundTripsAndSortsLikeTheTimestamps(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            let a = HybridTimestamp(wallMilliseconds: UInt64.random(in: 0...(1 << 48 - 1), using: &random), counter: UInt16.random(in: 0...UInt16.max, using: &random), node: "node1")
            let b = HybridTimestamp(wallMilliseconds: UInt64.random(in: 0...(1 << 48 - 1), using: &random), counter: UInt16.random(in: 0...UInt16.max, using: &random), node: "node2")
            #expect(HybridTimestamp(a.description) == a)
            #expect((a < b) == (a.description < b.description))
        }
        #expect(HybridTimestamp("nonsense") == nil && HybridTimestamp("0000000000000001-BAD") == nil)
    }
}
