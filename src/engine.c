/* engine.c — the flow state machine:
 *   NEW → COLLECTING → SPLIT_READY → INJECTED → PASS_THROUGH → CLOSED
 * with every error or limit leading to PASS_THROUGH after the held packets
 * went out unchanged, in order (fail-open). */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hold.h"
#include "ports.h"
#include "reasm.h"

#define DONE_TIMEOUT_S 10
#define GC_FULL_SWEEP_MS 10000

enum failopen_reason {
	FAILOPEN_NOT_TLS,
	FAILOPEN_TIMEOUT,
	FAILOPEN_OVERFLOW,
	FAILOPEN_HELD_LIMIT,
	FAILOPEN_ERROR,
	FAILOPEN_SHUTDOWN,
	FAILOPEN_EMIT,
};

static const char *const failopen_names[] = {
	"failopen_not_tls", "failopen_timeout", "failopen_overflow",
	"failopen_held_limit", "failopen_error", "failopen_shutdown", "failopen_emit",
};

/* A packet taking part in a window: a held one or the current one. */
struct view {
	struct packet pkt;
	const uint8_t *meta;
	uint32_t off;            /* stream offset of its first payload byte */
	uint32_t largest;        /* its flow's flow.largest */
};

/* A split flow awaiting its outcome: the name its cuts were chosen for. */
struct observed {
	uint8_t name[ENGINE_NAME_MAX];
	uint8_t len;
	uint8_t rung;                        /* 0..127: a chooser rung, never -1 here */
	uint16_t next_free;                  /* free list, index + 1 */
};

struct engine {
	struct engine_config cfg;
	engine_emit_fn emit;
	engine_discard_fn discard;
	void *emit_ctx;
	int emit_error;                      /* first failed piece of this call: -errno */
	engine_log_fn log;
	void *log_ctx;
	const struct hostlist *include, *exclude;
	engine_choose_fn choose;
	engine_outcome_fn outcome;
	void *learn_ctx;
	struct observed *observed;           /* ENGINE_OBSERVED_MAX, when learning */
	uint16_t observed_free;              /* free list head, index + 1 */
	struct flow_table table;
	struct hold_pool pool;
	struct stats stats;
	uint32_t oldest, newest;             /* collecting flows, index + 1 */
	uint32_t gc_cursor;
	uint64_t gc_last_ms;
	struct reasm reasm;
	struct view *views;                  /* max_held_pkts + 1 */
	uint8_t *window;                     /* max_buffer bytes */
	uint8_t segment[PACKET_MAX];
};

void engine_config_defaults(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = SPLIT_MODE_TLS_HELLO;
	cfg->complete = TLS_COMPLETE_RECORD;
	cfg->positions.count = 1;
	cfg->positions.pos[0].marker = SPLIT_ABS;
	cfg->positions.pos[0].delta = SPLIT_DEFAULT_POSITION;
	ports_add(cfg->ports, 443);
	cfg->collect_timeout_ms = 250;
	cfg->max_buffer = 65536;
	cfg->max_held_pkts = 32;
	cfg->max_held_bytes = 33554432;
	cfg->max_flows = 65536;
	cfg->idle_timeout_s = 120;
}

struct engine *engine_create(const struct engine_config *cfg, engine_emit_fn emit, void *ctx)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->cfg = *cfg;
	e->emit = emit;
	e->emit_ctx = ctx;
	e->views = calloc(cfg->max_held_pkts + 1, sizeof(*e->views));
	e->window = malloc(cfg->max_buffer);
	if (!e->views || !e->window || flow_table_init(&e->table, cfg->max_flows, cfg->hash_key)) {
		engine_destroy(e);
		return NULL;
	}
	hold_pool_init(&e->pool, cfg->max_held_bytes);
	return e;
}

void engine_set_logger(struct engine *e, engine_log_fn log, void *ctx)
{
	e->log = log;
	e->log_ctx = ctx;
}

void engine_set_discard(struct engine *e, engine_discard_fn discard)
{
	e->discard = discard;
}

void engine_set_hostlists(struct engine *e, const struct hostlist *include, const struct hostlist *exclude)
{
	e->include = include;
	e->exclude = exclude;
}

void engine_destroy(struct engine *e)
{
	uint32_t i;

	if (!e)
		return;
	if (e->table.flows)
		for (i = 0; i < e->table.high_water; i++)
			hold_release(&e->pool, &e->table.flows[i]);
	hold_pool_free(&e->pool);
	flow_table_free(&e->table);
	free(e->observed);
	free(e->views);
	free(e->window);
	free(e);
}

