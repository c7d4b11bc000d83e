/* flow.c — open addressing with linear probing over an array of flow
 * indexes; the flows themselves live in a dense array with a free list.
 * No allocation after init; a full table makes the caller pass the flow. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

int flow_table_init(struct flow_table *t, uint32_t max_flows, uint64_t seed)
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
	t->seed = seed;
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	free(t->flows);
	free(t->slots);
	t->flows = NULL;
	t->slots = NULL;
}

uint32_t flow_hash(const struct flow_table *t, const struct flow_key *k)
{
	uint64_t w[sizeof(*k) / 8], h = t->seed;
	unsigned i;

	memcpy(w, k, sizeof(w));
	for (i = 0; i < sizeof(w) / 8; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
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
