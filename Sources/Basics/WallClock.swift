#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock every layer reads (versions, purge and GC ages, token expiry, internal-auth
/// and gossip freshness), so a fault test can skew one agent's clock as a whole:
/// `FILESTORE_TEST_CLOCK_OFFSET` (a signed duration such as `-90s`, `40s`, `1500ms`) shifts
/// every reading. faketime's LD_PRELOAD cannot do it here: Swift binaries lose their arguments
/// under it. The agent refuses to start on an invalid value and logs a valid one loudly.
public enum WallClock {
    /// Milliseconds since the Unix epoch, shifted by the test offset.
    @Sendable public static func milliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(0, Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000 + (testOffset.milliseconds ?? 0)))
    }

    /// The test offset from the environment: `milliseconds` nil when unset or invalid, `error`
    /// saying why it is invalid.
    public static let testOffset: (milliseconds: Int64?, text: String?, error: String?) = parseOffset(
        getenv("FILESTORE_TEST_CLOCK_OFFSET").map { String(cString: $0) }
    )

    /// Reads a signed duration (`-90s`, `+40s`, `1500ms`, at most a year either way).
    public static func parseOffset(_ text: String?) -> (milliseconds: Int64?, text: String?, error: String?) {
        guard let text, !text.isEmpty else { return (nil, nil, nil) }
        let negative = text.hasPrefix("-")
        let magnitude = negative || text.hasPrefix("+") ? String(text.dropFirst()) : text
        guard let duration = DurationText.parse(magnitude), duration <= .seconds(366 * 24 * 3600) else {
            return (nil, text, "FILESTORE_TEST_CLOCK_OFFSET must be a signed duration such as -90s, 40s or 1500ms (at most a year), not \(text.debugDescription)")
        }
        return ((negative ? -1 : 1) * duration.inMilliseconds, text, nil)
    }
}
