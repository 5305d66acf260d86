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
    /// How far ahead of local wall time a peer's timestamp may be before it is refused.
    public static let maxDrift: UInt64 = 60_000

    public let node: NodeID
    private let wallClock: @Sendable () -> UInt64
    private let last: Mutex<(wall: UInt64, counter: UInt16)>

    /// `wallClock` returns milliseconds since the Unix epoch (injectable for tests).
    public init(node: NodeID, wallClock: @escaping @Sendable () -> UInt64 = HybridClock.systemMilliseconds) {
        self.node = node
        self.wallClock = wallClock
        self.last = Mutex((0, 0))
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
        guard remote.wallMilliseconds <= wall + Self.maxDrift else {
            throw ClockSkewError(remote: remote, localMilliseconds: wall)
        }
        last.withLock { last in
            if remote.wallMilliseconds > last.wall || (remote.wallMilliseconds == last.wall && remote.counter > last.counter) {
                last = (remote.wallMilliseconds, remote.counter)
            }
        }
    }

    /// Milliseconds since the Unix epoch from the system clock.
    @Sendable public static func systemMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}

/// A peer's version stamped too far in the future (its clock is wrong): refused and logged.
public struct ClockSkewError: Error, CustomStringConvertible {
    public var remote: HybridTimestamp
    public var localMilliseconds: UInt64
    public var description: String {
        "version \(remote) is \(remote.wallMilliseconds - localMilliseconds) ms ahead of this node's clock (limit \(HybridClock.maxDrift) ms)"
    }
}
