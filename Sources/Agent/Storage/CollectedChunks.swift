import Basics
import Synchronization

/// Chunks this node's GC deleted as garbage that no later GC round has seen referenced: a repair
/// copy of one is refused. Without this, a co-owner whose own GC has not reached the chunk yet
/// sees this node lacking it and pushes it straight back, the copy arrives fresh (inside
/// `gc_grace`), and the two nodes bounce the garbage between them for ever. A chunk that is
/// referenced again is in the next round's filters and leaves the set; an upload's own copy is
/// never refused (and takes the chunk out of the set at once).
public final class CollectedChunks: Sendable {
    /// At most this many ids are remembered (32 MiB); past it, the oldest knowledge is dropped
    /// (a chunk forgotten this way may bounce once more, nothing worse).
    static let capacity = 1 << 20
    private let ids = Mutex<Set<ChunkID>>([])

    public init() {}

    public func contains(_ id: ChunkID) -> Bool { ids.withLock { $0.contains(id) } }

    func forget(_ id: ChunkID) { _ = ids.withLock { $0.remove(id) } }

    /// After a completed GC round: what it deleted joins the set, and what any node's references
    /// now contain leaves it.
    func roundFinished(deleted: [ChunkID], referenced: (ChunkID) -> Bool) {
        ids.withLock { set in
            set = set.filter { !referenced($0) }
            for id in deleted {
                if set.count >= Self.capacity, let any = set.first { set.remove(any) }
                set.insert(id)
            }
        }
    }
}

/// A repair copy of a chunk this node collected as garbage (`CollectedChunks`).
public struct CollectedGarbageError: Error, CustomStringConvertible {
    public var id: ChunkID
    public var description: String { "chunk \(id) was collected here as garbage: a repair copy is not taken back" }
}
