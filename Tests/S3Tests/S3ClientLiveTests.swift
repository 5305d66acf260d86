import Basics
import Crypto
import NIOCore
import Testing
import LocalProcesses
import TestSupport
@testable import S3

/// The S3 client against a real S3 server (moto_server, SigV4 checking on). Skips with a printed
/// reason when moto_server is missing, and fails instead under FILESTORE_REQUIRE_ALL_TESTS.
///
/// moto's own signature check mishandles keys with characters other than unreserved ones, `/` and
/// space, in paths and in query values alike (boto3 fails there too), and it does not compare `x-amz-content-sha256` with the body;
/// the official vectors cover encoding, and the blob stores verify hashes themselves.
@Suite("S3 client against moto_server")
struct S3ClientLiveTests {
    /// Runs `body` with a fresh server and a client holding its valid credentials; always stops both.
    func withMoto(_ body: (MotoServer, S3.Client) async throws -> Void) async throws {
        guard let server = try await MotoServer.start() else {
            if TestEnvironment.requiresAllTools { Issue.record("moto_server is required (FILESTORE_REQUIRE_ALL_TESTS) but missing") }
            return
        }
        do {
            try await S3.Client.withClient(server.configuration) { try await body(server, $0) }
        } catch {
            print("moto log:\n\((try? String(contentsOf: server.logFile, encoding: .utf8))?.suffix(4000) ?? "")")
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func bytes(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }
    func hex(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

    @Test func objectLifecycle() async throws {
        try await withMoto { _, client in
            try await client.createBucket("filestore")
            try await client.createBucket("filestore")  // ensure-exists: a second call is fine

            let data = bytes(300_000, seed: 7)
            try await client.putObject(bucket: "filestore", key: "chunks/ab/cd/one", body: .bytes(ByteBuffer(bytes: data)), sha256: hex(data))
            try await client.putObject(bucket: "filestore", key: "unsigned key-1.x_~", body: .bytes(ByteBuffer(bytes: data)))

            #expect(try await client.headObject(bucket: "filestore", key: "chunks/ab/cd/one").contentLength == 300_000)
            let whole = try await client.getObject(bucket: "filestore", key: "chunks/ab/cd/one")
            #expect(Array(buffer: try await whole.body.collect(upTo: 1 << 20)) == data)
            let unsigned = try await client.getObject(bucket: "filestore", key: "unsigned key-1.x_~")
            #expect(Array(buffer: try await unsigned.body.collect(upTo: 1 << 20)) == data)

            let ranged = try await client.getObject(bucket: "filestore", key: "chunks/ab/cd/one", range: 1000...1999)
            #expect(ranged.info.contentLength == 1000)
            #expect(Array(buffer: try await ranged.body.collect(upTo: 1 << 20)) == Array(data[1000...1999]))

            try await client.deleteObject(bucket: "filestore", key: "chunks/ab/cd/one")
            try await client.deleteObject(bucket: "filestore", key: "chunks/ab/cd/one")  // absent: still fine
            await #expect { try await client.headObject(bucket: "filestore", key: "chunks/ab/cd/one") } throws: { ($0 as? S3Error)?.code == .noSuchKey }
            await #expect { try await client.getObject(bucket: "filestore", key: "chunks/ab/cd/one") } throws: { ($0 as? S3Error)?.code == .noSuchKey }
            await #expect { try await client.headObject(bucket: "nobucket", key: "x") } throws: { ($0 as? S3Error)?.status == 404 }
        }
    }

    @Test func listingPagesThroughContinuationTokens() async throws {
        try await withMoto { _, client in
            try await client.createBucket("filestore")
            let keys = (0..<23).map { "chunks/\($0 % 3)/key \($0)" } + ["other/one"]
            for key in keys { try await client.putObject(bucket: "filestore", key: key, body: .bytes(ByteBuffer(string: key))) }

            let page = try await client.listObjectsV2(bucket: "filestore", prefix: "chunks", maxKeys: 5)
            #expect(page.objects.count == 5)
            #expect(page.nextContinuationToken != nil)

            var listed: [S3.ObjectSummary] = []
            for try await object in client.listAllObjects(bucket: "filestore", prefix: "chunks", pageSize: 4) { listed.append(object) }
            #expect(Set(listed.map(\.key)) == Set(keys.filter { $0.hasPrefix("chunks/") }))
            #expect(listed.allSatisfy { $0.size == Int64($0.key.utf8.count) })
        }
    }

    @Test func wrongCredentialsAreTypedErrors() async throws {
        try await withMoto { server, client in
            try await client.createBucket("filestore")
            var wrongSecret = server.configuration
            wrongSecret.credentials.secretAccessKey = "wrong"
            try await S3.Client.withClient(wrongSecret) { wrongSecret in
                await #expect { try await wrongSecret.putObject(bucket: "filestore", key: "x", body: .bytes(ByteBuffer(string: "x"))) } throws: {
                    ($0 as? S3Error)?.code == .signatureDoesNotMatch
                }
            }
            try await S3.Client.withClient(.init(endpoint: server.endpoint, credentials: .init(accessKeyID: "AKIANOTAKEY", secretAccessKey: "wrong"))) { wrongKey in
                await #expect { try await wrongKey.listObjectsV2(bucket: "filestore") } throws: {
                    [.invalidAccessKeyID, .accessDenied].contains(($0 as? S3Error)?.code)
                }
            }
            // Nothing was stored by the refused requests.
            #expect(try await client.listObjectsV2(bucket: "filestore").objects.isEmpty)
        }
    }

    @Test func frozenServerTimesOut() async throws {
        try await withMoto { server, _ in
            var configuration = server.configuration
            configuration.requestTimeout = .milliseconds(500)
            configuration.maxAttempts = 2
            try await S3.Client.withClient(configuration) { impatient in
                server.freeze()
                defer { server.thaw() }
                let start = ContinuousClock.now
                await #expect { try await impatient.headObject(bucket: "filestore", key: "x") } throws: { ($0 as? S3Error)?.code == .timeout }
                #expect(ContinuousClock.now - start < .seconds(5))
            }
        }
    }
}

extension S3ClientLiveTests {
    /// A request that times out while the server is frozen is retried, and succeeds once it is back.
    @Test func retriesUntilTheServerRecovers() async throws {
        try await withMoto { server, client in
            try await client.createBucket("filestore")
            try await client.putObject(bucket: "filestore", key: "k", body: .bytes(ByteBuffer(string: "value")))
            var configuration = server.configuration
            configuration.requestTimeout = .milliseconds(400)
            configuration.retryBaseDelay = .milliseconds(200)
            configuration.maxAttempts = 8
            server.freeze()
            let thaw = Task {
                try await Task.sleep(for: .milliseconds(900))  // the outage being simulated, not a wait for a condition
                server.thaw()
            }
            try await S3.Client.withClient(configuration) { patient in
                let length = try await patient.headObject(bucket: "filestore", key: "k").contentLength
                #expect(length == 5)
            }
            try await thaw.value
        }
    }
}

@Suite("S3 client without a server")
struct S3ClientOfflineTests {
    @Test func serverDownIsATimelyConnectionError() async throws {
        try await FreePort.withRefusingPort { port in
            var configuration = S3.Configuration(endpoint: "http://127.0.0.1:\(port)", credentials: .init(accessKeyID: "a", secretAccessKey: "b"))
            configuration.retryBaseDelay = .milliseconds(10)
            try await S3.Client.withClient(configuration) { client in
                let start = ContinuousClock.now
                await #expect { try await client.headObject(bucket: "filestore", key: "x") } throws: { ($0 as? S3Error)?.code == .connectionFailed }
                // Refused at once, four attempts 10-80 ms apart: far below the 3 s connect timeout
                // that a hang would hit.
                #expect(ContinuousClock.now - start < .seconds(3))
            }
        }
    }

