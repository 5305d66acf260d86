extension S3.SigV4 {
    /// A signing timestamp: whole seconds since the Unix epoch, rendered as SigV4 wants it.
    public struct AmzDate: Sendable, Equatable {
        /// Seconds since 1970-01-01T00:00:00Z.
        public var secondsSince1970: Int64

        public init(secondsSince1970: Int64) { self.secondsSince1970 = secondsSince1970 }

        /// `yyyyMMdd'T'HHmmss'Z'`, the `X-Amz-Date` form.
        public var timestamp: String {
            let (year, month, day) = civilDate
            let seconds = Int(((secondsSince1970 % 86_400) + 86_400) % 86_400)
            return "\(pad(year, 4))\(pad(month, 2))\(pad(day, 2))T\(pad(seconds / 3600, 2))\(pad(seconds / 60 % 60, 2))\(pad(seconds % 60, 2))Z"
        }

        /// `yyyyMMdd`, the credential-scope form.
        public var day: String { String(timestamp.prefix(8)) }

        /// Parses the `yyyyMMdd'T'HHmmss'Z'` form (or ISO 8601 `yyyy-MM-ddTHH:mm:ssZ`), strictly:
        /// fixed-width ASCII digits in their places, nothing else.
        public init?(_ text: String) {
            let bytes = Array(text.utf8)
            let basic = bytes.count == 16 && bytes[8] == UInt8(ascii: "T") && bytes[15] == UInt8(ascii: "Z")
            let extended = bytes.count == 20 && bytes[4] == UInt8(ascii: "-") && bytes[7] == UInt8(ascii: "-") && bytes[10] == UInt8(ascii: "T")
                && bytes[13] == UInt8(ascii: ":") && bytes[16] == UInt8(ascii: ":") && bytes[19] == UInt8(ascii: "Z")
            guard basic || extended else { return nil }
            let starts = basic ? [0, 4, 6, 9, 11, 13] : [0, 5, 8, 11, 14, 17]
            let widths = [4, 2, 2, 2, 2, 2]
            var fields: [Int] = []
            for (start, width) in zip(starts, widths) {
                guard let value = Self.digits(bytes[start..<start + width]) else { return nil }
                fields.append(value)
            }
            self.init(year: fields[0], month: fields[1], day: fields[2], hour: fields[3], minute: fields[4], second: fields[5])
        }

        /// Parses an HTTP date (RFC 7231 IMF-fixdate: `Wed, 02 Dec 2026 12:00:00 GMT`), which
        /// SigV4 accepts in a `Date` header when there is no `X-Amz-Date`.
        public init?(httpDate text: String) {
            let bytes = Array(text.utf8)
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            guard bytes.count == 29, bytes[3] == UInt8(ascii: ","), bytes[4] == 0x20, bytes[7] == 0x20, bytes[11] == 0x20, bytes[16] == 0x20,
                  bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":"), bytes[25] == 0x20, text.hasSuffix(" GMT"),
                  let month = months.firstIndex(of: String(decoding: bytes[8..<11], as: UTF8.self)),
                  let day = Self.digits(bytes[5..<7]), let year = Self.digits(bytes[12..<16]),
                  let hour = Self.digits(bytes[17..<19]), let minute = Self.digits(bytes[20..<22]), let second = Self.digits(bytes[23..<25])
            else { return nil }
            self.init(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
        }

        /// A date from its fields, each within its range (a leap second is allowed).
        init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
            guard (1...12).contains(month), (1...31).contains(day), (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second) else { return nil }
            secondsSince1970 = AmzDate.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        }

        /// The value of a run of ASCII digits (at most 4 here), or nil.
        private static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
            var value = 0
            for byte in bytes {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }

        /// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
        static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int64 {
            let y = Int64(month <= 2 ? year - 1 : year)
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = Int64((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1)
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }

        private var civilDate: (Int, Int, Int) {
            let days = (secondsSince1970 >= 0 ? secondsSince1970 : secondsSince1970 - 86_399) / 86_400 + 719_468
            let era = (days >= 0 ? days : days - 146_096) / 146_097
            let dayOfEra = days - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let monthPrime = (5 * dayOfYear + 2) / 153
            let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
            let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
            return (Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
        }

        private func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
    }
}
