/* fuzz_tls.c — the ClientHello inspector in both modes, with the promises
 * engine.c relies on:
 *   - DONE: window_len <= len, the hostname lies inside the window, and in
 *     record mode the window is exactly the first record;
 *   - NEED_MORE: need > len (a lower bound of the window), no hostname;
 *   - the answer is a function of the first window_len bytes: every prefix
 *     shorter than the window is NEED_MORE with len < need <= window, every
 *     longer prefix gives the very same answer;
 *   - a prefix of a NEED_MORE input is NEED_MORE (NOT_TLS is never taken
 *     back by more bytes: only prefixes of NOT_TLS inputs may differ);
 *   - record and handshake modes agree on what the first record shows;
 *   - a hello lying whole in a complete first record is DONE exactly when a
 *     plain reference reading finds it well formed, with the same host name.
 * Input: the stream bytes. */
#include <string.h>

#include "fuzz.h"
#include "tls.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

static void check_one(const uint8_t *buf, size_t len, enum tls_complete mode, enum tls_status st,
		      const struct tls_result *r)
{
	switch (st) {
	case TLS_DONE:
		FUZZ_ASSERT(r->window_len >= 5 && r->window_len <= len, "window %u of %zu bytes", r->window_len, len);
		FUZZ_ASSERT(r->sni_len == 0 || (r->sni_off >= 5 && r->sni_off + r->sni_len <= r->window_len),
			    "SNI %u+%u outside window %u", r->sni_off, r->sni_len, r->window_len);
		if (mode == TLS_COMPLETE_RECORD) {
			FUZZ_ASSERT(r->window_len == 5 + be16(buf + 3), "record window %u, record says %u", r->window_len,
				    5 + be16(buf + 3));
			/* One record: the name's length field sits right before it. */
			FUZZ_ASSERT(r->sni_len == 0 || be16(buf + r->sni_off - 2) == r->sni_len, "SNI length field");
		}
		FUZZ_ASSERT(buf[0] == 0x16 && buf[5] == 0x01, "DONE on a non-handshake record");
		break;
	case TLS_NEED_MORE:
		FUZZ_ASSERT(r->need > len, "need %u with %zu bytes", r->need, len);
		FUZZ_ASSERT(r->sni_len == 0 && r->window_len == 0, "hostname or window with NEED_MORE");
		break;
	case TLS_NOT_TLS:
		break;
	default:
		FUZZ_ASSERT(0, "status %d", (int)st);
	}
}

/* A plain reading of a ClientHello that lies whole inside a complete first
 * record (the only shape where "valid" needs no reassembly): returns 0 when
 * not that shape, else 1 with *ok (the hello is well formed) and its host name. */
static int ref_hello(const uint8_t *b, size_t len, int *ok, uint32_t *sni_off, uint32_t *sni_len)
{
	uint32_t rec_len, end, p, n, ext_end;

	*ok = 0;
	*sni_off = *sni_len = 0;
	if (len < 9 || b[0] != 0x16 || b[1] != 0x03 || b[2] > 0x04)
		return 0;
	rec_len = be16(b + 3);
	if (rec_len < 4 || rec_len > 16384 || len < 5 + rec_len || b[5] != 0x01)
		return 0;
	end = 9 + ((uint32_t)b[6] << 16 | be16(b + 7));
	if (end - 9 < 2 + 32 + 1 + 4 + 2 || end > 5 + rec_len)
		return 0;
	p = 9 + 2 + 32;                               /* legacy_version, random */
	if (b[p] > 32)
		return 1;
	p += 1 + b[p];                                /* session id */
	if (p + 2 > end || (n = be16(b + p)) < 2 || n & 1)
		return 1;
	p += 2 + n;                                   /* cipher suites */
	if (p + 1 > end || b[p] < 1)
		return 1;
	p += 1 + b[p];                                /* compression methods */
	if (p > end)
		return 1;
	if (p == end) {
		*ok = 1;                              /* no extensions */
		return 1;
	}
	if (p + 2 > end || be16(b + p) != end - p - 2)
		return 1;
	for (p += 2; p < end; p += 4 + n) {
		if (p + 4 > end || (n = be16(b + p + 2)) > end - p - 4)
			return 1;
		if (be16(b + p) != 0 || *sni_len)
			continue;
		/* server_name: list length, name type 0, name length, name */
		ext_end = p + 4 + n;
		if (n < 5 || be16(b + p + 4) + 2 != n || b[p + 6] != 0 || be16(b + p + 7) == 0 ||
		    be16(b + p + 7) + 3 > be16(b + p + 4) || p + 9 + be16(b + p + 7) > ext_end)
			return 1;
		*sni_off = p + 9;
		*sni_len = be16(b + p + 7);
	}
	*ok = 1;
	return 1;
}

