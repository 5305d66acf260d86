import Basics

extension S3 {
    /// What an S3 request asks for: its bucket and key, taken from the path (path-style) or the
    /// host (virtual-hosted style), and the operation, from the method, the subresources in the
    /// query and the copy-source header. Pure: the agent's S3 listener routes on it.
    public struct Addressed: Sendable, Equatable {
        public var bucket: String?
        /// The object key, any UTF-8 text up to 1024 bytes (slashes, empty segments and a
        /// trailing slash are all part of it).
        public var key: String?
        public var operation: Operation
    }

    public enum Operation: Sendable, Equatable {
        case listBuckets
        case createBucket, headBucket, deleteBucket, getBucketLocation
        case listObjects, listObjectsV2, listObjectVersions, listMultipartUploads, deleteObjects
        case putObject, copyObject, getObject, headObject, deleteObject
        case createMultipartUpload, uploadPart, uploadPartCopy, completeMultipartUpload, abortMultipartUpload, listParts
    }

    /// Why a request names no operation (S3 codes).
    public struct AddressingError: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Code: String, Sendable {
            case invalidURI = "InvalidURI"
            case invalidBucketName = "InvalidBucketName"
            case keyTooLong = "KeyTooLongError"
            case methodNotAllowed = "MethodNotAllowed"
            case notImplemented = "NotImplemented"
            case invalidArgument = "InvalidArgument"
        }

        public var code: Code
        public var message: String

        public init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        public var status: Int {
            switch code {
            case .invalidURI, .invalidBucketName, .keyTooLong, .invalidArgument: 400
            case .methodNotAllowed: 405
            case .notImplemented: 501
            }
        }

        public var description: String { "\(code.rawValue): \(message)" }
    }

    /// Query names that pick an S3 feature this server does not have: answered 501
    /// `NotImplemented`, never mistaken for a plain GET or PUT of the bucket or object.
    static let unsupportedSubresources: Set<String> = [
        "accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory", "legal-hold",
        "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
        "publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select", "tagging", "torrent",
        "versioning", "website",
    ]

    /// Addresses a request. `rawPath` is the encoded path; `host` the `Host` header; with a
    /// `domain` (`s3_domain`), `bucket.domain` names the bucket virtual-hosted style.
    public static func address(
        method: String, rawPath: String, query: [(name: String, value: String)], host: String?, domain: String?, hasCopySource: Bool
    ) throws(AddressingError) -> Addressed {
        guard let pathBytes = PercentEncoding.decodeBytes(rawPath), let path = String(validating: pathBytes, as: UTF8.self), path.hasPrefix("/") else {
            throw AddressingError(.invalidURI, "the request path is not valid percent-encoded UTF-8 starting with /")
        }
        var bucket: String?
        var key: String?
        if let domain, !domain.isEmpty, let host, let name = virtualHostedBucket(host: host, domain: domain) {
            bucket = name
            key = path.count > 1 ? String(path.dropFirst()) : nil
        } else {
            let rest = path.dropFirst()
            if let slash = rest.firstIndex(of: "/") {
                bucket = String(rest[..<slash])
                let after = rest[rest.index(after: slash)...]
                key = after.isEmpty ? nil : String(after)
            } else if !rest.isEmpty {
                bucket = String(rest)
            }
        }
        if let bucket {
            do {
                try S3.validate(bucket: bucket)
            } catch {
                throw AddressingError(.invalidBucketName, "\"\(bucket.prefix(80))\" is not a valid bucket name: 3-63 of a-z, 0-9, . and -, starting and ending with a letter or digit")
            }
        }
        if let key, key.utf8.count > 1024 { throw AddressingError(.keyTooLong, "an object key is at most 1024 bytes; this one is \(key.utf8.count)") }
        let names = Set(query.map(\.name))
        if let unsupported = names.intersection(unsupportedSubresources).sorted().first {
            throw AddressingError(.notImplemented, "?\(unsupported) is not supported by this server")
        }
        // Buckets are unversioned: the only version there is is "null". Ignoring another id
        // would read or delete the current object in place of the one asked for.
        if let version = query.first(where: { $0.name == "versionId" }), version.value != "null" {
            throw AddressingError(.invalidArgument, "invalid version id specified: buckets here are not versioned (only versionId=null exists)")
        }
        let operation = try Self.operation(method: method, bucket: bucket, key: key, names: names, hasCopySource: hasCopySource)
        return Addressed(bucket: bucket, key: key, operation: operation)
    }

    private static func operation(method: String, bucket: String?, key: String?, names: Set<String>, hasCopySource: Bool) throws(AddressingError) -> Operation {
        func refuse() -> AddressingError {
            AddressingError(.methodNotAllowed, "\(method.prefix(16)) is not allowed on this resource")
        }
        guard bucket != nil else {
            guard method == "GET" else { throw refuse() }
            return .listBuckets
        }
        guard key != nil else {
            switch method {
            case "GET":
                if names.contains("location") { return .getBucketLocation }
                if names.contains("versions") { return .listObjectVersions }
                if names.contains("uploads") { return .listMultipartUploads }
                return names.contains("list-type") ? .listObjectsV2 : .listObjects
            case "HEAD": return .headBucket
            case "PUT": return .createBucket
            case "DELETE": return .deleteBucket
            case "POST":
                guard names.contains("delete") else { throw refuse() }
                return .deleteObjects
            default: throw refuse()
            }
        }
        switch method {
        case "PUT":
            if names.contains("uploadId") || names.contains("partNumber") { return hasCopySource ? .uploadPartCopy : .uploadPart }
            return hasCopySource ? .copyObject : .putObject
        case "GET": return names.contains("uploadId") ? .listParts : .getObject
        case "HEAD": return .headObject
        case "DELETE": return names.contains("uploadId") ? .abortMultipartUpload : .deleteObject
        case "POST":
            if names.contains("uploads") { return .createMultipartUpload }
            if names.contains("uploadId") { return .completeMultipartUpload }
            throw refuse()
        default: throw refuse()
        }
    }

    /// The bucket of `bucket.domain[:port]`, or nil when the host is not under `domain`.
    static func virtualHostedBucket(host: String, domain: String) -> String? {
        var name = host.lowercased()
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        let suffix = "." + domain.lowercased()
        guard name.hasSuffix(suffix), name.count > suffix.count else { return nil }
        return String(name.dropLast(suffix.count))
    }
}
