import Basics
import ByteStreams
import Crypto
import Foundation
import NIOCore
import S3

/// What an S3 upload's body is checked against as it streams: its MD5 (the ETag, and
/// `Content-MD5` when sent) and at most one `x-amz-checksum-*`, from a header or from the
/// `aws-chunked` trailer. Nothing is stored unless every one of them holds.
///
/// The digests run pipelined (`PipelinedDigest`) over batches of about a MiB, off the task that
/// reads the body: MD5 is the slowest hash an upload takes (about 750 MB/s a core here, against
/// SHA-256's 1.8 GB/s), and on the reading task it would cap an S3 upload below a REST one.
struct UploadChecks {
    private struct Digests: Sendable {
        var md5 = Insecure.MD5()
        var checksummer: S3.Checksummer?
    }

    /// A batch is digested once it holds a MiB, or this many buffers (an `aws-chunked` body of
    /// tiny chunks decodes to tiny buffers: the batch must not grow into a long list of them).
    private static let batchBytes = 1 << 20
    private static let batchBuffers = 256
    private var digests: PipelinedDigest<Digests>
    private var batch: [ByteBuffer] = []
    private var batchedBytes = 0
    private let contentMD5: [UInt8]?
    /// The checksum's value from a header; nil when it comes in the trailer (or is only asked for).
    private let expectedChecksum: String?
    private let checksumInTrailer: Bool

