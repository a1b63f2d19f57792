/* The libFuzzer entry point every fuzz target defines; standalone.c
 * calls it for each file of a corpus when libFuzzer is not used. */
#ifndef POSTERN_FUZZ_H
#define POSTERN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
