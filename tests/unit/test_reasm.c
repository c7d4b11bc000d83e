/* test_reasm.c — duplicates, overlaps (first copy wins), gaps, limits. */
#include <string.h>

#include "reasm.h"
#include "test.h"

void test_reasm(void);

static void in_order_and_gaps(void)
{
	struct reasm r;
	uint8_t w[64];

	memset(w, 0, sizeof(w));
	reasm_reset(&r);
	CHECK_EQ(reasm_contiguous(&r), 0);
	reasm_add(&r, w, sizeof(w), 10, (const uint8_t *)"KLMNO", 5);   /* island: gap before */
	CHECK_EQ(reasm_contiguous(&r), 0);
	reasm_add(&r, w, sizeof(w), 0, (const uint8_t *)"ABCDE", 5);
	CHECK_EQ(reasm_contiguous(&r), 5);
	reasm_add(&r, w, sizeof(w), 5, (const uint8_t *)"FGHIJ", 5);     /* fills the gap */
	CHECK_EQ(reasm_contiguous(&r), 15);
	CHECK(!memcmp(w, "ABCDEFGHIJKLMNO", 15));
	CHECK_EQ(r.count, 1);
}

static void first_copy_wins(void)
{
	struct reasm r;
	uint8_t w[64];

	memset(w, 0, sizeof(w));
	reasm_reset(&r);
	reasm_add(&r, w, sizeof(w), 4, (const uint8_t *)"xxxx", 4);      /* [4,8) first */
	reasm_add(&r, w, sizeof(w), 0, (const uint8_t *)"abcdefghij", 10); /* overlaps: only 0-4, 8-10 new */
	CHECK(!memcmp(w, "abcdxxxxij", 10));
	reasm_add(&r, w, sizeof(w), 2, (const uint8_t *)"ZZZZZZZZZZZZ", 12); /* only 10-14 new */
	CHECK(!memcmp(w, "abcdxxxxijZZZZ", 14));
	CHECK_EQ(reasm_contiguous(&r), 14);
	reasm_add(&r, w, sizeof(w), 0, (const uint8_t *)"0123456789abcd", 14); /* exact duplicate */
	CHECK(!memcmp(w, "abcdxxxxijZZZZ", 14));
	/* the order of arrival decides, not the position: C then A then B */
	reasm_reset(&r);
	memset(w, 0, sizeof(w));
	reasm_add(&r, w, sizeof(w), 12, (const uint8_t *)"CCCCCCCC", 8);   /* [12,20) */
	reasm_add(&r, w, sizeof(w), 10, (const uint8_t *)"AAAAAAAAAA", 10); /* [10,20): only 10-12 new */
	reasm_add(&r, w, sizeof(w), 0, (const uint8_t *)"BBBBBBBBBB", 10);
	CHECK(!memcmp(w, "BBBBBBBBBBAACCCCCCCC", 20));
	CHECK_EQ(reasm_contiguous(&r), 20);
}

static void cap_and_limits(void)
{
	struct reasm r;
	uint8_t w[8];
	uint32_t i;
	int failed = 0;

	memset(w, 0, sizeof(w));
	reasm_reset(&r);
	reasm_add(&r, w, 4, 0, (const uint8_t *)"abcdefgh", 8);    /* stores 4, covers 8 */
	CHECK(!memcmp(w, "abcd\0\0\0\0", 8));
	CHECK_EQ(reasm_contiguous(&r), 8);
	reasm_reset(&r);
	for (i = 0; i < REASM_MAX_RANGES + 5; i++)                  /* disjoint one-byte islands */
		failed |= reasm_add(&r, w, 0, 10 + 2 * i, (const uint8_t *)"x", 1);
	CHECK_EQ(failed, -1);
	CHECK_EQ(r.count, REASM_MAX_RANGES);
	CHECK_EQ(reasm_add(&r, w, 0, 11, (const uint8_t *)"x", 1), 0);  /* merging still works when full */
	CHECK_EQ(r.count, REASM_MAX_RANGES - 1);
}

void test_reasm(void)
{
	in_order_and_gaps();
	first_copy_wins();
	cap_and_limits();
}
