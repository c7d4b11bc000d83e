/* test_learn.c — the per-site memory with a driven clock: success, each
 * failure kind, stale reports, expiry, pinning, registrable-part keying, the
 * exact name winning, the ladder exhausted once, bounded memory, and the
 * state file: round trip, corrupt lines, a truncated file. */
#include <errno.h>
#include <stdlib.h>

#include "learn.h"
#include "test.h"

void test_learn(void);

#define T0 1764745200ull
#define NAME(s) (const uint8_t *)(s), strlen(s)

static struct ladder ladder;

static int rung_of(struct learn *l, const char *name, uint64_t now, enum learn_source *source)
{
	struct learn_answer a;

	learn_lookup(l, NAME(name), now, &a);
	if (source)
		*source = a.source;
	if (a.spec == NULL)
		return -2;               /* passes unsplit */
	if (a.rung >= 0)
		CHECK(a.spec == &l->ladder.rungs[a.rung].spec);
	return a.rung;
}

static void names(void)
{
	char out[LEARN_NAME_MAX + 1], long_name[300];

	CHECK_EQ(learn_normalize(NAME("WWW.Example.COM."), out), 15);
	CHECK(!strcmp(out, "www.example.com"));
	CHECK_EQ(learn_normalize(NAME(""), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME("."), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME("a..b"), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME(".a"), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME("a.."), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME("a b"), out), -EINVAL);
	CHECK_EQ(learn_normalize(NAME("a\nb"), out), -EINVAL);
	CHECK_EQ(learn_normalize((const uint8_t *)"a\0b", 3, out), -EINVAL);
	memset(long_name, 'a', sizeof(long_name));
	CHECK_EQ(learn_normalize((const uint8_t *)long_name, 253, out), 253);
	CHECK_EQ(learn_normalize((const uint8_t *)long_name, 254, out), -EINVAL);

	CHECK(!strcmp(learn_site_of("www.example.com"), "example.com"));
	CHECK(!strcmp(learn_site_of("a.b.c.example.com"), "example.com"));
	CHECK(!strcmp(learn_site_of("example.com"), "example.com"));
	CHECK(!strcmp(learn_site_of("localhost"), "localhost"));
	CHECK(!strcmp(learn_site_of("www.bbc.co.uk"), "bbc.co.uk"));
	CHECK(!strcmp(learn_site_of("bbc.co.uk"), "bbc.co.uk"));
	CHECK(!strcmp(learn_site_of("co.uk"), "co.uk"));
	CHECK(!strcmp(learn_site_of("a.news.com.au"), "news.com.au"));
	CHECK(!strcmp(learn_site_of("www.example.co"), "example.co"));       /* .co itself is a TLD */
	CHECK(!strcmp(learn_site_of("a.co.example"), "co.example"));         /* not a country TLD */
	CHECK(!strcmp(learn_site_of("x.user.github.io"), "github.io"));      /* not covered: one entry */
}

