@testable import Agent
import Basics
import DevCluster
import Ring
import Simulation
import Testing

/// The coordinators in one process over many seeds: quorum, stand-ins and hints, read repair,
/// convergence and GC, with nodes that are dead, unreachable, failing or stalling. Fast enough
/// to run on every build; what only real processes show stays in the live tests.
@Suite("coordinators in process")
struct CoordinatorTests {
    /// A random fault for one node: what the coordinator meets when it calls it.
    enum Trouble: CaseIterable {
        case healthy, deadByGossip, unreachable, failing, stalling
    }

    @Test("a write succeeds exactly when write_quorum nodes take it, and heals to the owners", arguments: 0..<40)
    func quorumStandInsAndHints(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let count = Int.random(in: 3...5, using: &random)
        let replication = Int.random(in: 2...3, using: &random)
        let quorum = Int.random(in: 1...replication, using: &random)
        // Every other seed keeps files under 2 KiB in their manifests: those go through the same
        // stand-ins, hints and convergence with no chunk at all.
        let cluster = try InProcessCluster(nodes: count, replication: replication, writeQuorum: quorum, inlineLimit: seed % 2 == 0 ? 2048 : 0)
        let coordinator = cluster.ids.randomElement(using: &random)!
        var troubled: [NodeID: Trouble] = [:]
        for node in cluster.ids where node != coordinator {
            let trouble = Trouble.allCases.randomElement(using: &random)!
            troubled[node] = trouble
            switch trouble {
            case .healthy: break
            case .deadByGossip: cluster.markDead(node)
            case .unreachable: cluster.transport.set(.unreachable, on: node)
            case .failing: cluster.transport.set(.failing, on: node)
            case .stalling: cluster.transport.set(.stalling(.milliseconds(5)), on: node)
            }
        }
        let healthy = cluster.ids.filter { troubled[$0, default: .healthy] == .healthy }
        let alive = cluster.ids.filter { troubled[$0] != .deadByGossip }
        let bytes = seededBytes(seed % 4 == 0 ? Int.random(in: 1...2048, using: &random) : Int.random(in: 1...20_000, using: &random), &random)
        let path = "f\(seed).bin"

        let manifest: Manifest
        do {
            manifest = try await cluster.upload(bytes, as: path, via: coordinator)
        } catch let error as ReplicationError {
            #expect(error.code == .quorumUnavailable)
            #expect(healthy.count < quorum, "refused with \(healthy.count) healthy of quorum \(quorum): \(error)")
            // Nothing was committed: no node holds a manifest of the refused file. (A small file's
            // upload is its manifest write: one refused may leave copies on the fewer than
            // `quorum` nodes that took it, as any manifest write that fails after its chunks can.)
            let copies = try await cluster.manifestCopies(path)
            #expect(bytes.count <= 2048 && seed % 2 == 0 ? copies.count < quorum : copies.isEmpty)
            if alive.count < quorum { #expect(cluster.transport.calls("PUT /internal/v1/chunks/:id") == 0, "refused before sending anything") }
            return
        }
        #expect(healthy.count >= quorum, "acknowledged with only \(healthy.count) healthy nodes, quorum \(quorum)")
        // Every chunk and the manifest are on min(replication, healthy) distinct nodes; every
        // copy off its owners carries a hint naming an owner that lacks it.
        let copies = min(replication, healthy.count)
        for reference in manifest.chunks {
            let holders = cluster.holders(of: reference.id)
            #expect(holders.count == copies && holders.isSubset(of: Set(healthy)))
            let owners = Set(cluster.owners(of: reference.id.position))
            for standIn in holders.subtracting(owners) {
                let hints = try await cluster[standIn].agent.local.metadata.hints().filter { $0.key == reference.id.hex }
                #expect(hints.count == 1 && hints.allSatisfy { owners.contains($0.intended) && !holders.contains($0.intended) })
            }
        }
        #expect(try await cluster.manifestCopies(path).count == copies)
        #expect(try await cluster.download(path, via: coordinator) == bytes)

        // The faults end: convergence moves every copy to its owners and settles every hint.
        for node in cluster.ids {
            cluster.transport.set(.healthy, on: node)
            cluster.markAlive(node)
        }
        let rounds = try await cluster.convergeFully()
        #expect(rounds < 20, "convergence did not settle")
        for reference in manifest.chunks {
            #expect(cluster.holders(of: reference.id) == Set(cluster.owners(of: reference.id.position)))
        }
        #expect(Set(try await cluster.manifestCopies(path).keys) == Set(cluster.owners(of: manifest.key.position)))
        for node in cluster.ids {
            #expect(try await cluster[node].agent.local.metadata.hints().isEmpty)
            #expect(try await cluster.download(path, via: node) == bytes)
        }
    }

    @Test("reads return the newest version and repair an owner that missed it", arguments: 0..<20)
    func readRepair(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 1000 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...5, using: &random))
        let path = "doc\(seed)"
        let key = FileKey(owner: "alice", path: path)
        let owners = cluster.owners(of: key.position)
        let first = seededBytes(3000, &random), second = seededBytes(5000, &random)
        try await cluster.upload(first, as: path, via: cluster.ids.randomElement(using: &random)!)
        // One owner misses the overwrite (it cannot be reached; gossip still calls it alive).
        let stale = owners.randomElement(using: &random)!
        cluster.transport.set(.unreachable, on: stale)
        let writer = cluster.ids.filter { $0 != stale }.randomElement(using: &random)!
        let newest = try await cluster.upload(second, as: path, via: writer)
        cluster.transport.set(.healthy, on: stale)
        #expect(try await cluster.manifestCopies(path)[stale]?.version != newest.version)

