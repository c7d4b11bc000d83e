/* flood_bench.c — the flow table under hash flooding, in one run: microseconds
 * per packet for tuples crafted to share a probe run of the table, side by
 * side with as many random tuples. The crafted tuples collide under the flow
 * hash hellosplit 0.1.0 shipped, with the seed it always had (0): what a LAN
 * host could precompute. Each flow gets one 1-byte non-TLS packet (a flow the
 * engine then passes, but keeps in its table), then ROUNDS more of the same.
 * The key of the table is random, as the daemon draws it (config.c).
 *   flood_bench [FLOWS [ROUNDS]]      (make bench-flood) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "engine.h"
#include "file.h"
#include "flow.h"

#define WINDOW 4096            /* crafted tuples have home slots in [0, WINDOW) */
#define PKT_LEN 41

static uint64_t emitted;

static void count_emit(void *ctx, const uint8_t *pkt, uint32_t len, const void *meta)
{
	(void)ctx; (void)pkt; (void)meta;
	emitted += len;
}

/* The tuple of candidate c: a source in 198.18.0.0/15 and a source port. */
static void tuple_of(uint32_t c, uint8_t src[4], uint16_t *sport)
{
	uint32_t a = 0xc6120000u | (c >> 10 & 0x1ffff);

	src[0] = (uint8_t)(a >> 24);
	src[1] = (uint8_t)(a >> 16);
	src[2] = (uint8_t)(a >> 8);
	src[3] = (uint8_t)a;
	*sport = (uint16_t)(10000 + (c & 1023));
}

/* The flow hash of hellosplit 0.1.0 over the engine's flow key, seed 0. */
static uint32_t old_hash(const uint8_t src[4], uint16_t sport)
{
	struct flow_key k;
	uint64_t w[sizeof(k) / 8], h = 0;
	unsigned i;

	memset(&k, 0, sizeof(k));
	memcpy(k.src, src, 4);
	memcpy(k.dst, "\xc6\x13\x00\x01", 4);
	k.sport = sport;
	k.dport = 443;
	k.family = 4;
	memcpy(w, &k, sizeof(w));
	for (i = 0; i < sizeof(w) / 8; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static void build(uint8_t *pkt, const uint8_t src[4], uint16_t sport)
{
	uint8_t tmpl[40];
	struct packet t;

	memset(tmpl, 0, sizeof(tmpl));
	tmpl[0] = 0x45;
	tmpl[3] = 40;
	tmpl[6] = 0x40;
	tmpl[8] = 64;
	tmpl[9] = 6;
	memcpy(tmpl + 12, src, 4);
	memcpy(tmpl + 16, "\xc6\x13\x00\x01", 4);
	put_be16(tmpl + 20, sport);
	put_be16(tmpl + 22, 443);
	put_be32(tmpl + 28, 1);
	tmpl[32] = 5 << 4;
	put_be16(tmpl + 34, 65535);
	packet_parse(&t, tmpl, 40);
	packet_build_segment(pkt, PKT_LEN, &t, 1000, (const uint8_t *)"x", 1, TCP_ACK | TCP_PSH, 1);
}

/* Seconds for FLOWS new flows, then rounds more packets of each. */
static double run(const struct engine_config *cfg, const uint8_t *pkts, uint32_t flows, int rounds)
{
	uint8_t meta[PACKET_META_SIZE];
	struct engine *e = engine_create(cfg, count_emit, NULL);
	double t0;
	uint32_t i;
	int r;

	if (!e) {
		fprintf(stderr, "flood_bench: engine_create failed (--max-flows %u)\n", cfg->max_flows);
		exit(1);
	}
	memset(meta, 0, sizeof(meta));
	t0 = bench_seconds();
	for (r = 0; r <= rounds; r++)
		for (i = 0; i < flows; i++)
			engine_packet(e, pkts + (size_t)i * PKT_LEN, PKT_LEN, meta, 0);
	t0 = bench_seconds() - t0;
	if (engine_flow_count(e) != flows) {
		fprintf(stderr, "flood_bench: %u flows in the table, %u sent\n", engine_flow_count(e), flows);
		exit(1);
	}
	engine_destroy(e);
	return t0;
}

int main(int argc, char **argv)
{
	uint32_t flows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 16384, nslots = 16, mask, c, n, i;
	int rounds = argc > 2 ? atoi(argv[2]) : 2, r;
	struct engine_config cfg;
	uint8_t *crafted, *random, src[4];
	uint16_t sport;
	double best[2] = {1e9, 1e9}, t0;

	engine_config_defaults(&cfg);
	if (flows < 1 || flows > cfg.max_flows) {
		fprintf(stderr, "usage: flood_bench [FLOWS (1..%u) [ROUNDS]]\n", cfg.max_flows);
		return 2;
	}
	if (random_seed(cfg.hash_key, sizeof(cfg.hash_key))) {
		fprintf(stderr, "flood_bench: no random key for the flow table\n");
		return 1;
	}
	while (nslots < 2 * cfg.max_flows)     /* as flow_table_init sizes the table */
		nslots <<= 1;
	mask = nslots - 1;
	crafted = malloc((size_t)flows * PKT_LEN);
	random = malloc((size_t)flows * PKT_LEN);
	if (!crafted || !random)
		return 1;
	t0 = bench_seconds();
	for (c = 0, n = 0; n < flows && c < (1u << 27); c++) {
		tuple_of(c, src, &sport);
		if ((old_hash(src, sport) & mask) < WINDOW)
			build(crafted + (size_t)n++ * PKT_LEN, src, sport);
	}
	if (n < flows) {
		fprintf(stderr, "flood_bench: found only %u crafted tuples\n", n);
		return 1;
	}
	printf("%u crafted tuples (home slots in [0, %u) of %u under the 0.1.0 hash) found in %.2f s\n", flows,
	       WINDOW, nslots, bench_seconds() - t0);
	for (i = 0; i < flows; i++) {             /* distinct tuples spread over the same space */
		tuple_of((i * 2654435761u) & ((1u << 27) - 1), src, &sport);
		build(random + (size_t)i * PKT_LEN, src, sport);
	}
	for (r = 0; r < 5; r++) {                 /* alternating, best of each: the VM drifts */
		double t = run(&cfg, crafted, flows, rounds);

		if (t < best[0])
			best[0] = t;
		t = run(&cfg, random, flows, rounds);
		if (t < best[1])
			best[1] = t;
	}
	n = flows * (uint32_t)(rounds + 1);
	printf("crafted  %9.3f us/packet\nrandom   %9.3f us/packet\nratio crafted/random %.2f (%u packets each)\n",
	       best[0] * 1e6 / n, best[1] * 1e6 / n, best[0] / best[1], n);
	free(crafted);
	free(random);
	return emitted == 42 ? 1 : 0;
}
