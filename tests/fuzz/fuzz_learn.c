/* fuzz_learn.c — the learner's state file parser (it reads a file that
 * may be corrupt, truncated or edited by hand) and the table behind it:
 *   - no more records than lines ended by a newline, and no more entries
 *     loaded than records or the table's capacity;
 *   - every record formats to a line that parses back to the same record;
 *   - what is saved after the load reads back with no warning, loads the
 *     same number of entries, and saves to the very same text (stable);
 *   - every loaded name is answered from the ladder (or passes unsplit when
 *     it gave up), and reports on it keep the table within its capacity;
 *   - the same bytes as a --pin value: refused with a reason, or accepted,
 *     and then every entry pinned, its domain answered by the pin.
 * Input: the file's bytes. */
#include <string.h>

#include "fuzz.h"
#include "learn.h"

#define NOW 1764745200ull
#define CAPACITY 8

struct sink {
	char text[CAPACITY * (LEARN_LINE_MAX + 64) + 1024];
	size_t len;
};

static int sink_write(void *ctx, const char *text, size_t len)
{
	struct sink *s = ctx;

	FUZZ_ASSERT(s->len + len < sizeof(s->text), "saved text of %zu bytes", s->len + len);
	memcpy(s->text + s->len, text, len);
	s->len += len;
	return 0;
}

static void count_warning(void *ctx, unsigned line, const char *why)
{
	FUZZ_ASSERT(line > 0 && why && *why, "a warning without line or reason");
	(*(int *)ctx)++;
}

struct one_record {
	struct learn_record r;
	int count;
};

static void keep_record(void *ctx, unsigned line, const struct learn_record *r)
{
	struct one_record *o = ctx;

	(void)line;
	o->r = *r;
	o->count++;
}

static void no_warning(void *ctx, unsigned line, const char *why)
{
	(void)ctx;
	FUZZ_ASSERT(0, "line %u of a formatted record: %s", line, why);
}

struct counts {
	int records, warnings;
};

static void count_parse_warning(void *ctx, unsigned line, const char *why)
{
	struct counts *c = ctx;

	count_warning(&c->warnings, line, why);
}

/* Every record formats to a line that, after a header, parses back to
 * exactly that record. */
static void check_record(void *ctx, unsigned line, const struct learn_record *r)
{
	char file[2 * LEARN_LINE_MAX];
	struct one_record back = {{0}, 0};
	struct counts *c = ctx;
	int h = learn_format_header(file, sizeof(file)), n;

	(void)line;
	c->records++;
	FUZZ_ASSERT(h > 0, "header does not format");
	n = learn_format_record(r, file + h, sizeof(file) - (size_t)h);
	FUZZ_ASSERT(n > 0 && file[h + n - 1] == '\n', "record does not format");
	FUZZ_ASSERT(learn_parse_state(file, (size_t)(h + n), keep_record, no_warning, &back) == 1 && back.count == 1,
		    "a formatted record is not read back");
	FUZZ_ASSERT(back.r.kind == r->kind && back.r.state == r->state && back.r.last_failure == r->last_failure &&
			    !strcmp(back.r.name, r->name) && !strcmp(back.r.split_at, r->split_at) &&
			    back.r.changed == r->changed && back.r.expires == r->expires &&
			    back.r.successes == r->successes,
		    "record changed by format and parse: %.*s", n, file + h);
}