int engine_set_learner(struct engine *e, engine_choose_fn choose, engine_outcome_fn outcome, void *ctx)
{
	uint16_t i;

	if (!e->observed) {
		e->observed = calloc(ENGINE_OBSERVED_MAX, sizeof(*e->observed));
		if (!e->observed)
			return -ENOMEM;
		for (i = 0; i < ENGINE_OBSERVED_MAX; i++)
			e->observed[i].next_free = i + 1 < ENGINE_OBSERVED_MAX ? (uint16_t)(i + 2) : 0;
		e->observed_free = 1;
	}
	e->choose = choose;
	e->outcome = outcome;
	e->learn_ctx = ctx;
	return 0;
}

/* ---- observed flows: a slot per split flow until its outcome */

static void observe_start(struct engine *e, struct flow *f, const uint8_t *name, uint32_t len, int rung)
{
	struct observed *o;

	if (!e->observed || rung < 0 || rung > 127 || len == 0 || len > ENGINE_NAME_MAX)
		return;
	if (!e->observed_free) {
		e->stats.learn_unobserved++;
		return;
	}
	f->observed = e->observed_free;
	o = &e->observed[f->observed - 1];
	e->observed_free = o->next_free;
	memcpy(o->name, name, len);
	o->len = (uint8_t)len;
	o->rung = (uint8_t)rung;
	f->retransmits = 0;
}

static void observe_end(struct engine *e, struct flow *f)
{
	if (!f->observed)
		return;
	e->observed[f->observed - 1].next_free = e->observed_free;
	e->observed_free = f->observed;
	f->observed = 0;
}

/* Reports the outcome of an observed flow, once. */
static void observe_report(struct engine *e, struct flow *f, enum engine_outcome outcome)
{
	const struct observed *o = &e->observed[f->observed - 1];
	struct engine_outcome_event ev;
	enum engine_learned learned;

	memset(&ev, 0, sizeof(ev));
	ev.family = f->key.family;
	ev.src = f->key.src;
	ev.dst = f->key.dst;
	ev.sport = f->key.sport;
	ev.dport = f->key.dport;
	ev.name = o->name;
	ev.name_len = o->len;
	ev.rung = o->rung;
	ev.outcome = outcome;
	if (outcome == ENGINE_OUTCOME_SUCCESS)
		e->stats.learn_successes++;
	else
		e->stats.learn_failures++;
	learned = e->outcome ? e->outcome(e->learn_ctx, &ev) : ENGINE_LEARN_IGNORED;
	if (learned == ENGINE_LEARN_MOVED)
		e->stats.learn_moves++;
	else if (learned == ENGINE_LEARN_GAVE_UP)
		e->stats.learn_gave_up++;
	observe_end(e, f);
}

void engine_set_learned_sites(struct engine *e, uint32_t n)
{
	e->stats.learned_sites = n;
}

const struct stats *engine_stats(const struct engine *e)
{
	return &e->stats;
}

uint32_t engine_flow_count(const struct engine *e)
{
	return e->table.used;
}

static int is_target_port(const struct engine *e, uint16_t port)
{
	return ports_has(e->cfg.ports, port);
}

static struct flow *flow_at(struct engine *e, uint32_t index_plus_one)
{
	return index_plus_one ? &e->table.flows[index_plus_one - 1] : NULL;
}

static void log_flow_choice(struct engine *e, const struct flow *f, const char *outcome, const struct tls_result *tls,
			    const struct engine_choice *choice)
{
	struct engine_flow_event ev;

	if (!e->log)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.rung = choice ? choice->rung : -1;
	ev.chosen_by = choice ? choice->why : NULL;
	ev.family = f->key.family;
	ev.src = f->key.src;
	ev.dst = f->key.dst;
	ev.sport = f->key.sport;
	ev.dport = f->key.dport;
	ev.outcome = outcome;
	if (tls && tls->sni_len) {
		ev.sni = e->window + tls->sni_off;
		ev.sni_len = tls->sni_len;
	}
	ev.ncuts = f->ncuts;
	ev.cuts = f->cuts;
	ev.window_len = f->window_len;
	ev.observe = e->cfg.observe;
	e->log(e->log_ctx, &ev);
}

static void log_flow(struct engine *e, const struct flow *f, const char *outcome, const struct tls_result *tls)
{
	log_flow_choice(e, f, outcome, tls, NULL);
}

/* ---- collecting list: oldest first, so timeouts and evictions pop the head */

static void collecting_link(struct engine *e, struct flow *f)
{
	uint32_t idx = flow_index(&e->table, f) + 1;

	f->older = e->newest;
	f->newer = 0;
	if (e->newest)
		flow_at(e, e->newest)->newer = idx;
	else
		e->oldest = idx;
	e->newest = idx;
}

static void collecting_unlink(struct engine *e, struct flow *f)
{
	if (f->older)
		flow_at(e, f->older)->newer = f->newer;
	else
		e->oldest = f->newer;
	if (f->newer)
		flow_at(e, f->newer)->older = f->older;
	else
		e->newest = f->older;
	f->older = f->newer = 0;
}

/* ---- emitting */

/* In observe mode every decision is made and counted, but nothing is sent:
 * the originals all pass. Once a piece failed, the pieces after it in this
 * call are not tried: their flow fails open. */
