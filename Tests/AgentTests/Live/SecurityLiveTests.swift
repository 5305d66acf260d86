import Agent
import AsyncHTTPClient
import DevCluster
import Foundation
import NIOCore
import PublicAPI
import Testing
import TestSupport

/// Attacks from the network on a live agent (DESIGN.md §17): each must be refused with the agent
/// still up and nothing stored afterwards.
@Suite(.serialized) struct SecurityLiveTests {
    /// A man in the middle between two agents captures internal calls and their answers; replayed
    /// as they were, with another body, or answered for the agent, every one is refused.
    @Test func internalCallsCannotBeReplayedAlteredOrForged() async throws {
        try await LiveCluster.run(nodes: 1) { cluster, api in
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
}
