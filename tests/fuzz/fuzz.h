/* What every fuzz target shares: the libFuzzer entry point's prototype
 * (each target defines it; replay.c calls it in a normal build) and the
 * check that turns a broken invariant into a crash the fuzzer records. */
#ifndef XDOCK_FUZZ_H
#define XDOCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must hold in every build type. */
#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
