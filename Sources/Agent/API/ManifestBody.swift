import Hummingbird
import NIOCore
import Synchronization

/// The body of a download, REST or S3: `bytes` of a file streamed chunk by chunk as the read
/// coordinator fetches and verifies them.
enum ManifestBody {
    /// The most handed to the connection at once: a client reading at least this much per
    /// `idle_timeout` is never taken for stalled (`StalledReaderGuard`).
    static let piece = 256 << 10

    /// Fetches the first chunk before returning, so a failure there is still a clean error
    /// answer; a failure later ends the response early. Each body counts against the node's
    /// `max_downloads_in_flight` while it streams; beyond, 503 with `Retry-After`.
    static func stream(_ manifest: Manifest, bytes: ClosedRange<Int64>, reader: ReadCoordinator, _ snapshot: ClusterSnapshot) async throws -> ResponseBody {
        if let inline = ReadCoordinator.inlineBytes(of: manifest, bytes) { return ResponseBody(byteBuffer: inline) }
        // Which chunks hold the bytes, and where in the first and last of them the range falls.
        let offsets = manifest.chunkOffsets
        let first = offsets.lastIndex { $0 <= bytes.lowerBound } ?? 0
        let last = offsets.lastIndex { $0 <= bytes.upperBound } ?? 0
        guard let place = reader.budget.startDownload() else {
            throw APIError(.serviceUnavailable, "overloaded", "this node is sending \(reader.budget.maxDownloads) downloads; retry").retrying(after: 1)
        }
        var fetcher = reader.chunks(of: manifest, indices: first..<(last + 1), snapshot)
        let opening: (index: Int, bytes: ByteBuffer)?
        do {
            opening = try await fetcher.next()
        } catch {
            fetcher.cancel()
            throw error
        }
        guard let opening else { throw ReplicationError(.noReadableReplica, "no chunk of \(manifest.key) could be read") }
        // Moved into the body, not copied: a copy left behind would keep the first chunk, and
        // every chunk the read-ahead fetched, alive until the response is done.
        let handoff = Handoff((fetcher, Optional(opening)))
        let key = manifest.key
        return ResponseBody(contentLength: Int(bytes.upperBound - bytes.lowerBound + 1)) { writer in
            guard var (fetcher, next) = handoff.take() else { return }
            defer {
                fetcher.cancel()
                place.release()
            }
            while let (index, chunk) = next {
                let start = max(bytes.lowerBound - offsets[index], 0)
                let end = min(bytes.upperBound - offsets[index], Int64(chunk.readableBytes) - 1)
                // A chunk shorter than its manifest says (only a forged manifest names a real
                // chunk with a wrong size) ends the response instead of the process.
                guard end >= start, let slice = chunk.getSlice(at: chunk.readerIndex + Int(start), length: Int(end - start + 1)) else {
                    throw ReplicationError(.noReadableReplica, "chunk \(index) of \(key) is shorter than its manifest says")
                }
                // In pieces, so a slow client that keeps reading shows progress to the stalled-
                // reader guard every `piece` bytes, not every chunk.
                var rest = slice
                while let piece = rest.readSlice(length: min(rest.readableBytes, Self.piece)), piece.readableBytes > 0 {
                    try await writer.write(piece)
                }
                next = try await fetcher.next()
            }
            try await writer.finish(nil)
        }
    }
}

/// Holds a value until one taker moves it out.
private final class Handoff<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>

    init(_ value: Value) { self.value = Mutex(value) }

    func take() -> Value? { value.withLock { $0.take() } }
}
