import Basics
import Foundation
import Hummingbird
import S3

/// ListObjects (v1), ListObjectsV2 and ListObjectVersions (buckets are unversioned: every object
/// is its one version, `null`): keys in byte order under a prefix, rolled up at a delimiter into
/// common prefixes, at most `max-keys` (1,000) entries a page.
extension S3Operations {
    /// How many scatter-gathers one listing page may cost.
    static let maxListingRounds = 16

    /// One page, before it is written out.
    struct ListingResult {
        var entries: [S3.ListingGrouper.Entry]
        var summaries: [String: FileSummary]
        var truncated: Bool
        /// Where the next page starts (after it).
        var nextMarker: String?
        /// The page ended early (the round budget), not at `max-keys`.
        var cutShort: Bool
    }

    /// Feeds the bucket's keys after `marker` to a `ListingGrouper`. A page costs at most
    /// `maxListingRounds` scatter-gathers (a delimiter listing seeks once per common prefix it
    /// rolls up); past them it ends early, truncated, after the last key read — S3 allows short
    /// pages, and clients ask for the rest.
    func collect(_ bucket: BucketRecord, prefix: String, delimiter: String?, maxKeys: Int, marker: String?) async throws -> ListingResult {
        var grouper = S3.ListingGrouper(prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: marker)
        var summaries: [String: FileSummary] = [:]
        // Start listing at the later of the marker and the prefix.
        var after: String? = marker.flatMap { $0.utf8.lexicographicallyPrecedes(prefix.utf8) ? nil : $0 }
        let base = bucket.name.utf8.count + 1
        var rounds = 0
        var lastSeen: String?
        var cutShort: String?
        paging: while maxKeys > 0 {
            rounds += 1
            guard rounds <= Self.maxListingRounds else {
                cutShort = lastSeen ?? after
                break
            }
            let page = try await listing(bucket, prefix: prefix, after: after, limit: min(1000, maxKeys - grouper.entries.count + 1))
            var skipping: String?
            for file in page.files {
                let key = String(decoding: file.path.utf8.dropFirst(base), as: UTF8.self)
                lastSeen = key
                if let skip = skipping, key.utf8.starts(with: skip.utf8) { continue }
                skipping = nil
                switch grouper.add(key) {
                case .more: summaries[key] = file
                case .skipKeys(let rolled): skipping = rolled
                case .done: break paging
                }
            }
            guard let next = page.next else { break }
            // Seek past a rolled-up prefix rather than read all its keys.
            if let skip = skipping { after = Self.after(every: skip) } else { after = String(decoding: next.utf8.dropFirst(base), as: UTF8.self) }
        }
        return ListingResult(
            entries: grouper.entries, summaries: summaries, truncated: grouper.isTruncated || cutShort != nil,
            nextMarker: grouper.isTruncated ? grouper.nextMarker : cutShort, cutShort: cutShort != nil
        )
    }

    /// `encoding-type=url` (the only one there is).
    func urlEncoding() throws -> Bool {
        switch query("encoding-type") {
        case nil: return false
        case "url"?: return true
        default: throw S3APIError.invalidArgument("Invalid Encoding Method specified in Request")
        }
    }

