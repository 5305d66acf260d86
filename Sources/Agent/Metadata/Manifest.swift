import Basics
import Crypto
import Foundation
import Ring

/// The identity of a file: its owner's user name and its path in the owner's namespace.
public struct FileKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var owner: String
    public var path: String

    public init(owner: String, path: String) {
        self.owner = owner
        self.path = path
    }

    /// The manifest's ring position: SHA-256("file\0" + owner + "\0" + path).
    public var position: RingPosition { .manifest(owner: owner, path: path) }

    // Keys are byte strings, as the metadata shard (SQLite's binary collation) and the ring see
    // them. Swift's own String comparison treats canonically equivalent texts as equal (`café`
    // typed precomposed and `cafe` + U+0301, as macOS spells file names), which would merge two
    // different files into one in a listing and order keys differently from the shards.
    public static func < (lhs: FileKey, rhs: FileKey) -> Bool {
        if !lhs.owner.utf8.elementsEqual(rhs.owner.utf8) { return lhs.owner.utf8.lexicographicallyPrecedes(rhs.owner.utf8) }
        return lhs.path.utf8.lexicographicallyPrecedes(rhs.path.utf8)
    }

    public static func == (lhs: FileKey, rhs: FileKey) -> Bool {
        lhs.owner.utf8.elementsEqual(rhs.owner.utf8) && lhs.path.utf8.elementsEqual(rhs.path.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(owner.utf8.count)
        for byte in owner.utf8 { hasher.combine(byte) }
        for byte in path.utf8 { hasher.combine(byte) }
    }

    public var description: String { "\(owner):\(path)" }

    /// The key as one text, `owner/path` (user names cannot contain `/`): how hints and the
    /// convergence loop's key lists name a manifest.
    public var text: String { "\(owner)/\(path)" }

    /// The key a `text` names; nil without a `/`.
    public init?(text: String) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        self.init(owner: String(text[..<slash]), path: String(text[text.index(after: slash)...]))
    }
}

/// One chunk of a file: its id (SHA-256) and size. Decoding refuses an invalid id, so a
/// corrupt or forged manifest never gets as far as a read.
public struct ChunkReference: Codable, Hashable, Sendable {
    public var id: ChunkID
    public var size: Int64

    enum CodingKeys: String, CodingKey {
        case id = "sha256"
        case size
    }

    public init(id: ChunkID, size: Int64) {
        self.id = id
        self.size = size
    }
}

/// A file version (or a tombstone for a deleted file): what a read needs to reassemble it.
public struct Manifest: Codable, Hashable, Sendable, LastWriterWins {
    public var owner: String
    public var path: String
    public var size: Int64
    /// Hex SHA-256 of the whole file (empty for a tombstone).
    public var sha256: String
    public var chunkSize: Int64
    public var chunks: [ChunkReference]
    public var contentType: String
    /// Milliseconds since the Unix epoch when this version was written.
    public var createdAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool
    /// What an S3 upload adds (its ETag, user metadata, content headers, checksums); nil for
    /// files stored through REST.
    public var object: ObjectAttributes?
    /// The whole content of a small file, kept in the manifest instead of in chunks (docs/architecture.md,
    /// "Small files"): then `chunks` is empty. Checked against `sha256` before it is served.
    public var inline: Data?

    enum CodingKeys: String, CodingKey {
        case owner, path, size, sha256, chunks, version, deleted, object, inline
        case chunkSize = "chunk_size"
        case contentType = "content_type"
        case createdAt = "created_at_ms"
        case inlineStored = "inline_stored"
    }

    public init(
        owner: String, path: String, size: Int64, sha256: String, chunkSize: Int64, chunks: [ChunkReference],
        contentType: String, createdAt: Int64, version: HybridTimestamp, deleted: Bool = false, object: ObjectAttributes? = nil, inline: Data? = nil
    ) {
        self.owner = owner
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.chunkSize = chunkSize
        self.chunks = chunks
        self.contentType = contentType
        self.createdAt = createdAt
        self.version = version
        self.deleted = deleted
        self.object = object
        self.inline = inline
    }

    /// The largest chunk a manifest may name: the largest `chunk_size` a cluster may set.
    public static let maxChunkBytes: Int64 = 64 << 20

