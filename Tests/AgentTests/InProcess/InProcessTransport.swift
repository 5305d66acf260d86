@testable import Agent
import Basics
import ByteStreams
import NIOCore
import Synchronization

/// The internal protocol between nodes of one process. Every call goes through the same
/// encoding and decoding as over HTTP (target and body written by the caller, parsed and served
/// by the receiver, the answer encoded and decoded), minus the sockets — and any node can be
/// told to misbehave.
final class InProcessTransport: NodeTransport {
    /// How a node answers its peers.
    enum Fault: Sendable, Equatable {
        /// Answers every call.
        case healthy
        /// Cannot be reached (a crashed process, a cut cable).
        case unreachable
        /// Answers every call with a 500 (a full disk, a broken store).
        case failing
        /// Takes this long, then cannot be reached (a frozen process, a timeout).
        case stalling(Duration)
        /// Answers a listing call as if it had no cursor (a buggy peer: always its first page).
        case ignoringListingCursor
    }

    private let peers = Mutex<[NodeID: LocalPeer]>([:])
    private let faults = Mutex<[NodeID: Fault]>([:])
    private let counts = Mutex<[String: Int]>([:])

    func register(_ peer: LocalPeer) { peers.withLock { $0[peer.selfID] = peer } }
    func set(_ fault: Fault, on node: NodeID) { faults.withLock { $0[node] = fault } }
    func fault(of node: NodeID) -> Fault { faults.withLock { $0[node] ?? .healthy } }
    /// Calls carried out so far, by route (`"PUT /internal/v1/chunks/:id"`).
    func calls(_ route: String) -> Int { counts.withLock { $0[route] ?? 0 } }

    func call<C: InternalCall>(_ call: C, on node: NodeID, _ snapshot: ClusterSnapshot) async throws(PeerError) -> C.Response {
        counts.withLock { $0["\(C.method.rawValue) \(C.route)", default: 0] += 1 }
        switch fault(of: node) {
        case .healthy: break
        case .ignoringListingCursor:
            if var list = call as? ManifestCalls.List, list.after != nil {
                list.after = nil
                return try await self.call(list, on: node, snapshot) as! C.Response
            }
        case .unreachable: throw PeerError(code: .unreachable, node: node, message: "injected: unreachable")
        case .failing:
            return try InternalExchange.answer(C.self, InternalExchange.failure(InjectedFailure()), from: node, target: call.target)
        case .stalling(let duration):
            try? await Task.sleep(for: duration)
            throw PeerError(code: .unreachable, node: node, message: "injected: timed out after \(duration)")
        }
        guard let peer = peers.withLock({ $0[node] }) else { throw PeerError(code: .unreachable, node: node, message: "no such node") }
        let answer: InternalResponse
        do {
            let wire = try InternalRequest(
                route: C.route, target: call.target, contentLength: call.body.map { Int64($0.readableBytes) },
                body: AnySendableByteSequence(OneBuffer(call.body))
            )
            answer = await InternalExchange.serve(C.self, wire, by: peer)
        } catch {
            answer = InternalExchange.failure(error)
        }
        return try InternalExchange.answer(C.self, answer, from: node, target: call.target)
    }

    struct InjectedFailure: Error, CustomStringConvertible {
        var description: String { "injected: storage failure" }
    }
}
