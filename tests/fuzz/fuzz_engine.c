/* fuzz_engine.c — the whole engine under a hostile packet sequence, checked
 * against the split invariants of doc/design.md on everything it lets out.
 *
 * The input is decoded into an engine configuration with small limits (so
 * that --max-flows, --max-held-pkts, --max-held-bytes and --max-buffer are
 * hit) and a sequence of operations: packets of four client flows (IPv4 or
 * IPv6, sequence numbers relative to a base, payload slices of a real
 * ClientHello or of fuzz bytes, SYN/FIN/RST/PSH/URG, retransmissions,
 * overlaps carrying different bytes, bad checksums, link padding), raw fuzz
 * packets, clock steps with engine_tick, and engine_release_all.
 *
 * Every packet handed to the engine carries its serial number in its meta, so
 * each emitted packet names the packet whose bytes it carries. Checked:
 *   - every emitted packet parses, with valid checksums unless it is an
 *     original left unchanged; headers are those of its packet except lengths,
 *     IPv4 ID, seq, flags, urgent pointer, timestamps and checksums; its
 *     payload is that packet's bytes at the same sequence numbers; no payload
 *     larger than the packet that carried it or the MSS, no built packet
 *     longer than the connection's largest packet within the MSS; no byte of
 *     a packet emitted twice; only packets the engine stole are emitted (the
 *     current one only when stolen);
 *   - flags of a built segment: its packet's, except FIN/PSH/RST (only where
 *     the bytes they came with end: the last segment of a split or of its
 *     packet, and the FIN of a packet whose bytes a split covers is there),
 *     CWR (only on the first), URG (only on the segment holding the urgent
 *     byte, pointer rebased, else pointer 0); timestamps never older than its
 *     packet's, the client's own, and never going back along a split;
 *   - per connection, the first copy of a stream byte that leaves (emitted
 *     segments and passed originals, in order) is the first copy the client
 *     sent: nothing reordered, nothing invented;
 *   - a split: its segments tile the window from its first byte, none crosses
 *     a cut, the first ends at or before the first cut, PSH/FIN only on the
 *     last, IPv4 IDs count up from the first packet's; cuts sorted, unique,
 *     inside the window; later packets inside the window are cut the same way
 *     while the engine still holds the flow; after ENGINE_DONE every packet
 *     of the flow passes, unless a new ClientHello starts a new connection;
 *   - held_bytes within --max-held-bytes; after engine_release_all held_bytes
 *     is 0, no timeout pending, and every byte of every stolen packet has left
 *     since it was stolen (nothing lost).
 */
#include <string.h>

#include "engine.h"
#include "fuzz.h"
#include "hostlist.h"
#include "ref_packet.h"
#include "../unit/vectors.h"

#define MAX_PKTS 256                 /* packets handed to the engine per input */
#define MAX_CALLS 1024               /* engine calls per input */
#define MAX_PAYLOAD 4400             /* payload of a built packet (GSO-sized at most) */
#define MAX_RAW 2048
#define MAX_TRACKS 16                /* connections (tuple between SYNs) followed */
#define TRACK_NEG 256                /* stream offsets followed: [-TRACK_NEG, TRACK_POS) */
#define TRACK_POS 9216
#define TRACK_SPAN (TRACK_NEG + TRACK_POS)
#define MAX_OUT 8192                 /* emitted packets remembered per call */
#define ARENA_SIZE (4u << 20)
#define NFLOWS 4
#define BLOB_MAX 4096

#define SENT 1
#define LEFT 2

struct track {
	uint8_t key[40];             /* family, ports, addresses */
	uint32_t base;               /* sequence number of stream offset 0 */
	int live;                    /* the newest connection of its tuple */
	uint64_t last_seen_ms;
	uint8_t state[TRACK_SPAN];   /* SENT | LEFT */
	uint8_t sent[TRACK_SPAN];    /* first copy the client sent */
	uint32_t last_leave[TRACK_SPAN];
	/* the engine split this connection and has not let it go since */
	int injected;
	uint32_t split_base, window, ncuts, cuts[SPLIT_MAX_POSITIONS];
	/* the engine answered ENGINE_DONE for it: it must pass all that follows */
	int done;
	/* IP length of its largest payload packet within the MSS: of all, and of
	 * those since the engine may have forgotten the flow (which then cuts at
	 * the MSS until it sees one) */
	uint32_t largest, largest_recent;
	uint8_t flags_seen;          /* TCP flags of all its packets */
	/* TSvals of its packets: the first, and whether one lies 2^30 or more
	 * from it (then "newest" has no meaning the checks could rely on) */
	int ts_seen, ts_wild;
	uint32_t ts_first;
};

struct rec {
	const uint8_t *data;
	uint32_t size;               /* bytes handed over (link padding included) */
	int tcp;                     /* packet_parse said PACKET_TCP */
	struct ref_view v;
	uint32_t seq, ack, plen, poff;
	uint8_t flags;
	int track;                   /* -1: not followed */
	uint32_t call;               /* when it was handed over */
	int verdict;                 /* -1 until engine_packet returns */
	uint8_t *emitted;            /* per payload byte: copies emitted */
};

struct out {
	uint32_t src, seq, plen;
	uint16_t ip_id;
	uint8_t flags;
	int original, track;
	int has_ts;
	uint32_t tsval;
};

struct hflow {
	int family, port, dport, ip_options, tcp_options;
	uint8_t ttl, tos, df;
	uint32_t base, ack, flow_label, next_off, tsval;
	uint16_t ip_id;
	const uint8_t *content;
	uint32_t content_len;
	uint8_t blob[BLOB_MAX];
};

struct split_event {
	int seen, track;
	uint32_t ncuts, window, cuts[SPLIT_MAX_POSITIONS];
};

static struct run {
	struct engine_config cfg;
	struct engine *engine;
	struct hflow flows[NFLOWS];
	struct track tracks[MAX_TRACKS];
	int ntracks;
	struct rec pkts[MAX_PKTS];
	uint32_t npkts;
	uint8_t arena[ARENA_SIZE];
	uint32_t arena_used;
	uint32_t call;               /* number of the engine call running */
	int64_t current;             /* packet of the running engine_packet, -1 otherwise */
	struct out outs[MAX_OUT];
	uint32_t nouts;
	int outs_overflow;
	struct split_event split;
	uint64_t now;
} R;

static struct hostlist list_blocked, list_example, list_www;

/* FUZZ_TRACE=1 in the environment prints every call and emitted packet,
 * to read a crash input. */
static int trace;

static int64_t trace_rel(int track, uint32_t seq)
{
	return track < 0 ? (int64_t)seq : (int64_t)(int32_t)(seq - R.tracks[track].base);
}

/* ---- input reading */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint32_t take8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t take16(struct input *in)
{
	uint32_t hi = take8(in);

	return hi << 8 | take8(in);
}

static uint32_t take32(struct input *in)
{
	uint32_t hi = take16(in);

	return hi << 16 | take16(in);
}

