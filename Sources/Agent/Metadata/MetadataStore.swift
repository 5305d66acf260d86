import Basics
import Crypto
import Foundation
import GRDB
import Ring
import Synchronization

/// One node's metadata shard (DESIGN.md §8): manifests it owns or holds as hints, the index of
/// chunks in its blob store, hints to hand back, the global user and token records, and local
/// node state. A GRDB `DatabasePool` in WAL mode on disk; an in-memory queue in tests.
public struct MetadataStore: Sendable {
    let database: any DatabaseWriter
    /// Every write goes through it: concurrent writes share a commit.
    private let commits: GroupCommit
    /// Moves on whenever the global records change (a user, token, key, bucket or ring decision
    /// merged, expired tokens purged): what a cache of them checks to stay exactly current.
    public let globalGeneration = Generation()
    // Manifests' inline content is stored in its own column, out of the record (`Manifest.inlineDetached`).
    private static let encoder = { let encoder = JSONEncoder(); encoder.userInfo[Manifest.inlineDetached] = true; return encoder }()
    private static let decoder = { let decoder = JSONDecoder(); decoder.userInfo[Manifest.inlineDetached] = true; return decoder }()

    /// Opens (creating and migrating) `meta.sqlite` at `path`.
    ///
    /// Every commit is durable before it returns (DESIGN.md §18: a 201 means the manifest is on
    /// disk): `synchronous = FULL` syncs the write-ahead log at each commit. GRDB sets `NORMAL`
    /// on the writer when it turns WAL on (commits then reach the disk only at checkpoints, so a
    /// power cut could roll back files already acknowledged); this sets it back right after.
    /// Only the writer connection commits, so it is the one that matters.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
        database = pool
        commits = GroupCommit(pool)
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL: every commit synced).
    public func commitSynchronousMode() async throws -> Int {
        try await database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// An in-memory store with the same migrations (tests).
    public static func inMemory() throws -> MetadataStore {
        let queue = try DatabaseQueue()
        try migrator.migrate(queue)
        return MetadataStore(database: queue)
    }

    private init(database: any DatabaseWriter) {
        self.database = database
        commits = GroupCommit(database)
    }

    // MARK: Manifests

    /// Merges `manifest` into the shard (last writer wins); returns the copy now stored.
    @discardableResult
    public func merge(_ manifest: Manifest) async throws -> Manifest {
        // A damaged copy (from a peer's damaged disk) never spreads.
        guard manifest.inlineIsIntact else { throw DamagedContentError(key: manifest.key) }
        let data = try Self.encoder.encode(manifest)
        return try await commits.write { db in
            let key = manifest.key
            // A stored copy whose inline content no longer matches its hash (a damaged disk) gives
            // way to a good copy of the same version, which is how a read's repair mends it.
            if let existing = try Self.fetchManifest(key, db), !existing.isSuperseded(by: manifest), existing.inlineIsIntact || existing.version != manifest.version {
                return existing
            }
            try db.execute(
                sql: """
                    INSERT INTO manifest (owner, path, partition, version, deleted, record, inline) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (owner, path) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, record = excluded.record, inline = excluded.inline
                    """,
                arguments: [key.owner, key.path, key.position.partition.index, manifest.version.description, manifest.deleted, data, manifest.inline]
            )
            return manifest
        }
    }

    /// The stored copy of a file's manifest (possibly a tombstone), or nil.
    public func manifest(_ key: FileKey) async throws -> Manifest? {
        try await database.read { db in try Self.fetchManifest(key, db) }
    }

    // Point reads stay async. Run on the caller's thread (GRDB's synchronous read), they saved a
    // thread hop each, but wedged the agent under load: an async read holds its pooled reader
    // across a suspension, and with every cooperative thread blocked waiting for a reader, no
    // holder could resume to give one back (seen with 16 concurrent clients; docs/benchmarks.md).

    /// A page of the shard for a listing: summaries of the manifests (tombstones included, so a
    /// merge across nodes sees deletions) in key order, of one owner or of all, whose path starts
    /// with `prefix`, after the cursor `after`; at most `limit` of them and about `maxBytes`.
    public func shardPage(owner: String?, prefix: String, after: FileKey?, limit: Int, maxBytes: Int = ShardPage.maxBytes) async throws -> ShardPage {
        try await database.read { db in
            var conditions = ["path >= ?", "substr(path, 1, ?) = ?"]
            var arguments: StatementArguments = [prefix, prefix.unicodeScalars.count, prefix]
            if let owner {
                conditions.append("owner = ?")
                _ = arguments.append(contentsOf: [owner])
            }
            if let after {
                conditions.append("(owner > ? OR (owner = ? AND path > ?))")
                _ = arguments.append(contentsOf: [after.owner, after.owner, after.path])
            }
            _ = arguments.append(contentsOf: [limit + 1])
            let sql = "SELECT record FROM manifest WHERE \(conditions.joined(separator: " AND ")) ORDER BY owner, path LIMIT ?"
            let rows = try Data.fetchCursor(db, sql: sql, arguments: arguments)
            var page = ShardPage(files: [], more: false)
            var bytes = 0
            while let record = try rows.next() {
                let summary = FileSummary(try Self.decoder.decode(Manifest.self, from: record))
                guard page.files.count < limit, page.files.isEmpty || bytes + summary.wireBytes <= maxBytes else {
                    page.more = true
                    break
                }
                bytes += summary.wireBytes
                page.files.append(summary)
            }
            return page
        }
    }

    /// How many manifests (tombstones included) the shard holds.
    public func manifestCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM manifest") ?? 0 }
    }

    private static func fetchManifest(_ key: FileKey, _ db: Database) throws -> Manifest? {
        let statement = try db.cachedStatement(sql: "SELECT record, inline FROM manifest WHERE owner = ? AND path = ?")
        guard let row = try Row.fetchOne(statement, arguments: [key.owner, key.path]) else { return nil }
        var manifest = try decoder.decode(Manifest.self, from: row["record"] as Data)
        // Missing content reads as empty, which fails `inlineIsIntact`: never served, mended by a merge.
        if manifest.isInline { manifest.inline = (row["inline"] as Data?) ?? Data() }
        return manifest
    }

    // MARK: Chunk index

    /// Records that the blob store holds `id` (idempotent).
    public func recordChunk(_ id: ChunkID, size: Int64, at milliseconds: Int64) async throws {
        // A chunk stored again (a stand-in's copy of one already here) is wanted again: pinned
        // for the GC round in progress and its grace restarted, like a dedup hit.
        try await commits.write { db in
            try db.execute(
                sql: """
                    INSERT INTO chunk (id, size, partition, stored_at, touched_epoch) VALUES (?, ?, ?, ?, \(Self.currentGCEpoch))
                    ON CONFLICT (id) DO UPDATE SET stored_at = max(stored_at, excluded.stored_at), touched_epoch = excluded.touched_epoch
                    """,
                arguments: [id.hex, size, id.position.partition.index, milliseconds]
            )
        }
    }

    /// Marks a chunk as wanted again now (a dedup hit): pinned for the GC round in progress (the
    /// round will not delete it), and `gc_grace` measured from here.
    public func touchChunk(_ id: ChunkID, at milliseconds: Int64) async throws {
        try await commits.write { db in
            try db.execute(
                sql: "UPDATE chunk SET stored_at = max(stored_at, ?), touched_epoch = \(Self.currentGCEpoch) WHERE id = ?", arguments: [milliseconds, id.hex]
            )
        }
    }

    /// Forgets a chunk (after deleting it from the blob store).
    public func forgetChunk(_ id: ChunkID) async throws {
        try await commits.write { db in try db.execute(sql: "DELETE FROM chunk WHERE id = ?", arguments: [id.hex]) }
    }

    /// The SQL for this node's current GC epoch (0 before the first round).
    private static let currentGCEpoch = "(SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM node_state WHERE key = 'gc_epoch'), 0))"

    /// Starts a GC round: a new epoch, before the round asks anyone what they reference. Every
    /// chunk asked about or stored from now on carries it, so the round cannot delete it.
    public func beginGCEpoch() async throws -> Int64 {
        try await commits.write { db in
            let next = (try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM node_state WHERE key = 'gc_epoch'") ?? 0) + 1
            try Self.setNodeState("gc_epoch", String(next), in: db)
            return next
        }
    }

    /// Forgets a chunk for GC unless it was pinned during round `epoch` (asked about or stored
    /// since the round began); the check and the delete are one transaction. True when forgotten.
    public func forgetChunkUnlessPinned(_ id: ChunkID, epoch: Int64) async throws -> Bool {
        try await commits.write { db in
            try db.execute(sql: "DELETE FROM chunk WHERE id = ? AND touched_epoch < ?", arguments: [id.hex, epoch])
            return db.changesCount > 0
        }
    }

    /// The recorded size of a chunk, or nil when the index does not list it.
    public func chunkSize(_ id: ChunkID) async throws -> Int64? {
        try await database.read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT size FROM chunk WHERE id = ?"), arguments: [id.hex]) }
    }

    /// Chunk count and total bytes in the index.
    public func chunkTotals() async throws -> (count: Int, bytes: Int64) {
        try await database.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(sum(size), 0) FROM chunk")
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }

    /// Every indexed chunk: id, size and when it was stored (ms).
    public func chunkEntries() async throws -> [(id: ChunkID, size: Int64, storedAt: Int64)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, size, stored_at FROM chunk").compactMap { row in
                guard let id = ChunkID(row[0] as String) else { return nil }
                return (id, row[1], row[2])
            }
        }
    }

    /// Chunks least recently verified first (never verified before all others).
    public func chunksToScrub(limit: Int) async throws -> [(id: ChunkID, size: Int64)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, size FROM chunk ORDER BY coalesce(last_verified_at, 0), id LIMIT ?", arguments: [limit]).compactMap { row in
                guard let id = ChunkID(row[0] as String) else { return nil }
                return (id, row[1])
            }
        }
    }

    /// Records a successful verification of a chunk.
    public func markVerified(_ id: ChunkID, at milliseconds: Int64) async throws {
        try await commits.write { db in try db.execute(sql: "UPDATE chunk SET last_verified_at = ? WHERE id = ?", arguments: [milliseconds, id.hex]) }
    }

    /// Every manifest's key and version (tombstones included), without the chunk lists.
    public func manifestVersions() async throws -> [(key: FileKey, version: HybridTimestamp)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT owner, path, version FROM manifest").compactMap { row in
                guard let version = HybridTimestamp(row[2] as String) else { return nil }
                return (FileKey(owner: row[0], path: row[1]), version)
            }
        }
    }

    /// Every live manifest's chunk ids (what GC must keep).
    public func referencedChunks() async throws -> [ChunkID] {
        try await database.read { db in
            var ids: [ChunkID] = []
            for data in try Data.fetchAll(db, sql: "SELECT record FROM manifest WHERE deleted = 0") {
                ids.append(contentsOf: try Self.decoder.decode(Manifest.self, from: data).chunks.compactMap(\.id))
            }
            return ids
        }
    }

    /// Removes a manifest copy (this node no longer owns it, or a tombstone has expired).
    public func deleteManifest(_ key: FileKey) async throws {
        try await commits.write { db in try db.execute(sql: "DELETE FROM manifest WHERE owner = ? AND path = ?", arguments: [key.owner, key.path]) }
    }

    /// Tombstones written before `milliseconds`.
    public func tombstones(before milliseconds: Int64) async throws -> [FileKey] {
        try await database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM manifest WHERE deleted = 1").compactMap { data in
                let manifest = try Self.decoder.decode(Manifest.self, from: data)
                return manifest.createdAt < milliseconds ? manifest.key : nil
            }
        }
    }

    // MARK: Hints

    /// What a hint hands back: a chunk or a manifest.
    public enum HintKind: String, Sendable, Codable { case chunk, manifest }

    /// A copy held for an owner that was unavailable when it was written.
    public struct Hint: Hashable, Sendable {
        public var intended: NodeID
        public var kind: HintKind
        /// The chunk id, or `owner/path` of a manifest.
        public var key: String
        public var createdAt: Int64
    }

    /// Records a hint (idempotent).
    public func addHint(_ hint: Hint) async throws {
        try await commits.write { db in
            try db.execute(
                sql: "INSERT INTO hint (intended, kind, key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [hint.intended.rawValue, hint.kind.rawValue, hint.key, hint.createdAt]
            )
        }
    }

    /// Every hint held, oldest first.
    public func hints() async throws -> [Hint] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT intended, kind, key, created_at FROM hint ORDER BY created_at, intended, kind, key").compactMap { row in
                guard let intended = NodeID(row[0] as String), let kind = HintKind(rawValue: row[1]) else { return nil }
                return Hint(intended: intended, kind: kind, key: row[2], createdAt: row[3])
            }
        }
    }

    /// Removes a hint once the intended owner has its copy.
    public func removeHint(intended: NodeID, kind: HintKind, key: String) async throws {
        try await commits.write { db in
            try db.execute(sql: "DELETE FROM hint WHERE intended = ? AND kind = ? AND key = ?", arguments: [intended.rawValue, kind.rawValue, key])
        }
    }

    /// Removes every hint for a key (the local copy is gone).
    public func removeHints(kind: HintKind, key: String) async throws {
        try await commits.write { db in try db.execute(sql: "DELETE FROM hint WHERE kind = ? AND key = ?", arguments: [kind.rawValue, key]) }
    }

    /// How many hints are pending.
    public func hintCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM hint") ?? 0 }
    }

    /// A manifest copy whose inline content fails its SHA-256, refused by `merge`.
    public struct DamagedContentError: Error, CustomStringConvertible {
        public var key: FileKey
        public var description: String { "the inline content of \(key)'s manifest does not match its SHA-256; not stored" }
    }

    // MARK: Global records (users, tokens)

    /// A counter that only moves forward (see `globalGeneration`).
    public final class Generation: Sendable {
        private let value = Atomic<UInt64>(0)
        public var current: UInt64 { value.load(ordering: .acquiring) }
        func advance() { value.add(1, ordering: .releasing) }
    }

    /// Merges users, tokens, ring decisions, access keys and buckets (last writer wins); returns how many records changed.
    @discardableResult
    public func merge(_ records: GlobalRecords) async throws -> Int {
        let changed = try await commits.write { db in
            var changed = 0
            for user in records.users { changed += try Self.upsert(user, table: "user", keyColumn: "name", key: user.name, db) ? 1 : 0 }
            for token in records.tokens { changed += try Self.upsert(token, table: "token", keyColumn: "hash", key: token.hash, db) ? 1 : 0 }
            for state in records.ringStates { changed += try Self.upsert(state, table: "ring_state", keyColumn: "node", key: state.node, db) ? 1 : 0 }
            for key in records.accessKeys { changed += try Self.upsert(key, table: "access_key", keyColumn: "id", key: key.id, db) ? 1 : 0 }
            for bucket in records.buckets { changed += try Self.upsert(bucket, table: "bucket", keyColumn: "name", key: bucket.name, db) ? 1 : 0 }
            return changed
        }
        // Moved on once committed: a cache filled from what was read before is never used again.
        if changed > 0 { globalGeneration.advance() }
        return changed
    }

    /// Stores `record` in `table` (a `key, version, record` table) unless the stored copy wins
    /// the last-writer-wins merge; true when the row changed. One rule for every global record.
    private static func upsert<Record: LastWriterWins & Codable>(_ record: Record, table: String, keyColumn: String, key: String, _ db: Database) throws -> Bool {
        if let data = try Data.fetchOne(db, sql: "SELECT record FROM \(table) WHERE \(keyColumn) = ?", arguments: [key]),
            !(try decoder.decode(Record.self, from: data)).isSuperseded(by: record)
        {
            return false
        }
        try db.execute(
            sql: "INSERT INTO \(table) (\(keyColumn), version, record) VALUES (?, ?, ?) ON CONFLICT (\(keyColumn)) DO UPDATE SET version = excluded.version, record = excluded.record",
            arguments: [key, record.version.description, try encoder.encode(record)]
        )
        return true
    }

    /// Admins' drain and remove records.
    public func ringStates() async throws -> [RingStateRecord] {
        try await database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM ring_state ORDER BY node").map { try Self.decoder.decode(RingStateRecord.self, from: $0) }
        }
    }

    /// Every user and token record, tombstones included.
    public func globalRecords() async throws -> GlobalRecords { try await globalRecords(inBuckets: nil) }

    /// The global records in `buckets` (`globalBucket`), or every one when nil.
    public func globalRecords(inBuckets buckets: Set<Int>?) async throws -> GlobalRecords {
        try await database.read { db in
            func records<Record: Decodable>(_ table: GlobalTable) throws -> [Record] {
                try Row.fetchAll(db, sql: "SELECT \(table.key) AS key, record FROM \(table.rawValue) ORDER BY \(table.key)").compactMap { row in
                    guard buckets.map({ $0.contains(Self.globalBucket(table, key: row["key"])) }) ?? true else { return nil }
                    return try Self.decoder.decode(Record.self, from: row["record"] as Data)
                }
            }
            return GlobalRecords(
                users: try records(.user), tokens: try records(.token), ringStates: try records(.ringState), accessKeys: try records(.accessKey), buckets: try records(.bucket)
            )
        }
    }

    /// The tables of global records, with their key columns.
    enum GlobalTable: String, CaseIterable {
        case user, token, bucket
        case ringState = "ring_state"
        case accessKey = "access_key"

        var key: String {
            switch self {
            case .user, .bucket: "name"
            case .token: "hash"
            case .ringState: "node"
            case .accessKey: "id"
            }
        }
    }

    /// How many buckets global records are digested in: two nodes whose copies differ in one
    /// record exchange about 1/256 of them.
    public static let globalBuckets = 256

    /// The bucket a global record falls in: the first byte of SHA-256(table, key).
    static func globalBucket(_ table: GlobalTable, key: String) -> Int {
        Int(SHA256.hash(data: Data("\(table.rawValue)\u{0}\(key)".utf8)).first { _ in true } ?? 0)
    }

    /// A digest of each nonempty bucket of global records, over their keys and versions (no
    /// record is decoded): what two nodes compare before they exchange any record.
    public func globalDigests() async throws -> [Int: String] {
        try await database.read { db in
            var hashers: [Int: SHA256] = [:]
            for table in GlobalTable.allCases {
                for row in try Row.fetchAll(db, sql: "SELECT \(table.key) AS key, version FROM \(table.rawValue) ORDER BY \(table.key)") {
                    let key: String = row["key"]
                    let version: String = row["version"]
                    hashers[Self.globalBucket(table, key: key), default: SHA256()].update(data: Data("\(table.rawValue)\u{0}\(key)\u{0}\(version)\n".utf8))
                }
            }
            return hashers.mapValues { Hex.encode($0.finalize()) }
        }
    }

    /// Forgets token records (live or revoked) that expired before `milliseconds`: an expired
    /// token is refused whatever its record says, so a peer that still holds one and pushes it
    /// back brings back nothing that works. Returns how many were dropped.
    @discardableResult
    public func purgeTokens(expiredBefore milliseconds: Int64) async throws -> Int {
        defer { globalGeneration.advance() }
        return try await commits.write { db in
            var dropped = 0
            for row in try Row.fetchAll(db, sql: "SELECT hash, record FROM token") {
                let data: Data = row["record"]
                guard let token = try? Self.decoder.decode(TokenRecord.self, from: data), token.expiresAt < milliseconds else { continue }
                try db.execute(sql: "DELETE FROM token WHERE hash = ?", arguments: [row["hash"] as String])
                dropped += 1
            }
            return dropped
        }
    }

    /// A user's record (possibly a tombstone), or nil.
    public func user(_ name: String) async throws -> UserRecord? {
        try await database.read { db in try Self.fetchUser(name, db) }
    }

    /// A token's record by the hex SHA-256 of its text, or nil.
    public func token(hash: String) async throws -> TokenRecord? {
        try await database.read { db in try Self.fetchToken(hash, db) }
    }

    /// An S3 access key's record (possibly a tombstone), or nil.
    public func accessKey(id: String) async throws -> AccessKeyRecord? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM access_key WHERE id = ?", arguments: [id]).map { try Self.decoder.decode(AccessKeyRecord.self, from: $0) }
        }
    }

    /// A bucket's record (possibly a tombstone), or nil.
    public func bucket(_ name: String) async throws -> BucketRecord? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM bucket WHERE name = ?", arguments: [name]).map { try Self.decoder.decode(BucketRecord.self, from: $0) }
        }
    }

    private static func fetchUser(_ name: String, _ db: Database) throws -> UserRecord? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM user WHERE name = ?"), arguments: [name]).map { try decoder.decode(UserRecord.self, from: $0) }
    }

    private static func fetchToken(_ hash: String, _ db: Database) throws -> TokenRecord? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM token WHERE hash = ?"), arguments: [hash]).map { try decoder.decode(TokenRecord.self, from: $0) }
    }

    /// The newest version this shard holds, of any record (versions are 16 fixed-width hex
    /// digits first, so the text order is the time order): where the clock resumes after a restart.
    public func newestVersion() async throws -> HybridTimestamp? {
        try await database.read { db in
            let newest = try String.fetchOne(
                db,
                sql: """
                    SELECT MAX(v) FROM (SELECT MAX(version) AS v FROM manifest UNION ALL SELECT MAX(version) FROM user
                    UNION ALL SELECT MAX(version) FROM token UNION ALL SELECT MAX(version) FROM ring_state
                    UNION ALL SELECT MAX(version) FROM access_key UNION ALL SELECT MAX(version) FROM bucket)
                    """
            )
            return newest.flatMap { HybridTimestamp($0) }
        }
    }

    // MARK: Node state

    /// A local setting (incarnation, ring state), or nil.
    public func nodeState(_ key: String) async throws -> String? {
        try await database.read { db in try String.fetchOne(db, sql: "SELECT value FROM node_state WHERE key = ?", arguments: [key]) }
    }

    /// Sets a local setting.
    public func setNodeState(_ key: String, _ value: String) async throws {
        try await commits.write { db in try Self.setNodeState(key, value, in: db) }
    }

    /// Forgets a local setting.
    public func removeNodeState(_ key: String) async throws {
        try await commits.write { db in try db.execute(sql: "DELETE FROM node_state WHERE key = ?", arguments: [key]) }
    }

    private static func setNodeState(_ key: String, _ value: String, in db: Database) throws {
        try db.execute(sql: "INSERT INTO node_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [key, value])
    }
}
