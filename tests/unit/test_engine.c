/* test_engine.c — the state machine with a driven clock, checked against the
 * split invariants of doc/design.md on everything the engine emits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "test.h"
#include "vectors.h"

void test_engine(void);

#define MAX_OUT 256

struct sent {
	uint8_t data[2048];
	uint32_t len;
	uint8_t meta;
	enum engine_emit_kind kind;
};

static struct sent out[MAX_OUT];
static int nout;
/* Emit failures on demand: pieces from the fail_from-th one on (counted from
 * 0 in this engine) fail with -fail_errno. */
static int pieces_tried, fail_from = -1, fail_errno;
/* Per meta tag: ENGINE_EMIT_ORIGINAL emits and discards of that packet. */
static int originals[256], discards[256];

static int capture(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	uint8_t tag = *(const uint8_t *)meta;

	(void)ctx;
	if (kind == ENGINE_EMIT_PIECE && fail_from >= 0 && pieces_tried++ >= fail_from)
		return -fail_errno;
	if (kind == ENGINE_EMIT_ORIGINAL)
		originals[tag]++;
	if (nout < MAX_OUT && len <= sizeof(out[0].data)) {
		memcpy(out[nout].data, pkt, len);
		out[nout].len = len;
		out[nout].meta = tag;
		out[nout].kind = kind;
	}
	nout++;
	return 0;
}

static void count_discard(void *ctx, const void *meta)
{
	(void)ctx;
	discards[*(const uint8_t *)meta]++;
}

/* TSval of the packets mk builds, and whether they have TCP options at all. */
static uint32_t mk_tsval = 1;
static int mk_no_options;

/* A client packet: family 4 or 6, port 40000+flow, timestamps option (TSval mk_tsval). */
static uint32_t mk(uint8_t *buf, int family, int flow, uint32_t seq, uint32_t ack, uint8_t flags,
		   const uint8_t *payload, uint32_t n, uint16_t id)
{
	uint8_t tmpl[80];
	struct packet t;
	uint32_t hl = family == 4 ? 20 : 40;

	memset(tmpl, 0, sizeof(tmpl));
	if (family == 4) {
		tmpl[0] = 0x45;
		tmpl[2] = 0;
		tmpl[3] = 52;
		tmpl[6] = 0x40;
		tmpl[8] = 64;
		tmpl[9] = 6;
		memcpy(tmpl + 12, "\xc6\x12\x01\x02\xc6\x12\x02\x02", 8);
		tmpl[12 + 3] = (uint8_t)(2 + flow / 200);
	} else {
		tmpl[0] = 0x60;
		tmpl[1] = 0x01;
		tmpl[5] = 32;
		tmpl[6] = 6;
		tmpl[7] = 64;
		memcpy(tmpl + 8, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\x02", 16);
		memcpy(tmpl + 24, "\x20\x01\x0d\xb8\x00\x02\0\0\0\0\0\0\0\0\0\x02", 16);
	}
	put_be16(tmpl + hl, (uint16_t)(40000 + flow % 200));
	put_be16(tmpl + hl + 2, 443);
	put_be32(tmpl + hl + 8, ack);
	tmpl[hl + 12] = mk_no_options ? 5 << 4 : 8 << 4;
	put_be16(tmpl + hl + 14, 501);
	memcpy(tmpl + hl + 20, "\x01\x01\x08\x0a\0\0\0\x01\0\0\0\x02", 12);
	put_be32(tmpl + hl + 24, mk_tsval);
	if (family == 4)
		tmpl[3] = (uint8_t)(mk_no_options ? 40 : 52);
	else
		tmpl[5] = (uint8_t)(mk_no_options ? 20 : 32);
	packet_parse(&t, tmpl, hl + (mk_no_options ? 20 : 32));
	return packet_build_segment(buf, 2048, &t, seq, payload, n, flags, id);
}

static struct engine *make(struct engine_config *cfg)
{
	struct engine *e;

	nout = 0;
	pieces_tried = 0;
	fail_from = -1;
	memset(originals, 0, sizeof(originals));
	memset(discards, 0, sizeof(discards));
	e = engine_create(cfg, capture, NULL);
	if (e)
		engine_set_discard(e, count_discard);
	return e;
}

static int feed(struct engine *e, const uint8_t *pkt, uint32_t len, uint8_t tag, uint64_t now)
{
	uint8_t meta[PACKET_META_SIZE];

	memset(meta, 0, sizeof(meta));
	meta[0] = tag;
	return engine_packet(e, pkt, len, meta, now);
}

/* Invariants 1-3 on out[from..to): the payloads concatenate to stream
 * (starting at stream offset start, seq base+start), checksums valid, PSH/FIN
 * only on the last, IPv4 IDs distinct. Returns the number of failures. */
static int check_split(int from, int to, uint32_t base, uint32_t start, const uint8_t *stream, uint32_t len,
		       uint32_t first_len)
{
	uint32_t pos = start;
	int i, j, bad = 0;

	for (i = from; i < to; i++) {
		struct packet p;

		if (packet_parse(&p, out[i].data, out[i].len) != PACKET_TCP || !packet_checksums_ok(out[i].data, out[i].len))
			return 1000;
		bad += p.seq != base + pos;
		bad += pos + p.payload_len > start + len ||
		       memcmp(p.data + p.payload_off, stream + (pos - start), p.payload_len) != 0;
		bad += i < to - 1 && (p.flags & (TCP_PSH | TCP_FIN));
		bad += i == from && first_len && p.payload_len != first_len;
		for (j = from; j < i; j++) {
			struct packet q;

			packet_parse(&q, out[j].data, out[j].len);
			bad += p.family == 4 && packet_ipv4_id(&p) == packet_ipv4_id(&q);
		}
		pos += p.payload_len;
	}
	bad += pos != start + len;
	return bad;
}

static uint32_t payload_len_of(int i)
{
	struct packet p;

	packet_parse(&p, out[i].data, out[i].len);
	return p.payload_len;
}

static void single_packet_hello(int family)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;
	struct packet p;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	n = mk(pkt, family, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 2);
	CHECK_EQ(check_split(0, 2, 1000, 0, hello_blocked, sizeof(hello_blocked), 5), 0);
	packet_parse(&p, out[1].data, out[1].len);
	CHECK_EQ(p.flags, TCP_ACK | TCP_PSH);
	CHECK_EQ(p.ack, 5000);
	CHECK_EQ(out[0].meta, 1);
	if (family == 4) {
		packet_parse(&p, out[0].data, out[0].len);
		CHECK_EQ(packet_ipv4_id(&p), 100);
		packet_parse(&p, out[1].data, out[1].len);
		CHECK_EQ(packet_ipv4_id(&p), 101);
	}
	CHECK_EQ(engine_stats(e)->flows_split, 1);
	CHECK_EQ(engine_stats(e)->segments_emitted, 2);
	CHECK_EQ(engine_stats(e)->held_bytes, 0);
	/* the server answered: the next client packet acks more, the flow is done */
	n = mk(pkt, family, 1, 1517, 6000, TCP_ACK | TCP_PSH, (const uint8_t *)"\x14\x03\x03\x00\x01\x01", 6, 102);
	CHECK_EQ(feed(e, pkt, n, 1, 10), ENGINE_PASS | ENGINE_DONE);
	/* a late retransmission of the hello now passes as it is */
	n = mk(pkt, family, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 103);
	CHECK_EQ(feed(e, pkt, n, 1, 20), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 2);
	engine_destroy(e);
}