static void *arena_alloc(uint32_t n)
{
	void *p;

	n = (n + 7) & ~7u;
	if (R.arena_used + n > ARENA_SIZE)
		return NULL;
	p = R.arena + R.arena_used;
	R.arena_used += n;
	memset(p, 0, n);
	return p;
}

/* ---- connections as the client sees them */

static void key_of(const uint8_t *d, const struct ref_view *v, uint8_t key[40])
{
	memset(key, 0, 40);
	key[0] = (uint8_t)v->family;
	memcpy(key + 1, d + v->hl, 4);    /* ports */
	if (v->family == 4)
		memcpy(key + 5, d + 12, 8);
	else
		memcpy(key + 5, d + 8, 32);
}

static int track_find(const uint8_t key[40])
{
	int i;

	for (i = R.ntracks - 1; i >= 0; i--)
		if (R.tracks[i].live && !memcmp(R.tracks[i].key, key, 40))
			return i;
	return -1;
}

static int track_new(const uint8_t key[40], uint32_t base)
{
	struct track *t;
	int old = track_find(key);

	if (old >= 0)
		R.tracks[old].live = 0;
	if (R.ntracks == MAX_TRACKS)
		return -1;
	t = &R.tracks[R.ntracks];
	memcpy(t->key, key, 40);
	t->base = base;
	t->live = 1;
	t->injected = 0;
	t->done = 0;
	t->largest = t->largest_recent = 0;
	t->flags_seen = 0;
	t->ts_seen = t->ts_wild = 0;
	t->last_seen_ms = 0;
	memset(t->state, 0, sizeof(t->state));
	return R.ntracks++;
}

/* Stream offset of sequence number seq in track t, or -1 when not followed. */
static int64_t track_index(const struct track *t, uint32_t seq)
{
	int64_t rel = (int32_t)(seq - t->base);

	return rel < -TRACK_NEG || rel >= TRACK_POS ? -1 : rel + TRACK_NEG;
}

static void track_sent(int ti, uint32_t seq, const uint8_t *b, uint32_t n)
{
	struct track *t = &R.tracks[ti];
	uint32_t i;

	for (i = 0; i < n; i++) {
		int64_t x = track_index(t, seq + i);

		if (x >= 0 && !(t->state[x] & SENT)) {
			t->state[x] |= SENT;
			t->sent[x] = b[i];
		}
	}
}

/* Bytes leaving for the server: the first copy of each must be the client's first. */
static void track_left(int ti, uint32_t seq, const uint8_t *b, uint32_t n)
{
	struct track *t = &R.tracks[ti];
	uint32_t i;

	for (i = 0; i < n; i++) {
		int64_t x = track_index(t, seq + i);

		if (x < 0)
			continue;
		FUZZ_ASSERT(t->state[x] & SENT, "stream byte %lld leaves but the client never sent it",
			    (long long)x - TRACK_NEG);
		if (!(t->state[x] & LEFT)) {
			FUZZ_ASSERT(b[i] == t->sent[x],
				    "first copy of stream byte %lld to leave is 0x%02x, the client sent 0x%02x first",
				    (long long)x - TRACK_NEG, b[i], t->sent[x]);
			t->state[x] |= LEFT;
		}
		t->last_leave[x] = R.call;
	}
}

/* Inside the window of a split flow nothing may leave whole across a cut. */
static void check_not_across_cut(const struct track *t, uint32_t seq, uint32_t n, const char *what)
{
	int64_t o = (int32_t)(seq - t->split_base);
	uint32_t i;

	if (!t->injected || o < 0 || o >= t->window)
		return;
	for (i = 0; i < t->ncuts; i++)
		FUZZ_ASSERT(!(o < t->cuts[i] && t->cuts[i] < o + n),
			    "%s bytes %lld..%lld of a split window leave across cut %u", what, (long long)o,
			    (long long)o + n, t->cuts[i]);
}

/* The engine may stop re-splitting a flow once the client acks server data
 * (an ack after the hello's) or after --packet-cap payload packets. */
static int may_let_go(uint32_t id)
{
	const struct rec *p = &R.pkts[id];
	uint32_t i, count = 0;
	int acked = 0;

	for (i = 0; i < id; i++) {
		const struct rec *q = &R.pkts[i];

		if (q->track != p->track || !q->tcp || !q->plen || (q->flags & TCP_SYN))
			continue;
		count++;
		if ((p->flags & TCP_ACK) && (int32_t)(p->ack - q->ack) > 0)
			acked = 1;
	}
	return acked || count + 1 >= engine_packet_cap(&R.cfg) || (p->flags & TCP_RST);
}

/* ---- the engine's side */

static uint32_t payload_limit(int family, uint32_t tcp_hl)
{
	uint32_t mss = R.cfg.mss ? R.cfg.mss : family == 4 ? 1460 : 1440, options = tcp_hl - 20;

	return mss > options + 1 ? mss - options : 1;
}

static void make_meta(uint8_t meta[PACKET_META_SIZE], uint32_t id)
{
	int i;

	memcpy(meta, &id, 4);
	for (i = 4; i < PACKET_META_SIZE; i++)
		meta[i] = (uint8_t)(id * 7 + (uint32_t)i);
}

static uint32_t meta_id(const uint8_t *meta)
{
	uint32_t id;
	int i;

	memcpy(&id, meta, 4);
	FUZZ_ASSERT(id < R.npkts, "emitted meta names packet %u of %u", id, R.npkts);
	for (i = 4; i < PACKET_META_SIZE; i++)
		FUZZ_ASSERT(meta[i] == (uint8_t)(id * 7 + (uint32_t)i), "meta of packet %u corrupted at byte %d", id, i);
	return id;
}

/* URG only on the segment holding the urgent byte (one before the pointer),
 * or when it lies beyond the packet on its last segment; the pointer rebased
 * to the segment's start. Without URG the pointer is 0, or the packet's own
 * when the packet had no URG either. */
static void check_urgent(const uint8_t *e, const struct ref_view *ev, const struct rec *s)
{
	uint32_t hl = ev->hl, seq = ref_be32(e + hl + 4), plen = ev->len - hl - ev->tcp_hl;
	uint32_t ptr = ref_be16(e + hl + 18), urp = ref_be16(s->data + s->v.hl + 18);
	uint32_t from = seq - s->seq, urgent = urp - 1;

	if (!(s->flags & TCP_URG)) {
		FUZZ_ASSERT(!(e[hl + 13] & TCP_URG) && ptr == urp, "urgent pointer %u / URG from a packet without URG "
			    "(its pointer %u)", ptr, urp);
		return;
	}
	if (!(e[hl + 13] & TCP_URG)) {
		FUZZ_ASSERT(ptr == 0, "urgent pointer %u without URG", ptr);
		FUZZ_ASSERT(!urp || urgent < from || (urgent >= from + plen && !(urgent >= s->plen && from + plen == s->plen)),
			    "the segment [%u, %u) holds urgent byte %u but has no URG", from, from + plen, urgent);
		return;
	}
	FUZZ_ASSERT(urp && urgent >= from && (urgent < from + plen || (urgent >= s->plen && from + plen == s->plen)),
		    "URG on segment [%u, %u) of a packet whose urgent byte is %u", from, from + plen, urgent);
	FUZZ_ASSERT(ptr == urp - from, "urgent pointer %u, expected %u rebased by %u", ptr, urp, from);
}

