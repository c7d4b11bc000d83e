/* test_clienthello.c — the probe's own ClientHello: it parses with the
 * project's inspector, its lengths add up for names of every length, it
 * carries the extensions, sizes and GREASE of a current Chrome, and the
 * padding follows BoringSSL's rule. */
#include <string.h>

#include "clienthello.h"
#include "packet.h"
#include "split.h"
#include "test.h"
#include "tls.h"

void test_clienthello(void);

#define SNI_OFFSET 127   /* record 5 + handshake 4 + version 2 + random 32 + session 33 + ciphers 34 +
			  * compression 2 + extensions length 2 + GREASE extension 4 + SNI headers 9 */
#define MAX_EXTENSIONS 32

struct walked {
	int ok, n;
	uint16_t type[MAX_EXTENSIONS], len[MAX_EXTENSIONS];
	uint32_t off[MAX_EXTENSIONS];   /* of the extension data */
	uint16_t first_cipher;
};

/* A walk of the hello independent of tls.c: every length must add up. */
static void walk(const uint8_t *b, int n, struct walked *w)
{
	uint32_t at, end;

	memset(w, 0, sizeof(*w));
	if (n < 120 || b[0] != 0x16 || get_be16(b + 1) != 0x0301 || get_be16(b + 3) != (uint32_t)n - 5 ||
	    b[5] != 0x01 || get_be24(b + 6) != (uint32_t)n - 9 || get_be16(b + 9) != 0x0303 || b[43] != 32 ||
	    get_be16(b + 76) != 32 || b[110] != 1 || b[111] != 0)
		return;
	w->first_cipher = get_be16(b + 78);
	if (get_be16(b + 112) != (uint32_t)n - 114)
		return;
	for (at = 114, end = (uint32_t)n; at < end;) {
		if (w->n == MAX_EXTENSIONS || at + 4 > end || at + 4 + get_be16(b + at + 2) > end)
			return;
		w->type[w->n] = get_be16(b + at);
		w->len[w->n] = get_be16(b + at + 2);
		w->off[w->n] = at + 4;
		at += 4 + w->len[w->n];
		w->n++;
	}
	w->ok = at == end;
}

static int find_ext(const struct walked *w, uint16_t type)
{
	int i;

	for (i = 0; i < w->n; i++)
		if (w->type[i] == type)
			return i;
	return -1;
}

static void make_name(char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		name[i] = i % 10 == 9 && i != len - 1 ? '.' : (char)('a' + i % 26);
	name[len] = 0;
}

/* Extensions, sizes and GREASE of the Chrome profile (and what the classic
 * one leaves out). */
