import Basics
import Crypto
import Foundation
import Gossip
import NIOCore
import Ring

/// Every parser that reads bytes a client or a peer sends, each behind one entry point that takes
/// raw bytes. The libFuzzer harness (`filestore-fuzz`, run by `scripts/fuzz`) and the property
/// tests (`NetworkParsersTests`) drive the same entry points.
///
/// An entry point returns for every input: refusing an input is a normal outcome. A trap is the
/// bug a fuzzer is there to find: a crash, an overflow, an index out of range, or a broken
/// invariant (each checked with `precondition`, which holds in every build).
public enum NetworkParsers {
    public struct Target: Sendable {
        /// The name `filestore-fuzz <name>` runs.
        public let name: String
        /// What the input bytes are.
        public let summary: String
        /// Valid inputs the fuzzer starts from (mutating valid inputs reaches deep states sooner).
        public let seeds: [[UInt8]]
        public let run: @Sendable ([UInt8]) -> Void
    }

    public static let all: [Target] = [range, path, query, multipart, gossip, gossipSealed, records, internalAuth]

    public static func named(_ name: String) -> Target? { all.first { $0.name == name } }

    // MARK: HTTP requests

    /// `Range` headers: 8 bytes of file size, then the header text.
    static let range = Target(
        name: "range", summary: "8 bytes of file size (big-endian), then a Range header value",
        seeds: ["bytes=0-99", "bytes=-5", "bytes=10-", "bytes=5-2", "bytes=0-0,5-6"].map { sized(1000, $0) } + [sized(0, "bytes=-1")]
    ) { bytes in
        let (size, header) = splitSize(bytes)
        switch ByteRange.parse(header, size: size) {
        case .whole, .unsatisfiable: break
        case .range(let range):
            precondition(range.lowerBound >= 0 && range.upperBound < size, "range \(range) outside a file of \(size) bytes")
        }
    }

    /// URL paths as `FilesRoutes` reads them: percent-decoded, then checked against the path rules.
    static let path = Target(
        name: "path", summary: "a file path as it appears in a URL (percent-encoded)",
        seeds: ["docs/report.pdf", "a%20b/%E2%9C%93.txt", "x/../y", "%2e%2e/etc", "a//b", "%ff", "%00"].map { Array($0.utf8) }
    ) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        guard let decoded = try? FilePathRules.percentDecode(text), let valid = try? FilePathRules.validate(decoded) else { return }
        let utf8 = Array(valid.utf8)
        precondition((1...FilePathRules.maxBytes).contains(utf8.count) && utf8.first != UInt8(ascii: "/"))
        precondition(!utf8.contains { $0 < 0x20 || $0 == 0x7F }, "a control character passed the path rules")
        precondition(valid.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." })
        // What the CLI and the dashboard send for a valid path decodes back to it.
        let encoded = PercentEncoding.encode(valid, keepSlash: true)
        precondition((try? FilePathRules.percentDecode(encoded)) == valid, "percent-encoding does not round-trip \(valid)")
    }

    /// Query strings, with the bounded integer parameters the listing reads.
    static let query = Target(
        name: "query", summary: "a URL query string",
        seeds: ["limit=10&prefix=a%2Fb", "cursor=x&limit=0", "a&&=b&c=%zz", "limit=99999999999999999999"].map { Array($0.utf8) }
    ) { bytes in
        guard let items = try? QueryItems(String(decoding: bytes, as: UTF8.self)) else { return }
        if let limit = try? items.int("limit", default: 100, in: 1...1000) { precondition((1...1000).contains(limit)) }
    }

