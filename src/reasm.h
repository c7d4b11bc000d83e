/* reasm.h — the contiguous stream window from the payloads of a flow's
 * packets: duplicates and overlaps keep the first copy, gaps wait. */
#ifndef HELLOSPLIT_REASM_H
#define HELLOSPLIT_REASM_H

#include <stdint.h>

/* Disjoint byte ranges covered so far; more packets than this fail open. */
#define REASM_MAX_RANGES 72

struct reasm {
	uint32_t count;
	struct {
		uint32_t start, end;
	} range[REASM_MAX_RANGES];
};

static inline void reasm_reset(struct reasm *r) { r->count = 0; }

/* Adds payload bytes at stream offset off: the bytes no earlier packet
 * carried are copied into window (bytes at or beyond cap are not stored).
 * Returns 0, or -1 when too many disjoint ranges. */
int reasm_add(struct reasm *r, uint8_t *window, uint32_t cap, uint32_t off, const uint8_t *data,
	      uint32_t len);

/* Bytes from offset 0 covered without a gap. */
uint32_t reasm_contiguous(const struct reasm *r);

#endif
