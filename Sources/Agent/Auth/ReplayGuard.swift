import Basics
import Synchronization

/// The nonces of the signed internal calls this agent received within the skew window, shared
/// by every request handler: a call whose nonce is here is a replay. Past its capacity new calls
/// are refused (503, the peer retries) rather than forgetting nonces still replayable.
public final class ReplayGuard: Sendable {
    private let nonces: Mutex<NonceWindow<String>>

    public init(windowMilliseconds: Int64 = InternalAuth.maxSkewMilliseconds, capacity: Int = 1_000_000) {
        nonces = Mutex(NonceWindow(window: windowMilliseconds, capacity: capacity))
    }

    /// Admits the call with `nonce`, stamped `milliseconds`, unless its nonce was seen.
    public func admit(nonce: String, milliseconds: Int64, now: Int64) -> NonceWindow<String>.Verdict {
        nonces.withLock { $0.admit(nonce, stamp: milliseconds, now: now) }
    }

    /// How many nonces are remembered.
    public var count: Int { nonces.withLock { $0.count } }
}
