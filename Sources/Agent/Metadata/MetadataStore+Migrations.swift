import GRDB

extension MetadataStore {
    /// The shard's schema, one named migration per shipped change. Never edit a shipped
    /// migration: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: manifests, chunks, hints, users, tokens, node state") { db in
            // Records are stored whole as JSON; the columns beside them are what queries need.
            try db.execute(
                sql: """
                    CREATE TABLE manifest (
                        owner TEXT NOT NULL, path TEXT NOT NULL, partition INTEGER NOT NULL,
                        version TEXT NOT NULL, deleted INTEGER NOT NULL, record BLOB NOT NULL,
                        PRIMARY KEY (owner, path)
                    );
                    CREATE INDEX manifest_partition ON manifest (partition);
                    CREATE TABLE chunk (
                        id TEXT PRIMARY KEY, size INTEGER NOT NULL, partition INTEGER NOT NULL,
                        stored_at INTEGER NOT NULL, last_verified_at INTEGER
                    );
                    CREATE INDEX chunk_partition ON chunk (partition);
                    CREATE TABLE hint (
                        intended TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, created_at INTEGER NOT NULL,
                        PRIMARY KEY (intended, kind, key)
                    );
                    CREATE TABLE user (name TEXT PRIMARY KEY, version TEXT NOT NULL, record BLOB NOT NULL);
                    CREATE TABLE token (hash TEXT PRIMARY KEY, version TEXT NOT NULL, record BLOB NOT NULL);
                    CREATE TABLE node_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """
            )
        }
        migrator.registerMigration("v2: admins' ring decisions (drain, remove)") { db in
            try db.execute(sql: "CREATE TABLE ring_state (node TEXT PRIMARY KEY, version TEXT NOT NULL, record BLOB NOT NULL)")
        }
        // GC epochs (DESIGN.md §18): a chunk asked about or stored again is pinned for the GC
        // round in progress, in the same transaction that answers, by taking the current epoch.
        migrator.registerMigration("v3: chunk pins for GC (touched_epoch)") { db in
            try db.execute(sql: "ALTER TABLE chunk ADD COLUMN touched_epoch INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v4: S3 access keys and buckets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE access_key (id TEXT PRIMARY KEY, version TEXT NOT NULL, record BLOB NOT NULL);
                    CREATE TABLE bucket (name TEXT PRIMARY KEY, version TEXT NOT NULL, record BLOB NOT NULL);
                    """
            )
        }
        // Small files' content (docs/architecture.md, "Small files"), beside the record so listings never read it.
        migrator.registerMigration("v5: inline content of small files") { db in
            try db.execute(sql: "ALTER TABLE manifest ADD COLUMN inline BLOB")
        }
        return migrator
    }
}
