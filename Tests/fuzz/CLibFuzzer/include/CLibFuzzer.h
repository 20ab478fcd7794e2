// libFuzzer's driver, linked in by -sanitize=fuzzer (llvm/compiler-rt FuzzerInterface.h).
// SwiftPM aliases an executable's main to the module's own entry point, which takes the place
// of libFuzzer's main: the fuzz targets call the driver from there (Fuzzing/FuzzMain.swift).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

// libFuzzer's own mutation of data (for a custom mutator that also wants byte-level ones).
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);
