/* fuzz.h — what every harness shares: a failed invariant aborts, so
 * libFuzzer reports the input that broke it. */
#ifndef HELLOSPLIT_FUZZ_H
#define HELLOSPLIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The coverage build (-DFUZZ_NO_ABORT) reports and goes on, so that a known
 * regress-* input does not cut the measurement short. */
#ifdef FUZZ_NO_ABORT
#define FUZZ_FAIL() ((void)0)
#else
#define FUZZ_FAIL() abort()
#endif

#define FUZZ_ASSERT(cond, ...)                                                         \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			FUZZ_FAIL();                                                   \
		}                                                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
