import Foundation
import Hummingbird
import PublicAPI

/// An error answered to a client as `{"error": {"code", "message"}}` with its HTTP status
/// (DESIGN.md §10). Handlers throw these; `ErrorMiddleware` turns every other error into one.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// snake_case, stable: clients branch on it.
    public var code: String
    public var message: String
    /// Extra response headers (`WWW-Authenticate` on a 401).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func badRequest(_ code: String = "bad_request", _ message: String) -> APIError { APIError(.badRequest, code, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, "conflict", message) }
    public static func unavailable(_ message: String) -> APIError { APIError(.serviceUnavailable, "not_enough_nodes", message) }
    public static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, "unauthorized", message)
        error.headers[.wwwAuthenticate] = "Basic realm=\"filestore\", Bearer"
        return error
    }

    /// This error with `Retry-After` (seconds), when given.
    func retrying(after seconds: Int?) -> APIError {
        var error = self
        if let seconds { error.headers[.retryAfter] = String(seconds) }
        return error
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(status: status, APIErrorBody(code: code, message: message))
        // The body is this JSON error, whatever the headers of the response it replaces said about theirs.
        response.headers.append(contentsOf: headers.filter { $0.name != .contentType && $0.name != .contentLength })
        return response
    }
}

extension Response {
    /// A JSON response of an `Encodable` value.
    static func json(status: HTTPResponse.Status = .ok, _ value: some Encodable) -> Response {
        // Encoding our own value types cannot fail; an empty object is the impossible fallback.
        let data = (try? APIJSON.encoder().encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

/// Turns every error a handler throws into the JSON error shape: our `APIError`s as they are,
/// Hummingbird's own (unknown route, body too large) with their status, and anything else as
/// a 500 whose message says nothing about internals (the details go to the log).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as any APIErrorConvertible {
            return try error.apiError.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let code = error.status.code == 404 ? "not_found" : error.status.code == 413 ? "too_large" : "bad_request"
            let status = error.status.code >= 500 ? HTTPResponse.Status.internalServerError : error.status
            let message = error.status.code == 404 ? "no such route: \(request.method) \(request.uri.path)" : error.status.reasonPhrase
            return try APIError(status, code, message).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return try APIError(.internalServerError, "internal", "the request failed on this node; see its log").response(from: request, context: context)
        }
    }
}
