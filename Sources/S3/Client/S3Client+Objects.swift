import AsyncHTTPClient
import Basics
import NIOCore
import NIOHTTP1

extension S3 {
    /// What `HeadObject` and `GetObject` report about an object.
    public struct ObjectInfo: Sendable, Equatable {
        /// Bytes in the object (for a ranged GET: in the returned range).
        public var contentLength: Int64
        public var etag: String?
    }

    /// A `GetObject` response whose body is still streaming from the server. Read `body` once.
    public struct ObjectStream: Sendable {
        public var info: ObjectInfo
        public var body: HTTPClientResponse.Body
    }

    /// One entry of a `ListObjectsV2` page.
    public struct ObjectSummary: Sendable, Equatable {
        public var key: String
        public var size: Int64
        public var etag: String?
    }

    /// One `ListObjectsV2` page and the token for the next, if any.
    public struct ObjectPage: Sendable {
        public var objects: [ObjectSummary]
        public var nextContinuationToken: String?
    }
}

extension S3.Client {
    /// Makes sure `bucket` exists: creates it, and accepts that it already exists and is ours.
    public func createBucket(_ bucket: String) async throws {
        try S3.validate(bucket: bucket)
        var body: S3.Client.Body?
        var payloadHash = S3.SigV4.emptyPayloadHash
        if configuration.region != "us-east-1" {
            let xml = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>"
            body = .bytes(ByteBuffer(string: xml))
            payloadHash = Hex.encode(SHA256Hex.digest(Array(xml.utf8)))
        }
        do {
            let response = try await send(.PUT, bucket: bucket, body: body, payloadHash: payloadHash)
            _ = try? await response.body.collect(upTo: 64 * 1024)
        } catch let error as S3Error where error.code == .bucketAlreadyOwnedByYou {
            return
        }
    }

    /// Uploads an object. `sha256` (hex) lets the server verify the body; without it the payload is
    /// sent as `UNSIGNED-PAYLOAD`. A streamed body is sent as it is read and never held whole in memory.
    @discardableResult
    public func putObject(bucket: String, key: String, body: Body, sha256: String? = nil, contentType: String? = nil) async throws -> String? {
        try S3.validate(bucket: bucket)
        try S3.validate(key: key)
        var headers: [(name: String, value: String)] = []
        if let contentType { headers.append(("Content-Type", contentType)) }
        let response = try await send(.PUT, bucket: bucket, key: key, headers: headers, body: body, payloadHash: sha256 ?? S3.SigV4.unsignedPayload)
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return response.headers.first(name: "ETag")
    }

    /// Starts downloading an object (or the inclusive byte `range` of it); the body streams as it is read.
    public func getObject(bucket: String, key: String, range: ClosedRange<Int64>? = nil) async throws -> S3.ObjectStream {
        try S3.validate(bucket: bucket)
        try S3.validate(key: key)
        var headers: [(name: String, value: String)] = []
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        let response = try await send(.GET, bucket: bucket, key: key, headers: headers)
        return S3.ObjectStream(info: try info(of: response), body: response.body)
    }

    /// An object's size and ETag; throws `NoSuchKey` when it is absent.
    public func headObject(bucket: String, key: String) async throws -> S3.ObjectInfo {
        try S3.validate(bucket: bucket)
        try S3.validate(key: key)
        return try info(of: try await send(.HEAD, bucket: bucket, key: key))
    }

    /// Deletes an object; deleting an absent key succeeds, as in S3.
    public func deleteObject(bucket: String, key: String) async throws {
        try S3.validate(bucket: bucket)
        try S3.validate(key: key)
        let response = try await send(.DELETE, bucket: bucket, key: key)
        _ = try? await response.body.collect(upTo: 64 * 1024)
    }

    /// One page of `ListObjectsV2` (up to `maxKeys`, at most 1000).
    public func listObjectsV2(bucket: String, prefix: String = "", continuationToken: String? = nil, maxKeys: Int = 1000) async throws -> S3.ObjectPage {
        try S3.validate(bucket: bucket)
        var query: [(name: String, value: String)] = [("list-type", "2"), ("max-keys", String(min(max(maxKeys, 1), 1000)))]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let response = try await send(.GET, bucket: bucket, query: query)
        let xml = Substring(String(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024)))
        guard xml.contains("<ListBucketResult") else { throw S3Error(.invalidResponse, "ListObjectsV2 answered without a ListBucketResult") }
        let objects = try S3XML.elements("Contents", in: xml).map { entry throws(S3Error) in
            guard let key = S3XML.value("Key", in: entry), let size = S3XML.value("Size", in: entry).flatMap({ Int64($0) }) else {
                throw S3Error(.invalidResponse, "ListObjectsV2 entry without Key or Size")
            }
            return S3.ObjectSummary(key: key, size: size, etag: S3XML.value("ETag", in: entry))
        }
        let truncated = S3XML.value("IsTruncated", in: xml) == "true"
        let next = truncated ? S3XML.value("NextContinuationToken", in: xml) : nil
        if truncated && next == nil { throw S3Error(.invalidResponse, "ListObjectsV2 truncated without a continuation token") }
        return S3.ObjectPage(objects: objects, nextContinuationToken: next)
    }

    /// Every object under `prefix`, following continuation tokens page by page.
    public func listAllObjects(bucket: String, prefix: String = "", pageSize: Int = 1000) -> AsyncThrowingStream<S3.ObjectSummary, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var token: String?
                    repeat {
                        let page = try await listObjectsV2(bucket: bucket, prefix: prefix, continuationToken: token, maxKeys: pageSize)
                        for object in page.objects { continuation.yield(object) }
                        token = page.nextContinuationToken
                    } while token != nil
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func info(of response: HTTPClientResponse) throws(S3Error) -> S3.ObjectInfo {
        guard let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }) else {
            throw S3Error(.invalidResponse, "response without Content-Length", status: Int(response.status.code))
        }
        return S3.ObjectInfo(contentLength: length, etag: response.headers.first(name: "ETag"))
    }
}