    func listObjects(version: Int) async throws -> Response {
        let bucket = try await ownedBucket()
        let prefix = query("prefix") ?? ""
        let delimiter = query("delimiter")
        let urlEncoded = try urlEncoding()
        let maxKeys = try count("max-keys", default: 1000, upTo: 1000)
        let marker: String?
        var token: String?
        if version == 2 {
            if let text = query("continuation-token") {
                guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8) else {
                    throw S3APIError.invalidArgument("The continuation token provided is incorrect")
                }
                token = text
                marker = decoded
            } else {
                marker = query("start-after")
            }
        } else {
            marker = query("marker")
        }
        let result = try await collect(bucket, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: marker)
        func encode(_ text: String) -> String { urlEncoded ? PercentEncoding.encode(text, keepSlash: true) : text }
        var xml = S3.XMLWriter()
        xml.within("ListBucketResult", namespaced: true) { xml in
            xml.element("Name", bucket.name)
            // v1's Prefix is answered as sent: clients decode it only in v2 (botocore, as S3-compatible servers answer).
            xml.element("Prefix", version == 2 ? encode(prefix) : prefix)
            if version == 2 {
                if let token { xml.element("ContinuationToken", token) }
                if let start = query("start-after") { xml.element("StartAfter", encode(start)) }
                xml.element("KeyCount", result.entries.count)
            } else {
                xml.element("Marker", encode(marker ?? ""))
                if result.truncated, delimiter != nil || result.cutShort, let next = result.nextMarker { xml.element("NextMarker", encode(next)) }
            }
            xml.element("MaxKeys", maxKeys)
            if let delimiter, !delimiter.isEmpty { xml.element("Delimiter", encode(delimiter)) }
            if urlEncoded { xml.element("EncodingType", "url") }
            xml.element("IsTruncated", result.truncated)
            if version == 2, result.truncated, let next = result.nextMarker { xml.element("NextContinuationToken", Data(next.utf8).base64EncodedString()) }
            for entry in result.entries {
                switch entry {
                case .key(let key):
                    guard let file = result.summaries[key] else { continue }
                    xml.within("Contents") { xml in
                        xml.element("Key", encode(key))
                        Self.describe(&xml, file, owner: version == 1 || query("fetch-owner") == "true" ? bucket : nil)
                    }
                case .commonPrefix(let rolled):
                    xml.within("CommonPrefixes") { xml in xml.element("Prefix", encode(rolled)) }
                }
            }
        }
        return Self.xml(xml)
    }

    /// ListObjectVersions of an unversioned bucket: each object once, as version `null`, the latest.
    func listObjectVersions() async throws -> Response {
        let bucket = try await ownedBucket()
        let prefix = query("prefix") ?? ""
        let delimiter = query("delimiter")
        let urlEncoded = try urlEncoding()
        let maxKeys = try count("max-keys", default: 1000, upTo: 1000)
        let keyMarker = query("key-marker")
        if let id = query("version-id-marker"), !id.isEmpty, id != "null" { throw S3APIError.invalidArgument("Invalid version id specified") }
        let result = try await collect(bucket, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: keyMarker)
        func encode(_ text: String) -> String { urlEncoded ? PercentEncoding.encode(text, keepSlash: true) : text }
        var xml = S3.XMLWriter()
        xml.within("ListVersionsResult", namespaced: true) { xml in
            xml.element("Name", bucket.name)
            xml.element("Prefix", encode(prefix))
            xml.element("KeyMarker", encode(keyMarker ?? ""))
            xml.element("VersionIdMarker", query("version-id-marker") ?? "")
            if result.truncated, let next = result.nextMarker {
                xml.element("NextKeyMarker", encode(next))
                xml.element("NextVersionIdMarker", "null")
            }
            xml.element("MaxKeys", maxKeys)
            if let delimiter, !delimiter.isEmpty { xml.element("Delimiter", encode(delimiter)) }
            if urlEncoded { xml.element("EncodingType", "url") }
            xml.element("IsTruncated", result.truncated)
            for entry in result.entries {
                switch entry {
                case .key(let key):
                    guard let file = result.summaries[key] else { continue }
                    xml.within("Version") { xml in
                        xml.element("Key", encode(key))
                        xml.element("VersionId", "null")
                        xml.element("IsLatest", true)
                        Self.describe(&xml, file, owner: bucket)
                    }
                case .commonPrefix(let rolled):
                    xml.within("CommonPrefixes") { xml in xml.element("Prefix", encode(rolled)) }
                }
            }
        }
        return Self.xml(xml)
    }

    /// An object's date, ETag, size, owner (when asked) and storage class in a listing.
    static func describe(_ xml: inout S3.XMLWriter, _ file: FileSummary, owner bucket: BucketRecord?) {
        xml.element("LastModified", S3Dates.iso8601(milliseconds: file.createdAt))
        xml.element("ETag", "\"\(file.etag ?? file.sha256)\"")
        xml.element("Size", file.size)
        if let bucket {
            xml.within("Owner") { xml in
                xml.element("ID", bucket.owner)
                xml.element("DisplayName", bucket.owner)
            }
        }
        xml.element("StorageClass", "STANDARD")
    }

    /// A cursor after every key that starts with `prefix` (keys are at most 1024 bytes; U+10FFFF
    /// is the largest character), so a listing seeks past them.
    static func after(every prefix: String) -> String {
        prefix + String(repeating: "\u{10FFFF}", count: max(1, (1025 - prefix.utf8.count) / 4 + 1))
    }
}