static void send_packet(struct engine *e, const uint8_t *data, uint32_t len, const void *meta)
{
	int r;

	if (e->cfg.observe || e->emit_error)
		return;
	r = e->emit(e->emit_ctx, ENGINE_EMIT_PIECE, data, len, meta);
	if (r < 0)
		e->emit_error = r;
}

/* A stolen packet leaves as it came. Nothing better can be done when that
 * fails: the adapter reports it. */
static void send_unchanged(struct engine *e, const struct view *v)
{
	if (!e->cfg.observe)
		e->emit(e->emit_ctx, ENGINE_EMIT_ORIGINAL, v->pkt.data, v->pkt.len, v->meta);
}

/* A stolen packet whose bytes all left in pieces. */
static void discard(struct engine *e, const void *meta)
{
	if (!e->cfg.observe && e->discard)
		e->discard(e->emit_ctx, meta);
}

/* Payload of a segment with p's headers that fits the MSS. */
static uint32_t mss_payload(const struct engine *e, const struct packet *p)
{
	uint32_t mss = e->cfg.mss ? e->cfg.mss : p->family == 4 ? 1460 : 1440;
	uint32_t options = p->tcp_header_len - 20u;

	return mss > options + 1 ? mss - options : 1;
}

/* Largest payload of a piece cut from v's bytes: it fits the MSS, and the
 * piece is no longer than the flow's largest original segment, which went
 * the same way (the path may be narrower than the MSS says: a PPPoE WAN of
 * MTU 1492). When only GSO super-packets were seen, the MSS alone. */
static uint32_t max_payload(const struct engine *e, const struct view *v)
{
	uint32_t limit = mss_payload(e, &v->pkt), headers = v->pkt.payload_off;

	if (v->largest && v->largest < headers + limit)
		limit = v->largest > headers ? v->largest - headers : 1;
	return limit;
}

/* Where the flags of the packets whose bytes an emission carries go. FIN,
 * PSH and RST mark the end of the bytes they came with: only the piece
 * ending there has them. CWR announces one congestion window reduction: the
 * first piece only. ACK and ECE (an echo of congestion, valid on every
 * segment) stay on all. URG: see urgent_pointer. */
struct seam {
	uint32_t first, end;             /* stream offsets of the first byte and one past the last */
	uint8_t first_flags, end_flags;  /* CWR; FIN, PSH, RST */
	const uint8_t *timestamps;       /* 8 bytes (TSval, TSecr) for every piece, or NULL: each template's own */
};

#define END_FLAGS (TCP_FIN | TCP_PSH | TCP_RST)

/* The urgent pointer of the piece [from, end) cut from t, 0 for none. The
 * pointer points one past the urgent byte (RFC 6093: what every stack
 * implements), so that byte is t's urgent pointer - 1: the piece holding it
 * gets URG with the pointer rebased to its own start; when it lies beyond t,
 * so does the pointer of t's last piece, as in t; the others go without URG. */
static uint16_t urgent_pointer(const struct view *t, uint16_t urp, uint32_t from, uint32_t end)
{
	uint32_t urgent = t->off + urp - 1u, t_end = t->off + t->pkt.payload_len;

	if (!urp || !(urgent < end || end == t_end) || urgent < from)
		return 0;
	return (uint16_t)(urgent + 1 - from);
}

/* Emits stream bytes [from, to) carried by template t as segments no larger
 * than max_payload, with the flags and timestamps of seam s; returns the
 * segments emitted. *id is the next IPv4 ID. */
static uint32_t emit_range(struct engine *e, const struct view *t, uint32_t base_seq, uint32_t from, uint32_t to,
			   const struct seam *s, uint16_t *id)
{
	uint32_t limit = max_payload(e, t), count = 0, ts = s->timestamps ? packet_timestamps_offset(&t->pkt) : 0;
	uint16_t urp = 0;
	uint8_t header[120];             /* IPv4 60 + TCP 60: t's headers with their own fields set */
	const struct packet *tp = &t->pkt;
	struct packet patched;
	int urgent = t->pkt.flags & TCP_URG;

	if (ts && !memcmp(t->pkt.data + ts, s->timestamps, 8))
		ts = 0;
	if (urgent || ts) {
		memcpy(header, t->pkt.data, t->pkt.payload_off);
		if (ts)
			memcpy(header + ts, s->timestamps, 8);
		urp = packet_urgent_pointer(&t->pkt);
		patched = t->pkt;
		patched.data = header;
		tp = &patched;
	}
	while (from < to) {
		uint32_t end = to - from > limit ? from + limit : to;
		uint8_t flags = t->pkt.flags & (uint8_t)~(END_FLAGS | TCP_CWR | TCP_URG);
		uint32_t len;

		if (end == s->end)
			flags |= s->end_flags;
		if (from == s->first)
			flags |= s->first_flags;
		if (urgent) {
			uint16_t pointer = urgent_pointer(t, urp, from, end);

			put_be16(header + t->pkt.ip_header_len + 18, pointer);
			if (pointer)
				flags |= TCP_URG;
		}
		len = packet_build_segment(e->segment, sizeof(e->segment), tp, base_seq + from,
					   t->pkt.data + t->pkt.payload_off + (from - t->off), end - from, flags,
					   (*id)++);
		if (len)
			send_packet(e, e->segment, len, t->meta);
		from = end;
		count++;
	}
	return count;
}