/* The timestamps of a built segment: the client's own (some packet of the
 * connection had these 8 bytes), never older than those of its packet. */
static void check_timestamps(const uint8_t *e_ts, const struct rec *s, uint32_t ts)
{
	uint32_t i;
	int found = !memcmp(e_ts, s->data + ts, 8);

	FUZZ_ASSERT(s->track < 0 || R.tracks[s->track].ts_wild || (int32_t)(ref_be32(e_ts) - ref_be32(s->data + ts)) >= 0,
		    "TSval %u older than its packet's %u", ref_be32(e_ts), ref_be32(s->data + ts));
	for (i = 0; !found && i < R.npkts; i++) {
		const struct rec *q = &R.pkts[i];
		uint32_t at = q->tcp && q->track == s->track ? ref_timestamps_at(q->data, q->v.hl, q->v.tcp_hl) : 0;

		found = at && !memcmp(e_ts, q->data + at, 8);
	}
	FUZZ_ASSERT(found, "timestamps option of no packet of the connection");
}

/* Emitted header bytes must be the source packet's, except the fields a
 * segment gets of its own. */
static void check_headers(const uint8_t *e, const struct ref_view *ev, const struct rec *s)
{
	uint32_t i, hl = s->v.hl, headers = s->poff, ts = ref_timestamps_at(s->data, hl, s->v.tcp_hl);
	uint8_t moved = TCP_FIN | TCP_PSH | TCP_RST | TCP_CWR | TCP_URG;

	FUZZ_ASSERT(ev->hl == hl && ev->tcp_hl == s->v.tcp_hl, "header lengths %u+%u, source %u+%u", ev->hl,
		    ev->tcp_hl, hl, s->v.tcp_hl);
	for (i = 0; i < headers; i++) {
		int own = i == hl + 4 || i == hl + 5 || i == hl + 6 || i == hl + 7 || i == hl + 13 || i == hl + 16 ||
			  i == hl + 17 || i == hl + 18 || i == hl + 19 || (ts && i >= ts && i < ts + 8);

		if (s->v.family == 4)
			own |= i == 2 || i == 3 || i == 4 || i == 5 || i == 10 || i == 11;
		else
			own |= i == 4 || i == 5;
		FUZZ_ASSERT(own || e[i] == s->data[i], "header byte %u differs from the packet that carried the bytes", i);
	}
	FUZZ_ASSERT((e[hl + 13] & ~moved) == (s->flags & ~moved), "flags 0x%02x from a packet with 0x%02x", e[hl + 13],
		    s->flags);
	FUZZ_ASSERT(s->track < 0 || !(e[hl + 13] & moved & ~R.tracks[s->track].flags_seen),
		    "flags 0x%02x: FIN/PSH/RST/CWR/URG no packet of the connection had", e[hl + 13]);
	check_urgent(e, ev, s);
	if (ts)
		check_timestamps(e + ts, s, ts);
}

/* ---- learning: a chooser that picks the configured cuts (so the model's
 * cuts stay right) at rung 0, and every packet fed back as a server's
 * answer: engine_reply only observes, it never emits or changes a verdict. */
static int in_reply;
static unsigned reports;

static void on_choose(void *ctx, const uint8_t *name, uint32_t len, struct engine_choice *c)
{
	(void)ctx;
	FUZZ_ASSERT(name && len > 0, "chooser asked about no name");
	c->spec = &R.cfg.positions;
	c->rung = 0;
	c->why = "fuzz";
}

static enum engine_learned on_outcome(void *ctx, const struct engine_outcome_event *ev)
{
	(void)ctx;
	FUZZ_ASSERT(ev->rung == 0 && ev->name_len > 0 && ev->name_len <= ENGINE_NAME_MAX &&
			    (unsigned)ev->outcome <= ENGINE_OUTCOME_SILENT,
		    "outcome report: rung %d, name of %u bytes, outcome %d", ev->rung, ev->name_len, ev->outcome);
	reports++;
	return (enum engine_learned)(reports % 4);
}

static void feed_reply(const uint8_t *pkt, size_t size)
{
	static uint8_t reply[65536 + 64];
	size_t alen, so, hl;
	uint8_t tmp[16];
	int v;

	if (size < 40 || size > sizeof(reply))
		return;
	memcpy(reply, pkt, size);
	if ((reply[0] >> 4) == 4) {
		alen = 4, so = 12, hl = (size_t)(reply[0] & 15) * 4;
	} else {
		alen = 16, so = 8, hl = 40;
	}
	if (size < hl + 4 || so + 2 * alen > size)
		return;
	memcpy(tmp, reply + so, alen);
	memmove(reply + so, reply + so + alen, alen);
	memcpy(reply + so + alen, tmp, alen);
	memcpy(tmp, reply + hl, 2);
	memmove(reply + hl, reply + hl + 2, 2);
	memcpy(reply + hl + 2, tmp, 2);
	in_reply = 1;
	v = engine_reply(R.engine, reply, size, R.now);
	in_reply = 0;
	FUZZ_ASSERT((v & ~ENGINE_DONE) == 0, "engine_reply verdict %d", v);
}

