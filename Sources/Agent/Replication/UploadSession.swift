import Basics
import ByteStreams
import Crypto
import Foundation
import NIOCore
import Synchronization

/// One upload in progress: bytes go in with `append` as they arrive from the client; full chunks
/// go out to their targets while more bytes arrive, at most `window` at a time, so memory stays
/// at `window + 1` chunks whatever the file size. Use from one task; call `abort` on any failure.
///
/// The task that reads the body only copies bytes into the chunk buffer: each chunk is hashed by
/// its own transfer task (chunks in parallel), and the whole file's SHA-256 by a pipelined digest
/// that follows one chunk behind, so the hashing runs on the other cores while the body streams.
public struct UploadSession {
    /// What was stored: the chunk list and the whole-file size and SHA-256.
    public struct Content: Sendable {
        public var size: Int64
        public var sha256: String
        public var chunks: [ChunkReference]
        /// The whole content, for a file small enough to be kept in its manifest (then no chunks).
        public var inline: Data?
        let snapshot: ClusterSnapshot
        let upload: UUID
    }

    let coordinator: WriteCoordinator
    let snapshot: ClusterSnapshot
    let maxLength: Int64
    /// The largest file kept inline in its manifest (0: none); smaller than a chunk.
    let inlineLimit: Int
    private var fileDigest = PipelinedDigest(SHA256(), depth: 2) { $0.update(bufferPointer: $1) }
    private var current = ByteBuffer()
    private var references: [ChunkReference] = []
    /// Chunk transfers in order, each answering with its chunk's reference once stored.
    private var inFlight: [Task<ChunkReference, any Error>] = []
    /// This upload's entry in the registry of uploads in progress.
    let id = UUID()
    /// Bytes received so far.
    public private(set) var size: Int64 = 0

    init(coordinator: WriteCoordinator, snapshot: ClusterSnapshot, maxLength: Int64, inlineLimit: Int) {
        self.coordinator = coordinator
        self.snapshot = snapshot
        self.maxLength = maxLength
        self.inlineLimit = inlineLimit
        coordinator.uploads.begin(id)
    }

    /// Takes the next bytes of the body; may wait while the window of chunks in flight is full.
    public mutating func append(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        size += Int64(buffer.readableBytes)
        guard size <= maxLength else { throw ReplicationError(.tooLarge, "the upload is larger than \(maxLength) bytes") }
        let chunkSize = coordinator.chunkSize
        while buffer.readableBytes > 0, let slice = buffer.readSlice(length: min(chunkSize - current.readableBytes, buffer.readableBytes)) {
            if current.capacity == 0 { current.reserveCapacity(chunkSize) }
            current.writeImmutableBuffer(slice)
            if current.readableBytes == chunkSize { try await dispatch() }
        }
    }

    /// Sends the last partial chunk and waits until every chunk is stored. A file that ended
    /// within its first chunk and is at most `inlineLimit` bytes sends nothing: its bytes go in
    /// the manifest (no chunk, no dedup round trip).
    public mutating func finish() async throws -> Content {
        if references.isEmpty, inFlight.isEmpty, current.readableBytes > 0, current.readableBytes <= inlineLimit {
            let bytes = Data(current.readableBytesView)
            await fileDigest.feed([current])
            return Content(size: size, sha256: Hex.encode(await fileDigest.result().finalize()), chunks: [], inline: bytes, snapshot: snapshot, upload: id)
        }
        if current.readableBytes > 0 { try await dispatch() }
        while !inFlight.isEmpty { references.append(try await inFlight.removeFirst().value) }
        return Content(size: size, sha256: Hex.encode(await fileDigest.result().finalize()), chunks: references, snapshot: snapshot, upload: id)
    }

    /// Stops chunk transfers still running (the upload failed; what was written is garbage for GC).
    public func abort() {
        for task in inFlight { task.cancel() }
        coordinator.uploads.finish(id)
    }

    private mutating func dispatch() async throws {
        let bytes = current
        current = ByteBuffer()
        await fileDigest.feed([bytes])
        if inFlight.count >= coordinator.window { references.append(try await inFlight.removeFirst().value) }
        let coordinator = self.coordinator
        let snapshot = self.snapshot
        let upload = self.id
        inFlight.append(Task {
            let id = bytes.withUnsafeReadableBytes { ChunkID(digest: SHA256.hash(data: $0)) }
            // Known to GC before the first copy is written: it has no manifest yet.
            coordinator.uploads.add(id, to: upload)
            try await coordinator.storeChunk(id, bytes, snapshot)
            return ChunkReference(id: id, size: Int64(bytes.readableBytes))
        })
    }
}

/// Chunk ids of the uploads in progress on this node (they have no manifest yet, so GC learns
/// of them here).
public final class UploadRegistry: Sendable {
    private let uploads = Mutex<[UUID: [ChunkID]]>([:])

    public init() {}

    func begin(_ upload: UUID) { uploads.withLock { $0[upload] = [] } }

    /// Records a chunk of `upload` before it is written; a no-op once the upload has finished (a
    /// transfer that outlived its aborted upload writes only garbage, which GC may take).
    func add(_ chunk: ChunkID, to upload: UUID) { uploads.withLock { $0[upload]?.append(chunk) } }

    func finish(_ upload: UUID) { _ = uploads.withLock { $0.removeValue(forKey: upload) } }

    /// Every chunk of every upload not yet committed or abandoned.
    public func chunksInFlight() -> [ChunkID] { uploads.withLock { Array($0.values.joined()) } }
}
