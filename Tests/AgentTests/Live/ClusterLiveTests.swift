import PublicAPI
import AsyncHTTPClient
import Basics
import Crypto
import DevCluster
import Ring
import S3
@testable import Agent
import Foundation
import NIOCore
import Testing
import LocalProcesses

/// Real agent processes on loopback (DESIGN.md §§6-8, 10): upload anywhere, read anywhere.
@Suite("live cluster", .serialized)
struct ClusterLiveTests {
    static let mib = 1 << 20

    /// The file sizes the issue names, with a 1 MiB chunk size.
    static let sizes: [(name: String, size: Int)] = [
        ("empty", 0), ("one-byte", 1), ("inline-max", inlineMax), ("inline-max-plus-one", inlineMax + 1), ("one-chunk", mib), ("chunk-plus-one", mib + 1),
        ("fifty-mib", 50 * mib),
    ]
    /// The agents' default `cluster.inline_max`: files up to it have no chunks.
    static let inlineMax = Int(ClusterConfiguration.defaultInlineMax.bytes)

    @Test func uploadAnywhereReadAnywhere() async throws {
        try await LiveCluster.run { cluster, api in
            for (index, file) in Self.sizes.enumerated() {
                let bytes = randomBytes(file.size, seed: UInt64(index))
                let put = try await api.upload("node1", "raw/\(file.name).bin", bytes)
                try #require(put.status == 201, "PUT \(file.name): \(put.status) \(put.text)")
                #expect(try put.decode(FileInfo.self).sha256 == SHA256.hash(data: bytes).hexString)

                let form = Self.multipart(name: "\(file.name).bin", path: "form/\(file.name).bin", bytes: bytes)
                let post = try await api.send(.POST, "node1", "/api/v1/files", body: ByteBuffer(bytes: form.body), headers: [("Content-Type", form.contentType)])
                try #require(post.status == 201, "POST \(file.name): \(post.status) \(post.text)")

                for node in ["node2", "node3"] {
                    for path in ["raw/\(file.name).bin", "form/\(file.name).bin"] {
                        let got = try await api.download(node, path)
                        #expect(got.status == 200 && got.bytes == bytes, "\(path) from \(node): \(got.status), \(got.body.readableBytes) bytes")
                    }
                }
                let chunks = try await api.meta("raw/\(file.name).bin", from: "node3").chunks
                #expect(chunks.count == (file.size <= Self.inlineMax ? 0 : (file.size + Self.mib - 1) / Self.mib))
                for chunk in chunks {
                    #expect(Set(chunk.replicas).count >= 2, "chunk \(chunk.index) of \(file.name) is on \(chunk.replicas)")
                }
            }

            // Ranges across chunk boundaries, open-ended and suffix ranges.
            let big = randomBytes(50 * Self.mib, seed: UInt64(Self.sizes.firstIndex { $0.name == "fifty-mib" }!))
            for (header, range) in [
                ("bytes=0-0", 0...0), ("bytes=1048570-1048585", 1_048_570...1_048_585), ("bytes=3000000-7000000", 3_000_000...7_000_000),
                ("bytes=52428000-", 52_428_000...(50 * Self.mib - 1)), ("bytes=-100", (50 * Self.mib - 100)...(50 * Self.mib - 1)),
            ] {
                let reply = try await api.send(.GET, "node2", "/api/v1/files/raw/fifty-mib.bin", headers: [("Range", header)])
                #expect(reply.status == 206 && reply.bytes == Array(big[range]), "\(header): \(reply.status)")
                #expect(reply.headers.first(name: "Content-Range") == "bytes \(range.lowerBound)-\(range.upperBound)/\(50 * Self.mib)")
            }
            // The same over a file kept inline in its manifest.
            let small = randomBytes(Self.inlineMax, seed: UInt64(Self.sizes.firstIndex { $0.name == "inline-max" }!))
            for (header, range) in [("bytes=0-0", 0...0), ("bytes=100-4195", 100...4195), ("bytes=-10", (Self.inlineMax - 10)...(Self.inlineMax - 1))] {
                let reply = try await api.send(.GET, "node3", "/api/v1/files/raw/inline-max.bin", headers: [("Range", header)])
                #expect(reply.status == 206 && reply.bytes == Array(small[range]), "inline \(header): \(reply.status)")
            }
            let beyond = try await api.send(.GET, "node2", "/api/v1/files/raw/fifty-mib.bin", headers: [("Range", "bytes=60000000-")])
            #expect(beyond.status == 416)
            let etag = try await api.send(.HEAD, "node3", "/api/v1/files/raw/fifty-mib.bin").headers.first(name: "ETag") ?? ""
            let cached = try await api.send(.GET, "node3", "/api/v1/files/raw/fifty-mib.bin", headers: [("If-None-Match", etag)])
            #expect(cached.status == 304 && cached.body.readableBytes == 0)

            // Listing: scatter-gather over every shard, with a cursor.
            let first = try await api.send(.GET, "node2", "/api/v1/files?prefix=raw/&limit=3").decode(FileListing.self)
            let firstPaths = first.files.map(\.path)
            #expect(firstPaths == ["raw/chunk-plus-one.bin", "raw/empty.bin", "raw/fifty-mib.bin"])
            let cursor = try #require(first.next)
            let lastPage = try await api.send(.GET, "node3", "/api/v1/files?prefix=raw/&limit=4&after=\(cursor)")
            let second = try lastPage.decode(FileListing.self)
            #expect(second.files.map(\.path) == ["raw/inline-max-plus-one.bin", "raw/inline-max.bin", "raw/one-byte.bin", "raw/one-chunk.bin"])
            #expect(second.next == nil && lastPage.text.contains("\"next\":null"), "the last page says next: null: \(lastPage.text)")
        }
    }

