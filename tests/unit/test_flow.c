/* test_flow.c — the flow table against a brute-force model. */
#include <string.h>

#include "flow.h"
#include "test.h"

void test_flow(void);

static const uint64_t test_key[2] = {7, 1};

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

	CHECK_EQ(flow_table_init(&t, 16, test_key), 0);
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

	CHECK_EQ(flow_table_init(&t, 16, test_key), 0);
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
	CHECK_EQ(flow_table_init(&t, N, test_key), 0);
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

/* The test vectors of the SipHash paper (key 00 01 .. 0f; messages 00 01 ..). */
static void siphash_vectors(void)
{
	static const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	uint8_t msg[15];
	int i;

	for (i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CHECK(flow_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
	CHECK(flow_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
}

/* flow_hash is SipHash-2-4 of the key's bytes in use: addresses, ports
 * little-endian, family (13 bytes for IPv4, 37 for IPv6). */
static void hash_is_siphash_of_the_tuple(void)
{
	static const uint64_t key[2] = {0x1122334455667788ull, 0x99aabbccddeeff00ull};
	struct flow_table t;
	struct flow_key k;
	uint8_t m[37];
	int family;

	CHECK_EQ(flow_table_init(&t, 16, key), 0);
	for (family = 4; family <= 6; family += 2) {
		size_t alen = family == 4 ? 4 : 16, i;

		memset(&k, 0, sizeof(k));
		for (i = 0; i < alen; i++) {
			k.src[i] = (uint8_t)(0x10 + i);
			k.dst[i] = (uint8_t)(0x80 + i);
		}
		k.sport = 0xabcd;
		k.dport = 443;
		k.family = (uint8_t)family;
		memcpy(m, k.src, alen);
		memcpy(m + alen, k.dst, alen);
		m[2 * alen] = 0xcd;
		m[2 * alen + 1] = 0xab;
		m[2 * alen + 2] = 443 & 0xff;
		m[2 * alen + 3] = 443 >> 8;
		m[2 * alen + 4] = (uint8_t)family;
		CHECK_EQ(flow_hash(&t, &k), (uint32_t)flow_siphash(key, m, 2 * alen + 5));
	}
	flow_table_free(&t);
}

/* The slot of a key depends on the secret key of the table: tuples that share
 * a slot under one key (found by search, as an attacker who knew it would) are
 * spread under another, and one key always places them the same way. */
static void key_changes_placement(void)
{
	static const uint64_t key_a[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
	static const uint64_t key_b[2] = {0x0123456789abcdeeull, 0xfedcba9876543210ull};
	struct flow_table a, b, b2;
	uint32_t same[8], nsame = 0, n, i, j, distinct = 0, moved = 0, target;
	struct flow_key k = key_of(0);

	CHECK_EQ(flow_table_init(&a, 2048, key_a), 0);
	CHECK_EQ(flow_table_init(&b, 2048, key_b), 0);
	CHECK_EQ(flow_table_init(&b2, 2048, key_b), 0);
	target = flow_hash(&a, &k) & a.mask;
	for (n = 0; n < 4096 * 64 && nsame < 8; n++) {
		k = key_of(n);
		if ((flow_hash(&a, &k) & a.mask) == target)
			same[nsame++] = n;
	}
	CHECK_EQ(nsame, 8);
	for (i = 0; i < nsame; i++) {
		struct flow_key ki = key_of(same[i]);
		uint32_t slot = flow_hash(&b, &ki) & b.mask;

		CHECK_EQ(slot, flow_hash(&b2, &ki) & b2.mask);
		moved += slot != target;
		for (j = 0; j < i; j++) {
			struct flow_key kj = key_of(same[j]);

			if ((flow_hash(&b, &kj) & b.mask) == slot)
				break;
		}
		distinct += j == i;
	}
	CHECK(distinct >= 7);
	CHECK(moved >= 7);
	flow_table_free(&a);
	flow_table_free(&b);
	flow_table_free(&b2);
}

void test_flow(void)
{
	siphash_vectors();
	hash_is_siphash_of_the_tuple();
	key_changes_placement();
	basic();
	full_table();
	random_against_model(0);
	random_against_model(1);
}
