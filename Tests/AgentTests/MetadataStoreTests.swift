import Foundation
import Basics
import Crypto
import Ring
import Testing
@testable import Agent

@Suite("metadata shard (GRDB)")
struct MetadataStoreTests {
    static func manifest(_ path: String, owner: String = "alice", wall: UInt64, node: NodeID = "node1", deleted: Bool = false) -> Manifest {
        let version = HybridTimestamp(wallMilliseconds: wall, counter: 0, node: node)
        if deleted { return .tombstone(for: FileKey(owner: owner, path: path), version: version, at: 0) }
        return Manifest(
            owner: owner, path: path, size: 3, sha256: String(repeating: "a", count: 64), chunkSize: 5,
            chunks: [ChunkReference(id: ChunkID(String(repeating: "a", count: 64))!, size: 3)], contentType: "text/plain", createdAt: 1, version: version
        )
    }

    /// A store on disk syncs its log at every commit (GRDB's WAL default, NORMAL, would not):
    /// the live test `DurabilityLiveTests` sees the fsync itself behind every 201.
    @Test func commitsOnDiskAreSynced() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meta-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("meta.sqlite").path
        #expect(try await MetadataStore(path: path).commitSynchronousMode() == 2)
        // Reopened (migrations already done), still FULL.
        let reopened = try MetadataStore(path: path)
        _ = try await reopened.merge(Self.manifest("a", wall: 1))
        #expect(try await reopened.commitSynchronousMode() == 2)
    }

    /// A small file's content is stored beside its record: read back whole, left out of the
    /// record a listing reads, and a damaged copy gives way to a good one of the same version
    /// (not to an older one); a damaged copy from elsewhere is refused.
    @Test func inlineContentIsStoredBesideTheRecord() async throws {
        let store = try MetadataStore.inMemory()
        let bytes = Data("small file content".utf8)
        let version = HybridTimestamp(wallMilliseconds: 5, counter: 0, node: "node1")
        let manifest = Manifest(
            owner: "alice", path: "s.txt", size: Int64(bytes.count), sha256: Hex.encode(SHA256.hash(data: bytes)), chunkSize: 5 << 20, chunks: [],
            contentType: "text/plain", createdAt: 1, version: version, inline: bytes
        )
        #expect(try await store.merge(manifest) == manifest)
        #expect(try await store.manifest(manifest.key) == manifest)
        let record = try await store.database.read { db in try Data.fetchOne(db, sql: "SELECT record FROM manifest") }
        #expect(record.map { String(decoding: $0, as: UTF8.self).contains(bytes.base64EncodedString()) } == false, "the record holds no content")
        #expect(try await store.shardPage(owner: "alice", prefix: "", after: nil, limit: 10).files.map(\.size) == [Int64(bytes.count)])

        try await store.database.write { db in try db.execute(sql: "UPDATE manifest SET inline = x'00'") }
        let damaged = try #require(try await store.manifest(manifest.key))
        #expect(!damaged.inlineIsIntact)
        var older = manifest
        older.version = HybridTimestamp(wallMilliseconds: 4, counter: 0, node: "node1")
        #expect(try await store.merge(older) == damaged, "an older version does not replace a newer one, damaged or not")
        await #expect(throws: MetadataStore.DamagedContentError.self, "a damaged copy is never stored") { try await store.merge(damaged) }
        #expect(try await store.merge(manifest) == manifest, "a good copy of the same version mends it")
        #expect(try await store.manifest(manifest.key) == manifest)
    }

    /// Token records past the cutoff go, live or revoked; the others stay.
    @Test func expiredTokensArePurged() async throws {
        let store = try MetadataStore.inMemory()
        func token(_ hash: String, expires: Int64, deleted: Bool = false) -> TokenRecord {
            TokenRecord(hash: hash, user: "alice", userID: "id", credentials: "c", expiresAt: expires, version: HybridTimestamp(wallMilliseconds: 1, counter: 0, node: "node1"), deleted: deleted)
        }
        _ = try await store.merge(GlobalRecords(tokens: [token("old", expires: 100), token("revoked-old", expires: 200, deleted: true), token("fresh", expires: 5_000)]))
        #expect(try await store.purgeTokens(expiredBefore: 1_000) == 2)
        #expect(try await store.globalRecords().tokens.map(\.hash) == ["fresh"])
        #expect(try await store.purgeTokens(expiredBefore: 1_000) == 0)
    }

    @Test func newerVersionsWinAndOlderOnesAreIgnored() async throws {
        let store = try MetadataStore.inMemory()
        try await store.merge(Self.manifest("a", wall: 10))
        let older = try await store.merge(Self.manifest("a", wall: 5, deleted: true))
        #expect(older.version.wallMilliseconds == 10 && !older.deleted)
        let tombstone = try await store.merge(Self.manifest("a", wall: 20, deleted: true))
        #expect(tombstone.deleted)
        let stored = try await store.manifest(FileKey(owner: "alice", path: "a"))
        #expect(stored == tombstone)
        #expect(try await store.manifest(FileKey(owner: "bob", path: "a")) == nil)
    }

    @Test func listsByOwnerPrefixAndCursorInKeyOrder() async throws {
        let store = try MetadataStore.inMemory()
        for path in ["b/2", "a/1", "b/1", "b/10", "c", "b%", "bé/x"] { try await store.merge(Self.manifest(path, wall: 1)) }
        try await store.merge(Self.manifest("b/3", owner: "bob", wall: 1))
        func paths(_ owner: String?, _ prefix: String, after: FileKey? = nil, limit: Int) async throws -> [String] {
            try await store.shardPage(owner: owner, prefix: prefix, after: after, limit: limit).files.map { owner == nil ? $0.key.description : $0.path }
        }
        #expect(try await paths("alice", "", limit: 100) == ["a/1", "b%", "b/1", "b/10", "b/2", "bé/x", "c"])
        #expect(try await paths("alice", "b/", limit: 100) == ["b/1", "b/10", "b/2"])
        #expect(try await paths("alice", "b/", after: FileKey(owner: "alice", path: "b/1"), limit: 1) == ["b/10"])
        #expect(try await paths("alice", "bé", limit: 10) == ["bé/x"])
        #expect(try await paths(nil, "b/", limit: 100) == ["alice:b/1", "alice:b/10", "alice:b/2", "bob:b/3"])
        // `more` says whether the shard holds keys past the page.
        #expect(try await store.shardPage(owner: "alice", prefix: "b/", after: nil, limit: 3).more == false)
        #expect(try await store.shardPage(owner: "alice", prefix: "b/", after: nil, limit: 2).more == true)
    }

    /// A page is bounded by bytes as well as by count, so files with long paths or many chunks
    /// never make a shard's answer too large to send; it always holds at least one key.
    @Test func shardPagesStopAtTheirByteBudget() async throws {
        let store = try MetadataStore.inMemory()
        let chunk = ChunkReference(id: ChunkID(String(repeating: "a", count: 64))!, size: 1)
        for index in 0..<20 {
            let path = String(format: "%02d/", index) + String(repeating: "p", count: 900)
            var manifest = Self.manifest(path, wall: 1)
            // Many chunks: the summary leaves the list out and keeps the count.
            manifest.chunks = Array(repeating: chunk, count: 2000)
            manifest.size = 2000
            try await store.merge(manifest)
        }
        var after: FileKey?
        var seen = 0
        for _ in 0..<40 {
            let page = try await store.shardPage(owner: "alice", prefix: "", after: after, limit: 100, maxBytes: 4000)
            #expect((1...4).contains(page.files.count), "about 1,200 bytes a summary, at most 4,000 a page")
            #expect(page.files.allSatisfy { $0.chunkCount == 2000 })
            seen += page.files.count
            after = page.files.last?.key
            if !page.more { break }
        }
        #expect(seen == 20)
        let tiny = try await store.shardPage(owner: "alice", prefix: "", after: nil, limit: 100, maxBytes: 1)
        #expect(tiny.files.count == 1 && tiny.more)
    }

    @Test func hintsChunksUsersAndNodeState() async throws {
        let store = try MetadataStore.inMemory()
        let hint = MetadataStore.Hint(intended: "node3", kind: .chunk, key: String(repeating: "b", count: 64), createdAt: 5)
        try await store.addHint(hint)
        try await store.addHint(hint)
        #expect(try await store.hints() == [hint])
        try await store.removeHint(intended: "node3", kind: .chunk, key: hint.key)
        #expect(try await store.hintCount() == 0)

        let id = ChunkID(String(repeating: "c", count: 64))!
        try await store.recordChunk(id, size: 42, at: 1)
        try await store.recordChunk(id, size: 42, at: 2)
        let totals = try await store.chunkTotals()
        #expect(totals.count == 1 && totals.bytes == 42)

        let old = UserRecord(name: "alice", id: "a1", credentials: "c1", role: .user, passwordHash: "h1", version: HybridTimestamp(wallMilliseconds: 1, counter: 0, node: "node1"))
        var new = old
        new.role = .admin
        new.version = HybridTimestamp(wallMilliseconds: 2, counter: 0, node: "node2")
        #expect(try await store.merge(GlobalRecords(users: [new])) == 1)
        #expect(try await store.merge(GlobalRecords(users: [old])) == 0)
        #expect(try await store.user("alice")?.role == .admin)

        try await store.setNodeState("incarnation", "7")
        try await store.setNodeState("incarnation", "8")
        #expect(try await store.nodeState("incarnation") == "8")
    }
}
