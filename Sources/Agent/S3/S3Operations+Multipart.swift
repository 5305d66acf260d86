import Basics
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

/// Multipart uploads (DESIGN.md §16). An upload in progress is a set of files in a namespace of
/// its own beside the bucket owner's (`uploadsOwner`, which no user name or id can spell): the
/// upload's record at `bucket/uploadId` (an empty file whose attributes hold the object's key,
/// metadata and content type) and each part at `bucket/uploadId/NNNNN`, chunked, replicated and
/// deduplicated like any upload. Parts are files, so their chunks are live for GC while the
/// upload lasts. Completing writes the object's manifest over the parts' chunks (no byte is
/// copied) and then tombstones the record and the parts; aborting tombstones them, and the chunks
/// no other file names become garbage.
extension S3Operations {
    /// S3's limits: part numbers 1-10,000, every part but the last at least 5 MiB.
    static let maxParts = 10_000
    static let minPartBytes: Int64 = 5 << 20

    /// The namespace a bucket's uploads in progress live in: `^` and the owner's key (user
    /// names begin with a letter or digit and owner keys of ids with `~`, so none is spelled so).
    static func uploadsOwner(_ bucket: BucketRecord) -> String { "^" + UserRecord.namespaceKey(id: bucket.ownerID, name: bucket.owner) }

    static func uploadRecordKey(_ bucket: BucketRecord, _ uploadID: String) -> FileKey {
        FileKey(owner: uploadsOwner(bucket), path: "\(bucket.name)/\(uploadID)")
    }

    static func partKey(_ bucket: BucketRecord, _ uploadID: String, _ number: Int) -> FileKey {
        let digits = String(number)
        return FileKey(owner: uploadsOwner(bucket), path: "\(bucket.name)/\(uploadID)/" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits)
    }

    /// The upload the request names (`uploadId`), when it is in progress for this key.
    func upload(_ bucket: BucketRecord, key: String) async throws -> (id: String, record: Manifest) {
        let noSuchUpload = S3APIError(.notFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
        guard let id = query("uploadId"), id.utf8.count == 32, id.utf8.allSatisfy({ Hex.value(of: $0) != nil }) else { throw noSuchUpload }
        guard let record = try await agent.reader.latestManifest(Self.uploadRecordKey(bucket, id), agent.view.snapshot()), !record.deleted,
            record.object?.uploadKey.map({ $0.utf8.elementsEqual(key.utf8) }) == true
        else { throw noSuchUpload }
        return (id, record)
    }

    func createMultipartUpload() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        try refuseUnsupportedFeatures()
        let attributes = try ObjectHeaders(received, chunked: false)
        var random = SystemRandomNumberGenerator()
        let id = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
        let contentType = header("content-type") ?? "binary/octet-stream"
        let empty = Hex.encode(SHA256.hash(data: Data()))
        let createdAt = Int64(HybridClock.systemMilliseconds())
        let object = ObjectAttributes(md5: Hex.encode(Insecure.MD5.hash(data: Data())), metadata: attributes.metadata, headers: attributes.headers, uploadKey: key)
        let recordKey = Self.uploadRecordKey(bucket, id)
        _ = try await agent.writer.storeNewVersion(agent.view.snapshot()) { version in
            Manifest(
                owner: recordKey.owner, path: recordKey.path, size: 0, sha256: empty, chunkSize: Int64(agent.writer.chunkSize), chunks: [],
                contentType: contentType, createdAt: createdAt, version: version, object: object
            )
        }
        return Self.xml(S3.XMLFields(["Bucket": bucket.name, "Key": key, "UploadId": id]), root: "InitiateMultipartUploadResult")
    }

    /// The `partNumber` a part upload names: 1 to 10,000.
    func partNumber() throws -> Int {
        guard let text = query("partNumber"), let number = Int(text), (1...Self.maxParts).contains(number) else {
            throw S3APIError.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive")
        }
        return number
    }