static void learning(void)
{
	struct learn l;
	enum learn_source src;
	const struct learn_entry *e;
	uint32_t it = 0;
	uint64_t now = T0;

	CHECK_EQ(learn_init(&l, &ladder, 64, 1), 0);
	/* Nothing known: rung 0; a success there stores nothing. */
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, &src), 0);
	CHECK_EQ(src, LEARN_FROM_DEFAULT);
	CHECK_EQ(learn_success(&l, NAME("www.blocked.example"), 0, now), LEARN_KEPT);
	CHECK_EQ(l.nlearned, 0);
	CHECK_EQ(l.changes, 0);

	/* A reset at rung 0 moves the site one rung down, for every name under it. */
	CHECK_EQ(learn_fail(&l, NAME("www.blocked.example"), 0, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(l.changes, 1);
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, &src), 1);
	CHECK_EQ(src, LEARN_FROM_SITE);
	CHECK_EQ(rung_of(&l, "img.blocked.example", now, NULL), 1);
	CHECK_EQ(rung_of(&l, "BLOCKED.example.", now, NULL), 1);
	CHECK_EQ(rung_of(&l, "www.allowed.example", now, NULL), 0);
	e = learn_next(&l, &it);
	CHECK(e && e->kind == LEARN_SITE && !strcmp(e->name, "blocked.example") && e->rung == 1);
	CHECK(e && e->state == LEARN_TRYING && e->last_failure == LEARN_FAIL_RESET && e->changed == now);
	CHECK(e && e->expires == now + LEARN_KEEP_S);
	CHECK(learn_next(&l, &it) == NULL);

	/* Parallel connections that began at rung 0 report it late: ignored. */
	CHECK_EQ(learn_fail(&l, NAME("www.blocked.example"), 0, LEARN_FAIL_RESET, now), LEARN_IGNORED);
	CHECK_EQ(learn_success(&l, NAME("www.blocked.example"), 0, now), LEARN_IGNORED);
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, NULL), 1);

	/* A success keeps the rung, and keeps it fresh. */
	now += 3600;
	CHECK_EQ(learn_success(&l, NAME("www.blocked.example"), 1, now), LEARN_KEPT);
	CHECK_EQ(l.changes, 2);
	CHECK_EQ(learn_success(&l, NAME("img.blocked.example"), 1, now), LEARN_KEPT);
	CHECK_EQ(l.changes, 2);                     /* a refresh is no change worth a save */
	it = 0;
	e = learn_next(&l, &it);
	CHECK(e && e->state == LEARN_WORKS && e->successes == 2 && e->expires == now + LEARN_KEEP_S);
	CHECK_EQ(rung_of(&l, "new.blocked.example", now, NULL), 1);   /* a sibling: right at once */

	/* A name that fails where its site works gets its own entry: the exact
	 * name wins, its siblings keep the site's rung. */
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 1, LEARN_FAIL_FIN, now), LEARN_MOVED);
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, &src), 2);
	CHECK_EQ(src, LEARN_FROM_NAME);
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, &src), 1);
	CHECK_EQ(src, LEARN_FROM_SITE);
	CHECK_EQ(l.nlearned, 2);
	/* Its own entry moves on its own; each failure kind moves one rung. */
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 2, LEARN_FAIL_SILENT, now), LEARN_MOVED);
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, NULL), 3);
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 3, LEARN_FAIL_FIN, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 4, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, NULL), 5);
	CHECK_EQ(l.nlearned, 2);

	/* The last rung fails: reported once, then the name passes unsplit
	 * (fail open) and nothing more is counted until it expires. */
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 5, LEARN_FAIL_RESET, now), LEARN_GAVE_UP_NOW);
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, &src), -2);
	CHECK_EQ(src, LEARN_FROM_GAVE_UP);
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), -1, LEARN_FAIL_RESET, now), LEARN_IGNORED);
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 0, LEARN_FAIL_RESET, now), LEARN_IGNORED);
	CHECK_EQ(learn_fail(&l, NAME("odd.blocked.example"), 5, LEARN_FAIL_RESET, now), LEARN_IGNORED);
	CHECK_EQ(learn_success(&l, NAME("odd.blocked.example"), -1, now), LEARN_IGNORED);
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, NULL), 1);
	now += LEARN_GAVE_UP_S - 1;
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, NULL), -2);
	now += 1;                                   /* retried: from its site's rung, as a new name */
	CHECK_EQ(rung_of(&l, "odd.blocked.example", now, &src), 1);
	CHECK_EQ(src, LEARN_FROM_SITE);
	CHECK_EQ(l.nlearned, 1);

	/* Expiry: LEARN_KEEP_S after the last success. */
	now = T0 + 3600 + LEARN_KEEP_S - 1;
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, NULL), 1);
	now += 1;
	CHECK_EQ(rung_of(&l, "www.blocked.example", now, &src), 0);
	CHECK_EQ(src, LEARN_FROM_DEFAULT);
	CHECK_EQ(l.nlearned, 0);
	CHECK_EQ(learn_success(&l, NAME("www.blocked.example"), 1, now), LEARN_IGNORED);

	/* Never learned: a name that is no host name. */
	CHECK_EQ(learn_fail(&l, NAME("bad name"), 0, LEARN_FAIL_RESET, now), LEARN_IGNORED);
	CHECK_EQ(rung_of(&l, "bad name", now, NULL), 0);
	CHECK_EQ(l.nlearned, 0);
	learn_free(&l);
}

