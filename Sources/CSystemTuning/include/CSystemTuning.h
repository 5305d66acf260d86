// What Swift's Glibc module leaves out (it needs _GNU_SOURCE or <malloc.h>): direct I/O and the
// allocator's thresholds, and the open-files limit. Zero / no-ops where the platform lacks them.
#ifndef FILESTORE_CSYSTEMTUNING_H
#define FILESTORE_CSYSTEMTUNING_H

/// The open(2) flag for direct I/O (O_DIRECT), or 0 where there is none.
int filestore_open_direct_flag(void);

/// Sets glibc's mmap threshold and heap trim threshold (mallopt); returns 1 when both were
/// accepted, 0 otherwise (or when the C library is not glibc).
int filestore_malloc_keep_heap(int mmap_threshold, int trim_threshold);

/// Raises the soft limit on open files to the hard limit; returns the soft limit now in force
/// (or -1 when it cannot be read).
long filestore_raise_open_files_limit(void);

#endif
