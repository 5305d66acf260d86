/// Why a write or a read through the coordinators failed. Domain words only: the API layer
/// decides what each means on the wire (`API/DomainErrors+HTTP.swift`).
public struct ReplicationError: Error, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// Fewer than `write_quorum` distinct nodes could take a copy (nothing was committed).
        case quorumUnavailable
        /// No owner of a manifest answered, or no replica of a chunk could be read and verified.
        case noReadableReplica
        /// The body ended before the length the client promised.
        case truncated
        /// The body does not hash to the checksum the client sent.
        case checksumMismatch
        /// The body is longer than the upload may be.
        case tooLarge
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