static int on_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	struct ref_view v;
	struct rec *s;
	struct out *o;
	uint32_t id, seq, plen, d, i;
	int original;

	(void)ctx;
	(void)kind;
	FUZZ_ASSERT(!in_reply, "engine_reply emitted a packet");
	FUZZ_ASSERT(!R.cfg.observe, "a packet emitted in observe mode");
	ref_parse(&v, pkt, len);
	FUZZ_ASSERT(v.result == PACKET_TCP && v.len == len, "emitted packet does not parse (%d, %u of %u bytes)",
		    v.result, v.len, len);
	id = meta_id(meta);
	s = &R.pkts[id];
	FUZZ_ASSERT(s->tcp && s->plen > 0, "emitted bytes of packet %u, which carries no payload", id);
	FUZZ_ASSERT((int64_t)id == R.current || (s->verdict >= 0 && (s->verdict & ENGINE_STOLEN)),
		    "emitted packet %u, which the engine passed", id);
	seq = ref_be32(pkt + v.hl + 4);
	plen = len - v.hl - v.tcp_hl;
	original = len == s->v.len && !memcmp(pkt, s->data, len);
	FUZZ_ASSERT(plen <= payload_limit(v.family, v.tcp_hl), "emitted payload %u > limit %u (mss %u)", plen,
		    payload_limit(v.family, v.tcp_hl), R.cfg.mss);
	if (!original) {
		FUZZ_ASSERT(ref_checksums_ok(pkt, len, v.hl, v.family), "bad checksum on a built segment");
		FUZZ_ASSERT(plen > 0, "empty segment built");
		check_headers(pkt, &v, s);
		if (s->track >= 0 && R.tracks[s->track].largest_recent)
			FUZZ_ASSERT(len <= R.tracks[s->track].largest || plen == 1,
				    "built %u bytes, the connection's largest packet within the MSS has %u", len,
				    R.tracks[s->track].largest);
	}
	d = seq - s->seq;
	FUZZ_ASSERT(d < s->plen && plen <= s->plen - d, "segment seq +%u len %u outside its packet's %u bytes", d,
		    plen, s->plen);
	FUZZ_ASSERT(!memcmp(pkt + v.hl + v.tcp_hl, s->data + s->poff + d, plen),
		    "segment bytes differ from its packet's at the same sequence numbers");
	for (i = 0; i < plen; i++)
		FUZZ_ASSERT(s->emitted[d + i]++ == 0, "byte %u of packet %u emitted twice", d + i, id);
	if (s->track >= 0 && !(s->flags & TCP_SYN)) {
		check_not_across_cut(&R.tracks[s->track], seq, plen, "emitted");
		track_left(s->track, seq, pkt + v.hl + v.tcp_hl, plen);
	}
	if (trace)
		fprintf(stderr, "    emit from #%u track %d stream %lld+%u flags 0x%02x id %u%s\n", id, s->track,
			(long long)trace_rel(s->track, seq), plen, pkt[v.hl + 13],
			v.family == 4 ? ref_be16(pkt + 4) : 0, original ? " (original)" : "");
	if (R.nouts == MAX_OUT) {
		R.outs_overflow = 1;
		return 0;
	}
	o = &R.outs[R.nouts++];
	o->src = id;
	o->seq = seq;
	o->plen = plen;
	o->flags = pkt[v.hl + 13];
	o->ip_id = v.family == 4 ? (uint16_t)ref_be16(pkt + 4) : 0;
	o->original = original;
	o->track = s->track;
	{
		uint32_t at = ref_timestamps_at(pkt, v.hl, v.tcp_hl);

		o->has_ts = at != 0;
		o->tsval = at ? ref_be32(pkt + at) : 0;
	}
	return 0;
}

static void on_log(void *ctx, const struct engine_flow_event *ev)
{
	uint8_t key[40];
	uint32_t i;

	(void)ctx;
	if (strcmp(ev->outcome, "split"))
		return;
	FUZZ_ASSERT(!R.split.seen, "two splits in one engine call");
	FUZZ_ASSERT(ev->ncuts >= 0 && ev->ncuts <= SPLIT_MAX_POSITIONS, "%d cuts", ev->ncuts);
	for (i = 0; i < (uint32_t)ev->ncuts; i++)
		FUZZ_ASSERT(ev->cuts[i] > 0 && ev->cuts[i] < ev->window_len && (i == 0 || ev->cuts[i - 1] < ev->cuts[i]),
			    "cut %u = %u (window %u) not sorted/unique/inside", i, ev->cuts[i], ev->window_len);
	memset(key, 0, sizeof(key));
	key[0] = (uint8_t)ev->family;
	key[1] = (uint8_t)(ev->sport >> 8);
	key[2] = (uint8_t)ev->sport;
	key[3] = (uint8_t)(ev->dport >> 8);
	key[4] = (uint8_t)ev->dport;
	memcpy(key + 5, ev->src, ev->family == 4 ? 4 : 16);
	memcpy(key + 5 + (ev->family == 4 ? 4 : 16), ev->dst, ev->family == 4 ? 4 : 16);
	R.split.seen = 1;
	R.split.track = track_find(key);
	R.split.ncuts = (uint32_t)ev->ncuts;
	R.split.window = ev->window_len;
	memcpy(R.split.cuts, ev->cuts, (size_t)ev->ncuts * sizeof(uint32_t));
	if (trace)
		fprintf(stderr, "  split: track %d window %u, %d cuts, first %u\n", R.split.track, ev->window_len, ev->ncuts,
			ev->ncuts ? ev->cuts[0] : 0);
}

/* The emitted segments of a split, in this call: they tile the window. */
static void check_split(void)
{
	struct track *t;
	uint32_t i, first = UINT32_MAX, base = 0, at = 0, prev_src = 0, ntile = 0, last_tile = 0, c;
	int tiling = 1, any_after = 0;

	if (!R.split.seen || R.split.track < 0 || R.cfg.observe || R.outs_overflow)
		return;
	t = &R.tracks[R.split.track];
	for (i = 0; i < R.nouts; i++) {
		const struct out *o = &R.outs[i];

		if (o->track != R.split.track)
			continue;
		if (first == UINT32_MAX) {
			first = i;
			base = o->seq;
			FUZZ_ASSERT(o->ip_id == (R.pkts[o->src].v.family == 4 ? ref_be16(R.pkts[o->src].data + 4) : 0u),
				    "first segment's IPv4 ID is not its packet's");
		}
		if (tiling && o->seq == base + at) {
			/* a segment of the window: no cut inside, IDs counting up */
			for (c = 0; c < R.split.ncuts; c++)
				FUZZ_ASSERT(!(at < R.split.cuts[c] && R.split.cuts[c] < at + o->plen),
					    "split segment %u..%u crosses cut %u", at, at + o->plen, R.split.cuts[c]);
			if (R.pkts[o->src].v.family == 4)
				FUZZ_ASSERT(o->ip_id == (uint16_t)(R.outs[first].ip_id + ntile), "IPv4 ID of segment %u",
					    ntile);
			if (ntile) {
				FUZZ_ASSERT(!(R.outs[last_tile].flags & (TCP_PSH | TCP_FIN | TCP_RST)),
					    "PSH/FIN/RST before the last segment");
				FUZZ_ASSERT(!(o->flags & TCP_CWR), "CWR on split segment %u, not the first", ntile);
				FUZZ_ASSERT(!o->has_ts || !R.outs[last_tile].has_ts || t->ts_wild ||
						    (int32_t)(o->tsval - R.outs[last_tile].tsval) >= 0,
					    "TSval %u of split segment %u older than %u before it", o->tsval, ntile,
					    R.outs[last_tile].tsval);
			}
			at += o->plen;
			last_tile = i;
			ntile++;
			continue;
		}
		/* after the window: packets that lay beyond a gap, unchanged, in order */
		tiling = 0;
		FUZZ_ASSERT(o->original || R.pkts[o->src].plen > payload_limit(R.pkts[o->src].v.family,
										   R.pkts[o->src].v.tcp_hl),
			    "a cut segment after the split window");
		FUZZ_ASSERT(!any_after || o->src >= prev_src, "packets after the window reordered");
		prev_src = o->src;
		any_after = 1;
	}
	FUZZ_ASSERT(first != UINT32_MAX, "split without a segment");
	if (R.current >= 0) {
		/* the packet completing the window ends the stream with its FIN: the last piece has it */
		const struct rec *cur = &R.pkts[R.current];
		uint32_t c_end = cur->seq + cur->plen - base;

		if (cur->track == R.split.track && (cur->flags & TCP_FIN) && cur->plen &&
		    (int32_t)(cur->seq - base) >= 0 && c_end <= at)
			FUZZ_ASSERT(R.outs[last_tile].flags & TCP_FIN, "FIN of packet %lld (stream ..%u) not on the last "
				    "split segment (ends at %u)", (long long)R.current, c_end, at);
	}
	FUZZ_ASSERT(at >= R.split.window, "split segments cover %u bytes of a %u-byte window", at, R.split.window);
	if (R.split.ncuts)
		FUZZ_ASSERT(R.outs[first].plen <= R.split.cuts[0], "first segment %u bytes, first cut at %u",
			    R.outs[first].plen, R.split.cuts[0]);
	t->injected = 1;
	t->split_base = base;
	t->window = R.split.window;
	t->ncuts = R.split.ncuts;
	memcpy(t->cuts, R.split.cuts, sizeof(t->cuts));
}

