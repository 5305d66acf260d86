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

        /// Parses the `yyyyMMdd'T'HHmmss'Z'` form (or ISO 8601 `yyyy-MM-ddTHH:mm:ssZ`).
        public init?(_ text: String) {
            let digits = text.filter { $0.isNumber }
            guard digits.count == 14, text.hasSuffix("Z"),
                  let year = Int(digits.prefix(4)), let month = Int(digits.dropFirst(4).prefix(2)), let day = Int(digits.dropFirst(6).prefix(2)),
                  let hour = Int(digits.dropFirst(8).prefix(2)), let minute = Int(digits.dropFirst(10).prefix(2)), let second = Int(digits.dropFirst(12)),
                  (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
            else { return nil }
            secondsSince1970 = AmzDate.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        }

        /// Parses an HTTP date (RFC 7231 IMF-fixdate: `Wed, 02 Dec 2026 12:00:00 GMT`), which
        /// SigV4 accepts in a `Date` header when there is no `X-Amz-Date`.
        public init?(httpDate text: String) {
            let parts = text.split(separator: " ")
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
                  let day = Int(parts[1]), (1...31).contains(day), let month = months.firstIndex(of: String(parts[2])),
                  let year = Int(parts[3]), (1970...9999).contains(year)
            else { return nil }
            let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard clock.count == 3, clock[0] < 24, clock[1] < 60, clock[2] < 61 else { return nil }
            secondsSince1970 = AmzDate.daysSinceEpoch(year: year, month: month + 1, day: day) * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])
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
