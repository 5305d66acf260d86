import Hummingbird
import NIOCore
import Synchronization

/// The connection a download goes out on: whose share of the node's download places it takes,
/// and whose socket it waits on.
struct DownloadConnection: Sendable {
    let client: String
    let channel: any Channel

    /// The channel's `StalledReaderGuard` backlog, or nil when it has none (then a download
    /// relies on the writer's own backpressure alone).
    func backlog() async -> OutboundBacklog? {
        try? await channel.eventLoop.submit { try channel.pipeline.syncOperations.handler(type: StalledReaderGuard.self).backlog }.get()
    }
}

extension AgentRequestContext {
    var download: DownloadConnection { DownloadConnection(client: client, channel: channel) }
}

extension DownloadBudget.Refusal {
    /// 503 with `Retry-After`, as for any other overload.
    var apiError: APIError {
        switch self {
        case .nodeFull(let limit): APIError(.serviceUnavailable, "overloaded", "this node is sending \(limit) downloads; retry").retrying(after: 1)
        case .clientFull(let limit): APIError(.serviceUnavailable, "overloaded", "this node is sending \(limit) downloads to your address; retry").retrying(after: 1)
        }
    }
}

/// The body of a download, REST or S3: `bytes` of a file streamed chunk by chunk as the read
/// coordinator fetches and verifies them.
enum ManifestBody {
    /// The most handed to the connection at once, and what may wait there unwritten beyond what
    /// is being handed over: a download holds little more than its current chunk however slowly
    /// its client reads. (Waiting with less than 4 MiB unwritten slowed a hot 512 MiB download
    /// by a fifth: docs/benchmarks.md.)
    static let piece = 1 << 20
    static let backlogMargin = 4 * piece

    /// Fetches the first chunk before returning, so a failure there is still a clean error
    /// answer; a failure later ends the response early. Each body takes one of the node's
    /// download places while it streams (`DownloadBudget`); when none is left, 503 with `Retry-After`.
    static func stream(
        _ manifest: Manifest, bytes: ClosedRange<Int64>, reader: ReadCoordinator, _ snapshot: ClusterSnapshot, to connection: DownloadConnection
    ) async throws -> ResponseBody {
        if let inline = ReadCoordinator.inlineBytes(of: manifest, bytes) { return ResponseBody(byteBuffer: inline) }
        // Which chunks hold the bytes, and where in the first and last of them the range falls.
        let offsets = manifest.chunkOffsets
        let first = offsets.lastIndex { $0 <= bytes.lowerBound } ?? 0
        let last = offsets.lastIndex { $0 <= bytes.upperBound } ?? 0
        let place: DownloadBudget.Lease
        do { place = try reader.budget.startDownload(for: connection.client) } catch { throw error.apiError }
        var fetcher = reader.chunks(of: manifest, indices: first..<(last + 1), snapshot)
        let opening: (index: Int, bytes: ByteBuffer)?
        do {
            opening = try await fetcher.next()
        } catch {
            fetcher.cancel()
            throw error
        }
        guard let opening else { throw ReplicationError(.noReadableReplica, "no chunk of \(manifest.key) could be read") }
        let backlog = await connection.backlog()
        // Moved into the body, not copied: a copy left behind would keep the first chunk, and
        // every chunk the read-ahead fetched, alive until the response is done.
        let handoff = PendingBody((fetcher, opening))
        let key = manifest.key
        return ResponseBody(contentLength: Int(bytes.upperBound - bytes.lowerBound + 1)) { writer in
            guard var (fetcher, next) = handoff.take() else { return }
            defer {
                fetcher.cancel()
                place.release()
            }
            let start = backlog?.written ?? 0
            var handed = 0
            while let (index, chunk) = next {
                let lower = max(bytes.lowerBound - offsets[index], 0)
                let upper = min(bytes.upperBound - offsets[index], Int64(chunk.readableBytes) - 1)
                // A chunk shorter than its manifest says (only a forged manifest names a real
                // chunk with a wrong size) ends the response instead of the process.
                guard upper >= lower, var rest = chunk.getSlice(at: chunk.readerIndex + Int(lower), length: Int(upper - lower + 1)) else {
                    throw ReplicationError(.noReadableReplica, "chunk \(index) of \(key) is shorter than its manifest says")
                }
                while let piece = rest.readSlice(length: min(rest.readableBytes, Self.piece)), piece.readableBytes > 0 {
                    handed += piece.readableBytes
                    try await writer.write(piece)
                    await backlog?.wait(untilWritten: start + handed - Self.backlogMargin)
                }
                next = try await fetcher.next()
            }
            try await writer.finish(nil)
        }
    }
}

/// A download's fetcher and first chunk, waiting for its body to run. Dropped untaken (the
/// client went away before the body started), it cancels the fetcher, whose read-ahead fetches
/// then give their slots back as they stop.
private final class PendingBody: Sendable {
    typealias Start = (fetcher: ReadCoordinator.ChunkFetcher, first: (index: Int, bytes: ByteBuffer)?)
    private let start: Mutex<Start?>

    init(_ start: Start) { self.start = Mutex(start) }

    func take() -> Start? { start.withLock { $0.take() } }

    deinit { take()?.fetcher.cancel() }
}
