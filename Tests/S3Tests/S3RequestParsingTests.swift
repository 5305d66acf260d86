import Basics
import Foundation
import Simulation
import Testing
@testable import S3

/// How the S3 listener reads a request: bucket, key and operation; how it writes XML; and how it
/// pages ListObjects with delimiters.
@Suite("S3 request parsing and listing pages")
struct S3RequestParsingTests {
    func address(_ method: String, _ path: String, _ query: String = "", host: String = "127.0.0.1:3900", domain: String? = nil, copy: Bool = false) throws(S3.AddressingError) -> S3.Addressed {
        let parsed = S3.SigV4.ReceivedRequest(method: method, rawPath: path, rawQuery: query, headers: []).query
        return try S3.address(method: method, rawPath: path, query: parsed, host: host, domain: domain, hasCopySource: copy)
    }

    func operation(_ method: String, _ path: String, _ query: String = "", copy: Bool = false) -> S3.Operation? {
        try? address(method, path, query, copy: copy).operation
    }

    @Test("every operation is told apart by method, path, subresource and copy source")
    func operations() throws {
        let table: [(String, String, String, Bool, S3.Operation)] = [
            ("GET", "/", "", false, .listBuckets),
            ("PUT", "/bucket", "", false, .createBucket), ("PUT", "/bucket/", "", false, .createBucket),
            ("HEAD", "/bucket", "", false, .headBucket), ("DELETE", "/bucket", "", false, .deleteBucket),
            ("GET", "/bucket", "location", false, .getBucketLocation), ("GET", "/bucket", "", false, .listObjects),
            ("GET", "/bucket", "list-type=2&prefix=a", false, .listObjectsV2), ("GET", "/bucket", "versions", false, .listObjectVersions),
            ("GET", "/bucket", "uploads", false, .listMultipartUploads), ("POST", "/bucket", "delete", false, .deleteObjects),
            ("PUT", "/bucket/key", "", false, .putObject), ("PUT", "/bucket/key", "x-id=PutObject", false, .putObject),
            ("PUT", "/bucket/key", "", true, .copyObject), ("GET", "/bucket/key", "", false, .getObject),
            ("GET", "/bucket/key", "response-content-type=text%2Fplain", false, .getObject),
            ("HEAD", "/bucket/key", "", false, .headObject), ("DELETE", "/bucket/key", "", false, .deleteObject),
            ("POST", "/bucket/key", "uploads", false, .createMultipartUpload),
            ("PUT", "/bucket/key", "partNumber=1&uploadId=u", false, .uploadPart), ("PUT", "/bucket/key", "partNumber=1&uploadId=u", true, .uploadPartCopy),
            ("POST", "/bucket/key", "uploadId=u", false, .completeMultipartUpload), ("DELETE", "/bucket/key", "uploadId=u", false, .abortMultipartUpload),
            ("GET", "/bucket/key", "uploadId=u", false, .listParts),
        ]
        for (method, path, query, copy, expected) in table {
            #expect(operation(method, path, query, copy: copy) == expected, "\(method) \(path)?\(query)")
        }
    }

    @Test("keys are everything after the bucket: slashes, empty segments, encoded bytes")
    func keys() throws {
        #expect(try address("GET", "/b-1/a//b/").key == "a//b/")
        #expect(try address("GET", "/b-1//lead").key == "/lead")
        #expect(try address("GET", "/b-1/caf%C3%A9%20x%2By").key == "café x+y")
        #expect(try address("GET", "/b-1/%2E%2E/x").key == "../x")
        #expect(try address("GET", "/b-1/" + String(repeating: "k", count: 1024)).key?.utf8.count == 1024)
        #expect(throws: S3.AddressingError.self) { try address("GET", "/b-1/" + String(repeating: "k", count: 1025)) }
        #expect(throws: S3.AddressingError.self) { try address("GET", "/b-1/%FF") }
        #expect(throws: S3.AddressingError.self) { try address("GET", "/b-1/%zz") }
        #expect(throws: S3.AddressingError.self) { try address("GET", "no-slash") }
    }