static void markers_and_retransmission(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;
	char err[100];
	const uint32_t o = HELLO_BLOCKED_SNI_OFF;

	engine_config_defaults(&cfg);
	split_spec_parse(&cfg.positions, "1,sni,midsld,sniend", err, sizeof(err));
	e = make(&cfg);
	n = mk(pkt, 4, 2, 7, 9, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 5);
	CHECK_EQ(check_split(0, 5, 7, 0, hello_blocked, sizeof(hello_blocked), 1), 0);
	CHECK_EQ(payload_len_of(1), o - 1);
	CHECK_EQ(payload_len_of(2), 7);          /* "www.blo" */
	CHECK_EQ(payload_len_of(3), 12);         /* "cked.example" */
	/* invariant 4: the same bytes again are cut the same way */
	CHECK_EQ(feed(e, pkt, n, 1, 300), ENGINE_STOLEN);
	CHECK_EQ(nout, 10);
	CHECK_EQ(check_split(5, 10, 7, 0, hello_blocked, sizeof(hello_blocked), 1), 0);
	CHECK_EQ(engine_stats(e)->resplit_retransmits, 1);
	/* a retransmission of the tail only: cut at the positions inside it */
	n = mk(pkt, 4, 2, 7 + 100, 9, TCP_ACK | TCP_PSH, hello_blocked + 100, sizeof(hello_blocked) - 100, 2);
	CHECK_EQ(feed(e, pkt, n, 1, 600), ENGINE_STOLEN);
	CHECK_EQ(nout, 14);
	CHECK_EQ(check_split(10, 14, 7, 100, hello_blocked + 100, sizeof(hello_blocked) - 100, o - 100), 0);
	/* bytes after the last cut: nothing to cut, passes */
	n = mk(pkt, 4, 2, 7 + o + 19, 9, TCP_ACK | TCP_PSH, hello_blocked + o + 19, sizeof(hello_blocked) - o - 19, 3);
	CHECK_EQ(feed(e, pkt, n, 1, 900), ENGINE_PASS);
	CHECK_EQ(nout, 14);
	engine_destroy(e);
}

static void two_packet_hello(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048];
	uint32_t na, nb;
	struct packet p;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	na = mk(a, 4, 3, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	nb = mk(b, 4, 3, 400, 2, TCP_ACK | TCP_PSH, hello_blocked + 300, sizeof(hello_blocked) - 300, 11);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 0);
	CHECK(engine_stats(e)->held_bytes > 0);
	CHECK_EQ(engine_next_timeout(e, 100), 150);
	CHECK_EQ(feed(e, b, nb, 2, 5), ENGINE_STOLEN);
	CHECK_EQ(nout, 3);
	CHECK_EQ(check_split(0, 3, 100, 0, hello_blocked, sizeof(hello_blocked), 5), 0);
	CHECK_EQ(payload_len_of(1), 295);        /* cut at the original packet boundary too */
	packet_parse(&p, out[2].data, out[2].len);
	CHECK_EQ(p.ack, 2);                       /* header of the packet that carried it */
	CHECK_EQ(out[2].meta, 2);
	CHECK_EQ(out[1].meta, 1);
	CHECK_EQ(engine_stats(e)->held_bytes, 0);
	CHECK_EQ(engine_next_timeout(e, 5), UINT32_MAX);
	engine_destroy(e);
}

static void timeout_releases_in_order(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048];
	uint32_t na, nb;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	na = mk(a, 4, 4, 100, 1, TCP_ACK, hello_blocked, 100, 10);
	nb = mk(b, 4, 4, 200, 1, TCP_ACK, hello_blocked + 100, 100, 11);
	CHECK_EQ(feed(e, a, na, 1, 1000), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 1100), ENGINE_STOLEN);
	engine_tick(e, 1249);
	CHECK_EQ(nout, 0);
	engine_tick(e, 1250);
	CHECK_EQ(nout, 2);
	CHECK(out[0].len == na && !memcmp(out[0].data, a, na));
	CHECK(out[1].len == nb && !memcmp(out[1].data, b, nb));
	CHECK_EQ(engine_stats(e)->failopen_timeout, 1);
	CHECK_EQ(engine_stats(e)->held_bytes, 0);
	nb = mk(b, 4, 4, 300, 1, TCP_ACK, hello_blocked + 200, 317, 12);
	CHECK_EQ(feed(e, b, nb, 2, 1300), ENGINE_PASS | ENGINE_DONE);
	engine_destroy(e);
}

static void not_tls_and_immediate(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048];
	uint32_t na;
	static const uint8_t get[] = "GET / HTTP/1.1\r\nHost: www.blocked.example\r\n\r\n";

	engine_config_defaults(&cfg);
	e = make(&cfg);
	na = mk(a, 4, 5, 1, 1, TCP_ACK | TCP_PSH, get, sizeof(get) - 1, 1);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 0);
	CHECK_EQ(engine_stats(e)->failopen_not_tls, 1);
	engine_destroy(e);

	cfg.mode = SPLIT_MODE_IMMEDIATE;
	e = make(&cfg);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 2);
	CHECK_EQ(check_split(0, 2, 1, 0, get, sizeof(get) - 1, 5), 0);
	engine_destroy(e);
}

static void out_of_order_and_overlap(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048], c[2048], evil[200];
	uint32_t na, nb, nc;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	/* A [0,200) then C [300,517) then B [100,300) whose first half differs:
	 * the stream keeps A's bytes there. */
	memset(evil, 'E', sizeof(evil));
	memcpy(evil + 100, hello_blocked + 200, 100);
	na = mk(a, 4, 6, 50, 1, TCP_ACK, hello_blocked, 200, 1);
	nc = mk(c, 4, 6, 350, 1, TCP_ACK | TCP_PSH, hello_blocked + 300, 217, 3);
	nb = mk(b, 4, 6, 150, 1, TCP_ACK, evil, 200, 2);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, c, nc, 3, 1), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 2), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 50, 0, hello_blocked, sizeof(hello_blocked), 5), 0);
	CHECK_EQ(engine_stats(e)->flows_split, 1);
	engine_destroy(e);

	/* a packet from before the first one seen (reordering before us): the
	 * held packet and it pass unchanged, in arrival order */
	e = make(&cfg);
	na = mk(a, 4, 6, 1000, 1, TCP_ACK, hello_blocked, 100, 1);
	nb = mk(b, 4, 6, 900, 1, TCP_ACK, hello_blocked, 100, 2);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 1), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 1);
	CHECK(out[0].len == na && !memcmp(out[0].data, a, na));
	CHECK_EQ(engine_stats(e)->failopen_error, 1);
	engine_destroy(e);
}

