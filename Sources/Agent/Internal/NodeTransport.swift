import Basics
import NIOCore
import NIOHTTP1

/// How a coordinator reaches another node: the seam under `NodeCalls`. `HTTPTransport` is the
/// real one; the coordinator tests put an in-process one here, with faults to inject.
public protocol NodeTransport: Sendable {
    /// Carries `call` out on `node` (never this node: `NodeCalls` serves those locally).
    func call<C: InternalCall>(_ call: C, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> C.Response
}

/// The internal protocol over HTTP: each call signed and sent by the pooled `PeerClient`.
public struct HTTPTransport: NodeTransport {
    public let peers: PeerClient

    public init(peers: PeerClient) { self.peers = peers }

    public func call<C: InternalCall>(_ call: C, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> C.Response {
        guard let address = snapshot.peerAddress(node) else { throw PeerError(code: .unreachable, node: node, message: "no known address") }
        return try await self.call(call, on: node, address: address)
    }

    /// Carries `call` out on the agent at `address` (`host:port`), for tools that know addresses, not snapshots.
    public func call<C: InternalCall>(_ call: C, on node: NodeID, address: String) async throws(PeerError) -> C.Response {
        let target = call.target
        let headers = call.body == nil ? [] : [("Content-Type", C.bodyType)]
        let response = try await peers.call(
            HTTPMethod(rawValue: C.method.rawValue), node: node, address: address, target: target, body: call.body, bodyDigest: call.bodyDigest, contentAddressedAnswer: call.contentAddressedAnswer,
            headers: headers, maxResponseBytes: call.maxResponseBytes
        )
        return try InternalExchange.answer(C.self, InternalResponse(status: response.status, body: response.body), from: node, target: target)
    }
}