    /// `multipart/form-data` uploads: the Content-Type line, a newline, then the body. The body is
    /// fed once whole and once in pieces (sizes taken from the input); whenever both succeed they
    /// must agree part by part, since a split the network chooses must never change a file.
    static let multipart = Target(
        name: "multipart", summary: "a Content-Type header value, a newline, then a multipart body",
        seeds: [
            "multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XyZ--\r\n",
            "multipart/form-data; boundary=\"b\"\npreamble\r\n--b  \r\ncontent-disposition: form-data; name=x\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"y\"\r\n\r\n--b-\r\n--b--",
        ].map { Array($0.utf8) }
    ) { bytes in
        let newline = bytes.firstIndex(of: 10) ?? bytes.endIndex
        guard let boundary = MultipartParser.boundary(fromContentType: String(decoding: bytes[..<newline], as: UTF8.self)) else { return }
        let body = Array(bytes[min(newline + 1, bytes.endIndex)...])
        let whole = parseMultipart(body, boundary: boundary, pieceSizes: [body.count])
        let pieces = parseMultipart(body, boundary: boundary, pieceSizes: bytes.prefix(8).map { Int($0 % 32) + 1 })
        if let whole, let pieces { precondition(whole == pieces, "the same multipart body parsed differently in pieces") }
    }

    // MARK: Gossip

    /// Gossip packets after the seal is opened. A packet that decodes re-encodes to bytes that
    /// decode and re-encode to the same bytes (byte comparison: a NaN would defeat `==`).
    static let gossip = Target(
        name: "gossip", summary: "an opened gossip packet (wire version, count, framed messages)",
        seeds: Gossip.Codec.encode(sampleMessages, limit: 1400)
    ) { bytes in
        guard let messages = try? Gossip.Codec.decode(bytes) else { return }
        let once = Gossip.Codec.encode(messages, limit: 1 << 20)
        precondition(once.count <= 1, "\(messages.count) decoded messages need \(once.count) packets")
        guard let packet = once.first else { return precondition(messages.isEmpty) }
        guard let again = try? Gossip.Codec.decode(packet) else { preconditionFailure("a re-encoded packet does not decode") }
        precondition(Gossip.Codec.encode(again, limit: 1 << 20) == once, "gossip messages do not round-trip")
    }

    /// Sealed gossip packets as they come off the socket: only the cluster's key opens one.
    static let gossipSealed = Target(
        name: "gossip-sealed", summary: "a sealed gossip UDP datagram",
        seeds: Gossip.Codec.encode(sampleMessages, limit: 1400).map { sealer.seal($0, wallMilliseconds: 1_700_000_000_000) }
    ) { bytes in
        guard let opened = try? sealer.open(bytes) else { return }
        _ = try? Gossip.Codec.decode(opened.packet)
    }

    // MARK: Calls between agents

    /// The JSON records peers exchange: the first byte picks the type, the rest is the body.
    /// A record that decodes keeps its checked invariants and survives a round trip.
    static let records = Target(
        name: "records", summary: "a type byte (manifest, manifest list, global records, bloom filter, digests), then JSON",
        seeds: sampleRecords
    ) { bytes in
        guard let kind = bytes.first else { return }
        let body = ByteBuffer(bytes: bytes.dropFirst())
        switch kind % 5 {
        case 0:
            guard let manifest = try? InternalJSON.decode(Manifest.self, body) else { return }
            checkManifest(manifest)
            precondition(roundTrips(manifest), "a manifest does not round-trip")
        case 1:
            guard let manifests = try? InternalJSON.decode([Manifest].self, body) else { return }
            manifests.forEach(checkManifest)
        case 2:
            guard let records = try? InternalJSON.decode(GlobalRecords.self, body) else { return }
            precondition(roundTrips(records), "global records do not round-trip")
        case 3:
            guard let filter = try? InternalJSON.decode(ChunkBloomFilter.self, body) else { return }
            _ = filter.mayContain(ChunkID(digest: SHA256.hash(data: bytes)))
        default:
            _ = try? InternalJSON.decode(DigestRequest.self, body)
            _ = try? InternalJSON.decode(HeldRequest.self, body)
        }
    }

