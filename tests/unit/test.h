/* test.h — the smallest test harness: CHECK counts, the runner reports. */
#ifndef HELLOSPLIT_TEST_H
#define HELLOSPLIT_TEST_H

#include <stdio.h>
#include <string.h>

extern int test_passed, test_failed;

/* test_memopen(buf, size): a FILE whose output ends up in buf, NUL-terminated,
 * after test_memclose. fmemopen where the C library has it; Windows (msvcrt)
 * has none: a temporary file, read back into buf when closed. */
#ifdef _WIN32
struct test_memfile {
	FILE *f;
	char *buf;
	size_t size;
};
static struct test_memfile test_memfiles[8];

static inline FILE *test_memopen(char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(test_memfiles) / sizeof(test_memfiles[0]); i++)
		if (!test_memfiles[i].f) {
			test_memfiles[i].f = tmpfile();
			test_memfiles[i].buf = buf;
			test_memfiles[i].size = size;
			return test_memfiles[i].f;
		}
	return NULL;
}

static inline void test_memclose(FILE *f)
{
	size_t i, n;

	for (i = 0; i < sizeof(test_memfiles) / sizeof(test_memfiles[0]); i++)
		if (f && test_memfiles[i].f == f) {
			rewind(f);
			n = fread(test_memfiles[i].buf, 1, test_memfiles[i].size - 1, f);
			test_memfiles[i].buf[n] = 0;
			test_memfiles[i].f = NULL;
		}
	if (f)
		fclose(f);
}
#define TEST_NULL_DEVICE "NUL"
#else
static inline FILE *test_memopen(char *buf, size_t size)
{
	return fmemopen(buf, size, "w");
}

static inline void test_memclose(FILE *f)
{
	fclose(f);
}
#define TEST_NULL_DEVICE "/dev/null"
#endif

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
