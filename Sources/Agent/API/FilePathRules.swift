import Basics

/// The rules for file paths (DESIGN.md §3): UTF-8, 1-1024 bytes, `/`-separated, no empty, `.`
/// or `..` segments, no control characters, no leading `/`. Anything else is a 400, never a file.
enum FilePathRules {
    static let maxBytes = 1024

    /// Validates a decoded path; the thrown error says which rule it breaks.
    static func validate(_ path: String) throws(APIError) -> String {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw APIError.badRequest("invalid_path", "the path is empty") }
        guard bytes.count <= maxBytes else { throw APIError.badRequest("invalid_path", "the path is \(bytes.count) bytes; at most \(maxBytes) are allowed") }
        guard bytes.first != UInt8(ascii: "/") else { throw APIError.badRequest("invalid_path", "the path must not start with /") }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw APIError.badRequest("invalid_path", "the path contains a control character") }
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty else { throw APIError.badRequest("invalid_path", "the path has an empty segment (// or a trailing /)") }
            guard segment != ".", segment != ".." else { throw APIError.badRequest("invalid_path", "the path has a \(segment) segment") }
        }
        return path
    }

    /// Percent-decodes a URL path (or query value) into UTF-8 text; refuses bad escapes and invalid UTF-8.
    static func percentDecode(_ text: some StringProtocol, plusIsSpace: Bool = false) throws(APIError) -> String {
        guard let bytes = PercentEncoding.decodeBytes(text, plusIsSpace: plusIsSpace) else {
            throw APIError.badRequest("invalid_path", "bad percent-escape in \"\(text)\"")
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw APIError.badRequest("invalid_path", "the path is not valid UTF-8") }
        return decoded
    }
}
