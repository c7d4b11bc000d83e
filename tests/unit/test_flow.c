/* test_flow.c — the flow table against a brute-force model. */
#include <string.h>

#include "flow.h"
#include "test.h"

void test_flow(void);

static struct flow_key key_of(uint32_t n)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	memcpy(k.src, &n, 4);
	k.dst[0] = 198;
	k.sport = (uint16_t)(n * 7);
	k.dport = 443;
	return k;
}

static void basic(void)
{
	struct flow_table t;
	struct flow_key k = key_of(1), k2 = key_of(2);
	struct flow *f;
	uint32_t h;

	CHECK_EQ(flow_table_init(&t, 16, 1), 0);
	h = flow_hash(&t, &k);
	CHECK(flow_lookup(&t, &k, h) == NULL);
	f = flow_insert(&t, &k, h);
	CHECK(f != NULL);
	CHECK_EQ(f->state, FLOW_NEW);
	CHECK(flow_lookup(&t, &k, h) == f);
	CHECK(flow_lookup(&t, &k2, flow_hash(&t, &k2)) == NULL);
	flow_remove(&t, f);
	CHECK(flow_lookup(&t, &k, h) == NULL);
	CHECK_EQ(t.used, 0);
	flow_table_free(&t);
}

static void full_table(void)
{
	struct flow_table t;
	uint32_t i;

	CHECK_EQ(flow_table_init(&t, 16, 1), 0);
	for (i = 0; i < 16; i++) {
		struct flow_key k = key_of(i);

		CHECK(flow_insert(&t, &k, flow_hash(&t, &k)) != NULL);
	}
	{
		struct flow_key k = key_of(99);

		CHECK(flow_insert(&t, &k, flow_hash(&t, &k)) == NULL);
	}
	/* freeing one makes room again, and reuses its entry */
	{
		struct flow_key k = key_of(3), k2 = key_of(100);
		struct flow *f = flow_lookup(&t, &k, flow_hash(&t, &k));
		uint32_t idx = flow_index(&t, f);

		flow_remove(&t, f);
		f = flow_insert(&t, &k2, flow_hash(&t, &k2));
		CHECK(f != NULL && flow_index(&t, f) == idx);
		CHECK_EQ(t.high_water, 16);
	}
	flow_table_free(&t);
}

/* Random inserts and removes, with a constant hash to force long probe runs
 * through backward-shift deletion, checked against a plain array. */
static void random_against_model(int constant_hash)
{
	enum { N = 200, OPS = 20000 };
	struct flow_table t;
	uint8_t present[N];
	uint32_t seed = 12345, i, bad = 0;

	memset(present, 0, sizeof(present));
	CHECK_EQ(flow_table_init(&t, N, 7), 0);
	for (i = 0; i < OPS; i++) {
		uint32_t n, h;
		struct flow_key k;
		struct flow *f;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % N;
		k = key_of(n);
		h = constant_hash ? 42 : flow_hash(&t, &k);
		f = flow_lookup(&t, &k, h);
		if ((f != NULL) != present[n])
			bad++;
		if (f) {
			flow_remove(&t, f);
			present[n] = 0;
		} else if (flow_insert(&t, &k, h)) {
			present[n] = 1;
		}
	}
	for (i = 0; i < N; i++) {
		struct flow_key k = key_of(i);

		if ((flow_lookup(&t, &k, constant_hash ? 42 : flow_hash(&t, &k)) != NULL) != present[i])
			bad++;
	}
	CHECK_EQ(bad, 0);
	flow_table_free(&t);
}

void test_flow(void)
{
	basic();
	full_table();
	random_against_model(0);
	random_against_model(1);
}