    func uploadPart() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        let number = try partNumber()
        let (id, _) = try await upload(bucket, key: key)
        // Never inline: the completed object will name the part's chunks.
        let manifest = try await storeBody(as: Self.partKey(bucket, id, number), contentType: "application/octet-stream", attributes: ObjectHeaders(), inline: false)
        return Response(status: .ok, headers: Self.uploadHeaders(manifest))
    }

    /// The parts of an upload, by number (the newest version of each).
    func parts(_ bucket: BucketRecord, _ id: String) async throws -> [Int: FileSummary] {
        let owner = Self.uploadsOwner(bucket)
        let prefix = "\(bucket.name)/\(id)/"
        var found: [Int: FileSummary] = [:]
        var after: String?
        // At most 10,000 parts, in pages of 1,000.
        for _ in 0...(Self.maxParts / 1000 + 1) {
            let page = try await agent.reader.list(owner: owner, prefix: prefix, after: after, limit: 1000, agent.view.snapshot())
            guard !page.partial else { throw S3APIError(.serviceUnavailable, "ServiceUnavailable", "too many nodes did not answer to list the upload's parts; retry") }
            for file in page.files {
                if let number = Int(file.path.dropFirst(prefix.count)), (1...Self.maxParts).contains(number) { found[number] = file }
            }
            guard let next = page.next else { break }
            after = next
        }
        return found
    }

    func completeMultipartUpload() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        let (id, record) = try await upload(bucket, key: key)
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let body: S3.CompleteMultipartUploadBody
        do throws(S3.MalformedXML) {
            body = try S3.decodeXMLBody(S3.CompleteMultipartUploadBody.self, from: Array(bytes.readableBytesView))
        } catch {
            throw S3APIError(.badRequest, "MalformedXML", error.message)
        }
        guard !body.parts.isEmpty, body.parts.count <= Self.maxParts else {
            throw S3APIError(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema (1 to \(Self.maxParts) parts)")
        }
        guard zip(body.parts, body.parts.dropFirst()).allSatisfy({ $0.partNumber <= $1.partNumber }) else {
            throw S3APIError(.badRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
        }
        // A part number listed twice (a client that resent a part and listed both answers) counts
        // once, with its last entry: the ETag of the upload that finished last, which is the one kept.
        var listed: [S3.CompleteMultipartUploadBody.Part] = []
        for part in body.parts {
            if listed.last?.partNumber == part.partNumber { listed.removeLast() }
            listed.append(part)
        }
        let stored = try await parts(bucket, id)
        let invalidPart = S3APIError(.badRequest, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
        var chosen: [FileSummary] = []
        for (index, part) in listed.enumerated() {
            guard let file = stored[part.partNumber], S3Conditions.matches(part.etag, etag: file.etag ?? "") else { throw invalidPart }
            if index < listed.count - 1, file.size < Self.minPartBytes {
                throw S3APIError(.badRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size (each part but the last at least 5 MiB).")
            }
            chosen.append(file)
        }
        // Each chosen part's manifest, with its chunks: eight read at a time.
        let snapshot = agent.view.snapshot()
        let reader = agent.reader
        let manifests = try await mapConcurrently(chosen) { file in try await reader.latestManifest(file.key, snapshot) }
        var chunks: [ChunkReference] = []
        var size: Int64 = 0
        var md5s = Data()
        var composite = SHA256()
        composite.update(data: Data("multipart\u{0}".utf8))
        for (index, manifest) in manifests.enumerated() {
            guard let manifest, !manifest.deleted, !manifest.isInline, manifest.version == chosen[index].version, let object = manifest.object else { throw invalidPart }
            chunks += manifest.chunks
            size += manifest.size
            md5s.append(contentsOf: Hex.decode(object.md5) ?? [])
            composite.update(data: Data(manifest.sha256.utf8))
        }
        guard chunks.count <= Manifest.maxChunks, size <= agent.maxUploadBytes else {
            throw S3APIError(.contentTooLarge, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size (\(agent.maxUploadBytes) bytes).")
        }
        let object = ObjectAttributes(
            md5: Hex.encode(Insecure.MD5.hash(data: md5s)), parts: chosen.count, metadata: record.object?.metadata ?? [:], headers: record.object?.headers ?? [:]
        )
        let file = Self.fileKey(bucket, key)
        let createdAt = Int64(HybridClock.systemMilliseconds())
        // No single hash of the whole object is known without reading it: the file's sha256 is
        // a composite of the parts' (docs/s3.md); every chunk is still checked by its own.
        let sha256 = Hex.encode(composite.finalize())
        let completed = try await agent.storeOverStoredChunks(chunks, snapshot) { version in
            Manifest(
                owner: file.owner, path: file.path, size: size, sha256: sha256, chunkSize: Int64(agent.writer.chunkSize), chunks: chunks,
                contentType: record.contentType, createdAt: createdAt, version: version, object: object
            )
        }
        // The upload was aborted or expired, and its parts' chunks collected, since they were read.
        guard let written = completed else { throw invalidPart }
        try await forget(bucket, id, parts: Array(stored.values))
        agent.logger.info("multipart upload completed", metadata: ["bucket": "\(bucket.name)", "parts": "\(chosen.count)", "size": "\(size)"])
        let result = S3.XMLFields([
            "Location": "/\(bucket.name)/\(PercentEncoding.encode(key, keepSlash: true))", "Bucket": bucket.name, "Key": key, "ETag": "\"\(written.object?.etag ?? "")\"",
        ])
        return Self.xml(result, root: "CompleteMultipartUploadResult")
    }

    /// Tombstones an upload's record and parts (completed or aborted): chunks no live file names are then GC's.
    func forget(_ bucket: BucketRecord, _ id: String, parts: [FileSummary]) async throws {
        let writer = agent.writer
        _ = try await mapConcurrently([Self.uploadRecordKey(bucket, id)] + parts.map(\.key)) { key in _ = try await writer.delete(key) }
    }

    func abortMultipartUpload() async throws -> Response {
        let bucket = try await ownedBucket()
        let (id, _) = try await upload(bucket, key: try objectKey())
        try await forget(bucket, id, parts: Array(try await parts(bucket, id).values))
        return Response(status: .noContent)
    }

    func listParts() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        let (id, _) = try await upload(bucket, key: key)
        let maxParts = try count("max-parts", default: 1000, upTo: 1000)
        let marker = try count("part-number-marker", default: 0, upTo: Self.maxParts)
        let all = try await parts(bucket, id).filter { $0.key > marker }.sorted { $0.key < $1.key }
        let page = Array(all.prefix(maxParts))
        // An upload's initiator and owner are the bucket's owner, the only one who may upload to it.
        let list = S3.XMLPartList(
            bucket: bucket.name, key: key, uploadID: id, owner: bucket.owner, partNumberMarker: marker, nextPartNumberMarker: page.last?.key, maxParts: maxParts,
            isTruncated: all.count > page.count,
            parts: page.map { number, file in .init(partNumber: number, lastModified: S3Dates.iso8601(milliseconds: file.createdAt), etag: "\"\(file.etag ?? "")\"", size: file.size) }
        )
        return Self.xml(list, root: "ListPartsResult")
    }

    /// The bucket's uploads in progress, by key then upload id (at most `max-uploads`, 1,000).
    func listMultipartUploads() async throws -> Response {
        let bucket = try await ownedBucket()
        let prefix = query("prefix") ?? ""
        let maxUploads = try count("max-uploads", default: 1000, upTo: 1000)
        let keyMarker = query("key-marker") ?? ""
        let idMarker = query("upload-id-marker") ?? ""
        let owner = Self.uploadsOwner(bucket)
        var uploads: [(key: String, id: String, initiated: Int64)] = []
        var after: String?
        let base = "\(bucket.name)/"
        // Records sit among their parts; a bucket holds at most 100,000 records and parts listed here.
        pages: for _ in 0..<100 {
            let page = try await agent.reader.list(owner: owner, prefix: base, after: after, limit: 1000, agent.view.snapshot())
            guard !page.partial else { throw S3APIError(.serviceUnavailable, "ServiceUnavailable", "too many nodes did not answer to list the uploads; retry") }
            for file in page.files where !file.path.dropFirst(base.count).contains("/") {
                guard let record = try await agent.reader.latestManifest(file.key, agent.view.snapshot()), !record.deleted, let key = record.object?.uploadKey else { continue }
                let id = String(file.path.dropFirst(base.count))
                guard key.hasPrefix(prefix), (key, id) > (keyMarker, idMarker) || keyMarker.isEmpty else { continue }
                uploads.append((key, id, record.createdAt))
            }
            guard let next = page.next else { break pages }
            after = next
        }
        uploads.sort { ($0.key.utf8.lexicographicallyPrecedes($1.key.utf8)) || ($0.key == $1.key && $0.id < $1.id) }
        let page = Array(uploads.prefix(maxUploads))
        let truncated = uploads.count > page.count
        let list = S3.XMLUploadList(
            bucket: bucket.name, keyMarker: keyMarker, uploadIDMarker: idMarker, next: truncated ? page.last.map { ($0.key, $0.id) } : nil, prefix: prefix,
            maxUploads: maxUploads, isTruncated: truncated,
            uploads: page.map { .init(key: $0.key, uploadID: $0.id, owner: bucket.owner, initiated: S3Dates.iso8601(milliseconds: $0.initiated)) }
        )
        return Self.xml(list, root: "ListMultipartUploadsResult")
    }
}
