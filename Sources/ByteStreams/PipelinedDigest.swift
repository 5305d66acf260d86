import NIOCore

/// A digest of a stream that must see its bytes in order (a whole file's SHA-256, an object's
/// MD5), computed off the caller's task: `feed` hands a batch of buffers to a task that first
/// waits for the previous batch's task, so the digest advances on another core while the caller
/// goes on reading the body. At most `depth` batches are waiting at any time: `feed` waits for
/// the oldest when there are more, which bounds the memory held to `depth` batches.
///
/// The buffers are shared, not copied: a batch is only the references to what the caller read.
public struct PipelinedDigest<State: Sendable>: Sendable {
    public typealias Update = @Sendable (inout State, UnsafeRawBufferPointer) -> Void

    private let update: Update
    private let depth: Int
    /// Links of the chain not yet awaited, oldest first; the last one holds the newest state.
    private var links: [Task<State, Never>]

    public init(_ initial: State, depth: Int = 4, update: @escaping Update) {
        self.update = update
        self.depth = max(1, depth)
        self.links = [Task { initial }]
    }

    /// Digests `buffers` after everything fed before; waits while `depth` batches are pending.
    public mutating func feed(_ buffers: [ByteBuffer]) async {
        guard !buffers.isEmpty else { return }
        while links.count > depth { _ = await links.removeFirst().value }
        let previous = links[links.count - 1]
        let update = self.update
        links.append(Task {
            var state = await previous.value
            for buffer in buffers { buffer.withUnsafeReadableBytes { update(&state, $0) } }
            return state
        })
    }

    /// The state once every batch fed so far is digested.
    public func result() async -> State {
        await links[links.count - 1].value
    }
}
