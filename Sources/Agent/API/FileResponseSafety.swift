import Foundation
import HTTPTypes

/// Headers that keep a stored file from acting in the API's origin (DESIGN.md §17): a user who
/// uploads a page must not be able to run script as whoever opens it. Every file response says
/// `nosniff` and carries a sandboxing CSP (no script, no plugins, an opaque origin); active
/// types — markup that can carry script — are sent as attachments, so a browser saves them
/// instead of rendering them.
enum FileResponseSafety {
    /// Media types a browser would render as a document that can run script.
    static let activeTypes: Set<String> = [
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl",
        "text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript", "text/ecmascript",
        "application/wasm", "text/vtt", "application/x-shockwave-flash", "application/pdf",
    ]

    static let contentSecurityPolicy = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"

    /// True when `contentType` (parameters ignored) is one a browser could run script in.
    static func isActive(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return activeTypes.contains(media) || media.hasSuffix("+xml")
    }

    /// Adds the safety headers for a file at `path` served as `contentType`.
    static func apply(to headers: inout HTTPFields, path: String, contentType: String) {
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        if isActive(contentType) {
            headers[.contentDisposition] = "attachment; filename*=UTF-8''" + encodedFileName(path)
        }
    }

    /// The last path component, percent-encoded for `filename*` (RFC 8187: attr-chars stay).
    static func encodedFileName(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "file"
    }
}
