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
    private let path: String
    private let staging: StagingBuffer
    private var staged = 0
    private var offset: Int64 = 0
    private var direct: Bool
    private var released = false

    /// Creates `path` (which must not exist) for writing; `direct: false` writes through the page cache.
    static func create(_ path: String, direct wanted: Bool = true) async throws -> DirectFileWriter {
        try await NIOThreadPool.singleton.runIfActive {
            let (descriptor, direct) = try openFile(path, O_WRONLY | O_CREAT | O_EXCL, direct: wanted)
            guard let descriptor else { throw IOError(errnoCode: ENOENT, reason: "open \(path)") }
            return DirectFileWriter(descriptor: descriptor, path: path, direct: direct)
        }
    }

    /// Opens `path` with `flags`, with direct I/O when `wanted` and the file system accepts it
    /// (blocking). Returns nil for a missing file, and whether direct I/O is on.
    static func openFile(_ path: String, _ flags: CInt, direct wanted: Bool) throws -> (descriptor: CInt?, direct: Bool) {
        var direct = wanted && directFlag != 0
        var descriptor = open(path, flags | O_CLOEXEC | (direct ? directFlag : 0), 0o644)
        if descriptor < 0, errno == EINVAL, direct {
            // The file system refuses direct I/O: go through the page cache instead.
            direct = false
            descriptor = open(path, flags | O_CLOEXEC, 0o644)
        }
        if descriptor < 0, errno == ENOENT { return (nil, direct) }
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
        return (descriptor, direct)
    }

    private init(descriptor: CInt, path: String, direct: Bool) {
        self.descriptor = descriptor
        self.path = path
        self.direct = direct
        staging = StagingPool.shared.take()
    }

    deinit { release() }

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

    /// Writes what is left, sets the exact size, fsyncs and closes the file, then publishes it
    /// under `final` (creating its folder) unless a file is already there, and fsyncs that
    /// folder — all in one trip to the blocking-I/O pool (a small chunk used to take eight).
    /// Returns false when `final` already existed (content-addressed: the same bytes); the temp
    /// file is then removed. On error the temp file is left for the caller to remove.
    func finish(publishingAs final: String) async throws -> Bool {
        let size = offset + Int64(staged)
        if staged > 0 {
            // Direct I/O writes whole blocks: pad with zeros, then cut the file back to its size.
            let padded = (staged + Self.alignment - 1) / Self.alignment * Self.alignment
            (staging.start + staged).initializeMemory(as: UInt8.self, repeating: 0, count: padded - staged)
            staged = padded
        }
        let (descriptor, staging, count, offset, direct, path) = (self.descriptor, self.staging, self.staged, self.offset, self.direct, self.path)
        defer { release() }
        return try await NIOThreadPool.singleton.runIfActive {
            _ = try Self.write(descriptor, staging, count: count, at: offset, direct: direct)
            if ftruncate(descriptor, off_t(size)) != 0 { throw IOError(errnoCode: errno, reason: "ftruncate") }
            if fsync(descriptor) != 0 { throw IOError(errnoCode: errno, reason: "fsync") }
            return try Self.publish(path, as: final)
        }
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
        let (descriptor, staging, count, offset, direct) = (self.descriptor, self.staging, self.staged, self.offset, self.direct)
        self.direct = try await NIOThreadPool.singleton.runIfActive {
            try Self.write(descriptor, staging, count: count, at: offset, direct: direct)
        }
        self.offset += Int64(count)
        staged = 0
    }

    /// Writes `count` staged bytes at `offset` (blocking); returns whether direct I/O is still on.
    private static func write(_ descriptor: CInt, _ staging: StagingBuffer, count: Int, at offset: Int64, direct: Bool) throws -> Bool {
        let (written, stillDirect) = try transfer(descriptor, count: count, direct: direct, reason: "pwrite") { done in
            pwrite(descriptor, staging.start + done, count - done, off_t(offset) + off_t(done))
        }
        guard written == count else { throw IOError(errnoCode: EIO, reason: "pwrite wrote \(written) of \(count) bytes") }
        return stillDirect
    }

    /// Repeats `io` (a pread or pwrite of the bytes from `done` on) until `count` bytes have moved
    /// or it moves none (end of file), retrying interruptions; a direct-I/O refusal (EINVAL)
    /// switches the descriptor to the page cache and retries. Blocking. Returns the bytes moved
    /// and whether direct I/O is still on.
    static func transfer(_ descriptor: CInt, count: Int, direct: Bool, reason: String, _ io: (_ done: Int) -> Int) throws -> (moved: Int, direct: Bool) {
        var direct = direct
        var done = 0
        while done < count {
            let result = io(done)
            if result < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL, direct {
                    // Accepted at open but not for this transfer: carry on through the page cache.
                    direct = false
                    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~directFlag)
                    continue
                }
                throw IOError(errnoCode: errno, reason: reason)
            }
            if result == 0 { break }
            done += result
        }
        return (done, direct)
    }

    /// Links the finished temp file in as `final` (never replacing a file already there), removes
    /// the temp name and fsyncs the folder; returns false when `final` existed (blocking).
    private static func publish(_ temp: String, as final: String) throws -> Bool {
        let folder = String(final[..<(final.lastIndex(of: "/") ?? final.startIndex)])
        // The chunk folders (two levels, `ab/cd`) exist after the first chunk under them.
        var created = link(temp, final) == 0
        if !created, errno == ENOENT {
            let parent = String(folder[..<(folder.lastIndex(of: "/") ?? folder.startIndex)])
            for directory in [parent, folder] where mkdir(directory, 0o755) != 0 && errno != EEXIST {
                throw IOError(errnoCode: errno, reason: "mkdir \(directory)")
            }
            created = link(temp, final) == 0
        }
        if !created, errno == EPERM || errno == EOPNOTSUPP || errno == EXDEV {
            // No hard links on this file system: rename (a chunk already there has the same bytes).
            guard rename(temp, final) == 0 else { throw IOError(errnoCode: errno, reason: "rename \(final)") }
            created = true
        } else {
            if !created, errno != EEXIST { throw IOError(errnoCode: errno, reason: "link \(final)") }
            unlink(temp)
        }
        guard created else { return false }
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw IOError(errnoCode: errno, reason: "open \(folder)") }
        defer { close(directory) }
        if fsync(directory) != 0 { throw IOError(errnoCode: errno, reason: "fsync \(folder)") }
        return true
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
    static func readWhole(_ path: String, limit: Int, direct wanted: Bool = true) async throws -> ByteBuffer? {
        try await NIOThreadPool.singleton.runIfActive {
            let (opened, direct) = try DirectFileWriter.openFile(path, O_RDONLY, direct: wanted)
            guard let descriptor = opened else { return nil }
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
                let done = try DirectFileWriter.transfer(descriptor, count: size, direct: direct, reason: "pread \(path)") { done in
                    pread(descriptor, raw.baseAddress! + skip + done, blocks - done, off_t(done))
                }.moved
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
