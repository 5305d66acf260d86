import HTTPTypes
import Hummingbird
import S3

/// An error the S3 listener answers with: an S3 code, its HTTP status and a message, rendered as
/// S3's XML error body (DESIGN.md §16). Every error on the S3 path becomes one of these; the
/// mappings from the layers below are here, in one place.
struct S3APIError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    var description: String { "\(status.code) \(code): \(message)" }

    static func invalidArgument(_ message: String) -> S3APIError { S3APIError(.badRequest, "InvalidArgument", message) }
    static func accessDenied(_ message: String = "Access Denied") -> S3APIError { S3APIError(.forbidden, "AccessDenied", message) }
    static func noSuchBucket(_ name: String) -> S3APIError { S3APIError(.notFound, "NoSuchBucket", "The specified bucket does not exist: \(name.prefix(80))") }
    static func noSuchKey() -> S3APIError { S3APIError(.notFound, "NoSuchKey", "The specified key does not exist.") }

    /// Any error thrown on the S3 path, as S3 would answer it.
    static func from(_ error: any Error) -> S3APIError {
        switch error {
        case let error as S3APIError: return error
        case let error as S3.AddressingError: return S3APIError(.init(code: error.status), error.code.rawValue, error.message)
        case let error as S3.SigV4.VerificationError: return S3APIError(.init(code: error.status), error.code.rawValue, error.message)
        case let error as S3.AWSChunkedDecoder.DecodingError:
            switch error.code {
            case .signatureMismatch: return S3APIError(.forbidden, "SignatureDoesNotMatch", error.message)
            case .incomplete, .lengthMismatch: return S3APIError(.badRequest, "IncompleteBody", error.message)
            case .malformed: return S3APIError(.badRequest, "InvalidRequest", error.message)
            }
        case let error as ReplicationError:
            switch error.code {
            case .quorumUnavailable, .noReadableReplica: return S3APIError(.serviceUnavailable, "ServiceUnavailable", error.message)
            case .truncated: return S3APIError(.badRequest, "IncompleteBody", error.message)
            case .checksumMismatch: return S3APIError(.badRequest, "XAmzContentSHA256Mismatch", error.message)
            case .tooLarge: return S3APIError(.contentTooLarge, "EntityTooLarge", error.message)
            }
        case let error as APIErrorConvertible: return from(error.apiError)
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return S3APIError(.contentTooLarge, "EntityTooLarge", "the request body is too large")
            case .badRequest: return S3APIError(.badRequest, "InvalidRequest", error.body ?? "malformed request")
            default: return S3APIError(error.status, error.status.code >= 500 ? "InternalError" : "InvalidRequest", error.body ?? error.status.reasonPhrase)
            }
        case let error as APIError:
            var converted: S3APIError
            switch error.status {
            case .serviceUnavailable: converted = S3APIError(.serviceUnavailable, "SlowDown", error.message)
            case .contentTooLarge: converted = S3APIError(.contentTooLarge, "EntityTooLarge", error.message)
            case .badRequest: converted = S3APIError(.badRequest, "InvalidRequest", error.message)
            default: converted = S3APIError(.internalServerError, "InternalError", error.message)
            }
            converted.headers = error.headers
            return converted
        default:
            return S3APIError(.internalServerError, "InternalError", "We encountered an internal error. Please try again.")
        }
    }
}