/* Emissions outside a split: held packets let go unchanged and in order, cut
 * only when larger than the MSS, or the current packet cut again. */
static void check_other_outs(void)
{
	int64_t last_src[MAX_TRACKS];
	uint32_t i;

	if (R.outs_overflow)
		return;
	for (i = 0; i < MAX_TRACKS; i++)
		last_src[i] = -1;
	for (i = 0; i < R.nouts; i++) {
		const struct out *o = &R.outs[i];
		const struct rec *s = &R.pkts[o->src];

		if (R.split.seen && o->track == R.split.track)
			continue;
		FUZZ_ASSERT(o->original || (int64_t)o->src == R.current || s->plen > payload_limit(s->v.family, s->v.tcp_hl),
			    "packet %u cut though it was neither split nor larger than the MSS", o->src);
		if (!o->original) {
			int at_end = o->seq + o->plen == s->seq + s->plen, at_start = o->seq == s->seq;

			FUZZ_ASSERT((o->flags & (TCP_FIN | TCP_PSH | TCP_RST)) ==
					    (at_end ? s->flags & (TCP_FIN | TCP_PSH | TCP_RST) : 0),
				    "FIN/PSH/RST 0x%02x on a piece of packet %u %s its end", o->flags, o->src,
				    at_end ? "at" : "before");
			FUZZ_ASSERT((o->flags & TCP_CWR) == (at_start ? s->flags & TCP_CWR : 0),
				    "CWR 0x%02x on a piece of packet %u %s its start", o->flags, o->src,
				    at_start ? "at" : "after");
		}
		if (o->track < 0)
			continue;                /* connections not followed share no order */
		FUZZ_ASSERT((int64_t)o->src >= last_src[o->track], "held packets released out of order (%u after %lld)",
			    o->src, (long long)last_src[o->track]);
		last_src[o->track] = o->src;
	}
}

static void begin_call(int64_t current)
{
	R.call++;
	R.current = current;
	R.nouts = 0;
	R.outs_overflow = 0;
	memset(&R.split, 0, sizeof(R.split));
}

static void check_stats(void)
{
	const struct stats *st = engine_stats(R.engine);

	FUZZ_ASSERT(st->held_bytes <= R.cfg.max_held_bytes, "held_bytes %llu over the limit %llu",
		    (unsigned long long)st->held_bytes, (unsigned long long)R.cfg.max_held_bytes);
	FUZZ_ASSERT(st->held_bytes_peak >= st->held_bytes, "held_bytes_peak below held_bytes");
	FUZZ_ASSERT(engine_flow_count(R.engine) <= R.cfg.max_flows, "%u flows in a table of %u",
		    engine_flow_count(R.engine), R.cfg.max_flows);
}

/* The payload starts with a TLS handshake record header and a ClientHello type. */
static int starts_hello(const struct rec *r)
{
	const uint8_t *d = r->data + r->poff;

	return r->tcp && r->plen >= 6 && d[0] == 0x16 && d[1] == 0x03 && d[5] == 0x01;
}