static int same_result(const struct tls_result *a, const struct tls_result *b)
{
	return a->window_len == b->window_len && a->sni_off == b->sni_off && a->sni_len == b->sni_len;
}

/* Prefix k of an input whose full answer is (st, full). */
static void check_prefix(const uint8_t *buf, size_t k, enum tls_complete mode, enum tls_status st,
			 const struct tls_result *full)
{
	struct tls_result r;
	enum tls_status ps = tls_inspect(buf, k, mode, &r);

	check_one(buf, k, mode, ps, &r);
	if (st == TLS_DONE) {
		if (k < full->window_len) {
			FUZZ_ASSERT(ps == TLS_NEED_MORE, "prefix %zu of a DONE input (window %u) gives %d", k,
				    full->window_len, (int)ps);
			FUZZ_ASSERT(r.need <= full->window_len, "prefix %zu: need %u beyond the window %u", k, r.need,
				    full->window_len);
		} else {
			FUZZ_ASSERT(ps == TLS_DONE && same_result(&r, full), "prefix %zu >= window %u changes the answer",
				    k, full->window_len);
		}
	} else if (st == TLS_NEED_MORE) {
		FUZZ_ASSERT(ps == TLS_NEED_MORE, "prefix %zu of a NEED_MORE input gives %d", k, (int)ps);
	}
}

static enum tls_status inspect_mode(const uint8_t *buf, size_t len, enum tls_complete mode, struct tls_result *r)
{
	enum tls_status st = tls_inspect(buf, len, mode, r);
	size_t k, step = len <= 128 ? 1 : len / 64, rec;

	check_one(buf, len, mode, st, r);
	/* Every prefix of short inputs; of long ones a sample, plus the edges
	 * around each record header and handshake header. */
	for (k = 0; k < len; k += step)
		check_prefix(buf, k, mode, st, r);
	for (rec = 0; rec + 5 <= len; rec += 5 + ((size_t)buf[rec + 3] << 8 | buf[rec + 4]))
		for (k = rec; k < rec + 11 && k < len; k++)
			check_prefix(buf, k, mode, st, r);
	if (st == TLS_DONE && r->window_len > 0) {
		check_prefix(buf, r->window_len - 1, mode, st, r);
		check_prefix(buf, r->window_len, mode, st, r);
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_result rec, hs;
	uint32_t sni_off, sni_len;
	int ok;
	enum tls_status s_rec = inspect_mode(data, size, TLS_COMPLETE_RECORD, &rec);
	enum tls_status s_hs = inspect_mode(data, size, TLS_COMPLETE_HANDSHAKE, &hs);

	/* A whole hello in a complete first record: exactly the reference's verdict and name. */
	if (ref_hello(data, size, &ok, &sni_off, &sni_len)) {
		FUZZ_ASSERT(s_rec == (ok ? TLS_DONE : TLS_NOT_TLS), "record mode says %d, the reference %s", (int)s_rec,
			    ok ? "a valid hello" : "not a hello");
		FUZZ_ASSERT(!ok || (rec.sni_off == sni_off && rec.sni_len == sni_len),
			    "host name at %u+%u, the reference finds %u+%u", rec.sni_off, rec.sni_len, sni_off, sni_len);
	}
	/* A hello that fits its first record: both modes see the same thing. */
	if (s_rec == TLS_DONE && s_hs == TLS_DONE) {
		FUZZ_ASSERT(hs.window_len >= rec.window_len, "handshake window %u < record window %u", hs.window_len,
			    rec.window_len);
		if (rec.sni_len)
			FUZZ_ASSERT(hs.sni_off == rec.sni_off && hs.sni_len == rec.sni_len,
				    "modes disagree on the hostname: %u+%u vs %u+%u", rec.sni_off, rec.sni_len, hs.sni_off,
				    hs.sni_len);
		if (hs.window_len == rec.window_len)
			FUZZ_ASSERT(same_result(&hs, &rec), "same window, different answers");
	}
	if (s_hs == TLS_DONE && 4 + ((uint32_t)data[6] << 16 | be16(data + 7)) <= be16(data + 3))
		FUZZ_ASSERT(s_rec == TLS_DONE && rec.window_len == hs.window_len,
			    "hello inside its first record: record mode says %d, window %u vs %u", (int)s_rec,
			    rec.window_len, hs.window_len);
	return 0;
}
