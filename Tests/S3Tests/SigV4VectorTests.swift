import Basics
import Foundation
import Testing
@testable import S3

/// The official SigV4 suite (aws-c-auth's v4 cases) read from `../shared/testdata/sigv4`, or
/// `$SIGV4_TEST_SUITE`, when present. They are never required: a clone has no `../shared`, and
/// `SigV4BotocoreTests` checks the signer against botocore over generated requests anyway.
enum SigV4Suite {
    static let directory: URL? = {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["SIGV4_TEST_SUITE"],
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/testdata/sigv4").standardized.path,
        ]
        return candidates.compactMap { $0 }.map { URL(fileURLWithPath: $0) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("get-vanilla/context.json").path) }
    }()

    static var cases: [String] {
        guard let directory else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0)/request.txt").path) }.sorted()
    }

    struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }
        var credentials: Credentials
        var expiration_in_seconds: Int
        var normalize: Bool
        var region: String
        var service: String
        var sign_body: Bool
        var timestamp: String
        var omit_session_token: Bool?
    }

    struct Case {
        var context: Context
        var request: S3.SigV4.Request
        var body: [UInt8]
        var files: [String: String]
    }

    static func load(_ name: String) throws -> Case {
        let folder = directory!.appendingPathComponent(name)
        func read(_ file: String) throws -> String { try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) }
        let context = try JSONDecoder().decode(Context.self, from: Data(contentsOf: folder.appendingPathComponent("context.json")))
        var files: [String: String] = [:]
        for file in ["header-canonical-request.txt", "header-string-to-sign.txt", "header-signature.txt", "header-signed-request.txt",
                     "query-canonical-request.txt", "query-string-to-sign.txt", "query-signature.txt"] {
            files[file] = try read(file)
        }
        let (request, body) = parseRequest(try read("request.txt"))
        return Case(context: context, request: request, body: body, files: files)
    }

    /// Parses `METHOD target HTTP/1.1`, `Name:value` lines (indented lines continue the previous value), blank line, body.
    static func parseRequest(_ text: String) -> (S3.SigV4.Request, [UInt8]) {
        let (head, body): (Substring, Substring) = {
            if let range = text.range(of: "\n\n") { return (text[..<range.lowerBound], text[range.upperBound...]) }
            return (Substring(text), "")
        }()
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let path = String(target.prefix { $0 != "?" })
        var query: [(name: String, value: String)] = []
        if let mark = target.firstIndex(of: "?") {
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((PercentEncoding.decodeLeniently(parts[0]), PercentEncoding.decodeLeniently(parts.count > 1 ? parts[1] : "")))
            }
        }
        return (S3.SigV4.Request(method: method, path: path, query: query, headers: headers), Array(body.utf8))
    }
}

@Suite("SigV4 official test vectors")
struct SigV4VectorTests {
    @Test func suiteIsCompleteWhenPresent() throws {
        if SigV4Suite.directory == nil {
            print("NOTE: SigV4 vectors not found (set SIGV4_TEST_SUITE to run them); the botocore cross-check covers the signer")
            return
        }
        #expect(SigV4Suite.cases.count == 38)
    }

    @Test("header signing", arguments: SigV4Suite.cases)
    func headerSigning(name: String) throws {
        let (vector, signer, payloadHash, date) = try prepare(name)
        let signed = signer.sign(
            vector.request, payloadHash: payloadHash, date: date,
            sendsContentHash: vector.context.sign_body, omitsSessionToken: vector.context.omit_session_token ?? false
        )
        #expect(signed.canonicalRequest == vector.files["header-canonical-request.txt"])
        #expect(signed.stringToSign == vector.files["header-string-to-sign.txt"])
        #expect(signed.signature == vector.files["header-signature.txt"])
        #expect(vector.files["header-signed-request.txt"]!.contains("Authorization:\(signed.authorization)\n"))
    }

    @Test("query (presigned) signing", arguments: SigV4Suite.cases)
    func querySigning(name: String) throws {
        let (vector, signer, payloadHash, date) = try prepare(name)
        let signed = signer.presign(
            vector.request, expires: vector.context.expiration_in_seconds, date: date,
            payloadHash: payloadHash, omitsSessionToken: vector.context.omit_session_token ?? false
        )
        #expect(signed.canonicalRequest == vector.files["query-canonical-request.txt"])
        #expect(signed.stringToSign == vector.files["query-string-to-sign.txt"])
        #expect(signed.signature == vector.files["query-signature.txt"])
    }

    /// A case with its signer, its body's SHA-256 and its signing date.
    private func prepare(_ name: String) throws -> (SigV4Suite.Case, S3.SigV4.Signer, String, S3.SigV4.AmzDate) {
        let vector = try SigV4Suite.load(name)
        let date = try #require(S3.SigV4.AmzDate(vector.context.timestamp))
        return (vector, signer(for: vector.context), Hex.encode(SHA256Digest.of(vector.body)), date)
    }

    private func signer(for context: SigV4Suite.Context) -> S3.SigV4.Signer {
        S3.SigV4.Signer(
            credentials: S3.Credentials(accessKeyID: context.credentials.access_key_id, secretAccessKey: context.credentials.secret_access_key, sessionToken: context.credentials.token),
            region: context.region, service: context.service, normalizesPath: context.normalize
        )
    }
}
