/// The nonces seen within a time window around local time, to refuse replays: a message is
/// admitted once, and only while its stamp is within `window` of now. A nonce is remembered until
/// its stamp is too old to be admitted anyway, so the set holds at most one window of messages;
/// past `capacity` new ones are refused rather than forgetting nonces that could still be
/// replayed. Pure: time is passed in (milliseconds). Gossip packets and internal API calls both
/// go through one; they admit only authenticated messages, so nobody without the key can fill it.
public struct NonceWindow<Nonce: Hashable & Sendable>: Sendable {
    public enum Verdict: Equatable, Sendable {
        case fresh
        /// Stamped further than `window` from now (too old, or from the future).
        case outsideWindow
        case replayed
        case full
    }

    public let window: Int64
    public let capacity: Int
    private var seen: Set<Nonce> = []
    private var expiries = TimedQueue<Nonce>()

    public init(window: Int64, capacity: Int = 1_000_000) {
        self.window = window
        self.capacity = capacity
    }

    public mutating func admit(_ nonce: Nonce, stamp: Int64, now: Int64) -> Verdict {
        // Two numbers from the wire and the clock: compared without overflow.
        let (difference, overflow) = stamp.subtractingReportingOverflow(now)
        guard !overflow, difference.magnitude <= window.magnitude else { return .outsideWindow }
        for expired in expiries.popDue(at: .milliseconds(now)) { seen.remove(expired) }
        guard !seen.contains(nonce) else { return .replayed }
        guard seen.count < capacity else { return .full }
        seen.insert(nonce)
        // Admitted while `now - stamp <= window`: forgotten only once that has passed.
        expiries.push(.milliseconds(stamp + window + 1), nonce)
        return .fresh
    }

    /// How many nonces are remembered.
    public var count: Int { seen.count }
}
