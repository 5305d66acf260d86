#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemTuning
import NIOCore
import NIOPosix
import Synchronization

/// Writes a new file bypassing the page cache (`O_DIRECT` on Linux) where the file system allows
/// it, falling back to ordinary buffered writes where it does not (tmpfs, some network file
/// systems).
///
/// Why: a chunk is fsync'd before it is acknowledged anyway, so caching its pages buys nothing on
/// the write path, while copying every byte into the page cache was the largest single cost of
/// an upload (measured in docs/benchmarks.md: `copy_folio_from_iter_atomic` took ~40 % of all
/// CPU samples of a 1 GiB upload). Direct I/O needs block-aligned memory, offsets and lengths,
/// so bytes are gathered in an aligned staging buffer and written a `stagingSize` block at a
/// time; the final partial block is written zero-padded and the file then truncated to its size.
///
/// Use from one task at a time. Blocking system calls run on NIO's blocking-I/O thread pool.
final class DirectFileWriter: @unchecked Sendable {
    // Unchecked: one task drives a writer at a time (append … finish / discard); the staging
    // buffer and counters are never touched concurrently.
    static let alignment = 4096
    static let stagingSize = 1 << 20

    private let descriptor: CInt
    private let staging: StagingBuffer
    private var staged = 0
    private var offset: Int64 = 0
    private var direct: Bool
    private var released = false

    /// Creates `path` (which must not exist) for writing.
    static func create(_ path: String) async throws -> DirectFileWriter {
        try await NIOThreadPool.singleton.runIfActive {
            var direct = Self.directFlag != 0
            var descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | Self.directFlag, 0o644)
            if descriptor < 0, errno == EINVAL, direct {
                // The file system refuses direct I/O: write through the page cache instead.
                direct = false
                descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            }
            guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
            return DirectFileWriter(descriptor: descriptor, direct: direct)
        }
    }

    private init(descriptor: CInt, direct: Bool) {
        self.descriptor = descriptor
        self.direct = direct
        staging = StagingPool.shared.take()
    }

    deinit { release() }

    /// Whether writes currently bypass the page cache.
    var isDirect: Bool { direct }

    /// Appends bytes, writing out every full staging block.
    func append(_ bytes: ByteBuffer) async throws {
        var bytes = bytes
        while bytes.readableBytes > 0 {
            let count = min(bytes.readableBytes, Self.stagingSize - staged)
            bytes.withUnsafeReadableBytes { source in
                (staging.start + staged).copyMemory(from: source.baseAddress!, byteCount: count)
            }
            bytes.moveReaderIndex(forwardBy: count)
            staged += count
            if staged == Self.stagingSize { try await flush() }
        }
    }

    /// Writes what is left, sets the exact size, fsyncs and closes the file.
    func finish() async throws {
        let size = offset + Int64(staged)
        if staged > 0 {
            // Direct I/O writes whole blocks: pad with zeros, then cut the file back to its size.
            let padded = (staged + Self.alignment - 1) / Self.alignment * Self.alignment
            (staging.start + staged).initializeMemory(as: UInt8.self, repeating: 0, count: padded - staged)
            staged = padded
            try await flush()
        }
        let descriptor = self.descriptor
        try await NIOThreadPool.singleton.runIfActive {
            if ftruncate(descriptor, off_t(size)) != 0 { throw IOError(errnoCode: errno, reason: "ftruncate") }
            if fsync(descriptor) != 0 { throw IOError(errnoCode: errno, reason: "fsync") }
        }
        release()
    }

    /// Closes the file without finishing it (the caller removes it).
    func discard() { release() }

    private func release() {
        guard !released else { return }
        released = true
        close(descriptor)
        StagingPool.shared.give(staging)
    }

    private func flush() async throws {
        let (descriptor, staging, count, offset) = (self.descriptor, self.staging, self.staged, self.offset)
        let stillDirect = try await NIOThreadPool.singleton.runIfActive { [direct] in
            var direct = direct
            var written = 0
            while written < count {
                let result = pwrite(descriptor, staging.start + written, count - written, off_t(offset) + off_t(written))
                if result < 0 {
                    if errno == EINTR { continue }
                    if errno == EINVAL, direct {
                        // Accepted at open but not for these writes: carry on through the page cache.
                        direct = false
                        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~Self.directFlag)
                        continue
                    }
                    throw IOError(errnoCode: errno, reason: "pwrite")
                }
                written += result
            }
            return direct
        }
        direct = stillDirect
        self.offset += Int64(count)
        staged = 0
    }

    static let directFlag = filestore_open_direct_flag()
}

