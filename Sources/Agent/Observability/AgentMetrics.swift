import Gossip
import GossipNIO
import Metrics
import Prometheus
import Synchronization

/// The agent's metrics (DESIGN.md §14), recorded through swift-metrics into a Prometheus
/// registry that `GET /metrics` renders. One per process: `bootstrap()` installs the factory
/// once (swift-metrics allows only one), so Hummingbird's request metrics land there too.
public final class AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let bytesIn = Metrics.Counter(label: "filestore_client_bytes_in_total")
    let bytesOut = Metrics.Counter(label: "filestore_client_bytes_out_total")
    let chunkPuts = Metrics.Counter(label: "filestore_chunk_puts_total")
    let chunkGets = Metrics.Counter(label: "filestore_chunk_gets_total")
    let dedupHits = Metrics.Counter(label: "filestore_chunk_dedup_hits_total")
    let verificationFailures = Metrics.Counter(label: "filestore_chunk_verification_failures_total")
    let repairBytesOwner = Metrics.Counter(label: "filestore_repair_bytes_total", dimensions: [("source", "owner")])
    let repairBytesStandIn = Metrics.Counter(label: "filestore_repair_bytes_total", dimensions: [("source", "stand_in")])
    let repairBacklogBytes = Metrics.Gauge(label: "filestore_repair_backlog_bytes")
    let underReplicated = Metrics.Gauge(label: "filestore_under_replicated_keys")
    let atRisk = Metrics.Gauge(label: "filestore_at_risk_keys")
    let hintsPending = Metrics.Gauge(label: "filestore_hints_pending")
    let storedChunks = Metrics.Gauge(label: "filestore_stored_chunks")
    let storedBytes = Metrics.Gauge(label: "filestore_stored_bytes")
    let gossipPacketsIn = Metrics.Gauge(label: "filestore_gossip_packets_in")
    let gossipPacketsOut = Metrics.Gauge(label: "filestore_gossip_packets_out")
    let gossipDropped = Metrics.Gauge(label: "filestore_gossip_packets_dropped")
    let downloadsInFlight = Metrics.Gauge(label: "filestore_downloads_in_flight")
    let readAheadChunks = Metrics.Gauge(label: "filestore_read_ahead_chunks")
    let members: [Gossip.Status: Metrics.Gauge] = Dictionary(
        uniqueKeysWithValues: [Gossip.Status.alive, .suspect, .dead, .left].map { ($0, Metrics.Gauge(label: "filestore_members", dimensions: [("status", "\($0)")])) }
    )

    private static let shared = Mutex<AgentMetrics?>(nil)

    /// The process's metrics, installing the Prometheus factory on first use.
    public static func bootstrap() -> AgentMetrics {
        shared.withLock { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let metrics = AgentMetrics(registry: registry)
            existing = metrics
            return metrics
        }
    }

    private init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Prometheus text exposition of everything recorded.
    public func render() -> String { registry.emitToString() }

    /// Membership counts and gossip counters, refreshed by the load reporter every second.
    /// Records this node's load report, the members by status and the gossip shell's counters.
    /// One S3 request: counted by operation and status, timed by operation.
    func recordS3(operation: String, status: Int, seconds: Double) {
        Metrics.Counter(label: "filestore_s3_requests_total", dimensions: [("operation", operation), ("status", String(status))]).increment()
        Metrics.Timer(label: "filestore_s3_request_duration_seconds", dimensions: [("operation", operation)]).recordNanoseconds(Int64(seconds * 1e9))
    }

    /// `downloads` and `readAhead`: download bodies streaming and read-ahead chunks held now.
    func record(load: Gossip.LoadReport, members list: [Gossip.Member], counters: Gossip.ShellCounters, downloads: Int, readAhead: Int) {
        downloadsInFlight.record(downloads)
        readAheadChunks.record(readAhead)
        repairBacklogBytes.record(Int64(load.repairBacklogBytes))
        underReplicated.record(Int64(load.underReplicated))
        atRisk.record(Int64(load.atRisk))
        hintsPending.record(Int64(load.hintsPending))
        storedChunks.record(Int64(load.chunkCount))
        storedBytes.record(Int64(load.storageUsedBytes))
        for (status, gauge) in members { gauge.record(list.filter { $0.status == status }.count) }
        gossipPacketsIn.record(counters.packetsIn)
        gossipPacketsOut.record(counters.packetsOut)
        gossipDropped.record(counters.droppedMalformed + counters.droppedOversized + counters.droppedReplayed + counters.droppedUnauthenticated)
    }
}
