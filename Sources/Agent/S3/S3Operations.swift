import Basics
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

/// One authenticated S3 request, carried out over the agent's coordinators. Buckets are global
/// records; the object `k` of bucket `b` is the file `b/k` of the bucket's owner (docs/s3.md).
struct S3Operations {
    let agent: AgentContext
    let request: Request
    let received: S3.SigV4.ReceivedRequest
    let addressed: S3.Addressed
    let caller: Caller
    /// Where a download goes out (and whose share of the download places it takes).
    let connection: DownloadConnection

    func run() async throws -> Response {
        switch addressed.operation {
        case .listBuckets: return try await listBuckets()
        case .createBucket: return try await createBucket()
        case .headBucket:
            _ = try await ownedBucket()
            return Response(status: .ok)
        case .deleteBucket: return try await deleteBucket()
        case .getBucketLocation:
            _ = try await ownedBucket()
            return Self.xml(S3.XMLFields([:]), root: "LocationConstraint")
        case .listObjects: return try await listObjects(version: 1)
        case .listObjectsV2: return try await listObjects(version: 2)
        case .putObject: return try await putObject()
        case .getObject: return try await getObject(head: false)
        case .headObject: return try await getObject(head: true)
        case .deleteObject: return try await deleteObject()
        case .createMultipartUpload: return try await createMultipartUpload()
        case .uploadPart: return try await uploadPart()
        case .completeMultipartUpload: return try await completeMultipartUpload()
        case .abortMultipartUpload: return try await abortMultipartUpload()
        case .listParts: return try await listParts()
        case .listMultipartUploads: return try await listMultipartUploads()
        case .listObjectVersions: return try await listObjectVersions()
        case .deleteObjects: return try await deleteObjects()
        case .copyObject: return try await copyObject()
        case .uploadPartCopy: return try await uploadPartCopy()
        }
    }

    // MARK: Helpers

    func header(_ name: String) -> String? { received.values(of: name).first }

    func query(_ name: String) -> String? { received.query.first { $0.name == name }?.value }

    /// A count the query gives (`max-keys`, a marker number): a number from 0, at most `limit`.
    func count(_ name: String, default value: Int, upTo limit: Int) throws -> Int {
        guard let text = query(name) else { return value }
        guard let number = Int(text), number >= 0 else { throw S3APIError.invalidArgument("\(name) must be a number from 0") }
        return min(number, limit)
    }

    /// An XML answer: `value` encoded by XMLCoder under the root element `root`.
    static func xml(_ value: some Encodable, root: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/xml"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: S3.xmlDocument(value, root: root))))
    }

    /// The bucket the request names, when it exists and belongs to the caller.
    func ownedBucket() async throws -> BucketRecord {
        guard let name = addressed.bucket, let bucket = try await agent.local.metadata.bucket(name), !bucket.deleted else {
            throw S3APIError.noSuchBucket(addressed.bucket ?? "")
        }
        // No ACLs or policies: a bucket is its owner's alone.
        guard bucket.isOwned(by: caller.user) else { throw S3APIError.accessDenied() }
        return bucket
    }

    /// The file an object of `bucket` is: `bucket/key` in the bucket owner's namespace.
    static func fileKey(_ bucket: BucketRecord, _ key: String) -> FileKey {
        FileKey(owner: UserRecord.namespaceKey(id: bucket.ownerID, name: bucket.owner), path: "\(bucket.name)/\(key)")
    }

    // MARK: Buckets

    /// Every bucket is a global record every node keeps: a user may hold this many.
    static let maxBucketsPerUser = 1000

    private func listBuckets() async throws -> Response {
        let buckets = try await agent.local.metadata.globalRecords().buckets.filter { $0.isOwned(by: caller.user) }
        let list = S3.XMLBucketList(owner: caller.user.name, buckets: buckets.map { .init(name: $0.name, creationDate: S3Dates.iso8601(milliseconds: $0.createdAt)) })
        return Self.xml(list, root: "ListAllMyBucketsResult")
    }

