import Basics
import Crypto

extension S3.SigV4 {
    /// A request as a server received it: the path and query still encoded as on the wire.
    public struct ReceivedRequest: Sendable {
        public var method: String
        /// The encoded path, starting with `/`, without the query.
        public var rawPath: String
        /// The encoded query after `?` (empty when there is none).
        public var rawQuery: String
        /// Every header as received, repeated names included, in order.
        public var headers: [(name: String, value: String)]

        public init(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)]) {
            self.method = method
            self.rawPath = rawPath
            self.rawQuery = rawQuery
            self.headers = headers
        }

        /// The values of a header (case-insensitive name), in order.
        public func values(of name: String) -> [String] {
            headers.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
        }

        /// The decoded query parameters, in order.
        public var query: [(name: String, value: String)] {
            rawQuery.split(separator: "&", omittingEmptySubsequences: true).map { part in
                let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (PercentEncoding.decodeLeniently(pieces[0]), pieces.count > 1 ? PercentEncoding.decodeLeniently(pieces[1]) : "")
            }
        }
    }

    /// What the signature says about the body, from `x-amz-content-sha256` (or, presigned, `UNSIGNED-PAYLOAD`).
    public enum Payload: Sendable, Equatable {
        /// The body is not covered by the signature.
        case unsigned
        /// The body's SHA-256 (lowercase hex): the server must check it while the body streams.
        case sha256(String)
        /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `aws-chunked`, every chunk signed.
        case signedChunks
        /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
        case signedChunksWithTrailer
        /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `aws-chunked` without signatures, a checksum trailer.
        case unsignedChunksWithTrailer

        init?(_ text: String) {
            switch text {
            case S3.SigV4.unsignedPayload: self = .unsigned
            case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": self = .signedChunks
            case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": self = .signedChunksWithTrailer
            case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": self = .unsignedChunksWithTrailer
            default:
                guard text.utf8.count == 64, text.utf8.allSatisfy({ Hex.value(of: $0) != nil }) else { return nil }
                self = .sha256(text.lowercased())
            }
        }

        /// Whether the body is `aws-chunked` framed.
        public var isChunked: Bool {
            switch self {
            case .signedChunks, .signedChunksWithTrailer, .unsignedChunksWithTrailer: true
            case .unsigned, .sha256: false
            }
        }
    }

    /// A request whose signature checked out: who sent it and how its body must be checked.
    public struct Authenticated: Sendable {
        public var accessKeyID: String
        public var payload: Payload
        /// Whether the signature came in the query (a presigned URL).
        public var presigned: Bool
        /// What chunk signatures chain from: the request's own signature, its date and scope, and the key.
        public var chunkSigning: ChunkSigning
    }

    /// What `aws-chunked` chunk and trailer signatures are computed from.
    public struct ChunkSigning: Sendable {
        public var seedSignature: String
        public var timestamp: String
        public var scope: String
        public var key: SymmetricKey
    }

    /// Why a request was refused, with the S3 error code and status it is answered with.
    public struct VerificationError: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Code: String, Sendable {
            /// Neither an `Authorization` header nor a presigned query.
            case accessDenied = "AccessDenied"
            case invalidAccessKeyId = "InvalidAccessKeyId"
            case signatureDoesNotMatch = "SignatureDoesNotMatch"
            case requestTimeTooSkewed = "RequestTimeTooSkewed"
            case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
            case authorizationQueryParametersError = "AuthorizationQueryParametersError"
            case invalidRequest = "InvalidRequest"
            case invalidArgument = "InvalidArgument"
        }

        public var code: Code
        public var message: String

        public init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        /// The HTTP status S3 answers this code with.
        public var status: Int {
            switch code {
            case .accessDenied, .invalidAccessKeyId, .signatureDoesNotMatch, .requestTimeTooSkewed: 403
            case .authorizationHeaderMalformed, .authorizationQueryParametersError, .invalidRequest, .invalidArgument: 400
            }
        }

        public var description: String { "\(code.rawValue): \(message)" }
    }

    /// Checks SigV4 signatures of received S3 requests, header-signed or presigned (pure: the
    /// secret lookup and the time are passed in). Any region in the credential scope is
    /// accepted — the signature covers it — but the service must be `s3`.
    public struct Verifier: Sendable {
        /// How far a header-signed request's date may be from now (S3: 15 minutes).
        public var maxSkewSeconds: Int64
        /// The longest validity a presigned URL may ask for (S3: 7 days).
        public static let maxPresignedExpiry: Int64 = 604_800

        /// Headers that must not be repeated (besides every `x-amz-*` one).
        static let singleValued: Set<String> = ["host", "content-md5", "content-length", "content-type", "content-encoding", "range", "date"]

        public init(maxSkewSeconds: Int64 = 900) {
            self.maxSkewSeconds = maxSkewSeconds
        }

        /// The access key id a request claims to be signed with, unchecked (nil when it names
        /// none): what a server looks up before `verify`, which checks everything.
        public static func claimedAccessKeyID(_ request: ReceivedRequest) -> String? {
            let credential: String?
            if let presigned = request.query.first(where: { $0.name == "X-Amz-Credential" }) {
                credential = presigned.value
            } else if let header = request.values(of: "Authorization").first, let fields = try? HeaderAuthorization(header) {
                credential = fields.credential
            } else {
                credential = nil
            }
            guard let credential, let slash = credential.firstIndex(of: "/") else { return nil }
            let id = credential[..<slash]
            return id.isEmpty || id.utf8.count > 128 ? nil : String(id)
        }

        /// Verifies `request` at `now` (seconds since 1970). `secret` answers an access key id
        /// with its secret, or nil when there is no such key.
        public func verify(
            _ request: ReceivedRequest, now: Int64, secret: (String) -> String?
        ) throws(VerificationError) -> Authenticated {
            let authorization = request.values(of: "Authorization")
            let query = request.query
            if query.contains(where: { $0.name == "X-Amz-Signature" || $0.name == "X-Amz-Algorithm" }) {
                guard authorization.isEmpty else { throw VerificationError(.invalidArgument, "a request carries one signature: in the Authorization header or in the query, not both") }
                return try verifyPresigned(request, query: query, now: now, secret: secret)
            }
            if query.contains(where: { $0.name == "AWSAccessKeyId" }), query.contains(where: { $0.name == "Signature" }) {
                throw VerificationError(.invalidRequest, "The authorization mechanism you have provided (Signature Version 2) is not supported. Please use AWS4-HMAC-SHA256.")
            }
            guard authorization.count == 1 else {
                throw authorization.isEmpty
                    ? VerificationError(.accessDenied, "the request is not signed (anonymous access is not allowed)")
                    : VerificationError(.invalidArgument, "more than one Authorization header")
            }
            return try verifyHeader(request, authorization: authorization[0], now: now, secret: secret)
        }

        private func verifyHeader(
            _ request: ReceivedRequest, authorization: String, now: Int64, secret: (String) -> String?
        ) throws(VerificationError) -> Authenticated {
            let fields = try HeaderAuthorization(authorization)
            let dateText = request.values(of: "x-amz-date").first ?? request.values(of: "date").first
            guard let dateText, let date = AmzDate(dateText) ?? AmzDate(httpDate: dateText) else {
                throw VerificationError(.accessDenied, "the request has no valid X-Amz-Date or Date header")
            }
            let scope = try CredentialScope(fields.credential, date: date, malformed: .authorizationHeaderMalformed)
            guard (date.secondsSince1970 - now).magnitude <= UInt64(maxSkewSeconds) else {
                throw VerificationError(.requestTimeTooSkewed, "the difference between the request time (\(date.timestamp)) and the server's time is too large")
            }
            guard let contentHash = request.values(of: "x-amz-content-sha256").first else {
                throw VerificationError(.invalidRequest, "missing required header for this request: x-amz-content-sha256")
            }
            guard let payload = Payload(contentHash) else {
                throw VerificationError(.invalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or a SHA-256 in hex")
            }
            let signed = try signedHeaders(fields.signedHeaders, of: request, malformed: .authorizationHeaderMalformed)
            guard signed.contains(where: { $0.name.caseInsensitiveEquals("x-amz-content-sha256") }) || !payload.isChunked else {
                throw VerificationError(.signatureDoesNotMatch, "x-amz-content-sha256 must be a signed header")
            }
            return try check(
                fields.signature, of: request, signed: signed, contentHash: contentHash, payload: payload,
                date: date, scope: scope, presigned: false, secret: secret
            )
        }

        /// Recomputes the signature over what was signed and compares it with the one sent.
        private func check(
            _ signature: String, of request: ReceivedRequest, signed: [(name: String, value: String)],
            contentHash: String, payload: Payload, date: AmzDate, scope: CredentialScope, presigned: Bool, secret: (String) -> String?
        ) throws(VerificationError) -> Authenticated {
            guard request.rawPath.hasPrefix("/") else { throw VerificationError(.invalidRequest, "the request path must start with /") }
            let canonical = S3.SigV4.canonicalRequest(
                method: request.method, encodedPath: PercentEncoding.reencode(request.rawPath, keepSlash: true),
                canonicalQuery: S3.SigV4.canonicalQuery(raw: request.rawQuery, excluding: presigned ? "X-Amz-Signature" : nil),
                headers: S3.SigV4.canonicalHeaders(signed), payloadHash: contentHash
            )
            let key = try signingKey(scope, secret: secret)
            let expected = S3.SigV4.signature(canonicalRequest: canonical, timestamp: date.timestamp, scope: scope.text, key: key)
            guard constantTimeEquals(expected, signature) else {
                throw VerificationError(.signatureDoesNotMatch, "the request signature we calculated does not match the signature you provided; check your key and signing method")
            }
            return Authenticated(
                accessKeyID: scope.accessKeyID, payload: payload, presigned: presigned,
                chunkSigning: ChunkSigning(seedSignature: expected, timestamp: date.timestamp, scope: scope.text, key: key)
            )
        }

        private func verifyPresigned(
            _ request: ReceivedRequest, query: [(name: String, value: String)], now: Int64, secret: (String) -> String?
        ) throws(VerificationError) -> Authenticated {
            func one(_ name: String) throws(VerificationError) -> String {
                let values = query.filter { $0.name == name }.map(\.value)
                guard values.count == 1 else {
                    throw VerificationError(.authorizationQueryParametersError, values.isEmpty ? "query parameter \(name) is missing" : "query parameter \(name) is repeated")
                }
                return values[0]
            }
            guard try one("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" else {
                throw VerificationError(.authorizationQueryParametersError, "X-Amz-Algorithm must be AWS4-HMAC-SHA256")
            }
            guard let date = AmzDate(try one("X-Amz-Date")), try one("X-Amz-Date").utf8.count == 16 else {
                throw VerificationError(.authorizationQueryParametersError, "X-Amz-Date must be yyyyMMddTHHmmssZ")
            }
            let scope = try CredentialScope(try one("X-Amz-Credential"), date: date, malformed: .authorizationQueryParametersError)
            guard let expires = Int64(try one("X-Amz-Expires")), (1...Self.maxPresignedExpiry).contains(expires) else {
                throw VerificationError(.authorizationQueryParametersError, "X-Amz-Expires must be a number of seconds from 1 to \(Self.maxPresignedExpiry)")
            }
            guard date.secondsSince1970 - now <= maxSkewSeconds else {
                throw VerificationError(.accessDenied, "request is not valid yet")
            }
            guard now <= date.secondsSince1970 + expires else {
                throw VerificationError(.accessDenied, "request has expired")
            }
            let signature = try one("X-Amz-Signature")
            let signed = try signedHeaders(try one("X-Amz-SignedHeaders"), of: request, malformed: .authorizationQueryParametersError)
            let contentHash = query.first { $0.name == "X-Amz-Content-Sha256" }?.value ?? request.values(of: "x-amz-content-sha256").first ?? S3.SigV4.unsignedPayload
            guard let payload = Payload(contentHash), !payload.isChunked else {
                throw VerificationError(.invalidArgument, "a presigned request's payload is UNSIGNED-PAYLOAD or a SHA-256 in hex")
            }
            return try check(
                signature, of: request, signed: signed, contentHash: contentHash,
                payload: payload, date: date, scope: scope, presigned: true, secret: secret
            )
        }

        private func signingKey(_ scope: CredentialScope, secret: (String) -> String?) throws(VerificationError) -> SymmetricKey {
            guard let secretKey = secret(scope.accessKeyID) else {
                throw VerificationError(.invalidAccessKeyId, "the access key id you provided does not exist in our records")
            }
            return S3.SigV4.Signer(credentials: S3.Credentials(accessKeyID: scope.accessKeyID, secretAccessKey: secretKey), region: scope.region, service: scope.service)
                .signingKey(day: scope.day)
        }

        /// The request's headers named in `list` (`;`-separated, lowercase, sorted as sent); `host` must be one.
        private func signedHeaders(_ list: String, of request: ReceivedRequest, malformed: VerificationError.Code) throws(VerificationError) -> [(name: String, value: String)] {
            let names = list.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
                throw VerificationError(malformed, "SignedHeaders must be lowercase header names separated by ';'")
            }
            guard names.contains("host") else { throw VerificationError(malformed, "SignedHeaders must include host") }
            let signedNames = Set(names)
            var seen: Set<String> = []
            for header in request.headers {
                let name = header.name.lowercased()
                // An x-amz-* header changes what a request does (a copy source, a checksum, a
                // length): one nobody signed could be added to a captured or presigned request.
                if name.hasPrefix("x-amz-"), !signedNames.contains(name) {
                    throw VerificationError(.accessDenied, "there were headers present in the request which were not signed: \(name.prefix(64))")
                }
                // Repeated headers are signed joined by commas, which one header with commas
                // would sign the same: the single-valued ones must come once.
                if name.hasPrefix("x-amz-") || Self.singleValued.contains(name), !seen.insert(name).inserted {
                    throw VerificationError(.invalidArgument, "the header \(name.prefix(64)) appears more than once")
                }
            }
            var signed: [(name: String, value: String)] = []
            for name in names {
                let values = request.values(of: name)
                guard !values.isEmpty else {
                    throw VerificationError(.signatureDoesNotMatch, "signed header \(name) is not in the request")
                }
                signed += values.map { (name, $0) }
            }
            return signed
        }

    }

    /// The parts of `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    struct HeaderAuthorization {
        var credential: String
        var signedHeaders: String
        var signature: String

        init(_ header: String) throws(VerificationError) {
            let prefix = "AWS4-HMAC-SHA256 "
            guard header.hasPrefix(prefix) else {
                throw VerificationError(.authorizationHeaderMalformed, header.hasPrefix("AWS ") ? "Signature Version 2 is not supported: use AWS4-HMAC-SHA256" : "the authorization header must start with AWS4-HMAC-SHA256")
            }
            var fields: [String: String] = [:]
            for part in header.dropFirst(prefix.count).split(separator: ",") {
                let trimmed = part.drop { $0 == " " }
                let pieces = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pieces.count == 2, fields[String(pieces[0])] == nil else {
                    throw VerificationError(.authorizationHeaderMalformed, "the authorization header is malformed near \"\(trimmed.prefix(40))\"")
                }
                fields[String(pieces[0])] = String(pieces[1].reversed().drop { $0 == " " }.reversed())
            }
            guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"], let signature = fields["Signature"], fields.count == 3 else {
                throw VerificationError(.authorizationHeaderMalformed, "the authorization header needs exactly Credential, SignedHeaders and Signature")
            }
            self.credential = credential
            self.signedHeaders = signedHeaders
            self.signature = signature
        }
    }

    /// `AKID/yyyyMMdd/region/s3/aws4_request`, checked against the request's date.
    struct CredentialScope {
        var accessKeyID: String
        var day: String
        var region: String
        var service: String

        init(_ credential: String, date: AmzDate, malformed: VerificationError.Code) throws(VerificationError) {
            let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 5, !parts[0].isEmpty, parts[4] == "aws4_request", !parts[2].isEmpty,
                  parts[2].utf8.allSatisfy({ PercentEncoding.isUnreserved($0) })
            else {
                throw VerificationError(malformed, "the credential must be ACCESS_KEY/yyyyMMdd/region/s3/aws4_request")
            }
            guard parts[3] == "s3" else { throw VerificationError(malformed, "the credential's service must be s3, not \(parts[3].prefix(20))") }
            guard parts[1] == date.day else { throw VerificationError(malformed, "the credential's date \(parts[1].prefix(8)) is not the request's date \(date.day)") }
            accessKeyID = parts[0]
            day = parts[1]
            region = parts[2]
            service = parts[3]
        }

        var text: String { "\(day)/\(region)/\(service)/aws4_request" }
    }

    /// Compares two signatures in time that depends only on their lengths.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

extension String {
    /// ASCII case-insensitive equality (header names).
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { lowered($0) == lowered($1) }
    }
}

private func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