static void one_rung_ladder(void)
{
	struct learn l;
	struct ladder one = ladder;

	one.count = 1;
	CHECK_EQ(learn_init(&l, &one, 8, 1), 0);
	CHECK_EQ(learn_fail(&l, NAME("www.a.example"), 0, LEARN_FAIL_RESET, T0), LEARN_GAVE_UP_NOW);
	CHECK_EQ(rung_of(&l, "img.a.example", T0, NULL), -2);
	learn_free(&l);
	one.count = 0;
	CHECK_EQ(learn_init(&l, &one, 8, 1), -EINVAL);
	CHECK_EQ(learn_init(&l, &ladder, 1, 1), -EINVAL);
}

static void pinning(void)
{
	struct learn l;
	struct split_spec spec, spec2;
	struct learn_answer a;
	char err[80];

	CHECK_EQ(learn_init(&l, &ladder, 16, 7), 0);
	CHECK_EQ(split_spec_parse(&spec, "2,sni", err, sizeof(err)), 0);
	CHECK_EQ(split_spec_parse(&spec2, "sniend-2", err, sizeof(err)), 0);
	CHECK_EQ(learn_fail(&l, NAME("www.blocked.example"), 0, LEARN_FAIL_RESET, T0), LEARN_MOVED);
	CHECK_EQ(learn_pin(&l, "Blocked.Example", &spec), 0);
	/* The user wins over learning, for the domain and its subdomains. */
	learn_lookup(&l, NAME("www.blocked.example"), T0, &a);
	CHECK(a.source == LEARN_FROM_PIN && a.rung == -1 && a.spec && a.spec->count == 2);
	learn_lookup(&l, NAME("blocked.example"), T0, &a);
	CHECK_EQ(a.source, LEARN_FROM_PIN);
	learn_lookup(&l, NAME("xblocked.example"), T0, &a);
	CHECK_EQ(a.source, LEARN_FROM_DEFAULT);
	CHECK_EQ(learn_fail(&l, NAME("www.blocked.example"), 1, LEARN_FAIL_RESET, T0), LEARN_IGNORED);
	CHECK_EQ(learn_success(&l, NAME("www.blocked.example"), 1, T0), LEARN_IGNORED);
	/* The longest pinned domain wins; pinning again replaces. */
	CHECK_EQ(learn_pin(&l, "www.blocked.example", &spec2), 0);
	learn_lookup(&l, NAME("a.www.blocked.example"), T0, &a);
	CHECK(a.source == LEARN_FROM_PIN && a.spec && a.spec->count == 1 && a.spec->pos[0].marker == SPLIT_SNIEND);
	learn_lookup(&l, NAME("img.blocked.example"), T0, &a);
	CHECK(a.spec && a.spec->count == 2);
	CHECK_EQ(learn_pin(&l, "blocked.example", &spec2), 0);
	learn_lookup(&l, NAME("img.blocked.example"), T0, &a);
	CHECK(a.spec && a.spec->count == 1);
	CHECK_EQ(l.npins, 2);
	/* Pins never expire and are not learned entries. */
	learn_lookup(&l, NAME("img.blocked.example"), T0 + 10 * LEARN_KEEP_S, &a);
	CHECK_EQ(a.source, LEARN_FROM_PIN);
	CHECK_EQ(learn_pin(&l, "not a domain", &spec), -EINVAL);
	spec.count = 0;
	CHECK_EQ(learn_pin(&l, "c.example", &spec), -EINVAL);
	/* At most half the table: learning keeps room. */
	CHECK_EQ(split_spec_parse(&spec, "1", err, sizeof(err)), 0);
	CHECK_EQ(learn_pin(&l, "p1.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p2.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p3.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p4.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p5.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p6.example", &spec), 0);
	CHECK_EQ(learn_pin(&l, "p7.example", &spec), -ENOSPC);
	learn_free(&l);
}

