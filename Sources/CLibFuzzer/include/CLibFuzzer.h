// libFuzzer's driver, which runs the fuzzing loop around a callback. It is linked only into
// filestore-fuzz, built with `-sanitize=fuzzer` (scripts/fuzz); see Package.swift.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
