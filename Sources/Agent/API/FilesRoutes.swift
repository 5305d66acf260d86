import Basics
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PublicAPI
import Ring

/// `/api/v1/files` and `/api/v1/meta`: upload, download, delete, list, and where chunks live.
struct FilesRoutes {
    let agent: AgentContext

    func register(on router: RouterGroup<AgentRequestContext>) {
        router.put("/api/v1/files/**") { request, context in try await upload(request, context) }
        router.post("/api/v1/files") { request, context in try await uploadMultipart(request, context) }
        router.get("/api/v1/files/**") { request, context in try await download(request, context, head: false) }
        router.head("/api/v1/files/**") { request, context in try await download(request, context, head: true) }
        router.delete("/api/v1/files/**") { request, context in try await delete(request, context) }
        router.get("/api/v1/files") { request, context in try await list(request, context) }
        router.get("/api/v1/meta/**") { request, context in try await meta(request, context) }
    }

    // MARK: Keys

    /// The file a request names: the path after `prefix`, in the caller's namespace (or, for an
    /// admin, the one named by `?owner=`).
    private func fileKey(_ request: Request, prefix: String, principal: Principal) async throws -> (key: FileKey, namespace: Namespace) {
        let raw = request.uri.path
        guard raw.hasPrefix(prefix) else { throw APIError.badRequest("invalid_path", "the path is empty") }
        let path = try FilePathRules.validate(try FilePathRules.percentDecode(raw.dropFirst(prefix.count)))
        let namespace = try await namespace(request, principal: principal)
        return (FileKey(owner: namespace.key, path: path), namespace)
    }

    /// Whose files a request is about: the caller's, or for an admin those of the user `?owner=` names.
    private func namespace(_ request: Request, principal: Principal) async throws -> Namespace {
        guard let owner = try QueryItems(request.uri.query)["owner"], owner != principal.name else {
            return Namespace(name: principal.name, id: principal.id)
        }
        guard principal.isAdmin else { throw APIError.forbidden("only admins may use another user's namespace") }
        guard UserRecord.isValidName(owner) else { throw APIError.badRequest("invalid_name", "\"\(owner)\" is not a user name") }
        guard let user = try await agent.local.metadata.user(owner), !user.deleted else { throw APIError.notFound("no user \(owner)") }
        return Namespace(name: user.name, id: user.id)
    }

    // MARK: Upload

    private func upload(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let (key, namespace) = try await fileKey(request, prefix: "/api/v1/files/", principal: principal)
        let expectedSHA256 = try Self.expectedChecksum(request.headers)
        var expectedLength: Int64?
        if let text = request.headers[.contentLength] {
            guard let length = Int64(text), length >= 0 else { throw APIError.badRequest("bad_request", "Content-Length is not a number") }
            guard length <= agent.maxUploadBytes else { throw APIError(.contentTooLarge, "too_large", "uploads are limited to \(agent.maxUploadBytes) bytes") }
            expectedLength = length
        }
        let manifest = try await agent.writer.store(
            maxLength: min(expectedLength ?? .max, agent.maxUploadBytes), expectedLength: expectedLength, expectedSHA256: expectedSHA256,
            contentType: { ContentTypes.guess(path: $0.path) }
        ) { session in
            for try await buffer in request.body { try await session.append(buffer) }
            return key
        }
        context.logger.info("file stored", metadata: ["file": "\(key)", "size": "\(manifest.size)", "chunks": "\(manifest.chunks.count)"])
        return created(manifest, namespace)
    }