static void bounded(void)
{
	struct learn l;
	char name[64];
	int i;

	CHECK_EQ(learn_init(&l, &ladder, 8, 3), 0);
	/* 40 sites, each failing a second later than the one before: the table
	 * keeps 8, dropping the one that would expire first. */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "www.site%d.example", i);
		CHECK_EQ(learn_fail(&l, NAME(name), 0, LEARN_FAIL_RESET, T0 + (uint64_t)i), LEARN_MOVED);
		CHECK(l.used <= 8);
	}
	CHECK_EQ(l.nlearned, 8);
	CHECK(l.high_water <= 8);
	CHECK_EQ(rung_of(&l, "www.site0.example", T0 + 40, NULL), 0);     /* evicted */
	CHECK_EQ(rung_of(&l, "www.site31.example", T0 + 40, NULL), 0);
	CHECK_EQ(rung_of(&l, "www.site32.example", T0 + 40, NULL), 1);
	CHECK_EQ(rung_of(&l, "www.site39.example", T0 + 40, NULL), 1);
	learn_free(&l);
}

/* ---- the state file */

struct sink {
	char text[8192];
	size_t len;
	int fail_after;              /* write calls before an error; -1 never */
};

static int sink_write(void *ctx, const char *text, size_t len)
{
	struct sink *s = ctx;

	if (s->fail_after == 0)
		return -EIO;
	if (s->fail_after > 0)
		s->fail_after--;
	if (s->len + len >= sizeof(s->text))
		return -ENOSPC;
	memcpy(s->text + s->len, text, len);
	s->len += len;
	s->text[s->len] = 0;
	return 0;
}

struct warnings {
	int count;
	unsigned lines[16];
	char last[512];
};

static void collect_warning(void *ctx, unsigned line, const char *why)
{
	struct warnings *w = ctx;

	if (w->count < 16)
		w->lines[w->count] = line;
	w->count++;
	snprintf(w->last, sizeof(w->last), "%s", why);
}

