/// A node's stable identifier from configuration: `[a-z0-9-]{1,64}` (DESIGN.md §3).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The validated identifier text.
    public let rawValue: String

    /// Validates `text`; returns nil unless it is 1–64 characters of `a-z`, `0-9` and `-`.
    public init?(_ text: String) {
        guard NodeID.isValid(text) else { return nil }
        self.rawValue = text
    }

    /// True when `text` is a well-formed node id.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { Array(lhs.rawValue.utf8).lexicographicallyPrecedes(rhs.rawValue.utf8) }
    public var description: String { rawValue }
}

extension NodeID: ExpressibleByStringLiteral {
    /// For literals in code and tests only: an invalid literal is a programming error and traps.
    public init(stringLiteral value: String) {
        guard let id = NodeID(value) else { preconditionFailure("invalid node id literal \"\(value)\"") }
        self = id
    }
}

extension NodeID: TextCodable {
    public init?(text: String) { self.init(text) }
    public var text: String { rawValue }
    public static var textForm: String { "a node id (1-64 of a-z, 0-9, -)" }
}
