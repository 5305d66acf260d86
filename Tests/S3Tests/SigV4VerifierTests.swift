import Basics
import Crypto
import Foundation
import Simulation
import Testing
@testable import S3

/// The server side of SigV4: every request our signer (which agrees with botocore, see
/// `SigV4BotocoreTests`) produces is accepted however the client spells its path and query on
/// the wire, and any change to what was signed is refused with S3's own error code.
@Suite("SigV4 verification")
struct SigV4VerifierTests {
    let verifier = S3.SigV4.Verifier()

    /// A generated request, signed, as it arrives: path and query percent-encoded in one of the
    /// many ways clients do it (safe characters raw or escaped, hex digits in either case).
    struct Signed {
        var received: S3.SigV4.ReceivedRequest
        var now: Int64
        var accessKey: String
        var secret: String
        var payloadHash: String
    }

    static func signed(seed: UInt64, presigned: Bool) -> Signed {
        var random = SeededGenerator(seed: seed)
        let generated = SigV4BotocoreTests.generate(&random, presigned: presigned)
        let signer = S3.SigV4.Signer(
            credentials: S3.Credentials(accessKeyID: generated.access_key, secretAccessKey: generated.secret_key, sessionToken: generated.token),
            region: generated.region
        )
        // The generator repeats header names (to test how a signer joins them); a server refuses
        // repeated single-valued and x-amz-* headers, so each name comes once here.
        var names: Set<String> = []
        let unique = generated.headers.filter { names.insert($0[0].lowercased()).inserted }
        let request = S3.SigV4.Request(
            method: generated.method, path: generated.path,
            query: generated.query.map { ($0[0], $0[1]) }, headers: unique.map { ($0[0], $0[1]) }
        )
        let date = S3.SigV4.AmzDate(generated.timestamp)!
        var headers = request.headers
        var query = request.query
        let payloadHash: String
        if presigned {
            query = signer.presign(request, expires: generated.expires!, date: date).query
            payloadHash = S3.SigV4.unsignedPayload
        } else {
            payloadHash = [S3.SigV4.unsignedPayload, Hex.encode(SHA256.hash(data: Array(hexBytes: generated.body))), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]
                .randomElement(using: &random)!
            headers += signer.sign(request, payloadHash: payloadHash, date: date).headers
        }
        // Headers a client sends without signing them.
        headers.append(("User-Agent", "test/\(seed)"))
        let rawQuery = query.map { "\(wire($0.name, path: false, &random))=\(wire($0.value, path: false, &random))" }.joined(separator: "&")
        return Signed(
            received: S3.SigV4.ReceivedRequest(method: request.method, rawPath: "/" + wire(String(request.path.dropFirst()), path: true, &random), rawQuery: rawQuery, headers: headers),
            now: date.secondsSince1970 + Int64.random(in: -800...800, using: &random),
            accessKey: generated.access_key, secret: generated.secret_key, payloadHash: payloadHash
        )
    }

