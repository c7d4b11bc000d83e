/* probe-run.c — the tries of `hellosplit probe`. A try opens an ordinary TCP
 * connection, writes its own ClientHello in the pieces of one candidate
 * (each piece its own segment: TCP_NODELAY, and the next piece only once
 * the kernel has sent the previous one), then waits for the server's first
 * bytes. Non-blocking sockets and one poll loop run several tries at once. */
#include "probe.h"

#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "tls.h"

#define PROBE_PIECE_GAP_US 1000          /* least time between two pieces */
#define PROBE_PIECE_GAP_BLIND_US 10000   /* when the kernel cannot say a piece left */
#define PROBE_SAMPLE_US 5000             /* how often the TCP state is read */
#define PROBE_ANSWER_BYTES 43            /* record and handshake headers, version, random */

enum try_state { TRY_FREE = 0, TRY_CONNECTING, TRY_SENDING, TRY_ANSWER };

struct try_slot {
	enum try_state state;
	struct probe_candidate *cand;
	int number;                          /* 1.. within its candidate, for the log */
	probe_socket sock;
	uint8_t hello[CLIENTHELLO_MAX];
	uint32_t hello_len;
	uint32_t ends[SPLIT_MAX_POSITIONS + 1];  /* end offset of each piece */
	int npieces, piece;
	uint32_t written;
	uint64_t deadline, next_piece_at, hello_at;
	int tcp_known, unsent_known, merged;
	uint32_t last_unacked, last_retransmits;
	uint8_t answer[PROBE_ANSWER_BYTES];
	int answer_len;
};

struct run {
	const struct probe_options *o;
	const struct probe_address *address;
	const char *name;
	size_t name_len;
	uint64_t rng;
	FILE *log;
};

