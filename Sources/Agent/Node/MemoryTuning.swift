import CSystemTuning

/// Process-wide allocator settings for an agent.
enum MemoryTuning {
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
