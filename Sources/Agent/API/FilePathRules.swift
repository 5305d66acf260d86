import S3

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
        var output: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let high = hexValue(bytes[bytes.startIndex]), let low = hexValue(bytes[bytes.startIndex + 1]) else {
                    throw APIError.badRequest("invalid_path", "bad percent-escape in \"\(text)\"")
                }
                output.append(high << 4 | low)
                bytes = bytes.dropFirst(2)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                output.append(0x20)
            } else {
                output.append(byte)
            }
        }
        guard let decoded = String(validating: output, as: UTF8.self) else { throw APIError.badRequest("invalid_path", "the path is not valid UTF-8") }
        return decoded
    }

    /// Percent-encodes everything but unreserved characters (and `/` when `keepSlash`), for URLs to peers.
    static func percentEncode(_ text: String, keepSlash: Bool = true) -> String {
        S3.SigV4.uriEncode(text, keepSlash: keepSlash)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? { S3.SigV4.hexValue(byte) }
}
