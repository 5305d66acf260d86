import Basics
import Crypto
import Foundation
import NIOCore
import Simulation
import Testing
@testable import S3

/// `aws-chunked` bodies and the checksums that ride in their trailers.
@Suite("aws-chunked bodies and S3 checksums")
struct AWSChunkedTests {
    /// AWS's documented example (sigv4-streaming: PUT /examplebucket/chunkObject.txt, 66,560
    /// bytes of `a` in chunks of 64 KiB and 1 KiB), whose seed and chunk signatures are published.
    static let exampleRequest = S3.SigV4.ReceivedRequest(method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "", headers: [
        ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
    ])
    static let exampleBody: [UInt8] = Array((
        "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" + String(repeating: "a", count: 65536) + "\r\n"
            + "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + String(repeating: "a", count: 1024) + "\r\n"
            + "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
    ).utf8)

    static func exampleSigning() throws -> S3.SigV4.Authenticated {
        try S3.SigV4.Verifier().verify(exampleRequest, now: S3.SigV4.AmzDate("20130524T000000Z")!.secondsSince1970) {
            $0 == "AKIAIOSFODNN7EXAMPLE" ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" : nil
        }
    }

    /// Feeds `body` in pieces cut at random places; returns the data and the trailers.
    static func decode(_ body: [UInt8], _ decoder: S3.AWSChunkedDecoder, _ random: inout SeededGenerator) throws -> (data: [UInt8], trailers: [(name: String, value: String)]) {
        var decoder = decoder
        var data: [UInt8] = []
        var offset = 0
        while offset < body.count {
            let length = Bool.random(using: &random) ? Int.random(in: 1...3, using: &random) : Int.random(in: 1...70_000, using: &random)
            let end = min(body.count, offset + length)
            try decoder.feed(ByteBuffer(bytes: body[offset..<end])) { data += Array(buffer: $0) }
            offset = end
        }
        return (data, try decoder.finish())
    }

    @Test("AWS's example verifies, chunk by chunk, however the body is cut")
    func awsExample() throws {
        let authenticated = try Self.exampleSigning()
        #expect(authenticated.payload == .signedChunks)
        for seed in 0..<20 as Range<UInt64> {
            var random = SeededGenerator(seed: seed)
            let decoded = try Self.decode(Self.exampleBody, S3.AWSChunkedDecoder(signing: authenticated.chunkSigning, announcedLength: 66560), &random)
            #expect(decoded.data == Array(repeating: UInt8(ascii: "a"), count: 66560) && decoded.trailers.isEmpty)
        }
    }

