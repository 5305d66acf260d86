extension S3 {
    /// Builds one page of ListObjects from keys fed in byte order: keys under `prefix`, after
    /// the marker, with keys that share `prefix` + … + `delimiter` rolled up into one common
    /// prefix. Keys and common prefixes both count toward `maxKeys`; a common prefix at or
    /// before the marker was on an earlier page, so its keys are skipped. Pure: the caller feeds
    /// keys until told to stop, and may seek past a rolled-up prefix instead of reading its keys.
    public struct ListingGrouper: Sendable {
        public enum Entry: Sendable, Equatable {
            case key(String)
            case commonPrefix(String)

            public var text: String {
                switch self {
                case .key(let key), .commonPrefix(let key): key
                }
            }
        }

        /// What the caller does next.
        public enum Next: Sendable, Equatable {
            /// Feed the next key.
            case more
            /// Feed the next key that does not start with this text (every key that does rolls
            /// up into a common prefix already on the page or on an earlier one).
            case skipKeys(startingWith: String)
            /// The page is full; `isTruncated` says whether the key just fed was left for the next page.
            case done
        }

        public let prefix: String
        public let delimiter: String?
        public let maxKeys: Int
        public let marker: String?
        public private(set) var entries: [Entry] = []
        /// Whether keys remain after this page.
        public private(set) var isTruncated = false

        public init(prefix: String, delimiter: String?, maxKeys: Int, marker: String?) {
            self.prefix = prefix
            self.delimiter = delimiter.flatMap { $0.isEmpty ? nil : $0 }
            self.maxKeys = max(0, maxKeys)
            self.marker = marker.flatMap { $0.isEmpty ? nil : $0 }
        }

        /// The last entry of the page: the next page's marker.
        public var nextMarker: String? { entries.last?.text }

        /// Takes the next key (keys must come in increasing byte order).
        public mutating func add(_ key: String) -> Next {
            // S3 answers max-keys=0 with an empty page that is not truncated.
            guard maxKeys > 0 else { return .done }
            guard key.utf8.starts(with: prefix.utf8) else { return .more }
            if let marker, !marker.utf8.lexicographicallyPrecedes(key.utf8) { return .more }
            var entry = Entry.key(key)
            if let delimiter {
                let rest = key.utf8.dropFirst(prefix.utf8.count)
                if let range = Self.firstRange(of: Array(delimiter.utf8), in: Array(rest)) {
                    let rolled = prefix + String(decoding: Array(rest)[..<range.upperBound], as: UTF8.self)
                    if case .commonPrefix(rolled)? = entries.last { return .skipKeys(startingWith: rolled) }
                    if let marker, !marker.utf8.lexicographicallyPrecedes(rolled.utf8) { return .skipKeys(startingWith: rolled) }
                    entry = .commonPrefix(rolled)
                }
            }
            guard entries.count < maxKeys else {
                isTruncated = true
                return .done
            }
            entries.append(entry)
            if case .commonPrefix(let rolled) = entry { return .skipKeys(startingWith: rolled) }
            return .more
        }

        static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
            guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
            for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
                return start..<start + needle.count
            }
            return nil
        }
    }
}