        // Any node reads the newest version, and the read puts it back on the stale owner.
        let reader = cluster.ids.randomElement(using: &random)!
        #expect(try await cluster.download(path, via: reader) == second)
        try await pollUntil("the stale owner holds the newest version", timeout: .seconds(5), interval: .milliseconds(10)) {
            let held = try await cluster.manifestCopies(path)[stale]
            return held?.version == newest.version ? nil : "it holds \(String(describing: held?.version))"
        }
    }

    @Test("a bad copy is never served, and it is replaced", arguments: 0..<10)
    func corruptCopy(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 2000 + seed)
        let cluster = try InProcessCluster(nodes: 3)
        let bytes = seededBytes(10_000, &random)
        let manifest = try await cluster.upload(bytes, as: "c.bin", via: "n1")
        let victim = manifest.chunks.randomElement(using: &random)!.id
        let bad = cluster.holders(of: victim).randomElement(using: &random)!
        cluster[bad].blobs.corrupt(victim)
        for node in cluster.ids { #expect(try await cluster.download("c.bin", via: node) == bytes) }
        // The reader had the bad copy re-verified: it is dropped, then refilled by convergence.
        try await pollUntil("the bad copy is dropped", timeout: .seconds(5), interval: .milliseconds(10)) {
            cluster.holders(of: victim).contains(bad) ? "still held by \(bad)" : nil
        }
        try await cluster.convergeFully()
        #expect(cluster.holders(of: victim) == Set(cluster.owners(of: victim.position)))
        let buffer = try await cluster[bad].agent.local.readChunk(victim, limit: 1 << 20)
        #expect(buffer.readableBytes > 0)
    }

    @Test("a small file lives in its manifest: no chunk call, read from the manifest alone, a damaged copy never served and mended", arguments: 0..<8)
    func inlineFiles(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 2500 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...4, using: &random), inlineLimit: 2048)
        let via = cluster.ids.randomElement(using: &random)!
        // Up to the limit inline; one byte more (or a whole chunk) in chunks as before.
        let small = seededBytes(Int.random(in: 1...2048, using: &random), &random)
        let manifest = try await cluster.upload(small, as: "s.bin", via: via)
        #expect(manifest.chunks.isEmpty && manifest.inline.map(Array.init) == small && manifest.inlineIsIntact)
        #expect(cluster.nodes.allSatisfy { $0.blobs.ids.isEmpty }, "no chunk was stored")
        #expect(cluster.transport.calls("PUT /internal/v1/chunks/:id") == 0 && cluster.transport.calls("GET /internal/v1/chunks/:id/size") == 0)
        let copies = try await cluster.manifestCopies("s.bin")
        #expect(Set(copies.keys) == Set(cluster.owners(of: manifest.key.position)) && copies.values.allSatisfy { $0 == manifest })
        let large = try await cluster.upload(seededBytes(2049, &random), as: "l.bin", via: via)
        #expect(large.inline == nil && large.chunks.count == 1)
        for node in cluster.ids { #expect(try await cluster.download("s.bin", via: node) == small) }

        // One owner's copy is damaged on disk: every read still returns the right bytes (from
        // the other owner), and the read writes the good copy back over the damaged one.
        let damaged = cluster.owners(of: manifest.key.position).randomElement(using: &random)!
        try await cluster.damageInline("s.bin", on: damaged)
        #expect(try await cluster.manifestCopies("s.bin")[damaged]?.inlineIsIntact == false)
        #expect(try await cluster.download("s.bin", via: cluster.ids.randomElement(using: &random)!) == small)
        try await pollUntil("the damaged copy is mended", timeout: .seconds(5), interval: .milliseconds(10)) {
            try await cluster.manifestCopies("s.bin")[damaged] == manifest ? nil : "still damaged"
        }
        // The same content under another name is another inline manifest: still no chunk of it.
        let again = try await cluster.upload(small, as: "again.bin", via: via)
        #expect(again.inline == manifest.inline && cluster.nodes.allSatisfy { $0.blobs.ids.subtracting(large.chunks.map(\.id)).isEmpty })
    }

    @Test("GC deletes only what no live version references, and skips a round a member misses", arguments: 0..<15)
    func garbageCollection(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 3000 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...4, using: &random))
        var live: [String: [UInt8]] = [:]
        var dropped: [Manifest] = []
        for index in 0..<Int.random(in: 3...8, using: &random) {
            let path = "g\(index)"
            let via = cluster.ids.randomElement(using: &random)!
            let content = seededBytes(Int.random(in: 1...12_000, using: &random), &random)
            let manifest = try await cluster.upload(content, as: path, via: via)
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                try await cluster.delete(path, via: cluster.ids.randomElement(using: &random)!)
                dropped.append(manifest)
            case 1:
                let newer = seededBytes(Int.random(in: 1...12_000, using: &random), &random)
                try await cluster.upload(newer, as: path, via: via)
                dropped.append(manifest)
                live[path] = newer
            default:
                live[path] = content
            }
        }
        try await cluster.convergeFully()

        // A member that does not answer stops every node's round.
        let silent = cluster.ids.randomElement(using: &random)!
        cluster.transport.set(.unreachable, on: silent)
        for node in cluster.ids where node != silent { #expect(try await cluster.collectGarbage(on: node) == nil) }
        cluster.transport.set(.healthy, on: silent)

        for node in cluster.ids { _ = try await cluster.collectGarbage(on: node) }
        for (path, content) in live {
            for node in cluster.ids { #expect(try await cluster.download(path, via: node) == content) }
        }
        let referenced = Set(try await cluster.nodes.asyncFlatMap { try await $0.agent.local.metadata.referencedChunks() })
        for manifest in dropped {
            for reference in manifest.chunks where !referenced.contains(reference.id) {
                #expect(cluster.holders(of: reference.id).isEmpty, "unreferenced chunk \(reference.id) survived GC")
            }
        }
    }
}