static void round_trip(void)
{
	struct learn a, b;
	struct sink s1 = {{0}, 0, -1}, s2 = {{0}, 0, -1}, s3 = {{0}, 0, 2};
	struct warnings w = {0};
	uint64_t now = T0;

	CHECK_EQ(learn_init(&a, &ladder, 64, 11), 0);
	CHECK_EQ(learn_init(&b, &ladder, 64, 12), 0);      /* another seed: other slots */
	learn_fail(&a, NAME("www.blocked.example"), 0, LEARN_FAIL_RESET, now);
	learn_success(&a, NAME("www.blocked.example"), 1, now);
	learn_fail(&a, NAME("odd.blocked.example"), 1, LEARN_FAIL_SILENT, now);
	learn_fail(&a, NAME("www.news.co.uk"), 0, LEARN_FAIL_FIN, now);
	learn_fail(&a, NAME("x.gone.example"), 0, LEARN_FAIL_RESET, now - LEARN_KEEP_S);   /* expired: not saved */
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 0, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 1, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 2, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 3, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 4, LEARN_FAIL_RESET, now), LEARN_MOVED);
	CHECK_EQ(learn_fail(&a, NAME("nothing.example"), 5, LEARN_FAIL_RESET, now), LEARN_GAVE_UP_NOW);
	CHECK_EQ(learn_save(&a, now, sink_write, &s1), 0);
	CHECK(strncmp(s1.text, "hellosplit-learned 1\n", 21) == 0);
	CHECK(strstr(s1.text, "\nsite blocked.example midsld works 1764745200 1765350000 1 reset\n") != NULL);
	CHECK(strstr(s1.text, "\nname odd.blocked.example 1 trying 1764745200 1765350000 0 silent\n") != NULL);
	CHECK(strstr(s1.text, "\nsite news.co.uk midsld trying ") != NULL);
	CHECK(strstr(s1.text, "\nsite nothing.example - gave-up 1764745200 1764766800 0 reset\n") != NULL);
	CHECK(strstr(s1.text, "gone") == NULL);

	/* Read back in a later run: the same answers, the same text. */
	CHECK_EQ(learn_load(&b, s1.text, s1.len, now + 60, collect_warning, &w), 4);
	CHECK_EQ(w.count, 0);
	CHECK_EQ(b.changes, 0);
	CHECK_EQ(rung_of(&b, "img.blocked.example", now + 60, NULL), 1);
	CHECK_EQ(rung_of(&b, "odd.blocked.example", now + 60, NULL), 2);
	CHECK_EQ(rung_of(&b, "a.news.co.uk", now + 60, NULL), 1);
	CHECK_EQ(rung_of(&b, "nothing.example", now + 60, NULL), -2);
	CHECK_EQ(learn_fail(&b, NAME("nothing.example"), 5, LEARN_FAIL_RESET, now + 60), LEARN_IGNORED);
	CHECK_EQ(learn_save(&b, now + 60, sink_write, &s2), 0);
	CHECK_EQ(s1.len, s2.len);
	CHECK(strstr(s2.text, "\nsite blocked.example midsld works 1764745200 1765350000 1 reset\n") != NULL);
	CHECK(strstr(s2.text, "\nsite nothing.example - gave-up 1764745200 1764766800 0 reset\n") != NULL);

	/* A write error stops the save and is returned. */
	CHECK_EQ(learn_save(&a, now, sink_write, &s3), -EIO);
	learn_free(&a);
	learn_free(&b);
}

static const char good_file[] =
	"hellosplit-learned 1\n"
	"# comment\n"
	"site blocked.example midsld works 1764745200 1765350000 3 reset\n"
	"\n"
	"name odd.blocked.example 1,midsld trying 1764745200 1765350000 0 fin\n"
	"site news.co.uk sni+1 works 1764745200 1765350000 9 silent\n"
	"site nothing.example - gave-up 1764745200 1764766800 0 reset\n";

#define LINE(s) {s, sizeof(s) - 1}