/* Bytes [from, to) of t alone; last: they end t's bytes, which end with its FIN/PSH/RST. */
static uint32_t emit_piece(struct engine *e, const struct view *t, uint32_t base_seq, uint32_t from,
			   uint32_t to, int last, uint16_t *id)
{
	struct seam s = {t->off, last ? to : UINT32_MAX, t->pkt.flags & TCP_CWR, t->pkt.flags & END_FLAGS, NULL};

	return emit_range(e, t, base_seq, from, to, &s, id);
}

/* A held packet leaves unchanged, unless it is a GSO super-packet larger
 * than the MSS: then it is cut into MSS-sized segments, or still leaves
 * unchanged when a piece cannot be sent. */
static void emit_original(struct engine *e, const struct view *v)
{
	uint16_t id = packet_ipv4_id(&v->pkt);

	if (v->pkt.payload_len <= max_payload(e, v)) {
		send_unchanged(e, v);
		return;
	}
	emit_piece(e, v, v->pkt.seq - v->off, v->off, v->off + v->pkt.payload_len, 1, &id);
	if (e->emit_error)
		send_unchanged(e, v);
	else
		discard(e, v->meta);
}

/* ---- held packets */

static void held_update_gauge(struct engine *e)
{
	e->stats.held_bytes = e->pool.in_use;
	if (e->stats.held_bytes > e->stats.held_bytes_peak)
		e->stats.held_bytes_peak = e->stats.held_bytes;
}

/* Views of the held packets (arrival order); returns their count. */
static uint32_t held_views(struct engine *e, const struct flow *f)
{
	const struct held_packet *h = NULL;
	uint32_t n = 0;

	while ((h = hold_next(f, h)) != NULL) {
		struct view *v = &e->views[n++];

		packet_parse(&v->pkt, h->data, h->len);   /* parsed fine when it was held */
		v->meta = h->meta;
		v->off = v->pkt.seq - f->base_seq;
		v->largest = f->largest;
	}
	return n;
}

static void release_held(struct engine *e, struct flow *f)
{
	if (f->state == FLOW_COLLECTING)
		collecting_unlink(e, f);
	hold_release(&e->pool, f);
	held_update_gauge(e);
}

/* Fail-open: the held packets go out unchanged, in arrival order, and the
 * flow passes from now on. */
static void fail_open(struct engine *e, struct flow *f, enum failopen_reason why)
{
	uint32_t i, n = held_views(e, f);

	for (i = 0; i < n; i++)
		emit_original(e, &e->views[i]);
	release_held(e, f);
	observe_end(e, f);      /* what follows no longer tells how the cuts did */
	f->state = FLOW_PASS_THROUGH;
	switch (why) {
	case FAILOPEN_NOT_TLS: e->stats.failopen_not_tls++; break;
	case FAILOPEN_TIMEOUT: e->stats.failopen_timeout++; break;
	case FAILOPEN_OVERFLOW: e->stats.failopen_overflow++; break;
	case FAILOPEN_HELD_LIMIT: e->stats.failopen_held_limit++; break;
	case FAILOPEN_ERROR: e->stats.failopen_error++; break;
	case FAILOPEN_SHUTDOWN: e->stats.failopen_shutdown++; break;
	case FAILOPEN_EMIT:
		e->stats.failopen_emit++;
		e->stats.failopen_emit_errno = -e->emit_error;
		break;
	}
	log_flow(e, f, failopen_names[why], NULL);
}

/* ---- the split */

/* First split position after pos, or end. */
static uint32_t next_cut(const struct flow *f, uint32_t pos, uint32_t end)
{
	uint32_t i, b = end;

	for (i = 0; i < f->ncuts; i++)
		if (f->cuts[i] > pos && f->cuts[i] < b)
			b = f->cuts[i];
	return b;
}

/* First-arrived packet carrying byte pos: its copy is the one that counts. */
static uint32_t owner_of(const struct view *v, uint32_t n, uint32_t pos)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (v[i].off <= pos && pos - v[i].off < v[i].pkt.payload_len)
			return i;
	return n;
}

/* Where the owner of pos stops owning: its end, or the start of a packet
 * that arrived before it (whose copy of the next bytes wins). */
