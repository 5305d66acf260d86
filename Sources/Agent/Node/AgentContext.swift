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
    public let internalAuth: InternalAuth
    public let logger: Logger
    /// Largest accepted upload (bytes).
    public var maxUploadBytes: Int64 = 1 << 40
}
