import Hummingbird
import NIOCore

/// The body of a download, REST or S3: `bytes` of a file streamed chunk by chunk as the read
/// coordinator fetches and verifies them.
enum ManifestBody {
    /// Fetches the first chunk before returning, so a failure there is still a clean error
    /// answer; a failure later ends the response early.
    static func stream(_ manifest: Manifest, bytes: ClosedRange<Int64>, reader: ReadCoordinator, _ snapshot: ClusterSnapshot) async throws -> ResponseBody {
        if let inline = ReadCoordinator.inlineBytes(of: manifest, bytes) { return ResponseBody(byteBuffer: inline) }
        // Which chunks hold the bytes, and where in the first and last of them the range falls.
        let offsets = manifest.chunkOffsets
        let first = offsets.lastIndex { $0 <= bytes.lowerBound } ?? 0
        let last = offsets.lastIndex { $0 <= bytes.upperBound } ?? 0
        var fetcher = reader.chunks(of: manifest, indices: first..<(last + 1), snapshot)
        guard let opening = try await fetcher.next() else { throw ReplicationError(.noReadableReplica, "no chunk of \(manifest.key) could be read") }
        let initial = fetcher
        let key = manifest.key
        return ResponseBody(contentLength: Int(bytes.upperBound - bytes.lowerBound + 1)) { writer in
            var fetcher = initial
            defer { fetcher.cancel() }
            var next: (index: Int, bytes: ByteBuffer)? = opening
            while let (index, chunk) = next {
                let start = max(bytes.lowerBound - offsets[index], 0)
                let end = min(bytes.upperBound - offsets[index], Int64(chunk.readableBytes) - 1)
                // A chunk shorter than its manifest says (only a forged manifest names a real
                // chunk with a wrong size) ends the response instead of the process.
                guard end >= start, let slice = chunk.getSlice(at: chunk.readerIndex + Int(start), length: Int(end - start + 1)) else {
                    throw ReplicationError(.noReadableReplica, "chunk \(index) of \(key) is shorter than its manifest says")
                }
                try await writer.write(slice)
                next = try await fetcher.next()
            }
            try await writer.finish(nil)
        }
    }
}