static uint32_t owned_until(const struct view *v, uint32_t owner, uint32_t pos)
{
	uint32_t i, b = v[owner].off + v[owner].pkt.payload_len;

	for (i = 0; i < owner; i++)
		if (v[i].off > pos && v[i].off < b)
			b = v[i].off;
	return b;
}

/* The seam of a split: the flags of every packet of the window go to its
 * first and last piece, and every piece has the newest timestamps among
 * them, so that none is older than a piece before it (the server's PAWS
 * check drops a segment whose TSval went back). */
static void split_seam(struct engine *e, uint32_t n, uint32_t end, struct seam *s)
{
	uint32_t i, newest = 0;

	memset(s, 0, sizeof(*s));
	s->end = end;
	for (i = 0; i < n; i++) {
		const struct packet *p = &e->views[i].pkt;
		uint32_t ts;

		if (e->views[i].off > end)
			continue;                 /* beyond a gap: leaves as it is */
		s->first_flags |= p->flags & TCP_CWR;
		s->end_flags |= p->flags & END_FLAGS;
		ts = packet_timestamps_offset(p);
		if (ts && (!s->timestamps || (int32_t)(get_be32(p->data + ts) - newest) > 0)) {
			s->timestamps = p->data + ts;
			newest = get_be32(p->data + ts);
		}
	}
}

/* Emits the contiguous bytes [0, end) of the n views cut at the flow's cuts
 * and where the carrying packet changes. Returns the segments emitted, or
 * -errno when one could not be sent. */
static int emit_split(struct engine *e, struct flow *f, uint32_t n, uint32_t end)
{
	uint16_t id = packet_ipv4_id(&e->views[owner_of(e->views, n, 0)].pkt);
	uint32_t pos = 0, segments = 0;
	struct seam seam;

	split_seam(e, n, end, &seam);
	while (pos < end && !e->emit_error) {
		uint32_t owner = owner_of(e->views, n, pos);
		uint32_t stop = next_cut(f, pos, owned_until(e->views, owner, pos));

		segments += emit_range(e, &e->views[owner], f->base_seq, pos, stop, &seam, &id);
		pos = stop;
	}
	return e->emit_error ? e->emit_error : (int)segments;
}

/* --hostlist / --hostlist-exclude: 1 when this hello should be split. */
static int host_wanted(const struct engine *e, const struct tls_result *tls)
{
	const uint8_t *name = tls ? e->window + tls->sni_off : NULL;
	uint32_t len = tls ? tls->sni_len : 0;

	if (e->include && !(len && hostlist_match(e->include, name, len)))
		return 0;
	return !(e->exclude && len && hostlist_match(e->exclude, name, len));
}

/* A complete hello the host lists leave alone: its packets go out as they
 * came, and the flow passes. */
static void pass_unlisted(struct engine *e, struct flow *f, uint32_t n, const struct tls_result *tls,
			  const struct engine_choice *choice)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		emit_original(e, &e->views[i]);
	release_held(e, f);
	f->state = FLOW_PASS_THROUGH;
	if (choice) {
		e->stats.pass_learned++;
		log_flow_choice(e, f, "pass_learned", tls, choice);
		return;
	}
	e->stats.pass_hostlist++;
	log_flow(e, f, "pass_hostlist", tls);
}

/* Splits the window of the n views, the last of which is the current
 * packet; the held ones lying beyond a gap leave unchanged after the
 * pieces. Returns the current packet's verdict. When a piece cannot be sent
 * the flow fails open: every held packet leaves unchanged, the current one
 * passes. */
static int split_window(struct engine *e, struct flow *f, uint32_t n, uint32_t contiguous,
			const struct tls_result *tls, const struct engine_choice *choice)
{
	const struct view *current = &e->views[n - 1];
	const struct split_spec *spec = choice ? choice->spec : &e->cfg.positions;
	uint32_t i;
	int segments;

	f->ncuts = (uint8_t)split_plan(spec, f->window_len, tls, tls ? e->window : NULL, f->cuts);
	if (f->state == FLOW_COLLECTING)
		collecting_unlink(e, f);
	f->state = FLOW_SPLIT_READY;
	segments = emit_split(e, f, n, contiguous);
	if (segments < 0) {
		fail_open(e, f, FAILOPEN_EMIT);
		return ENGINE_PASS;
	}
	for (i = 0; i + 1 < n; i++) {
		if (e->views[i].off > contiguous)
			emit_original(e, &e->views[i]);
		else
			discard(e, e->views[i].meta);
	}
	e->stats.flows_split++;
	e->stats.segments_emitted += (uint32_t)segments;
	if (choice && tls)
		observe_start(e, f, e->window + tls->sni_off, tls->sni_len, choice->rung);
	log_flow_choice(e, f, "split", tls, choice);
	release_held(e, f);
	f->state = FLOW_INJECTED;
	if (current->off > contiguous)
		return ENGINE_PASS;
	discard(e, current->meta);
	return ENGINE_STOLEN;
}

/* ---- per-state handling of a payload packet */

