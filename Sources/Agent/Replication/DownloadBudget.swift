import Basics
import Synchronization

/// What downloads may hold of one node's memory at once (DESIGN.md §17). A download's body
/// streams after its request has been counted out of `max_requests_in_flight`, and its client
/// sets the pace, so the chunk buffers of downloads are bounded here, node-wide: at most
/// `maxDownloads` download bodies stream at once, `maxPerClient` of them for one client address
/// (so one client cannot take every place), and the chunks fetched ahead of them all come from
/// one pool of `readAheadChunks` slots. When the pool is spent a download fetches only the
/// chunk it sends next: slower, never stuck.
public final class DownloadBudget: Sendable {
    public let maxDownloads: Int
    public let maxPerClient: Int
    public let readAheadChunks: Int
    private let downloads = Mutex(Places())
    private let aheadInUse = Atomic<Int>(0)

    private struct Places {
        var total = 0
        var byClient: [String: Int] = [:]
    }

    public init(maxDownloads: Int, maxPerClient: Int, readAheadChunks: Int) {
        self.maxDownloads = maxDownloads
        self.maxPerClient = maxPerClient
        self.readAheadChunks = readAheadChunks
    }

    /// No bound (tools and tests that stream one file at a time).
    public static var unbounded: DownloadBudget { DownloadBudget(maxDownloads: .max, maxPerClient: .max, readAheadChunks: .max) }

    /// Download bodies streaming now, and read-ahead slots taken.
    public var downloadsInFlight: Int { downloads.withLock { $0.total } }
    public var readAheadInUse: Int { aheadInUse.load(ordering: .relaxed) }

    /// Why a download could not start.
    public enum Refusal: Error, Sendable {
        case nodeFull(Int), clientFull(Int)
    }

    /// A place for one more download body from `client`.
    public func startDownload(for client: String) throws(Refusal) -> Lease {
        let refusal: Refusal? = downloads.withLock { places in
            guard places.total < maxDownloads else { return .nodeFull(maxDownloads) }
            let mine = places.byClient[client, default: 0]
            guard mine < maxPerClient else { return .clientFull(maxPerClient) }
            places.total += 1
            places.byClient[client] = mine + 1
            return nil
        }
        if let refusal { throw refusal }
        return Lease(budget: self, kind: .download(client))
    }

    /// A slot for one chunk fetched ahead, or nil when the pool is spent.
    func takeReadAhead() -> Lease? {
        aheadInUse.enter(limit: readAheadChunks) ? Lease(budget: self, kind: .readAhead) : nil
    }

    private func giveBack(_ kind: Lease.Kind) {
        switch kind {
        case .download(let client):
            downloads.withLock { places in
                places.total -= 1
                let left = places.byClient[client, default: 1] - 1
                places.byClient[client] = left > 0 ? left : nil
            }
        case .readAhead:
            aheadInUse.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// One taken place or slot. It is given back once: by `release()`, or when the last
    /// reference goes (a response dropped before its body ran).
    public final class Lease: Sendable {
        enum Kind { case download(String), readAhead }
        private let budget: DownloadBudget
        private let kind: Kind
        private let held = Atomic<Bool>(true)

        fileprivate init(budget: DownloadBudget, kind: Kind) {
            self.budget = budget
            self.kind = kind
        }

        public func release() {
            guard held.exchange(false, ordering: .relaxed) else { return }
            budget.giveBack(kind)
        }

        deinit { release() }
    }
}
