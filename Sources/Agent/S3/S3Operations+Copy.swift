import Basics
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

/// CopyObject and UploadPartCopy (DESIGN.md §16). A whole-object copy is a new manifest over the
/// source's chunks: no byte is read or moved. A ranged part copy (`x-amz-copy-source-range`)
/// streams just those bytes through the write coordinator (its chunks start at the part, so
/// they are new chunks), and so does working out the MD5 of a source stored through REST (which
/// has none): the ETag clients check needs it.
extension S3Operations {
    /// The object `x-amz-copy-source` names (`bucket/key`, percent-encoded, an optional leading
    /// `/` and `?versionId=null`), which the caller must own, with the `x-amz-copy-source-if-*`
    /// conditions checked (412 when one fails).
    func copySource() async throws -> (bucket: BucketRecord, key: String, manifest: Manifest) {
        guard var text = header("x-amz-copy-source") else { throw S3APIError.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey") }
        if let question = text.firstIndex(of: "?") {
            let suffix = text[text.index(after: question)...]
            guard suffix == "versionId=null" else { throw S3APIError.invalidArgument("Invalid version id specified: buckets here are not versioned") }
            text = String(text[..<question])
        }
        if text.hasPrefix("/") { text.removeFirst() }
        guard let bytes = PercentEncoding.decodeBytes(text), let decoded = String(validating: bytes, as: UTF8.self), let slash = decoded.firstIndex(of: "/") else {
            throw S3APIError.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        let name = String(decoded[..<slash])
        let key = String(decoded[decoded.index(after: slash)...])
        guard !key.isEmpty, key.utf8.count <= 1024, (try? S3.validate(bucket: name)) != nil else {
            throw S3APIError.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        guard let bucket = try await agent.local.metadata.bucket(name), !bucket.deleted else { throw S3APIError.noSuchBucket(name) }
        guard bucket.isOwned(by: caller.user) else { throw S3APIError.accessDenied() }
        guard let manifest = try await agent.reader.latestManifest(Self.fileKey(bucket, key), agent.view.snapshot()), !manifest.deleted else {
            throw S3APIError.noSuchKey()
        }
        if S3Conditions(received, prefix: "x-amz-copy-source-").failure(etag: manifest.object?.etag ?? manifest.sha256, modifiedMilliseconds: manifest.createdAt) != nil {
            throw S3APIError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        return (bucket, key, manifest)
    }

    func copyObject() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        try refuseUnsupportedFeatures()
        let source = try await copySource()
        let directive = header("x-amz-metadata-directive")?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else { throw S3APIError.invalidArgument("Unknown metadata directive.") }
        let file = Self.fileKey(bucket, key)
        if directive == "COPY", source.manifest.key == file {
            throw S3APIError(.badRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        try await checkWriteConditions(file)
        let md5 = try await sourceMD5(source.manifest)
        let object: ObjectAttributes
        let contentType: String
        if directive == "COPY" {
            object = ObjectAttributes(
                md5: md5, parts: source.manifest.object?.parts, metadata: source.manifest.object?.metadata ?? [:], headers: source.manifest.object?.headers ?? [:],
                checksums: source.manifest.object?.checksums ?? [:]
            )
            contentType = source.manifest.contentType
        } else {
            let headers = try ObjectHeaders(received, chunked: false)
            object = ObjectAttributes(md5: md5, parts: source.manifest.object?.parts, metadata: headers.metadata, headers: headers.headers, checksums: source.manifest.object?.checksums ?? [:])
            contentType = header("content-type") ?? source.manifest.contentType
        }
        let written = try await writeCopy(of: source.manifest, as: file, contentType: contentType, object: object)
        return Self.xml(S3.XMLFields(["LastModified": S3Dates.iso8601(milliseconds: written.createdAt), "ETag": "\"\(object.etag)\""]), root: "CopyObjectResult")
    }

    /// A new version of `file` over the source's chunks (the chunks stay where they are).
    func writeCopy(of source: Manifest, as file: FileKey, contentType: String, object: ObjectAttributes) async throws -> Manifest {
        let createdAt = Int64(HybridClock.systemMilliseconds())
        let snapshot = agent.view.snapshot()
        let written = try await agent.storeOverStoredChunks(source.chunks, snapshot) { version in
            Manifest(
                owner: file.owner, path: file.path, size: source.size, sha256: source.sha256, chunkSize: source.chunkSize, chunks: source.chunks,
                contentType: contentType, createdAt: createdAt, version: version, object: object, inline: source.inline
            )
        }
        // The source was deleted, and its chunks collected, since it was read.
        guard let written else { throw S3APIError.noSuchKey() }
        return written
    }

    /// The source's MD5 as its ETag has it (the parts' MD5 for a multipart object), read and
    /// computed for a file stored through REST (which has none).
    func sourceMD5(_ manifest: Manifest) async throws -> String {
        if let md5 = manifest.object?.md5 { return md5 }
        var md5 = Insecure.MD5()
        try await streamBytes(of: manifest, 0...max(0, manifest.size - 1)) { buffer in buffer.withUnsafeReadableBytes { md5.update(bufferPointer: $0) } }
        return Hex.encode(md5.finalize())
    }

    /// Hands `bytes` of a file to `consume` chunk slice by chunk slice, as they are fetched and verified.
    func streamBytes(of manifest: Manifest, _ bytes: ClosedRange<Int64>, _ consume: (ByteBuffer) async throws -> Void) async throws {
        guard manifest.size > 0 else { return }
        if let inline = ReadCoordinator.inlineBytes(of: manifest, bytes) { return try await consume(inline) }
        let offsets = manifest.chunkOffsets
        let first = offsets.lastIndex { $0 <= bytes.lowerBound } ?? 0
        let last = offsets.lastIndex { $0 <= bytes.upperBound } ?? 0
        // A copy streams its source like a download, and counts as one.
        let place: DownloadBudget.Lease
        do { place = try agent.reader.budget.startDownload(for: connection.client) } catch { throw error.apiError }
        var fetcher = agent.reader.chunks(of: manifest, indices: first..<(last + 1), agent.view.snapshot())
        defer {
            fetcher.cancel()
            place.release()
        }
        while let (index, chunk) = try await fetcher.next() {
            let start = max(bytes.lowerBound - offsets[index], 0)
            let end = min(bytes.upperBound - offsets[index], Int64(chunk.readableBytes) - 1)
            guard end >= start, let slice = chunk.getSlice(at: chunk.readerIndex + Int(start), length: Int(end - start + 1)) else {
                throw ReplicationError(.noReadableReplica, "chunk \(index) of \(manifest.key) is shorter than its manifest says")
            }
            try await consume(slice)
        }
    }

    func uploadPartCopy() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        let number = try partNumber()
        let (id, _) = try await upload(bucket, key: key)
        let source = try await copySource()
        let part = Self.partKey(bucket, id, number)
        let written: Manifest
        var range: ClosedRange<Int64>?
        if let rangeText = header("x-amz-copy-source-range") {
            let invalid = S3APIError(.badRequest, "InvalidRange", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
            guard rangeText.hasPrefix("bytes=") else { throw invalid }
            let ends = rangeText.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, let first = Int64(ends[0]), let last = Int64(ends[1]), first >= 0, first <= last, last < source.manifest.size,
                last - first < Self.maxPutBytes
            else { throw invalid }
            range = first...last
        } else if source.manifest.isInline {
            // A part is never inline (the completed object names its chunks): copy the bytes into one.
            range = 0...(source.manifest.size - 1)
        }
        if let range {
            let (first, last) = (range.lowerBound, range.upperBound)
            var md5 = Insecure.MD5()
            let manifest = source.manifest
            written = try await agent.writer.store(
                maxLength: last - first + 1, expectedLength: last - first + 1, inline: false, contentType: { _ in "application/octet-stream" },
                object: { ObjectAttributes(md5: Hex.encode(md5.finalize())) }
            ) { session in
                try await streamBytes(of: manifest, first...last) { slice in
                    slice.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                    try await session.append(slice)
                }
                return part
            }
        } else {
            // The part's ETag is the MD5 of its bytes: read them when the source's MD5 is not that
            // (a multipart object's is of its parts).
            var md5 = source.manifest.object.flatMap { $0.parts == nil ? $0.md5 : nil }
            if md5 == nil {
                var hasher = Insecure.MD5()
                try await streamBytes(of: source.manifest, 0...max(0, source.manifest.size - 1)) { buffer in buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
                md5 = Hex.encode(hasher.finalize())
            }
            written = try await writeCopy(of: source.manifest, as: part, contentType: "application/octet-stream", object: ObjectAttributes(md5: md5!))
        }
        let result = S3.XMLFields(["LastModified": S3Dates.iso8601(milliseconds: written.createdAt), "ETag": "\"\(written.object?.etag ?? "")\""])
        return Self.xml(result, root: "CopyPartResult")
    }

    /// DeleteObjects: up to 1,000 keys in an XML body (its Content-MD5 or checksum checked),
    /// each deleted as DeleteObject would; every key is answered (`Quiet` answers only errors).
    func deleteObjects() async throws -> Response {
        let bucket = try await ownedBucket()
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        var checks = try UploadChecks(headers: received, trailerDeclared: nil)
        await checks.update(bytes)
        _ = try await checks.finish(trailers: [], attributes: ObjectHeaders())
        if case .sha256(let expected) = caller.signature.payload, Hex.encode(SHA256.hash(data: Data(bytes.readableBytesView))) != expected {
            throw S3APIError(.badRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        let body: S3.DeleteObjectsBody
        do throws(S3.MalformedXML) {
            body = try S3.decodeXMLBody(S3.DeleteObjectsBody.self, from: Array(bytes.readableBytesView))
        } catch {
            throw S3APIError(.badRequest, "MalformedXML", error.message)
        }
        guard (1...1000).contains(body.objects.count) else {
            throw S3APIError(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema (1 to 1000 objects)")
        }
        enum Outcome: Sendable { case deleted(String), failed(String, code: String, message: String) }
        let snapshot = agent.view.snapshot()
        let (reader, writer) = (agent.reader, agent.writer)
        let outcomes = try await mapConcurrently(body.objects) { object -> Outcome in
            guard !object.key.isEmpty, object.key.utf8.count <= 1024 else { return .failed(object.key, code: "InvalidArgument", message: "an object key is 1 to 1024 bytes") }
            if let version = object.versionID, version != "null" { return .failed(object.key, code: "NoSuchVersion", message: "The specified version does not exist.") }
            let file = Self.fileKey(bucket, object.key)
            do {
                if let manifest = try await reader.latestManifest(file, snapshot), !manifest.deleted { _ = try await writer.delete(file) }
                return .deleted(object.key)
            } catch {
                let failure = S3APIError.from(error)
                return .failed(object.key, code: failure.code, message: failure.message)
            }
        }
        var result = S3.XMLDeleteResult()
        for outcome in outcomes {
            switch outcome {
            case .deleted(let key): if !body.quiet { result.deleted(key) }
            case .failed(let key, let code, let message): result.failed(key, code: code, message: message)
            }
        }
        return Self.xml(result, root: "DeleteResult")
    }
}
