import Logging
import Synchronization
import ServiceLifecycle

/// Scrub (DESIGN.md §9): re-reads and re-hashes stored chunks at `scrub_rate`, least recently
/// verified first, covering the whole store once per `scrub_period`. A bad copy is deleted and
/// counted; the convergence loop then refills it from a good replica.
struct ScrubService: Service {
    let agent: AgentContext
    let throttle: Throttle
    let period: Duration
    let counters: ScrubCounters

    func run() async {
        await runPeriodically("scrub pass", logger: agent.logger, retryAfter: .seconds(60)) {
            let started = ContinuousClock.now
            try await pass()
            return max(period - (ContinuousClock.now - started), .seconds(1))
        }
    }

    /// Verifies every chunk once (oldest verification first).
    func pass() async throws {
        let chunks = try await agent.local.metadata.chunksToScrub(limit: .max)
        for chunk in chunks {
            try Task.checkCancellation()
            try await throttle.take(Int(chunk.size))
            if try await agent.local.verifyOrDrop(chunk.id, logger: agent.logger) {
                counters.verified()
            } else {
                counters.bad()
            }
        }
    }
}

/// What scrub has found since the agent started.
final class ScrubCounters: Sendable {
    private let state = Mutex((verified: 0, bad: 0))
    func verified() { state.withLock { $0.verified += 1 } }
    func bad() { state.withLock { $0.bad += 1 } }
    var current: (verified: Int, bad: Int) { state.withLock { $0 } }
}
