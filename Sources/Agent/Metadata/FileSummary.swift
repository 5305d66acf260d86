import Basics

/// What a listing shows of a file version (or a tombstone): a manifest without its chunk list, so
/// a page of a listing stays small however large its files are. Merged like the manifest it
/// summarizes (the same version and tie-break).
public struct FileSummary: Codable, Hashable, Sendable, LastWriterWins {
    public var owner: String
    public var path: String
    public var size: Int64
    public var sha256: String
    public var chunkSize: Int64
    public var chunkCount: Int
    public var contentType: String
    public var createdAt: Int64
    public var version: HybridTimestamp
    public var deleted: Bool
    /// The S3 ETag of an object uploaded through S3 (`ObjectAttributes.etag`).
    public var etag: String?

    enum CodingKeys: String, CodingKey {
        case owner, path, size, sha256, version, deleted, etag
        case chunkSize = "chunk_size"
        case chunkCount = "chunk_count"
        case contentType = "content_type"
        case createdAt = "created_at_ms"
    }

    public init(_ manifest: Manifest) {
        owner = manifest.owner
        path = manifest.path
        size = manifest.size
        sha256 = manifest.sha256
        chunkSize = manifest.chunkSize
        chunkCount = manifest.chunks.count
        contentType = manifest.contentType
        createdAt = manifest.createdAt
        version = manifest.version
        deleted = manifest.deleted
        etag = manifest.object?.etag
    }

    /// Whether a manifest could have this summary (what a peer's page is checked for).
    var isPlausible: Bool { (etag?.utf8.count ?? 0) <= 80 && !owner.isEmpty && !path.isEmpty && size >= 0 && chunkSize >= 0 && chunkCount >= 0 && (!deleted || chunkCount == 0) }

    public var key: FileKey { FileKey(owner: owner, path: path) }
    /// The manifest's tie-break, so a summary merge picks the copy a manifest merge would.
    public var tieBreak: String { Manifest.tieBreak(deleted: deleted, sha256: sha256, size: size) }

    /// Roughly how many bytes this summary takes on the wire (what a shard page is bounded by).
    var wireBytes: Int { owner.utf8.count + path.utf8.count + contentType.utf8.count + 256 }
}

/// One node's page of its shard for a listing: summaries in key order, tombstones included.
public struct ShardPage: Codable, Hashable, Sendable {
    public var files: [FileSummary]
    /// Whether the shard holds more keys after the last one here (the page stopped at its limit
    /// or at its byte budget).
    public var more: Bool

    /// What one page may hold on the wire, whatever its limit: far below the internal body cap.
    public static let maxBytes = 1 << 20

    public init(files: [FileSummary], more: Bool) {
        self.files = files
        self.more = more
    }

    /// Decodes a peer's page, refusing summaries no manifest could have.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        files = try container.decode([FileSummary].self, forKey: .files)
        more = try container.decode(Bool.self, forKey: .more)
        guard files.allSatisfy(\.isPlausible) else {
            throw DecodingError.dataCorruptedError(forKey: .files, in: container, debugDescription: "a summary no manifest could have")
        }
    }

    enum CodingKeys: String, CodingKey { case files, more }
}