static void corrupt(void)
{
	static const struct {
		const char *text;
		size_t len;
	} bad_lines[] = {
		LINE("site blocked.example midsld works 1764745200 1765350000 3\n"),            /* a field short */
		LINE("site blocked.example midsld works 1764745200 1765350000 3 reset x\n"),    /* a field more */
		LINE("host blocked.example midsld works 1764745200 1765350000 3 reset\n"),      /* KIND */
		LINE("site Blocked.example midsld works 1764745200 1765350000 3 reset\n"),      /* upper case */
		LINE("site bl@cked.example midsld works 1764745200 1765350000 3 reset\n"),      /* no host name */
		LINE("site www.blocked.example midsld works 1764745200 1765350000 3 reset\n"),  /* no registrable part */
		LINE("site blocked.example midsdl works 1764745200 1765350000 3 reset\n"),      /* SPLIT-AT */
		LINE("site blocked.example sni+0 works 1764745200 1765350000 3 reset\n"),       /* not canonical */
		LINE("site blocked.example - works 1764745200 1765350000 3 reset\n"),           /* '-' not gave up */
		LINE("site blocked.example midsld gave-up 1764745200 1765350000 3 reset\n"),    /* gave up with a rung */
		LINE("site blocked.example midsld wrks 1764745200 1765350000 3 reset\n"),       /* STATE */
		LINE("site blocked.example midsld works 17647x5200 1765350000 3 reset\n"),      /* CHANGED */
		LINE("site blocked.example midsld works 1764745200 99999999999999999999 3 reset\n"), /* overflow */
		LINE("site blocked.example midsld works 1764745200 01765350000 3 reset\n"),     /* leading zero */
		LINE("site blocked.example midsld works 1765350000 1764745200 3 reset\n"),      /* expires before */
		LINE("site blocked.example midsld works 1764745200 1765350000 4294967296 reset\n"), /* SUCCESSES */
		LINE("site blocked.example midsld works 1764745200 1765350000 3 rst\n"),        /* LAST-FAILURE */
		LINE("site blocked.example midsld works 1764745200 1765350000 3 re\0et\n"),     /* a NUL */
	};
	static const char before[] = "hellosplit-learned 1\nsite good.example 1 works 1764745200 1765350000 0 reset\n";
	static const char after[] = "name a.other.example midsld works 1764745200 1765350000 0 fin\n";
	char text[2048], long_line[LEARN_LINE_MAX + 64];
	struct learn l;
	struct warnings w;
	size_t i, n, good_len = sizeof(good_file) - 1, cut;
	int loaded;

	CHECK_EQ(learn_init(&l, &ladder, 64, 5), 0);
	/* Each bad line, between good ones: one warning naming its line, the rest kept. */
	for (i = 0; i <= sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		const char *bad = i < sizeof(bad_lines) / sizeof(bad_lines[0]) ? bad_lines[i].text : long_line;
		size_t bad_len = bad == long_line ? sizeof(long_line) : bad_lines[i].len;

		memset(long_line, 'a', sizeof(long_line));                 /* the last case: too long */
		long_line[sizeof(long_line) - 1] = '\n';
		learn_free(&l);
		CHECK_EQ(learn_init(&l, &ladder, 64, 5), 0);
		memset(&w, 0, sizeof(w));
		n = 0;
		memcpy(text + n, before, sizeof(before) - 1);
		n += sizeof(before) - 1;
		memcpy(text + n, bad, bad_len);
		n += bad_len;
		memcpy(text + n, after, sizeof(after) - 1);
		n += sizeof(after) - 1;
		loaded = learn_load(&l, text, n, T0, collect_warning, &w);
		CHECK_EQ(loaded, 2);
		CHECK_EQ(w.count, 1);
		CHECK_EQ(w.lines[0], 3);
		if (w.count != 1 || loaded != 2)
			fprintf(stderr, "  bad line %u: %s\n", (unsigned)i, w.last);
		CHECK_EQ(rung_of(&l, "x.good.example", T0, NULL), 2);
		CHECK_EQ(rung_of(&l, "a.other.example", T0, NULL), 1);
	}
	/* The messages say what is wrong. */
	memset(&w, 0, sizeof(w));
	n = sizeof("hellosplit-learned 1\nsite blocked.example midsld wrks 1 2 3 reset\n") - 1;
	learn_load(&l, "hellosplit-learned 1\nsite blocked.example midsld wrks 1 2 3 reset\n", n, T0, collect_warning,
		   &w);
	CHECK(strstr(w.last, "STATE 'wrks' is not trying, works or gave-up") != NULL);

	/* A file cut anywhere: no crash, every entry whose line is whole is
	 * kept, the cut line is warned about (unless a comment). */
	for (cut = 0; cut <= good_len; cut++) {
		size_t start = cut;
		int want = 0;

		while (start > 0 && good_file[start - 1] != '\n')
			start--;
		for (i = 0; i < start; i++)
			if ((i == 0 || good_file[i - 1] == '\n') && (!strncmp(good_file + i, "site ", 5) ||
								     !strncmp(good_file + i, "name ", 5)))
				want++;
		learn_free(&l);
		CHECK_EQ(learn_init(&l, &ladder, 64, 5), 0);
		memset(&w, 0, sizeof(w));
		loaded = learn_load(&l, good_file, cut, T0, collect_warning, &w);
		CHECK_EQ(loaded, want);
		CHECK_EQ(w.count, start < cut && good_file[start] != '#' ? 1 : 0);
		if (start < cut && good_file[start] != '#')
			CHECK(strstr(w.last, "truncated") != NULL);
	}
	CHECK_EQ(loaded, 4);
	learn_free(&l);
}

