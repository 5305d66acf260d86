import Basics

/// One page of a listing: the live files in key order, the cursor of the next page, and which
/// nodes it could not hear from.
public struct ListingPage: Sendable {
    public var files: [FileSummary]
    /// The path to list after for the next page, or nil on the last one.
    public var next: String?
    /// Ring members that were down or did not answer (sorted).
    public var unanswered: [NodeID]
    /// Whether files may be missing from this page: as many nodes as an acknowledged write is
    /// stored on (`write_quorum`) were not heard from, so every copy of some file may be there.
    public var partial: Bool
}

extension ReadCoordinator {
    /// A page of `owner`'s live files under `prefix`, after `after`: a scatter-gather over every
    /// available node's shard, merged by version (a tombstone hides older copies elsewhere).
    /// Each node returns summaries of its first keys after the cursor, tombstones included, up to
    /// `limit` and a byte budget, saying whether it holds more; keys up to the smallest last key of
    /// any node that holds more are complete (every node's copy of them was seen) — the listing
    /// horizon. Beyond it, it pages again from there. Nodes that were not heard from are named,
    /// never silently skipped. Throws `noReadableReplica` when no node answers.
    public func list(owner: String, prefix: String, after: String?, limit: Int, _ snapshot: ClusterSnapshot) async throws -> ListingPage {
        var failures: [String] = []
        var unanswered = snapshot.downMembers
        var cursor = after.map { FileKey(owner: owner, path: $0) }
        var live: [FileSummary] = []
        while true {
            var merged: [FileKey: FileSummary] = [:]
            var answered = 0
            var horizon: FileKey?
            let pageCursor = cursor
            await withTaskGroup(of: ListingAnswer.self) { group in
                for node in snapshot.availableMembers where !unanswered.contains(node) {
                    group.addTask {
                        do {
                            return ListingAnswer(node: node, page: try await calls.shardPage(owner: owner, prefix: prefix, after: pageCursor, limit: limit, on: node, snapshot), failure: nil)
                        } catch {
                            return ListingAnswer(node: node, page: nil, failure: "\(error)")
                        }
                    }
                }
                for await answer in group {
                    guard let page = answer.page else {
                        failures.append(answer.failure ?? "no answer")
                        unanswered.insert(answer.node)
                        continue
                    }
                    // Only keys this page asked for count. A page that holds more yet names no
                    // key past the cursor would stop the listing from advancing: such a node is
                    // treated as not answering, never waited on.
                    let asked = page.files.filter { summary in
                        summary.owner.utf8.elementsEqual(owner.utf8) && summary.path.utf8.starts(with: prefix.utf8) && pageCursor.map { summary.key > $0 } ?? true
                    }
                    if page.more && asked.isEmpty {
                        failures.append("\(answer.node): a page that holds more but names no key after the cursor")
                        unanswered.insert(answer.node)
                        continue
                    }
                    answered += 1
                    for summary in asked { merged.merge(summary) }
                    if page.more, let last = asked.map(\.key).max() { horizon = min(horizon ?? last, last) }
                }
            }
            guard answered > 0 else { throw ReplicationError(.noReadableReplica, "no node answered the listing: \(failures.joined(separator: "; "))") }
            let complete = merged.values.filter { horizon == nil || $0.key <= horizon! }.sorted { $0.key < $1.key }
            live.append(contentsOf: complete.filter { !$0.deleted })
            guard live.count <= limit, let horizon else { break }
            cursor = horizon
        }
        if !failures.isEmpty { logger.warning("listing: nodes did not answer", metadata: ["errors": "\(failures.joined(separator: "; "))"]) }
        let page = Array(live.prefix(limit))
        return ListingPage(
            files: page, next: live.count > limit ? page.last?.path : nil, unanswered: unanswered.sorted(),
            partial: unanswered.count >= min(snapshot.writeQuorum, snapshot.ring.members.count)
        )
    }
}

/// One node's page of a listing, or why it could not answer (a plain struct: what a task group carries).
struct ListingAnswer: Sendable {
    var node: NodeID
    var page: ShardPage?
    var failure: String?
}