    /// The most chunks one manifest may list (12 TiB at the default 5 MiB chunk size): uploads
    /// that would need more are refused up front (413, `AgentContext.maxUploadBytes`), never
    /// after their bytes are stored.
    public static let maxChunks = 2_500_000

    /// The largest manifest on the wire and on disk: `maxChunks` entries of at most 94 bytes of
    /// JSON (`{"sha256":"…64…","size":67108864},`) with room for the rest.
    public static let maxWireBytes = 256 << 20

    /// The most bytes a manifest may carry inline (the largest `inline_max` a cluster may set).
    public static let maxInlineBytes = 1 << 20

    /// Set (to `true`) in a coder's `userInfo` where manifests are stored with their inline data
    /// beside the record rather than in it (the metadata shard, so a listing never reads the
    /// content): the record says `"inline_stored": true` and the decoded manifest's `inline` is nil
    /// until the store attaches it.
    public static let inlineDetached = CodingUserInfoKey(rawValue: "filestore.manifest.inline-detached")!

    /// Whether the manifest holds its content inline (or, decoded from a shard record, had it stored beside).
    public var isInline: Bool { inline != nil || (!deleted && chunks.isEmpty && size > 0) }

    /// Whether inline content (if any) hashes to the file's SHA-256: a copy that does not is never served.
    public var inlineIsIntact: Bool {
        guard let inline else { return true }
        return inline.count == size && Hex.encode(SHA256.hash(data: inline)) == sha256
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(owner, forKey: .owner)
        try container.encode(path, forKey: .path)
        try container.encode(size, forKey: .size)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(chunkSize, forKey: .chunkSize)
        try container.encode(chunks, forKey: .chunks)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(version, forKey: .version)
        try container.encode(deleted, forKey: .deleted)
        try container.encodeIfPresent(object, forKey: .object)
        if let inline {
            if encoder.userInfo[Self.inlineDetached] as? Bool == true {
                try container.encode(true, forKey: .inlineStored)
            } else {
                try container.encode(inline, forKey: .inline)
            }
        }
    }

    /// Decodes and checks what reads rely on, so a corrupt or forged manifest (from a disk or a
    /// peer) is a decoding error, never a crash or an endless read: sizes are not negative,
    /// chunks are 1 byte to `maxChunkBytes`, and they add up to the file's size without overflow;
    /// a tombstone has no chunks; the file's SHA-256 is 64 hex digits (empty for a tombstone).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        owner = try container.decode(String.self, forKey: .owner)
        path = try container.decode(String.self, forKey: .path)
        size = try container.decode(Int64.self, forKey: .size)
        sha256 = try container.decode(String.self, forKey: .sha256)
        chunkSize = try container.decode(Int64.self, forKey: .chunkSize)
        chunks = try container.decode([ChunkReference].self, forKey: .chunks)
        contentType = try container.decode(String.self, forKey: .contentType)
        createdAt = try container.decode(Int64.self, forKey: .createdAt)
        version = try container.decode(HybridTimestamp.self, forKey: .version)
        deleted = try container.decode(Bool.self, forKey: .deleted)
        object = try container.decodeIfPresent(ObjectAttributes.self, forKey: .object)
        inline = try container.decodeIfPresent(Data.self, forKey: .inline)
        let detached = decoder.userInfo[Self.inlineDetached] as? Bool == true
        let inlineStored = try detached && container.decodeIfPresent(Bool.self, forKey: .inlineStored) == true
        func refuse(_ problem: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: .chunks, in: container, debugDescription: "manifest of \(owner)/\(path): \(problem)")
        }
        guard !owner.isEmpty, !path.isEmpty else { throw refuse("no owner or path") }
        guard size >= 0, chunkSize >= 0 else { throw refuse("a negative size") }
        if deleted {
            guard chunks.isEmpty, inline == nil, !inlineStored else { throw refuse("a tombstone with content") }
            return
        }
        guard sha256.utf8.count == 64, ChunkID(sha256) != nil else { throw refuse("the file's sha256 is not 64 hex digits") }
        if inline != nil || inlineStored {
            // Inline content stands for the chunk list: all of the file, and no more than a manifest may carry.
            guard chunks.isEmpty else { throw refuse("inline content and chunks") }
            guard (1...Int64(Self.maxInlineBytes)).contains(size) else { throw refuse("\(size) bytes inline, more than \(Self.maxInlineBytes)") }
            // Content of another length than the file's is damage, not a forgery a read could trip
            // on: it decodes, fails `inlineIsIntact`, and is never served or stored (and is mended).
            if let inline, inline.count > Self.maxInlineBytes { throw refuse("\(inline.count) bytes inline, more than \(Self.maxInlineBytes)") }
            if let object, !object.isPlausible { throw refuse("its S3 attributes are malformed") }
            return
        }
        var total: Int64 = 0
        for chunk in chunks {
            guard (1...Self.maxChunkBytes).contains(chunk.size) else { throw refuse("a chunk of \(chunk.size) bytes") }
            let (sum, overflow) = total.addingReportingOverflow(chunk.size)
            guard !overflow else { throw refuse("chunk sizes overflow") }
            total = sum
        }
        guard total == size else { throw refuse("chunks add up to \(total) bytes, the file says \(size)") }
        guard chunks.count <= Self.maxChunks else { throw refuse("\(chunks.count) chunks, more than \(Self.maxChunks)") }
        if let object, !object.isPlausible { throw refuse("its S3 attributes are malformed") }
    }

    /// A tombstone recording that the file was deleted at `version`.
    public static func tombstone(for key: FileKey, version: HybridTimestamp, at milliseconds: Int64) -> Manifest {
        Manifest(owner: key.owner, path: key.path, size: 0, sha256: "", chunkSize: 0, chunks: [], contentType: "", createdAt: milliseconds, version: version, deleted: true)
    }

    public var key: FileKey { FileKey(owner: owner, path: path) }
    public var tieBreak: String { Self.tieBreak(deleted: deleted, sha256: sha256, size: size) }

    /// The tie-break of a version's content (shared with `FileSummary`, so both merge alike).
    static func tieBreak(deleted: Bool, sha256: String, size: Int64) -> String { "\(deleted ? 1 : 0)\(sha256)\(size)" }

    /// Byte offset of each chunk in the file.
    public var chunkOffsets: [Int64] {
        var offsets: [Int64] = []
        var offset: Int64 = 0
        for chunk in chunks {
            offsets.append(offset)
            offset += chunk.size
        }
        return offsets
    }
}