/* The input as a --pin value. */
static void check_pins(const struct ladder *ladder, const uint8_t *data, size_t size)
{
	static char text[4096];
	static struct learn l;
	char err[320];
	int r;

	if (size >= sizeof(text) || memchr(data, 0, size))
		return;
	memcpy(text, data, size);
	text[size] = 0;
	err[0] = 0;
	r = learn_parse_pins(text, NULL, err, sizeof(err));
	FUZZ_ASSERT(r == 0 || (r == -1 && err[0]), "pins: %d without a reason", r);
	if (r)
		return;
	FUZZ_ASSERT(learn_init(&l, ladder, 2 * LEARN_MAX_PINS + 2, 3) == 0, "init");
	r = learn_parse_pins(text, &l, err, sizeof(err));
	if (r == 0) {
		char *p = text;

		FUZZ_ASSERT(l.npins >= 1, "accepted pins but none pinned");
		for (;;) {
			struct learn_answer ans;
			size_t len;
			char *eq;

			p += strspn(p, "; \t");
			if (!*p)
				break;
			len = strcspn(p, "; \t");
			eq = memchr(p, '=', len);
			FUZZ_ASSERT(eq, "an accepted entry without '='");
			learn_lookup(&l, (const uint8_t *)p, (size_t)(eq - p), NOW, &ans);
			FUZZ_ASSERT(ans.source == LEARN_FROM_PIN && ans.rung == -1 && ans.spec, "pinned domain not pinned");
			p += len;
		}
	} else {
		FUZZ_ASSERT(strstr(err, "too many pins") != NULL, "pins accepted, then refused: %s", err);
	}
	learn_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ladder ladder;
	static struct learn a, b;
	static struct sink s1, s2;
	static int ready;
	const struct learn_entry *e;
	struct counts parsed = {0, 0};
	uint32_t it = 0;
	int records, warnings, loaded, reloaded, lines = 0;
	size_t i;

	if (!ready) {
		FUZZ_ASSERT(ladder_build(&ladder, NULL) == 0, "ladder");
		ready = 1;
	}
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	learn_parse_state((const char *)data, size, check_record, count_parse_warning, &parsed);
	records = parsed.records;
	FUZZ_ASSERT(records <= lines, "%d records from %d lines", records, lines);

	FUZZ_ASSERT(learn_init(&a, &ladder, CAPACITY, 1) == 0 && learn_init(&b, &ladder, CAPACITY, 2) == 0, "init");
	warnings = 0;
	loaded = learn_load(&a, (const char *)data, size, NOW, count_warning, &warnings);
	FUZZ_ASSERT(loaded <= records && loaded <= CAPACITY, "loaded %d of %d records", loaded, records);
	FUZZ_ASSERT(a.nlearned <= CAPACITY && a.used <= CAPACITY, "%u entries", a.used);
	if (loaded >= 0)
		FUZZ_ASSERT(a.nlearned == (uint32_t)loaded, "loaded %d, table holds %u", loaded, a.nlearned);

	s1.len = s2.len = 0;
	FUZZ_ASSERT(learn_save(&a, NOW, sink_write, &s1) == 0, "save");
	warnings = 0;
	reloaded = learn_load(&b, s1.text, s1.len, NOW, count_warning, &warnings);
	FUZZ_ASSERT(warnings == 0, "%d warnings reading what was saved", warnings);
	FUZZ_ASSERT(reloaded == (int)a.nlearned, "reloaded %d of %u", reloaded, a.nlearned);
	FUZZ_ASSERT(learn_save(&b, NOW, sink_write, &s2) == 0, "save");
	FUZZ_ASSERT(s1.len == s2.len && !memcmp(s1.text, s2.text, s1.len), "save, load, save changed the text");

	while ((e = learn_next(&a, &it))) {
		struct learn_answer ans;
		char name[LEARN_NAME_MAX + 1];
		size_t len = strlen(e->name);

		memcpy(name, e->name, len + 1);
		learn_lookup(&a, (const uint8_t *)name, len, NOW, &ans);
		FUZZ_ASSERT(ans.rung >= -1 && ans.rung < ladder.count, "rung %d", ans.rung);
		FUZZ_ASSERT(ans.spec || ans.source == LEARN_FROM_GAVE_UP, "no cuts and not given up");
		learn_fail(&a, (const uint8_t *)name, len, ans.rung, LEARN_FAIL_RESET, NOW);
		learn_success(&a, (const uint8_t *)"x.fuzz.example", 14, 0, NOW);
		learn_fail(&a, (const uint8_t *)name, len, 0, LEARN_FAIL_SILENT, NOW + 1);
		FUZZ_ASSERT(a.used <= CAPACITY, "%u entries", a.used);
	}
	learn_free(&a);
	learn_free(&b);
	check_pins(&ladder, data, size);
	return 0;
}
