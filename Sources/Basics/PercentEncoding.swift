/// RFC 3986 percent-encoding: the one encoder for URL paths and query parts built by this
/// project (peer calls, S3 requests, SigV4 canonical requests).
public enum PercentEncoding {
    /// Every byte but the unreserved `A-Z a-z 0-9 - . _ ~` becomes `%XX` (uppercase hex, as
    /// SigV4 requires); `/` is kept when `keepSlash` (paths) and encoded otherwise (query parts).
    public static func encode(_ text: some StringProtocol, keepSlash: Bool) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 { append(byte, keepSlash: keepSlash, to: &encoded) }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Decodes `%XX` escapes into bytes; nil for a malformed escape. With `plusIsSpace`, `+` is a
    /// space (HTML form encoding); otherwise it stays `+`.
    public static func decodeBytes(_ text: some StringProtocol, plusIsSpace: Bool = false) -> [UInt8]? {
        var output: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let high = Hex.value(of: bytes[bytes.startIndex]), let low = Hex.value(of: bytes[bytes.startIndex + 1]) else {
                    return nil
                }
                output.append(high << 4 | low)
                bytes = bytes.dropFirst(2)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                output.append(0x20)
            } else {
                output.append(byte)
            }
        }
        return output
    }

    /// Decodes the valid `%XX` escapes of `text` into bytes (others stay literal) and encodes the
    /// bytes again as `encode` does: the canonical spelling of a received path or query part.
    public static func reencode(_ text: some StringProtocol, keepSlash: Bool) -> String {
        let bytes = Array(text.utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            var byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = Hex.value(of: bytes[index + 1]), let low = Hex.value(of: bytes[index + 2]) {
                byte = high << 4 | low
                index += 3
            } else {
                index += 1
            }
            append(byte, keepSlash: keepSlash, to: &encoded)
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Appends `byte` as it is (unreserved, or `/` in a path) or as `%XX`.
    private static func append(_ byte: UInt8, keepSlash: Bool, to encoded: inout [UInt8]) {
        if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
            encoded.append(byte)
        } else {
            encoded.append(UInt8(ascii: "%"))
            encoded.append(upperDigit(byte >> 4))
            encoded.append(upperDigit(byte & 0x0F))
        }
    }

    /// Decodes `%XX` escapes leniently: a malformed escape is kept literally, `+` stays `+`
    /// (what SigV4 verification needs to rebuild a client's canonical request).
    public static func decodeLeniently(_ text: some StringProtocol) -> String {
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = Hex.value(of: bytes[index + 1]), let low = Hex.value(of: bytes[index + 2]) {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// True for the RFC 3986 unreserved characters.
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func upperDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10 }
}
