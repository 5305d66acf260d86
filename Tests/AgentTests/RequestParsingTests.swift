import ByteStreams
import NIOCore
import Simulation
import Testing
@testable import Agent

@Suite("request parsing: paths, ranges, multipart, internal auth, storage flags")
struct RequestParsingTests {
    @Test(arguments: ["a", "a/b/c.txt", "ünïcødé/文件", "a b/c", String(repeating: "x", count: 1024), "a/.hidden", "..."])
    func validPaths(path: String) throws {
        #expect(try FilePathRules.validate(path) == path)
    }

    @Test(arguments: ["", "/a", "a//b", "a/", "../a", "a/../b", "a/./b", ".", "a\u{0}b", "a\nb", "a\u{7f}", String(repeating: "x", count: 1025)])
    func invalidPaths(path: String) {
        #expect(throws: APIError.self) { try FilePathRules.validate(path) }
    }

    @Test func percentDecodingIsStrict() throws {
        #expect(try FilePathRules.percentDecode("a%20b%2Fc") == "a b/c")
        #expect(try FilePathRules.percentDecode("a+b", plusIsSpace: true) == "a b")
        #expect(throws: APIError.self) { try FilePathRules.percentDecode("a%2") }
        #expect(throws: APIError.self) { try FilePathRules.percentDecode("a%zz") }
        #expect(throws: APIError.self) { try FilePathRules.percentDecode("%ff%fe") }
    }

    @Test func ranges() {
        #expect(ByteRange.parse("bytes=0-9", size: 100) == .range(0...9))
        #expect(ByteRange.parse("bytes=90-", size: 100) == .range(90...99))
        #expect(ByteRange.parse("bytes=-10", size: 100) == .range(90...99))
        #expect(ByteRange.parse("bytes=-1000", size: 100) == .range(0...99))
        #expect(ByteRange.parse("bytes=50-1000", size: 100) == .range(50...99))
        #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == .whole)
        #expect(ByteRange.parse("items=0-1", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=9-3", size: 100) == .whole)
    }