    @Test("virtual-hosted style names the bucket in the host when a domain is configured")
    func virtualHosted() throws {
        let addressed = try address("GET", "/photos/2026/a.jpg", host: "my-bucket.s3.example.test:3900", domain: "s3.example.test")
        #expect(addressed.bucket == "my-bucket" && addressed.key == "photos/2026/a.jpg" && addressed.operation == .getObject)
        #expect(try address("GET", "/", host: "My-Bucket.S3.Example.Test", domain: "s3.example.test").operation == .listObjects)
        // The domain itself, or another host, is path-style.
        #expect(try address("GET", "/b-1/k", host: "s3.example.test", domain: "s3.example.test").bucket == "b-1")
        #expect(try address("GET", "/b-1/k", host: "other.test", domain: "s3.example.test").bucket == "b-1")
        #expect(try address("GET", "/b-1/k", host: "x.s3.example.test").bucket == "b-1", "no domain: always path-style")
    }

    @Test("bad bucket names, unsupported subresources and methods get S3's codes")
    func refusals() {
        func code(_ method: String, _ path: String, _ query: String = "") -> S3.AddressingError.Code? {
            do {
                _ = try address(method, path, query)
                return nil
            } catch {
                return error.code
            }
        }
        for bad in ["/ab", "/Bucket", "/-bucket", "/bucket-", "/bu..cket", "/" + String(repeating: "b", count: 64), "/bu_cket"] {
            #expect(code("GET", bad) == .invalidBucketName, "\(bad)")
        }
        #expect(code("GET", "/bucket", "acl") == .notImplemented)
        #expect(code("PUT", "/bucket/key", "tagging") == .notImplemented)
        #expect(code("GET", "/bucket", "versioning") == .notImplemented)
        #expect(code("PUT", "/") == .methodNotAllowed)
        #expect(code("PATCH", "/bucket/key") == .methodNotAllowed)
        #expect(code("POST", "/bucket/key") == .methodNotAllowed)
        #expect(code("POST", "/bucket") == .methodNotAllowed)
        #expect(code("GET", "/bucket/key", "versionId=3HL4kqtJlcpXroDTDmJ") == .invalidArgument, "no versions but null")
        #expect(code("DELETE", "/bucket/key", "versionId=x") == .invalidArgument)
        #expect(code("GET", "/bucket/key", "versionId=null") == nil)
    }

    @Test("XML text is escaped; error bodies carry code, message, resource and request id")
    func xml() {
        #expect(S3.XMLEscaping.escape("a<b>&\"'\u{1}é\t") == "a&lt;b&gt;&amp;&quot;&apos;&#x1;é\t")
        #expect(S3.XMLEscaping.escape("a\rb\nc") == "a&#xD;b\nc", "a CR survives parsing only as a reference")
        func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
        #expect(text(S3.errorXML(code: "InvalidBucketName", message: "m", resource: "/\u{1}b", requestID: "r")).contains("<Resource>/\u{FFFD}b</Resource>"), "error bodies stay well-formed XML 1.0")
        let body = text(S3.errorXML(code: "NoSuchKey", message: "The specified key does not exist.", resource: "/b/<k>", requestID: "r1"))
        #expect(body.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"))
        #expect(body.hasSuffix("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/b/&lt;k&gt;</Resource><RequestId>r1</RequestId></Error>"))
        // A listing: S3's namespace on the root, fields in S3's order, nil fields left out, lists as repeated elements.
        var listing = S3.XMLListing(name: "bucket", prefix: "", maxKeys: 1000, isTruncated: false)
        listing.keyCount = 2
        listing.contents = [
            S3.XMLListedObject(key: "a&b\rc", lastModified: "2026-12-02T00:00:00.000Z", etag: "\"e\"", size: 3, owner: nil),
            S3.XMLListedObject(key: "\u{1}", lastModified: "2026-12-02T00:00:00.000Z", etag: "\"f\"", size: 0, owner: "alice"),
        ]
        listing.commonPrefixes = [S3.XMLCommonPrefix("p/")]
        let xml = text(S3.xmlDocument(listing, root: "ListBucketResult"))
        #expect(xml.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&#xD;c</Key><LastModified>"), "\(xml)")
        #expect(xml.contains("<ETag>&quot;e&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>&#x1;</Key>"), "\(xml)")
        #expect(xml.contains("<Owner><ID>alice</ID><DisplayName>alice</DisplayName></Owner>") && xml.hasSuffix("<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"), "\(xml)")
        #expect(!xml.contains("Marker") && !xml.contains("Version"), "nil fields are left out")
        let empty = text(S3.xmlDocument(S3.XMLFields([:]), root: "LocationConstraint"))
        #expect(empty.contains("<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""), "\(empty)")
    }