/// What an S3 upload records beside its content (DESIGN.md §16).
public struct ObjectAttributes: Codable, Hashable, Sendable {
    /// Hex MD5 of the object (single uploads), or of the parts' MD5s (multipart).
    public var md5: String
    /// How many parts a multipart upload had; nil for a single upload.
    public var parts: Int?
    /// `x-amz-meta-*` headers, names lowercased without the prefix.
    public var metadata: [String: String]
    /// Content headers to answer with: `cache-control`, `content-disposition`,
    /// `content-encoding`, `content-language`, `expires`.
    public var headers: [String: String]
    /// `x-amz-checksum-*` the client sent and the agent checked: algorithm name → base64.
    public var checksums: [String: String]
    /// In the record of a multipart upload in progress: the key of the object it will complete.
    public var uploadKey: String?

    enum CodingKeys: String, CodingKey {
        case md5, parts, metadata, headers, checksums
        case uploadKey = "upload_key"
    }

    public init(
        md5: String, parts: Int? = nil, metadata: [String: String] = [:], headers: [String: String] = [:], checksums: [String: String] = [:], uploadKey: String? = nil
    ) {
        self.md5 = md5
        self.parts = parts
        self.metadata = metadata
        self.headers = headers
        self.checksums = checksums
        self.uploadKey = uploadKey
    }

    /// The ETag S3 clients expect, without quotes: the MD5, or `md5-N` for N parts.
    public var etag: String { parts.map { "\(md5)-\($0)" } ?? md5 }

    /// The header names kept from an upload (`headers`).
    public static let contentHeaders: [String] = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"]

    /// The most bytes of user metadata (2 KiB, S3's limit), content headers (4 KiB) and
    /// checksums an object carries, checked when decoding so a forged manifest cannot carry more.
    public static let maxBytes = 8 << 10

    var isPlausible: Bool {
        func bytes(_ fields: [String: String]) -> Int { fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } }
        return md5.utf8.count == 32 && md5.utf8.allSatisfy { Hex.value(of: $0) != nil } && (parts.map { (1...10_000).contains($0) } ?? true)
            && bytes(metadata) + bytes(headers) + bytes(checksums) <= Self.maxBytes && checksums.count <= 1
            && (uploadKey?.utf8.count ?? 0) <= 1024
    }
}
