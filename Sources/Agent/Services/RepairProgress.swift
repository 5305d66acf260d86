import Synchronization

/// What the convergence loop last found and has moved: reported in the load this node gossips,
/// and from there in `GET /api/v1/cluster`.
public final class RepairProgress: Sendable {
    public struct Figures: Sendable, Equatable {
        /// Keys held here that an available owner lacks, as of the last round.
        public var underReplicated = 0
        /// Bytes of those keys still to push.
        public var bytesToMove: Int64 = 0
        /// Bytes pushed by repair since the agent started.
        public var bytesMoved: Int64 = 0
        /// Completed rounds.
        public var rounds = 0
    }

    private let figures = Mutex(Figures())

    public init() {}

    public var current: Figures { figures.withLock { $0 } }

    func roundFinished(underReplicated: Int, bytesToMove: Int64) {
        figures.withLock {
            $0.underReplicated = underReplicated
            $0.bytesToMove = bytesToMove
            $0.rounds += 1
        }
    }

    func moved(_ bytes: Int) { figures.withLock { $0.bytesMoved += Int64(bytes) } }
}
