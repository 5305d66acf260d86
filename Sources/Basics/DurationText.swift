/// Parses durations written the way operators write them: `500ms`, `30s`, `5m`, `1h`, `7d`, `1h30m`.
public enum DurationText {
    /// The duration `text` names; nil unless it is one or more `<whole number><unit>` parts.
    public static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var rest = Substring(text.filter { $0 != " " })
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            guard let count = Int64(digits), let unit = units[String(unitText)], count <= Int64.max / 86_400_000 else { return nil }
            total += unit * count
        }
        return total
    }

    /// A compact rendering that `parse` reads back (`5m`, `1h30m`, `250ms`).
    public static func format(_ duration: Duration) -> String {
        var milliseconds = duration.inMilliseconds
        guard milliseconds > 0 else { return "0s" }
        var text = ""
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where milliseconds >= size {
            text += "\(milliseconds / size)\(suffix)"
            milliseconds %= size
        }
        return text
    }

    private static let units: [String: Duration] = [
        "ms": .milliseconds(1), "s": .seconds(1), "m": .seconds(60), "h": .seconds(3600), "d": .seconds(86_400),
    ]
}
