import GRDB
import Synchronization

/// Group commit for a metadata shard: writes that arrive while a transaction is being committed
/// (its log synced, `synchronous = FULL`) wait, and go together in the next one. Concurrent
/// uploads on an owner then share one sync of the log instead of paying one each.
///
/// Durability is unchanged (DESIGN.md §18): a caller returns only once the transaction holding its
/// write has committed, and gets the commit's error if it failed. Each write runs in its own
/// savepoint, so one that throws is rolled back alone while the others of its batch commit; the
/// writes of a batch run in arrival order, each seeing the ones before it.
final class GroupCommit: Sendable {
    /// One write waiting for a transaction: `run` carries it out inside the batch's transaction
    /// (keeping its result), `complete` hands the result (or the commit's error) to its caller.
    private struct Entry: Sendable {
        var run: @Sendable (Database) -> Void
        var complete: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var pending: [Entry] = []
        var committing = false
    }

    /// The most writes one transaction takes (the rest wait for the next).
    static let maxBatch = 512

    private let database: any DatabaseWriter
    private let state = Mutex(State())

    init(_ database: any DatabaseWriter) { self.database = database }

    /// Runs `body` in the next transaction and returns its result once that transaction has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let entry = Entry(
                run: { db in
                    do {
                        var value: T?
                        try db.inSavepoint {
                            value = try body(db)
                            return .commit
                        }
                        outcome.set(value.map { .success($0) } ?? .failure(DatabaseError(message: "a savepoint ended without a result")))
                    } catch {
                        outcome.set(.failure(error))
                    }
                },
                complete: { commitError in
                    if let commitError { return continuation.resume(throwing: commitError) }
                    continuation.resume(with: outcome.get() ?? .failure(DatabaseError(message: "a write was committed without running")))
                }
            )
            let start = state.withLock { state in
                state.pending.append(entry)
                defer { state.committing = true }
                return !state.committing
            }
            if start { Task { await self.commitPending() } }
        }
    }

    /// Commits batches until none is waiting (one task at a time runs this).
    private func commitPending() async {
        while true {
            let batch = state.withLock { state in
                let batch = Array(state.pending.prefix(Self.maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.committing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try await database.write { db in for entry in batch { entry.run(db) } }
                for entry in batch { entry.complete(nil) }
            } catch {
                for entry in batch { entry.complete(error) }
            }
        }
    }

    /// One write's result, set inside the transaction and read after it committed.
    private final class Outcome<T: Sendable>: Sendable {
        private let result = Mutex<Result<T, any Error>?>(nil)
        func set(_ value: Result<T, any Error>) { result.withLock { $0 = value } }
        func get() -> Result<T, any Error>? { result.withLock { $0 } }
    }
}
