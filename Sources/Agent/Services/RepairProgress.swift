import Basics
import Synchronization

/// What the convergence loop last found and has moved: reported in the load this node gossips,
/// and from there in `GET /api/v1/cluster`.
public final class RepairProgress: Sendable {
    public struct Figures: Sendable, Equatable {
        /// Keys held here that an available owner lacks, as of the last round.
        public var underReplicated = 0
        /// Keys this node reports whose owners include a node that is down (`Convergence.atRisk`),
        /// as of the last round.
        public var atRisk = 0
        /// Bytes of the under-replicated keys still to push.
        public var bytesToMove: Int64 = 0
        /// Bytes pushed by repair since the agent started.
        public var bytesMoved: Int64 = 0
        /// Completed rounds.
        public var rounds = 0
    }

    private let figures = Mutex(Figures())
    /// The members that were down when the last round started.
    private let downAtRound = Mutex<Set<NodeID>>([])

    public init() {}

    public var current: Figures { figures.withLock { $0 } }

    func roundFinished(underReplicated: Int, atRisk: Int, bytesToMove: Int64) {
        figures.withLock {
            $0.underReplicated = underReplicated
            $0.atRisk = atRisk
            $0.bytesToMove = bytesToMove
            $0.rounds += 1
        }
    }

    func roundStarted(down: Set<NodeID>) { downAtRound.withLock { $0 = down } }

    /// Whether the members that are down differ from those at the start of the last round.
    func downChanged(_ down: Set<NodeID>) -> Bool { downAtRound.withLock { $0 != down } }

    func moved(_ bytes: Int) { figures.withLock { $0.bytesMoved += Int64(bytes) } }
}
