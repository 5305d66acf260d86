extension S3 {
    /// Writes S3's XML responses: a declaration, elements in order, text escaped. Characters XML
    /// 1.0 cannot carry even escaped (most control characters) are written as character
    /// references, as S3 does; clients that need such keys ask for `encoding-type=url`.
    public struct XMLWriter: Sendable {
        public private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        private var open: [String] = []

        /// The namespace S3's response roots carry.
        public static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

        public init() {}

        /// Opens `name`; with `namespaced`, it carries S3's `xmlns`.
        public mutating func start(_ name: String, namespaced: Bool = false) {
            text += namespaced ? "<\(name) xmlns=\"\(Self.namespace)\">" : "<\(name)>"
            open.append(name)
        }

        public mutating func end() {
            guard let name = open.popLast() else { return }
            text += "</\(name)>"
        }

        /// With `replacingForbidden`, text XML 1.0 cannot carry is replaced rather than referenced.
        public var replacingForbidden = false

        /// `<name>value</name>`, the value escaped.
        public mutating func element(_ name: String, _ value: String) {
            text += "<\(name)>\(Self.escape(value, replacingForbidden: replacingForbidden))</\(name)>"
        }

        /// `element` only when there is a value.
        public mutating func element(_ name: String, _ value: String?) {
            if let value { element(name, value) }
        }

        public mutating func element(_ name: String, _ value: Bool) { element(name, value ? "true" : "false") }
        public mutating func element(_ name: String, _ value: some BinaryInteger) { element(name, String(value)) }

        /// `start(name)`, the body, `end()`.
        public mutating func within(_ name: String, namespaced: Bool = false, _ body: (inout XMLWriter) -> Void) {
            start(name, namespaced: namespaced)
            body(&self)
            end()
        }

        /// The finished document (open elements closed).
        public mutating func finish() -> String {
            while !open.isEmpty { end() }
            return text
        }

        /// `value` escaped. Characters XML 1.0 forbids become character references (S3's way in
        /// listings), or with `replacingForbidden` U+FFFD, so the document stays well-formed for
        /// every parser (error bodies echo client text).
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
                    let allowed = scalar == "\t" || scalar == "\n" || scalar == "\r" || (scalar.value >= 0x20 && scalar.value != 0x7F && !(0xFFFE...0xFFFF).contains(scalar.value))
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

    /// The body of an S3 error response.
    public static func errorXML(code: String, message: String, resource: String?, requestID: String) -> String {
        var writer = XMLWriter()
        writer.replacingForbidden = true
        writer.within("Error") { xml in
            xml.element("Code", code)
            xml.element("Message", message)
            xml.element("Resource", resource)
            xml.element("RequestId", requestID)
        }
        return writer.finish()
    }
}
