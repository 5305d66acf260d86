/// Just enough XML for S3's flat responses (errors, ListObjectsV2): the text of named elements.
/// S3 bodies are machine-written, without CDATA or nested same-name elements, so a scanner suffices
/// and spares the runtime a libxml2 dependency.
enum S3XML {
    /// The decoded text of every `<name>…</name>` element in `xml`, in document order.
    static func values(_ name: String, in xml: Substring) -> [String] {
        elements(name, in: xml).map { decodeEntities($0) }
    }

    /// The decoded text of the first `<name>` element.
    static func value(_ name: String, in xml: Substring) -> String? {
        elements(name, in: xml).first.map { decodeEntities($0) }
    }

    /// The raw inner text of every `<name>…</name>` element (also matches `<name attr="…">`).
    static func elements(_ name: String, in xml: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = xml
        let close = "</\(name)>"
        while let open = rest.firstRange(of: "<\(name)") {
            guard let tagEnd = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let between = rest[open.upperBound..<tagEnd]
            // `<Key>` must not match `<KeyCount>`: the name must end at `>`, `/` or whitespace.
            guard between.isEmpty || between.first == " " || between.first == "/" else {
                rest = rest[tagEnd...]
                continue
            }
            if between.last == "/" {  // self-closing: empty value
                found.append(rest[tagEnd..<tagEnd])
                rest = rest[rest.index(after: tagEnd)...]
                continue
            }
            let contentStart = rest.index(after: tagEnd)
            guard let end = rest[contentStart...].firstRange(of: close) else { break }
            found.append(rest[contentStart..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// Replaces the five predefined entities and numeric character references.
    static func decodeEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semicolon) <= 10 else {
                result += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let scalar: UInt32? = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let scalar, let character = Unicode.Scalar(scalar) { result.unicodeScalars.append(character) } else { result += "&\(entity);" }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }
}