    private func uploadMultipart(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let namespace = try await namespace(request, principal: principal)
        guard let contentType = request.headers[.contentType], let boundary = MultipartParser.boundary(fromContentType: contentType) else {
            throw APIError.badRequest("bad_multipart", "send Content-Type: multipart/form-data with a boundary")
        }
        let expectedSHA256 = try Self.expectedChecksum(request.headers)
        let manifest = try await agent.writer.store(
            maxLength: agent.maxUploadBytes, expectedSHA256: expectedSHA256, contentType: { ContentTypes.guess(path: $0.path) }
        ) { session in
            var parser = MultipartParser(boundary: boundary)
            var current: String?
            var filename: String?
            var pathField: ByteBuffer?
            var sawFile = false
            for try await buffer in request.body {
                let events: [MultipartParser.Event]
                do throws(MultipartParser.Failure) { events = try parser.feed(buffer) } catch { throw APIError.badRequest("bad_multipart", error.message) }
                for event in events {
                    switch event {
                    case .partBegin(let name, let file):
                        current = name
                        if name == "file" {
                            guard !sawFile else { throw APIError.badRequest("bad_multipart", "send exactly one part named file") }
                            sawFile = true
                            filename = file
                        } else if name == "path" {
                            pathField = ByteBuffer()
                        }
                    case .body(let bytes):
                        if current == "file" {
                            try await session.append(bytes)
                        } else if current == "path", var field = pathField {
                            guard field.readableBytes + bytes.readableBytes <= FilePathRules.maxBytes else { throw APIError.badRequest("invalid_path", "the path field is too long") }
                            field.writeImmutableBuffer(bytes)
                            pathField = field
                        }
                    case .partEnd:
                        current = nil
                    }
                }
            }
            do throws(MultipartParser.Failure) { try parser.finish() } catch { throw APIError.badRequest("bad_multipart", error.message) }
            guard sawFile else { throw APIError.badRequest("bad_multipart", "the form has no part named file") }
            let rawPath = pathField.map { String(buffer: $0) } ?? filename ?? ""
            guard !rawPath.isEmpty else { throw APIError.badRequest("invalid_path", "give a path field or a file name") }
            return FileKey(owner: namespace.key, path: try FilePathRules.validate(rawPath))
        }
        context.logger.info("file stored (form)", metadata: ["file": "\(manifest.key)", "size": "\(manifest.size)"])
        return created(manifest, namespace)
    }

    private func created(_ manifest: Manifest, _ namespace: Namespace) -> Response {
        var response = Response.json(status: .created, FileInfo(manifest, owner: namespace.name))
        response.headers[.eTag] = "\"\(manifest.sha256)\""
        return response
    }