static void versions(void)
{
	struct learn l;
	struct warnings w = {0};
	char text[512];

	CHECK_EQ(learn_init(&l, &ladder, 64, 5), 0);
	/* Another version: warned, nothing read. */
	snprintf(text, sizeof(text), "hellosplit-learned 2\nsite a.example midsld works 1764745200 1765350000 0 reset\n");
	CHECK_EQ(learn_load(&l, text, strlen(text), T0, collect_warning, &w), -EPROTO);
	CHECK(w.count == 1 && w.lines[0] == 1 && strstr(w.last, "version 2") != NULL);
	CHECK_EQ(l.nlearned, 0);
	/* No header: warned, the entries read. */
	memset(&w, 0, sizeof(w));
	snprintf(text, sizeof(text), "site a.example midsld works 1764745200 1765350000 0 reset\n");
	CHECK_EQ(learn_load(&l, text, strlen(text), T0, collect_warning, &w), 1);
	CHECK(w.count == 1 && strstr(w.last, "header") != NULL);
	/* Expired entries go silently; a rung not in this ladder with a warning;
	 * a time beyond the keep time (a clock set back) is brought to it; a
	 * second entry for a key replaces the first; CRLF lines are read. */
	learn_free(&l);
	CHECK_EQ(learn_init(&l, &ladder, 64, 5), 0);
	memset(&w, 0, sizeof(w));
	snprintf(text, sizeof(text),
		 "hellosplit-learned 1\r\n"
		 "site old.example midsld works 1764000000 1764000001 0 reset\r\n"
		 "site other.example 2,sni works 1764745200 1765350000 0 reset\n"
		 "site future.example midsld works 1764745200 1999999999 0 reset\n"
		 "site twice.example midsld works 1764745200 1765350000 0 reset\n"
		 "site twice.example 1 works 1764745200 1765350000 0 reset\n"
		 "site ahead.example midsld works 1999999990 1999999999 0 reset\n");
	CHECK_EQ(learn_load(&l, text, strlen(text), T0, collect_warning, &w), 3);
	CHECK_EQ(w.count, 2);
	CHECK(w.lines[0] == 3 && w.lines[1] == 6);
	CHECK_EQ(rung_of(&l, "old.example", T0, NULL), 0);
	CHECK_EQ(rung_of(&l, "other.example", T0, NULL), 0);
	CHECK_EQ(rung_of(&l, "twice.example", T0, NULL), 2);
	CHECK_EQ(rung_of(&l, "future.example", T0 + LEARN_KEEP_S - 1, NULL), 1);
	CHECK_EQ(rung_of(&l, "future.example", T0 + LEARN_KEEP_S, NULL), 0);
	{
		const struct learn_entry *e;
		uint32_t it = 0;

		while ((e = learn_next(&l, &it)))
			if (!strcmp(e->name, "ahead.example"))
				CHECK(e->changed == T0 && e->expires == T0 + LEARN_KEEP_S);
	}
	learn_free(&l);
}

void test_learn(void)
{
	CHECK_EQ(ladder_build(&ladder, NULL), 0);
	names();
	learning();
	one_rung_ladder();
	pinning();
	bounded();
	round_trip();
	corrupt();
	versions();
}
