import Synchronization

/// Mutual exclusion per key for async code: `withLock(key)` runs its body while no other body
/// holds the same key; other keys go on in parallel. Waiters are served in arrival order.
/// (A node uses it per chunk id, so a GC delete and a dedup check of one chunk never interleave.)
public final class KeyedLock<Key: Hashable & Sendable>: Sendable {
    /// Keys held now, each with the waiters queued behind its holder.
    private let held = Mutex<[Key: [CheckedContinuation<Void, Never>]]>([:])

    public init() {}

    public func withLock<T>(_ key: Key, _ body: () async throws -> T) async rethrows -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    /// How many keys are held now (for tests).
    public var heldCount: Int { held.withLock { $0.count } }

    private func acquire(_ key: Key) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = held.withLock { held -> Bool in
                guard held[key] != nil else {
                    held[key] = []
                    return true
                }
                held[key]!.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    private func release(_ key: Key) {
        let next = held.withLock { held -> CheckedContinuation<Void, Never>? in
            guard var waiting = held[key], !waiting.isEmpty else {
                held[key] = nil
                return nil
            }
            let first = waiting.removeFirst()
            held[key] = waiting
            return first
        }
        next?.resume()
    }
}
