import CSystemTuning
import Foundation
import NIOCore

/// Process-wide settings for an agent process, applied once at its start before anything else
/// runs (the blocking-pool size cannot change once NIO's singletons are in use).
public enum ProcessTuning {
    /// Threads for blocking file I/O: chunk writes wait on fsync (two per chunk: the file and its
    /// folder), which costs no CPU, so more of them may wait at once than there are cores. NIO's
    /// default of one per core let only two small-file writes make progress at a time. An
    /// explicit `NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT` wins.
    public static let blockingIOThreads = 16

    public static func applyForAgent() {
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT"] == nil {
            NIOSingletons.blockingPoolThreadCountSuggestion = max(blockingIOThreads, System.coreCount)
        }
        keepChunkBuffersResident()
        // Every connection is a file: the connection caps (limits.max_connections) assume the
        // process may open that many, which the usual soft limit of 1024 does not allow.
        _ = filestore_raise_open_files_limit()
    }

    /// Keeps chunk-sized buffers (5 MiB by default, a few per transfer) in the allocator's heap
    /// once freed, instead of returning them to the kernel and faulting fresh zeroed pages in for
    /// the next chunk. glibc serves blocks above a (dynamic) threshold with their own mmap and
    /// trims free heap tops above 128 KiB; every chunk then cost page faults and a page clear
    /// before the first byte was copied — measured in docs/benchmarks.md, where
    /// `clear_page_erms` and copies into fresh pages took over half of a download's CPU. The
    /// retained memory is bounded by the agent's peak of buffers in flight (the windows).
    static func keepChunkBuffersResident() {
        // Blocks up to 32 MiB (glibc's maximum) come from the heap; up to 64 MiB of free heap is kept.
        _ = filestore_malloc_keep_heap(32 << 20, 64 << 20)
    }
}