static int on_collecting(struct engine *e, struct flow *f, const struct packet *p, const void *meta,
			 uint64_t now)
{
	uint32_t n, i, contiguous, held_payload = 0;
	struct tls_result tls;
	enum tls_status st;

	if (p->flags & TCP_URG) {
		fail_open(e, f, FAILOPEN_NOT_TLS);
		return ENGINE_PASS;
	}
	n = held_views(e, f);
	e->views[n].pkt = *p;
	e->views[n].meta = meta;
	e->views[n].off = p->seq - f->base_seq;
	e->views[n].largest = f->largest;
	n++;
	reasm_reset(&e->reasm);
	for (i = 0; i < n; i++) {
		const struct view *v = &e->views[i];

		if (v->off >= 0x80000000u || reasm_add(&e->reasm, e->window, e->cfg.max_buffer, v->off,
							v->pkt.data + v->pkt.payload_off, v->pkt.payload_len)) {
			fail_open(e, f, FAILOPEN_ERROR);   /* bytes before the stream start */
			return ENGINE_PASS;
		}
		held_payload += v->pkt.payload_len;
	}
	contiguous = reasm_contiguous(&e->reasm);
	if (e->cfg.mode == SPLIT_MODE_IMMEDIATE) {
		f->window_len = p->payload_len;
		f->hello_ack = p->ack;
		return split_window(e, f, n, contiguous, NULL, NULL);
	}
	st = tls_inspect(e->window, contiguous < e->cfg.max_buffer ? contiguous : e->cfg.max_buffer,
			 e->cfg.complete, &tls);
	if (st == TLS_NOT_TLS) {
		fail_open(e, f, FAILOPEN_NOT_TLS);
		return ENGINE_PASS;
	}
	if (st == TLS_DONE) {
		f->window_len = tls.window_len;
		if (f->state == FLOW_NEW)
			f->hello_ack = p->ack;
		if (!host_wanted(e, &tls)) {
			pass_unlisted(e, f, n - 1, &tls, NULL);   /* the current packet passes itself */
			return ENGINE_PASS;
		}
		if (e->choose && tls.sni_len) {
			struct engine_choice choice = {&e->cfg.positions, -1, NULL};

			e->choose(e->learn_ctx, e->window + tls.sni_off, tls.sni_len, &choice);
			if (!choice.spec) {
				pass_unlisted(e, f, n - 1, &tls, &choice);
				return ENGINE_PASS;
			}
			return split_window(e, f, n, contiguous, &tls, &choice);
		}
		return split_window(e, f, n, contiguous, &tls, NULL);
	}
	if (tls.need > e->cfg.max_buffer || held_payload > e->cfg.max_buffer) {
		fail_open(e, f, FAILOPEN_OVERFLOW);
		return ENGINE_PASS;
	}
	if (p->flags & (TCP_FIN | TCP_RST)) {
		fail_open(e, f, FAILOPEN_NOT_TLS);   /* the stream ends inside the hello */
		return ENGINE_PASS;
	}
	if (n > e->cfg.max_held_pkts) {
		fail_open(e, f, FAILOPEN_HELD_LIMIT);
		return ENGINE_PASS;
	}
	if (f->state == FLOW_NEW) {
		f->state = FLOW_COLLECTING;
		f->collect_start_ms = now;
		f->hello_ack = p->ack;
		collecting_link(e, f);
	}
	/* Over --max-held-bytes the oldest collecting flows give way, this one included. */
	while (hold_append(&e->pool, f, p->data, p->len, meta)) {
		struct flow *victim = flow_at(e, e->oldest);

		fail_open(e, victim, FAILOPEN_HELD_LIMIT);
		if (victim == f)
			return ENGINE_PASS;
	}
	held_update_gauge(e);
	return ENGINE_STOLEN;
}

/* After the split: a retransmission of window bytes is cut again at the same
 * places, so the censor never sees the hello whole; once the client acks
 * data from the server, the hello was answered and the flow is done. */
static int on_injected(struct engine *e, struct flow *f, const struct packet *p, const void *meta)
{
	struct view v;
	uint32_t off = p->seq - f->base_seq, end = off + p->payload_len, pos, segments = 0;
	uint16_t id = packet_ipv4_id(p);

	if ((p->flags & TCP_ACK) && (int32_t)(p->ack - f->hello_ack) > 0) {
		observe_end(e, f);      /* answered, but its answer was not seen: no report */
		f->state = FLOW_PASS_THROUGH;
		return ENGINE_PASS;
	}
	if (f->packets >= engine_packet_cap(&e->cfg)) {
		observe_end(e, f);
		f->state = FLOW_PASS_THROUGH;
		return ENGINE_PASS;
	}
	if (off >= 0x80000000u || off >= f->window_len)
		return ENGINE_PASS;
	/* the hello again, still unanswered: a censor that drops it, at last */
	if (f->observed && ++f->retransmits >= ENGINE_SILENT_RETRANSMITS)
		observe_report(e, f, ENGINE_OUTCOME_SILENT);
	v.pkt = *p;
	v.meta = meta;
	v.off = off;
	v.largest = f->largest;
	if (next_cut(f, off, end) == end && p->payload_len <= max_payload(e, &v))
		return ENGINE_PASS;                    /* nothing to cut inside this one */
	for (pos = off; pos < end && !e->emit_error;) {
		uint32_t stop = next_cut(f, pos, end);

		segments += emit_piece(e, &v, f->base_seq, pos, stop, stop == end, &id);
		pos = stop;
	}
	if (e->emit_error) {                       /* this packet passes, and the flow from now on */
		fail_open(e, f, FAILOPEN_EMIT);
		return ENGINE_PASS;
	}
	discard(e, meta);
	e->stats.resplit_retransmits++;
	e->stats.segments_emitted += segments;
	return ENGINE_STOLEN;
}