static void check_extensions(const uint8_t *b, const struct walked *w, enum clienthello_profile profile)
{
	static const uint8_t alpn[] = {0x00, 0x0c, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
	int i, j, ks, groups, versions, last = w->n - 1;
	uint32_t at;

	CHECK(clienthello_is_grease(w->first_cipher));
	CHECK(clienthello_is_grease(w->type[0]) && w->len[0] == 0);
	if (w->type[last] == CLIENTHELLO_EXT_PADDING)
		last--;
	CHECK(clienthello_is_grease(w->type[last]) && w->len[last] == 1);
	CHECK(w->type[0] != w->type[last]);
	for (i = 0; i < w->n; i++)
		for (j = i + 1; j < w->n; j++)
			CHECK(w->type[i] != w->type[j]);
	CHECK(find_ext(w, 0x0017) >= 0);         /* extended_master_secret */
	CHECK(find_ext(w, 0xff01) >= 0);         /* renegotiation_info */
	CHECK(find_ext(w, 0x000b) >= 0);         /* ec_point_formats */
	CHECK(find_ext(w, 0x0023) >= 0);         /* session_ticket */
	CHECK(find_ext(w, 0x000d) >= 0);         /* signature_algorithms */
	CHECK(find_ext(w, 0x002d) >= 0);         /* psk_key_exchange_modes */
	i = find_ext(w, CLIENTHELLO_EXT_ALPN);
	CHECK(i >= 0 && w->len[i] == sizeof(alpn) && !memcmp(b + w->off[i], alpn, sizeof(alpn)));

	groups = find_ext(w, CLIENTHELLO_EXT_SUPPORTED_GROUPS);
	CHECK(groups >= 0);
	if (groups >= 0) {
		at = w->off[groups];
		CHECK_EQ(get_be16(b + at), w->len[groups] - 2);
		CHECK(clienthello_is_grease(get_be16(b + at + 2)));
		if (profile == CLIENTHELLO_CHROME)
			CHECK_EQ(get_be16(b + at + 4), CLIENTHELLO_GROUP_X25519MLKEM768);
		CHECK_EQ(get_be16(b + at + w->len[groups] - 6), CLIENTHELLO_GROUP_X25519);
		CHECK_EQ(get_be16(b + at + w->len[groups] - 4), CLIENTHELLO_GROUP_SECP256R1);
	}
	ks = find_ext(w, CLIENTHELLO_EXT_KEY_SHARE);
	CHECK(ks >= 0);
	if (ks >= 0) {
		at = w->off[ks];
		CHECK_EQ(get_be16(b + at), w->len[ks] - 2);
		CHECK(clienthello_is_grease(get_be16(b + at + 2)) && get_be16(b + at + 4) == 1);
		at += 2 + 5;
		if (profile == CLIENTHELLO_CHROME) {
			CHECK_EQ(get_be16(b + at), CLIENTHELLO_GROUP_X25519MLKEM768);
			CHECK_EQ(get_be16(b + at + 2), CLIENTHELLO_X25519MLKEM768_SHARE);
			at += 4 + CLIENTHELLO_X25519MLKEM768_SHARE;
		}
		CHECK_EQ(get_be16(b + at), CLIENTHELLO_GROUP_X25519);
		CHECK_EQ(get_be16(b + at + 2), 32);
		CHECK_EQ(at + 4 + 32, w->off[ks] + w->len[ks]);
	}
	versions = find_ext(w, CLIENTHELLO_EXT_SUPPORTED_VERSIONS);
	CHECK(versions >= 0 && w->len[versions] == 7);
	if (versions >= 0) {
		at = w->off[versions];
		CHECK(b[at] == 6 && clienthello_is_grease(get_be16(b + at + 1)));
		CHECK(get_be16(b + at + 3) == 0x0304 && get_be16(b + at + 5) == 0x0303);
	}
	i = find_ext(w, CLIENTHELLO_EXT_ECH);
	CHECK(profile == CLIENTHELLO_CHROME ? i >= 0 : i < 0);
	if (i >= 0) {
		at = w->off[i];
		CHECK(b[at] == 0 && get_be16(b + at + 6) == 32);
		CHECK_EQ(get_be16(b + at + 40), w->len[i] - 42);
		CHECK((w->len[i] - 42 - 144) % 32 == 0 && w->len[i] - 42 <= 240);
	}
}

/* BoringSSL: a handshake message of 256..511 bytes is padded to 512 (at
 * least one byte of padding); other sizes are not padded. */
static void check_padding(const struct walked *w, int n)
{
	int pad = find_ext(w, CLIENTHELLO_EXT_PADDING);
	int hs_len = n - 5, unpadded = pad >= 0 ? hs_len - 4 - w->len[pad] : hs_len;

	if (pad >= 0) {
		CHECK_EQ(pad, w->n - 1);
		CHECK(unpadded > 255 && unpadded < 512);
		CHECK(hs_len == 512 || w->len[pad] == 1);
		CHECK(w->len[pad] >= 1);
	} else {
		CHECK(unpadded <= 255 || unpadded >= 512);
	}
}

static void every_length(enum clienthello_profile profile)
{
	static uint8_t hello[CLIENTHELLO_MAX];
	char name[CLIENTHELLO_NAME_MAX + 1];
	size_t len;
	int padded = 0, unpadded = 0, largest = 0, failures_before = test_failed;

	for (len = 1; len <= CLIENTHELLO_NAME_MAX && test_failed == failures_before; len++) {
		struct tls_result tls;
		struct walked w;
		int n;

		make_name(name, len);
		n = clienthello_build(hello, sizeof(hello), name, len, profile, 0x1234 + len);
		CHECK(n > 0);
		if (n <= 0)
			break;
		if (n > largest)
			largest = n;
		CHECK_EQ(tls_inspect(hello, (size_t)n, TLS_COMPLETE_RECORD, &tls), TLS_DONE);
		CHECK_EQ(tls.window_len, n);
		CHECK_EQ(tls.sni_off, SNI_OFFSET);
		CHECK_EQ(tls.sni_len, len);
		CHECK(!memcmp(hello + SNI_OFFSET, name, len));
		CHECK_EQ(tls_inspect(hello, (size_t)n, TLS_COMPLETE_HANDSHAKE, &tls), TLS_DONE);
		CHECK_EQ(tls.window_len, n);
		walk(hello, n, &w);
		CHECK(w.ok);
		if (!w.ok)
			break;
		check_extensions(hello, &w, profile);
		check_padding(&w, n);
		if (find_ext(&w, CLIENTHELLO_EXT_PADDING) >= 0)
			padded++;
		else
			unpadded++;
	}
	if (profile == CLIENTHELLO_CHROME) {
		CHECK_EQ(padded, 0);             /* ~1.8 KB: never in the padding range */
		CHECK(largest > 1700 && largest <= CLIENTHELLO_MAX);
	} else {
		CHECK(padded > 100 && unpadded > 10);   /* both sides of the rule are used */
		CHECK(largest < 800);
	}
}

static void classic_is_512(void)
{
	uint8_t hello[CLIENTHELLO_MAX];

	/* curl and Python send 517-byte records: the classic hello looks the same. */
	CHECK_EQ(clienthello_build(hello, sizeof(hello), "www.blocked.example", 19, CLIENTHELLO_CLASSIC, 7), 517);
}

static void largest_fits(void)
{
	static uint8_t hello[CLIENTHELLO_MAX];
	char name[CLIENTHELLO_NAME_MAX + 1];
	uint64_t seed;
	int n, largest = 0;

	make_name(name, CLIENTHELLO_NAME_MAX);
	for (seed = 0; seed < 64; seed++) {      /* every ECH GREASE payload size */
		n = clienthello_build(hello, sizeof(hello), name, CLIENTHELLO_NAME_MAX, CLIENTHELLO_CHROME, seed);
		CHECK(n > 0);
		if (n > largest)
			largest = n;
	}
	CHECK(largest <= CLIENTHELLO_MAX);
	CHECK(largest > CLIENTHELLO_MAX - 400);  /* the bound is not wildly off either */
}

static void every_prefix_needs_more(void)
{
	uint8_t hello[CLIENTHELLO_MAX];
	struct tls_result tls;
	int n, k, bad = 0;

	n = clienthello_build(hello, sizeof(hello), "www.blocked.example", 19, CLIENTHELLO_CHROME, 99);
	CHECK(n > 0);
	for (k = 1; k < n; k++)
		if (tls_inspect(hello, (size_t)k, TLS_COMPLETE_RECORD, &tls) != TLS_NEED_MORE)
			bad++;
	CHECK_EQ(bad, 0);
}

static void random_parts(void)
{
	static uint8_t a[CLIENTHELLO_MAX], b[CLIENTHELLO_MAX];
	struct walked w;
	uint64_t seed;
	int na, nb, distinct_grease = 0;
	uint16_t first = 0;

	na = clienthello_build(a, sizeof(a), "example.com", 11, CLIENTHELLO_CHROME, 42);
	nb = clienthello_build(b, sizeof(b), "example.com", 11, CLIENTHELLO_CHROME, 42);
	CHECK(na > 0 && na == nb && !memcmp(a, b, (size_t)na));   /* one seed, one hello */
	nb = clienthello_build(b, sizeof(b), "example.com", 11, CLIENTHELLO_CHROME, 43);
	CHECK(nb > 0 && memcmp(a + 11, b + 11, 32) != 0);         /* random */
	CHECK(memcmp(a + 44, b + 44, 32) != 0);                    /* session id */
	for (seed = 0; seed < 64; seed++) {
		na = clienthello_build(a, sizeof(a), "example.com", 11, CLIENTHELLO_CHROME, seed);
		walk(a, na, &w);
		CHECK(w.ok && w.type[0] != w.type[w.n - 1]);
		if (seed == 0)
			first = w.type[0];
		else if (w.type[0] != first)
			distinct_grease++;
	}
	CHECK(distinct_grease > 0);              /* GREASE values vary */
	CHECK(clienthello_is_grease(0x0a0a) && clienthello_is_grease(0xfafa));
	CHECK(!clienthello_is_grease(0x0a1a) && !clienthello_is_grease(0x1301) && !clienthello_is_grease(0x0000));
}

static void refuses(void)
{
	uint8_t hello[CLIENTHELLO_MAX + 16];
	char name[CLIENTHELLO_NAME_MAX + 2];
	int k, intact = 1;

	make_name(name, CLIENTHELLO_NAME_MAX + 1);
	CHECK_EQ(clienthello_build(hello, sizeof(hello), name, CLIENTHELLO_NAME_MAX + 1, CLIENTHELLO_CHROME, 1), -1);
	CHECK_EQ(clienthello_build(hello, sizeof(hello), "", 0, CLIENTHELLO_CHROME, 1), -1);
	memset(hello, 0xee, sizeof(hello));
	CHECK_EQ(clienthello_build(hello, 600, "www.blocked.example", 19, CLIENTHELLO_CHROME, 1), -1);
	for (k = 600; k < (int)sizeof(hello); k++)
		intact &= hello[k] == 0xee;
	CHECK(intact);                           /* nothing written past cap */
	CHECK_EQ(clienthello_build(hello, 516, "www.blocked.example", 19, CLIENTHELLO_CLASSIC, 1), -1);
}

/* split_plan resolves the markers against the probe's own hello. */
static void plan_on_own_hello(void)
{
	uint8_t hello[CLIENTHELLO_MAX];
	struct tls_result tls;
	struct split_spec spec;
	uint32_t cuts[SPLIT_MAX_POSITIONS];
	char err[200];
	int n = clienthello_build(hello, sizeof(hello), "www.blocked.example", 19, CLIENTHELLO_CHROME, 5);

	CHECK(n > 0 && tls_inspect(hello, (size_t)n, TLS_COMPLETE_RECORD, &tls) == TLS_DONE);
	CHECK_EQ(split_spec_parse(&spec, "5,midsld", err, sizeof(err)), 0);
	CHECK_EQ(split_plan(&spec, tls.window_len, &tls, hello, cuts), 2);
	CHECK(cuts[0] == 5 && cuts[1] == SNI_OFFSET + 7);   /* www.blo|cked.example */
	CHECK_EQ(split_spec_parse(&spec, "sni+1,sniend-1", err, sizeof(err)), 0);
	CHECK_EQ(split_plan(&spec, tls.window_len, &tls, hello, cuts), 2);
	CHECK(cuts[0] == SNI_OFFSET + 1 && cuts[1] == SNI_OFFSET + 18);
}

void test_clienthello(void)
{
	every_length(CLIENTHELLO_CHROME);
	every_length(CLIENTHELLO_CLASSIC);
	classic_is_512();
	largest_fits();
	every_prefix_needs_more();
	random_parts();
	refuses();
	plan_on_own_hello();
}