/* Hands one packet (size bytes, maybe with link padding) to the engine. */
static void feed(const uint8_t *data, uint32_t size)
{
	uint8_t meta[PACKET_META_SIZE], key[40] = {0};
	struct packet p;
	struct rec *r;
	uint8_t *copy;
	uint32_t id = R.npkts;
	int verdict, ti = -1, was_injected = 0, was_done = 0;
	uint64_t table_full;

	if (R.npkts == MAX_PKTS || R.call >= MAX_CALLS || !(copy = arena_alloc(size ? size : 1)))
		return;
	memcpy(copy, data, size);
	r = &R.pkts[R.npkts++];
	memset(r, 0, sizeof(*r));
	r->data = copy;
	r->size = size;
	r->verdict = -1;
	r->track = -1;
	ref_parse(&r->v, copy, size);
	r->tcp = packet_parse(&p, copy, size) == PACKET_TCP;
	FUZZ_ASSERT(r->tcp == (r->v.result == PACKET_TCP), "packet_parse and the reference disagree");
	if (r->tcp) {
		r->seq = p.seq;
		r->ack = p.ack;
		r->plen = p.payload_len;
		r->poff = p.payload_off;
		r->flags = p.flags;
		if (r->plen && !(r->emitted = arena_alloc(r->plen))) {
			R.npkts--;
			return;
		}
		key_of(copy, &r->v, key);
		ti = track_find(key);
		if (ti < 0 && !(p.flags & TCP_SYN))
			ti = track_new(key, p.seq);
		r->track = ti;
		if (ti >= 0) {
			struct track *t = &R.tracks[ti];

			uint32_t at = ref_timestamps_at(copy, p.ip_header_len, p.tcp_header_len);

			t->last_seen_ms = R.now;
			t->flags_seen |= p.flags;
			if (at && !t->ts_seen) {
				t->ts_seen = 1;
				t->ts_first = ref_be32(copy + at);
			} else if (at && ref_be32(copy + at) - t->ts_first + 0x40000000u >= 0x80000000u) {
				t->ts_wild = 1;
			}
			if (!(p.flags & TCP_SYN)) {
				track_sent(ti, p.seq, copy + p.payload_off, p.payload_len);
				if (starts_hello(r))
					t->largest_recent = 0;   /* maybe a new connection (engine.c) */
				if (p.payload_len && p.payload_len <= payload_limit(p.family, p.tcp_header_len)) {
					if (p.len > t->largest)
						t->largest = p.len;
					if (p.len > t->largest_recent)
						t->largest_recent = p.len;
				}
			}
		}
	}
	if (ti >= 0) {
		struct track *t = &R.tracks[ti];

		/* A ClientHello record header outside the window of a finished flow
		 * starts a new one (engine.c: the rules show it no SYN). */
		if (starts_hello(r) && !(r->flags & TCP_SYN)) {
			t->done = 0;
			if (t->injected && r->seq != t->split_base && r->seq - t->split_base >= t->window)
				t->injected = 0;
		}
		was_injected = t->injected;
		was_done = t->done;
	}
	table_full = engine_stats(R.engine)->failopen_table_full;
	begin_call(id);
	r->call = R.call;
	make_meta(meta, id);
	if (trace)
		fprintf(stderr, "call %u t=%llu: packet #%u %s track %d stream %lld+%u flags 0x%02x\n", R.call,
			(unsigned long long)R.now, id, r->tcp ? "tcp" : "other", ti, (long long)trace_rel(ti, r->seq), r->plen,
			r->flags);
	verdict = engine_packet(R.engine, copy, size, meta, R.now);
	r->verdict = verdict;
	if (trace)
		fprintf(stderr, "  -> %s%s\n", verdict & ENGINE_STOLEN ? "STOLEN" : "PASS", verdict & ENGINE_DONE ? " DONE" : "");
	FUZZ_ASSERT((verdict & ~(ENGINE_STOLEN | ENGINE_DONE)) == 0, "verdict %d", verdict);
	if (verdict & ENGINE_STOLEN) {
		FUZZ_ASSERT(!R.cfg.observe, "stolen in observe mode");
		FUZZ_ASSERT(r->tcp && r->plen > 0 && !(r->flags & TCP_SYN), "stole a packet without payload or a SYN");
	} else {
		uint32_t i;

		for (i = 0; i < R.nouts; i++)
			FUZZ_ASSERT(R.outs[i].src != id || R.outs_overflow, "emitted bytes of the packet it passed");
	}
	check_split();
	check_other_outs();
	feed_reply(copy, size);
	if (ti >= 0 && !(r->flags & TCP_SYN)) {
		struct track *t = &R.tracks[ti];

		/* ENGINE_DONE lets the adapter bypass the engine: nothing may change after it */
		FUZZ_ASSERT(!was_done || (verdict == (ENGINE_PASS | ENGINE_DONE) && R.nouts == 0),
			    "packet %u of a flow the engine had let go: verdict %d, %u packets emitted", id, verdict, R.nouts);
		/* after the split, data beyond the window passes untouched */
		if (was_injected && r->plen && (int32_t)(r->seq - t->split_base) >= 0 &&
		    (int64_t)(int32_t)(r->seq - t->split_base) >= t->window)
			FUZZ_ASSERT(!(verdict & ENGINE_STOLEN), "packet %u beyond the split window stolen", id);

		if (!(verdict & ENGINE_STOLEN)) {
			/* passed: still inside a split window, it must not need a cut */
			if (!(verdict & ENGINE_DONE) && r->plen && !R.split.seen) {
				check_not_across_cut(t, r->seq, r->plen, "passed");
				if (t->injected && (int32_t)(r->seq - t->split_base) >= 0 &&
				    (int64_t)(int32_t)(r->seq - t->split_base) < t->window)
					FUZZ_ASSERT(r->plen <= payload_limit(r->v.family, r->v.tcp_hl),
						    "a %u-byte packet inside a split window passed uncut", r->plen);
			}
			track_left(ti, r->seq, copy + r->poff, r->plen);
		}
		if ((verdict & ENGINE_DONE) && t->injected && r->plen && !(verdict & ENGINE_STOLEN) &&
		    (int32_t)(r->seq - t->split_base) >= 0 && (int64_t)(int32_t)(r->seq - t->split_base) < t->window) {
			uint32_t o = r->seq - t->split_base, c;
			int whole = r->plen > payload_limit(r->v.family, r->v.tcp_hl);

			for (c = 0; c < t->ncuts; c++)
				whole |= o < t->cuts[c] && t->cuts[c] < o + r->plen;
			FUZZ_ASSERT(!whole || may_let_go(id),
				    "packet %u inside the split window passed uncut: nothing let the flow go", id);
		}
		if (verdict & ENGINE_DONE) {
			t->injected = 0;
			t->done = engine_stats(R.engine)->failopen_table_full == table_full;
		}
		if (engine_stats(R.engine)->failopen_table_full != table_full)
			t->largest_recent = 0;   /* no flow: its packets so far did not count */
	}
	if (r->tcp && (r->flags & TCP_SYN))
		track_new(key, r->seq + 1);       /* a new connection on this tuple */
	check_stats();
	R.current = -1;
}

/* The engine may have forgotten a flow idle this long (or the clock went back). */
static void forget_idle_tracks(void)
{
	int i;

	for (i = 0; i < R.ntracks; i++) {
		struct track *t = &R.tracks[i];

		uint64_t idle = R.now / 1000 - t->last_seen_ms / 1000;

		/* engine.c DONE_TIMEOUT_S: finished and split flows go after 10 s */
		if (R.now < t->last_seen_ms || idle >= R.cfg.idle_timeout_s || idle >= 10) {
			t->injected = 0;
			t->done = 0;
			t->largest_recent = 0;
		}
	}
}

static void tick(void)
{
	begin_call(-1);
	if (trace)
		fprintf(stderr, "call %u t=%llu: tick\n", R.call, (unsigned long long)R.now);
	engine_tick(R.engine, R.now);
	forget_idle_tracks();
	check_other_outs();
	check_stats();
	FUZZ_ASSERT(engine_next_timeout(R.engine, R.now) > 0, "a collect timeout still due after engine_tick");
}

static void release_all(void)
{
	begin_call(-1);
	if (trace)
		fprintf(stderr, "call %u: release all\n", R.call);
	engine_release_all(R.engine);
	check_other_outs();
	check_stats();
	FUZZ_ASSERT(engine_stats(R.engine)->held_bytes == 0, "held_bytes %llu after engine_release_all",
		    (unsigned long long)engine_stats(R.engine)->held_bytes);
	FUZZ_ASSERT(engine_next_timeout(R.engine, R.now) == UINT32_MAX, "a timeout pending after engine_release_all");
}

/* Every byte of every stolen packet has left since it was stolen. */
static void check_nothing_lost(void)
{
	uint32_t id, i;

	for (id = 0; id < R.npkts; id++) {
		const struct rec *r = &R.pkts[id];
		const struct track *t;

		if (r->verdict < 0 || !(r->verdict & ENGINE_STOLEN) || r->track < 0)
			continue;
		t = &R.tracks[r->track];
		for (i = 0; i < r->plen; i++) {
			int64_t x = track_index(t, r->seq + i);

			if (x >= 0)
				FUZZ_ASSERT((t->state[x] & LEFT) && t->last_leave[x] >= r->call,
					    "byte %u of stolen packet %u (stream %lld) never left after it was stolen", i, id,
					    (long long)x - TRACK_NEG);
		}
	}
}

/* ---- building the client's packets */

/* Stream byte at offset x of a flow: its content, then a pattern. */
static uint8_t content_byte(const struct hflow *f, int64_t x)
{
	if (x >= 0 && x < f->content_len)
		return f->content[x];
	return (uint8_t)(x * 131 + 7);
}