static void gso_super_packet(void)
{
	struct engine_config cfg;
	struct engine *e;
	static uint8_t big[3000], pkt[4096];
	uint32_t n;
	int i, bad = 0;

	engine_config_defaults(&cfg);
	memcpy(big, hello_blocked, sizeof(hello_blocked));
	for (i = (int)sizeof(hello_blocked); i < (int)sizeof(big); i++)
		big[i] = (uint8_t)i;
	e = make(&cfg);
	{
		/* build by hand: mk's buffer is 2048 */
		uint8_t small[2048];
		struct packet t;

		mk(small, 4, 7, 1, 1, TCP_ACK | TCP_PSH, big, 10, 1);
		packet_parse(&t, small, 20 + 32 + 10);
		n = packet_build_segment(pkt, sizeof(pkt), &t, 1, big, sizeof(big), TCP_ACK | TCP_PSH, 1);
	}
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 4);
	for (i = 0; i < nout; i++)
		bad += payload_len_of(i) > 1460 - 12;
	CHECK_EQ(bad, 0);
	CHECK_EQ(check_split(0, nout, 1, 0, big, sizeof(big), 5), 0);
	engine_destroy(e);
}

static void held_packet_limit(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[3][2048];
	uint32_t n[3];
	int i;

	engine_config_defaults(&cfg);
	cfg.max_held_pkts = 2;
	e = make(&cfg);
	for (i = 0; i < 3; i++)
		n[i] = mk(p[i], 4, 8, (uint32_t)(1 + 100 * i), 1, TCP_ACK, hello_blocked + 100 * i, 100, (uint16_t)i);
	CHECK_EQ(feed(e, p[0], n[0], 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, p[1], n[1], 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, p[2], n[2], 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 2);
	CHECK(!memcmp(out[0].data, p[0], n[0]) && !memcmp(out[1].data, p[1], n[1]));
	CHECK_EQ(engine_stats(e)->failopen_held_limit, 1);
	engine_destroy(e);
}

static void held_bytes_evicts_oldest(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048];
	uint32_t n;
	int i;

	engine_config_defaults(&cfg);
	cfg.max_held_bytes = 65536;          /* 32 blocks of 2 KiB */
	e = make(&cfg);
	for (i = 0; i < 32; i++) {
		n = mk(p, 4, 10 + i, 1, 1, TCP_ACK, hello_blocked, 100, (uint16_t)i);
		CHECK_EQ(feed(e, p, n, (uint8_t)i, (uint64_t)i), ENGINE_STOLEN);
	}
	CHECK_EQ(engine_stats(e)->held_bytes, 65536);
	CHECK_EQ(nout, 0);
	n = mk(p, 4, 50, 1, 1, TCP_ACK, hello_blocked, 100, 99);
	CHECK_EQ(feed(e, p, n, 50, 40), ENGINE_STOLEN);
	CHECK_EQ(nout, 1);
	CHECK_EQ(out[0].meta, 0);               /* the oldest flow gave way */
	CHECK_EQ(engine_stats(e)->failopen_held_limit, 1);
	CHECK_EQ(engine_stats(e)->held_bytes_peak, 65536);
	engine_release_all(e);
	CHECK_EQ(nout, 33);
	CHECK_EQ(engine_stats(e)->failopen_shutdown, 32);
	CHECK_EQ(engine_stats(e)->held_bytes, 0);
	engine_destroy(e);
}

static void table_full_and_gc(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048];
	uint32_t n;
	int i;

	engine_config_defaults(&cfg);
	cfg.max_flows = 16;
	e = make(&cfg);
	for (i = 0; i < 16; i++) {
		n = mk(p, 4, 100 + i, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
		CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	}
	n = mk(p, 4, 150, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(engine_stats(e)->failopen_table_full, 1);
	CHECK_EQ(engine_flow_count(e), 16);
	engine_tick(e, 9000);                                /* split flows are kept 10 s */
	CHECK_EQ(engine_flow_count(e), 16);
	engine_tick(e, 11000);
	CHECK_EQ(engine_flow_count(e), 0);
	CHECK_EQ(feed(e, p, n, 1, 11001), ENGINE_STOLEN);    /* room again */
	engine_destroy(e);
}

static void rst_fin_syn(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048], q[2048];
	uint32_t n, m;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	n = mk(p, 4, 200, 1, 1, TCP_ACK, hello_blocked, 100, 1);
	m = mk(q, 4, 200, 101, 1, TCP_ACK | TCP_RST, NULL, 0, 2);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, q, m, 1, 1), ENGINE_PASS | ENGINE_DONE);   /* held one released first */
	CHECK_EQ(nout, 1);
	/* a FIN inside the hello: nothing more will come */
	n = mk(p, 4, 201, 1, 1, TCP_ACK, hello_blocked, 100, 1);
	m = mk(q, 4, 201, 101, 1, TCP_ACK | TCP_FIN, hello_blocked + 100, 10, 2);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, q, m, 1, 1), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 2);
	/* a SYN on a finished tuple starts a new flow */
	n = mk(p, 4, 202, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	m = mk(q, 4, 202, 5000, 0, TCP_SYN, NULL, 0, 2);
	CHECK_EQ(feed(e, q, m, 1, 1), ENGINE_PASS);
	n = mk(p, 4, 202, 5001, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 3);
	CHECK_EQ(feed(e, p, n, 1, 2), ENGINE_STOLEN);
	CHECK_EQ(engine_stats(e)->flows_split, 2);
	/* no SYN seen (the rules never queue one): a hello at a new sequence
	 * number on a finished tuple is a new connection, split again */
	n = mk(p, 4, 202, 5518, 9, TCP_ACK | TCP_PSH, (const uint8_t *)"\x17\x03\x03\x00\x01\x01", 6, 4);
	CHECK_EQ(feed(e, p, n, 1, 3), ENGINE_PASS | ENGINE_DONE);    /* the answer was seen: done */
	n = mk(p, 4, 202, 777777, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 5);
	CHECK_EQ(feed(e, p, n, 1, 4), ENGINE_STOLEN);
	CHECK_EQ(engine_stats(e)->flows_split, 3);
	/* but the old hello retransmitted, or a hello-like record inside the
	 * window, is not a new connection */
	n = mk(p, 4, 202, 777777, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 6);
	CHECK_EQ(feed(e, p, n, 1, 5), ENGINE_STOLEN);                  /* re-split, same flow */
	CHECK_EQ(engine_stats(e)->flows_split, 3);
	CHECK_EQ(engine_stats(e)->resplit_retransmits, 1);
	/* the second segment first (not TLS: passes), then the hello's start
	 * 300 bytes before it: the same connection, passed as it is */
	n = mk(p, 4, 203, 5300, 1, TCP_ACK | TCP_PSH, hello_blocked + 300, sizeof(hello_blocked) - 300, 1);
	CHECK_EQ(feed(e, p, n, 1, 6), ENGINE_PASS | ENGINE_DONE);
	n = mk(p, 4, 203, 5000, 1, TCP_ACK, hello_blocked, 300, 2);
	CHECK_EQ(feed(e, p, n, 1, 7), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(engine_stats(e)->flows_split, 3);
	/* a hello far behind the old start (sequence numbers wrapped since, or
	 * a random initial one) is a new connection too */
	n = mk(p, 4, 202, 777777u - 0x80000000u - 1000u, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 7);
	CHECK_EQ(feed(e, p, n, 1, 8), ENGINE_STOLEN);
	CHECK_EQ(engine_stats(e)->flows_split, 4);
	/* a finished flow is forgotten after 10 s without packets, and so is a
	 * split one still waiting for its answer */
	engine_tick(e, 9000);
	CHECK_EQ(engine_flow_count(e), 4);
	engine_tick(e, 12000);
	CHECK_EQ(engine_flow_count(e), 0);
	/* its hello retransmitted later is a new flow, split again */
	n = mk(p, 4, 202, 777777u - 0x80000000u - 1000u, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 8);
	CHECK_EQ(feed(e, p, n, 1, 30000), ENGINE_STOLEN);
	CHECK_EQ(engine_stats(e)->flows_split, 5);
	engine_destroy(e);
}

static void observe_changes_nothing(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048];
	uint32_t n;

	engine_config_defaults(&cfg);
	cfg.observe = 1;
	e = make(&cfg);
	n = mk(p, 4, 300, 1, 1, TCP_ACK, hello_blocked, 100, 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS);
	n = mk(p, 4, 300, 101, 1, TCP_ACK | TCP_PSH, hello_blocked + 100, sizeof(hello_blocked) - 100, 2);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS);
	CHECK_EQ(nout, 0);
	CHECK_EQ(engine_stats(e)->flows_split, 1);
	engine_destroy(e);
}

