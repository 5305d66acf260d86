import Basics
import Testing
@testable import S3

/// The worked examples of the S3 documentation ("Signature Calculations for the Authorization
/// Header" and "Query String Authentication").
@Suite("SigV4: S3 documentation examples")
struct SigV4ExampleTests {
    let signer = S3.SigV4.Signer(
        credentials: S3.Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    let date = S3.SigV4.AmzDate("20130524T000000Z")!
    let host = ("Host", "examplebucket.s3.amazonaws.com")

    @Test func getObjectWithRange() {
        let request = S3.SigV4.Request(method: "GET", path: "/test.txt", headers: [host, ("Range", "bytes=0-9")])
        let signed = signer.sign(request, payloadHash: S3.SigV4.emptyPayloadHash, date: date)
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectEncodesTheKeyOnce() {
        let request = S3.SigV4.Request(method: "PUT", path: "/test$file.text", headers: [
            host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ])
        let signed = signer.sign(request, payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: date)
        #expect(signed.canonicalRequest.split(separator: "\n")[1] == "/test%24file.text")
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycle() {
        let request = S3.SigV4.Request(method: "GET", path: "/", query: [("lifecycle", "")], headers: [host])
        #expect(signer.sign(request, payloadHash: S3.SigV4.emptyPayloadHash, date: date).signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjects() {
        let request = S3.SigV4.Request(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [host])
        #expect(signer.sign(request, payloadHash: S3.SigV4.emptyPayloadHash, date: date).signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func presignedURL() {
        let request = S3.SigV4.Request(method: "GET", path: "/test.txt", headers: [host])
        let signed = signer.presign(request, expires: 86_400, date: date)
        #expect(signed.signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(signed.encodedQuery.hasPrefix("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"))
        #expect(signed.encodedQuery.hasSuffix("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
    }

    @Test func unsignedPayloadIsSignedLiterally() {
        let request = S3.SigV4.Request(method: "PUT", path: "/bucket/key", headers: [host])
        let signed = signer.sign(request, payloadHash: S3.SigV4.unsignedPayload, date: date)
        #expect(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        #expect(signed.headers.contains { $0.name == "x-amz-content-sha256" && $0.value == "UNSIGNED-PAYLOAD" })
    }
}

@Suite("SigV4: encoding and dates")
struct SigV4EncodingTests {
    @Test func encodesEverythingButUnreserved() {
        #expect(PercentEncoding.encode("a b/c~d_e.f-g", keepSlash: true) == "a%20b/c~d_e.f-g")
        #expect(PercentEncoding.encode("a b/c+d=e&f", keepSlash: false) == "a%20b%2Fc%2Bd%3De%26f")
        #expect(PercentEncoding.encode("ሴ", keepSlash: true) == "%E1%88%B4")
        #expect(PercentEncoding.encode("chunks/ab/cd/x..y", keepSlash: true) == "chunks/ab/cd/x..y")
    }

    @Test func percentDecodeInvertsEncode() {
        var state: UInt64 = 1
        for _ in 0..<500 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let scalars = (0..<Int(state >> 60)).map { index in Character(Unicode.Scalar(UInt8(truncatingIfNeeded: state >> UInt64(index * 3)) % 127 + 1)) }
            let text = String(scalars) + "ሴ"
            #expect(PercentEncoding.decodeLeniently(PercentEncoding.encode(text, keepSlash: false)) == text)
        }
    }

    @Test(arguments: [(0, "19700101T000000Z"), (1_369_353_600, "20130524T000000Z"), (1_440_938_160, "20150830T123600Z"), (951_782_400, "20000229T000000Z"), (4_102_444_799, "20991231T235959Z")])
    func formatsAndParsesDates(seconds: Int64, text: String) {
        #expect(S3.SigV4.AmzDate(secondsSince1970: seconds).timestamp == text)
        #expect(S3.SigV4.AmzDate(text)?.secondsSince1970 == seconds)
    }

    @Test func datesRoundTripOverManyDays() {
        for day in stride(from: Int64(0), to: 60_000, by: 37) {
            let date = S3.SigV4.AmzDate(secondsSince1970: day * 86_400 + day % 86_400)
            #expect(S3.SigV4.AmzDate(date.timestamp) == date)
        }
    }
}
