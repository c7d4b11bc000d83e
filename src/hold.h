/* hold.h — storage of held packets: one growing buffer per collecting flow,
 * carved from a pool of power-of-two blocks with a hard byte limit. */
#ifndef HELLOSPLIT_HOLD_H
#define HELLOSPLIT_HOLD_H

#include <stdint.h>

#include "flow.h"
#include "packet.h"

#define HOLD_MIN_SHIFT 11   /* 2 KiB: one full-size packet and its meta */
#define HOLD_MAX_SHIFT 24
#define HOLD_CLASSES (HOLD_MAX_SHIFT - HOLD_MIN_SHIFT + 1)

struct hold_pool {
	void *free_blocks[HOLD_CLASSES];   /* singly linked through the first bytes */
	uint64_t in_use;                   /* bytes of blocks given to flows */
	uint64_t cached;                   /* bytes of blocks on the free lists */
	uint64_t limit;                    /* in_use never exceeds it */
};

/* One held packet inside a flow's buffer. */
struct held_packet {
	uint32_t len;
	uint32_t reserved;
	uint8_t meta[PACKET_META_SIZE];
	uint8_t data[];
};

void hold_pool_init(struct hold_pool *pool, uint64_t limit);
void hold_pool_free(struct hold_pool *pool);

/* Appends a packet to the flow's held packets. Returns 0, or -1 when the
 * pool limit does not allow it (nothing changed). */
int hold_append(struct hold_pool *pool, struct flow *f, const uint8_t *data, uint32_t len,
		const void *meta);
/* Gives the flow's buffer back to the pool. */
void hold_release(struct hold_pool *pool, struct flow *f);

/* Walks the held packets in arrival order: start with NULL. */
const struct held_packet *hold_next(const struct flow *f, const struct held_packet *prev);

#endif