    @Test("a changed byte, a missing piece or extra bytes in a signed body are refused")
    func tampered() throws {
        let signing = try Self.exampleSigning().chunkSigning
        var random = SeededGenerator(seed: 5)
        func failure(_ body: [UInt8], announced: Int64 = 66560) -> S3.AWSChunkedDecoder.DecodingError.Code? {
            do {
                _ = try Self.decode(body, S3.AWSChunkedDecoder(signing: signing, announcedLength: announced), &random)
                return nil
            } catch let error as S3.AWSChunkedDecoder.DecodingError {
                return error.code
            } catch {
                return nil
            }
        }
        var flipped = Self.exampleBody
        flipped[100] = UInt8(ascii: "b")
        #expect(failure(flipped) == .signatureMismatch)
        var lastChunk = Self.exampleBody
        lastChunk[66_000] = UInt8(ascii: "b")
        #expect(failure(lastChunk) == .signatureMismatch)
        #expect(failure(Array(Self.exampleBody.prefix(66_000))) == .incomplete)
        #expect(failure(Array(Self.exampleBody.prefix(66_700))) == .incomplete)
        #expect(failure(Array(Self.exampleBody.prefix(Self.exampleBody.count - 2))) == nil, "the final empty line may be left out")
        #expect(failure(Self.exampleBody + Array("x".utf8)) == .malformed)
        #expect(failure(Self.exampleBody, announced: 66561) == .lengthMismatch)
        #expect(failure(Self.exampleBody, announced: 1000) == .lengthMismatch)
        var otherSeed = signing
        otherSeed.seedSignature = String(repeating: "0", count: 64)
        var decoder = S3.AWSChunkedDecoder(signing: otherSeed, announcedLength: 66560)
        #expect(throws: S3.AWSChunkedDecoder.DecodingError.self) { try decoder.feed(ByteBuffer(bytes: Self.exampleBody)) { _ in } }
        // A chunk whose signature fails hands on none of its bytes.
        var emitted = 0
        var checked = S3.AWSChunkedDecoder(signing: signing, announcedLength: 66560)
        #expect(throws: S3.AWSChunkedDecoder.DecodingError.self) { try checked.feed(ByteBuffer(bytes: flipped)) { emitted += $0.readableBytes } }
        #expect(emitted == 0)
        var huge = S3.AWSChunkedDecoder(signing: signing, announcedLength: 1 << 40)
        #expect(throws: S3.AWSChunkedDecoder.DecodingError.self, "a signed chunk over 16 MiB") {
            try huge.feed(ByteBuffer(string: "1000001;chunk-signature=" + String(repeating: "0", count: 64) + "\r\n")) { _ in }
        }
        // Only the last signed chunk may be short: tiny chunks would multiply the HMACs per byte.
        let data = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(failure(Self.encode(data, chunkSizes: [100, 19_900], signing: signing, trailers: nil, signedTrailer: false), announced: 20_000) == .malformed)
        #expect(failure(Self.encode(data, chunkSizes: [8192, 8192, 3616], signing: signing, trailers: nil, signedTrailer: false), announced: 20_000) == nil)
        for hostile in ["zz;chunk-signature=00\r\n", "1;" + String(repeating: "x", count: 300) + "\r\n", "10000000000000000;chunk-signature=00\r\n", "-1\r\n", "10\n", String(repeating: "1", count: 5000)] {
            var decoder = S3.AWSChunkedDecoder(signing: nil, announcedLength: 1 << 40)
            #expect(throws: S3.AWSChunkedDecoder.DecodingError.self, "\(hostile.prefix(30))") {
                try decoder.feed(ByteBuffer(string: hostile)) { _ in }
                _ = try decoder.finish()
            }
        }
    }

    /// Encodes `data` in `aws-chunked` as a client does, signing chunks and trailer when given a key.
    static func encode(_ data: [UInt8], chunkSizes: [Int], signing: S3.SigV4.ChunkSigning?, trailers: [(String, String)]?, signedTrailer: Bool) -> [UInt8] {
        var body: [UInt8] = []
        var previous = signing?.seedSignature ?? ""
        var offset = 0
        var sizes = chunkSizes.makeIterator()
        var done = false
        while !done {
            let size = offset == data.count ? 0 : min(data.count - offset, sizes.next() ?? data.count)
            let chunk = Array(data[offset..<offset + size])
            offset += size
            done = size == 0
            var header = String(size, radix: 16)
            if let signing {
                let toSign = ["AWS4-HMAC-SHA256-PAYLOAD", signing.timestamp, signing.scope, previous, S3.SigV4.emptyPayloadHash, Hex.encode(SHA256.hash(data: chunk))].joined(separator: "\n")
                previous = Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: signing.key))
                header += ";chunk-signature=" + previous
            }
            body += Array((header + "\r\n").utf8) + chunk
            if size > 0 || trailers == nil { body += Array("\r\n".utf8) }
        }
        if let trailers {
            let text = trailers.map { "\($0.0):\($0.1)\n" }.joined()
            body += Array(trailers.map { "\($0.0):\($0.1)\r\n" }.joined().utf8)
            if signedTrailer, let signing {
                let toSign = ["AWS4-HMAC-SHA256-TRAILER", signing.timestamp, signing.scope, previous, Hex.encode(SHA256.hash(data: Array(text.utf8)))].joined(separator: "\n")
                body += Array("x-amz-trailer-signature:\(Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: signing.key)))\r\n".utf8)
            }
            body += Array("\r\n".utf8)
        }
        return body
    }

    @Test("generated bodies decode to their data and trailers, signed or not", arguments: 0..<40)
    func generated(seed: UInt64) throws {
        var random = SeededGenerator(seed: 7000 + seed)
        let signing = S3.SigV4.ChunkSigning(
            seedSignature: Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }), timestamp: "20261202T120000Z",
            scope: "20261202/us-east-1/s3/aws4_request", key: SymmetricKey(size: .bits256)
        )
        let data = (0..<Int.random(in: 0...200_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let mode = seed % 3
        // Signed chunks but the last hold at least 8 KiB; unsigned ones may be any size.
        let sizes = (0..<50).map { _ in Int.random(in: (mode == 2 ? 1 : 8192)...70_000, using: &random) }
        let algorithm = S3.ChecksumAlgorithm.allCases.randomElement(using: &random)!
        var checksum = algorithm.makeChecksummer()
        checksum.update(data)
        let trailers = mode == 0 ? nil : [(algorithm.headerName, checksum.base64)]
        let body = Self.encode(data, chunkSizes: sizes, signing: mode == 2 ? nil : signing, trailers: trailers, signedTrailer: mode == 1)
        let decoder = S3.AWSChunkedDecoder(signing: mode == 2 ? nil : signing, signedTrailer: mode == 1, announcedLength: Int64(data.count), trailer: trailers?.first?.0)
        let decoded = try Self.decode(body, decoder, &random)
        #expect(decoded.data == data)
        #expect(decoded.trailers.map(\.name) == (trailers ?? []).map(\.0) && decoded.trailers.map(\.value) == (trailers ?? []).map(\.1))
        if mode == 1 {
            // A changed trailer breaks the trailer signature.
            #expect(throws: S3.AWSChunkedDecoder.DecodingError.self) { try Self.decode(Self.swapTrailer(body, to: "AAAA"), decoder, &random) }
        }
    }

    @Test("only the trailer x-amz-trailer declared is taken, exactly once")
    func declaredTrailerOnly() throws {
        var random = SeededGenerator(seed: 11)
        let data = Array("hello".utf8)
        func result(_ trailers: [(String, String)]?, declared: String?) -> Bool {
            let body = Self.encode(data, chunkSizes: [5], signing: nil, trailers: trailers, signedTrailer: false)
            return (try? Self.decode(body, S3.AWSChunkedDecoder(signing: nil, announcedLength: 5, trailer: declared), &random)) != nil
        }
        #expect(result([("x-amz-checksum-crc32", "NhCmhg==")], declared: "x-amz-checksum-crc32"))
        #expect(result([("X-Amz-Checksum-CRC32 ", "NhCmhg==")], declared: "x-amz-checksum-crc32"), "names are trimmed and lowercased")
        #expect(!result([("x-amz-checksum-sha1", "x")], declared: "x-amz-checksum-crc32"), "another trailer")
        #expect(!result([("x-amz-checksum-crc32", "a"), ("x-amz-checksum-crc32", "b")], declared: "x-amz-checksum-crc32"), "twice")
        #expect(!result([], declared: "x-amz-checksum-crc32"), "missing")
        #expect(!result([("x-amz-checksum-crc32", "NhCmhg==")], declared: nil), "none declared")
    }

    /// `body` with its checksum trailer's value replaced (the signature left as it was).
    static func swapTrailer(_ body: [UInt8], to value: String) -> [UInt8] {
        let text = String(decoding: body, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let swapped = lines.map { $0.hasPrefix("x-amz-checksum-") ? String($0.prefix { $0 != ":" }) + ":" + value : $0 }
        return Array(swapped.joined(separator: "\r\n").utf8)
    }

    @Test("CRC check values and SHA digests as S3 encodes them")
    func checkValues() {
        let text = Array("123456789".utf8)
        func digest(_ algorithm: S3.ChecksumAlgorithm, _ bytes: [UInt8]) -> String {
            var checksum = algorithm.makeChecksummer()
            checksum.update(bytes)
            return Hex.encode(checksum.digest)
        }
        #expect(digest(.crc32, text) == "cbf43926")
        #expect(digest(.crc32c, text) == "e3069283")
        #expect(digest(.crc64nvme, text) == "ae8b14860a799888")
        #expect(digest(.sha1, text) == "f7c3bc1d808e04732adf679965ccc34ca7ae3441")
        #expect(digest(.sha256, []) == S3.SigV4.emptyPayloadHash)
        var empty = S3.ChecksumAlgorithm.crc32.makeChecksummer()
        empty.update([UInt8]())
        #expect(empty.base64 == "AAAAAA==")
        #expect(S3.ChecksumAlgorithm(headerName: "X-Amz-Checksum-CRC32C") == .crc32c)
        #expect(S3.ChecksumAlgorithm(headerName: "x-amz-checksum-md5") == nil)
    }

    @Test("eight bytes at a time agrees with one bit at a time, however the input is split", arguments: 0..<20)
    func slicingAgreesWithBitwise(seed: UInt64) {
        var random = SeededGenerator(seed: 8000 + seed)
        let data = (0..<Int.random(in: 0...5000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        for (algorithm, polynomial, width) in [(S3.ChecksumAlgorithm.crc32, UInt64(0xEDB8_8320), 32), (.crc32c, 0x82F6_3B78, 32), (.crc64nvme, 0x9A6C_9329_AC4B_C9B5, 64)] {
            var reference: UInt64 = width == 64 ? ~0 : 0xFFFF_FFFF
            for byte in data {
                reference ^= UInt64(byte)
                for _ in 0..<8 { reference = reference & 1 == 1 ? (reference >> 1) ^ polynomial : reference >> 1 }
            }
            reference = width == 64 ? ~reference : reference ^ 0xFFFF_FFFF
            var checksum = algorithm.makeChecksummer()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + Int.random(in: 1...700, using: &random))
                checksum.update(data[offset..<end])
                offset = end
            }
            let expected = width == 64 ? withUnsafeBytes(of: reference.bigEndian, Array.init) : withUnsafeBytes(of: UInt32(reference).bigEndian, Array.init)
            #expect(checksum.digest == expected, "\(algorithm), \(data.count) bytes")
        }
    }
}