    init(headers: S3.SigV4.ReceivedRequest, trailerDeclared: String?) throws {
        if let text = headers.values(of: "content-md5").first {
            guard let data = Data(base64Encoded: text), data.count == 16 else { throw S3APIError(.badRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.") }
            contentMD5 = Array(data)
        } else {
            contentMD5 = nil
        }
        for field in headers.headers {
            let name = field.name.lowercased()
            if name.hasPrefix("x-amz-checksum-"), !["x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm"].contains(name), S3.ChecksumAlgorithm(headerName: name) == nil {
                throw S3APIError(.badRequest, "InvalidRequest", "\(name.prefix(60)) is not a checksum this server knows (crc32, crc32c, crc64nvme, sha1, sha256)")
            }
        }
        let sent = headers.headers.compactMap { field -> (S3.ChecksumAlgorithm, String)? in
            S3.ChecksumAlgorithm(headerName: field.name.lowercased()).map { ($0, field.value) }
        }
        guard sent.count <= 1 else { throw S3APIError(.badRequest, "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum types are not allowed.") }
        let trailerAlgorithm = trailerDeclared.flatMap { S3.ChecksumAlgorithm(headerName: $0.trimmingSpaces().lowercased()) }
        if trailerDeclared != nil, trailerAlgorithm == nil {
            throw S3APIError(.badRequest, "InvalidRequest", "x-amz-trailer must name one x-amz-checksum- header")
        }
        guard sent.isEmpty || trailerAlgorithm == nil else { throw S3APIError(.badRequest, "InvalidRequest", "a checksum in a header and another in the trailer") }
        var algorithm = sent.first?.0 ?? trailerAlgorithm
        if let asked = headers.values(of: "x-amz-sdk-checksum-algorithm").first {
            guard let named = S3.ChecksumAlgorithm(name: asked) else { throw S3APIError.invalidArgument("Invalid x-amz-sdk-checksum-algorithm: \(asked.prefix(40))") }
            guard algorithm == nil || algorithm == named else { throw S3APIError(.badRequest, "InvalidRequest", "x-amz-sdk-checksum-algorithm names another checksum than the one sent") }
            algorithm = named
        }
        digests = PipelinedDigest(Digests(checksummer: algorithm.map { S3.Checksummer($0) })) { digests, bytes in
            digests.md5.update(bufferPointer: bytes)
            digests.checksummer?.update(bytes)
        }
        expectedChecksum = sent.first?.1
        checksumInTrailer = trailerAlgorithm != nil
    }

    /// Takes the next bytes of the body (shared, not copied); may wait while earlier batches are digested.
    mutating func update(_ buffer: ByteBuffer) async {
        batch.append(buffer)
        batchedBytes += buffer.readableBytes
        if batchedBytes >= Self.batchBytes || batch.count >= Self.batchBuffers { await flush() }
    }

    private mutating func flush() async {
        await digests.feed(batch)
        batch = []
        batchedBytes = 0
    }

    /// The object's attributes once the body has ended; throws `BadDigest` when a checksum differs.
    mutating func finish(trailers: [(name: String, value: String)], attributes: ObjectHeaders) async throws -> ObjectAttributes {
        await flush()
        let result = await digests.result()
        let digest = Array(result.md5.finalize())
        if let contentMD5, contentMD5 != digest { throw S3APIError(.badRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.") }
        var checksums: [String: String] = [:]
        if let checksummer = result.checksummer {
            let computed = checksummer.base64
            let expected = checksumInTrailer ? trailers.first { S3.ChecksumAlgorithm(headerName: $0.name) == checksummer.algorithm }?.value : expectedChecksum
            if checksumInTrailer, expected == nil { throw S3APIError(.badRequest, "InvalidRequest", "the declared checksum trailer did not arrive") }
            if let expected, expected.trimmingSpaces() != computed {
                throw S3APIError(.badRequest, "BadDigest", "The \(checksummer.algorithm.rawValue.uppercased()) you specified did not match the calculated checksum.")
            }
            checksums[checksummer.algorithm.rawValue] = computed
        }
        return ObjectAttributes(md5: Hex.encode(digest), metadata: attributes.metadata, headers: attributes.headers, checksums: checksums)
    }
}

/// The user metadata and content headers of an upload, kept with the object.
struct ObjectHeaders: Sendable {
    var metadata: [String: String] = [:]
    var headers: [String: String] = [:]

    /// S3's limit on user metadata (names and values of `x-amz-meta-*`).
    static let maxMetadataBytes = 2048
    /// What the kept content headers (`Cache-Control`, `Content-Disposition`, …) may hold.
    static let maxContentHeaderBytes = 4096

    /// None (a part of a multipart upload: the upload's record holds them).
    init() {}

    init(_ request: S3.SigV4.ReceivedRequest, chunked: Bool) throws {
        var bytes = 0, headerBytes = 0
        for field in request.headers {
            let name = field.name.lowercased()
            if name.hasPrefix("x-amz-meta-") {
                let short = String(name.dropFirst("x-amz-meta-".count))
                guard !short.isEmpty else { continue }
                bytes += short.utf8.count + field.value.utf8.count
                metadata[short] = metadata[short].map { $0 + "," + field.value } ?? field.value
            } else if ObjectAttributes.contentHeaders.contains(name) {
                var value = field.value
                // aws-chunked is how a body is framed, not how the object is encoded (S3 drops it too).
                if name == "content-encoding", value.lowercased().contains("aws-chunked") {
                    value = value.split(separator: ",").map { $0.trimmingSpaces() }.filter { $0.lowercased() != "aws-chunked" }.joined(separator: ", ")
                    if value.isEmpty { continue }
                }
                headerBytes += name.utf8.count + value.utf8.count
                headers[name] = value
            }
        }
        guard bytes <= Self.maxMetadataBytes else {
            throw S3APIError(.badRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size (\(Self.maxMetadataBytes) bytes).")
        }
        guard headerBytes <= Self.maxContentHeaderBytes else {
            throw S3APIError(.badRequest, "InvalidArgument", "The content headers kept with an object are at most \(Self.maxContentHeaderBytes) bytes.")
        }
    }
}

/// `If-Match`, `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since` (RFC 9110 §13.2.2,
/// as S3 applies them: a matching If-Match overrides If-Unmodified-Since, and a failing
/// If-None-Match overrides If-Modified-Since).
struct S3Conditions {
    enum Failure: Equatable { case notModified, preconditionFailed }

    let ifMatch: String?
    let ifNoneMatch: String?
    let ifModifiedSince: Int64?
    let ifUnmodifiedSince: Int64?

    init(_ request: S3.SigV4.ReceivedRequest, prefix: String = "") {
        ifMatch = request.values(of: prefix + "if-match").first
        ifNoneMatch = request.values(of: prefix + "if-none-match").first
        // An unparsable date is ignored, as HTTP says.
        ifModifiedSince = request.values(of: prefix + "if-modified-since").first.flatMap { S3.SigV4.AmzDate(httpDate: $0)?.secondsSince1970 }
        ifUnmodifiedSince = request.values(of: prefix + "if-unmodified-since").first.flatMap { S3.SigV4.AmzDate(httpDate: $0)?.secondsSince1970 }
    }

    func failure(etag: String, modifiedMilliseconds: Int64) -> Failure? {
        let modified = modifiedMilliseconds / 1000
        if let ifMatch {
            guard Self.matches(ifMatch, etag: etag) else { return .preconditionFailed }
        } else if let ifUnmodifiedSince, modified > ifUnmodifiedSince {
            return .preconditionFailed
        }
        if let ifNoneMatch {
            if Self.matches(ifNoneMatch, etag: etag) { return .notModified }
        } else if let ifModifiedSince, modified <= ifModifiedSince {
            return .notModified
        }
        return nil
    }

    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            var value = tag.trimmingSpaces()[...]
            if value.hasPrefix("W/") { value = value.dropFirst(2) }
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return value == "*" || value == etag
        }
    }
}