    @Test func identicalContentIsStoredOnce() async throws {
        try await LiveCluster.run { cluster, api in
            let bytes = randomBytes(50 * Self.mib, seed: 99)
            try #require(try await api.upload("node1", "a.bin", bytes).status == 201)
            let stored = try await settledChunkBytes(cluster, expected: Int64(2 * bytes.count))
            #expect(stored == Int64(2 * bytes.count), "two copies of every chunk: \(stored)")
            // The same bytes again, under another path, through another node, and by another user.
            try #require(try await api.upload("node2", "copy/b.bin", bytes).status == 201)
            let created = try await api.send(.POST, "node1", "/api/v1/users", body: ByteBuffer(string: #"{"name":"bob","password":"bob-password-1"}"#))
            try #require(created.status == 201, "\(created.text)")
            try #require(try await api.upload("node3", "mine.bin", bytes, authorization: API.basic("bob", "bob-password-1")).status == 201)
            let again = try await settledChunkBytes(cluster, expected: stored)
            #expect(again == stored, "no new copies for the same bytes: \(again)\n\(again == stored ? "" : cluster.logs())")
        }
    }

    @Test func badInputIsRefusedAndStoresNothing() async throws {
        try await LiveCluster.run { cluster, api in
            let bytes = randomBytes(300_000, seed: 7)
            func refused(_ reply: API.Reply, _ status: Int, _ what: String) {
                #expect(reply.status == status, "\(what): \(reply.status) \(reply.text)")
                #expect(reply.errorCode != nil, "\(what) answers the JSON error shape: \(reply.text)")
            }
            let wrongSum = try await api.send(.PUT, "node1", "/api/v1/files/sum.bin", body: ByteBuffer(bytes: bytes), headers: [("X-Checksum-SHA256", String(repeating: "0", count: 64))])
            refused(wrongSum, 422, "wrong checksum")
            let wrongDigest = try await api.send(.PUT, "node1", "/api/v1/files/sum.bin", body: ByteBuffer(bytes: bytes), headers: [("Repr-Digest", "sha-256=:\(Data(repeating: 1, count: 32).base64EncodedString()):")])
            refused(wrongDigest, 422, "wrong Repr-Digest")
            let rightDigest = try await api.send(.PUT, "node1", "/api/v1/files/ok.bin", body: ByteBuffer(bytes: bytes), headers: [("Repr-Digest", "sha-256=:\(Data(SHA256.hash(data: bytes)).base64EncodedString()):")])
            #expect(rightDigest.status == 201)
            for path in ["..%2Fetc%2Fpasswd", "a/../b", "a/%2E%2E/b", "a//b", "a/", "%2Fabs", "a%00b", "a/./b"] {
                refused(try await api.send(.PUT, "node1", "/api/v1/files/\(path)", body: ByteBuffer(string: "x")), 400, "path \(path)")
            }
            // A malformed escape cannot go through an HTTP client that re-encodes it: send it raw.
            let rawStatus = try await Self.rawRequest(port: try #require(cluster.node("node1")).httpPort, "PUT /api/v1/files/bad%zzescape HTTP/1.1\r\nHost: x\r\nAuthorization: \(API.admin)\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
            #expect(rawStatus.hasPrefix("HTTP/1.1 400"), "bad escape: \(rawStatus)")
            refused(try await api.upload("node1", "x.bin", bytes, authorization: ""), 401, "no credentials")
            refused(try await api.upload("node1", "x.bin", bytes, authorization: API.basic("admin", "wrong-password")), 401, "wrong password")
            refused(try await api.upload("node1", "x.bin", bytes, authorization: "Bearer fst_not-a-token"), 401, "unknown token")
            refused(try await api.send(.GET, "node2", "/api/v1/files", authorization: ""), 401, "listing without credentials")

            // Another user's files: not readable, not listed, not reachable through ?owner=.
            try #require(try await api.send(.POST, "node1", "/api/v1/users", body: ByteBuffer(string: #"{"name":"eve","password":"eve-password-1"}"#)).status == 201)
            let eve = API.basic("eve", "eve-password-1")
            refused(try await api.download("node2", "ok.bin", authorization: eve), 404, "another user's file")
            refused(try await api.send(.GET, "node3", "/api/v1/files/ok.bin?owner=admin", authorization: eve), 403, "another namespace")
            let listing = try await api.send(.GET, "node3", "/api/v1/files", authorization: eve).decode(FileListing.self)
            #expect(listing.files.isEmpty)
            refused(try await api.send(.POST, "node2", "/api/v1/users", body: ByteBuffer(string: #"{"name":"mallory","password":"password-123"}"#), authorization: eve), 403, "user creating users")

            // Tokens made on one node work on every node.
            let token = try await api.send(.POST, "node1", "/api/v1/auth/tokens", authorization: eve).decode(TokenGrant.self).token
            let viaToken = try await api.upload("node3", "eve.txt", Array("hi".utf8), authorization: "Bearer \(token)")
            let tokenOwner = try viaToken.decode(FileInfo.self).owner
            #expect(viaToken.status == 201 && tokenOwner == "eve")

            // The internal API refuses anything without the cluster signature, public credentials included.
            refused(try await api.send(.GET, "node1", "/internal/v1/global"), 401, "internal API with admin credentials")
            refused(try await api.send(.PUT, "node1", "/internal/v1/chunks/\(SHA256.hash(data: bytes).hexString)", body: ByteBuffer(bytes: bytes), authorization: ""), 401, "internal chunk PUT")

            // Truncated uploads: the connection closes before Content-Length bytes arrived.
            try await Self.sendTruncated(port: try #require(cluster.node("node1")).httpPort, path: "/api/v1/files/cut.bin", announce: 1_000_000, send: 400_000)
            let form = Self.multipart(name: "cut.bin", path: "cut-form.bin", bytes: bytes)
            let cutForm = try await api.send(.POST, "node1", "/api/v1/files", body: ByteBuffer(bytes: form.body.dropLast(40)), headers: [("Content-Type", form.contentType)])
            refused(cutForm, 400, "multipart without its closing boundary")
            let noFile = try await api.send(.POST, "node1", "/api/v1/files", body: ByteBuffer(string: "--b\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nx\r\n--b--\r\n"), headers: [("Content-Type", "multipart/form-data; boundary=b")])
            refused(noFile, 400, "form without a file part")
            let hugeHeaders = "--b\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: " + String(repeating: "p", count: 20_000) + "\r\n\r\nx\r\n--b--\r\n"
            refused(try await api.send(.POST, "node1", "/api/v1/files", body: ByteBuffer(string: hugeHeaders), headers: [("Content-Type", "multipart/form-data; boundary=b")]), 400, "oversized part headers")
            refused(try await api.send(.POST, "node1", "/api/v1/files", body: ByteBuffer(string: "x"), headers: [("Content-Type", "text/plain")]), 400, "not multipart")

            for path in ["sum.bin", "x.bin", "cut.bin", "cut-form.bin"] {
                #expect(try await api.download("node2", path).status == 404, "\(path) must not exist")
            }
            let all = try await api.send(.GET, "node2", "/api/v1/files").decode(FileListing.self)
            #expect(all.files.map(\.path) == ["ok.bin"])
            // Every agent is still up.
            for node in cluster.nodes { #expect(try await api.send(.GET, node.id, "/api/v1/health", authorization: "").status == 200) }
        }
    }

    @Test func survivesAKilledNode() async throws {
        try await LiveCluster.run { cluster, api in
            var files: [String: [UInt8]] = [:]
            for index in 0..<6 {
                let bytes = randomBytes(Self.mib * index + 777, seed: UInt64(100 + index))
                try #require(try await api.upload("node\(index % 3 + 1)", "before/\(index).bin", bytes).status == 201)
                files["before/\(index).bin"] = bytes
            }
            let killed = ContinuousClock.now
            await cluster.kill("node3")

            // Reads keep working from both survivors at once, before anyone has noticed.
            for (path, bytes) in files {
                for node in ["node1", "node2"] {
                    let got = try await api.download(node, path)
                    #expect(got.status == 200 && got.bytes == bytes, "\(path) from \(node) after the kill: \(got.status)")
                }
            }
            // Uploads still get two copies, on the two live nodes, with hints for the dead owner.
            let fresh = randomBytes(8 * Self.mib + 3, seed: 5)
            let put = try await api.upload("node1", "after/fresh.bin", fresh)
            try #require(put.status == 201, "upload with a node down: \(put.status) \(put.text)")
            for chunk in try await api.meta("after/fresh.bin", from: "node2").chunks {
                #expect(Set(chunk.replicas) == ["node1", "node2"])
            }
            #expect(try await api.download("node2", "after/fresh.bin").bytes == fresh)

            // Gossip marks it dead (DESIGN.md §5: p99 ≤ 8 s at N=3).
            try await pollUntil("both survivors see node3 dead", timeout: .seconds(20), interval: .milliseconds(100)) {
                let one = try await api.statuses(from: "node1")["node3"], two = try await api.statuses(from: "node2")["node3"]
                return one == "dead" && two == "dead" ? nil : "node1 sees \(one ?? "?"), node2 sees \(two ?? "?")"
            }
            let detection = ContinuousClock.now - killed
            print("live: node3 seen dead by both survivors \(detection) after kill -9")
            #expect(detection <= .seconds(8), "DESIGN.md §5: a crash is detected within 8 s at N=3")
            var hints = 0
            for node in ["node1", "node2"] {
                hints += try await api.health(from: node).hintsPending
            }
            #expect(hints > 0, "copies meant for node3 are recorded as hints")
        }
    }

    @Test func s3StorageOnMoto() async throws {
        try await LiveCluster.run(storage: .s3) { cluster, api in
            for (index, size) in [0, 1, Self.mib + 1, 6 * Self.mib].enumerated() {
                let bytes = randomBytes(size, seed: UInt64(200 + index))
                let put = try await api.upload("node2", "s3/\(index).bin", bytes)
                try #require(put.status == 201, "\(put.status) \(put.text)")
                for node in ["node1", "node3"] { #expect(try await api.download(node, "s3/\(index).bin").bytes == bytes) }
                for chunk in try await api.meta("s3/\(index).bin").chunks { #expect(Set(chunk.replicas).count == 2) }
            }
        }
    }

    // MARK: Helpers

    static func multipart(name: String, path: String, bytes: [UInt8]) -> (contentType: String, body: [UInt8]) {
        let boundary = "----filestore-test-\(bytes.count)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n\(path)\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += bytes + Array("\r\n--\(boundary)--\r\n".utf8)
        return ("multipart/form-data; boundary=\(boundary)", body)
    }

    /// Sends raw request bytes and returns the response's status line.
    static func rawRequest(port: Int, _ request: String) async throws -> String {
        try await Executables.offload {
            let fd = try connectLoopback(port)
            defer { close(fd) }
            // An agent that never answers fails the test in 10 s instead of hanging it.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let bytes = Array(request.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            var response = [UInt8](repeating: 0, count: 4096)
            let count = response.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return String(decoding: response.prefix(max(0, count)), as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
        }
    }

    static func connectLoopback(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else {
            close(fd)
            throw LocalProcessError("cannot connect to \(port)")
        }
        return fd
    }

    /// Announces `announce` bytes, sends `send`, then closes the connection.
    static func sendTruncated(port: Int, path: String, announce: Int, send: Int) async throws {
        try await Executables.offload {
            let fd = try connectLoopback(port)
            defer { close(fd) }
            let head = "PUT \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(API.admin)\r\nContent-Length: \(announce)\r\n\r\n"
            let bytes = Array(head.utf8) + randomBytes(send, seed: 1)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
                guard written > 0 else { break }
                offset += written
            }
            usleep(300_000)  // let the agent start streaming before the connection drops
        }
    }
}

extension SHA256.Digest {
    var hexString: String { Hex.encode(self) }
}

/// Users, tokens and the HTTP edges: changes reach every node, unknown routes and huge headers
/// get clean answers, and a stopping agent finishes the upload it is in the middle of.
@Suite("live cluster: accounts and edges", .serialized)
struct AccountsAndEdgesLiveTests {
    @Test func accountChangesReachEveryNode() async throws {
        try await LiveCluster.run { cluster, api in
            let created = try await api.send(.POST, "node1", "/api/v1/users", body: ByteBuffer(string: #"{"name":"carol","password":"carol-password-1","role":"user"}"#))
            try #require(created.status == 201, "\(created.text)")
            #expect(try await api.send(.POST, "node2", "/api/v1/users", body: ByteBuffer(string: #"{"name":"carol","password":"another-password"}"#)).status == 409)
            #expect(try await api.send(.POST, "node2", "/api/v1/users", body: ByteBuffer(string: #"{"name":"Bad Name!","password":"whatever-123"}"#)).status == 400)
            #expect(try await api.send(.POST, "node2", "/api/v1/users", body: ByteBuffer(string: #"{"name":"dan","password":"short"}"#)).status == 400)
            #expect(try await api.send(.POST, "node2", "/api/v1/users", body: ByteBuffer(string: "{not json")).status == 400)
            let carol = API.basic("carol", "carol-password-1")
            // A ring plan makes every node list its whole chunk index: admins only.
            #expect(try await api.send(.GET, "node1", "/api/v1/ring/plan?add=node9", authorization: carol).status == 403)
            for node in ["node1", "node2", "node3"] { #expect(try await api.upload(node, "c-\(node).txt", Array("c".utf8), authorization: carol).status == 201) }
            // An admin reaches carol's namespace by her name, and sees her name as the owner.
            let carolsFiles = try await api.send(.GET, "node2", "/api/v1/files?owner=carol").decode(FileListing.self).files
            #expect(carolsFiles.map(\.path).sorted() == ["c-node1.txt", "c-node2.txt", "c-node3.txt"] && carolsFiles.allSatisfy { $0.owner == "carol" })
            #expect(try await api.send(.GET, "node2", "/api/v1/files?owner=nobody").status == 404)
            let users = try await api.send(.GET, "node3", "/api/v1/users").decode(UserList.self).users
            #expect(Set(users.map(\.name)) == ["admin", "carol"])

            // Carol changes her own password on node2 (giving the current one); the old one stops working on node3.
            let carolToken = try await api.send(.POST, "node1", "/api/v1/auth/tokens", authorization: carol).decode(TokenGrant.self).token
            #expect(try await api.send(.PATCH, "node2", "/api/v1/users/carol", body: ByteBuffer(string: #"{"password":"carol-password-2"}"#), authorization: carol).status == 403)
            #expect(try await api.send(.PATCH, "node2", "/api/v1/users/carol", body: ByteBuffer(string: #"{"password":"carol-password-2","current_password":"wrong-one-123"}"#), authorization: carol).status == 403)
            let changed = try await api.send(.PATCH, "node2", "/api/v1/users/carol", body: ByteBuffer(string: #"{"password":"carol-password-2","current_password":"carol-password-1"}"#), authorization: carol)
            try #require(changed.status == 200, "\(changed.text)")
            #expect(try await api.send(.GET, "node3", "/api/v1/files", authorization: carol).status == 401)
            // ...and so do the tokens she held before the change.
            try await pollUntil("the password change revokes carol's earlier token everywhere", timeout: .seconds(10)) {
                let status = try await api.send(.GET, "node3", "/api/v1/files", authorization: "Bearer \(carolToken)").status
                return status == 401 ? nil : "HTTP \(status)"
            }
            let carol2 = API.basic("carol", "carol-password-2")
            #expect(try await api.send(.GET, "node3", "/api/v1/files", authorization: carol2).status == 200)
            #expect(try await api.send(.PATCH, "node2", "/api/v1/users/carol", body: ByteBuffer(string: #"{"role":"admin"}"#), authorization: carol2).status == 403)
            #expect(try await api.send(.PATCH, "node2", "/api/v1/users/admin", body: ByteBuffer(string: #"{"password":"hijacked-123"}"#), authorization: carol2).status == 403)

            // Deleting her revokes her tokens too (they name a user that no longer exists).
            let token = try await api.send(.POST, "node1", "/api/v1/auth/tokens", authorization: carol2).decode(TokenGrant.self).token
            #expect(try await api.send(.GET, "node2", "/api/v1/files", authorization: "Bearer \(token)").status == 200)
            // Path parameters are percent-decoded: %63arol is carol.
            #expect(try await api.send(.DELETE, "node3", "/api/v1/users/%63arol").status == 204)
            #expect(try await api.send(.GET, "node2", "/api/v1/files", authorization: "Bearer \(token)").status == 401)
            #expect(try await api.send(.GET, "node1", "/api/v1/files", authorization: carol2).status == 401)
            #expect(try await api.send(.DELETE, "node3", "/api/v1/users/carol").status == 404)
            // Created again under the same name, carol is another user: the old token stays refused.
            let recreated = try await api.send(.POST, "node1", "/api/v1/users", body: ByteBuffer(string: #"{"name":"carol","password":"carol-password-2"}"#))
            try #require(recreated.status == 201, "\(recreated.text)")
            #expect(try await api.send(.GET, "node2", "/api/v1/files", authorization: carol2).status == 200)
            #expect(try await api.send(.GET, "node2", "/api/v1/files", authorization: "Bearer \(token)").status == 401)
            // ...and inherits nothing: the old carol's files are neither listed nor readable, by her or through ?owner=.
            #expect(try await api.send(.GET, "node2", "/api/v1/files", authorization: carol2).decode(FileListing.self).files.isEmpty)
            #expect(try await api.send(.GET, "node3", "/api/v1/files/c-node1.txt", authorization: carol2).status == 404)
            #expect(try await api.send(.GET, "node1", "/api/v1/files?owner=carol").decode(FileListing.self).files.isEmpty)
            #expect(try await api.send(.DELETE, "node3", "/api/v1/users/admin").status == 409)
        }
    }

    @Test func edgesAnswerCleanly() async throws {
        try await LiveCluster.run { cluster, api in
            let unknown = try await api.send(.GET, "node1", "/api/v1/nothing-here")
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
            let emptyPath = try await api.send(.GET, "node1", "/api/v1/files/")
            #expect(emptyPath.status == 400 && emptyPath.errorCode == "invalid_path", "a trailing slash names an empty path, it does not list: \(emptyPath.text)")
            let port = try #require(cluster.node("node1")).httpPort
            let huge = try await ClusterLiveTests.rawRequest(port: port, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Huge: \(String(repeating: "h", count: 200_000))\r\nConnection: close\r\n\r\n")
            #expect(!huge.hasPrefix("HTTP/1.1 2"), "oversized headers are refused: \(huge)")
            // Expect: 100-continue gets its interim answer before any body byte is sent (curl waits 1 s otherwise).
            let interim = try await ClusterLiveTests.rawRequest(port: port, "PUT /api/v1/files/e.bin HTTP/1.1\r\nHost: x\r\nAuthorization: \(API.admin)\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
            #expect(interim == "HTTP/1.1 100 Continue")
            // A declared length past every limit (it used to overflow the traffic counters and kill
            // the agent on the second request): refused or ignored, never a crash.
            for _ in 0..<3 {
                _ = try? await ClusterLiveTests.rawRequest(port: port, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\nConnection: close\r\n\r\n")
                _ = try? await ClusterLiveTests.rawRequest(port: port, "PUT /api/v1/files/o.bin HTTP/1.1\r\nHost: x\r\nAuthorization: \(API.admin)\r\nContent-Length: 9223372036854775807\r\nConnection: close\r\n\r\n")
            }
            #expect(try await api.send(.GET, "node1", "/api/v1/health", authorization: "").status == 200, "the agent survives huge declared lengths")
            let garbage = try await ClusterLiveTests.rawRequest(port: port, "THIS IS NOT HTTP\r\n\r\n")
            #expect(!garbage.hasPrefix("HTTP/1.1 2"), "garbage is refused: \(garbage)")
            let bytes = randomBytes(2_500_000, seed: 3)
            try #require(try await api.upload("node1", "h.bin", bytes).status == 201)
            let head = try await api.send(.HEAD, "node2", "/api/v1/files/h.bin")
            #expect(head.status == 200 && head.body.readableBytes == 0 && head.headers.first(name: "Content-Length") == "2500000")
            #expect(head.headers.first(name: "X-Checksum-SHA256") == SHA256.hash(data: bytes).hexString)
            #expect(head.headers.first(name: "Accept-Ranges") == "bytes" && head.headers.first(name: "Repr-Digest")?.hasPrefix("sha-256=:") == true)
            // Overwriting writes a newer version; every node then serves the new bytes.
            let newer = randomBytes(1_000_000, seed: 4)
            try #require(try await api.upload("node3", "h.bin", newer).status == 201)
            for node in ["node1", "node2", "node3"] { #expect(try await api.download(node, "h.bin").bytes == newer) }
            #expect(try await api.send(.DELETE, "node2", "/api/v1/files/h.bin").status == 204)
            #expect(try await api.send(.DELETE, "node3", "/api/v1/files/h.bin").status == 404)
            #expect(try await api.download("node1", "h.bin").status == 404)
            // Every agent survived all of it.
            for node in cluster.nodes { #expect(try await api.send(.GET, node.id, "/api/v1/health", authorization: "").status == 200) }
        }
    }

    @Test func aStoppingAgentFinishesTheUploadInFlight() async throws {
        try await LiveCluster.run { cluster, api in
            let size = 12 << 20
            let bytes = randomBytes(size, seed: 21)
            let pid = try #require(cluster.pid("node1"))
            // Send the body slowly (about 2 s) and stop the agent gracefully in the middle of it.
            let slow = AsyncStream<ByteBuffer> { continuation in
                Task {
                    for offset in stride(from: 0, to: size, by: 256 << 10) {
                        continuation.yield(ByteBuffer(bytes: bytes[offset..<min(size, offset + (256 << 10))]))
                        try? await Task.sleep(for: .milliseconds(40))
                        if offset == 4 << 20 { kill(pid, SIGTERM) }
                    }
                    continuation.finish()
                }
            }
            var request = HTTPClientRequest(url: try #require(cluster.node("node1")).url + "/api/v1/files/slow.bin")
            request.method = .PUT
            request.headers.add(name: "Authorization", value: API.admin)
            request.body = .stream(slow, length: .known(Int64(size)))
            let response = try await api.http.execute(request, timeout: .seconds(60))
            let answer = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status.code == 201, "the upload in flight finished: \(response.status) \(answer)")
            try await pollUntil("node1 has exited", timeout: .seconds(15)) { kill(pid, 0) == 0 ? "still running" : nil }
            #expect(try await api.download("node2", "slow.bin").bytes == bytes)
        }
    }
}

/// Read repair (DESIGN.md §7): an owner that missed a write gets the manifest when it is read.
@Suite("live cluster: read repair", .serialized)
struct ReadRepairLiveTests {
    @Test func aReadRepairsAnOwnerThatMissedTheWrite() async throws {
        try await LiveCluster.run { cluster, api in
            // A path whose manifest node3 owns (the admin's files are keyed by its id).
            let admin = UserRecord.namespaceKey(id: UserRecord.bootstrapAdminID, name: "admin")
            let ring = try Ring(members: cluster.nodes.map { Ring.Member(id: NodeID($0.id)!) })
            let path = try #require((0..<200).map { "repair/\($0).bin" }.first { ring.owners(of: .manifest(owner: admin, path: $0), replication: 2).contains("node3") })
            await cluster.kill("node3")
            let bytes = randomBytes(1_500_000, seed: 8)
            try #require(try await api.upload("node1", path, bytes).status == 201)
            try await cluster.restart("node3")
            try await api.waitUntilAllAlive()

            func node3Copy() async throws -> Manifest? {
                try await api.internalCall(ManifestCalls.Get(FileKey(owner: admin, path: path)), on: "node3")
            }
            #expect(try await node3Copy() == nil, "node3 was down during the write")
            #expect(try await api.download("node2", path).bytes == bytes)
            try await pollUntil("node3 holds the manifest after the read", timeout: .seconds(10)) {
                let copy = try await node3Copy()
                return copy?.path == path ? nil : "\(String(describing: copy))"
            }
        }
    }
}