static void handshake_mode_two_records(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048];
	uint32_t na, nb;
	char err[64];

	engine_config_defaults(&cfg);
	cfg.complete = TLS_COMPLETE_HANDSHAKE;
	split_spec_parse(&cfg.positions, "sni+3", err, sizeof(err));
	e = make(&cfg);
	na = mk(a, 6, 400, 1, 1, TCP_ACK, hello_two_records, 105, 0);
	nb = mk(b, 6, 400, 106, 1, TCP_ACK | TCP_PSH, hello_two_records + 105, sizeof(hello_two_records) - 105, 0);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);     /* record mode would have split here */
	CHECK_EQ(nout, 0);
	CHECK_EQ(feed(e, b, nb, 2, 0), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 1, 0, hello_two_records, sizeof(hello_two_records), 105), 0);
	CHECK_EQ(nout, 3);
	CHECK_EQ(payload_len_of(1), HELLO_BLOCKED_SNI_OFF + 5 + 3 - 105);
	engine_destroy(e);
}

static void overflow(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t rec[600], p[2048];
	uint32_t n;

	engine_config_defaults(&cfg);
	cfg.max_buffer = 1024;
	/* a consistent 16 KiB hello: 43 bytes of fixed fields, then one big padding extension */
	memset(rec, 0, sizeof(rec));
	memcpy(rec, "\x16\x03\x01\x40\x00\x01\x00\x3f\xfc\x03\x03", 11);
	memcpy(rec + 5 + 4 + 34, "\x00\x00\x02\x13\x01\x01\x00\x3f\xd1\x00\x15\x3f\xcd", 13);
	e = make(&cfg);
	n = mk(p, 4, 500, 1, 1, TCP_ACK, rec, sizeof(rec), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(engine_stats(e)->failopen_overflow, 1);
	CHECK_EQ(nout, 0);
	engine_destroy(e);
}

static void non_target_and_garbage(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048];
	uint32_t n;
	int i;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	n = mk(p, 4, 600, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	put_be16(p + 22, 8443);                              /* not a target port */
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS);
	CHECK_EQ(engine_stats(e)->flows, 0);
	for (i = 0; i < 200; i++) {                          /* garbage of every length */
		memset(p, i, sizeof(p));
		feed(e, p, (uint32_t)i * 7, 1, 0);
	}
	CHECK_EQ(nout, 0);
	CHECK(engine_stats(e)->pass_malformed > 0);
	engine_destroy(e);
}

