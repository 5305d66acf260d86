import ArgumentParser
import AsyncHTTPClient
import Basics
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PublicAPI

/// One client's connection to an agent: requests with the configured credentials, and errors
/// turned into one clear line.
struct APIConnection {
    let options: ClientOptions
    let http: HTTPClient

    /// Runs `body` with a connection and always shuts the HTTP client down.
    static func with<T>(_ options: ClientOptions, _ body: (APIConnection) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(300)))
        if let authority = options.authorityFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(authority))
            } catch {
                throw ClientError("cannot load the CA certificate \(authority): \(error)")
            }
            configuration.tlsConfiguration = tls
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(APIConnection(options: options, http: http))
            try? await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// Builds a request for `path` (already percent-encoded) with credentials.
    func request(_ method: HTTPMethod, _ path: String, authorization: String? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: options.baseURL + path)
        request.method = method
        if let authorization = authorization ?? options.authorization { request.headers.add(name: "Authorization", value: authorization) }
        // Not a request a page on another site could make: agents take Basic-authenticated POSTs with it.
        request.headers.add(name: "X-Requested-With", value: "filestore")
        return request
    }

    /// Sends a request and returns the response with its body still to read; throws a
    /// `ClientError` with the server's message for any non-2xx answer.
    func send(_ request: HTTPClientRequest, accepting: Set<UInt> = []) async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(3600))
        } catch {
            throw ClientError("cannot reach \(options.baseURL): \(error)")
        }
        guard (200..<300).contains(response.status.code) || accepting.contains(response.status.code) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            throw ClientError.from(status: response.status, body: body)
        }
        return response
    }

    /// `GET path`, its answer decoded as `Answer` (one of the `PublicAPI` types).
    func get<Answer: Decodable>(_ path: String, as answer: Answer.Type = Answer.self) async throws -> Answer {
        try await exchange(request(.GET, path), as: Answer.self)
    }

    /// A request with a JSON body, its answer decoded as `Answer`.
    func send<Body: Encodable, Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, authorization: String? = nil, as answer: Answer.Type = Answer.self
    ) async throws -> Answer {
        var request = request(method, path, authorization: authorization)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: try APIJSON.encoder().encode(body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        return try await exchange(request, as: Answer.self)
    }

    private func exchange<Answer: Decodable>(_ request: HTTPClientRequest, as answer: Answer.Type) async throws -> Answer {
        let bytes = try await send(request).body.collect(upTo: 64 << 20)
        do {
            return try APIJSON.decode(Answer.self, from: bytes.readableBytesView)
        } catch {
            throw ClientError("the agent's answer to \(request.method) \(request.url) is not what this client understands: \(error)")
        }
    }

    /// Deletes the resource at `path` (a file, a user); any non-2xx answer throws.
    func delete(_ path: String) async throws {
        _ = try await send(request(.DELETE, path))
    }

    /// A file path as it goes in a URL.
    static func encode(path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/;?#"))) ?? String($0)
        }.joined(separator: "/")
    }

    static func encode(query: String) -> String {
        query.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? query
    }
}

/// A client failure: printed as one line, exit code 1.
struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    /// The API's `{"error": {"code", "message"}}` as one line.
    static func from(status: HTTPResponseStatus, body: String) -> ClientError {
        if let answer = try? APIJSON.decode(APIErrorBody.self, from: Array(body.utf8)) {
            return ClientError("\(answer.error.message) (\(answer.error.code), HTTP \(status.code))")
        }
        return ClientError("HTTP \(status.code) \(status.reasonPhrase)\(body.isEmpty ? "" : ": \(body.prefix(200))")")
    }
}

/// Runs a client command body, printing any failure as one line on stderr with exit code 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ClientError {
        FileHandle.standardError.write(Data("filestore: \(error)\n".utf8))
        throw ExitCode(1)
    } catch {
        FileHandle.standardError.write(Data("filestore: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// A client command's body with a connection: failures become one line and exit code 1.
func withConnection(_ options: ClientOptions, _ body: (APIConnection) async throws -> Void) async throws {
    try await runClient { try await APIConnection.with(options, body) }
}