    /// The signature headers of an internal call: a request line, then `Name: value` lines.
    /// Without the key nothing verifies; with it, what was signed verifies and nothing else does.
    static let internalAuth = Target(
        name: "internal-auth", summary: "a request line (METHOD TARGET), then header lines (Name: value)",
        seeds: [sampleSignedRequest]
    ) { bytes in
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = (lines.first ?? "").split(separator: " ", maxSplits: 1)
        let method = String(requestLine.first ?? "GET")
        let target = requestLine.count > 1 ? String(requestLine[1]) : "/"
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let pieces = line.split(separator: ":", maxSplits: 1)
            if pieces.count == 2 { headers[pieces[0].lowercased()] = pieces[1].trimmingSpaces() }
        }
        let now: Int64 = 1_700_000_000_000
        if let verified = try? internalKey.verify(method: method, target: target, header: { headers[$0.lowercased()] }, nowMilliseconds: now) {
            precondition(verified.bodyDigest.utf8.count == 64 && (verified.milliseconds - now).magnitude <= InternalAuth.maxSkewMilliseconds)
        }
        // Whatever the method and target, a signature made for them verifies, and not for another target.
        let signed = Dictionary(internalKey.sign(method: method, target: target, node: "node1", milliseconds: now).map { ($0.0.lowercased(), $0.1) }) { first, _ in first }
        precondition((try? internalKey.verify(method: method, target: target, header: { signed[$0.lowercased()] }, nowMilliseconds: now)) != nil, "a signed call did not verify")
        precondition((try? internalKey.verify(method: method, target: target + "x", header: { signed[$0.lowercased()] }, nowMilliseconds: now)) == nil, "a signature verified for another target")
        _ = try? internalKey.verifyResponse(nonce: headers["x-filestore-nonce"] ?? "", status: 200, header: { headers[$0.lowercased()] }, bodyDigest: InternalAuth.emptyDigest)
    }
}

// MARK: Helpers and samples

extension NetworkParsers {
    static let sealer = Gossip.Sealer(clusterName: "fuzz", secret: "fuzzing-secret-with-enough-length-0123456789")
    static let internalKey = InternalAuth(clusterName: "fuzz", secret: "fuzzing-secret-with-enough-length-0123456789")

