import Basics
import Synchronization

/// What downloads may hold of one node's memory at once (DESIGN.md §17). A download's body
/// streams after its request has been counted out of `max_requests_in_flight`, and a client
/// that never reads keeps its chunks in memory, so the chunk buffers of downloads are bounded
/// here, node-wide: at most `maxDownloads` download bodies stream at once (each holds the chunk
/// being sent and the one before it, which the socket may still be draining), and the chunks
/// fetched ahead of them all come from one pool of `readAheadChunks` slots. When the pool is
/// spent a download fetches only the chunk it sends next: slower, never stuck.
public final class DownloadBudget: Sendable {
    public let maxDownloads: Int
    public let readAheadChunks: Int
    private let downloads = Atomic<Int>(0)
    private let aheadInUse = Atomic<Int>(0)

    public init(maxDownloads: Int, readAheadChunks: Int) {
        self.maxDownloads = maxDownloads
        self.readAheadChunks = readAheadChunks
    }

    /// No bound (tools and tests that stream one file at a time).
    public static var unbounded: DownloadBudget { DownloadBudget(maxDownloads: .max, readAheadChunks: .max) }

    /// Download bodies streaming now, and read-ahead slots taken.
    public var downloadsInFlight: Int { downloads.load(ordering: .relaxed) }
    public var readAheadInUse: Int { aheadInUse.load(ordering: .relaxed) }

    /// A place for one more download body, or nil when `maxDownloads` are streaming.
    public func startDownload() -> Lease? {
        downloads.enter(limit: maxDownloads) ? Lease(budget: self, kind: .download) : nil
    }

    /// A slot for one chunk fetched ahead, or nil when the pool is spent.
    func takeReadAhead() -> Lease? {
        aheadInUse.enter(limit: readAheadChunks) ? Lease(budget: self, kind: .readAhead) : nil
    }

    /// One taken place or slot. It is given back once: by `release()`, or when the last
    /// reference goes (a response dropped before its body ran, a fetcher abandoned).
    public final class Lease: Sendable {
        enum Kind { case download, readAhead }
        private let budget: DownloadBudget
        private let kind: Kind
        private let held = Atomic<Bool>(true)

        fileprivate init(budget: DownloadBudget, kind: Kind) {
            self.budget = budget
            self.kind = kind
        }

        public func release() {
            guard held.exchange(false, ordering: .relaxed) else { return }
            switch kind {
            case .download: budget.downloads.wrappingSubtract(1, ordering: .relaxed)
            case .readAhead: budget.aheadInUse.wrappingSubtract(1, ordering: .relaxed)
            }
        }

        deinit { release() }
    }
}