static void host_lists(void)
{
	struct engine_config cfg;
	struct engine *e;
	struct hostlist inc, exc;
	uint8_t p[2048];
	uint32_t n;
	char err[100];

	memset(&inc, 0, sizeof(inc));
	memset(&exc, 0, sizeof(exc));
	hostlist_add(&inc, "other.example", 13, err, sizeof(err));
	engine_config_defaults(&cfg);
	e = make(&cfg);
	engine_set_hostlists(e, &inc, NULL);
	/* two packets: the held one goes out unchanged, the second passes */
	n = mk(p, 4, 700, 1, 1, TCP_ACK, hello_blocked, 100, 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	n = mk(p, 4, 700, 101, 1, TCP_ACK | TCP_PSH, hello_blocked + 100, sizeof(hello_blocked) - 100, 2);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 1);
	CHECK_EQ(payload_len_of(0), 100);
	CHECK_EQ(engine_stats(e)->pass_hostlist, 1);
	/* listed: split */
	hostlist_add(&inc, "blocked.example", 15, err, sizeof(err));
	n = mk(p, 4, 701, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(engine_stats(e)->flows_split, 1);
	/* excluded wins */
	hostlist_add(&exc, "www.blocked.example", 19, err, sizeof(err));
	engine_set_hostlists(e, &inc, &exc);
	n = mk(p, 4, 702, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(engine_stats(e)->pass_hostlist, 2);
	/* no SNI: never on an include list */
	engine_set_hostlists(e, &inc, NULL);
	n = mk(p, 4, 703, 1, 1, TCP_ACK | TCP_PSH, hello_nosni, sizeof(hello_nosni), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	engine_set_hostlists(e, NULL, &exc);
	n = mk(p, 4, 704, 1, 1, TCP_ACK | TCP_PSH, hello_nosni, sizeof(hello_nosni), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	engine_destroy(e);
	hostlist_free(&inc);
	hostlist_free(&exc);
}

static struct packet parsed(int i)
{
	struct packet p;

	packet_parse(&p, out[i].data, out[i].len);
	return p;
}

/* Piece i carries the TSval of its timestamps option (IPv4, as mk builds it). */
static uint32_t tsval_of(int i)
{
	return get_be32(out[i].data + 20 + 24);
}

/* A consistent ClientHello record of n bytes (n >= 56): no SNI, one padding extension. */
static void big_hello(uint8_t *rec, uint32_t n)
{
	memset(rec, 0, n);
	memcpy(rec, "\x16\x03\x01", 3);
	put_be16(rec + 3, (uint16_t)(n - 5));
	rec[5] = 1;
	rec[7] = (uint8_t)((n - 9) >> 8);
	rec[8] = (uint8_t)(n - 9);
	memcpy(rec + 9, "\x03\x03", 2);
	memcpy(rec + 5 + 4 + 34, "\x00\x00\x02\x13\x01\x01\x00", 7);
	put_be16(rec + 50, (uint16_t)(n - 52));
	put_be16(rec + 52, 0x0015);
	put_be16(rec + 54, (uint16_t)(n - 56));
}

/* Held [0,100) and [200,517), then [0,517) with FIN|PSH (a retransmission
 * covering them, newer timestamps): four pieces, FIN|PSH on the last only
 * (where the stream ends), and no TSval older than the one before it. */
static void retransmission_covering_held_pieces(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048], c[2048];
	uint32_t na, nb, nc;
	int i;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	mk_tsval = 100;
	na = mk(a, 4, 900, 1000, 7, TCP_ACK, hello_blocked, 100, 1);
	nb = mk(b, 4, 900, 1200, 7, TCP_ACK, hello_blocked + 200, sizeof(hello_blocked) - 200, 2);
	mk_tsval = 160;
	nc = mk(c, 4, 900, 1000, 7, TCP_ACK | TCP_PSH | TCP_FIN, hello_blocked, sizeof(hello_blocked), 3);
	mk_tsval = 1;
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 1), ENGINE_STOLEN);
	CHECK_EQ(feed(e, c, nc, 3, 2), ENGINE_STOLEN);
	CHECK_EQ(nout, 4);
	CHECK_EQ(check_split(0, 4, 1000, 0, hello_blocked, sizeof(hello_blocked), 5), 0);
	CHECK_EQ(payload_len_of(2), 100);                  /* [100,200) from the retransmission */
	CHECK_EQ(out[3].meta, 2);
	for (i = 0; i < 3; i++)
		CHECK_EQ(parsed(i).flags, TCP_ACK);
	CHECK_EQ(parsed(3).flags, TCP_ACK | TCP_PSH | TCP_FIN);
	for (i = 0; i < 4; i++)
		CHECK_EQ(tsval_of(i), 160);
	engine_destroy(e);
}

/* RST, CWR, ECE and URG each go where they belong when a packet is cut. */
static void flags_on_pieces(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t p[2048], q[2048];
	uint32_t n, m, i;
	char err[100];
	const uint32_t o = HELLO_BLOCKED_SNI_OFF;
	static const uint8_t all = TCP_ACK | TCP_PSH | TCP_RST | TCP_CWR | TCP_ECE | TCP_URG;

	engine_config_defaults(&cfg);
	split_spec_parse(&cfg.positions, "1,sni,midsld,sniend", err, sizeof(err));
	e = make(&cfg);
	n = mk(p, 4, 910, 7, 9, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(nout, 5);
	/* the retransmission with every flag; urgent data up to byte o + 2 ("www") */
	n = mk(p, 4, 910, 7, 9, all, hello_blocked, sizeof(hello_blocked), 2);
	put_be16(p + 20 + 18, (uint16_t)(o + 3));
	packet_set_checksums(p, n);
	CHECK_EQ(feed(e, p, n, 1, 1), ENGINE_STOLEN | ENGINE_DONE);
	CHECK_EQ(nout, 10);
	CHECK_EQ(check_split(5, 10, 7, 0, hello_blocked, sizeof(hello_blocked), 1), 0);
	CHECK_EQ(parsed(5).flags, TCP_ACK | TCP_CWR | TCP_ECE);
	CHECK_EQ(parsed(6).flags, TCP_ACK | TCP_ECE);
	CHECK_EQ(parsed(7).flags, TCP_ACK | TCP_ECE | TCP_URG);     /* [o, o+7): "www.blo" */
	CHECK_EQ(parsed(8).flags, TCP_ACK | TCP_ECE);
	CHECK_EQ(parsed(9).flags, TCP_ACK | TCP_ECE | TCP_PSH | TCP_RST);
	for (i = 5; i < 10; i++) {
		struct packet x = parsed((int)i);

		CHECK_EQ(packet_urgent_pointer(&x), i == 7 ? 3 : 0);
	}
	/* an urgent pointer beyond the packet: on its last piece, rebased */
	n = mk(p, 4, 911, 7, 9, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, p, n, 1, 2), ENGINE_STOLEN);
	n = mk(p, 4, 911, 7, 9, TCP_ACK | TCP_URG, hello_blocked, sizeof(hello_blocked), 2);
	put_be16(p + 20 + 18, (uint16_t)(sizeof(hello_blocked) + 10));
	packet_set_checksums(p, n);
	nout = 0;
	CHECK_EQ(feed(e, p, n, 1, 3), ENGINE_STOLEN);
	CHECK_EQ(nout, 5);
	for (i = 0; i < 5; i++) {
		struct packet x = parsed((int)i);

		CHECK_EQ(x.flags & TCP_URG, i == 4 ? TCP_URG : 0);
		CHECK_EQ(packet_urgent_pointer(&x), i == 4 ? sizeof(hello_blocked) + 10 - (x.seq - 7) : 0);
	}
	/* a split: CWR of any packet on the first piece only, ECE where it was */
	n = mk(p, 4, 912, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	m = mk(q, 4, 912, 400, 1, TCP_ACK | TCP_PSH | TCP_CWR | TCP_ECE, hello_blocked + 300,
	       sizeof(hello_blocked) - 300, 11);
	nout = 0;
	CHECK_EQ(feed(e, p, n, 1, 4), ENGINE_STOLEN);
	CHECK_EQ(feed(e, q, m, 2, 5), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 100, 0, hello_blocked, sizeof(hello_blocked), 1), 0);
	CHECK_EQ(parsed(0).flags, TCP_ACK | TCP_CWR);
	for (i = 1; i + 1 < (uint32_t)nout; i++)
		CHECK_EQ(parsed((int)i).flags & (TCP_CWR | TCP_PSH), 0);
	CHECK_EQ(parsed(nout - 1).flags, TCP_ACK | TCP_PSH | TCP_ECE);
	engine_destroy(e);
}

/* Pieces no larger than the flow's largest original segment. */
static void pieces_fit_the_segments(void)
{
	struct engine_config cfg;
	struct engine *e;
	static uint8_t hello[2700];        /* a hello of 1900 bytes, then other data */
	uint8_t p[2048];
	uint32_t n;
	int i, over;

	for (i = 1900; i < (int)sizeof(hello); i++)
		hello[i] = (uint8_t)i;
	big_hello(hello, 1900);
	engine_config_defaults(&cfg);
	/* PPPoE (MTU 1492) without TCP options: segments of 1452 bytes; a GSO
	 * retransmission of the whole hello is cut at 1452, not 1460 */
	mk_no_options = 1;
	e = make(&cfg);
	n = mk(p, 4, 920, 1, 1, TCP_ACK, hello, 1452, 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	n = mk(p, 4, 920, 1453, 1, TCP_ACK | TCP_PSH, hello + 1452, 1900 - 1452, 2);
	CHECK_EQ(feed(e, p, n, 2, 1), ENGINE_STOLEN);
	CHECK_EQ(nout, 3);
	nout = 0;
	n = mk(p, 4, 920, 1, 1, TCP_ACK | TCP_PSH, hello, 1900, 3);
	CHECK_EQ(feed(e, p, n, 3, 2), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 1, 0, hello, 1900, 5), 0);
	for (i = over = 0; i < nout; i++)
		over += payload_len_of(i) > 1452;
	CHECK_EQ(over, 0);
	CHECK_EQ(nout, 3);
	mk_no_options = 0;
	engine_destroy(e);

	/* a hello in two segments of 1200 and 700: no piece over 1200, neither
	 * of a GSO retransmission nor of a held GSO packet */
	e = make(&cfg);
	n = mk(p, 4, 921, 1, 1, TCP_ACK, hello, 1200, 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	n = mk(p, 4, 921, 1201, 1, TCP_ACK | TCP_PSH, hello + 1200, 700, 2);
	CHECK_EQ(feed(e, p, n, 2, 1), ENGINE_STOLEN);
	n = mk(p, 4, 921, 1, 1, TCP_ACK | TCP_PSH, hello, 1900, 3);
	CHECK_EQ(feed(e, p, n, 3, 2), ENGINE_STOLEN);
	CHECK_EQ(check_split(3, nout, 1, 0, hello, 1900, 5), 0);
	for (i = over = 0; i < nout; i++)
		over += payload_len_of(i) > 1200;
	CHECK_EQ(over, 0);
	nout = 0;
	n = mk(p, 4, 922, 1, 1, TCP_ACK, hello, 1200, 1);
	CHECK_EQ(feed(e, p, n, 1, 3), ENGINE_STOLEN);
	n = mk(p, 4, 922, 1201, 1, TCP_ACK | TCP_PSH, hello + 1200, 1500, 2);
	CHECK_EQ(feed(e, p, n, 2, 4), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 1, 0, hello, 2700, 5), 0);
	for (i = over = 0; i < nout; i++)
		over += payload_len_of(i) > 1200;
	CHECK_EQ(over, 0);
	CHECK_EQ(nout, 4);
	engine_destroy(e);
	/* when only a GSO packet was seen: the MSS, as before */
	e = make(&cfg);
	n = mk(p, 4, 923, 1, 1, TCP_ACK | TCP_PSH, hello, 1900, 1);
	CHECK_EQ(feed(e, p, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(check_split(0, nout, 1, 0, hello, 1900, 5), 0);
	CHECK_EQ(nout, 3);
	CHECK_EQ(payload_len_of(1), 1448);
	engine_destroy(e);
}

/* Every packet the engine stole is later let go exactly once: unchanged
 * (ENGINE_EMIT_ORIGINAL) or discarded after its bytes left in pieces. */
static void stolen_packets_decided_once(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048], c[2048];
	uint32_t na, nb, nc;

	engine_config_defaults(&cfg);
	/* split: the held packet and the current one are discarded, no original */
	e = make(&cfg);
	na = mk(a, 4, 20, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	nb = mk(b, 4, 20, 400, 1, TCP_ACK | TCP_PSH, hello_blocked + 300, sizeof(hello_blocked) - 300, 11);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(discards[1] + originals[1], 0);
	CHECK_EQ(feed(e, b, nb, 2, 1), ENGINE_STOLEN);
	CHECK_EQ(discards[1], 1);
	CHECK_EQ(discards[2], 1);
	CHECK_EQ(originals[1] + originals[2], 0);
	/* a retransmission re-split: discarded too */
	nc = mk(c, 4, 20, 100, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 12);
	CHECK_EQ(feed(e, c, nc, 3, 2), ENGINE_STOLEN);
	CHECK_EQ(discards[3], 1);
	engine_destroy(e);

	/* a held packet beyond the window's gap leaves unchanged after the pieces */
	e = make(&cfg);
	na = mk(a, 4, 21, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	nb = mk(b, 4, 21, 400, 1, TCP_ACK | TCP_PSH, hello_blocked + 300, sizeof(hello_blocked) - 300, 11);
	nc = mk(c, 4, 21, 100 + 600, 1, TCP_ACK, hello_blocked, 50, 12);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, c, nc, 3, 1), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 2), ENGINE_STOLEN);
	CHECK_EQ(discards[1] + discards[2], 2);
	CHECK_EQ(originals[3], 1);
	CHECK_EQ(discards[3], 0);
	CHECK_EQ(out[nout - 1].kind, ENGINE_EMIT_ORIGINAL);
	CHECK(out[nout - 1].len == nc && !memcmp(out[nout - 1].data, c, nc));
	engine_destroy(e);

	/* timeout and shutdown: originals, no discard */
	e = make(&cfg);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	na = mk(a, 4, 22, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	CHECK_EQ(feed(e, a, na, 2, 100), ENGINE_STOLEN);
	engine_tick(e, 250);
	CHECK_EQ(originals[1], 1);
	CHECK_EQ(originals[2], 0);
	engine_release_all(e);
	CHECK_EQ(originals[2], 1);
	CHECK_EQ(discards[1] + discards[2], 0);
	engine_destroy(e);
}

/* A piece that cannot be sent: the split stops, the held packets leave
 * unchanged (ENGINE_EMIT_ORIGINAL: by verdict on Linux), the current one
 * passes, the flow passes from now on, counted with its errno. */
static void emit_failure_fails_open(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048], b[2048];
	uint32_t na, nb;

	engine_config_defaults(&cfg);
	e = make(&cfg);
	fail_from = 1;                 /* the first piece leaves, the second fails */
	fail_errno = EPERM;
	na = mk(a, 4, 23, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	nb = mk(b, 4, 23, 400, 1, TCP_ACK | TCP_PSH, hello_blocked + 300, sizeof(hello_blocked) - 300, 11);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(feed(e, b, nb, 2, 1), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(pieces_tried, 2);     /* nothing tried after the failure */
	CHECK_EQ(nout, 2);
	CHECK_EQ(out[0].kind, ENGINE_EMIT_PIECE);
	CHECK_EQ(out[1].kind, ENGINE_EMIT_ORIGINAL);
	CHECK(out[1].len == na && !memcmp(out[1].data, a, na));
	CHECK_EQ(originals[1], 1);
	CHECK_EQ(discards[1] + discards[2] + originals[2], 0);
	CHECK_EQ(engine_stats(e)->failopen_emit, 1);
	CHECK_EQ(engine_stats(e)->failopen_emit_errno, EPERM);
	CHECK_EQ(engine_stats(e)->flows_split, 0);
	CHECK_EQ(engine_stats(e)->held_bytes, 0);
	CHECK_EQ(engine_next_timeout(e, 1), UINT32_MAX);
	/* its retransmission passes too, untouched */
	fail_from = -1;
	CHECK_EQ(feed(e, b, nb, 3, 2), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 2);
	engine_destroy(e);

	/* one packet, its first piece fails: it passes, nothing is emitted */
	e = make(&cfg);
	fail_from = 0;
	fail_errno = ENOBUFS;
	na = mk(a, 6, 24, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 0);
	CHECK_EQ(discards[1] + originals[1], 0);
	CHECK_EQ(engine_stats(e)->failopen_emit, 1);
	CHECK_EQ(engine_stats(e)->failopen_emit_errno, ENOBUFS);
	engine_destroy(e);

	/* a retransmission re-split whose pieces fail passes, and so does the flow */
	e = make(&cfg);
	na = mk(a, 4, 25, 1, 1, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 1);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	fail_from = pieces_tried;
	fail_errno = EMSGSIZE;
	CHECK_EQ(feed(e, a, na, 2, 300), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(discards[2] + originals[2], 0);
	CHECK_EQ(engine_stats(e)->failopen_emit, 1);
	CHECK_EQ(engine_stats(e)->failopen_emit_errno, EMSGSIZE);
	CHECK_EQ(engine_stats(e)->resplit_retransmits, 0);
	engine_destroy(e);
}

/* A held packet larger than the MSS (a GSO super-packet) is cut when it is
 * released; when a piece fails, it leaves whole instead. */
static void emit_failure_oversized_original(void)
{
	struct engine_config cfg;
	struct engine *e;
	uint8_t a[2048];
	uint32_t na;

	engine_config_defaults(&cfg);
	cfg.mss = 100;
	e = make(&cfg);
	na = mk(a, 4, 26, 100, 1, TCP_ACK, hello_blocked, 300, 10);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	fail_from = 1;
	fail_errno = EPERM;
	engine_tick(e, 250);
	CHECK_EQ(pieces_tried, 2);
	CHECK_EQ(originals[1], 1);
	CHECK_EQ(discards[1], 0);
	CHECK_EQ(out[nout - 1].kind, ENGINE_EMIT_ORIGINAL);
	CHECK(out[nout - 1].len == na && !memcmp(out[nout - 1].data, a, na));
	CHECK_EQ(engine_stats(e)->failopen_timeout, 1);
	engine_destroy(e);

	/* pieces that leave: the original is discarded */
	e = make(&cfg);
	CHECK_EQ(feed(e, a, na, 1, 0), ENGINE_STOLEN);
	engine_tick(e, 250);
	CHECK_EQ(nout, 4);
	CHECK_EQ(originals[1], 0);
	CHECK_EQ(discards[1], 1);
	engine_destroy(e);
}

/* ---- learning: the chooser's cuts, the outcome of each split flow */

struct learn_probe {
	struct split_spec spec;
	int rung, pass, chooses, reports;
	enum engine_outcome last;
	int last_rung;
	char name[64];
	enum engine_learned answer;
};

static void probe_choose(void *ctx, const uint8_t *name, uint32_t len, struct engine_choice *c)
{
	struct learn_probe *lp = ctx;

	lp->chooses++;
	snprintf(lp->name, sizeof(lp->name), "%.*s", (int)len, (const char *)name);
	c->spec = lp->pass ? NULL : &lp->spec;
	c->rung = lp->rung;
	c->why = "test";
}

static enum engine_learned probe_outcome(void *ctx, const struct engine_outcome_event *ev)
{
	struct learn_probe *lp = ctx;

	lp->reports++;
	lp->last = ev->outcome;
	lp->last_rung = ev->rung;
	return lp->answer;
}

/* A server packet of client flow `flow` (mk's addresses and ports swapped). */
static uint32_t mk_reply(uint8_t *buf, int family, int flow, uint32_t seq, uint8_t flags, const uint8_t *payload,
			 uint32_t n)
{
	uint32_t len = mk(buf, family, flow, seq, 1, flags, payload, n, 7), hl = family == 4 ? 20 : 40, alen = family == 4 ? 4 : 16;
	uint32_t so = family == 4 ? 12 : 8;
	uint8_t tmp[16];
	uint16_t port;

	memcpy(tmp, buf + so, alen);
	memcpy(buf + so, buf + so + alen, alen);
	memcpy(buf + so + alen, tmp, alen);
	port = get_be16(buf + hl);
	put_be16(buf + hl, get_be16(buf + hl + 2));
	put_be16(buf + hl + 2, port);
	packet_set_checksums(buf, len);
	return len;
}

static struct engine *make_learning(struct engine_config *cfg, struct learn_probe *lp, const char *spec, int rung)
{
	struct engine *e;
	char err[80];

	memset(lp, 0, sizeof(*lp));
	CHECK_EQ(split_spec_parse(&lp->spec, spec, err, sizeof(err)), 0);
	lp->rung = rung;
	lp->last_rung = -99;
	lp->answer = ENGINE_LEARN_KEPT;
	e = make(cfg);
	CHECK_EQ(engine_set_learner(e, probe_choose, probe_outcome, lp), 0);
	return e;
}

static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00};
static const uint8_t server_alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};

static void learn_success_and_chosen_cuts(int family)
{
	struct engine_config cfg;
	struct learn_probe lp;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;

	engine_config_defaults(&cfg);
	e = make_learning(&cfg, &lp, "1,midsld", 3);
	n = mk(pkt, family, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	CHECK_EQ(lp.chooses, 1);
	CHECK(!strcmp(lp.name, "www.blocked.example"));
	/* the chooser's cuts, not --split-at's 5: 1, then the middle of "blocked" */
	CHECK_EQ(nout, 3);
	CHECK_EQ(payload_len_of(0), 1);
	CHECK_EQ(check_split(0, 3, 1000, 0, hello_blocked, sizeof(hello_blocked), 1), 0);
	/* a pure ACK and a packet of another flow say nothing */
	n = mk_reply(pkt, family, 1, 9000, TCP_ACK, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 5), ENGINE_PASS);
	n = mk_reply(pkt, family, 2, 9000, TCP_ACK | TCP_RST, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 5), ENGINE_PASS);
	CHECK_EQ(lp.reports, 0);
	/* the server's first record: a success at the chosen rung, reported once */
	n = mk_reply(pkt, family, 1, 9000, TCP_ACK | TCP_PSH, server_hello, sizeof(server_hello));
	CHECK_EQ(engine_reply(e, pkt, n, 10), ENGINE_PASS);
	CHECK_EQ(lp.reports, 1);
	CHECK_EQ(lp.last, ENGINE_OUTCOME_SUCCESS);
	CHECK_EQ(lp.last_rung, 3);
	n = mk_reply(pkt, family, 1, 9100, TCP_ACK | TCP_RST, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 11), ENGINE_PASS);
	CHECK_EQ(lp.reports, 1);
	CHECK_EQ(engine_stats(e)->learn_successes, 1);
	CHECK_EQ(engine_stats(e)->learn_failures, 0);
	CHECK_EQ(engine_stats(e)->replies_seen, 4);
	engine_destroy(e);
}

