import Basics
import Foundation
import Ring
import Synchronization

/// A hybrid logical clock reading (DESIGN.md §8): 48-bit wall milliseconds, a 16-bit counter
/// for events within one millisecond, and the node id as the final tie-break, so that any two
/// versions written anywhere in the cluster are totally ordered.
public struct HybridTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch (only the low 48 bits are kept).
    public let wallMilliseconds: UInt64
    public let counter: UInt16
    public let node: NodeID

    public init(wallMilliseconds: UInt64, counter: UInt16, node: NodeID) {
        self.wallMilliseconds = wallMilliseconds & 0xFFFF_FFFF_FFFF
        self.counter = counter
        self.node = node
    }

    /// Wall time and counter packed as one number (the order of versions before the node tie-break).
    public var packed: UInt64 { wallMilliseconds << 16 | UInt64(counter) }

    public static func < (lhs: HybridTimestamp, rhs: HybridTimestamp) -> Bool {
        lhs.packed != rhs.packed ? lhs.packed < rhs.packed : lhs.node < rhs.node
    }

    /// `<16 hex digits>-<node>`: sorts as text in the same order as the timestamps (for equal-length node ids).
    public var description: String {
        let digits = String(packed, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits + "-" + node.rawValue
    }

    /// Parses `description`'s form; nil when malformed.
    public init?(_ text: String) {
        guard let dash = text.firstIndex(of: "-"), text.distance(from: text.startIndex, to: dash) == 16,
            let packed = UInt64(text[..<dash], radix: 16), let node = NodeID(String(text[text.index(after: dash)...]))
        else { return nil }
        self.init(wallMilliseconds: packed >> 16, counter: UInt16(truncatingIfNeeded: packed), node: node)
    }
}

extension HybridTimestamp: TextCodable {
    public init?(text: String) { self.init(text) }
    public var text: String { description }
    public static var textForm: String { "a version (16 hex digits, '-', a node id)" }
}

/// Issues hybrid timestamps for one node and folds in timestamps seen from peers, so a version
/// written here is always above every version this node has seen (causality across clock skew).
public final class HybridClock: Sendable {
    /// The default `max_clock_skew`: how far ahead of local wall time a peer's timestamp may be
    /// before it is refused.
    public static let defaultMaxDrift: UInt64 = 60_000

    public let node: NodeID
    /// `max_clock_skew` in milliseconds.
    public let maxDrift: UInt64
    private let wallClock: @Sendable () -> UInt64
    private let last: Mutex<(wall: UInt64, counter: UInt16)>

    /// `wallClock` returns milliseconds since the Unix epoch (injectable for tests).
    public init(node: NodeID, maxDrift: UInt64 = HybridClock.defaultMaxDrift, wallClock: @escaping @Sendable () -> UInt64 = HybridClock.systemMilliseconds) {
        self.node = node
        self.maxDrift = maxDrift
        self.wallClock = wallClock
        self.last = Mutex((0, 0))
    }

    /// The `node_state` key the high-water mark is persisted under (by the convergence round).
    public static let highWaterKey = "hlc_high_water"

    /// The highest timestamp issued or observed so far (what a restart must not go below).
    public var highWater: HybridTimestamp {
        let (wall, counter) = last.withLock { $0 }
        return HybridTimestamp(wallMilliseconds: wall, counter: counter, node: node)
    }

    /// Starts above `stored` (the high-water mark persisted before a restart, or the newest
    /// version held), whatever the wall clock says now: a restart never goes backwards.
    public func resume(after stored: HybridTimestamp) {
        last.withLock { last in
            if stored.wallMilliseconds > last.wall || (stored.wallMilliseconds == last.wall && stored.counter > last.counter) {
                last = (stored.wallMilliseconds, stored.counter)
            }
        }
    }

    /// A new timestamp above every one issued or observed before.
    public func now() -> HybridTimestamp {
        let wall = wallClock()
        let (issuedWall, counter) = last.withLock { last -> (UInt64, UInt16) in
            if wall > last.wall {
                last = (wall, 0)
            } else if last.counter == .max {
                last = (last.wall + 1, 0)  // counter exhausted: borrow the next millisecond
            } else {
                last.counter += 1
            }
            return last
        }
        return HybridTimestamp(wallMilliseconds: issuedWall, counter: counter, node: node)
    }

    /// Folds in a peer's timestamp; refuses one more than `maxDrift` ahead of local wall time.
    public func observe(_ remote: HybridTimestamp) throws(ClockSkewError) {
        let wall = wallClock()
        guard remote.wallMilliseconds <= wall + maxDrift else {
            throw ClockSkewError(remote: remote, localMilliseconds: wall, limitMilliseconds: maxDrift)
        }
        resume(after: remote)
    }

    /// `milliseconds` since the Unix epoch as RFC 3339 in UTC (`2026-12-01T23:59:58.123Z`).
    public static func rfc3339(_ milliseconds: UInt64) -> String {
        // Whole seconds through the formatter, the milliseconds by hand (a Double would round them).
        let seconds = Date(timeIntervalSince1970: Double(milliseconds / 1000)).formatted(.iso8601)
        return seconds.dropLast() + String(format: ".%03dZ", Int(milliseconds % 1000))
    }

    /// Milliseconds since the Unix epoch from the system clock (`WallClock`: shifted by
    /// `FILESTORE_TEST_CLOCK_OFFSET` when a fault test sets it).
    @Sendable public static func systemMilliseconds() -> UInt64 { WallClock.milliseconds() }
}

/// A peer's version stamped too far in the future (its clock is wrong): refused and logged.
public struct ClockSkewError: Error, CustomStringConvertible {
    public var remote: HybridTimestamp
    public var localMilliseconds: UInt64
    public var limitMilliseconds: UInt64
    public var description: String {
        "version \(remote) is \(remote.wallMilliseconds - localMilliseconds) ms ahead of this node's clock (max_clock_skew \(limitMilliseconds) ms)"
    }
}