    /// Percent-encodes `text` as some client might: unreserved and harmless characters raw or
    /// escaped at random, escapes in upper or lower case; what must be escaped always is.
    static func wire(_ text: String, path: Bool, _ random: inout SeededGenerator) -> String {
        var output = ""
        for byte in text.utf8 {
            let harmless = PercentEncoding.isUnreserved(byte) || Array((path ? "/!$'()*,;:@" : "!$'()*,;:@/?").utf8).contains(byte)
            if harmless && Bool.random(using: &random) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Hex.encode([byte])
                output += "%" + (Bool.random(using: &random) ? hex.uppercased() : hex)
            }
        }
        return output
    }

    func verify(_ signed: Signed, secret: String? = nil) throws(S3.SigV4.VerificationError) -> S3.SigV4.Authenticated {
        try verifier.verify(signed.received, now: signed.now) { $0 == signed.accessKey ? (secret ?? signed.secret) : nil }
    }

    func refusal(_ signed: Signed, secret: String? = nil) -> S3.SigV4.VerificationError.Code? {
        do {
            _ = try verify(signed, secret: secret)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("signed requests are accepted, and any change to them is refused", arguments: 0..<8)
    func headerSigned(block: UInt64) throws {
        for seed in (block * 50)..<(block * 50 + 50) {
            let signed = Self.signed(seed: seed, presigned: false)
            let accepted = try verify(signed)
            #expect(accepted.accessKeyID == signed.accessKey && !accepted.presigned, "seed \(seed)")
            #expect(accepted.payload == S3.SigV4.Payload(signed.payloadHash), "seed \(seed)")

            var changed = signed
            changed.received.method = signed.received.method == "GET" ? "PUT" : "GET"
            #expect(refusal(changed) == .signatureDoesNotMatch, "method, seed \(seed)")
            changed = signed
            changed.received.rawPath += "x"
            #expect(refusal(changed) == .signatureDoesNotMatch, "path, seed \(seed)")
            changed = signed
            changed.received.rawQuery += signed.received.rawQuery.isEmpty ? "extra=1" : "&extra=1"
            #expect(refusal(changed) == .signatureDoesNotMatch, "query, seed \(seed)")
            changed = signed
            let host = changed.received.headers.firstIndex { $0.name == "Host" }!
            changed.received.headers[host].value += "0"
            #expect(refusal(changed) == .signatureDoesNotMatch, "host, seed \(seed)")
            changed = signed
            let hash = changed.received.headers.firstIndex { $0.name == "x-amz-content-sha256" }!
            changed.received.headers[hash].value = signed.payloadHash == S3.SigV4.unsignedPayload ? S3.SigV4.emptyPayloadHash : S3.SigV4.unsignedPayload
            #expect(refusal(changed) == .signatureDoesNotMatch, "payload hash, seed \(seed)")
            #expect(refusal(signed, secret: signed.secret + "x") == .signatureDoesNotMatch, "secret, seed \(seed)")
            changed = signed
            let authorization = changed.received.headers.firstIndex { $0.name == "Authorization" }!
            var text = Array(changed.received.headers[authorization].value)
            text[text.count - 1] = text[text.count - 1] == "0" ? "1" : "0"
            changed.received.headers[authorization].value = String(text)
            #expect(refusal(changed) == .signatureDoesNotMatch, "signature, seed \(seed)")
            changed = signed
            changed.accessKey += "x"
            #expect(refusal(changed) == .invalidAccessKeyId, "unknown key, seed \(seed)")
            // Headers that change what a request does cannot be added to a signed one, nor repeated.
            changed = signed
            changed.received.headers.append(("x-amz-copy-source", "/other/key"))
            #expect(refusal(changed) == .accessDenied, "unsigned x-amz header, seed \(seed)")
            changed = signed
            changed.received.headers.append(("X-Amz-Content-SHA256", signed.payloadHash))
            #expect(refusal(changed) == .invalidArgument, "repeated x-amz header, seed \(seed)")
        }
    }

    @Test("a header-signed request more than 15 minutes from the server's clock is too skewed")
    func skew() throws {
        var signed = Self.signed(seed: 7, presigned: false)
        let date = S3.SigV4.AmzDate(signed.received.values(of: "X-Amz-Date")[0])!.secondsSince1970
        for (now, accepted) in [(date - 900, true), (date + 900, true), (date - 901, false), (date + 901, false)] {
            signed.now = now
            #expect(refusal(signed) == (accepted ? nil : .requestTimeTooSkewed), "now \(now - date)")
        }
    }

    @Test("presigned URLs are accepted until they expire, and any change to them is refused", arguments: 0..<4)
    func presigned(block: UInt64) throws {
        var random = SeededGenerator(seed: 900 + block)
        for seed in (block * 50)..<(block * 50 + 50) {
            var signed = Self.signed(seed: seed, presigned: true)
            let query = signed.received.query
            let date = S3.SigV4.AmzDate(query.first { $0.name == "X-Amz-Date" }!.value)!.secondsSince1970
            let expires = Int64(query.first { $0.name == "X-Amz-Expires" }!.value)!
            signed.now = date + Int64.random(in: 0...expires, using: &random)
            let accepted = try verify(signed)
            #expect(accepted.presigned && accepted.payload == .unsigned, "seed \(seed)")
            var changed = signed
            changed.now = date + expires + 1
            #expect(refusal(changed) == .accessDenied, "expired, seed \(seed)")
            changed = signed
            changed.received.rawPath += "x"
            #expect(refusal(changed) == .signatureDoesNotMatch, "path, seed \(seed)")
            changed = signed
            changed.received.method = signed.received.method == "GET" ? "PUT" : "GET"
            #expect(refusal(changed) == .signatureDoesNotMatch, "method, seed \(seed)")
            changed = signed
            changed.received.headers.append(("x-amz-copy-source", "/other/key"))
            #expect(refusal(changed) == .accessDenied, "a copy source added to a presigned URL, seed \(seed)")
        }
    }

    @Test("malformed authorization is refused with a clear code, never a crash")
    func malformed() {
        let base = S3.SigV4.ReceivedRequest(method: "GET", rawPath: "/b/k", rawQuery: "", headers: [
            ("Host", "localhost"), ("X-Amz-Date", "20261202T120000Z"), ("x-amz-content-sha256", S3.SigV4.unsignedPayload),
        ])
        let now = S3.SigV4.AmzDate("20261202T120000Z")!.secondsSince1970
        func code(_ authorization: String?, query: String = "", extra: [(String, String)] = []) -> S3.SigV4.VerificationError.Code? {
            var request = base
            request.rawQuery = query
            if let authorization { request.headers.append(("Authorization", authorization)) }
            request.headers += extra
            do {
                _ = try verifier.verify(request, now: now) { _ in "secret" }
                return nil
            } catch {
                return error.code
            }
        }
        let good = "Credential=AK/20261202/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + String(repeating: "0", count: 64)
        #expect(code(nil) == .accessDenied)
        #expect(code("AWS AK:sig") == .authorizationHeaderMalformed)
        #expect(code(nil, query: "AWSAccessKeyId=AK&Signature=abc%3D&Expires=1796231135") == .invalidRequest, "a Signature Version 2 URL is named as such")
        #expect(S3.SigV4.Verifier.claimedAccessKeyID({ var request = base; request.headers.append(("Authorization", "AWS4-HMAC-SHA256 " + good)); return request }()) == "AK")
        #expect(S3.SigV4.Verifier.claimedAccessKeyID({ var request = base; request.rawQuery = "X-Amz-Credential=AK2%2F20261202%2Fus-east-1%2Fs3%2Faws4_request"; return request }()) == "AK2")
        #expect(S3.SigV4.Verifier.claimedAccessKeyID(base) == nil)
        #expect(code("AWS4-HMAC-SHA256 ") == .authorizationHeaderMalformed)
        #expect(code("AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/s3/aws4_request") == .authorizationHeaderMalformed)
        #expect(code("AWS4-HMAC-SHA256 " + good.replacingFirst("/s3/", with: "/iam/")) == .authorizationHeaderMalformed)
        #expect(code("AWS4-HMAC-SHA256 " + good.replacingFirst("20261202/", with: "20261201/")) == .authorizationHeaderMalformed)
        #expect(code("AWS4-HMAC-SHA256 " + good.replacingFirst("host;", with: "")) == .authorizationHeaderMalformed, "host must be signed")
        #expect(code("AWS4-HMAC-SHA256 " + good) == .signatureDoesNotMatch)
        #expect(code("AWS4-HMAC-SHA256 " + good + ", Signature=x") == .authorizationHeaderMalformed, "a repeated field")
        #expect(code("AWS4-HMAC-SHA256 " + good.replacingFirst("x-amz-date", with: "x-amz-date;x-amz-meta-missing")) == .signatureDoesNotMatch)
        #expect(code("AWS4-HMAC-SHA256 " + good, extra: [("Authorization", "again")]) == .invalidArgument)
        #expect(code("AWS4-HMAC-SHA256 " + good.replacingFirst("x-amz-content-sha256;", with: "")) == .accessDenied, "an unsigned x-amz header")
        #expect(code("AWS4-HMAC-SHA256 " + good, query: "X-Amz-Signature=0") == .invalidArgument, "two signatures")
        #expect(code(nil, query: "X-Amz-Algorithm=AWS4-HMAC-SHA256") == .authorizationQueryParametersError)
        #expect(code(nil, query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261202T120000Z&X-Amz-Credential=AK%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Expires=604801&X-Amz-Signature=00") == .authorizationQueryParametersError, "longer than 7 days")
        #expect(code(nil, query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261202T120000Z&X-Amz-Credential=AK%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Expires=99999999999999999999&X-Amz-Signature=00") == .authorizationQueryParametersError)
        var noHash = base
        noHash.headers.removeAll { $0.name == "x-amz-content-sha256" }
        noHash.headers.append(("Authorization", "AWS4-HMAC-SHA256 " + good))
        #expect(throws: S3.SigV4.VerificationError.self) { try verifier.verify(noHash, now: now) { _ in "secret" } }
        var badHash = base
        badHash.headers[2].value = "not-a-hash"
        badHash.headers.append(("Authorization", "AWS4-HMAC-SHA256 " + good))
        #expect(throws: S3.SigV4.VerificationError(.invalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or a SHA-256 in hex")) {
            try verifier.verify(badHash, now: now) { _ in "secret" }
        }
    }

    @Test("a Date header stands in for X-Amz-Date")
    func httpDate() {
        #expect(S3.SigV4.AmzDate(httpDate: "Wed, 02 Dec 2026 12:00:00 GMT") == S3.SigV4.AmzDate("20261202T120000Z"))
        #expect(S3.SigV4.AmzDate(httpDate: "Wed, 02 Foo 2026 12:00:00 GMT") == nil)
        #expect(S3.SigV4.AmzDate(httpDate: "Wed, 02 Dec 2026 25:00:00 GMT") == nil)
        #expect(S3.SigV4.AmzDate(httpDate: "") == nil)
        for hostile in ["Wed, 02 Dec 2026 -9223372036854775808:00:00 GMT", "Wed, 02 Dec 2026 +1:00:00 GMT", "Wed, -2 Dec 2026 12:00:00 GMT", "Wed, 02 Dec 99999 12:00:00 GMT"] {
            #expect(S3.SigV4.AmzDate(httpDate: hostile) == nil, "\(hostile)")
        }
        for hostile in ["2026120xT120000Z", "20261202T12000-1Z", "+0261202T120000Z", "2026-12-02T12:00:0xZ", "20261302T120000Z", "20261202 120000Z", "٢٠٢٦1202T120000Z"] {
            #expect(S3.SigV4.AmzDate(hostile) == nil, "\(hostile)")
        }
        #expect(S3.SigV4.AmzDate("2026-12-02T12:00:00Z") == S3.SigV4.AmzDate("20261202T120000Z"))
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
