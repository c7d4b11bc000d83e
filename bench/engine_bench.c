/* engine_bench.c — the engine alone over a capture loaded in memory, side by
 * side with a loop that only touches each packet (no interception), in one
 * run. Prints packets/s of both, their ratio and ns/packet; then the memory
 * of 100 000 open flows (the clock stands still, so none is collected), from
 * MEMORY-CAPTURE when given (it needs that many flows).
 *   engine_bench CAPTURE.pcap [ROUNDS [MEMORY-CAPTURE.pcap]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "engine.h"
#include "flow.h"

struct capture {
	uint8_t *bytes;
	uint32_t *off, *len;
	uint64_t *ts_ms;
	size_t count;
};

static uint64_t emitted;

static int count_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	(void)ctx; (void)kind; (void)pkt; (void)meta;
	emitted += len;
	return 0;
}

/* Raw-IP (linktype 101) pcap only: what gencap writes. */
static int load(struct capture *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;
	size_t at = 24, n = 0;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 24 || fseek(f, 0, SEEK_SET))
		return -1;
	c->bytes = malloc((size_t)size);
	if (!c->bytes || fread(c->bytes, 1, (size_t)size, f) != (size_t)size)
		return -1;
	fclose(f);
	for (at = 24; at + 16 <= (size_t)size; n++)
		at += 16 + ((uint32_t *)(c->bytes + at))[2];
	c->off = malloc(n * sizeof(*c->off));
	c->len = malloc(n * sizeof(*c->len));
	c->ts_ms = malloc(n * sizeof(*c->ts_ms));
	for (at = 24, c->count = 0; c->count < n; c->count++) {
		uint32_t *h = (uint32_t *)(c->bytes + at);

		c->ts_ms[c->count] = (uint64_t)h[0] * 1000 + h[1] / 1000;
		c->len[c->count] = h[2];
		c->off[c->count] = (uint32_t)(at + 16);
		at += 16 + h[2];
	}
	return 0;
}

/* RSS of the engine holding OPEN flows of the capture, all at time 0. */
static void memory(const struct capture *c, uint32_t open)
{
	struct engine_config cfg;
	uint8_t meta[PACKET_META_SIZE];
	struct engine *e;
	long before, created, after;
	size_t i;

	memset(meta, 0, sizeof(meta));
	engine_config_defaults(&cfg);
	cfg.max_flows = open;
	before = bench_rss_kib();
	e = engine_create(&cfg, count_emit, NULL);
	created = bench_rss_kib();
	for (i = 0; i < c->count && engine_flow_count(e) < open; i++)
		engine_packet(e, c->bytes + c->off[i], c->len[i], meta, 0);
	after = bench_rss_kib();
	printf("memory: %u open flows (--max-flows %u): RSS +%ld KiB (%ld KiB at creation), %.0f bytes per flow, "
	       "peak held bytes %llu\n", engine_flow_count(e), open, after - before, created - before,
	       (double)(after - before) * 1024 / (engine_flow_count(e) ? engine_flow_count(e) : 1),
	       (unsigned long long)engine_stats(e)->held_bytes_peak);
	engine_destroy(e);
}

int main(int argc, char **argv)
{
	struct capture c;
	struct engine_config cfg;
	uint8_t meta[PACKET_META_SIZE];
	int rounds = argc > 2 ? atoi(argv[2]) : 3, r;
	double best_base = 1e9, best_engine = 1e9;
	volatile uint64_t sink = 0;
	size_t i;

	if (argc < 2 || load(&c, argv[1])) {
		fprintf(stderr, "usage: engine_bench CAPTURE.pcap [ROUNDS [MEMORY-CAPTURE.pcap]] (raw-IP pcaps from "
				"gencap)\n");
		return 2;
	}
	memset(meta, 0, sizeof(meta));
	engine_config_defaults(&cfg);
	for (r = 0; r < rounds; r++) {
		struct engine *e = engine_create(&cfg, count_emit, NULL);
		double t0 = bench_seconds(), t1, t2;

		for (i = 0; i < c.count; i++)           /* no interception: read each packet once */
			sink += c.bytes[c.off[i]] + c.bytes[c.off[i] + c.len[i] - 1];
		t1 = bench_seconds();
		for (i = 0; i < c.count; i++) {
			if ((i & 1023) == 0)
				engine_tick(e, c.ts_ms[i]);
			sink += (uint64_t)engine_packet(e, c.bytes + c.off[i], c.len[i], meta, c.ts_ms[i]);
		}
		t2 = bench_seconds();
		if (t1 - t0 < best_base)
			best_base = t1 - t0;
		if (t2 - t1 < best_engine)
			best_engine = t2 - t1;
		if (r == rounds - 1)
			printf("flows %llu, split %llu, segments %llu, table full %llu, peak held bytes %llu\n",
			       (unsigned long long)engine_stats(e)->flows, (unsigned long long)engine_stats(e)->flows_split,
			       (unsigned long long)engine_stats(e)->segments_emitted,
			       (unsigned long long)engine_stats(e)->failopen_table_full,
			       (unsigned long long)engine_stats(e)->held_bytes_peak);
		engine_destroy(e);
	}
	printf("packets %zu; memory per tracked flow: %zu bytes (entry + 2 slots)\n", c.count,
	       (size_t)FLOW_BYTES_PER_FLOW);
	printf("no interception  %12.0f packets/s  %7.1f ns/packet\n", (double)c.count / best_base,
	       best_base * 1e9 / (double)c.count);
	printf("engine           %12.0f packets/s  %7.1f ns/packet\n", (double)c.count / best_engine,
	       best_engine * 1e9 / (double)c.count);
	printf("ratio engine/no-interception throughput %.3f\n", best_base / best_engine);
	if (argc > 3) {
		struct capture m;

		if (load(&m, argv[3])) {
			fprintf(stderr, "engine_bench: cannot read %s\n", argv[3]);
			return 2;
		}
		memory(&m, 100000);
	}
	return sink == 42 ? 1 : 0;
}
