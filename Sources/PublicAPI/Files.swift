import Foundation

/// A file as the public API shows it (DESIGN.md §10): the answer to an upload, an entry of a listing.
public struct FileInfo: Codable, Equatable, Sendable {
    public var path: String
    public var owner: String
    public var size: Int64
    /// Hex SHA-256 of the whole file.
    public var sha256: String
    public var chunkSize: Int64
    /// How many chunks the file is cut into.
    public var chunks: Int
    public var contentType: String
    /// RFC 3339 with milliseconds, UTC.
    public var createdAt: String
    /// The file's hybrid-logical-clock version (newest wins).
    public var version: String

    public init(path: String, owner: String, size: Int64, sha256: String, chunkSize: Int64, chunks: Int, contentType: String, createdAt: String, version: String) {
        self.path = path
        self.owner = owner
        self.size = size
        self.sha256 = sha256
        self.chunkSize = chunkSize
        self.chunks = chunks
        self.contentType = contentType
        self.createdAt = createdAt
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case path, owner, size, sha256, chunks, version
        case chunkSize = "chunk_size"
        case contentType = "content_type"
        case createdAt = "created_at"
    }

    /// The fields every file answer shares; `chunks` is what differs (a count here, a list in `FileMeta`).
    fileprivate init(_ container: KeyedDecodingContainer<CodingKeys>, chunks: Int) throws {
        self.init(
            path: try container.decode(String.self, forKey: .path), owner: try container.decode(String.self, forKey: .owner),
            size: try container.decode(Int64.self, forKey: .size), sha256: try container.decode(String.self, forKey: .sha256),
            chunkSize: try container.decode(Int64.self, forKey: .chunkSize), chunks: chunks,
            contentType: try container.decode(String.self, forKey: .contentType), createdAt: try container.decode(String.self, forKey: .createdAt),
            version: try container.decode(String.self, forKey: .version)
        )
    }
}

/// One page of `GET /api/v1/files`.
public struct FileListing: Codable, Equatable, Sendable {
    public var files: [FileInfo]
    /// The cursor for the next page (`after=`), or null on the last page.
    public var next: String?
    /// True when so many nodes were not heard from that files may be missing from this page
    /// (as many as an acknowledged write is stored on); list again when they are back.
    public var partial: Bool
    /// The nodes this page did not hear from (down, or did not answer), sorted.
    public var unansweredNodes: [String]

    public init(files: [FileInfo], next: String?, partial: Bool = false, unansweredNodes: [String] = []) {
        self.files = files
        self.next = next
        self.partial = partial
        self.unansweredNodes = unansweredNodes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        files = try container.decode([FileInfo].self, forKey: .files)
        next = try container.decodeIfPresent(String.self, forKey: .next)
        partial = try container.decodeIfPresent(Bool.self, forKey: .partial) ?? false
        unansweredNodes = try container.decodeIfPresent([String].self, forKey: .unansweredNodes) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(files, forKey: .files)
        // Always present: clients test `next == null` to stop paging.
        try container.encode(next, forKey: .next)
        try container.encode(partial, forKey: .partial)
        try container.encode(unansweredNodes, forKey: .unansweredNodes)
    }

    enum CodingKeys: String, CodingKey {
        case files, next, partial
        case unansweredNodes = "unanswered_nodes"
    }
}

/// A file with where each of its chunks is stored (`GET /api/v1/meta/{path}`): the file's fields,
/// with `chunks` the list of chunks instead of their count.
public struct FileMeta: Codable, Equatable, Sendable {
    public struct Chunk: Codable, Equatable, Sendable {
        public var index: Int
        public var sha256: String
        public var size: Int64
        public var offset: Int64
        /// The nodes that hold a copy now.
        public var replicas: [String]

        public init(index: Int, sha256: String, size: Int64, offset: Int64, replicas: [String]) {
            self.index = index
            self.sha256 = sha256
            self.size = size
            self.offset = offset
            self.replicas = replicas
        }
    }

    public var file: FileInfo
    public var chunks: [Chunk]

    public init(file: FileInfo, chunks: [Chunk]) {
        self.file = file
        self.chunks = chunks
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FileInfo.CodingKeys.self)
        chunks = try container.decode([Chunk].self, forKey: .chunks)
        file = try FileInfo(container, chunks: chunks.count)
    }

    public func encode(to encoder: any Encoder) throws {
        try file.encode(to: encoder)
        var container = encoder.container(keyedBy: FileInfo.CodingKeys.self)
        try container.encode(chunks, forKey: .chunks)
    }
}

/// Times as the API writes them.
public enum APITime {
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-12-01T13:29:03.123Z`.
    public static func rfc3339(milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
