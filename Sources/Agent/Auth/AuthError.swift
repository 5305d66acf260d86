/// Why a request's credentials, or an account change, were refused. Rendered by the API layer.
public struct AuthError: Error, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// No credentials, or credentials that name nobody (wrong password, unknown token).
        case unauthenticated
        /// Authenticated, but a cookie request that changes state lacks its CSRF token.
        case csrfMissing
        /// A user name outside the allowed alphabet or length.
        case invalidName
        /// A password outside 8-256 bytes.
        case weakPassword
        /// The client failed too many sign-ins lately (`retryAfterSeconds` says when to retry).
        case rateLimited
        /// Too many password checks are waiting already.
        case busy
    }

    public var code: Code
    public var message: String
    /// For `rateLimited` and `busy`: when the client may try again.
    public var retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
