// Only the header matters: libFuzzer itself comes with the toolchain's `-sanitize=fuzzer`.
#include "CLibFuzzer.h"
