import Basics
import Logging
import ServiceLifecycle

/// The repairs the read path asks for — putting the newest manifest back on owners that answered
/// with an older copy (read repair), and having a replica that served a bad chunk re-verify it —
/// run by one owner: `run()`, a ServiceLifecycle service that ends with graceful shutdown. Jobs
/// run one at a time; when `capacity` are waiting, new ones are dropped and counted (the
/// convergence loop repairs the same things on its next round, so nothing is lost but time).
public final class RepairQueue: Service, Sendable {
    public enum Job: Sendable {
        case manifest(Manifest, on: [NodeID], ClusterSnapshot)
        case reverify(ChunkID, on: NodeID, ClusterSnapshot)
    }

    private let jobs: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    let calls: NodeCalls
    let logger: Logger

    public init(calls: NodeCalls, logger: Logger, capacity: Int = 1024) {
        (jobs, continuation) = AsyncStream.makeStream(of: Job.self, bufferingPolicy: .bufferingOldest(capacity))
        self.calls = calls
        self.logger = logger
    }

    /// Queues a job; false when the queue was full and the job was dropped.
    @discardableResult
    public func submit(_ job: Job) -> Bool {
        if case .enqueued = continuation.yield(job) { return true }
        logger.debug("repair queue full: a read-path repair was dropped (convergence will do it)")
        return false
    }

    /// Carries out queued jobs until graceful shutdown (or cancellation). Call once.
    public func run() async {
        for await job in jobs.cancelOnGracefulShutdown() {
            await perform(job)
        }
    }

    /// Stops taking jobs; `run()` returns once the queued ones are done.
    public func finish() { continuation.finish() }

    private func perform(_ job: Job) async {
        switch job {
        case .manifest(let manifest, let nodes, let snapshot):
            for node in nodes {
                do {
                    try await calls.putManifest(manifest, on: node, hintFor: nil, snapshot)
                    logger.info("read repair: manifest copied", metadata: ["peer": "\(node)", "file": "\(manifest.key)"])
                } catch {
                    logger.warning("read repair failed", metadata: ["peer": "\(node)", "file": "\(manifest.key)", "error": "\(error)"])
                }
            }
        case .reverify(let id, let node, let snapshot):
            do {
                let good = node == calls.selfID ? try await calls.local.verifyOrDrop(id, logger: logger) : try await calls.verifyChunk(id, on: node, snapshot)
                logger.info("re-verified a chunk copy", metadata: ["peer": "\(node)", "chunk": "\(id)", "good": "\(good)"])
            } catch {
                logger.warning("could not have a chunk copy re-verified", metadata: ["peer": "\(node)", "chunk": "\(id)", "error": "\(error)"])
            }
        }
    }
}
