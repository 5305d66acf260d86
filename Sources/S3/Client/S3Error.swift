/// An S3 failure: a typed code (S3's own error codes, plus client-side ones), the server's message,
/// and the HTTP status when there was a response.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// S3 error codes are an open set of strings; the ones filestore acts on have names here.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let noSuchKey = Code(rawValue: "NoSuchKey")
        public static let noSuchBucket = Code(rawValue: "NoSuchBucket")
        public static let accessDenied = Code(rawValue: "AccessDenied")
        public static let signatureDoesNotMatch = Code(rawValue: "SignatureDoesNotMatch")
        public static let invalidAccessKeyID = Code(rawValue: "InvalidAccessKeyId")
        public static let bucketAlreadyOwnedByYou = Code(rawValue: "BucketAlreadyOwnedByYou")
        public static let badDigest = Code(rawValue: "BadDigest")
        public static let slowDown = Code(rawValue: "SlowDown")
        public static let internalError = Code(rawValue: "InternalError")
        // Client-side codes (never sent by a server).
        /// The server could not be reached, or the connection broke before a response.
        public static let connectionFailed = Code(rawValue: "filestore.ConnectionFailed")
        /// No response within the request timeout.
        public static let timeout = Code(rawValue: "filestore.Timeout")
        /// An object key or bucket name that filestore refuses to send.
        public static let invalidName = Code(rawValue: "filestore.InvalidName")
        /// A response that could not be understood.
        public static let invalidResponse = Code(rawValue: "filestore.InvalidResponse")
        /// A bad endpoint or other configuration.
        public static let invalidConfiguration = Code(rawValue: "filestore.InvalidConfiguration")
    }

    public var code: Code
    public var message: String
    /// The HTTP status, when a response arrived.
    public var status: Int?
    /// The server's request id, for its logs.
    public var requestID: String?

    public init(_ code: Code, _ message: String, status: Int? = nil, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.requestID = requestID
    }

    /// Server errors, throttling and connection failures are worth retrying; nothing else is.
    public var isRetryable: Bool {
        if let status { return status >= 500 || status == 429 }
        return code == .connectionFailed || code == .timeout
    }

    public var description: String {
        var text = "S3 \(code.rawValue): \(message)"
        if let status { text += " (HTTP \(status))" }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }
}
