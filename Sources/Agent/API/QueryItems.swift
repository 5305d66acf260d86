/// A request's query parameters, percent-decoded strictly (a bad escape is a 400, not a guess).
struct QueryItems {
    private var values: [String: String] = [:]

    init(_ query: String?) throws(APIError) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&") {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try FilePathRules.percentDecode(pieces[0], plusIsSpace: true)
            values[name] = try FilePathRules.percentDecode(pieces.count > 1 ? pieces[1] : "", plusIsSpace: true)
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    /// An integer parameter within `range`; 400 when present but not such a number.
    func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.badRequest("invalid_parameter", "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
