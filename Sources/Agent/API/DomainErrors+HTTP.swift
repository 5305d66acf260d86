import Hummingbird

/// A domain error the API answers with a status and a stable snake_case code. The one place
/// where layers below `API/` meet HTTP: they throw their own errors, and these mappings render them.
protocol APIErrorConvertible: Error {
    var apiError: APIError { get }
}

extension ReplicationError: APIErrorConvertible {
    var apiError: APIError {
        switch code {
        case .quorumUnavailable, .noReadableReplica: APIError.unavailable(message)
        case .truncated: APIError.badRequest("truncated", message)
        case .checksumMismatch: APIError(.unprocessableContent, "checksum_mismatch", message)
        case .tooLarge: APIError(.contentTooLarge, "too_large", message)
        }
    }
}

extension AuthError: APIErrorConvertible {
    var apiError: APIError {
        switch code {
        case .unauthenticated: APIError.unauthorized(message)
        case .csrfMissing: APIError.forbidden(message)
        case .invalidName: APIError.badRequest("invalid_name", message)
        case .weakPassword: APIError.badRequest("weak_password", message)
        case .rateLimited: APIError(.tooManyRequests, "rate_limited", message).retrying(after: retryAfterSeconds)
        case .busy: APIError(.serviceUnavailable, "busy", message).retrying(after: retryAfterSeconds)
        }
    }
}