/* ---- entry points */

static void flow_key_of(const struct packet *p, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, packet_src(p), packet_addr_len(p));
	memcpy(k->dst, packet_dst(p), packet_addr_len(p));
	k->sport = p->sport;
	k->dport = p->dport;
	k->family = p->family;
}

static void forget_flow(struct engine *e, struct flow *f)
{
	release_held(e, f);
	observe_end(e, f);
	flow_remove(&e->table, f);
}

/* How far before a flow's first byte its own earlier bytes can be: its
 * hello's start when a later segment came first. */
#define REUSE_BEHIND 65536

/* The rules and filters never show the engine a SYN, so a connection that
 * reuses the 4-tuple of a finished flow is recognised by its first packet: a
 * ClientHello record header that is neither inside the old window nor just
 * before it. Initial sequence numbers of one 4-tuple grow with time (RFC
 * 6528) and wrap every few minutes, so a new connection can land anywhere
 * else; old-flow data that starts with a ClientHello is a renegotiation,
 * harmless to split. */
static int new_connection_on_tuple(const struct flow *f, const struct packet *p)
{
	const uint8_t *d = p->data + p->payload_off;
	uint32_t ahead = p->seq - f->base_seq;

	if (f->state < FLOW_INJECTED || p->payload_len < 6 || ahead < f->window_len || ahead == 0 ||
	    (ahead >= 0x80000000u && 0u - ahead <= REUSE_BEHIND))
		return 0;
	return d[0] == 0x16 && d[1] == 0x03 && d[5] == 0x01;
}

int engine_packet(struct engine *e, const uint8_t *data, size_t len, const void *meta, uint64_t now)
{
	struct packet p;
	struct flow_key key;
	struct flow *f;
	uint32_t hash;
	int verdict = ENGINE_PASS;

	e->stats.packets++;
	e->emit_error = 0;
	switch (packet_parse(&p, data, len)) {
	case PACKET_TCP: break;
	case PACKET_OTHER: return ENGINE_PASS;
	case PACKET_FRAGMENT: e->stats.pass_fragment++; return ENGINE_PASS;
	case PACKET_IPV6_EXT: e->stats.pass_ipv6_ext++; return ENGINE_PASS;
	case PACKET_MALFORMED: e->stats.pass_malformed++; return ENGINE_PASS;
	}
	if (!is_target_port(e, p.dport))
		return ENGINE_PASS;
	flow_key_of(&p, &key);
	hash = flow_hash(&e->table, &key);
	f = flow_lookup(&e->table, &key, hash);
	if (f && new_connection_on_tuple(f, &p)) {
		forget_flow(e, f);
		f = NULL;
	}
	if (p.flags & TCP_SYN) {                      /* a new connection on this tuple */
		if (f) {
			if (f->state == FLOW_COLLECTING)
				fail_open(e, f, FAILOPEN_ERROR);
			forget_flow(e, f);
		}
		return ENGINE_PASS;
	}
	if (!f) {
		if (p.payload_len == 0)
			return ENGINE_PASS;
		f = flow_insert(&e->table, &key, hash);
		if (!f) {
			e->stats.failopen_table_full++;
			return ENGINE_DONE;
		}
		e->stats.flows++;
		f->base_seq = p.seq;
	}
	f->last_seen_s = (uint32_t)(now / 1000);
	if (p.payload_len) {
		if (f->packets < UINT16_MAX)
			f->packets++;
		if (p.len > f->largest && p.payload_len <= mss_payload(e, &p))
			f->largest = (uint16_t)p.len;   /* a real segment, not a GSO super-packet */
		if (f->state == FLOW_NEW || f->state == FLOW_COLLECTING)
			verdict = on_collecting(e, f, &p, meta, now);
		else if (f->state == FLOW_INJECTED)
			verdict = on_injected(e, f, &p, meta);
	} else if ((p.flags & TCP_RST) && f->state == FLOW_COLLECTING) {
		fail_open(e, f, FAILOPEN_NOT_TLS);
	}
	/* After a FIN a split flow stays INJECTED: the hello may still be retransmitted. */
	if ((p.flags & TCP_RST) || ((p.flags & TCP_FIN) && f->state == FLOW_PASS_THROUGH))
		f->state = FLOW_CLOSED;
	if (f->state == FLOW_PASS_THROUGH || f->state == FLOW_CLOSED)
		verdict |= ENGINE_DONE;
	if (e->cfg.observe)
		verdict &= ~ENGINE_STOLEN;
	return verdict;
}

