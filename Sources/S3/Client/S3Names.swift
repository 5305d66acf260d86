extension S3 {
    /// Refuses object keys that S3 servers treat inconsistently: empty or over 1024 bytes, a leading
    /// `/`, empty, `.` or `..` segments, control characters, or a backslash.
    public static func validate(key: String) throws(S3Error) {
        let bytes = key.utf8
        guard (1...1024).contains(bytes.count) else { throw S3Error(.invalidName, "object key must be 1-1024 bytes, got \(bytes.count)") }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }) else {
            throw S3Error(.invalidName, "object key contains a control character or backslash")
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) where segment.isEmpty || segment == "." || segment == ".." {
            throw S3Error(.invalidName, "object key \"\(key)\" has an empty, . or .. segment")
        }
    }

    /// Bucket names: 3-63 characters of lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit.
    public static func validate(bucket: String) throws(S3Error) {
        let bytes = Array(bucket.utf8)
        let allowed = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
        let edgesOK = bytes.first.map { $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "-") } == true
            && bytes.last.map { $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "-") } == true
        guard (3...63).contains(bytes.count), allowed, edgesOK, !bucket.contains("..") else {
            throw S3Error(.invalidName, "invalid bucket name \"\(bucket)\": use 3-63 of a-z, 0-9, . and -")
        }
    }
}
