extension S3 {
    /// Where and how to reach one S3 server (path-style addressing, as MinIO defaults to).
    public struct Configuration: Sendable {
        /// `http://host:port` or `https://host[:port]`, without a path.
        public var endpoint: String
        public var region: String
        public var credentials: S3.Credentials
        /// Time allowed for a response to start arriving (bodies then stream under the read timeout).
        public var requestTimeout: Duration = .seconds(30)
        /// Time allowed to open a connection.
        public var connectTimeout: Duration = .seconds(3)
        /// Longest silence while reading a streamed body.
        public var readTimeout: Duration = .seconds(30)
        /// Attempts per request, the first included; retries only on 5xx, 429 and connection failures.
        public var maxAttempts = 4
        /// First backoff step; each retry waits a random time up to base × 2^attempt (full jitter), capped at 2 s.
        public var retryBaseDelay: Duration = .milliseconds(100)
        /// Pooled connections per server.
        public var maxConnections = 16

        public init(endpoint: String, region: String = "us-east-1", credentials: S3.Credentials) {
            self.endpoint = endpoint
            self.region = region
            self.credentials = credentials
        }

        /// The wait before retry number `attempt` (1-based): full-jitter exponential backoff,
        /// uniform in [0, min(2 s, base × 2^attempt)].
        public func backoff(attempt: Int) -> Duration {
            let cap = min(Duration.seconds(2), retryBaseDelay * (1 << min(max(attempt, 0), 10)))
            let milliseconds = cap.inMilliseconds
            return .milliseconds(Int64.random(in: 0...max(milliseconds, 1)))
        }

        /// The endpoint split into scheme and `host[:port]` (the value signed as `Host`).
        func parsedEndpoint() throws(S3Error) -> (scheme: String, host: String) {
            var text = Substring(endpoint)
            while text.hasSuffix("/") { text = text.dropLast() }
            for scheme in ["http", "https"] where text.hasPrefix("\(scheme)://") {
                let host = text.dropFirst(scheme.count + 3)
                guard !host.isEmpty, !host.contains("/"), !host.contains("?"), !host.contains("@"), !host.contains(" ") else { break }
                if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
                    guard let port = Int(host[host.index(after: colon)...]), (1...65_535).contains(port) else { break }
                }
                return (scheme, String(host))
            }
            throw S3Error(.invalidConfiguration, "S3 endpoint must look like http://host:port, got \"\(endpoint)\"")
        }
    }
}
