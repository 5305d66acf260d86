extension S3 {
    /// How text is escaped in S3's XML answers (`XMLText`).
    public enum XMLEscaping {
        /// `value` escaped. Characters XML 1.0 cannot carry even escaped (most control
        /// characters) become character references, as S3 writes them in listings (clients that
        /// need such keys ask for `encoding-type=url`), or with `replacingForbidden` U+FFFD, so
        /// the document stays well-formed for every parser (error bodies echo client text).
        public static func escape(_ value: String, replacingForbidden: Bool = false) -> String {
            var escaped = ""
            escaped.reserveCapacity(value.utf8.count)
            for scalar in value.unicodeScalars {
                switch scalar {
                case "&": escaped += "&amp;"
                case "<": escaped += "&lt;"
                case ">": escaped += "&gt;"
                case "\"": escaped += "&quot;"
                case "'": escaped += "&apos;"
                // Parsers turn a raw CR (and CRLF) into LF: a key holding one would read back as another.
                case "\r": escaped += "&#xD;"
                default:
                    let allowed = scalar == "\t" || scalar == "\n" || (scalar.value >= 0x20 && scalar.value != 0x7F && !(0xFFFE...0xFFFF).contains(scalar.value))
                    if !allowed {
                        escaped += replacingForbidden ? "\u{FFFD}" : "&#x\(String(scalar.value, radix: 16, uppercase: true));"
                    } else {
                        escaped.unicodeScalars.append(scalar)
                    }
                }
            }
            return escaped
        }
    }
}
