import AsyncHTTPClient
import Basics
import ByteStreams
import NIOCore
import NIOHTTP1

extension S3 {
    /// A streaming S3 client over AsyncHTTPClient: path-style requests, SigV4-signed, pooled
    /// connections, timeouts, and retries with jittered backoff on 5xx and connection failures only.
    /// Call `shutdown()` once when done.
    public final class Client: Sendable {
        public let configuration: Configuration
        let http: HTTPClient
        let signer: SigV4.Signer
        let scheme: String
        let host: String

        /// Creates a client with its own connection pool; refuses a malformed endpoint.
        public init(configuration: Configuration) throws(S3Error) {
            (scheme, host) = try configuration.parsedEndpoint()
            self.configuration = configuration
            self.signer = SigV4.Signer(credentials: configuration.credentials, region: configuration.region)
            var httpConfiguration = HTTPClient.Configuration(
                timeout: .init(connect: .init(configuration.connectTimeout), read: .init(configuration.readTimeout)),
                connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
            )
            // Fail fast when the server is down; retries with backoff are ours, not the pool's.
            httpConfiguration.connectionPool.retryConnectionEstablishment = false
            httpConfiguration.decompression = .disabled
            httpConfiguration.redirectConfiguration = .disallow
            self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        }

        /// Closes pooled connections. Call once, after the last request.
        public func shutdown() async throws { try await http.shutdown() }

        /// Runs `body` with a new client and always shuts it down afterwards, even when `body` throws.
        public static func withClient<Result>(_ configuration: Configuration, _ body: (Client) async throws -> Result) async throws -> Result {
            let client = try Client(configuration: configuration)
            do {
                let result = try await body(client)
                try await client.shutdown()
                return result
            } catch {
                try? await client.shutdown()
                throw error
            }
        }

        // MARK: Requests

        /// A request body: bytes in memory (can be resent on retry) or a one-shot stream of known length.
        public enum Body: Sendable {
            case bytes(ByteBuffer)
            case stream(length: Int64, AnySendableByteSequence)

            var isReplayable: Bool { if case .bytes = self { true } else { false } }
        }

        /// Sends one signed request, retrying retryable failures while the body can be resent.
        /// Returns a 2xx (or `accepting`) response with its body still to be read; throws `S3Error` otherwise.
        func send(
            _ method: HTTPMethod, bucket: String, key: String? = nil, query: [(name: String, value: String)] = [],
            headers extraHeaders: [(name: String, value: String)] = [], body: Body? = nil, payloadHash: String = SigV4.emptyPayloadHash,
            accepting: Set<Int> = []
        ) async throws -> HTTPClientResponse {
            var path = "/\(bucket)"
            if let key { path += "/\(key)" }
            var attempt = 0
            while true {
                attempt += 1
                do {
                    let response = try await execute(method, path: path, query: query, headers: extraHeaders, body: body, payloadHash: payloadHash)
                    let status = Int(response.status.code)
                    if (200..<300).contains(status) || accepting.contains(status) { return response }
                    throw await S3Client.error(from: response, method: method)
                } catch let error as S3Error where error.isRetryable && attempt < configuration.maxAttempts && (body?.isReplayable ?? true) {
                    try await Task.sleep(for: configuration.backoff(attempt: attempt))
                }
            }
        }

        private func execute(
            _ method: HTTPMethod, path: String, query: [(name: String, value: String)], headers extraHeaders: [(name: String, value: String)],
            body: Body?, payloadHash: String
        ) async throws(S3Error) -> HTTPClientResponse {
            var headers: [(name: String, value: String)] = [("Host", host)] + extraHeaders
            switch body {
            case .bytes(let buffer): headers.append(("Content-Length", String(buffer.readableBytes)))
            case .stream(let length, _): headers.append(("Content-Length", String(length)))
            case nil: if method == .PUT || method == .POST { headers.append(("Content-Length", "0")) }
            }
            let date = SigV4.AmzDate(secondsSince1970: Int64(UnixClock.secondsSince1970()))
            let signature = signer.sign(SigV4.Request(method: method.rawValue, path: path, query: query, headers: headers), payloadHash: payloadHash, date: date)

            let encodedPath = PercentEncoding.encode(path, keepSlash: true)
            let encodedQuery = query.map { "\(PercentEncoding.encode($0.name, keepSlash: false))=\(PercentEncoding.encode($0.value, keepSlash: false))" }.joined(separator: "&")
            var request = HTTPClientRequest(url: "\(scheme)://\(host)\(encodedPath)\(encodedQuery.isEmpty ? "" : "?" + encodedQuery)")
            request.method = method
            for (name, value) in headers + signature.headers where name != "Content-Length" { request.headers.add(name: name, value: value) }
            switch body {
            case .bytes(let buffer): request.body = .bytes(buffer)
            case .stream(let length, let sequence): request.body = .stream(sequence, length: .known(length))
            case nil: if method == .PUT || method == .POST { request.body = .bytes(ByteBuffer()) }
            }
            do {
                return try await http.execute(request, timeout: .init(configuration.requestTimeout))
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                throw S3Error(.timeout, "\(method) \(path): no response from \(host) in time (\(error))")
            } catch is CancellationError {
                throw S3Error(.connectionFailed, "\(method) \(path): cancelled")
            } catch {
                throw S3Error(.connectionFailed, "\(method) \(path): cannot reach \(host): \(error)")
            }
        }
    }
}

/// Error decoding for S3 responses.
enum S3Client {
    /// Reads an error response (up to 64 KiB of XML) into a typed error.
    static func error(from response: HTTPClientResponse, method: HTTPMethod) async -> S3Error {
        let status = Int(response.status.code)
        let requestID = response.headers.first(name: "x-amz-request-id")
        let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
        let xml = Substring(body)
        if let code = S3XML.value("Code", in: xml) {
            return S3Error(.init(rawValue: code), S3XML.value("Message", in: xml) ?? response.status.reasonPhrase, status: status, requestID: S3XML.value("RequestId", in: xml) ?? requestID)
        }
        // HEAD responses carry no body: infer the code from the status.
        let code: S3Error.Code = switch status {
        case 404: .noSuchKey
        case 403: .accessDenied
        case 503: .slowDown
        case 500...: .internalError
        default: .invalidResponse
        }
        return S3Error(code, "\(method) failed with \(response.status)", status: status, requestID: requestID)
    }
}
