import Basics
import Crypto

extension S3 {
    /// AWS Signature Version 4 (pure: no I/O, the date is passed in).
    public enum SigV4 {}
}

extension S3.SigV4 {
    /// The payload hash S3 accepts when the body is not hashed before sending.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string, the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// What an HTTP request is signed over. Path and query are given decoded; the signer encodes them.
    public struct Request: Sendable {
        public var method: String
        /// The decoded path, starting with `/` (for S3 path-style: `/bucket/key`).
        public var path: String
        /// Decoded query parameters, in any order; repeated names are allowed.
        public var query: [(name: String, value: String)]
        /// Headers to sign, `Host` included; repeated names are joined in order with commas.
        public var headers: [(name: String, value: String)]

        public init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
        }
    }

    /// A header signature: the headers to add to the request, and the intermediate texts (for tests and debugging).
    public struct HeaderSignature: Sendable {
        /// `X-Amz-Date`, `x-amz-content-sha256` (S3), `X-Amz-Security-Token` (with a session token) and `Authorization`.
        public var headers: [(name: String, value: String)]
        public var authorization: String
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
    }

    /// A presigned request: the full query to send (the request's own parameters plus the `X-Amz-*` ones).
    public struct QuerySignature: Sendable {
        /// Query parameters, decoded, in the order to send them.
        public var query: [(name: String, value: String)]
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String

        /// The query as an encoded string (`a=b&c=d`), ready to append after `?`.
        public var encodedQuery: String {
            query.map { "\(PercentEncoding.encode($0.name, keepSlash: false))=\(PercentEncoding.encode($0.value, keepSlash: false))" }.joined(separator: "&")
        }
    }

    /// Signs requests for one credential, region and service.
    public struct Signer: Sendable {
        public var credentials: S3.Credentials
        public var region: String
        public var service: String
        /// Remove `.`/`..` segments and repeated slashes before signing. S3 never normalises; other services do.
        public var normalizesPath: Bool

        public init(credentials: S3.Credentials, region: String, service: String = "s3", normalizesPath: Bool = false) {
            self.credentials = credentials
            self.region = region
            self.service = service
            self.normalizesPath = normalizesPath
        }

        /// Signs with an `Authorization` header. `payloadHash` is the hex SHA-256 of the body or
        /// `UNSIGNED-PAYLOAD`; `sendsContentHash` adds the `x-amz-content-sha256` header S3 requires.
        /// With `omitsSessionToken` the token is sent but left out of the signature (some STS flows).
        public func sign(
            _ request: Request, payloadHash: String, date: AmzDate, sendsContentHash: Bool = true, omitsSessionToken: Bool = false
        ) -> HeaderSignature {
            var added: [(name: String, value: String)] = [("X-Amz-Date", date.timestamp)]
            if sendsContentHash { added.append(("x-amz-content-sha256", payloadHash)) }
            var signedRequest = request
            signedRequest.headers += added
            if let token = credentials.sessionToken {
                added.append(("X-Amz-Security-Token", token))
                if !omitsSessionToken { signedRequest.headers.append(("X-Amz-Security-Token", token)) }
            }
            let headers = S3.SigV4.canonicalHeaders(signedRequest.headers)
            let canonical = canonicalRequest(signedRequest, canonicalHeaders: headers, payloadHash: payloadHash)
            let (stringToSign, signature) = sign(canonicalRequest: canonical, date: date)
            let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(date)), SignedHeaders=\(headers.signedNames), Signature=\(signature)"
            added.append(("Authorization", authorization))
            return HeaderSignature(headers: added, authorization: authorization, canonicalRequest: canonical, stringToSign: stringToSign, signature: signature)
        }

        /// Presigns with query parameters valid for `expires` seconds. S3 presigned URLs use `UNSIGNED-PAYLOAD`.
        public func presign(
            _ request: Request, expires: Int, date: AmzDate, payloadHash: String = S3.SigV4.unsignedPayload, omitsSessionToken: Bool = false
        ) -> QuerySignature {
            let headers = S3.SigV4.canonicalHeaders(request.headers)
            var signedRequest = request
            signedRequest.query += [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(date))"),
                ("X-Amz-Date", date.timestamp),
                ("X-Amz-SignedHeaders", headers.signedNames),
                ("X-Amz-Expires", String(expires)),
            ]
            if let token = credentials.sessionToken, !omitsSessionToken { signedRequest.query.append(("X-Amz-Security-Token", token)) }
            let canonical = canonicalRequest(signedRequest, canonicalHeaders: headers, payloadHash: payloadHash)
            let (stringToSign, signature) = sign(canonicalRequest: canonical, date: date)
            var query = signedRequest.query
            if let token = credentials.sessionToken, omitsSessionToken { query.append(("X-Amz-Security-Token", token)) }
            query.append(("X-Amz-Signature", signature))
            return QuerySignature(query: query, canonicalRequest: canonical, stringToSign: stringToSign, signature: signature)
        }

        /// The signing key for `day` (`yyyyMMdd`): HMAC chain over day, region, service and `aws4_request`.
        public func signingKey(day: String) -> SymmetricKey {
            var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
            for part in [day, region, service, "aws4_request"] {
                key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
            }
            return key
        }

        private func scope(_ date: AmzDate) -> String { "\(date.day)/\(region)/\(service)/aws4_request" }

        private func canonicalRequest(_ request: Request, canonicalHeaders headers: CanonicalHeaders, payloadHash: String) -> String {
            S3.SigV4.canonicalRequest(request, canonicalHeaders: headers, payloadHash: payloadHash, normalizesPath: normalizesPath)
        }

        private func sign(canonicalRequest: String, date: AmzDate) -> (stringToSign: String, signature: String) {
            let stringToSign = S3.SigV4.stringToSign(canonicalRequest: canonicalRequest, timestamp: date.timestamp, scope: scope(date))
            return (stringToSign, S3.SigV4.hmacHex(stringToSign, key: signingKey(day: date.day)))
        }
    }

    /// The canonical request: method, encoded path, sorted query, headers, signed names, payload hash.
    static func canonicalRequest(_ request: Request, canonicalHeaders headers: CanonicalHeaders, payloadHash: String, normalizesPath: Bool) -> String {
        let path = normalizesPath ? S3.SigV4.normalizedPath(request.path) : request.path
        return canonicalRequest(
            method: request.method, encodedPath: PercentEncoding.encode(path.isEmpty ? "/" : path, keepSlash: true),
            canonicalQuery: S3.SigV4.canonicalQuery(request.query), headers: headers, payloadHash: payloadHash
        )
    }

    static func canonicalRequest(method: String, encodedPath: String, canonicalQuery: String, headers: CanonicalHeaders, payloadHash: String) -> String {
        [method, encodedPath, canonicalQuery, headers.text, headers.signedNames, payloadHash].joined(separator: "\n")
    }

    static func stringToSign(canonicalRequest: String, timestamp: String, scope: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp, scope, Hex.encode(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    /// The signature of a canonical request under a signing key.
    static func signature(canonicalRequest: String, timestamp: String, scope: String, key: SymmetricKey) -> String {
        hmacHex(stringToSign(canonicalRequest: canonicalRequest, timestamp: timestamp, scope: scope), key: key)
    }

    static func hmacHex(_ text: String, key: SymmetricKey) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }

    /// Canonical header block (`name:value\n` per name, sorted) and the `;`-joined signed names.
    struct CanonicalHeaders {
        var text: String
        var signedNames: String
    }

    /// Lowercases names, trims values and collapses inner whitespace runs (folded lines included),
    /// joins repeated names with commas in order of appearance, and sorts by name.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> CanonicalHeaders {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let collapsed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            values[name.lowercased(), default: []].append(collapsed)
        }
        let names = values.keys.sorted()
        return CanonicalHeaders(
            text: names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined(),
            signedNames: names.joined(separator: ";")
        )
    }

    /// Query parameters encoded, sorted by name then value, joined with `&`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        sortedQuery(query.map { (PercentEncoding.encode($0.name, keepSlash: false), PercentEncoding.encode($0.value, keepSlash: false)) })
    }

    /// Encoded pairs sorted by name then value (byte order: they are ASCII), joined with `&`.
    static func sortedQuery(_ pairs: [(String, String)]) -> String {
        pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// A received query in canonical form, straight from its bytes: each name and value has its
    /// escapes decoded and is encoded again the SigV4 way, so no spelling of a byte (escaped or
    /// not, either case) changes the signature and no byte is lost to text decoding. `excluding`
    /// names a parameter left out (a presigned URL's own signature).
    static func canonicalQuery(raw: String, excluding: String? = nil) -> String {
        var pairs: [(String, String)] = []
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.reencode(pieces[0], keepSlash: false)
            if let excluding, PercentEncoding.decodeLeniently(pieces[0]) == excluding { continue }
            pairs.append((name, pieces.count > 1 ? PercentEncoding.reencode(pieces[1], keepSlash: false) : ""))
        }
        return sortedQuery(pairs)
    }
}