    static func sized(_ size: UInt64, _ header: String) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: size >> (56 - 8 * $0)) } + Array(header.utf8)
    }

    /// A non-negative size from the first 8 bytes (as a manifest's size is), and the rest as text.
    static func splitSize(_ bytes: [UInt8]) -> (Int64, String) {
        let size = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } & UInt64(Int64.max)
        return (Int64(size), String(decoding: bytes.dropFirst(8), as: UTF8.self))
    }

    /// One part as the upload route sees it: its name, filename and body bytes.
    struct ParsedPart: Equatable {
        var name: String
        var filename: String?
        var body: [UInt8] = []
    }

    /// The parts of `body`, fed in pieces of the given sizes (cycled); nil when the parser refuses.
    /// Checks on the way that events nest (begin, bodies, end) and bodies never exceed the input.
    static func parseMultipart(_ body: [UInt8], boundary: String, pieceSizes: [Int]) -> [ParsedPart]? {
        var parser = MultipartParser(boundary: boundary)
        var parts: [ParsedPart] = []
        var open = false
        var offset = 0
        var piece = 0
        do {
            while offset < body.count {
                let size = max(1, pieceSizes[piece % pieceSizes.count])
                piece += 1
                let end = min(body.count, offset + size)
                for event in try parser.feed(ByteBuffer(bytes: body[offset..<end])) {
                    switch event {
                    case .partBegin(let name, let filename):
                        precondition(!open, "a part began inside another")
                        parts.append(ParsedPart(name: name, filename: filename))
                        open = true
                    case .body(let buffer):
                        precondition(open, "body bytes outside a part")
                        parts[parts.count - 1].body += buffer.readableBytesView
                    case .partEnd:
                        precondition(open, "a part ended that never began")
                        open = false
                    }
                }
                offset = end
            }
            try parser.finish()
        } catch {
            return nil
        }
        precondition(!open, "the parser finished inside a part")
        precondition(parts.reduce(0) { $0 + $1.body.count } <= body.count, "more body bytes out than in")
        return parts
    }

    static func checkManifest(_ manifest: Manifest) {
        precondition(manifest.size >= 0 && manifest.chunkSize >= 0)
        precondition(manifest.chunks.allSatisfy { (1...Manifest.maxChunkBytes).contains($0.size) })
        if let inline = manifest.inline {
            // Content of another length than the size decodes (it is damage, caught by `inlineIsIntact`).
            precondition(!manifest.deleted && manifest.chunks.isEmpty && inline.count <= Manifest.maxInlineBytes && (1...Int64(Manifest.maxInlineBytes)).contains(manifest.size))
        } else {
            precondition(manifest.deleted ? manifest.chunks.isEmpty : manifest.chunks.reduce(0) { $0 + $1.size } == manifest.size)
        }
    }

    static func roundTrips<T: Codable & Equatable>(_ value: T) -> Bool {
        guard let data = try? JSONEncoder().encode(value) else { return false }
        return (try? InternalJSON.decode(T.self, ByteBuffer(bytes: data))) == value
    }

    static var sampleMessages: [Gossip.Message] {
        let address = Gossip.Address(host: "127.0.0.11", port: 7946)
        let member = Gossip.Member(
            id: "node1", incarnation: 3, status: .alive,
            metadata: Gossip.Metadata(gossip: address, http: "http://127.0.0.11:8080", peer: "127.0.0.11:9080", s3: "http://127.0.0.11:3900", zone: "a", weight: 1.5)
        )
        return [
            .ping(sequence: 1, target: "node2", from: "node1"), .ack(sequence: 1, from: "node2"), .nack(sequence: 2, from: "node3"),
            .pingRequest(sequence: 3, target: "node2", targetAddress: address, from: "node1"), .alive(member),
            .suspect(id: "node2", incarnation: 1, from: "node1"), .dead(id: "node2", incarnation: 1, from: "node1"),
            .left(id: "node3", incarnation: 9), .load(id: "node1", version: 4, report: .init()),
            .state(members: [member, member], reply: true, from: "node1"),
        ]
    }

    static var sampleRecords: [[UInt8]] {
        let chunk = ChunkID(digest: SHA256.hash(data: Data("chunk".utf8)))
        let version = HybridTimestamp(wallMilliseconds: 1_700_000_000_000, counter: 1, node: "node1")
        let manifest = Manifest(
            owner: "alice", path: "docs/a.txt", size: 10, sha256: chunk.hex, chunkSize: 5 << 20,
            chunks: [ChunkReference(id: chunk, size: 4), ChunkReference(id: chunk, size: 6)],
            contentType: "text/plain", createdAt: 1_700_000_000_000, version: version
        )
        let tombstone = Manifest.tombstone(for: FileKey(owner: "alice", path: "old"), version: version, at: 1)
        let small = Manifest(
            owner: "alice", path: "docs/small.txt", size: 5, sha256: Hex.encode(SHA256.hash(data: Data("small".utf8))), chunkSize: 5 << 20, chunks: [],
            contentType: "text/plain", createdAt: 1_700_000_000_000, version: version, inline: Data("small".utf8)
        )
        // Damaged content (shorter than the file): decodes, is not intact, must not trap.
        var damaged = small
        damaged.inline = Data("smal".utf8)
        var filter = ChunkBloomFilter(expected: 16)
        filter.insert(chunk)
        let encoder = JSONEncoder()
        func record(_ kind: UInt8, _ value: some Encodable) -> [UInt8] { [kind] + ((try? encoder.encode(value)).map(Array.init) ?? []) }
        return [
            record(0, manifest), record(0, tombstone), record(0, small), record(0, damaged), record(1, [manifest, tombstone, small]), record(2, GlobalRecords()), record(3, filter),
            [4] + Array(#"{"kind":"manifest","peer":"node2","partitions":[0,7]}"#.utf8),
            [4] + Array(#"{"kind":"chunk","keys":["a","b"],"all":true}"#.utf8),
        ]
    }

    static var sampleSignedRequest: [UInt8] {
        let headers = internalKey.sign(method: "PUT", target: "/internal/v1/manifests", node: "node1", milliseconds: 1_700_000_000_000)
        return Array((["PUT /internal/v1/manifests"] + headers.map { "\($0.0): \($0.1)" }).joined(separator: "\n").utf8)
    }
}
