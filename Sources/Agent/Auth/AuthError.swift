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
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