extension CoordinatorTests {
    /// Garbage one owner collected is not pushed back to it by a co-owner whose GC has not got
    /// to its own copy yet (they used to bounce it between them for ever, each copy arriving
    /// fresh inside `gc_grace`); content that is uploaded again is taken, and once a GC round has
    /// seen it referenced, repair brings it back too.
    @Test("collected garbage does not bounce between owners, and referenced content comes back", arguments: 0..<8)
    func collectedGarbageDoesNotBounce(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 3500 + seed)
        let cluster = try InProcessCluster(nodes: 3)
        let content = seededBytes(Int.random(in: 2_000...9_000, using: &random), &random)
        let manifest = try await cluster.upload(content, as: "g", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.delete("g", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.convergeFully()
        let ids = Set(manifest.chunks.map(\.id))
        let first = cluster.ids.randomElement(using: &random)!
        _ = try await cluster.collectGarbage(on: first)
        try await cluster.convergeFully()
        for id in ids { #expect(!cluster.holders(of: id).contains(first), "\(first) was handed its garbage back") }
        for node in cluster.ids where node != first { _ = try await cluster.collectGarbage(on: node) }
        try await cluster.convergeFully()
        for id in ids { #expect(cluster.holders(of: id).isEmpty, "garbage \(id) survived on \(cluster.holders(of: id).sorted())") }

        // The same content again, with `first` away: the stand-in's copy reaches it after a GC
        // round there has seen the new reference.
        cluster.markDead(first)
        try await cluster.upload(content, as: "again", via: cluster.ids.filter { $0 != first }.randomElement(using: &random)!)
        cluster.transport.set(.healthy, on: first)
        cluster.markAlive(first)
        try await cluster.convergeFully()
        _ = try await cluster.collectGarbage(on: first)
        try await cluster.convergeFully()
        for id in ids {
            let owners = Set(cluster[first].agent.view.snapshot().owners(of: id.position))
            #expect(cluster.holders(of: id) == owners, "chunk \(id) on \(cluster.holders(of: id).sorted()), owners \(owners.sorted())")
        }
        for node in cluster.ids { #expect(try await cluster.download("again", via: node) == content) }
    }

    /// Runs `body` while every node's GC round has read what it would delete and waits, with
    /// `gc_grace` zero; then lets the rounds finish.
    static func whileGCRoundsWaitToDelete(_ cluster: InProcessCluster, _ body: () async throws -> Void) async throws {
        let gate = Gate()
        let rounds = cluster.ids.map { node in
            let service = GCService(agent: cluster[node].agent, interval: .seconds(3600), grace: .zero, beforeDeleting: { await gate.pass() })
            return Task { try await service.round() }
        }
        await gate.waitForArrivals(cluster.ids.count)
        try await body()
        await gate.open()
        for round in rounds { _ = try await round.value }
    }

    /// The race DESIGN.md §18 closes: a GC round has read which chunks nobody references and is
    /// about to delete them when an upload of the same content checks its targets, hears "held"
    /// and sends nothing. The round must not delete them, even with `gc_grace` zero.
    @Test("a GC round cannot delete a chunk an upload's dedup check relied on", arguments: 0..<8)
    func gcCannotRaceADedupHit(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 3500 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...4, using: &random))
        let content = seededBytes(Int.random(in: 4_097...20_000, using: &random), &random)
        let stored = try await cluster.upload(content, as: "old", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.delete("old", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.convergeFully()

        // The same content again: every target already holds each chunk, so none is sent.
        let via = cluster.ids.randomElement(using: &random)!
        try await Self.whileGCRoundsWaitToDelete(cluster) { try await cluster.upload(content, as: "new", via: via) }
        for node in cluster.ids { #expect(try await cluster.download("new", via: node) == content, "read through \(node)") }
        // And the chunks a later round finds unreferenced still go: pins last one round.
        try await cluster.delete("new", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.convergeFully()
        for node in cluster.ids { _ = try await cluster.collectGarbage(on: node) }
        #expect(stored.chunks.count > 1)
        for reference in stored.chunks { #expect(cluster.holders(of: reference.id).isEmpty, "unreferenced chunk \(reference.id) survived GC") }
    }

    /// The same race for a manifest over chunks stored already (S3's CopyObject, a completed
    /// multipart upload): the file that named them is deleted, a GC round has found them
    /// unreferenced and waits to delete them, and the copy is written meanwhile. The copy's
    /// chunks must survive; and a copy of chunks already collected writes nothing.
    @Test("a GC round cannot delete the chunks a copy is written over", arguments: 0..<8)
    func gcCannotRaceACopy(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 3600 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...4, using: &random))
        let content = seededBytes(Int.random(in: 4_097...20_000, using: &random), &random)
        let source = try await cluster.upload(content, as: "source", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.delete("source", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.convergeFully()

        let via = cluster[cluster.ids.randomElement(using: &random)!].agent
        @Sendable func copy(as path: String) async throws -> Manifest? {
            try await via.storeOverStoredChunks(source.chunks, via.view.snapshot()) { version in
                var manifest = source
                manifest.path = path
                manifest.version = version
                return manifest
            }
        }
        try await Self.whileGCRoundsWaitToDelete(cluster) {
            let written = try await copy(as: "copy")
            #expect(written != nil)
        }
        for node in cluster.ids { #expect(try await cluster.download("copy", via: node) == content, "read through \(node)") }

        // Once the chunks are collected, a copy of them is refused rather than written broken.
        try await cluster.delete("copy", via: cluster.ids.randomElement(using: &random)!)
        try await cluster.convergeFully()
        for node in cluster.ids { _ = try await cluster.collectGarbage(on: node) }
        for reference in source.chunks { #expect(cluster.holders(of: reference.id).isEmpty) }
        #expect(try await copy(as: "late") == nil)
        for node in cluster.ids { #expect(try await cluster.download("late", via: node) == nil) }
    }

    /// Real-time order under skew (DESIGN.md §18): a node whose clock runs 30 s ahead writes a
    /// file; then a node with a correct clock that has not heard from it writes the same file,
    /// and deletes it. Each later write must win everywhere, though stamped below the first.
    @Test("a later write through a correct node wins over one stamped in the future", arguments: 0..<6)
    func laterWritesWinOverFutureStampedOnes(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 3700 + seed)
        let cluster = try InProcessCluster(nodes: 4, clockOffsets: ["n1": 30_000])
        let path = "skew/\(seed)"
        let owners = Set(cluster.owners(of: FileKey(owner: "alice", path: path).position))
        let later = try #require(cluster.ids.filter { $0 != "n1" && !owners.contains($0) }.randomElement(using: &random))
        let first = seededBytes(Int.random(in: 1...9_000, using: &random), &random)
        let second = seededBytes(Int.random(in: 1...9_000, using: &random), &random)
        let ahead = try await cluster.upload(first, as: path, via: "n1")
        let after = try await cluster.upload(second, as: path, via: later)
        #expect(after.version > ahead.version, "the later write was re-stamped above the future one")
        for node in cluster.ids { #expect(try await cluster.download(path, via: node) == second, "read through \(node)") }
        try await cluster.delete(path, via: later)
        for node in cluster.ids { #expect(try await cluster.download(path, via: node) == nil, "deleted, read through \(node)") }
    }

    /// Read your writes across a stand-in (DESIGN.md §18): owner A misses a write (unreachable),
    /// which lands on the other owner B and a stand-in; then B is cut off and A is back. A read
    /// through A must not answer from A's own copy alone — that is the older version — but hear
    /// from `write_quorum` nodes, the stand-in among them, and return the acknowledged write.
    @Test("a read hears from write_quorum nodes, so it sees a write an owner missed", arguments: 0..<8)
    func readsSeeAWriteAnOwnerMissed(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 6100 + seed)
        let cluster = try InProcessCluster(nodes: 3)
        let path = "ryw/\(seed)"
        let owners = cluster.owners(of: FileKey(owner: "alice", path: path).position)
        let missed = owners[Int.random(in: 0..<2, using: &random)], other = owners.first { $0 != missed }!
        let standIn = cluster.ids.first { !owners.contains($0) }!
        let first = seededBytes(Int.random(in: 1...9_000, using: &random), &random)
        let second = seededBytes(Int.random(in: 1...9_000, using: &random), &random)
        try await cluster.upload(first, as: path, via: missed)
        cluster.transport.set(.unreachable, on: missed)
        try await cluster.upload(second, as: path, via: standIn)
        cluster.transport.set(.healthy, on: missed)
        cluster.transport.set(.unreachable, on: other)
        #expect(try await cluster.download(path, via: missed) == second, "read through the owner that missed the write")
    }

    /// Nothing comes back (DESIGN.md §18): an owner away for longer than `tombstone_ttl` returns
    /// holding a file deleted meanwhile, whose tombstone every other node has purged. It must
    /// drop that file, not push it back, and keep serving what was not deleted.
    @Test("a deleted file stays deleted when an owner returns after its tombstone was purged", arguments: 0..<6)
    func deletedFilesStayDeletedAfterALongAbsence(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 5100 + seed)
        let cluster = try InProcessCluster(nodes: 3)
        let ttl = Duration.milliseconds(400)
        let (gone, kept) = ("gone/\(seed)", "kept/\(seed)")
        let away = try #require(cluster.owners(of: FileKey(owner: "alice", path: gone).position).randomElement(using: &random))
        let via = try #require(cluster.ids.filter { $0 != away }.randomElement(using: &random))
        let keptBytes = seededBytes(Int.random(in: 1...9_000, using: &random), &random)
        try await cluster.upload(seededBytes(Int.random(in: 1...9_000, using: &random), &random), as: gone, via: via)
        try await cluster.upload(keptBytes, as: kept, via: via)
        try await cluster.converge(tombstoneTTL: ttl)

        cluster.markDead(away)
        try await cluster.delete(gone, via: via)
        let deadline = ContinuousClock.now + .seconds(10)
        while try await cluster.manifestCopies(gone).keys.contains(where: { $0 != away }), ContinuousClock.now < deadline {
            try await cluster.converge(tombstoneTTL: ttl)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await cluster.manifestCopies(gone).keys.sorted() == [away], "the tombstone is purged on every node but the absent one")

        cluster.transport.set(.healthy, on: away)
        cluster.markAlive(away)
        for _ in 0..<4 { try await cluster.converge(tombstoneTTL: ttl) }
        #expect(try await cluster.manifestCopies(gone).isEmpty, "no node holds the deleted file")
        for node in cluster.ids {
            #expect(try await cluster.download(gone, via: node) == nil, "deleted, read through \(node)")
            #expect(try await cluster.download(kept, via: node) == keptBytes, "kept, read through \(node)")
        }
    }

    /// A manifest larger than the 16 MiB that bounded every internal body before (a file of
    /// 200,000 chunks, 1 TiB at 5 MiB) is stored on its owners and read back through any node.
    @Test func manifestsOfHundredsOfThousandsOfChunksReplicate() async throws {
        let cluster = try InProcessCluster(nodes: 3)
        let chunk = ChunkReference(id: ChunkID(String(repeating: "a", count: 64))!, size: 1)
        let count = 200_000
        let via = cluster.ids[0]
        let manifest = Manifest(
            owner: "alice", path: "huge", size: Int64(count), sha256: String(repeating: "b", count: 64), chunkSize: 1,
            chunks: Array(repeating: chunk, count: count), contentType: "application/octet-stream", createdAt: 1, version: cluster[via].agent.local.clock.now()
        )
        // Each chunk takes 87 bytes of JSON here (`{"sha256":"…","size":1},`): 17.4 MB in all.
        _ = try await cluster[via].agent.writer.storeManifest(manifest, cluster[via].agent.view.snapshot())
        let other = cluster.ids[1]
        #expect(try await cluster[other].agent.reader.latestManifest(manifest.key, cluster[other].agent.view.snapshot()) == manifest, "read through \(other)")
        // A file needing more chunks than a manifest may list is refused before its bytes are taken.
        #expect(cluster[via].agent.maxUploadBytes == min(1 << 40, Int64(Manifest.maxChunks) * Int64(cluster[via].agent.writer.chunkSize)))
    }

    @Test("listing pages through every live file exactly once, in order, with a node down", arguments: 0..<15)
    func listing(seed: UInt64) async throws {
        var random = SeededGenerator(seed: 4000 + seed)
        let cluster = try InProcessCluster(nodes: Int.random(in: 3...5, using: &random))
        var live: Set<String> = []
        for index in 0..<Int.random(in: 5...40, using: &random) {
            let path = ["a/", "b/", "a/b/", ""].randomElement(using: &random)! + "f\(index)"
            try await cluster.upload(seededBytes(Int.random(in: 0...300, using: &random), &random), as: path, via: cluster.ids.randomElement(using: &random)!, piece: 100)
            live.insert(path)
            if Int.random(in: 0..<4, using: &random) == 0 {
                try await cluster.delete(path, via: cluster.ids.randomElement(using: &random)!)
                live.remove(path)
            }
        }
        // Every key has two copies: one node that cannot answer hides nothing.
        let down = cluster.ids.randomElement(using: &random)!
        cluster.transport.set(.unreachable, on: down)
        let via = cluster.ids.filter { $0 != down }.randomElement(using: &random)!
        let prefix = ["", "a/", "a/b/", "b/"].randomElement(using: &random)!
        let limit = Int.random(in: 1...7, using: &random)
        var seen: [String] = []
        var after: String?
        for _ in 0..<100 {
            let page = try await cluster[via].agent.reader.list(owner: "alice", prefix: prefix, after: after, limit: limit, cluster[via].agent.view.snapshot())
            #expect(page.files.count <= limit)
            #expect(page.unanswered == [down] && !page.partial, "one node of two copies missing is named, and hides nothing")
            seen += page.files.map(\.path)
            guard let next = page.next else { break }
            #expect(page.files.count == limit)
            after = next
        }
        #expect(seen == live.filter { $0.hasPrefix(prefix) }.sorted(), "prefix \(prefix), limit \(limit)")
        // With as many nodes silent as a write is stored on, the page says it may be missing files.
        let second = cluster.ids.filter { $0 != down && $0 != via }.randomElement(using: &random)!
        cluster.transport.set(.unreachable, on: second)
        let page = try await cluster[via].agent.reader.list(owner: "alice", prefix: prefix, after: nil, limit: limit, cluster[via].agent.view.snapshot())
        #expect(page.partial && page.unanswered == [down, second].sorted())
    }

    @Test("file names are byte strings: canonically equivalent spellings are two files, listed in byte order")
    func listingKeepsCanonicallyEquivalentNamesApart() async throws {
        var random = SeededGenerator(seed: 4200)
        let cluster = try InProcessCluster(nodes: 3)
        // Precomposed é (as most systems type it) and e + combining acute (as macOS names files):
        // equal as Swift Strings, different bytes, so different files on disk and in the ring.
        let names = ["caf\u{E9}", "cafe\u{301}", "cafe\u{301}/x", "cafe"]
        for name in names { try await cluster.upload(seededBytes(20, &random), as: name, via: cluster.ids[0], piece: 100) }
        for limit in [1, 2, 10] {
            var seen: [String] = []
            var after: String?
            for _ in 0..<10 {
                let page = try await cluster[cluster.ids[1]].agent.reader.list(owner: "alice", prefix: "caf", after: after, limit: limit, cluster[cluster.ids[1]].agent.view.snapshot())
                seen += page.files.map(\.path)
                guard let next = page.next else { break }
                after = next
            }
            let expected = ["cafe", "cafe\u{301}", "cafe\u{301}/x", "caf\u{E9}"]
            #expect(seen.map { Array($0.utf8) } == expected.map { Array($0.utf8) }, "limit \(limit)")
        }
    }

    @Test("a peer that ignores the listing cursor is named as not answering and cannot stall the listing")
    func listingSurvivesAPeerIgnoringTheCursor() async throws {
        var random = SeededGenerator(seed: 4100)
        let cluster = try InProcessCluster(nodes: 3)
        for index in 0..<12 {
            try await cluster.upload(seededBytes(50, &random), as: "f\(String(format: "%02d", index))", via: cluster.ids[0], piece: 100)
        }
        let buggy = cluster.ids[2]
        cluster.transport.set(.ignoringListingCursor, on: buggy)
        let via = cluster.ids[0]
        // Small pages make the listing ask again after a cursor, which the buggy peer ignores.
        var seen: [String] = []
        var after: String?
        for _ in 0..<20 {
            let page = try await cluster[via].agent.reader.list(owner: "alice", prefix: "", after: after, limit: 3, cluster[via].agent.view.snapshot())
            seen += page.files.map(\.path)
            guard let next = page.next else { break }
            after = next
        }
        #expect(seen == (0..<12).map { "f\(String(format: "%02d", $0))" })
    }
}


extension Sequence where Element: Sendable {
    /// The elements' results, concatenated, one element at a time.
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async throws -> [T] {
        var result: [T] = []
        for element in self { result += try await transform(element) }
        return result
    }
}

/// Holds tasks at a point until the test opens it; counts who has arrived.
actor Gate {
    private var arrived = 0
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    func pass() async {
        arrived += 1
        for watcher in watchers where watcher.count <= arrived { watcher.continuation.resume() }
        watchers.removeAll { $0.count <= arrived }
        guard !isOpen else { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func waitForArrivals(_ count: Int) async {
        guard arrived < count else { return }
        await withCheckedContinuation { watchers.append((count, $0)) }
    }

    func open() {
        isOpen = true
        for continuation in waiting { continuation.resume() }
        waiting = []
    }
}
