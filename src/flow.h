/* flow.h — fixed-capacity flow table keyed by the TCP 4-tuple. */
#ifndef HELLOSPLIT_FLOW_H
#define HELLOSPLIT_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "split.h"

enum flow_state {
	FLOW_FREE = 0,       /* slot of the flow array not in use */
	FLOW_NEW,            /* created, no payload handled yet */
	FLOW_COLLECTING,     /* holding packets until the window is complete */
	FLOW_SPLIT_READY,    /* window complete, plan made, segments being emitted */
	FLOW_INJECTED,       /* split sent; retransmissions inside the window are split again */
	FLOW_PASS_THROUGH,   /* done with this flow: every packet passes */
	FLOW_CLOSED,         /* FIN or RST seen */
};

/* Compared with memcmp: always zero-filled before use. */
struct flow_key {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t family;
	uint8_t pad[3];
};

struct flow {
	struct flow_key key;
	uint32_t hash;
	uint8_t state;
	uint8_t ncuts;
	uint16_t packets;          /* payload packets seen, for the done-mark cap */
	uint32_t last_seen_s;
	uint32_t base_seq;         /* sequence number of stream byte 0 */
	uint32_t window_len;
	uint32_t hello_ack;        /* ack carried by the hello: a later ack means it was answered */
	uint32_t cuts[SPLIT_MAX_POSITIONS];
	/* held packets (COLLECTING only) */
	uint8_t *held;
	uint32_t held_used, held_cap;
	uint16_t held_count;
	uint16_t largest;          /* IP length of its largest payload packet within the MSS: fits the path */
	uint16_t observed;         /* learning: its outcome slot, index + 1, 0 = none */
	uint8_t retransmits;       /* learning: hello retransmissions seen since the split */
	uint8_t pad;
	uint64_t collect_start_ms;
	uint32_t older, newer;     /* collecting list, flow index + 1, 0 = none */
};

struct flow_table {
	struct flow *flows;        /* max_flows entries; pages touched only as used */
	uint32_t *slots;           /* open addressing: flow index + 1, 0 = empty */
	uint32_t mask;
	uint32_t max_flows, used, high_water;
	uint32_t free_head;        /* free list through flow.older, index + 1 */
	uint64_t key[2];           /* of the hash: secret, or tuples can be crafted to collide */
};

int flow_table_init(struct flow_table *t, uint32_t max_flows, const uint64_t key[2]);
void flow_table_free(struct flow_table *t);

/* SipHash-2-4 of len bytes under a 128-bit key (key[0]: its first 8 bytes, little-endian). */
uint64_t flow_siphash(const uint64_t key[2], const uint8_t *msg, size_t len);
uint32_t flow_hash(const struct flow_table *t, const struct flow_key *k);
struct flow *flow_lookup(const struct flow_table *t, const struct flow_key *k, uint32_t hash);
/* NULL when the table is full. The new flow is zeroed except key and hash. */
struct flow *flow_insert(struct flow_table *t, const struct flow_key *k, uint32_t hash);
void flow_remove(struct flow_table *t, struct flow *f);

static inline uint32_t flow_index(const struct flow_table *t, const struct flow *f)
{
	return (uint32_t)(f - t->flows);
}

/* Bytes of memory one flow costs at most (entry plus its share of slots). */
#define FLOW_BYTES_PER_FLOW (sizeof(struct flow) + 2 * sizeof(uint32_t))

#endif
