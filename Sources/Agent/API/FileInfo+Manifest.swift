import Foundation
import PublicAPI

extension FileInfo {
    /// A file as the public API shows it, from its manifest and its owner's name (manifests are
    /// keyed by the owner's id, see `Namespace`).
    init(_ manifest: Manifest, owner: String) { self.init(FileSummary(manifest), owner: owner) }

    /// A listed file, from its summary.
    init(_ summary: FileSummary, owner: String) {
        self.init(
            path: summary.path, owner: owner, size: summary.size, sha256: summary.sha256, chunkSize: summary.chunkSize,
            chunks: summary.chunkCount, contentType: summary.contentType, createdAt: APITime.rfc3339(milliseconds: summary.createdAt),
            version: summary.version.description
        )
    }
}

/// Whose files a request is about: stored under the user's id (`UserRecord.namespaceKey`),
/// shown under the user's name.
struct Namespace: Equatable {
    var name: String
    var id: String

    var key: String { UserRecord.namespaceKey(id: id, name: name) }
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