static uint32_t build(uint8_t *out, const struct hflow *f, uint32_t seq, uint32_t ack, uint8_t flags,
		      const uint8_t *payload, uint32_t n, int bad_sum)
{
	uint32_t hl = f->family == 4 ? 20u + (f->ip_options ? 4u : 0u) : 40u, opt, thl, total;
	static const uint8_t opts[3][40] = {
		{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2},
		{2, 4, 5, 0xb4},
		{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0,
		 5, 0, 0, 0, 6},
	};
	static const uint32_t opt_len[4] = {0, 12, 4, 40};

	opt = opt_len[f->tcp_options];
	thl = 20 + opt;
	total = hl + thl + n;
	memset(out, 0, hl + thl);
	if (f->family == 4) {
		out[0] = (uint8_t)(0x40 | hl / 4);
		out[1] = f->tos;
		out[2] = (uint8_t)(total >> 8);
		out[3] = (uint8_t)total;
		out[4] = (uint8_t)(f->ip_id >> 8);
		out[5] = (uint8_t)f->ip_id;
		out[6] = f->df ? 0x40 : 0;
		out[8] = f->ttl;
		out[9] = 6;
		memcpy(out + 12, "\xc6\x12\x01\x02\xc6\x12\x02\x02", 8);
		if (f->ip_options)
			memcpy(out + 20, "\x01\x01\x01\x00", 4);
	} else {
		out[0] = (uint8_t)(0x60 | f->tos >> 4);
		out[1] = (uint8_t)(f->tos << 4 | (f->flow_label >> 16 & 15));
		out[2] = (uint8_t)(f->flow_label >> 8);
		out[3] = (uint8_t)f->flow_label;
		out[4] = (uint8_t)((total - 40) >> 8);
		out[5] = (uint8_t)(total - 40);
		out[6] = 6;
		out[7] = f->ttl;
		memcpy(out + 8, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\x02", 16);
		memcpy(out + 24, "\x20\x01\x0d\xb8\x00\x02\0\0\0\0\0\0\0\0\0\x02", 16);
	}
	out[hl] = (uint8_t)(f->port >> 8);
	out[hl + 1] = (uint8_t)f->port;
	out[hl + 2] = (uint8_t)(f->dport >> 8);
	out[hl + 3] = (uint8_t)f->dport;
	put_be32(out + hl + 4, seq);
	put_be32(out + hl + 8, ack);
	out[hl + 12] = (uint8_t)(thl / 4 << 4);
	out[hl + 13] = flags;
	out[hl + 14] = 0x01;
	out[hl + 15] = 0xf5;
	if (flags & TCP_URG)
		out[hl + 19] = 1;
	if (f->tcp_options)
		memcpy(out + hl + 20, opts[f->tcp_options - 1], opt);
	if (f->tcp_options == 1 || f->tcp_options == 3)
		put_be32(out + hl + 24, f->tsval);       /* TSval: the client's clock */
	if (n)
		memcpy(out + hl + thl, payload, n);
	ref_set_checksums(out, total, hl, f->family);
	if (bad_sum)
		out[hl + 17] ^= 0x5a;
	return total;
}

static const char *const specs[] = {
	"5", "1", "sni", "sniend", "midsld", "5,midsld", "1,sni,sniend", "sni+1,midsld-1,2",
	"0", "600", "sni-200", "1,2,3,4,5,6,7,8", "sni+5000", "midsld+1,sniend-1", "100,1000,1500", "3,sniend+7",
};

static void configure(struct input *in)
{
	static const uint32_t held_pkts[8] = {1, 2, 3, 4, 6, 8, 16, 32};
	static const uint32_t timeouts[8] = {0, 1, 50, 250, 250, 1000, 5000, 250};
	static const uint64_t held_bytes[8] = {2048, 4096, 6144, 8192, 16384, 32768, 262144, 33554432};
	static const uint32_t buffers[8] = {16, 300, 517, 600, 1500, 2048, 4096, 65536};
	static const uint32_t idles[4] = {1, 5, 30, 120};
	static const uint32_t mss[8] = {0, 64, 100, 536, 1000, 1400, 1460, 9000};
	static const uint64_t starts[4] = {0, 1000, 1000000000, 1ull << 40};
	uint32_t c0 = take8(in), c1 = take8(in), c2 = take8(in), c3 = take8(in), c4 = take8(in), c5 = take8(in);
	char err[128];
	int i, list;

	engine_config_defaults(&R.cfg);
	R.cfg.complete = c0 & 1 ? TLS_COMPLETE_HANDSHAKE : TLS_COMPLETE_RECORD;
	R.cfg.mode = (c0 >> 1 & 7) == 7 ? SPLIT_MODE_IMMEDIATE : SPLIT_MODE_TLS_HELLO;
	R.cfg.observe = (c0 >> 4) == 15;
	list = (int)(c0 >> 4 & 3);
	R.cfg.max_flows = 1 + c1 % 4;
	R.cfg.max_held_pkts = held_pkts[c1 >> 2 & 7];
	R.cfg.collect_timeout_ms = timeouts[c1 >> 5 & 7];
	R.cfg.max_held_bytes = held_bytes[c2 & 7];
	R.cfg.max_buffer = buffers[c2 >> 3 & 7];
	R.cfg.idle_timeout_s = idles[c2 >> 6 & 3];
	R.cfg.mss = mss[c3 & 7];
	R.now = starts[c3 >> 6 & 3];
	FUZZ_ASSERT(split_spec_parse(&R.cfg.positions, specs[c4 % (sizeof(specs) / sizeof(specs[0]))], err,
				     sizeof(err)) == 0, "spec table: %s", err);
	if (c5 & 1)
		R.cfg.ports[80 / 8] |= 1 << (80 % 8);
	R.cfg.hash_key[0] = c5 >> 1;
	R.engine = engine_create(&R.cfg, on_emit, NULL);
	FUZZ_ASSERT(R.engine, "engine_create failed");
	engine_set_logger(R.engine, on_log, NULL);
	FUZZ_ASSERT(engine_set_learner(R.engine, on_choose, on_outcome, NULL) == 0, "engine_set_learner");
	if (list == 1)
		engine_set_hostlists(R.engine, &list_blocked, NULL);
	else if (list == 2)
		engine_set_hostlists(R.engine, NULL, &list_blocked);
	else if (list == 3)
		engine_set_hostlists(R.engine, &list_example, &list_www);
	for (i = 0; i < NFLOWS; i++) {
		struct hflow *f = &R.flows[i];
		uint32_t b = take8(in);
		static const struct {
			const uint8_t *bytes;
			uint32_t len;
		} hellos[4] = {
			{hello_blocked, sizeof(hello_blocked)},
			{hello_two_records, sizeof(hello_two_records)},
			{hello_nosni, sizeof(hello_nosni)},
			{hello_alpn, sizeof(hello_alpn)},
		};

		memset(f, 0, sizeof(*f));
		f->family = b & 1 ? 6 : 4;
		f->port = 40000 + i;
		f->ip_options = b >> 5 & 1;
		f->tcp_options = (int)(b >> 6);
		if ((b >> 1 & 7) < 4) {
			f->content = hellos[b >> 1 & 3].bytes;
			f->content_len = hellos[b >> 1 & 3].len;
		} else {
			f->content = f->blob;
		}
		if (b >> 4 & 1)
			f->port = 40000;                 /* same ports as flow 0: same tuple if same family */
		f->base = take32(in);
		b = take8(in);
		f->ttl = (uint8_t)(64 + (b & 3));
		f->dport = b & 4 ? 80 : 443;            /* a target port only with --ports 80 */
		f->df = b >> 3 & 1;
		f->tos = (uint8_t)(b & 0xf0);
		f->flow_label = b * 0x1357u & 0xfffff;
		f->ack = 0x10000000u + b * 1000u;
		f->ip_id = (uint16_t)(b * 251);
		f->tsval = f->base ^ 0x9e3779b9u;
	}
}

/* One client packet of flow fi from the operation's parameters. */
static void op_packet(struct input *in, uint32_t op)
{
	static uint8_t payload[MAX_PAYLOAD], pkt[MAX_PAYLOAD + 256];
	struct hflow *f = &R.flows[op >> 3 & 3];
	uint32_t shape = op >> 5, p_off = take16(in), p_len = take16(in), flags_in = take8(in), extra = 0;
	uint32_t len, n, i, pad = 0, seq;
	int64_t off;
	uint8_t flags = 0;

	off = shape & 1 ? (int64_t)(p_off % 4200) - 64 : f->next_off;
	if (shape & 2)
		n = p_len % MAX_PAYLOAD;
	else if (p_len & 1 && off < f->content_len)
		n = (uint32_t)(f->content_len - off);   /* the rest of the hello */
	else
		n = p_len % 1500;
	if (n > MAX_PAYLOAD)
		n = MAX_PAYLOAD;
	for (i = 0; i < n; i++)
		payload[i] = content_byte(f, off + i);
	if (shape & 4) {                            /* different bytes than the first copy */
		uint32_t m_start = take16(in), m_len = take8(in), m_xor = take8(in) | 1;

		for (i = 0; n && i < m_len; i++)
			payload[(m_start + i) % n] ^= (uint8_t)m_xor;
	}
	if (flags_in & 1)
		flags |= TCP_PSH;
	if (flags_in & 2)
		flags |= TCP_FIN;
	if ((flags_in & 0x0c) == 0x0c)
		flags |= TCP_RST;
	if ((flags_in & 0x14) == 0x10)
		flags |= TCP_SYN;
	if ((flags_in & 0x24) == 0x24)
		flags |= TCP_URG;
	if ((flags_in & 0x0c) == 0x08)
		flags |= TCP_CWR;
	if ((flags_in & 0x24) == 0x20)
		flags |= TCP_ECE;
	if (!(flags_in & 0x40))
		flags |= TCP_ACK;
	if (flags_in & 0x80)
		extra = take8(in);
	if (extra & 2)
		f->ack += 1 + (extra >> 4);             /* the server answered */
	if (extra & 4)
		pad = extra >> 3 & 15;                  /* link-layer padding */
	seq = f->base + (uint32_t)off;
	if (flags & TCP_SYN)
		seq = f->base - 1;
	f->tsval += 1 + (p_len >> 12);
	len = build(pkt, f, seq, f->ack, flags, payload, n, extra & 1);
	if (flags & TCP_URG) {                      /* 0, inside the payload or beyond it */
		uint32_t hl = f->family == 4 ? 20u + (f->ip_options ? 4u : 0u) : 40u;

		put_be16(pkt + hl + 18, (uint16_t)((p_len * 7 + p_off) % (n + 64)));
		ref_set_checksums(pkt, len, hl, f->family);
		if (extra & 1)
			pkt[hl + 17] ^= 0x5a;
	}
	for (i = 0; i < pad; i++)
		pkt[len + i] = (uint8_t)(0xa0 + i);
	f->ip_id++;
	if (!(flags & TCP_SYN) && off + n > f->next_off)
		f->next_off = (uint32_t)(off + n);
	feed(pkt, len + pad);
}

static void op_time(struct input *in)
{
	static const int64_t steps[16] = {0, 1, 5, 50, 100, 249, 250, 251, 500, 1000, 9999, 10000, 121000, -1, -300,
					  -100000};
	int64_t step = steps[take8(in) & 15];

	if (step < 0 && (uint64_t)-step > R.now)
		R.now = 0;
	else
		R.now = (uint64_t)((int64_t)R.now + step);
	tick();
}

static void op_retransmit(struct input *in)
{
	uint32_t which = take8(in);

	if (R.npkts)
		feed(R.pkts[which % R.npkts].data, R.pkts[which % R.npkts].size);
}

static void op_raw(struct input *in)
{
	uint32_t n = take16(in) % (MAX_RAW + 1);

	if (n > in->left)
		n = (uint32_t)in->left;
	feed(in->p, n);
	in->p += n;
	in->left -= n;
}

static void op_data(struct input *in, uint32_t op)
{
	struct hflow *f = &R.flows[op >> 3 & 3];
	uint32_t n = take16(in) % (BLOB_MAX + 1);

	if (n > in->left)
		n = (uint32_t)in->left;
	memcpy(f->blob, in->p, n);
	f->content = f->blob;
	f->content_len = n;
	in->p += n;
	in->left -= n;
}

static void init_lists(void)
{
	static int done;
	char err[128];

	if (done)
		return;
	done = 1;
	FUZZ_ASSERT(hostlist_add(&list_blocked, "blocked.example", 15, err, sizeof(err)) == 0, "%s", err);
	FUZZ_ASSERT(hostlist_add(&list_example, "example", 7, err, sizeof(err)) == 0, "%s", err);
	FUZZ_ASSERT(hostlist_add(&list_www, "www.blocked.example", 19, err, sizeof(err)) == 0, "%s", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};

	init_lists();
	trace = getenv("FUZZ_TRACE") != NULL;
	R.ntracks = 0;
	R.npkts = 0;
	R.arena_used = 0;
	R.call = 0;
	R.current = -1;
	configure(&in);
	while (in.left && R.npkts < MAX_PKTS && R.call < MAX_CALLS) {
		uint32_t op = take8(&in);

		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			op_packet(&in, op);
			break;
		case 3:
			op_retransmit(&in);
			break;
		case 4:
			op_time(&in);
			break;
		case 5:
			if (op >> 3 == 0)
				release_all();
			else
				op_packet(&in, op);
			break;
		case 6:
			op_raw(&in);
			break;
		case 7:
			op_data(&in, op);
			break;
		}
	}
	release_all();
	check_nothing_lost();
	engine_destroy(R.engine);
	R.engine = NULL;
	return 0;
}
