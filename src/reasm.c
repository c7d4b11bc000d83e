/* reasm.c — first copy wins: a byte is written once, by the first packet
 * that carried it, whatever order the packets arrive in. */
#include "reasm.h"

#include <string.h>

static void copy_new(uint8_t *window, uint32_t cap, uint32_t off, const uint8_t *data, uint32_t from,
		     uint32_t to)
{
	if (from >= cap)
		return;
	if (to > cap)
		to = cap;
	memcpy(window + from, data + (from - off), to - from);
}

int reasm_add(struct reasm *r, uint8_t *window, uint32_t cap, uint32_t off, const uint8_t *data,
	      uint32_t len)
{
	uint32_t end = off + len, pos = off, i, first, last, lo, hi;

	if (len == 0)
		return 0;
	/* Copy the gaps between the ranges already covered. */
	for (i = 0; i < r->count && pos < end; i++) {
		if (r->range[i].end <= pos)
			continue;
		if (r->range[i].start >= end)
			break;
		if (r->range[i].start > pos)
			copy_new(window, cap, off, data, pos, r->range[i].start);
		pos = r->range[i].end;
	}
	if (pos < end)
		copy_new(window, cap, off, data, pos, end);
	/* Merge [off, end) with every range it touches. */
	for (first = 0; first < r->count && r->range[first].end < off; first++)
		;
	for (last = first; last < r->count && r->range[last].start <= end; last++)
		;
	if (first == last && r->count == REASM_MAX_RANGES)
		return -1;
	lo = off;
	hi = end;
	if (first < last) {
		if (r->range[first].start < lo)
			lo = r->range[first].start;
		if (r->range[last - 1].end > hi)
			hi = r->range[last - 1].end;
	}
	memmove(&r->range[first + 1], &r->range[last], (r->count - last) * sizeof(r->range[0]));
	r->count = r->count - (last - first) + 1;
	r->range[first].start = lo;
	r->range[first].end = hi;
	return 0;
}

uint32_t reasm_contiguous(const struct reasm *r)
{
	return r->count && r->range[0].start == 0 ? r->range[0].end : 0;
}