/* Reset, FIN, an alert or a block page before any handshake record. */
static void learn_failures(void)
{
	struct engine_config cfg;
	struct learn_probe lp;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;

	engine_config_defaults(&cfg);
	e = make_learning(&cfg, &lp, "5", 0);
	lp.answer = ENGINE_LEARN_MOVED;
	n = mk(pkt, 4, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	n = mk_reply(pkt, 4, 1, 9000, TCP_ACK | TCP_RST, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 10), ENGINE_PASS);
	CHECK_EQ(lp.reports, 1);
	CHECK_EQ(lp.last, ENGINE_OUTCOME_RESET);
	CHECK_EQ(lp.last_rung, 0);
	CHECK_EQ(engine_stats(e)->learn_moves, 1);
	/* an alert (no handshake record) and then a FIN: a failure by FIN */
	n = mk(pkt, 4, 2, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 2, 20), ENGINE_STOLEN);
	n = mk_reply(pkt, 4, 2, 9000, TCP_ACK | TCP_PSH, server_alert, sizeof(server_alert));
	CHECK_EQ(engine_reply(e, pkt, n, 21), ENGINE_PASS);
	CHECK_EQ(lp.reports, 1);
	n = mk_reply(pkt, 4, 2, 9007, TCP_ACK | TCP_FIN, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 22), ENGINE_PASS);
	CHECK_EQ(lp.reports, 2);
	CHECK_EQ(lp.last, ENGINE_OUTCOME_FIN);
	/* an HTTP block page with the FIN on it */
	n = mk(pkt, 4, 3, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 3, 30), ENGINE_STOLEN);
	n = mk_reply(pkt, 4, 3, 9000, TCP_ACK | TCP_PSH | TCP_FIN, (const uint8_t *)"HTTP/1.1 403", 12);
	CHECK_EQ(engine_reply(e, pkt, n, 31), ENGINE_PASS);
	CHECK_EQ(lp.reports, 3);
	CHECK_EQ(lp.last, ENGINE_OUTCOME_FIN);
	CHECK_EQ(engine_stats(e)->learn_failures, 3);
	CHECK_EQ(engine_stats(e)->learn_moves, 3);
	engine_destroy(e);
}