    /// The SHA-256 the client promised, from `X-Checksum-SHA256` (hex) or `Repr-Digest` (RFC 9530).
    static func expectedChecksum(_ headers: HTTPFields) throws -> String? {
        if let hex = headers[HTTPField.Name("X-Checksum-SHA256")!] {
            let value = hex.lowercased()
            guard ChunkID(value) != nil else { throw APIError.badRequest("bad_checksum", "X-Checksum-SHA256 must be 64 hex digits") }
            return value
        }
        guard let digest = headers[HTTPField.Name("Repr-Digest")!] else { return nil }
        for item in digest.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces().lowercased() == "sha-256" else { continue }
            let value = pair[1].trimmingSpaces()
            guard value.hasPrefix(":"), value.hasSuffix(":"), value.count > 2, let data = Data(base64Encoded: String(value.dropFirst().dropLast())), data.count == 32 else {
                throw APIError.badRequest("bad_checksum", "Repr-Digest sha-256 must be :<base64 of 32 bytes>:")
            }
            return Hex.encode(data)
        }
        return nil
    }

    // MARK: Download

    private func download(_ request: Request, _ context: AgentRequestContext, head: Bool) async throws -> Response {
        let principal = try context.requireIdentity()
        let key = try await fileKey(request, prefix: "/api/v1/files/", principal: principal).key
        let snapshot = agent.view.snapshot()
        guard let manifest = try await agent.reader.latestManifest(key, snapshot), !manifest.deleted else { throw APIError.notFound("no file \(key.path)") }
        var headers: HTTPFields = [
            .eTag: "\"\(manifest.sha256)\"", .acceptRanges: "bytes", .contentType: manifest.contentType,
            HTTPField.Name("X-Checksum-SHA256")!: manifest.sha256,
            HTTPField.Name("Repr-Digest")!: "sha-256=:\(Self.base64(hex: manifest.sha256)):",
        ]
        FileResponseSafety.apply(to: &headers, path: manifest.path, contentType: manifest.contentType)
        if let match = request.headers[.ifNoneMatch], Self.etagMatches(match, sha256: manifest.sha256) {
            return Response(status: .notModified, headers: headers)
        }
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range] {
            switch ByteRange.parse(header, size: manifest.size) {
            case .whole: break
            case .range(let parsed): range = parsed
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(manifest.size)"
                throw { var error = APIError(.rangeNotSatisfiable, "bad_range", "the range is outside the file's \(manifest.size) bytes"); error.headers = headers; return error }()
            }
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(manifest.size)" }
        // An empty file has no byte range at all (and no chunks).
        guard manifest.size > 0 else {
            headers[.contentLength] = "0"
            return Response(status: status, headers: headers, body: ResponseBody())
        }
        let bytes = range ?? 0...(manifest.size - 1)
        let length = bytes.upperBound - bytes.lowerBound + 1
        headers[.contentLength] = String(length)
        if head { return Response(status: status, headers: headers, body: ResponseBody()) }

        let body = try await ManifestBody.stream(manifest, bytes: bytes, reader: agent.reader, snapshot, to: context.download)
        return Response(status: status, headers: headers, body: body)
    }

    static func etagMatches(_ header: String, sha256: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let value = tag.trimmingSpaces()
            return value == "*" || value == "\"\(sha256)\"" || value == "W/\"\(sha256)\""
        }
    }

    static func base64(hex: String) -> String {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            func value(_ c: UInt8) -> UInt8 { c >= 0x61 ? c - 0x61 + 10 : c - 0x30 }
            bytes.append(value(high) << 4 | value(low))
        }
        return Data(bytes).base64EncodedString()
    }

    // MARK: Delete, list, meta

    private func delete(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let key = try await fileKey(request, prefix: "/api/v1/files/", principal: principal).key
        guard let manifest = try await agent.reader.latestManifest(key, agent.view.snapshot()), !manifest.deleted else { throw APIError.notFound("no file \(key.path)") }
        _ = try await agent.writer.delete(key)
        context.logger.info("file deleted", metadata: ["file": "\(key)"])
        return Response(status: .noContent)
    }

    /// Scatter-gather over every available node's shard, merged by version (DESIGN.md §8).
    private func list(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        // The router matches `/api/v1/files/` here too; a trailing slash names a file with an empty path.
        guard !request.uri.path.hasSuffix("/") else { throw APIError.badRequest("invalid_path", "the file path is empty (list with GET /api/v1/files)") }
        let query = try QueryItems(request.uri.query)
        let namespace = try await namespace(request, principal: principal)
        let prefix = query["prefix"] ?? ""
        let limit = try query.int("limit", default: 100, in: 1...1000)
        let page = try await agent.reader.list(owner: namespace.key, prefix: prefix, after: query["after"], limit: limit, agent.view.snapshot())
        return .json(FileListing(files: page.files.map { FileInfo($0, owner: namespace.name) }, next: page.next, partial: page.partial, unansweredNodes: page.unanswered.map(\.rawValue)))
    }

    private func meta(_ request: Request, _ context: AgentRequestContext) async throws -> Response {
        let principal = try context.requireIdentity()
        let (key, namespace) = try await fileKey(request, prefix: "/api/v1/meta/", principal: principal)
        let snapshot = agent.view.snapshot()
        guard let manifest = try await agent.reader.latestManifest(key, snapshot), !manifest.deleted else { throw APIError.notFound("no file \(key.path)") }
        let offsets = manifest.chunkOffsets
        var chunks: [FileMeta.Chunk] = []
        for (index, reference) in manifest.chunks.enumerated() {
            chunks.append(.init(index: index, sha256: reference.id.hex, size: reference.size, offset: offsets[index], replicas: await agent.reader.holders(of: reference.id, snapshot).map(\.rawValue)))
        }
        return .json(FileMeta(file: FileInfo(manifest, owner: namespace.name), chunks: chunks))
    }
}

/// A parsed `Range` header for one byte range (RFC 9110 §14).
enum ByteRange: Equatable {
    case whole
    case range(ClosedRange<Int64>)
    case unsatisfiable

    /// Several ranges, or a syntax this does not know, are served as the whole file (allowed by the RFC).
    static func parse(_ header: String, size: Int64) -> ByteRange {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).trimmingSpaces()
        let pieces = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2 else { return .whole }
        if pieces[0].isEmpty {
            guard let suffix = Int64(pieces[1]) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .range(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int64(pieces[0]), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if pieces[1].isEmpty { return .range(start...(size - 1)) }
        guard let end = Int64(pieces[1]), end >= start else { return .whole }
        return .range(start...min(end, size - 1))
    }
}