    private func createBucket() async throws -> Response {
        guard let name = addressed.bucket else { throw S3APIError.invalidArgument("no bucket named") }
        // The body (CreateBucketConfiguration: a location constraint) names a region; there is one.
        var request = request
        _ = try await request.collectBody(upTo: 64 << 10)
        if let existing = try await agent.local.metadata.bucket(name), !existing.deleted {
            // As S3's us-east-1 does: creating a bucket one already owns succeeds and changes nothing.
            if existing.isOwned(by: caller.user) { return Response(status: .ok, headers: [.location: "/\(name)"]) }
            throw S3APIError(.conflict, "BucketAlreadyExists", "The requested bucket name is not available. Please select a different name and try again.")
        }
        let owned = try await agent.local.metadata.globalRecords().buckets.filter { $0.isOwned(by: caller.user) }.count
        guard owned < Self.maxBucketsPerUser else {
            throw S3APIError(.badRequest, "TooManyBuckets", "You have attempted to create more buckets than allowed (\(Self.maxBucketsPerUser) per user).")
        }
        let record = BucketRecord(
            name: name, owner: caller.user.name, ownerID: caller.user.id, createdAt: Int64(HybridClock.systemMilliseconds()), version: agent.local.clock.now()
        )
        try await agent.publish(GlobalRecords(buckets: [record]))
        agent.logger.info("bucket created", metadata: ["bucket": "\(name)", "owner": "\(caller.user.name)"])
        return Response(status: .ok, headers: [.location: "/\(name)"])
    }

    private func deleteBucket() async throws -> Response {
        var bucket = try await ownedBucket()
        let page = try await listing(bucket, prefix: "", after: nil, limit: 1)
        guard page.files.isEmpty else { throw S3APIError(.conflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.") }
        bucket.deleted = true
        bucket.version = agent.local.clock.now()
        try await agent.publish(GlobalRecords(buckets: [bucket]))
        agent.logger.info("bucket deleted", metadata: ["bucket": "\(bucket.name)", "owner": "\(caller.user.name)"])
        return Response(status: .noContent)
    }

    /// A page of a bucket's objects (file paths under `bucket/`), refusing to answer from a
    /// listing that may miss objects: a tool that syncs or deletes by what it lists must never
    /// see a partial one as the whole.
    func listing(_ bucket: BucketRecord, prefix: String, after: String?, limit: Int) async throws -> ListingPage {
        let base = Self.fileKey(bucket, "")
        let page = try await agent.reader.list(owner: base.owner, prefix: base.path + prefix, after: after.map { base.path + $0 }, limit: limit, agent.view.snapshot())
        guard !page.partial else {
            throw S3APIError(.serviceUnavailable, "ServiceUnavailable", "too many nodes did not answer to list this bucket completely (\(page.unanswered.map(\.rawValue).joined(separator: ", "))); retry")
        }
        return page
    }
}

/// Dates as S3 writes them.
enum S3Dates {
    /// `2026-12-02T17:10:00.000Z` (XML bodies).
    static func iso8601(milliseconds: Int64) -> String {
        let parts = utc(milliseconds / 1000)
        return "\(pad(parts.year, 4))-\(pad(parts.month))-\(pad(parts.day))T\(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)).\(pad(Int(milliseconds % 1000), 3))Z"
    }

    /// `Wed, 02 Dec 2026 17:10:00 GMT` (headers: IMF-fixdate).
    static func http(milliseconds: Int64) -> String {
        let parts = utc(milliseconds / 1000)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(days[parts.weekday]), \(pad(parts.day)) \(months[parts.month - 1]) \(pad(parts.year, 4)) \(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)) GMT"
    }

    private static func pad(_ value: Int, _ width: Int = 2) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func utc(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int) {
        var time = time_t(seconds)
        var fields = tm()
        gmtime_r(&time, &fields)
        return (Int(fields.tm_year) + 1900, Int(fields.tm_mon) + 1, Int(fields.tm_mday), Int(fields.tm_hour), Int(fields.tm_min), Int(fields.tm_sec), Int(fields.tm_wday))
    }
}
