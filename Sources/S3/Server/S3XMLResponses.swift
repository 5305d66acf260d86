import Foundation
import XMLCoder

extension S3 {
    /// Text in an S3 XML answer. XMLCoder builds the document; the text is escaped here, as S3
    /// escapes it (`XMLEscaping.escape`): XMLCoder replaces only the five markup characters, and
    /// a key may hold a CR or a control character that XML carries only as a character
    /// reference. Every string of an answer is an `XMLText`, so nothing reaches the document
    /// unescaped (`document` turns XMLCoder's own escaping off, or `&` would be escaped twice).
    public struct XMLText: Encodable, Sendable, Equatable, ExpressibleByStringLiteral {
        public var value: String
        /// Characters XML 1.0 forbids become U+FFFD rather than references (error bodies, which
        /// echo client text, must parse everywhere).
        public var replacingForbidden = false

        public init(_ value: String, replacingForbidden: Bool = false) {
            self.value = value
            self.replacingForbidden = replacingForbidden
        }

        public init(stringLiteral value: String) { self.value = value }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(XMLEscaping.escape(value, replacingForbidden: replacingForbidden))
        }
    }

    /// The namespace S3's answers carry on their root element.
    public static let xmlNamespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// `value` as an S3 XML document with root element `root`: a declaration, and S3's namespace
    /// unless `namespaced` is false (error bodies have none).
    public static func xmlDocument(_ value: some Encodable, root: String, namespaced: Bool = true) -> Data {
        let encoder = XMLEncoder()
        // Every string is an `XMLText`, escaped already.
        encoder.charactersEscapedInElements = []
        encoder.charactersEscapedInAttributes = [("&", "&amp;"), ("<", "&lt;"), ("\"", "&quot;")]
        do {
            return try encoder.encode(
                value, withRootKey: root, rootAttributes: namespaced ? ["xmlns": xmlNamespace] : nil, header: XMLHeader(version: 1.0, encoding: "UTF-8")
            )
        } catch {
            // The answer types hold strings, numbers and lists: nothing XMLCoder can refuse.
            preconditionFailure("an S3 answer did not encode: \(error)")
        }
    }

    /// The owner of a bucket or object, or the initiator of an upload.
    public struct XMLOwner: Encodable, Sendable {
        public var id: XMLText
        public var displayName: XMLText

        public init(_ name: String) {
            id = XMLText(name)
            displayName = XMLText(name)
        }

        enum CodingKeys: String, CodingKey {
            case id = "ID"
            case displayName = "DisplayName"
        }
    }

    /// `<Prefix>` within `<CommonPrefixes>`.
    public struct XMLCommonPrefix: Encodable, Sendable {
        public var prefix: XMLText
        public init(_ prefix: String) { self.prefix = XMLText(prefix) }
        enum CodingKeys: String, CodingKey { case prefix = "Prefix" }
    }

    /// An object in a listing (`<Contents>`, or `<Version>` with a version id and `IsLatest`).
    public struct XMLListedObject: Encodable, Sendable {
        public var key: XMLText
        public var versionID: XMLText?
        public var isLatest: Bool?
        public var lastModified: XMLText
        public var etag: XMLText
        public var size: Int64
        public var owner: XMLOwner?
        public var storageClass: XMLText = "STANDARD"

        public init(key: String, versionID: String? = nil, isLatest: Bool? = nil, lastModified: String, etag: String, size: Int64, owner: String?) {
            self.key = XMLText(key)
            self.versionID = versionID.map { XMLText($0) }
            self.isLatest = isLatest
            self.lastModified = XMLText(lastModified)
            self.etag = XMLText(etag)
            self.size = size
            self.owner = owner.map(XMLOwner.init)
        }

        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case versionID = "VersionId"
            case isLatest = "IsLatest"
            case lastModified = "LastModified"
            case etag = "ETag"
            case size = "Size"
            case owner = "Owner"
            case storageClass = "StorageClass"
        }
    }

    /// ListObjects (v1 and v2) and ListObjectVersions: the same fields, each present in the
    /// answers that have it (nil fields are left out).
    public struct XMLListing: Encodable, Sendable {
        public var name: XMLText
        public var prefix: XMLText
        public var marker: XMLText?
        public var keyMarker: XMLText?
        public var versionIDMarker: XMLText?
        public var nextMarker: XMLText?
        public var nextKeyMarker: XMLText?
        public var nextVersionIDMarker: XMLText?
        public var continuationToken: XMLText?
        public var startAfter: XMLText?
        public var keyCount: Int?
        public var maxKeys: Int
        public var delimiter: XMLText?
        public var encodingType: XMLText?
        public var isTruncated: Bool
        public var nextContinuationToken: XMLText?
        public var contents: [XMLListedObject] = []
        public var versions: [XMLListedObject] = []
        public var commonPrefixes: [XMLCommonPrefix] = []

        public init(name: String, prefix: String, maxKeys: Int, isTruncated: Bool) {
            self.name = XMLText(name)
            self.prefix = XMLText(prefix)
            self.maxKeys = maxKeys
            self.isTruncated = isTruncated
        }

        enum CodingKeys: String, CodingKey {
            case name = "Name", prefix = "Prefix", marker = "Marker", keyMarker = "KeyMarker", versionIDMarker = "VersionIdMarker"
            case nextMarker = "NextMarker", nextKeyMarker = "NextKeyMarker", nextVersionIDMarker = "NextVersionIdMarker"
            case continuationToken = "ContinuationToken", startAfter = "StartAfter", keyCount = "KeyCount", maxKeys = "MaxKeys"
            case delimiter = "Delimiter", encodingType = "EncodingType", isTruncated = "IsTruncated", nextContinuationToken = "NextContinuationToken"
            case contents = "Contents", versions = "Version", commonPrefixes = "CommonPrefixes"
        }
    }

    /// ListBuckets.
    public struct XMLBucketList: Encodable, Sendable {
        public struct Bucket: Encodable, Sendable {
            public var name: XMLText
            public var creationDate: XMLText
            public init(name: String, creationDate: String) {
                self.name = XMLText(name)
                self.creationDate = XMLText(creationDate)
            }
            enum CodingKeys: String, CodingKey { case name = "Name", creationDate = "CreationDate" }
        }

        struct Buckets: Encodable, Sendable {
            var bucket: [Bucket]
            enum CodingKeys: String, CodingKey { case bucket = "Bucket" }
        }

        var owner: XMLOwner
        var buckets: Buckets

        public init(owner: String, buckets: [Bucket]) {
            self.owner = XMLOwner(owner)
            self.buckets = Buckets(bucket: buckets)
        }

        enum CodingKeys: String, CodingKey { case owner = "Owner", buckets = "Buckets" }
    }

    /// An answer of named text fields in a fixed order: CopyObjectResult, CopyPartResult,
    /// InitiateMultipartUploadResult, CompleteMultipartUploadResult, an empty LocationConstraint.
    public struct XMLFields: Encodable, Sendable {
        public var fields: KeyValuePairs<String, String>

        public init(_ fields: KeyValuePairs<String, String>) { self.fields = fields }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (name, value) in fields { try container.encode(XMLText(value), forKey: Key(stringValue: name)) }
        }
    }

    /// ListParts.
    public struct XMLPartList: Encodable, Sendable {
        public struct Part: Encodable, Sendable {
            public var partNumber: Int
            public var lastModified: XMLText
            public var etag: XMLText
            public var size: Int64
            public init(partNumber: Int, lastModified: String, etag: String, size: Int64) {
                self.partNumber = partNumber
                self.lastModified = XMLText(lastModified)
                self.etag = XMLText(etag)
                self.size = size
            }
            enum CodingKeys: String, CodingKey { case partNumber = "PartNumber", lastModified = "LastModified", etag = "ETag", size = "Size" }
        }

        public var bucket: XMLText
        public var key: XMLText
        public var uploadID: XMLText
        public var partNumberMarker: Int
        public var nextPartNumberMarker: Int?
        public var maxParts: Int
        public var isTruncated: Bool
        public var initiator: XMLOwner
        public var owner: XMLOwner
        public var storageClass: XMLText = "STANDARD"
        public var parts: [Part]

        public init(bucket: String, key: String, uploadID: String, owner: String, partNumberMarker: Int, nextPartNumberMarker: Int?, maxParts: Int, isTruncated: Bool, parts: [Part]) {
            self.bucket = XMLText(bucket)
            self.key = XMLText(key)
            self.uploadID = XMLText(uploadID)
            initiator = XMLOwner(owner)
            self.owner = XMLOwner(owner)
            self.partNumberMarker = partNumberMarker
            self.nextPartNumberMarker = nextPartNumberMarker
            self.maxParts = maxParts
            self.isTruncated = isTruncated
            self.parts = parts
        }

        enum CodingKeys: String, CodingKey {
            case bucket = "Bucket", key = "Key", uploadID = "UploadId", partNumberMarker = "PartNumberMarker", nextPartNumberMarker = "NextPartNumberMarker"
            case maxParts = "MaxParts", isTruncated = "IsTruncated", initiator = "Initiator", owner = "Owner", storageClass = "StorageClass", parts = "Part"
        }
    }

    /// ListMultipartUploads.
    public struct XMLUploadList: Encodable, Sendable {
        public struct Upload: Encodable, Sendable {
            public var key: XMLText
            public var uploadID: XMLText
            public var initiator: XMLOwner
            public var owner: XMLOwner
            public var storageClass: XMLText = "STANDARD"
            public var initiated: XMLText
            public init(key: String, uploadID: String, owner: String, initiated: String) {
                self.key = XMLText(key)
                self.uploadID = XMLText(uploadID)
                initiator = XMLOwner(owner)
                self.owner = XMLOwner(owner)
                self.initiated = XMLText(initiated)
            }
            enum CodingKeys: String, CodingKey { case key = "Key", uploadID = "UploadId", initiator = "Initiator", owner = "Owner", storageClass = "StorageClass", initiated = "Initiated" }
        }

        public var bucket: XMLText
        public var keyMarker: XMLText
        public var uploadIDMarker: XMLText
        public var nextKeyMarker: XMLText?
        public var nextUploadIDMarker: XMLText?
        public var prefix: XMLText
        public var maxUploads: Int
        public var isTruncated: Bool
        public var uploads: [Upload]

        public init(bucket: String, keyMarker: String, uploadIDMarker: String, next: (key: String, uploadID: String)?, prefix: String, maxUploads: Int, isTruncated: Bool, uploads: [Upload]) {
            self.bucket = XMLText(bucket)
            self.keyMarker = XMLText(keyMarker)
            self.uploadIDMarker = XMLText(uploadIDMarker)
            nextKeyMarker = next.map { XMLText($0.key) }
            nextUploadIDMarker = next.map { XMLText($0.uploadID) }
            self.prefix = XMLText(prefix)
            self.maxUploads = maxUploads
            self.isTruncated = isTruncated
            self.uploads = uploads
        }

        enum CodingKeys: String, CodingKey {
            case bucket = "Bucket", keyMarker = "KeyMarker", uploadIDMarker = "UploadIdMarker", nextKeyMarker = "NextKeyMarker", nextUploadIDMarker = "NextUploadIdMarker"
            case prefix = "Prefix", maxUploads = "MaxUploads", isTruncated = "IsTruncated", uploads = "Upload"
        }
    }

    /// DeleteObjects: what was deleted (unless quiet) and what failed.
    public struct XMLDeleteResult: Encodable, Sendable {
        public struct Deleted: Encodable, Sendable {
            public var key: XMLText
            enum CodingKeys: String, CodingKey { case key = "Key" }
        }

        public struct Failure: Encodable, Sendable {
            public var key: XMLText
            public var code: XMLText
            public var message: XMLText
            enum CodingKeys: String, CodingKey { case key = "Key", code = "Code", message = "Message" }
        }

        public var deleted: [Deleted] = []
        public var errors: [Failure] = []

        public init() {}

        public mutating func deleted(_ key: String) { deleted.append(Deleted(key: XMLText(key))) }
        public mutating func failed(_ key: String, code: String, message: String) { errors.append(Failure(key: XMLText(key), code: XMLText(code), message: XMLText(message))) }

        enum CodingKeys: String, CodingKey { case deleted = "Deleted", errors = "Error" }
    }

    /// The body of an S3 error answer.
    public static func errorXML(code: String, message: String, resource: String?, requestID: String) -> Data {
        struct Body: Encodable {
            var code: XMLText, message: XMLText, resource: XMLText?, requestID: XMLText
            enum CodingKeys: String, CodingKey { case code = "Code", message = "Message", resource = "Resource", requestID = "RequestId" }
        }
        let body = Body(
            code: XMLText(code, replacingForbidden: true), message: XMLText(message, replacingForbidden: true),
            resource: resource.map { XMLText($0, replacingForbidden: true) }, requestID: XMLText(requestID, replacingForbidden: true)
        )
        return xmlDocument(body, root: "Error", namespaced: false)
    }
}
