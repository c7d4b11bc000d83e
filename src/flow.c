/* flow.c — open addressing with linear probing over an array of flow
 * indexes; the flows themselves live in a dense array with a free list.
 * No allocation after init; a full table makes the caller pass the flow. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

int flow_table_init(struct flow_table *t, uint32_t max_flows, const uint64_t key[2])
{
	uint32_t nslots = 16;

	memset(t, 0, sizeof(*t));
	while (nslots < 2 * max_flows)       /* load factor <= 1/2 keeps probes short */
		nslots <<= 1;
	t->flows = calloc(max_flows, sizeof(*t->flows));
	t->slots = calloc(nslots, sizeof(*t->slots));
	if (!t->flows || !t->slots) {
		flow_table_free(t);
		return -1;
	}
	t->mask = nslots - 1;
	t->max_flows = max_flows;
	t->key[0] = key[0];
	t->key[1] = key[1];
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	free(t->flows);
	free(t->slots);
	t->flows = NULL;
	t->slots = NULL;
}

static inline uint64_t rotate_left(uint64_t x, int bits)
{
	return x << bits | x >> (64 - bits);
}

/* Little-endian words whatever the host's byte order. */
static inline uint64_t le32(const uint8_t *b)
{
	return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24;
}

static inline uint64_t le64(const uint8_t *b)
{
	return le32(b) | le32(b + 4) << 32;
}

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotate_left(v[1], 13); v[1] ^= v[0]; v[0] = rotate_left(v[0], 32);
	v[2] += v[3]; v[3] = rotate_left(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotate_left(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotate_left(v[1], 17); v[1] ^= v[2]; v[2] = rotate_left(v[2], 32);
}

/* SipHash-2-4 as its paper (Aumasson and Bernstein, 2012) defines it: the
 * state from the key, two rounds per 8-byte little-endian message word, a
 * last word of the remaining bytes with the length in its top byte, then
 * four rounds. */
static inline void sip_init(uint64_t v[4], const uint64_t key[2])
{
	v[0] = key[0] ^ 0x736f6d6570736575ull;
	v[1] = key[1] ^ 0x646f72616e646f6dull;
	v[2] = key[0] ^ 0x6c7967656e657261ull;
	v[3] = key[1] ^ 0x7465646279746573ull;
}

static inline void sip_word(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

static inline uint64_t sip_final(uint64_t v[4])
{
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t flow_siphash(const uint64_t key[2], const uint8_t *msg, size_t len)
{
	uint64_t v[4], last = (uint64_t)len << 56;
	size_t i;

	sip_init(v, key);
	for (i = 0; i + 8 <= len; i += 8)
		sip_word(v, le64(msg + i));
	for (; i < len; i++)
		last |= (uint64_t)msg[i] << (8 * (i & 7));
	sip_word(v, last);
	return sip_final(v);
}

/* Keyed with a secret, so that no one can choose tuples that share a probe
 * run (hash flooding). The message is the key's bytes in use, 13 for IPv4 and
 * 37 for IPv6: source and destination address, ports (little-endian), family;
 * the words of flow_siphash over those bytes, without copying them. */
uint32_t flow_hash(const struct flow_table *t, const struct flow_key *k)
{
	uint64_t v[4], tail = (uint64_t)k->sport | (uint64_t)k->dport << 16 | (uint64_t)k->family << 32;

	sip_init(v, t->key);
	if (k->family == 4) {
		sip_word(v, le32(k->src) | le32(k->dst) << 32);
		sip_word(v, tail | 13ull << 56);
	} else {
		sip_word(v, le64(k->src));
		sip_word(v, le64(k->src + 8));
		sip_word(v, le64(k->dst));
		sip_word(v, le64(k->dst + 8));
		sip_word(v, tail | 37ull << 56);
	}
	return (uint32_t)sip_final(v);
}

struct flow *flow_lookup(const struct flow_table *t, const struct flow_key *k, uint32_t hash)
{
	uint32_t i = hash & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct flow *f;

		if (!t->slots[i])
			return NULL;
		f = &t->flows[t->slots[i] - 1];
		if (f->hash == hash && !memcmp(&f->key, k, sizeof(*k)))
			return f;
	}
}

struct flow *flow_insert(struct flow_table *t, const struct flow_key *k, uint32_t hash)
{
	uint32_t idx, i = hash & t->mask;
	struct flow *f;

	if (t->used == t->max_flows)
		return NULL;
	if (t->free_head) {
		idx = t->free_head - 1;
		t->free_head = t->flows[idx].older;
	} else {
		idx = t->high_water++;
	}
	f = &t->flows[idx];
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->hash = hash;
	f->state = FLOW_NEW;
	while (t->slots[i])
		i = (i + 1) & t->mask;
	t->slots[i] = idx + 1;
	t->used++;
	return f;
}

void flow_remove(struct flow_table *t, struct flow *f)
{
	uint32_t idx = flow_index(t, f), i = f->hash & t->mask, j;

	while (t->slots[i] != idx + 1)
		i = (i + 1) & t->mask;
	/* Backward-shift deletion: pull later entries of the probe run into the
	 * hole when their home slot is not between the hole and them. */
	for (j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
		uint32_t home = t->flows[t->slots[j] - 1].hash & t->mask;

		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = 0;
	memset(f, 0, sizeof(*f));
	f->older = t->free_head;
	t->free_head = idx + 1;
	t->used--;
}