static uint64_t run_random(struct run *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Reads the kernel's view of the connection. A retransmission while the
 * unacknowledged bytes spanned a cut may have merged two pieces into one
 * segment: the try then proves nothing about its candidate. Unacked bytes
 * only shrink between writes, so the previous sample is an upper bound. */
static void sample_tcp(struct try_slot *t)
{
	struct probe_tcp_state st;
	int i;

	if (!t->tcp_known || probe_net_tcp_state(t->sock, &st))
		return;
	if (st.retransmits != t->last_retransmits) {
		for (i = 0; i + 1 < t->npieces; i++)
			if (t->ends[i] > t->written - t->last_unacked && t->ends[i] < t->written)
				t->merged = 1;
	}
	t->last_retransmits = st.retransmits;
	t->last_unacked = st.unacked;
}

static void log_try(struct run *r, const struct try_slot *t, enum probe_outcome outcome, uint64_t now)
{
	char pieces[128];
	int i, n = 0;

	if (!r->log)
		return;
	pieces[0] = 0;
	for (i = 0; i < t->npieces && n < (int)sizeof(pieces) - 12; i++)
		n += snprintf(pieces + n, sizeof(pieces) - (size_t)n, "%s%u", i ? "+" : "",
			      (unsigned)(t->ends[i] - (i ? t->ends[i - 1] : 0)));
	fprintf(r->log, "hellosplit probe: %s %s #%d: %s%s after %.1f ms (pieces %s)\n", r->name, t->cand->text,
		t->number, probe_outcome_name(outcome), t->merged ? ", inconclusive: pieces merged on resend" : "",
		t->hello_at ? (double)(now - t->hello_at) / 1000.0 : 0.0, pieces);
}

static void finish(struct run *r, struct try_slot *t, enum probe_outcome outcome, uint64_t now)
{
	struct probe_candidate *c = t->cand;

	if (t->state != TRY_CONNECTING)
		sample_tcp(t);
	log_try(r, t, outcome, now);
	if (t->merged) {
		c->inconclusive++;
	} else if (PROBE_OUTCOME_OK(outcome)) {
		c->ok++;
		if (c->nanswers < PROBE_MAX_TRIES)
			c->answer_us[c->nanswers++] = (uint32_t)(now - t->hello_at);
	} else {
		c->failed++;
	}
	c->outcomes[outcome]++;
	if (t->sock != PROBE_NO_SOCKET)
		probe_net_close(t->sock);
	t->sock = PROBE_NO_SOCKET;
	t->state = TRY_FREE;
}

/* Builds a fresh hello (new random bytes every try) and its pieces. */
static int prepare(struct run *r, struct try_slot *t)
{
	struct tls_result tls;
	int n, i;

	n = clienthello_build(t->hello, sizeof(t->hello), r->name, r->name_len, r->o->profile, run_random(r));
	if (n < 0 || tls_inspect(t->hello, (size_t)n, TLS_COMPLETE_RECORD, &tls) != TLS_DONE)
		return -1;
	t->hello_len = (uint32_t)n;
	t->npieces = 0;
	if (!t->cand->unsplit) {
		uint32_t cuts[SPLIT_MAX_POSITIONS];
		int ncuts = split_plan(&t->cand->spec, tls.window_len, &tls, t->hello, cuts);

		for (i = 0; i < ncuts; i++)
			t->ends[t->npieces++] = cuts[i];
	}
	t->ends[t->npieces++] = t->hello_len;
	return 0;
}

static void start(struct run *r, struct try_slot *t, struct probe_candidate *c, int number, uint64_t now)
{
	memset(t, 0, sizeof(*t));
	t->cand = c;
	t->number = number;
	t->sock = PROBE_NO_SOCKET;
	t->state = TRY_CONNECTING;
	t->deadline = now + (uint64_t)r->o->timeout_ms * 1000u;
	if (prepare(r, t) || probe_net_connect(r->address, &t->sock) != PROBE_NET_OK)
		finish(r, t, PROBE_CONNECT_FAILED, now);
}

/* 1 while a piece is written only in part (the socket buffer was full). */
static int piece_in_progress(const struct try_slot *t)
{
	return t->state == TRY_SENDING && t->written > (t->piece ? t->ends[t->piece - 1] : 0);
}

static void write_piece(struct run *r, struct try_slot *t, uint64_t now)
{
	uint32_t end = t->ends[t->piece];
	long n;

	if (!t->hello_at)
		t->hello_at = now;
	n = probe_net_send(t->sock, t->hello + t->written, end - t->written);
	if (n < 0) {
		if (n != -(long)PROBE_NET_AGAIN)
			finish(r, t, n == -(long)PROBE_NET_TIMEOUT ? PROBE_TIMEOUT : PROBE_RESET, now);
		return;
	}
	t->written += (uint32_t)n;
	if (t->written < end)
		return;                          /* the rest when the socket is writable */
	sample_tcp(t);
	t->piece++;
	if (t->piece == t->npieces) {
		t->state = TRY_ANSWER;
		t->deadline = now + (uint64_t)r->o->timeout_ms * 1000u;
	} else {
		t->next_piece_at = now + (t->unsent_known ? PROBE_PIECE_GAP_US : PROBE_PIECE_GAP_BLIND_US);
	}
}

/* The next piece goes once the previous one has left the socket: written
 * earlier, the kernel would append it to the same segment. */
static int piece_due(struct try_slot *t, uint64_t now)
{
	struct probe_tcp_state st;

	if (t->state != TRY_SENDING || piece_in_progress(t) || now < t->next_piece_at)
		return 0;
	if (t->unsent_known && probe_net_tcp_state(t->sock, &st) == 0 && st.unsent > 0) {
		t->next_piece_at = now + PROBE_PIECE_GAP_US;   /* look again soon */
		return 0;
	}
	return 1;
}

static void connected(struct run *r, struct try_slot *t, uint64_t now)
{
	struct probe_tcp_state st;
	enum probe_net_status s = probe_net_connect_result(t->sock);

	if (s == PROBE_NET_AGAIN)
		return;
	if (s != PROBE_NET_OK) {
		finish(r, t, PROBE_CONNECT_FAILED, now);
		return;
	}
	t->tcp_known = probe_net_tcp_state(t->sock, &st) == 0;
	if (t->tcp_known) {
		t->last_retransmits = st.retransmits;   /* SYN retransmissions do not count */
		t->unsent_known = st.unsent >= 0;
	}
	t->state = TRY_SENDING;
	write_piece(r, t, now);
}

/* The random of a HelloRetryRequest: SHA-256("HelloRetryRequest"), RFC 8446 4.1.3. */
static const uint8_t hello_retry_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* What the first bytes from the server say, or -1 when more are needed. */
static int judge_answer(const struct try_slot *t, int at_end)
{
	const uint8_t *a = t->answer;

	if (t->answer_len >= 6 && a[0] == 0x16 && a[5] == 0x02 && t->answer_len < PROBE_ANSWER_BYTES && !at_end)
		return -1;                       /* a ServerHello: is it a HelloRetryRequest? */
	if (t->answer_len == PROBE_ANSWER_BYTES && a[0] == 0x16 && a[5] == 0x02 &&
	    !memcmp(a + 11, hello_retry_random, sizeof(hello_retry_random)))
		return PROBE_HELLO_RETRY;

	if (t->answer_len >= 1 && (a[0] < 0x14 || a[0] > 0x17))
		return PROBE_NOT_TLS;
	if (t->answer_len >= 2 && a[1] != 0x03)
		return PROBE_NOT_TLS;
	if (t->answer_len >= 6 && a[0] == 0x16 && a[5] == 0x02)
		return PROBE_SERVER_HELLO;
	if (t->answer_len >= 6 || (t->answer_len == 5 && (a[0] != 0x16 || at_end)))
		return a[0] == 0x15 ? PROBE_ALERT : PROBE_OTHER_RECORD;
	return at_end ? (t->answer_len ? PROBE_NOT_TLS : PROBE_CLOSED) : -1;
}

static void readable(struct run *r, struct try_slot *t, uint64_t now)
{
	long n = probe_net_recv(t->sock, t->answer + t->answer_len, sizeof(t->answer) - (size_t)t->answer_len);
	int verdict;

	if (n == -(long)PROBE_NET_AGAIN)
		return;
	if (n > 0)
		t->answer_len += (int)n;
	verdict = judge_answer(t, n <= 0);
	if (verdict < 0)
		return;
	if (n == -(long)PROBE_NET_RESET && t->answer_len < 5)
		verdict = PROBE_RESET;
	else if (n == -(long)PROBE_NET_TIMEOUT && t->answer_len < 5)
		verdict = PROBE_TIMEOUT;
	finish(r, t, (enum probe_outcome)verdict, now);
}

static void on_events(struct run *r, struct try_slot *t, int got, uint64_t now)
{
	if (t->state == TRY_CONNECTING) {
		if (got)
			connected(r, t, now);
		return;
	}
	if (got & (PROBE_NET_READ | PROBE_NET_FAILED)) {
		readable(r, t, now);
		if (t->state == TRY_FREE)
			return;
	}
	if ((got & PROBE_NET_WRITE) && piece_in_progress(t))
		write_piece(r, t, now);
}

/* Next wake-up in ms: pieces and TCP samples need a short one. */
static int poll_timeout(const struct try_slot *slots, int n, uint64_t now)
{
	uint64_t wake = now + 100000;
	int i;

	for (i = 0; i < n; i++) {
		const struct try_slot *t = &slots[i];

		if (t->state == TRY_FREE)
			continue;
		if (t->deadline < wake)
			wake = t->deadline;
		if (t->state == TRY_SENDING && !piece_in_progress(t) && t->next_piece_at < wake)
			wake = t->next_piece_at;
		if (t->tcp_known && t->state != TRY_CONNECTING && t->last_unacked && now + PROBE_SAMPLE_US < wake)
			wake = now + PROBE_SAMPLE_US;
	}
	if (wake <= now)
		return 0;
	return (int)((wake - now + 999) / 1000);
}

static int run_tries(struct run *r, struct probe_candidate *cands, int ncands)
{
	struct try_slot *slots;
	struct probe_poll polls[64];
	int *queue, *number, nqueue = 0, next = 0, active = 0, nslots, i, j;
	uint32_t tries = r->o->tries;

	nslots = (int)r->o->concurrency;
	slots = calloc((size_t)nslots, sizeof(*slots));
	queue = calloc((size_t)ncands * tries, sizeof(*queue));
	number = calloc((size_t)ncands, sizeof(*number));
	if (!slots || !queue || !number) {
		free(slots);
		free(queue);
		free(number);
		return -1;
	}
	for (i = 0; i < ncands; i++)
		for (j = 0; j < (int)tries; j++)
			queue[nqueue++] = i;
	for (i = nqueue - 1; i > 0; i--) {       /* Fisher-Yates */
		int k = (int)(run_random(r) % (uint64_t)(i + 1)), tmp = queue[i];

		queue[i] = queue[k];
		queue[k] = tmp;
	}
	for (;;) {
		uint64_t now = monotonic_us();
		int np = 0, map[64];

		active = 0;
		for (i = 0; i < nslots; i++) {
			struct try_slot *t = &slots[i];

			if (t->state == TRY_FREE && next < nqueue) {
				int c = queue[next++];

				start(r, t, &cands[c], ++number[c], now);
			}
			if (t->state == TRY_FREE)
				continue;
			if (now >= t->deadline) {
				finish(r, t, t->state == TRY_CONNECTING ? PROBE_CONNECT_FAILED : PROBE_TIMEOUT, now);
				continue;
			}
			if (t->state != TRY_CONNECTING)
				sample_tcp(t);
			if (piece_due(t, now))
				write_piece(r, t, now);
			if (t->state == TRY_FREE)
				continue;
			active++;
			polls[np].sock = t->sock;
			polls[np].want = t->state == TRY_CONNECTING ? PROBE_NET_WRITE : PROBE_NET_READ;
			if (piece_in_progress(t))
				polls[np].want |= PROBE_NET_WRITE;
			map[np++] = i;
		}
		if (!active && next >= nqueue)
			break;
		if (!active)
			continue;
		if (probe_net_poll(polls, np, poll_timeout(slots, nslots, now)) < 0)
			break;
		now = monotonic_us();
		for (i = 0; i < np; i++)
			if (polls[i].got)
				on_events(r, &slots[map[i]], polls[i].got, now);
	}
	for (i = 0; i < nslots; i++)
		if (slots[i].state != TRY_FREE)
			probe_net_close(slots[i].sock);
	free(slots);
	free(queue);
	free(number);
	return active ? -1 : 0;
}

int probe_run_host(const struct probe_options *o, struct probe_host *h, FILE *log)
{
	struct run r = {o, &h->address, h->name, strlen(h->name), probe_net_seed(), log};

	return run_tries(&r, h->candidates, h->ncandidates);
}

int probe_run_control(const struct probe_options *o, struct probe_host *h, FILE *log)
{
	const char *name = strcmp(h->name, PROBE_CONTROL_NAME) ? PROBE_CONTROL_NAME : PROBE_CONTROL_NAME_ALT;
	struct run r = {o, &h->address, name, strlen(name), probe_net_seed(), log};

	memset(&h->control, 0, sizeof(h->control));
	snprintf(h->control.text, sizeof(h->control.text), "unsplit");
	h->control.unsplit = 1;
	h->control_run = 1;
	return run_tries(&r, &h->control, 1);
}
