import Foundation

/// A file as the public API shows it (DESIGN.md §10).
struct FileJSON: Encodable {
    var path: String
    var owner: String
    var size: Int64
    var sha256: String
    var chunkSize: Int64
    var chunks: Int
    var contentType: String
    var createdAt: String
    var version: String

    enum CodingKeys: String, CodingKey {
        case path, owner, size, sha256, chunks, version
        case chunkSize = "chunk_size"
        case contentType = "content_type"
        case createdAt = "created_at"
    }

    init(_ manifest: Manifest) {
        path = manifest.path
        owner = manifest.owner
        size = manifest.size
        sha256 = manifest.sha256
        chunkSize = manifest.chunkSize
        chunks = manifest.chunks.count
        contentType = manifest.contentType
        createdAt = Self.rfc3339(milliseconds: manifest.createdAt)
        version = manifest.version.description
    }

    static func rfc3339(milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// A file with where each of its chunks is stored (`GET /api/v1/meta/{path}`).
struct FileMetaJSON: Encodable {
    struct Chunk: Encodable {
        var index: Int
        var sha256: String
        var size: Int64
        var offset: Int64
        var replicas: [String]
    }

    var file: FileJSON
    var chunks: [Chunk]

    func encode(to encoder: any Encoder) throws {
        try file.encode(to: encoder)
        var container = encoder.container(keyedBy: FileJSON.CodingKeys.self)
        try container.encode(chunks, forKey: .chunks)
    }
}

/// Content types by file extension (the API guesses; it does not trust what a client sent).
enum ContentTypes {
    static let byExtension: [String: String] = [
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8", "csv": "text/csv; charset=utf-8", "js": "text/javascript; charset=utf-8", "json": "application/json",
        "xml": "application/xml", "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
        "tar": "application/x-tar", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "ico": "image/vnd.microsoft.icon", "mp3": "audio/mpeg", "wav": "audio/wav", "mp4": "video/mp4",
        "webm": "video/webm", "wasm": "application/wasm", "yaml": "application/yaml", "yml": "application/yaml",
    ]

    static func guess(path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}
