import Basics
import Ring

extension Gossip {
    /// Time as the membership state machine sees it: elapsed since the shell (or simulator) started.
    public typealias Instant = Duration

    /// What the state machine asks its shell to do.
    public enum Directive: Sendable, Equatable {
        /// Send these messages (the shell packs, seals and sends them) to an address.
        case send([Message], to: Address)
        /// Call `onTimer(timer, now:)` after this long.
        case schedule(Timer, after: Duration)
        /// A member's status, incarnation or metadata changed (load changes are not reported).
        case memberChanged(Member)
    }

    /// Timers the state machine sets; they arrive back as events.
    public enum Timer: Hashable, Sendable {
        /// Time to probe the next member.
        case probeTick
        /// The direct ping of probe `sequence` got no ack in time: ask others to probe.
        case probeTimeout(sequence: UInt64)
        /// The protocol period of probe `sequence` is over: no ack means suspicion.
        case probeEnd(sequence: UInt64)
        /// A ping relayed for someone else (our `sequence`) got no ack: send them a nack.
        case relayTimeout(sequence: UInt64)
        /// Check whether the suspicion of `id` at `incarnation` has run out.
        case suspicionTimeout(id: NodeID, incarnation: UInt64)
        /// Time to gossip pending updates.
        case gossipTick
        /// Time for a full-state exchange with one random member.
        case pushPullTick
        /// Time to contact again the seeds that are not members yet (they may have started later).
        case seedRetry
    }
}