/// Reads whole files past the page cache where the file system allows it (see
/// `DirectFileWriter` for why: chunks are written that way, so a read starts cold anyway, and
/// copying out of freshly filled page-cache pages cost more CPU than hashing the bytes — see
/// docs/benchmarks.md). The disk writes straight into the returned buffer.
enum DirectFileReader {
    /// The whole file in one buffer, or nil when there is no file at `path`. Throws
    /// `BlobStoreError.integrity` when it is larger than `limit`.
    static func readWhole(_ path: String, limit: Int) async throws -> ByteBuffer? {
        try await NIOThreadPool.singleton.runIfActive {
            let flag = DirectFileWriter.directFlag
            var direct = flag != 0
            var descriptor = open(path, O_RDONLY | O_CLOEXEC | flag)
            if descriptor < 0, errno == EINVAL, direct {
                direct = false
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
            }
            if descriptor < 0, errno == ENOENT { return nil }
            guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { throw IOError(errnoCode: errno, reason: "fstat \(path)") }
            let size = Int(info.st_size)
            guard size <= limit else { throw BlobStoreError(.integrity, "\(path) is \(size) bytes, more than \(limit)") }
            let alignment = DirectFileWriter.alignment
            let blocks = (size + alignment - 1) / alignment * alignment
            var buffer = ByteBufferAllocator().buffer(capacity: blocks + alignment)
            // Direct reads land at an aligned address inside the buffer; the bytes before it are skipped.
            let skip = try buffer.withUnsafeMutableWritableBytes { raw -> Int in
                let skip = (alignment - Int(bitPattern: raw.baseAddress!) % alignment) % alignment
                var done = 0
                while done < size {
                    let result = pread(descriptor, raw.baseAddress! + skip + done, blocks - done, off_t(done))
                    if result < 0 {
                        if errno == EINTR { continue }
                        if errno == EINVAL, direct {
                            direct = false
                            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~flag)
                            continue
                        }
                        throw IOError(errnoCode: errno, reason: "pread \(path)")
                    }
                    if result == 0 { break }
                    done += result
                }
                guard done >= size else { throw BlobStoreError(.storage, "\(path): read \(done) of \(size) bytes") }
                return skip
            }
            buffer.moveWriterIndex(forwardBy: skip + size)
            buffer.moveReaderIndex(forwardBy: skip)
            return buffer
        }
    }
}

/// One aligned staging buffer; only the writer holding it touches its bytes.
struct StagingBuffer: @unchecked Sendable {
    let start: UnsafeMutableRawPointer
}

/// Aligned staging buffers, reused so that steady writing does not fault in fresh pages for every
/// chunk; keeps at most `limit` idle buffers (the rest are freed).
private final class StagingPool: Sendable {
    static let shared = StagingPool()
    private let idle = Mutex<[StagingBuffer]>([])
    private let limit = 16

    func take() -> StagingBuffer {
        if let buffer = idle.withLock({ $0.popLast() }) { return buffer }
        return StagingBuffer(start: UnsafeMutableRawPointer.allocate(byteCount: DirectFileWriter.stagingSize, alignment: DirectFileWriter.alignment))
    }

    func give(_ buffer: StagingBuffer) {
        let kept = idle.withLock { list -> Bool in
            guard list.count < limit else { return false }
            list.append(buffer)
            return true
        }
        if !kept { buffer.start.deallocate() }
    }
}
