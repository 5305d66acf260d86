import Basics

extension NodeID {
    /// Validates `text`, throwing an error that names the offending value.
    public init(validating text: String) throws(RingError) {
        guard let id = NodeID(text) else { throw RingError(.invalidNodeID, "invalid node id \"\(text)\": use 1-64 characters of a-z, 0-9 and -") }
        self = id
    }
}

extension ChunkID {
    /// The chunk's position on the ring: the first 8 bytes of its digest.
    public var position: RingPosition { RingPosition(chunk: self) }
}
