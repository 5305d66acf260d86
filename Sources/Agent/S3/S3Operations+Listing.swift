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
        // v1's Prefix is answered as sent: clients decode it only in v2 (botocore, as S3-compatible servers answer).
        var listing = S3.XMLListing(name: bucket.name, prefix: version == 2 ? encode(prefix) : prefix, maxKeys: maxKeys, isTruncated: result.truncated)
        if version == 2 {
            listing.continuationToken = token.map { S3.XMLText($0) }
            listing.startAfter = query("start-after").map { S3.XMLText(encode($0)) }
            listing.keyCount = result.entries.count
            if result.truncated, let next = result.nextMarker { listing.nextContinuationToken = S3.XMLText(Data(next.utf8).base64EncodedString()) }
        } else {
            listing.marker = S3.XMLText(encode(marker ?? ""))
            if result.truncated, delimiter != nil || result.cutShort, let next = result.nextMarker { listing.nextMarker = S3.XMLText(encode(next)) }
        }
        if let delimiter, !delimiter.isEmpty { listing.delimiter = S3.XMLText(encode(delimiter)) }
        if urlEncoded { listing.encodingType = "url" }
        let owner = version == 1 || query("fetch-owner") == "true" ? bucket : nil
        for entry in result.entries {
            switch entry {
            case .key(let key):
                guard let file = result.summaries[key] else { continue }
                listing.contents.append(Self.listed(encode(key), file, owner: owner))
            case .commonPrefix(let rolled):
                listing.commonPrefixes.append(S3.XMLCommonPrefix(encode(rolled)))
            }
        }
        return Self.xml(listing, root: "ListBucketResult")
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
        var listing = S3.XMLListing(name: bucket.name, prefix: encode(prefix), maxKeys: maxKeys, isTruncated: result.truncated)
        listing.keyMarker = S3.XMLText(encode(keyMarker ?? ""))
        listing.versionIDMarker = S3.XMLText(query("version-id-marker") ?? "")
        if result.truncated, let next = result.nextMarker {
            listing.nextKeyMarker = S3.XMLText(encode(next))
            listing.nextVersionIDMarker = "null"
        }
        if let delimiter, !delimiter.isEmpty { listing.delimiter = S3.XMLText(encode(delimiter)) }
        if urlEncoded { listing.encodingType = "url" }
        for entry in result.entries {
            switch entry {
            case .key(let key):
                guard let file = result.summaries[key] else { continue }
                listing.versions.append(Self.listed(encode(key), file, owner: bucket, version: "null"))
            case .commonPrefix(let rolled):
                listing.commonPrefixes.append(S3.XMLCommonPrefix(encode(rolled)))
            }
        }
        return Self.xml(listing, root: "ListVersionsResult")
    }

    /// An object in a listing: its key (as the listing encodes keys), date, ETag, size, owner
    /// (when asked) and, in ListObjectVersions, its version (the latest).
    static func listed(_ key: String, _ file: FileSummary, owner bucket: BucketRecord?, version: String? = nil) -> S3.XMLListedObject {
        S3.XMLListedObject(
            key: key, versionID: version, isLatest: version.map { _ in true }, lastModified: S3Dates.iso8601(milliseconds: file.createdAt),
            etag: "\"\(file.etag ?? file.sha256)\"", size: file.size, owner: bucket?.owner
        )
    }

    /// A cursor after every key that starts with `prefix` (keys are at most 1024 bytes; U+10FFFF
    /// is the largest character), so a listing seeks past them.
    static func after(every prefix: String) -> String {
        prefix + String(repeating: "\u{10FFFF}", count: max(1, (1025 - prefix.utf8.count) / 4 + 1))
    }
}
