import Basics
import Logging

/// Aborts abandoned multipart uploads (DESIGN.md §16): an upload initiated more than
/// `s3_upload_expiry` ago and neither completed nor aborted has its record and its parts
/// tombstoned, as an `AbortMultipartUpload` would, and GC then takes the chunks no other file
/// names (after `gc_grace`, with #12's pins). S3 itself keeps such parts until a lifecycle rule
/// aborts them; a store without lifecycle rules must not keep them for ever.
///
/// Each node sweeps the entries of its own shard for which it is the first available owner, so
/// one node tombstones each entry, without any coordination: an entry (record or part) goes when
/// its upload's record was initiated before the cutoff, or, when that record is gone, when the
/// entry itself is older than the cutoff.
struct S3UploadExpiry: Sendable {
    let agent: AgentContext
    let expiry: Duration

    /// How often a node sweeps: a quarter of the expiry, at least every 15 minutes, at most every second.
    var interval: Duration { max(.seconds(1), min(expiry / 4, .seconds(900))) }

    func run() async {
        await runPeriodically("multipart upload expiry", logger: agent.logger, retryAfter: interval) {
            try await sweep()
            return interval
        }
    }

    /// Tombstones what expired; returns how many entries (records and parts).
    @discardableResult
    func sweep() async throws -> Int {
        let cutoff = Int64(HybridClock.systemMilliseconds()) - expiry.inMilliseconds
        let buckets = try await agent.local.metadata.globalRecords().buckets.filter { !$0.deleted }
        var swept = 0
        for bucket in buckets {
            swept += try await sweep(bucket, cutoff: cutoff)
        }
        if swept > 0 { agent.logger.notice("abandoned multipart uploads expired", metadata: ["entries": "\(swept)"]) }
        return swept
    }

    private func sweep(_ bucket: BucketRecord, cutoff: Int64) async throws -> Int {
        let owner = S3Operations.uploadsOwner(bucket)
        let base = "\(bucket.name)/"
        var records: [String: Manifest?] = [:]
        var expired: [FileKey] = []
        var after: FileKey?
        // A bucket's uploads, records and parts, at most 100,000 entries in a round (the next round goes on).
        for _ in 0..<100 {
            let page = try await agent.local.metadata.shardPage(owner: owner, prefix: base, after: after, limit: 1000)
            let snapshot = agent.view.snapshot()
            for file in page.files where !file.deleted {
                guard snapshot.owners(of: file.key.position).first(where: snapshot.isAvailable) == agent.selfID else { continue }
                let id = String(file.path.dropFirst(base.count).prefix { $0 != "/" })
                if records[id] == nil {
                    records[id] = try await agent.reader.latestManifest(S3Operations.uploadRecordKey(bucket, id), snapshot).flatMap { $0.deleted ? nil : $0 }
                }
                let initiated = records[id]??.createdAt ?? file.createdAt
                if initiated < cutoff { expired.append(file.key) }
            }
            guard page.more, let last = page.files.last else { break }
            after = last.key
        }
        let writer = agent.writer
        _ = try await mapConcurrently(expired) { key in _ = try await writer.delete(key) }
        return expired.count
    }
}
