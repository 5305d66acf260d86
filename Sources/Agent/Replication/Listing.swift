import Basics

/// One page of a listing: the live files in key order, and the cursor of the next page.
public struct ListingPage: Sendable {
    public var files: [Manifest]
    /// The path to list after for the next page, or nil on the last one.
    public var next: String?
}

extension ReadCoordinator {
    /// A page of `owner`'s live files under `prefix`, after `after`: a scatter-gather over every
    /// available node's shard, merged by version (a tombstone hides older copies elsewhere).
    /// Each node returns its first `limit + 1` keys after the cursor, tombstones included; keys up
    /// to the smallest last key of any node that returned a full page are complete (every node's
    /// copy of them was seen) — the listing horizon. Beyond it, it pages again from there.
    /// Throws `noReadableReplica` when no node answers.
    public func list(owner: String, prefix: String, after: String?, limit: Int, _ snapshot: ClusterSnapshot) async throws -> ListingPage {
        var failures: [String] = []
        var cursor = after.map { FileKey(owner: owner, path: $0) }
        var live: [Manifest] = []
        while true {
            var merged: [FileKey: Manifest] = [:]
            var answered = 0
            var horizon: FileKey?
            let pageCursor = cursor
            await withTaskGroup(of: ListingAnswer.self) { group in
                for node in snapshot.availableMembers {
                    group.addTask {
                        do {
                            return ListingAnswer(manifests: try await calls.manifests(owner: owner, prefix: prefix, after: pageCursor, limit: limit + 1, on: node, snapshot), failure: nil)
                        } catch {
                            return ListingAnswer(manifests: [], failure: "\(error)")
                        }
                    }
                }
                for await answer in group {
                    if let failure = answer.failure {
                        failures.append(failure)
                        continue
                    }
                    answered += 1
                    for manifest in answer.manifests { merged.merge(manifest) }
                    if answer.manifests.count > limit, let last = answer.manifests.last?.key { horizon = min(horizon ?? last, last) }
                }
            }
            guard answered > 0 else { throw ReplicationError(.noReadableReplica, "no node answered the listing: \(failures.joined(separator: "; "))") }
            let complete = merged.values.filter { horizon == nil || $0.key <= horizon! }.sorted { $0.key < $1.key }
            live.append(contentsOf: complete.filter { !$0.deleted })
            guard live.count <= limit, let horizon else { break }
            cursor = horizon
        }
        let page = Array(live.prefix(limit))
        return ListingPage(files: page, next: live.count > limit ? page.last?.path : nil)
    }
}

/// One node's page of a listing, or why it could not answer (a plain struct: what a task group carries).
struct ListingAnswer: Sendable {
    var manifests: [Manifest]
    var failure: String?
}