    @Test(arguments: ["", "/leading", "a//b", "a/./b", "a/../b", "..", "tab\there", String(repeating: "k", count: 1025), "back\\slash"])
    func refusesBadKeys(_ key: String) async throws {
        #expect { try S3.validate(key: key) } throws: { ($0 as? S3Error)?.code == .invalidName }
    }

    @Test(arguments: ["ab", "Upper", "-lead", "trail.", "a..b", "under_score", String(repeating: "b", count: 64)])
    func refusesBadBuckets(_ bucket: String) {
        #expect { try S3.validate(bucket: bucket) } throws: { ($0 as? S3Error)?.code == .invalidName }
    }

    @Test(arguments: ["127.0.0.1:9000", "ftp://x", "http://", "http://host/path", "http://host:99999", "http://user@host"])
    func refusesBadEndpoints(_ endpoint: String) {
        #expect { try S3.Client(configuration: .init(endpoint: endpoint, credentials: .init(accessKeyID: "a", secretAccessKey: "b"))) } throws: {
            ($0 as? S3Error)?.code == .invalidConfiguration
        }
    }

    @Test func retriesOnlyServerAndConnectionFailures() {
        #expect(S3Error(.internalError, "", status: 500).isRetryable)
        #expect(S3Error(.slowDown, "", status: 503).isRetryable)
        #expect(S3Error(.init(rawValue: "TooManyRequests"), "", status: 429).isRetryable)
        #expect(S3Error(.connectionFailed, "").isRetryable)
        #expect(S3Error(.timeout, "").isRetryable)
        #expect(!S3Error(.noSuchKey, "", status: 404).isRetryable)
        #expect(!S3Error(.accessDenied, "", status: 403).isRetryable)
        #expect(!S3Error(.signatureDoesNotMatch, "", status: 403).isRetryable)
        #expect(!S3Error(.invalidName, "").isRetryable)
    }

    @Test func backoffIsJitteredAndCapped() {
        let configuration = S3.Configuration(endpoint: "http://127.0.0.1:9", credentials: .init(accessKeyID: "a", secretAccessKey: "b"))
        for attempt in 1...12 {
            let delays = (0..<50).map { _ in configuration.backoff(attempt: attempt) }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= min(.seconds(2), .milliseconds(100) * (1 << attempt)) })
            #expect(Set(delays).count > 1)  // jittered, not fixed
        }
    }

    @Test func parsesErrorAndListXML() {
        let xml: Substring = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &lt;a&amp;b&gt; &#8364;</Message><RequestId>r1</RequestId></Error>"
        #expect(S3XML.value("Code", in: xml) == "NoSuchKey")
        #expect(S3XML.value("Message", in: xml) == "The key <a&b> €")
        let list: Substring = "<ListBucketResult><KeyCount>2</KeyCount><Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>2</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>"
        #expect(S3XML.values("Key", in: list) == ["a", "b"])
        #expect(S3XML.elements("Contents", in: list).count == 2)
    }
}
