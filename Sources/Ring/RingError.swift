/// Why a ring or one of its inputs was refused.
public struct RingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The closed set of failure kinds.
    public enum Code: Sendable, Equatable {
        case invalidNodeID
        case duplicateMember
        case invalidWeight
        case invalidVnodes
        case invalidReplication
        case invalidKey
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