/* A censor that drops: the hello comes again, unanswered. */
static void learn_silent(void)
{
	struct engine_config cfg;
	struct learn_probe lp;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;
	int i;

	engine_config_defaults(&cfg);
	e = make_learning(&cfg, &lp, "5", 1);
	lp.answer = ENGINE_LEARN_GAVE_UP;
	n = mk(pkt, 4, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_STOLEN);
	for (i = 1; i <= ENGINE_SILENT_RETRANSMITS; i++) {
		CHECK_EQ(lp.reports, 0);
		n = mk(pkt, 4, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), (uint16_t)(100 + i));
		CHECK_EQ(feed(e, pkt, n, 1, (uint64_t)i * 200), ENGINE_STOLEN);   /* still cut the same way */
	}
	CHECK_EQ(lp.reports, 1);
	CHECK_EQ(lp.last, ENGINE_OUTCOME_SILENT);
	CHECK_EQ(lp.last_rung, 1);
	CHECK_EQ(engine_stats(e)->learn_gave_up, 1);
	/* more retransmissions report nothing more */
	n = mk(pkt, 4, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 120);
	CHECK_EQ(feed(e, pkt, n, 1, 2000), ENGINE_STOLEN);
	CHECK_EQ(lp.reports, 1);
	engine_destroy(e);
}

