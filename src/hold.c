/* hold.c — blocks are recycled through per-size free lists, so once warm the
 * packet path does not call malloc; blocks come from malloc only while the
 * pool (in use + cached) stays under its limit. */
#include "hold.h"

#include <stdlib.h>
#include <string.h>

#define RECORD_ALIGN 8

static uint32_t record_size(uint32_t len)
{
	return (uint32_t)((sizeof(struct held_packet) + len + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1u));
}

void hold_pool_init(struct hold_pool *pool, uint64_t limit)
{
	memset(pool, 0, sizeof(*pool));
	pool->limit = limit;
}

static void drop_cached(struct hold_pool *pool, int cls)
{
	void *b = pool->free_blocks[cls];

	memcpy(&pool->free_blocks[cls], b, sizeof(void *));
	pool->cached -= (uint64_t)1 << (cls + HOLD_MIN_SHIFT);
	free(b);
}

void hold_pool_free(struct hold_pool *pool)
{
	int cls;

	for (cls = 0; cls < HOLD_CLASSES; cls++)
		while (pool->free_blocks[cls])
			drop_cached(pool, cls);
}

static void *block_get(struct hold_pool *pool, int cls)
{
	uint64_t size = (uint64_t)1 << (cls + HOLD_MIN_SHIFT);
	void *b = pool->free_blocks[cls];
	int other;

	if (pool->in_use + size > pool->limit)
		return NULL;
	if (b) {
		memcpy(&pool->free_blocks[cls], b, sizeof(void *));
		pool->cached -= size;
	} else {
		/* Keep in use + cached under the limit: return other sizes first. */
		for (other = HOLD_CLASSES - 1; other >= 0 && pool->in_use + pool->cached + size > pool->limit; other--)
			while (pool->free_blocks[other] && pool->in_use + pool->cached + size > pool->limit)
				drop_cached(pool, other);
		b = malloc(size);
		if (!b)
			return NULL;
	}
	pool->in_use += size;
	return b;
}

static void block_put(struct hold_pool *pool, void *b, uint32_t size)
{
	int cls = 0;

	while (((uint32_t)1 << (cls + HOLD_MIN_SHIFT)) < size)
		cls++;
	memcpy(b, &pool->free_blocks[cls], sizeof(void *));
	pool->free_blocks[cls] = b;
	pool->in_use -= size;
	pool->cached += size;
}

int hold_append(struct hold_pool *pool, struct flow *f, const uint8_t *data, uint32_t len,
		const void *meta)
{
	uint32_t need = f->held_used + record_size(len);
	struct held_packet *rec;

	if (need > f->held_cap) {
		int cls = 0;
		uint8_t *b;

		while (cls < HOLD_CLASSES && ((uint32_t)1 << (cls + HOLD_MIN_SHIFT)) < need)
			cls++;
		if (cls == HOLD_CLASSES || !(b = block_get(pool, cls)))
			return -1;
		if (f->held) {
			memcpy(b, f->held, f->held_used);
			block_put(pool, f->held, f->held_cap);
		}
		f->held = b;
		f->held_cap = (uint32_t)1 << (cls + HOLD_MIN_SHIFT);
	}
	rec = (struct held_packet *)(f->held + f->held_used);
	rec->len = len;
	rec->reserved = 0;
	memcpy(rec->meta, meta, PACKET_META_SIZE);
	memcpy(rec->data, data, len);
	f->held_used = need;
	f->held_count++;
	return 0;
}

void hold_release(struct hold_pool *pool, struct flow *f)
{
	if (f->held)
		block_put(pool, f->held, f->held_cap);
	f->held = NULL;
	f->held_used = f->held_cap = 0;
	f->held_count = 0;
}

const struct held_packet *hold_next(const struct flow *f, const struct held_packet *prev)
{
	uint32_t at = prev ? (uint32_t)((const uint8_t *)prev - f->held) + record_size(prev->len) : 0;

	return at < f->held_used ? (const struct held_packet *)(f->held + at) : NULL;
}