    /// Every entry of a listing, the obvious way: what paging must add up to.
    static func reference(_ keys: [String], prefix: String, delimiter: String?) -> [S3.ListingGrouper.Entry] {
        var entries: [S3.ListingGrouper.Entry] = []
        for key in keys where key.utf8.starts(with: prefix.utf8) {
            let rest = String(decoding: Array(key.utf8.dropFirst(prefix.utf8.count)), as: UTF8.self)
            if let delimiter, !delimiter.isEmpty, let range = rest.range(of: delimiter, options: .literal) {
                let rolled = S3.ListingGrouper.Entry.commonPrefix(prefix + String(rest[..<range.upperBound]))
                if !entries.contains(rolled) { entries.append(rolled) }
            } else {
                entries.append(.key(key))
            }
        }
        return entries
    }

    @Test("paging with any max-keys adds up to the whole listing, each entry once", arguments: 0..<30)
    func pagingAddsUp(seed: UInt64) {
        var random = SeededGenerator(seed: 9000 + seed)
        let alphabet = ["a", "b", "/", "-", "é", "e\u{301}", "z"]
        let keys = Set((0..<Int.random(in: 0...60, using: &random)).map { _ in
            (0..<Int.random(in: 1...6, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
        }).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let prefix = ["", "a", "a/", "b"].randomElement(using: &random)!
        let delimiter = [nil, "/", "-", "é", "ab"].randomElement(using: &random)!
        let expected = Self.reference(keys, prefix: prefix, delimiter: delimiter)
        let maxKeys = Int.random(in: 1...7, using: &random)
        var listed: [S3.ListingGrouper.Entry] = []
        var marker: String?
        var reads = 0
        for _ in 0...expected.count {
            var grouper = S3.ListingGrouper(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: marker)
            var index = 0
            feeding: while index < keys.count {
                reads += 1
                switch grouper.add(keys[index]) {
                case .more: index += 1
                case .skipKeys(let rolled): while index < keys.count, keys[index].utf8.starts(with: rolled.utf8) { index += 1 }
                case .done: break feeding
                }
            }
            listed += grouper.entries
            #expect(grouper.entries.count <= maxKeys)
            guard grouper.isTruncated else { break }
            #expect(grouper.entries.count == maxKeys)
            marker = grouper.nextMarker
        }
        #expect(listed == expected, "prefix \(prefix), delimiter \(delimiter ?? "none"), max-keys \(maxKeys), keys \(keys)")
        var zero = S3.ListingGrouper(prefix: "", delimiter: nil, maxKeys: 0, marker: nil)
        #expect(keys.isEmpty || (zero.add(keys[0]) == .done && zero.entries.isEmpty && !zero.isTruncated), "max-keys=0: empty and not truncated")
    }

    @Test("XML request bodies decode with XMLCoder; document types, entities and junk are MalformedXML")
    func requestBodies() throws {
        let complete = """
            <?xml version="1.0" encoding="UTF-8"?>
            <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Part><ETag>"a1"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
              <Part><PartNumber>2</PartNumber><ETag>&quot;b2&quot;</ETag></Part>
            </CompleteMultipartUpload>
            """
        let parts = try S3.decodeXMLBody(S3.CompleteMultipartUploadBody.self, from: Array(complete.utf8)).parts
        #expect(parts == [.init(partNumber: 1, etag: "\"a1\""), .init(partNumber: 2, etag: "\"b2\"")])
        let delete = "<Delete><Quiet>true</Quiet><Object><Key> spaced key </Key></Object><Object><Key>b</Key><VersionId>null</VersionId></Object></Delete>"
        let body = try S3.decodeXMLBody(S3.DeleteObjectsBody.self, from: Array(delete.utf8))
        #expect(body.quiet && body.objects == [.init(key: " spaced key ", versionID: nil), .init(key: "b", versionID: "null")])
        let refused = [
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><Delete><Object><Key>&a;</Key></Object></Delete>",
            "<Delete><Object><Key>x</Key></Object>",
            "not xml at all",
            "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        ]
        for text in refused {
            #expect(throws: S3.MalformedXML.self, "\(text)") { try S3.decodeXMLBody(S3.CompleteMultipartUploadBody.self, from: Array(text.utf8)) }
        }
        #expect(throws: S3.MalformedXML.self) { try S3.decodeXMLBody(S3.DeleteObjectsBody.self, from: [0x3C, 0xFF, 0xFE, 0x3E]) }
    }
}
