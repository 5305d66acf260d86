import Agent
import CSystemTuning
import AsyncHTTPClient
import Basics
import DevCluster
import Crypto
import Foundation
import Glibc
import LocalProcesses
import NIOCore
import NIOSSL
import PublicAPI
import Synchronization
import Testing
import TestSupport

/// Attacks from the network on a live agent (DESIGN.md §17): each must be refused with the agent
/// still up and nothing stored afterwards.
@Suite(.serialized) struct SecurityLiveTests {
    /// A man in the middle between two agents captures internal calls and their answers; replayed
    /// as they were, with another body, or answered for the agent, every one is refused.
    @Test func internalCallsCannotBeReplayedAlteredOrForged() async throws {
        // Plain HTTP, so the man in the middle can read the wire (under TLS it could not even do that).
        try await LiveCluster.run(nodes: 1, configure: { $0.tls = false; $0.internalListeners = false }) { cluster, api in
            let secret = try String(contentsOfFile: cluster.options.directory + "/secret", encoding: .utf8)
            let transport = HTTPTransport(peers: PeerClient(selfID: "node1", auth: InternalAuth(clusterName: cluster.options.clusterName, secret: secret)))
            defer { Task { try? await transport.peers.shutdown() } }
            let agent = "127.0.0.1:\(try #require(cluster.node("node1")).httpPort)"
            try await ManInTheMiddle.run(upstream: agent) { wire, proxy in
                // Through an honest wire the calls work (so what follows fails for the right reason).
                let records = try await transport.call(SyncCalls.GetGlobal(), on: "node1", address: proxy)
                let admin = try #require(records.users.first { $0.name == "admin" })
                #expect(try await transport.call(SyncCalls.PutGlobal(GlobalRecords()), on: "node1", address: proxy) == 0)
                let captured = try #require(wire.exchanges.last)
                #expect(captured.target == "/internal/v1/global" && captured.status == 200)

                // A user the attacker would like to exist: an admin with the admin's password.
                var mallory = admin
                mallory.name = "mallory"
                mallory.id = "mallory-id"
                mallory.version = HybridTimestamp(wallMilliseconds: admin.version.wallMilliseconds + 1, counter: 0, node: "node1")
                let forged = InternalJSON.body(GlobalRecords(users: [mallory]))

                let replay = try await api.send(.PUT, "node1", captured.target, body: captured.body, authorization: "", headers: captured.headers)
                #expect(replay.status == 401, "replayed as captured: \(replay.status) \(replay.text)")
                let changed = try await api.send(.PUT, "node1", captured.target, body: forged, authorization: "", headers: captured.headers)
                #expect(changed.status == 401, "replayed with another body: \(changed.status) \(changed.text)")

                // Rewritten in flight (a fresh nonce, so only the body digest can catch it).
                wire.tamper(.requestBody(forged))
                await #expect(throws: PeerError.self) { _ = try await transport.call(SyncCalls.PutGlobal(GlobalRecords()), on: "node1", address: proxy) }
                #expect(wire.exchanges.last?.status == 400, "the agent refuses a body its signature does not cover: \(wire.exchanges.last.map { String(buffer: $0.answer) } ?? "")")

                // A chunk rewritten in flight is refused too (its bytes no longer hash to its id), and nothing is stored.
                let chunkText = "a chunk the attacker would like to change"
                let chunkID = ChunkID(digest: SHA256.hash(data: Array(chunkText.utf8)))
                wire.tamper(.requestBody(ByteBuffer(string: "a chunk the attacker has changed, see?")))
                await #expect(throws: PeerError.self) { _ = try await transport.call(ChunkCalls.Put(chunkID, ByteBuffer(string: chunkText), hintFor: nil), on: "node1", address: proxy) }
                wire.tamper(.none)
                #expect(try await transport.call(ChunkCalls.Size(chunkID), on: "node1", address: proxy) == nil, "the rewritten chunk was not stored")

                // Answers: altered in flight, or an earlier genuine answer given to a new call.
                wire.tamper(.answerBody(InternalJSON.body(GlobalRecords(users: records.users + [mallory]))))
                await #expect(throws: PeerError.self) { _ = try await transport.call(SyncCalls.GetGlobal(), on: "node1", address: proxy) }
                wire.tamper(.staleAnswer(captured))
                do {
                    _ = try await transport.call(SyncCalls.PutGlobal(GlobalRecords()), on: "node1", address: proxy)
                    Issue.record("an earlier answer was accepted for a new call")
                } catch let error as PeerError {
                    #expect(error.code == .invalidResponse, "\(error)")
                }
                wire.tamper(.none)
                #expect(try await transport.call(SyncCalls.GetGlobal(), on: "node1", address: proxy).users.map(\.name).sorted() == records.users.map(\.name).sorted())
            }
            let login = try await api.send(.GET, "node1", "/api/v1/cluster", authorization: API.basic("mallory", LiveCluster.adminPassword))
            #expect(login.status == 401, "no forged user exists: \(login.status)")
            #expect(try await api.send(.GET, "node1", "/api/v1/health", authorization: "").status == 200, "the agent is still up")
        }
    }