/* A TLS handshake record header: what a server answers a ClientHello with
 * (ServerHello, HelloRetryRequest); an alert, a block page or anything else
 * is no answer. */
static int is_handshake_record(const struct packet *p)
{
	const uint8_t *d = p->data + p->payload_off;

	return p->payload_len >= 3 && d[0] == 0x16 && d[1] == 0x03;
}

int engine_reply(struct engine *e, const uint8_t *data, size_t len, uint64_t now)
{
	struct packet p;
	struct flow_key key;
	struct flow *f;

	if (packet_parse(&p, data, len) != PACKET_TCP || !is_target_port(e, p.sport))
		return ENGINE_PASS;
	e->stats.replies_seen++;
	memset(&key, 0, sizeof(key));
	memcpy(key.src, packet_dst(&p), packet_addr_len(&p));
	memcpy(key.dst, packet_src(&p), packet_addr_len(&p));
	key.sport = p.dport;
	key.dport = p.sport;
	key.family = p.family;
	f = flow_lookup(&e->table, &key, flow_hash(&e->table, &key));
	(void)now;              /* an answer keeps no flow alive: the client's packets do */
	if (!f)
		return ENGINE_PASS;
	if (!f->observed)
		return f->state >= FLOW_PASS_THROUGH ? ENGINE_DONE : ENGINE_PASS;
	if (p.flags & TCP_RST)
		observe_report(e, f, ENGINE_OUTCOME_RESET);
	else if (is_handshake_record(&p))
		observe_report(e, f, ENGINE_OUTCOME_SUCCESS);
	else if (p.flags & TCP_FIN)
		observe_report(e, f, ENGINE_OUTCOME_FIN);
	return ENGINE_PASS;
}

static void collect_garbage(struct engine *e, uint64_t now)
{
	uint32_t now_s = (uint32_t)(now / 1000), budget, hw = e->table.high_water;
	uint64_t elapsed = now - e->gc_last_ms;

	e->gc_last_ms = now;
	if (!hw)
		return;
	if (elapsed > GC_FULL_SWEEP_MS)
		elapsed = GC_FULL_SWEEP_MS;
	/* Sweep a slice so that the whole array is visited every GC_FULL_SWEEP_MS. */
	budget = (uint32_t)(hw * elapsed / GC_FULL_SWEEP_MS) + 64;
	while (budget--) {
		struct flow *f;
		uint32_t idle;

		if (e->gc_cursor >= hw)
			e->gc_cursor = 0;
		f = &e->table.flows[e->gc_cursor++];
		if (f->state == FLOW_FREE || f->state == FLOW_COLLECTING)
			continue;
		idle = now_s - f->last_seen_s;
		/* A finished flow is kept only to recognise packets still on their
		 * way: on Linux its connection skips the queue from then on. So is
		 * a split one: on Linux the rules may stop queueing it once the
		 * server answered, and a hello retransmitted after it is forgotten
		 * starts a new flow, split again. */
		if (idle >= e->cfg.idle_timeout_s ||
		    ((f->state == FLOW_CLOSED || f->state == FLOW_PASS_THROUGH || f->state == FLOW_INJECTED) &&
		     idle >= DONE_TIMEOUT_S))
			forget_flow(e, f);
	}
}

void engine_tick(struct engine *e, uint64_t now)
{
	struct flow *f;

	e->emit_error = 0;
	while ((f = flow_at(e, e->oldest)) != NULL && now >= f->collect_start_ms &&
	       now - f->collect_start_ms >= e->cfg.collect_timeout_ms)
		fail_open(e, f, FAILOPEN_TIMEOUT);
	if (now - e->gc_last_ms >= 1000 || now < e->gc_last_ms)
		collect_garbage(e, now);
}

uint32_t engine_next_timeout(const struct engine *e, uint64_t now)
{
	const struct flow *f = e->oldest ? &e->table.flows[e->oldest - 1] : NULL;
	uint64_t due;

	if (!f)
		return UINT32_MAX;
	due = f->collect_start_ms + e->cfg.collect_timeout_ms;
	return due <= now ? 0 : (uint32_t)(due - now);
}

void engine_release_all(struct engine *e)
{
	struct flow *f;

	e->emit_error = 0;
	while ((f = flow_at(e, e->oldest)) != NULL)
		fail_open(e, f, FAILOPEN_SHUTDOWN);
}
