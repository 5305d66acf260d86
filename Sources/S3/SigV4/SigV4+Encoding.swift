extension S3.SigV4 {
    /// Removes `.` and `..` segments and repeated slashes (RFC 3986 §5.2.4), for services other than S3.
    static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let trailingSlash = (path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")) && !segments.isEmpty
        return "/" + segments.joined(separator: "/") + (trailingSlash ? "/" : "")
    }
}