    /// With a listener of its own for the internal API, the public port serves none of it and
    /// the internal port nothing public; agents reach each other through the internal one.
    @Test func theInternalAPICanHaveItsOwnListener() async throws {
        try await LiveCluster.run(nodes: 3, configure: { $0.tls = false; $0.internalListeners = true }) { cluster, api in
            let bytes = randomBytes(1_500_000, seed: 15)
            #expect(try await api.upload("node1", "own-listener.bin", bytes).status == 201)
            for node in ["node2", "node3"] { #expect(try await api.download(node, "own-listener.bin").bytes == bytes) }
            let records = try await api.internalCall(SyncCalls.GetGlobal(), on: "node2")
            #expect(records.users.contains { $0.name == "admin" }, "the internal port answers signed calls")
            let onPublic = try await api.send(.GET, "node2", "/internal/v1/global", authorization: "")
            #expect(onPublic.status == 404, "the public port has no internal API: \(onPublic.status)")
            let internalPort = try #require(cluster.node("node2")?.internalPort)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(internalPort)/api/v1/files/own-listener.bin")
            request.headers.add(name: "Authorization", value: API.admin)
            let publicOnInternal = try await api.http.execute(request, timeout: .seconds(10))
            #expect(publicOnInternal.status.code == 404, "the internal port serves no public API")
            let status = try await api.cluster(from: "node1")
            #expect(status.nodes.map(\.http).sorted() == cluster.nodes.map { "127.0.0.1:\($0.httpPort)" }.sorted(), "status shows the public addresses")
        }
    }

    /// A cluster over TLS with mutual TLS between agents on their own internal listeners: files
    /// go through, the CLI works with the cluster CA, browsers get a `Secure` cookie and HSTS, and
    /// the internal listener refuses a client without a certificate of the cluster's CA.
    @Test func aClusterOverTLSRefusesPeersWithoutAClusterCertificate() async throws {
        try await LiveCluster.run(nodes: 3, configure: { $0.tls = true; $0.internalListeners = true }) { cluster, api in
            let node1 = try #require(cluster.node("node1"))
            #expect(node1.url.hasPrefix("https://"))
            let bytes = randomBytes(1_200_000, seed: 17)
            #expect(try await api.upload("node1", "tls.bin", bytes).status == 201)
            for node in ["node2", "node3"] { #expect(try await api.download(node, "tls.bin").bytes == bytes, "read through \(node) over TLS") }
            #expect(try await api.internalCall(SyncCalls.GetGlobal(), on: "node2").users.contains { $0.name == "admin" }, "an agent's certificate opens the internal listener")

            let health = try await api.send(.GET, "node1", "/api/v1/health", authorization: "")
            #expect(health.headers.first(name: "Strict-Transport-Security")?.contains("max-age=") == true, "HSTS under TLS")
            let authority = try NIOSSLCertificate.fromPEMFile(try #require(cluster.authorityCertificate))
            var browserTLS = TLSConfiguration.makeClientConfiguration()
            browserTLS.trustRoots = .certificates(authority)
            var browserConfiguration = HTTPClient.Configuration(tlsConfiguration: browserTLS, redirectConfiguration: .disallow)
            browserConfiguration.timeout = .init(connect: .seconds(5), read: .seconds(30))
            let browser = HTTPClient(eventLoopGroupProvider: .singleton, configuration: browserConfiguration)
            var form = HTTPClientRequest(url: node1.url + "/ui/login")
            form.method = .POST
            form.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            form.body = .bytes(ByteBuffer(string: "user=admin&password=\(LiveCluster.adminPassword)"))
            let login: HTTPClientResponse
            do {
                login = try await browser.execute(form, timeout: .seconds(30))
                try await browser.shutdown()
            } catch {
                try? await browser.shutdown()
                throw error
            }
            #expect(login.headers.first(name: "Set-Cookie")?.contains("; Secure") == true, "the session cookie is Secure: \(login.headers)")

            // Refused: plain HTTP on the TLS port, and the internal port without a client
            // certificate or with one from another CA (the handshake fails, nothing is served).
            let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("other-ca-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: elsewhere) }
            try ClusterCertificates.write(into: elsewhere, clusterName: "intruder", nodes: [("node1", ["127.0.0.1"])])
            let strangerChain = try NIOSSLCertificate.fromPEMFile(elsewhere + "/node1.crt")
            let strangerKey = try NIOSSLPrivateKey(file: elsewhere + "/node1.key", format: .pem)
            let internalPort = try #require(node1.internalPort)
            for (name, certificate) in [("no certificate", nil), ("another CA's certificate", (strangerChain, strangerKey))] as [(String, ([NIOSSLCertificate], NIOSSLPrivateKey)?)] {
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .certificates(authority)
                if let (chain, key) = certificate {
                    tls.certificateChain = chain.map { .certificate($0) }
                    tls.privateKey = .privateKey(key)
                }
                var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(10)))
                configuration.tlsConfiguration = tls
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                let answered = try? await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(internalPort)/api/v1/health"), timeout: .seconds(10))
                try await client.shutdown()
                #expect(answered == nil, "the internal listener served a client with \(name)")
            }
            let plain = HTTPClient(eventLoopGroupProvider: .singleton)
            let plainAnswer = try? await plain.execute(HTTPClientRequest(url: "http://127.0.0.1:\(node1.httpPort)/api/v1/health"), timeout: .seconds(10))
            try await plain.shutdown()
            #expect(plainAnswer == nil || plainAnswer?.status == .badRequest, "plain HTTP on the TLS port gets no answer")

            // The CLI trusts the cluster CA when told to.
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("tls-cli-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: config) }
            var environment = ["FILESTORE_USER": "admin", "FILESTORE_PASSWORD": LiveCluster.adminPassword, "FILESTORE_CA_CERT": ""]
            let untrusted = try await CLILiveTests.cli(["status"], config: config, url: node1.url, environment: environment)
            #expect(untrusted.status != 0, "without the CA the CLI refuses the agent's certificate")
            let ca: String = try #require(cluster.authorityCertificate)
            environment["FILESTORE_CA_CERT"] = ca
            let trusted = try await CLILiveTests.cli(["status"], config: config, url: node1.url, environment: environment)
            #expect(trusted.status == 0, "filestore status over TLS: \(trusted.errors)")
        }
    }

    /// Tokens can be listed (never shown again) and revoked by their owner or an admin; a revoked
    /// token stops working on every node; a user cannot see or revoke another's.
    /// Without FILESTORE_ADMIN_PASSWORD, nodes starting together make one admin between them:
    /// only node1 (first in cluster.yml), only after it has pulled a peer's records, and the
    /// password it prints works on every node.
    @Test func withoutAnAdminPasswordOneNodeCreatesTheAdminOnce() async throws {
        try await LiveCluster.run(nodes: 3, configure: { $0.adminPassword = "" }, waitUntilAllAlive: false) { cluster, api in
            func printed() -> [(node: String, password: String)] {
                cluster.nodes.flatMap { node -> [(node: String, password: String)] in
                    let text = (try? String(contentsOfFile: node.logFile, encoding: .utf8)) ?? ""
                    return text.components(separatedBy: "created user admin with password ").dropFirst().map { (node.id, String($0.prefix { $0 != " " })) }
                }
            }
            try await pollUntil("a node prints the bootstrap admin's password", timeout: .seconds(60), interval: .milliseconds(500)) {
                printed().isEmpty ? "no node printed it yet" : nil
            }
            // Every node gets the record through global sync (read over the internal API: polling
            // with the password would spend the failed-sign-in budget while the record travels).
            for node in ["node1", "node2", "node3"] {
                try await pollUntil("\(node) holds the admin", timeout: .seconds(30), interval: .milliseconds(500)) {
                    let users = try await api.internalCall(SyncCalls.GetGlobal(), on: node).users
                    return users.map(\.name) == ["admin"] ? nil : "\(node) holds \(users.map(\.name))"
                }
            }
            let creations = printed()
            #expect(creations.count == 1 && creations.first?.node == "node1", "one admin, made by node1: \(creations.map(\.node))")
            let admin = API.basic("admin", try #require(creations.first).password)
            for node in ["node1", "node2", "node3"] {
                #expect(try await api.send(.GET, node, "/api/v1/users", authorization: admin).status == 200, "the printed password works on \(node)")
            }
        }
    }

    @Test func tokensCanBeListedAndRevoked() async throws {
        try await LiveCluster.run(nodes: 2) { cluster, api in
            let json = [("Content-Type", "application/json")]
            for name in ["alice", "bob"] {
                let created = try await api.send(.POST, "node1", "/api/v1/users", body: ByteBuffer(string: #"{"name": "\#(name)", "password": "\#(name)-password"}"#), headers: json)
                try #require(created.status == 201, "create \(name): \(created.text)")
            }
            func token(_ name: String) async throws -> String {
                let grant = try await api.send(.POST, "node1", "/api/v1/auth/tokens", authorization: API.basic(name, "\(name)-password"))
                return try grant.decode(TokenGrant.self).token
            }
            let first = try await token("alice"), second = try await token("alice"), bobs = try await token("bob")
            let listed = try await api.send(.GET, "node1", "/api/v1/auth/tokens", authorization: "Bearer \(first)").decode(TokenList.self)
            #expect(listed.tokens.count == 2 && listed.tokens.allSatisfy { $0.user == "alice" }, "alice sees her two tokens: \(listed)")
            #expect(listed.tokens.filter(\.current).count == 1, "one is marked as the one in use")
            #expect(!listed.tokens.contains { $0.id == first || $0.id == second }, "the tokens themselves are never shown")
            let all = try await api.send(.GET, "node1", "/api/v1/auth/tokens").decode(TokenList.self)
            #expect(Set(all.tokens.map(\.user)) == ["alice", "bob"], "an admin sees everyone's")
            let bobsID = try #require(all.tokens.first { $0.user == "bob" }).id
            let secondID = try #require(listed.tokens.first { !$0.current }).id

            #expect(try await api.send(.DELETE, "node1", "/api/v1/auth/tokens/\(bobsID)", authorization: "Bearer \(first)").status == 404, "not another user's")
            #expect(try await api.send(.DELETE, "node1", "/api/v1/auth/tokens/\(secondID)", authorization: "Bearer \(first)").status == 204)
            try await pollUntil("the revoked token is refused on node2", timeout: .seconds(20)) {
                let status = try await api.send(.GET, "node2", "/api/v1/files/", authorization: "Bearer \(second)").status
                return status == 401 ? nil : "node2 answered \(status)"
            }
            #expect(try await api.send(.GET, "node2", "/api/v1/auth/tokens", authorization: "Bearer \(first)").status == 200, "the other token still works")
            #expect(try await api.send(.GET, "node2", "/api/v1/auth/tokens", authorization: "Bearer \(bobs)").status == 200, "bob's token still works")
            let firstID = try #require(listed.tokens.first { $0.current }).id
            #expect(try await api.send(.DELETE, "node2", "/api/v1/auth/tokens/\(firstID)").status == 204, "an admin revokes anyone's")
            try await pollUntil("the admin-revoked token is refused on node1", timeout: .seconds(20)) {
                let status = try await api.send(.GET, "node1", "/api/v1/auth/tokens", authorization: "Bearer \(first)").status
                return status == 401 ? nil : "node1 answered \(status)"
            }
        }
    }

    /// A multipart upload authenticated by Basic, as a form on another site could send it with
    /// the browser's cached credentials, is refused and stores nothing; with a header such a page
    /// cannot set, it is taken.
    @Test func aBasicAuthenticatedFormPostNeedsAHeaderAPageCannotSet() async throws {
        try await LiveCluster.run(nodes: 2) { cluster, api in
            let body = "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"forged.txt\"\r\n\r\nforged\r\n--zz--\r\n"
            func post(_ headers: [(String, String)]) async throws -> API.Reply {
                try await api.send(
                    .POST, "node1", "/api/v1/files", body: ByteBuffer(string: body),
                    headers: [("Content-Type", "multipart/form-data; boundary=zz")] + headers
                )
            }
            var request = HTTPClientRequest(url: try #require(cluster.node("node1")).url + "/api/v1/files")
            request.method = .POST
            request.headers.add(name: "Authorization", value: API.admin)
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=zz")
            request.body = .bytes(ByteBuffer(string: body))
            let refused = try await api.http.execute(request, timeout: .seconds(30))
            #expect(refused.status == .forbidden, "a cross-site-capable Basic POST: \(refused.status)")
            #expect(try await api.download("node1", "forged.txt").status == 404, "nothing was stored")
            let taken = try await post([("X-Requested-With", "XMLHttpRequest")])
            #expect(taken.status == 201, "with X-Requested-With: \(taken.status) \(taken.text)")
        }
    }

    /// 2,000 connections that never send a request, from one client: those over the per-client
    /// cap are closed at once, the rest after the idle timeout; meanwhile the agent answers
    /// others within a second and its memory stays flat.
    @Test func idleConnectionsAreCappedAndClosed() async throws {
        _ = filestore_raise_open_files_limit()
        try await LiveCluster.run(nodes: 1, configure: { $0.tls = false; $0.limits = ["idle_timeout": "20s", "max_connections_per_client": "1000"] }) { cluster, api in
            let port = try #require(cluster.node("node1")).httpPort
            let pid = try #require(cluster.pid("node1"))
            let before = try residentKiB(pid)
            let descriptorsBefore = try openDescriptors(pid)
            var connections: [RawConnection] = []
            defer { for connection in connections { connection.close() } }
            // (A debug agent accepts a few hundred connections a second: opening them all takes
            // seconds, so the idle timeout is long enough to see the first ones still held.)
            for _ in 0..<2_000 { connections.append(try RawConnection(from: "127.0.0.2", to: port)) }

            let asked = ContinuousClock.now
            #expect(try await api.send(.GET, "node1", "/api/v1/health", authorization: "").status == 200)
            #expect(ContinuousClock.now - asked < .seconds(1), "health took \(ContinuousClock.now - asked) with 2,000 idle connections open")
            try await pollUntil("the connections over the per-client cap are closed", timeout: .seconds(5)) {
                let closed = connections.filter(\.isClosedByPeer).count
                return closed >= 1_000 ? nil : "\(closed) of 2,000 closed"
            }
            let descriptors = try openDescriptors(pid)
            #expect(descriptors - descriptorsBefore <= 1_000 + 16, "the agent holds at most the per-client cap: \(descriptorsBefore) → \(descriptors) files open")
            #expect(connections.filter(\.isClosedByPeer).count < 1_100, "those within the cap are held until the idle timeout")
            let held = try residentKiB(pid)
            #expect(held - before < 100 << 10, "RSS grew from \(before) KiB to \(held) KiB holding 1,000 connections")
            try await pollUntil("every idle connection is closed after the idle timeout", timeout: .seconds(40)) {
                let closed = connections.filter(\.isClosedByPeer).count
                return closed == 2_000 ? nil : "\(closed) of 2,000 closed"
            }
            #expect(try await api.send(.GET, "node1", "/api/v1/health", authorization: "").status == 200)
        }
    }

    /// Clients that start large downloads and never read them: beyond `max_downloads_per_client`
    /// and `max_downloads_in_flight` they are answered 503, the read-ahead they hold stays within
    /// `read_ahead_chunks`, and each is cut off after the idle timeout, giving its place back; a
    /// download afterwards is whole.
    @Test func stalledDownloadsAreBoundedAndCutOff() async throws {
        let limits = ["idle_timeout": "3s", "max_downloads_in_flight": "3", "max_downloads_per_client": "2", "read_ahead_chunks": "4"]
        try await LiveCluster.run(nodes: 2, configure: { $0.tls = false; $0.limits = limits }) { cluster, api in
            // 24 chunks of 1 MiB, each different (dedup would store a repeat once).
            let content = (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 20) &* 131 &+ ($0 >> 11)) }
            #expect(try await api.upload("node1", "stall/big.bin", content).status == 201)
            let port = try #require(cluster.node("node1")).httpPort
            func gauge(_ name: String) async throws -> Int? {
                let text = try await api.send(.GET, "node1", "/metrics", authorization: "").text
                return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }
            }
            var opened: [RawConnection] = []
            defer { for connection in opened { connection.close() } }
            var statuses: [String] = []
            for source in ["127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"] {
                let connection = try RawConnection(from: source, to: port, receiveBuffer: 4096)
                opened.append(connection)
                try connection.send("GET /api/v1/files/stall/big.bin HTTP/1.1\r\nHost: node1\r\nAuthorization: \(API.admin)\r\n\r\n")
                var status = ""
                try await pollUntil("the download's status line arrives", timeout: .seconds(10)) {
                    status = String(connection.peek().prefix(12))
                    return status.count == 12 ? nil : "nothing yet"
                }
                statuses.append(status)
            }
            // The third from one address passes the per-client cap; the fifth, the node's.
            #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 503", "HTTP/1.1 200", "HTTP/1.1 503"], "\(statuses)")
            #expect(opened[2].peek().lowercased().contains("retry-after: 1") && opened[4].peek().lowercased().contains("retry-after: 1"))
            let stalled = [opened[0], opened[1], opened[3]]
            try await pollUntil("the gauges show the three stalled downloads", timeout: .seconds(10)) {
                let downloads = try await gauge("filestore_downloads_in_flight")
                return downloads == 3 ? nil : "downloads in flight: \(String(describing: downloads))"
            }
            let readAhead = try #require(try await gauge("filestore_read_ahead_chunks"))
            #expect(readAhead <= 4, "read-ahead held by stalled downloads: \(readAhead) chunks")
            try await pollUntil("the stalled downloads are cut off after the idle timeout", timeout: .seconds(20)) {
                let downloads = try await gauge("filestore_downloads_in_flight")
                return downloads == 0 ? nil : "downloads in flight: \(String(describing: downloads))"
            }
            for connection in stalled {
                let (received, closed) = connection.drain(quiet: 10)
                #expect(closed && received < content.count, "a stalled download was cut off: \(received) bytes then \(closed ? "closed" : "still open")")
            }
            #expect(try await gauge("filestore_read_ahead_chunks") == 0)
            let whole = try await api.download("node1", "stall/big.bin")
            #expect(whole.status == 200 && Array(whole.body.readableBytesView) == content, "a download after the stalled ones is whole")
        }
    }

    /// 500 concurrent requests with a wrong password from one client: a handful are checked, the
    /// rest refused with 429 before any bcrypt; health answers within a second throughout.
    @Test func aFloodOfWrongPasswordsIsRateLimited() async throws {
        try await LiveCluster.run(nodes: 1, configure: { $0.tls = false }) { cluster, api in
            let flood = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(timeout: .init(connect: .seconds(10), read: .seconds(60)), connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 500))
            )
            let url = try #require(cluster.node("node1")).url
            let done = Atomic<Bool>(false)
            @Sendable func guess(_ index: Int) async -> Int {
                var request = HTTPClientRequest(url: url + "/api/v1/cluster")
                request.headers.add(name: "Authorization", value: API.basic("admin", "wrong-password-\(index)"))
                guard let response = try? await flood.execute(request, timeout: .seconds(60)) else { return -1 }
                return Int(response.status.code)
            }
            let statuses = Task { () -> [Int] in
                defer { done.store(true, ordering: .relaxed) }
                return await withTaskGroup(of: Int.self) { group in
                    for index in 0..<500 { group.addTask { await guess(index) } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            var slowest: Duration = .zero
            let deadline = ContinuousClock.now + .seconds(90)
            while !done.load(ordering: .relaxed), ContinuousClock.now < deadline {
                let asked = ContinuousClock.now
                let health = try? await api.send(.GET, "node1", "/api/v1/health", authorization: "")
                #expect(health?.status == 200, "health during the flood")
                slowest = max(slowest, ContinuousClock.now - asked)
                try? await Task.sleep(for: .milliseconds(50))
            }
            let answers = await statuses.value
            try await flood.shutdown()
            let counts = Dictionary(grouping: answers, by: { $0 }).mapValues(\.count)
            #expect(slowest < .seconds(1), "health took up to \(slowest) during the flood")
            #expect((counts[401] ?? 0) <= 12, "only the failure budget is checked: \(counts)")
            #expect((counts[401] ?? 0) + (counts[429] ?? 0) == 500, "every guess is refused, as 401 or 429: \(counts)")
            #expect(try await api.send(.GET, "node1", "/api/v1/health", authorization: "").status == 200)
        }
    }
}

/// The resident memory of a process, in KiB.
private func residentKiB(_ pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { throw LocalProcessError("no VmRSS for \(pid)") }
    return kib
}

/// How many files a process has open.
private func openDescriptors(_ pid: Int32) throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
}

/// A TCP connection from a loopback `source` address that sends only what a test tells it to,
/// and reads only when told (`receiveBuffer` shrinks the kernel's buffer for what it does not read).
private struct RawConnection {
    let descriptor: Int32

    init(from source: String, to port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LocalProcessError("socket: errno \(errno)") }
        if var size = receiveBuffer { setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        func address(_ host: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            _ = inet_pton(AF_INET, host, &address.sin_addr)
            return address
        }
        func call(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32, _ address: sockaddr_in) -> Int32 {
            withUnsafePointer(to: address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        let descriptor = descriptor
        guard call({ bind(descriptor, $0, $1) }, address(source, 0)) == 0, call({ connect(descriptor, $0, $1) }, address("127.0.0.1", port)) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw LocalProcessError("connect from \(source): errno \(code)")
        }
    }

    /// Whether the other end closed it (end of stream or reset), without waiting.
    var isClosedByPeer: Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw LocalProcessError("send: errno \(errno)") }
    }

    /// What has arrived so far (up to `limit` bytes), left unread.
    func peek(limit: Int = 512) -> String {
        var bytes = [UInt8](repeating: 0, count: limit)
        let count = recv(descriptor, &bytes, limit, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
    }

    /// Reads until the other end closes, or nothing arrives for `quiet`; the bytes read, and
    /// whether it was closed.
    func drain(quiet seconds: Int) -> (bytes: Int, closed: Bool) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 { total += count; continue }
            return (total, count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        }
    }

    func close() { Glibc.close(descriptor) }
}
