import NIOCore

/// A digest of a stream that must see its bytes in order (a whole file's SHA-256, an object's
/// MD5), computed off the caller's task: `feed` hands a batch of buffers to a task that first
/// waits for the previous batch's task, so the digest advances on another core while the caller
/// goes on reading the body. `feed` waits for the oldest batch while `depth` batches, or
/// `maxPendingBytes` bytes, are not digested yet: that bounds the memory held to whichever
/// comes first (or one batch, when a single batch is larger).
///
/// The buffers are shared, not copied: a batch is only the references to what the caller read.
public struct PipelinedDigest<State: Sendable>: Sendable {
    public typealias Update = @Sendable (inout State, UnsafeRawBufferPointer) -> Void

    private let update: Update
    private let depth: Int
    private let maxPendingBytes: Int
    /// The newest state: the initial one, or the task digesting the last batch.
    private var newest: Task<State, Never>
    /// Batches not yet awaited, oldest first, with their sizes.
    private var pending: [(task: Task<State, Never>, bytes: Int)] = []
    private var pendingBytes = 0

    public init(_ initial: State, depth: Int = 4, maxPendingBytes: Int = 16 << 20, update: @escaping Update) {
        self.update = update
        self.depth = max(1, depth)
        self.maxPendingBytes = max(1, maxPendingBytes)
        self.newest = Task { initial }
    }

    /// Digests `buffers` after everything fed before; waits while too much is pending.
    public mutating func feed(_ buffers: [ByteBuffer]) async {
        guard !buffers.isEmpty else { return }
        let bytes = buffers.reduce(0) { $0 + $1.readableBytes }
        while let oldest = pending.first, pending.count >= depth || pendingBytes + bytes > maxPendingBytes {
            _ = await oldest.task.value
            pending.removeFirst()
            pendingBytes -= oldest.bytes
        }
        let previous = newest
        let update = self.update
        newest = Task {
            var state = await previous.value
            for buffer in buffers { buffer.withUnsafeReadableBytes { update(&state, $0) } }
            return state
        }
        pending.append((newest, bytes))
        pendingBytes += bytes
    }

    /// The state once every batch fed so far is digested.
    public func result() async -> State {
        await newest.value
    }
}