/* No split gets through: the hello passes unsplit, nothing is observed. */
static void learn_pass_and_limits(void)
{
	struct engine_config cfg;
	struct learn_probe lp;
	struct engine *e;
	uint8_t pkt[2048];
	uint32_t n;
	int i;

	engine_config_defaults(&cfg);
	e = make_learning(&cfg, &lp, "5", -1);
	lp.pass = 1;
	n = mk(pkt, 4, 1, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 1, 0), ENGINE_PASS | ENGINE_DONE);
	CHECK_EQ(nout, 0);
	CHECK_EQ(engine_stats(e)->pass_learned, 1);
	CHECK_EQ(engine_stats(e)->flows_split, 0);
	n = mk_reply(pkt, 4, 1, 9000, TCP_ACK | TCP_RST, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 10), ENGINE_PASS | ENGINE_DONE);   /* a done flow: the rules may skip it */
	CHECK_EQ(lp.reports, 0);
	/* rung -1 (a pin): split, never reported */
	lp.pass = 0;
	n = mk(pkt, 4, 2, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 2, 20), ENGINE_STOLEN);
	n = mk_reply(pkt, 4, 2, 9000, TCP_ACK | TCP_RST, NULL, 0);
	CHECK_EQ(engine_reply(e, pkt, n, 21), ENGINE_PASS);
	CHECK_EQ(lp.reports, 0);
	/* every outcome slot busy: the next split flow is not observed, counted;
	 * a slot comes back when its flow is forgotten */
	lp.rung = 0;
	for (i = 0; i <= ENGINE_OBSERVED_MAX; i++) {
		n = mk(pkt, 4, 100 + i, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
		feed(e, pkt, n, 3, 30);
	}
	CHECK_EQ(engine_stats(e)->learn_unobserved, 1);
	engine_tick(e, 60000);      /* idle split flows are forgotten (GC) */
	engine_tick(e, 80000);
	n = mk(pkt, 4, 5000, 1000, 5000, TCP_ACK | TCP_PSH, hello_blocked, sizeof(hello_blocked), 100);
	CHECK_EQ(feed(e, pkt, n, 4, 80001), ENGINE_STOLEN);
	n = mk_reply(pkt, 4, 5000, 9000, TCP_ACK | TCP_RST, NULL, 0);
	engine_reply(e, pkt, n, 80002);
	CHECK_EQ(lp.reports, 1);
	CHECK_EQ(engine_stats(e)->learn_unobserved, 1);
	engine_destroy(e);
}

void test_engine(void)
{
	learn_success_and_chosen_cuts(4);
	learn_success_and_chosen_cuts(6);
	learn_failures();
	learn_silent();
	learn_pass_and_limits();
	retransmission_covering_held_pieces();
	flags_on_pieces();
	pieces_fit_the_segments();
	host_lists();
	single_packet_hello(4);
	single_packet_hello(6);
	markers_and_retransmission();
	two_packet_hello();
	timeout_releases_in_order();
	not_tls_and_immediate();
	out_of_order_and_overlap();
	gso_super_packet();
	held_packet_limit();
	held_bytes_evicts_oldest();
	table_full_and_gc();
	rst_fin_syn();
	observe_changes_nothing();
	handshake_mode_two_records();
	overflow();
	non_target_and_garbage();
	stolen_packets_decided_once();
	emit_failure_fails_open();
	emit_failure_oversized_original();
}
