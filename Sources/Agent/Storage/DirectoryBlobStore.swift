#if canImport(Glibc)
import Basics
import ByteStreams
import Glibc
#endif
import NIOCore
import NIOFileSystem

/// Chunks as files under a local directory: `chunks/ab/cd/<sha256>`, the embedded default.
///
/// A put writes `tmp/<id>.<random>` (bypassing the page cache where the file system allows it:
/// see `DirectFileWriter`), hashes while writing, fsyncs, then links it into place (a chunk
/// already there is kept) and fsyncs the directory: a chunk is never visible under its final
/// name with partial or wrong bytes.
public struct DirectoryBlobStore: BlobStore {
    /// The store's root folder.
    public let root: FilePath
    /// Whether chunk files are written and whole chunks read past the page cache (where the file
    /// system allows it). Off suits slow disks with a hot working set that fits in memory.
    public let directIO: Bool
    private let fileSystem = FileSystem.shared
    private static let readChunkSize = ByteCount.mebibytes(1)

    /// Opens (creating if needed) a store under `root`, discarding temp files a crash left behind.
    public init(root: FilePath, directIO: Bool = true) async throws {
        self.root = root
        self.directIO = directIO
        try await fileSystem.createDirectory(at: root.appending("chunks"), withIntermediateDirectories: true)
        try await fileSystem.removeItem(at: root.appending("tmp"), recursively: true)
        try await fileSystem.createDirectory(at: root.appending("tmp"), withIntermediateDirectories: true)
    }

    private func path(of id: ChunkID) -> FilePath { root.appending(id.storagePath) }

    public func put(_ id: ChunkID, size: Int64, body: BlobBody) async throws {
        let temp = root.appending("tmp").appending("\(id.hex).\(UInt64.random(in: 0...UInt64.max)).part")
        do {
            let file = try await DirectFileWriter.create(temp.string, direct: directIO)
            do {
                switch body {
                case .bytes(let buffer):
                    try ChunkVerifier.verify(buffer, id: id, size: size)
                    try await file.append(buffer)
                case .verified(let buffer):
                    try ChunkVerifier.checkSize(buffer, id: id, size: size)
                    try await file.append(buffer)
                case .stream(let sequence):
                    var verifier = ChunkVerifier(id: id, size: size)
                    for try await buffer in sequence {
                        try verifier.update(buffer)
                        try await file.append(buffer)
                    }
                    try verifier.finish()
                }
                _ = try await file.finish(publishingAs: path(of: id).string)
            } catch {
                file.discard()
                throw error
            }
        } catch {
            _ = try? await fileSystem.removeItem(at: temp)
            if error is BlobStoreError { throw error }
            throw BlobStoreError(.storage, "chunk \(id): cannot write \(temp): \(error)")
        }
    }

    public func read<Result: Sendable>(_ id: ChunkID, range: ClosedRange<Int64>?, _ body: (BlobStream) async throws -> Result) async throws -> Result {
        guard try await fileSystem.info(forFileAt: path(of: id)) != nil else { throw BlobStoreError(.notFound, "chunk \(id) is not stored here") }
        do {
            // The scoped handle is closed whatever happens, a cancelled read included.
            return try await fileSystem.withFileHandle(forReadingAt: path(of: id)) { handle in
                let size = try await handle.info().size
                let bounds = try BlobRange.resolve(range, size: size, id: id)
                // Chunks are written past the page cache, so a read usually starts cold: have the
                // kernel fetch the whole range at once rather than a read at a time.
                #if os(Linux)
                try await handle.withUnsafeDescriptor { descriptor in
                    _ = posix_fadvise(descriptor.rawValue, off_t(bounds.lowerBound), off_t(bounds.count), CInt(POSIX_FADV_WILLNEED))
                }
                #endif
                let stream = BlobStream(length: Int64(bounds.count), bytes: AnySendableByteSequence(handle.readChunks(in: bounds, chunkLength: Self.readChunkSize)))
                return try await body(stream)
            }
        } catch let error as FileSystemError where error.code == .notFound {
            throw BlobStoreError(.notFound, "chunk \(id) is not stored here")
        }
    }

    public func readWhole(_ id: ChunkID, limit: Int) async throws -> ByteBuffer {
        do {
            guard let buffer = try await DirectFileReader.readWhole(path(of: id).string, limit: limit, direct: directIO) else {
                throw BlobStoreError(.notFound, "chunk \(id) is not stored here")
            }
            return buffer
        } catch let error as BlobStoreError {
            throw error
        } catch {
            throw BlobStoreError(.storage, "chunk \(id): cannot read: \(error)")
        }
    }

    public func size(of id: ChunkID) async throws -> Int64? {
        try await fileSystem.info(forFileAt: path(of: id)).map { $0.size }
    }

    public func delete(_ id: ChunkID) async throws {
        try await fileSystem.removeItem(at: path(of: id))
    }

    public func list() -> AsyncThrowingStream<(id: ChunkID, size: Int64), any Error> {
        let root = self.root, chunks = root.appending("chunks")
        let fileSystem = self.fileSystem
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await fileSystem.withDirectoryHandle(atPath: chunks) { directory in
                        for try await entry in directory.listContents(recursive: true) where entry.type == .regular {
                            // Anything that is not a well-formed chunk file (stray files) is not a chunk.
                            guard let name = entry.path.lastComponent?.string, let id = ChunkID(name), entry.path == root.appending(id.storagePath) else { continue }
                            if let info = try await fileSystem.info(forFileAt: entry.path) { continuation.yield((id, info.size)) }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Byte ranges within a chunk.
enum BlobRange {
    /// The half-open byte range to read for `range` (nil: the whole chunk); throws when it falls outside.
    static func resolve(_ range: ClosedRange<Int64>?, size: Int64, id: ChunkID) throws(BlobStoreError) -> Range<Int64> {
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0, range.upperBound < size else {
            throw BlobStoreError(.invalidRange, "chunk \(id): range \(range.lowerBound)-\(range.upperBound) is outside its \(size) bytes")
        }
        return range.lowerBound..<(range.upperBound + 1)
    }
}
