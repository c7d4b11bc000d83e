/* test.h — the smallest test harness: CHECK counts, the runner reports. */
#ifndef HELLOSPLIT_TEST_H
#define HELLOSPLIT_TEST_H

#include <stdio.h>

extern int test_passed, test_failed;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (cond) {                                                          \
			test_passed++;                                               \
		} else {                                                             \
			test_failed++;                                               \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long a_ = (long long)(a), b_ = (long long)(b);                  \
		if (a_ == b_) {                                                      \
			test_passed++;                                               \
		} else {                                                             \
			test_failed++;                                               \
			fprintf(stderr, "%s:%d: FAILED: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, a_, b_); \
		}                                                                    \
	} while (0)

#endif
