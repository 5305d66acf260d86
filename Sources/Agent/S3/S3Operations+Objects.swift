import Basics
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

extension S3Operations {
    /// The largest single PutObject S3 takes (larger objects are multipart uploads).
    static let maxPutBytes: Int64 = 5 << 30

    // MARK: Put

    func putObject() async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        try refuseUnsupportedFeatures()
        let attributes = try ObjectHeaders(received, chunked: caller.signature.payload.isChunked)
        try await checkWriteConditions(Self.fileKey(bucket, key))
        let manifest = try await storeBody(as: Self.fileKey(bucket, key), contentType: header("content-type") ?? "binary/octet-stream", attributes: attributes)
        agent.logger.info("object stored", metadata: ["bucket": "\(bucket.name)", "size": "\(manifest.size)", "chunks": "\(manifest.chunks.count)"])
        return Response(status: .ok, headers: Self.uploadHeaders(manifest))
    }

    /// Headers of S3 features this server does not have, refused rather than ignored: a client
    /// that asked for encryption under its own key, a retention lock or tags must not believe
    /// it got them.
    static let unsupportedHeaders = [
        "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold", "x-amz-tagging", "x-amz-website-redirect-location",
    ]

    func refuseUnsupportedFeatures() throws {
        if let name = Self.unsupportedHeaders.first(where: { header($0) != nil }) {
            throw S3APIError(.notImplemented, "NotImplemented", "\(name) is not supported by this server")
        }
    }

    /// `If-None-Match: *` (create only) and `If-Match` on a write, checked against the newest
    /// version just before the body is taken. Not atomic with the write: two writers racing on
    /// the same key can both pass (docs/s3.md).
    func checkWriteConditions(_ file: FileKey) async throws {
        let ifNoneMatch = header("if-none-match"), ifMatch = header("if-match")
        guard ifNoneMatch != nil || ifMatch != nil else { return }
        if let ifNoneMatch, ifNoneMatch.trimmingSpaces() != "*" {
            throw S3APIError(.notImplemented, "NotImplemented", "If-None-Match on a write takes only *")
        }
        let current = try await agent.reader.latestManifest(file, agent.view.snapshot()).flatMap { $0.deleted ? nil : $0 }
        if ifNoneMatch != nil, current != nil {
            throw S3APIError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold (the object exists)")
        }
        if let ifMatch {
            guard let current else { throw S3APIError.noSuchKey() }
            guard S3Conditions.matches(ifMatch, etag: current.object?.etag ?? current.sha256) else {
                throw S3APIError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
            }
        }
    }

    /// The ETag and checksum an upload (an object or a part) is answered with.
    static func uploadHeaders(_ manifest: Manifest) -> HTTPFields {
        var headers: HTTPFields = [.eTag: "\"\(manifest.object?.etag ?? manifest.sha256)\""]
        for (algorithm, value) in manifest.object?.checksums ?? [:] {
            if let known = S3.ChecksumAlgorithm(rawValue: algorithm), let field = HTTPField.Name(known.headerName) { headers[field] = value }
        }
        return headers
    }

    /// Streams the request's body into the write coordinator as `file` (an object, or a part of
    /// a multipart upload): decoded from `aws-chunked` when it is framed so, checked against
    /// every digest and checksum it came with. Nothing is stored unless every check holds.
    func storeBody(as file: FileKey, contentType: String, attributes: ObjectHeaders, inline: Bool = true) async throws -> Manifest {
        let signature = caller.signature
        var decoder: S3.AWSChunkedDecoder?
        let length: Int64?
        if signature.payload.isChunked {
            guard let text = header("x-amz-decoded-content-length"), let decoded = Int64(text), decoded >= 0 else {
                throw S3APIError(.lengthRequired, "MissingContentLength", "an aws-chunked body needs x-amz-decoded-content-length")
            }
            length = decoded
            decoder = S3.AWSChunkedDecoder(
                signing: signature.payload == .unsignedChunksWithTrailer ? nil : signature.chunkSigning,
                signedTrailer: signature.payload == .signedChunksWithTrailer, announcedLength: decoded, trailer: header("x-amz-trailer")
            )
        } else {
            if let text = header("content-length") {
                guard let declared = Int64(text), declared >= 0 else { throw S3APIError.invalidArgument("Content-Length is not a number") }
                length = declared
            } else {
                // A body sent with Transfer-Encoding: chunked, its length known at its end.
                guard header("transfer-encoding")?.lowercased().contains("chunked") == true else {
                    throw S3APIError(.lengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
                }
                length = nil
            }
        }
        let limit = min(Self.maxPutBytes, agent.maxUploadBytes)
        guard (length ?? 0) <= limit else { throw S3APIError(.contentTooLarge, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size (\(limit) bytes).") }
        var checks = try UploadChecks(headers: received, trailerDeclared: decoder != nil ? header("x-amz-trailer") : nil)
        let expectedSHA256: String? = if case .sha256(let hex) = signature.payload { hex } else { nil }
        let body = request.body
        var trailers: [(name: String, value: String)] = []
        return try await agent.writer.store(
            maxLength: length ?? limit, expectedLength: length, expectedSHA256: expectedSHA256, inline: inline, contentType: { _ in contentType },
            object: { try await checks.finish(trailers: trailers, attributes: attributes) }
        ) { session in
            for try await buffer in body {
                // Taken out while it decodes, so the chunk it holds is never shared (and copied).
                if var chunked = decoder.take() {
                    var decoded: [ByteBuffer] = []
                    try chunked.feed(buffer) { decoded.append($0) }
                    decoder = chunked
                    for piece in decoded {
                        await checks.update(piece)
                        try await session.append(piece)
                    }
                } else {
                    await checks.update(buffer)
                    try await session.append(buffer)
                }
            }
            if var chunked = decoder { trailers = try chunked.finish() }
            return file
        }
    }

    func objectKey() throws -> String {
        guard let key = addressed.key, !key.isEmpty else { throw S3APIError.invalidArgument("no object key") }
        return key
    }

    // MARK: Get, head, delete

    func getObject(head: Bool) async throws -> Response {
        let bucket = try await ownedBucket()
        let key = try objectKey()
        let snapshot = agent.view.snapshot()
        guard let manifest = try await agent.reader.latestManifest(Self.fileKey(bucket, key), snapshot), !manifest.deleted else { throw S3APIError.noSuchKey() }
        let etag = manifest.object?.etag ?? manifest.sha256
        var headers: HTTPFields = [
            .eTag: "\"\(etag)\"", .lastModified: S3Dates.http(milliseconds: manifest.createdAt), .acceptRanges: "bytes", .contentType: manifest.contentType,
            // The S3 port is the same site as the dashboard: a browser must not guess a type and run an object as a page.
            .xContentTypeOptions: "nosniff",
        ]
        // Names come from a manifest, which a peer sent: only valid ones are answered with.
        for (name, value) in manifest.object?.headers ?? [:] where ObjectAttributes.contentHeaders.contains(name) {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        for (name, value) in manifest.object?.metadata ?? [:] {
            if let field = HTTPField.Name("x-amz-meta-" + name) { headers[field] = value }
        }
        // response-* overrides (a signed request, or a presigned URL, asks for them).
        for (parameter, field) in [("response-content-type", HTTPField.Name.contentType), ("response-content-language", .contentLanguage), ("response-expires", .expires),
                                   ("response-cache-control", .cacheControl), ("response-content-disposition", .contentDisposition), ("response-content-encoding", .contentEncoding)] {
            if let value = query(parameter) { headers[field] = value }
        }
        if let failure = S3Conditions(received).failure(etag: etag, modifiedMilliseconds: manifest.createdAt) {
            if failure == .notModified { return Response(status: .notModified, headers: headers) }
            throw S3APIError(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        var range: ClosedRange<Int64>?
        if let text = header("range") {
            switch ByteRange.parse(text, size: manifest.size) {
            case .whole: break
            case .range(let parsed): range = parsed
            case .unsatisfiable:
                var error = S3APIError(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
                error.headers[.contentRange] = "bytes */\(manifest.size)"
                throw error
            }
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(manifest.size)" }
        // A checksum is of the whole object: a client checks it against what it received, so a range gets none.
        if range == nil, header("x-amz-checksum-mode")?.lowercased() == "enabled" {
            for (algorithm, value) in manifest.object?.checksums ?? [:] {
                if let known = S3.ChecksumAlgorithm(rawValue: algorithm), let field = HTTPField.Name(known.headerName) { headers[field] = value }
            }
        }
        guard manifest.size > 0 else {
            headers[.contentLength] = "0"
            return Response(status: status, headers: headers, body: ResponseBody())
        }
        let bytes = range ?? 0...(manifest.size - 1)
        headers[.contentLength] = String(bytes.upperBound - bytes.lowerBound + 1)
        if head { return Response(status: status, headers: headers, body: ResponseBody()) }
        return Response(status: status, headers: headers, body: try await ManifestBody.stream(manifest, bytes: bytes, reader: agent.reader, snapshot, to: connection))
    }

    /// S3 answers 204 whether or not the object existed.
    func deleteObject() async throws -> Response {
        let bucket = try await ownedBucket()
        let file = Self.fileKey(bucket, try objectKey())
        if let manifest = try await agent.reader.latestManifest(file, agent.view.snapshot()), !manifest.deleted {
            _ = try await agent.writer.delete(file)
        }
        return Response(status: .noContent)
    }
}
