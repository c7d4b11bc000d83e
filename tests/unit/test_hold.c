/* test_hold.c — held-packet buffers: growth, order, the byte limit. */
#include <string.h>

#include "hold.h"
#include "test.h"

void test_hold(void);

void test_hold(void)
{
	struct hold_pool pool;
	struct flow f, g;
	uint8_t data[3000], meta[PACKET_META_SIZE];
	const struct held_packet *h = NULL;
	int i, n = 0, bad = 0;

	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	memset(meta, 7, sizeof(meta));
	hold_pool_init(&pool, 8192);
	for (i = 0; i < 3; i++) {
		memset(data, i, sizeof(data));
		CHECK_EQ(hold_append(&pool, &f, data, 1000 + (uint32_t)i, meta), 0);
	}
	CHECK_EQ(f.held_count, 3);
	CHECK_EQ(f.held_cap, 4096);
	CHECK_EQ(pool.in_use, 4096);
	while ((h = hold_next(&f, h)) != NULL) {
		bad += h->len != 1000u + (uint32_t)n || h->data[0] != n || h->data[h->len - 1] != n || h->meta[5] != 7;
		n++;
	}
	CHECK_EQ(n, 3);
	CHECK_EQ(bad, 0);
	/* the next growth would need 8 KiB while 4 KiB are in use: refused, unchanged */
	CHECK_EQ(hold_append(&pool, &f, data, 2000, meta), -1);
	CHECK_EQ(f.held_count, 3);
	CHECK_EQ(hold_append(&pool, &g, data, 1000, meta), 0);
	CHECK_EQ(pool.in_use, 4096 + 2048);
	hold_release(&pool, &f);
	CHECK_EQ(pool.in_use, 2048);
	CHECK(f.held == NULL);
	/* a released block is reused, no new memory */
	CHECK_EQ(hold_append(&pool, &f, data, 3000, meta), 0);
	CHECK_EQ(pool.cached, 0);
	hold_release(&pool, &f);
	hold_release(&pool, &g);
	CHECK_EQ(pool.in_use, 0);
	hold_pool_free(&pool);
	CHECK_EQ(pool.cached, 0);
}
