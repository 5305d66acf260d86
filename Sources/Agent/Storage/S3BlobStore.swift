import Basics
import ByteStreams
import NIOCore
import S3

/// Chunks as objects in an S3 bucket (MinIO or any S3-compatible server), keyed `chunks/ab/cd/<sha256>`.
///
/// A put sends the chunk id as `x-amz-content-sha256`, so a server that checks payload hashes
/// (S3, MinIO) refuses corrupted bytes; the store also hashes a streamed body as it is sent and
/// holds back its last bytes until they verify, so a bad stream never completes an upload.
public struct S3BlobStore: BlobStore {
    public let client: S3.Client
    public let bucket: String

    /// Uses `bucket` through `client`; call `prepare()` once before first use.
    public init(client: S3.Client, bucket: String) throws {
        try S3.validate(bucket: bucket)
        self.client = client
        self.bucket = bucket
    }

    /// Creates the bucket when it does not exist yet.
    public func prepare() async throws {
        try await client.createBucket(bucket)
    }

    public func put(_ id: ChunkID, size: Int64, body: BlobBody) async throws {
        do {
            switch body {
            case .bytes(let buffer):
                try ChunkVerifier.verify(buffer, id: id, size: size)
                try await client.putObject(bucket: bucket, key: id.storagePath, body: .bytes(buffer), sha256: id.hex)
            case .verified(let buffer):
                try ChunkVerifier.checkSize(buffer, id: id, size: size)
                try await client.putObject(bucket: bucket, key: id.storagePath, body: .bytes(buffer), sha256: id.hex)
            case .stream(let sequence):
                let verified = AnySendableByteSequence(VerifyingByteSequence(base: sequence, id: id, size: size))
                try await client.putObject(bucket: bucket, key: id.storagePath, body: .stream(length: size, verified), sha256: id.hex)
            }
        } catch let error as BlobStoreError {
            throw error
        } catch let error as S3Error {
            throw BlobStoreError(error.code == .badDigest ? .integrity : .storage, "chunk \(id): \(error)")
        } catch {
            // The request body failed underneath the HTTP client: most often our own verification.
            throw BlobStoreError(.storage, "chunk \(id): upload failed: \(error)")
        }
    }

    public func read<Result: Sendable>(_ id: ChunkID, range: ClosedRange<Int64>?, _ body: (BlobStream) async throws -> Result) async throws -> Result {
        let object: S3.ObjectStream
        do {
            if let range, let size = try await size(of: id) {
                _ = try BlobRange.resolve(range, size: size, id: id)
            }
            object = try await client.getObject(bucket: bucket, key: id.storagePath, range: range)
        } catch let error as S3Error where error.code == .noSuchKey {
            throw BlobStoreError(.notFound, "chunk \(id) is not stored here")
        } catch let error as S3Error {
            throw BlobStoreError(error.code == .init(rawValue: "InvalidRange") ? .invalidRange : .storage, "chunk \(id): \(error)")
        }
        return try await body(BlobStream(length: object.info.contentLength, bytes: AnySendableByteSequence(object.body)))
    }

    public func readWhole(_ id: ChunkID, limit: Int) async throws -> ByteBuffer {
        try await collectWhole(id, limit: limit)
    }

    public func size(of id: ChunkID) async throws -> Int64? {
        do {
            return try await client.headObject(bucket: bucket, key: id.storagePath).contentLength
        } catch let error as S3Error where error.code == .noSuchKey {
            return nil
        }
    }

    public func delete(_ id: ChunkID) async throws {
        try await client.deleteObject(bucket: bucket, key: id.storagePath)
    }

    public func list() -> AsyncThrowingStream<(id: ChunkID, size: Int64), any Error> {
        let objects = client.listAllObjects(bucket: bucket, prefix: "chunks")
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await object in objects {
                        guard let name = object.key.split(separator: "/").last, let id = ChunkID(String(name)), object.key == id.storagePath else { continue }
                        continuation.yield((id, object.size))
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
