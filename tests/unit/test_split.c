/* test_split.c — the --split-at grammar and the cut plan. */
#include <string.h>

#include "split.h"
#include "test.h"
#include "vectors.h"

void test_split(void);

static int plan(const char *spec_text, uint32_t window, const struct tls_result *tls, const uint8_t *stream,
		uint32_t cuts[SPLIT_MAX_POSITIONS])
{
	struct split_spec spec;
	char err[200];

	if (split_spec_parse(&spec, spec_text, err, sizeof(err)))
		return -1;
	return split_plan(&spec, window, tls, stream, cuts);
}

static void grammar(void)
{
	struct split_spec s;
	char err[200], text[200];
	static const char *const good[] = {"5", "1,2,3", "sni", "sni+1", "sni-2", "sniend", "sniend-1",
					   "midsld", "midsld+3", "5,midsld", "1048576"};
	static const char *const bad[] = {"", ",", "5,", ",5", "-5", "+5", "sni+", "sni+-1", "snix", "SNI",
					  "5 ", " 5", "1048577", "99999999", "sni+1048577", "midsld1",
					  "1,2,3,4,5,6,7,8,9", "0x10", "host"};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ(split_spec_parse(&s, good[i], err, sizeof(err)), 0);
		split_spec_format(&s, text, sizeof(text));
		CHECK(!strcmp(text, good[i]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK_EQ(split_spec_parse(&s, bad[i], err, sizeof(err)), -1);
		CHECK(err[0] != 0);
	}
	CHECK_EQ(split_spec_parse(&s, "sni+2,7", err, sizeof(err)), 0);
	CHECK_EQ(s.count, 2);
	CHECK_EQ(s.pos[0].marker, SPLIT_SNI);
	CHECK_EQ(s.pos[0].delta, 2);
	CHECK_EQ(s.pos[1].marker, SPLIT_ABS);
	CHECK_EQ(s.pos[1].delta, 7);
}

static void markers(void)
{
	struct tls_result t;
	uint32_t c[SPLIT_MAX_POSITIONS];
	const uint32_t o = HELLO_BLOCKED_SNI_OFF;  /* www.blocked.example */

	memset(&t, 0, sizeof(t));
	t.window_len = sizeof(hello_blocked);
	t.sni_off = o;
	t.sni_len = 19;
	CHECK_EQ(plan("sni", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], o);
	CHECK_EQ(plan("sni+1", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], o + 1);
	CHECK_EQ(plan("sniend", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], o + 19);
	CHECK_EQ(plan("sniend-1", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], o + 18);
	/* midsld of www.blocked.example: "blocked" starts at 4, 7 long: 4 + 3 */
	CHECK_EQ(plan("midsld", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], o + 7);
	CHECK_EQ(plan("5,midsld,sni,5", 517, &t, hello_blocked, c), 3);   /* sorted, de-duplicated */
	CHECK_EQ(c[0], 5);
	CHECK_EQ(c[1], o);
	CHECK_EQ(c[2], o + 7);
}

static void midsld_shapes(void)
{
	static const struct {
		const char *name;
		uint32_t expect;
	} cases[] = {
		{"www.example.com", 7},   /* exa|mple */
		{"example.com", 3},       /* exa|mple */
		{"example.com.", 3},      /* trailing dot ignored */
		{"localhost", 4},         /* one label: its middle */
		{"a.b", 0},               /* one-letter label: its start */
		{"ab.cd", 1},
		{"x.y.zz.example.org", 10},
	};
	struct tls_result t;
	uint32_t c[SPLIT_MAX_POSITIONS];
	uint8_t buf[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&t, 0, sizeof(t));
		memset(buf, 0, sizeof(buf));
		memcpy(buf + 20, cases[i].name, strlen(cases[i].name));
		t.sni_off = 20;
		t.sni_len = (uint32_t)strlen(cases[i].name);
		CHECK_EQ(plan("midsld", 100, &t, buf, c), 1);
		CHECK_EQ(c[0], 20 + cases[i].expect);
	}
}

static void out_of_range_and_fallback(void)
{
	struct tls_result t;
	uint32_t c[SPLIT_MAX_POSITIONS];

	memset(&t, 0, sizeof(t));
	CHECK_EQ(plan("1000", 517, &t, hello_blocked, c), 1);    /* beyond: default 5 */
	CHECK_EQ(c[0], 5);
	CHECK_EQ(plan("517", 517, &t, hello_blocked, c), 1);     /* == window: dropped */
	CHECK_EQ(c[0], 5);
	CHECK_EQ(plan("516", 517, &t, hello_blocked, c), 1);
	CHECK_EQ(c[0], 516);
	CHECK_EQ(plan("sni-200", 517, &t, hello_blocked, c), 1); /* no SNI known: default */
	CHECK_EQ(c[0], 5);
	CHECK_EQ(plan("sni", 517, NULL, NULL, c), 1);            /* immediate mode */
	CHECK_EQ(c[0], 5);
	CHECK_EQ(plan("1", 4, NULL, NULL, c), 1);
	CHECK_EQ(c[0], 1);
	CHECK_EQ(plan("10", 4, NULL, NULL, c), 0);               /* nothing fits: no cut */
	CHECK_EQ(plan("3,1,2,2,1", 517, NULL, NULL, c), 3);
	CHECK(c[0] == 1 && c[1] == 2 && c[2] == 3);
	t.sni_off = 153;
	t.sni_len = 19;
	CHECK_EQ(plan("sni-153", 517, &t, hello_blocked, c), 1); /* resolves to 0: dropped */
	CHECK_EQ(c[0], 5);
}

void test_split(void)
{
	grammar();
	markers();
	midsld_shapes();
	out_of_range_and_fallback();
}
