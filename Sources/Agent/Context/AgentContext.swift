import Basics
import Logging
import Ring

/// Everything a request handler or background service of one agent needs, built once at start.
public struct AgentContext: Sendable {
    public let selfID: NodeID
    public let cluster: ClusterConfiguration
    public let view: ClusterView
    public let local: LocalStore
    public let calls: NodeCalls
    public let writer: WriteCoordinator
    public let reader: ReadCoordinator
    public let accounts: Accounts
    public let accessKeys: AccessKeys
    public let internalAuth: InternalAuth
    public let logger: Logger
    public let metrics: AgentMetrics
    /// Largest accepted upload (bytes): the configured limit, or what the largest manifest can
    /// describe at this cluster's chunk size, whichever is smaller.
    public var maxUploadBytes: Int64 {
        get { min(configuredMaxUploadBytes, Int64(Manifest.maxChunks) * Int64(writer.chunkSize)) }
        set { configuredMaxUploadBytes = newValue }
    }
    var configuredMaxUploadBytes: Int64 = 1 << 40
    /// The public listener speaks TLS: the session cookie is `Secure` and HSTS is sent.
    public var servesTLS = false
}

extension AgentContext {
    /// This node's answers to its peers' internal calls.
    public var peer: LocalPeer {
        LocalPeer(selfID: selfID, local: local, view: view, uploadsInFlight: { [uploads = writer.uploads] in uploads.chunksInFlight() }, logger: logger)
    }

    /// Stores global records (users, tokens, ring decisions) here, then pushes them to every
    /// other live node; the periodic global sync reaches any node the push missed.
    public func publish(_ records: GlobalRecords) async throws {
        try await local.metadata.merge(records)
        view.apply(records.ringStates)
        let snapshot = view.snapshot()
        await withTaskGroup(of: Void.self) { group in
            for node in snapshot.availableMembers where node != selfID {
                group.addTask {
                    do {
                        try await calls.pushGlobalRecords(records, to: node, snapshot)
                    } catch {
                        logger.warning("could not push a global record; global sync will retry", metadata: ["peer": "\(node)", "error": "\(error)"])
                    }
                }
            }
        }
    }
}