    static func form(boundary: String, parts: [(name: String, filename: String?, body: [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = Array("preamble\r\n".utf8)
        for part in parts {
            bytes += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\"".utf8)
            if let filename = part.filename { bytes += Array("; filename=\"\(filename)\"".utf8) }
            bytes += Array("\r\nContent-Type: application/octet-stream\r\n\r\n".utf8) + part.body + [13, 10]
        }
        return bytes + Array("--\(boundary)--\r\nepilogue".utf8)
    }

    @Test(arguments: 0..<40)
    func multipartSurvivesAnySplitOfTheBody(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let boundary = "----b\(seed)x"
        // Bodies full of near-misses of the delimiter: CR, LF, dashes and boundary prefixes.
        let alphabet: [[UInt8]] = [[13], [10], [45], [45, 45], Array("--\(boundary.prefix(5))".utf8), [13, 10, 45, 45], [0x41], [0]]
        let parts = (0..<Int.random(in: 1...3, using: &random)).map { index in
            (name: index == 0 ? "file" : "f\(index)", filename: index == 0 ? "x.bin" : nil,
             body: (0..<Int.random(in: 0...300, using: &random)).flatMap { _ in alphabet.randomElement(using: &random)! })
        }
        let bytes = Self.form(boundary: boundary, parts: parts)
        var parser = MultipartParser(boundary: boundary)
        var received: [(name: String, body: [UInt8])] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(bytes.count - offset, Int.random(in: 1...40, using: &random))
            for event in try parser.feed(ByteBuffer(bytes: bytes[offset..<(offset + length)])) {
                switch event {
                case .partBegin(let name, _): received.append((name, []))
                case .body(let buffer): received[received.count - 1].body += Array(buffer.readableBytesView)
                case .partEnd: break
                }
            }
            offset += length
        }
        try parser.finish()
        #expect(received.map(\.name) == parts.map(\.name))
        #expect(received.map(\.body) == parts.map(\.body))
    }

    @Test func truncatedOrMalformedMultipartIsRefused() throws {
        let bytes = Self.form(boundary: "zz", parts: [("file", "a", Array("hello".utf8))])
        var truncated = MultipartParser(boundary: "zz")
        _ = try truncated.feed(ByteBuffer(bytes: bytes.prefix(bytes.count - 15)))
        #expect(throws: MultipartParser.Failure.self) { try truncated.finish() }
        var noName = MultipartParser(boundary: "zz")
        #expect(throws: MultipartParser.Failure.self) { _ = try noName.feed(ByteBuffer(string: "--zz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zz--")) }
        var hugeHeaders = MultipartParser(boundary: "zz")
        #expect(throws: MultipartParser.Failure.self) { _ = try hugeHeaders.feed(ByteBuffer(string: "--zz\r\n" + String(repeating: "X", count: 20_000))) }
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=\"abc\"") == "abc")
        #expect(MultipartParser.boundary(fromContentType: "application/json") == nil)
    }

    @Test func internalAuthAcceptsOnlyFreshSignaturesOfTheSameRequest() throws {
        let auth = InternalAuth(clusterName: "c", secret: "secret-one")
        let digest = InternalAuth.digest(ByteBuffer(string: "body"))
        let headers = Dictionary(uniqueKeysWithValues: auth.sign(
            method: "PUT", target: "/internal/v1/chunks/ab?x=1", node: "node1", milliseconds: 1_000_000, nonce: "00ff00ff00ff00ff", bodyDigest: digest
        ))
        let verified = try auth.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000 + 60_000)
        #expect(verified == InternalAuth.Verified(node: "node1", nonce: "00ff00ff00ff00ff", bodyDigest: digest, milliseconds: 1_000_000))
        #expect(throws: InternalAuth.Failure.badSignature) { try auth.verify(method: "PUT", target: "/internal/v1/chunks/ac?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000) }
        #expect(throws: InternalAuth.Failure.badSignature) { try auth.verify(method: "GET", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000) }
        #expect(throws: InternalAuth.Failure.skewed) { try auth.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000 + 301_000) }
        #expect(throws: InternalAuth.Failure.skewed) { try auth.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: .min) }
        #expect(throws: InternalAuth.Failure.missing) { try auth.verify(method: "PUT", target: "/", header: { _ in nil }, nowMilliseconds: 0) }
        // Each signed field, changed alone, breaks the signature; malformed ones are refused before.
        for (name, value, failure) in [
            (InternalAuth.nonceHeader, "00ff00ff00ff00fe", InternalAuth.Failure.badSignature), (InternalAuth.digestHeader, InternalAuth.emptyDigest, .badSignature),
            (InternalAuth.nodeHeader, "node2", .badSignature), (InternalAuth.dateHeader, "1000001", .badSignature),
            (InternalAuth.nonceHeader, "short", .malformed), (InternalAuth.digestHeader, "zz", .malformed), (InternalAuth.dateHeader, "9223372036854775807", .skewed),
        ] {
            var changed = headers
            changed[name] = value
            #expect(throws: failure, "\(name): \(value)") { try auth.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { changed[$0] }, nowMilliseconds: 1_000_000) }
        }
        let other = InternalAuth(clusterName: "c", secret: "secret-two")
        #expect(throws: InternalAuth.Failure.badSignature) { try other.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000) }
        let rotating = InternalAuth(clusterName: "c", secret: "secret-two", previousSecret: "secret-one")
        #expect(try rotating.verify(method: "PUT", target: "/internal/v1/chunks/ab?x=1", header: { headers[$0] }, nowMilliseconds: 1_000_000).node == "node1")
    }

    @Test func internalAnswersAreBoundToTheirRequestStatusAndBody() throws {
        let auth = InternalAuth(clusterName: "c", secret: "secret-one")
        let body = InternalAuth.digest(ByteBuffer(string: "{\"users\":[]}"))
        let headers = Dictionary(uniqueKeysWithValues: auth.signResponse(nonce: "abcdabcdabcdabcd", status: 200, bodyDigest: body))
        try auth.verifyResponse(nonce: "abcdabcdabcdabcd", status: 200, header: { headers[$0] }, bodyDigest: body)
        #expect(throws: InternalAuth.Failure.badSignature) { try auth.verifyResponse(nonce: "abcdabcdabcdabce", status: 200, header: { headers[$0] }, bodyDigest: body) }
        #expect(throws: InternalAuth.Failure.badSignature) { try auth.verifyResponse(nonce: "abcdabcdabcdabcd", status: 404, header: { headers[$0] }, bodyDigest: body) }
        #expect(throws: InternalAuth.Failure.badSignature) { try auth.verifyResponse(nonce: "abcdabcdabcdabcd", status: 200, header: { headers[$0] }, bodyDigest: InternalAuth.emptyDigest) }
        #expect(throws: InternalAuth.Failure.missing) { try auth.verifyResponse(nonce: "abcdabcdabcdabcd", status: 200, header: { _ in nil }, bodyDigest: body) }
        let other = InternalAuth(clusterName: "c", secret: "secret-two")
        #expect(throws: InternalAuth.Failure.badSignature) { try other.verifyResponse(nonce: "abcdabcdabcdabcd", status: 200, header: { headers[$0] }, bodyDigest: body) }
    }

    @Test func replayGuardRefusesASeenNonceUntilItIsTooOldToReplay() {
        let guard_ = ReplayGuard(windowMilliseconds: 1_000, capacity: 3)
        #expect(guard_.admit(nonce: "a", milliseconds: 10_000, now: 10_000) == .fresh)
        #expect(guard_.admit(nonce: "a", milliseconds: 10_000, now: 10_500) == .replayed)
        #expect(guard_.admit(nonce: "a", milliseconds: 10_000, now: 11_000) == .replayed, "still within the window at its edge")
        #expect(guard_.admit(nonce: "b", milliseconds: 10_900, now: 10_900) == .fresh)
        #expect(guard_.admit(nonce: "c", milliseconds: 10_950, now: 10_950) == .fresh)
        #expect(guard_.admit(nonce: "d", milliseconds: 10_960, now: 10_960) == .full, "full: refused rather than forgetting a replayable nonce")
        #expect(guard_.admit(nonce: "d", milliseconds: 11_001, now: 11_001) == .fresh, "a's entry expired, making room")
        #expect(guard_.count == 3)
        #expect(guard_.admit(nonce: "a", milliseconds: 11_950, now: 11_950) == .fresh, "a is forgotten once it is too old to be accepted")
        #expect(guard_.count == 3, "b expired; c, d and a are remembered")
    }

    @Test func aBodyThatDiffersFromItsSignedDigestFailsAtItsEnd() async throws {
        func read(_ text: String, expecting digest: String) async throws -> String {
            var collected = ""
            for try await buffer in DigestCheckedBody(base: AnySendableByteSequence(OneBuffer(ByteBuffer(string: text))), expected: digest) {
                collected += String(buffer: buffer)
            }
            return collected
        }
        let digest = InternalAuth.digest(ByteBuffer(string: "the body"))
        #expect(try await read("the body", expecting: digest) == "the body")
        await #expect(throws: InternalProtocolError.self) { _ = try await read("the bodY", expecting: digest) }
        await #expect(throws: InternalProtocolError.self) { _ = try await read("", expecting: digest) }
    }

    @Test func storageFlags() throws {
        #expect(try StorageSpec.parse("dir:/data/x") == .directory(path: "/data/x"))
        #expect(try StorageSpec.parse("s3://ak:sk@minio1:9000/bucket?region=eu-west-1") == .s3(endpoint: "http://minio1:9000", bucket: "bucket", accessKey: "ak", secretKey: "sk", region: "eu-west-1"))
        #expect(try StorageSpec.parse("s3s://ak:sk@s3.example.com") == .s3(endpoint: "https://s3.example.com", bucket: "filestore", accessKey: "ak", secretKey: "sk", region: "us-east-1"))
        for bad in ["dir:", "s3://nohost", "ftp://x", "s3://:sk@h:1/b"] {
            #expect(throws: ClusterConfiguration.Error.self) { try StorageSpec.parse(bad) }
        }
    }
}
