/* learn.c — the per-site memory of learn.h: a fixed table (open addressing
 * over an entry array with a free list, like flow.c), the learning rules,
 * and the state file's text. No allocation after learn_init. */
#include "learn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int learn_init(struct learn *l, const struct ladder *ladder, uint32_t capacity, uint64_t seed)
{
	uint32_t nslots = 16;

	memset(l, 0, sizeof(*l));
	if (capacity < 2 || capacity > (1u << 24) || ladder->count < 1 || ladder->count > LADDER_MAX_RUNGS)
		return -EINVAL;
	while (nslots < 2 * capacity)        /* load factor <= 1/2 keeps probes short */
		nslots <<= 1;
	l->entries = calloc(capacity, sizeof(*l->entries));
	l->slots = calloc(nslots, sizeof(*l->slots));
	l->pin_specs = calloc(LEARN_MAX_PINS, sizeof(*l->pin_specs));
	if (!l->entries || !l->slots || !l->pin_specs) {
		learn_free(l);
		return -ENOMEM;
	}
	l->ladder = *ladder;
	l->mask = nslots - 1;
	l->capacity = capacity;
	l->seed = seed;
	return 0;
}

void learn_free(struct learn *l)
{
	free(l->entries);
	free(l->slots);
	free(l->pin_specs);
	l->entries = NULL;
	l->slots = NULL;
	l->pin_specs = NULL;
}

/* ---- names */

int learn_normalize(const uint8_t *name, size_t len, char *out)
{
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > LEARN_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return -EINVAL;
		if (c == '.' && (i == 0 || out[i - 1] == '.'))
			return -EINVAL;  /* an empty label */
		out[i] = (char)c;
	}
	if (out[len - 1] == '.')
		return -EINVAL;          /* "a..": one trailing dot only */
	out[len] = 0;
	return (int)len;
}

/* Second-level labels that are public under a two-letter country TLD in
 * many countries (co.uk, com.au, co.jp, ne.jp, com.br, gov.in, ac.za ...).
 * Not covered: the rest of the Public Suffix List — private suffixes
 * (github.io, blogspot.com: every site under one shares an entry), deeper
 * ones (pvt.k12.ma.us), and country-specific ones not listed here (they
 * share the entry of their suffix, which only splits more than needed). */
static const char *const generic_second_levels[] = {
	"ac", "co", "com", "edu", "go", "gob", "gov", "ltd", "mil", "ne", "net", "or", "org", "plc", "sch",
};

static int is_generic_second_level(const char *label, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(generic_second_levels) / sizeof(generic_second_levels[0]); i++)
		if (strlen(generic_second_levels[i]) == len && !memcmp(generic_second_levels[i], label, len))
			return 1;
	return 0;
}

const char *learn_site_of(const char *name)
{
	const char *dots[3] = {NULL, NULL, NULL};   /* the last three dots, last first */
	const char *p;
	int n = 0;

	for (p = name + strlen(name); p > name && n < 3;)
		if (*--p == '.')
			dots[n++] = p;
	if (n < 2)
		return name;             /* one or two labels: the name is its own site */
	if (strlen(dots[0] + 1) == 2 && is_generic_second_level(dots[1] + 1, (size_t)(dots[0] - dots[1] - 1)))
		return n == 3 ? dots[2] + 1 : name;
	return dots[1] + 1;
}

/* ---- the table */

static uint32_t key_hash(const struct learn *l, uint8_t kind, const char *name, size_t len)
{
	uint64_t h = (l->seed ^ 0xcbf29ce484222325ull) + kind;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static struct learn_entry *find(const struct learn *l, uint8_t kind, const char *name, size_t len)
{
	uint32_t hash = key_hash(l, kind, name, len), i;

	for (i = hash & l->mask;; i = (i + 1) & l->mask) {
		struct learn_entry *e;

		if (!l->slots[i])
			return NULL;
		e = &l->entries[l->slots[i] - 1];
		if (e->hash == hash && e->kind == kind && !memcmp(e->name, name, len) && !e->name[len])
			return e;
	}
}

static void remove_entry(struct learn *l, struct learn_entry *e)
{
	uint32_t idx = (uint32_t)(e - l->entries), i = e->hash & l->mask, j;

	while (l->slots[i] != idx + 1)
		i = (i + 1) & l->mask;
	/* Backward-shift deletion, as in flow.c. */
	for (j = (i + 1) & l->mask; l->slots[j]; j = (j + 1) & l->mask) {
		uint32_t home = l->entries[l->slots[j] - 1].hash & l->mask;

		if (((j - home) & l->mask) >= ((j - i) & l->mask)) {
			l->slots[i] = l->slots[j];
			i = j;
		}
	}
	l->slots[i] = 0;
	if (e->kind == LEARN_PIN)
		l->npins--;
	else
		l->nlearned--;
	memset(e, 0, sizeof(*e));
	e->older = l->free_head;
	l->free_head = idx + 1;
	l->used--;
}

/* Makes room by dropping the learned entry that would expire first. */
static void evict_oldest(struct learn *l)
{
	struct learn_entry *oldest = NULL;
	uint32_t i;

	for (i = 0; i < l->high_water; i++) {
		struct learn_entry *e = &l->entries[i];

		if ((e->kind == LEARN_SITE || e->kind == LEARN_NAME) && (!oldest || e->expires < oldest->expires))
			oldest = e;
	}
	if (oldest)
		remove_entry(l, oldest);
}

/* A new zeroed entry for a key that is not in the table. */
static struct learn_entry *insert(struct learn *l, uint8_t kind, const char *name, size_t len)
{
	uint32_t idx, i, hash = key_hash(l, kind, name, len);
	struct learn_entry *e;

	if (l->used == l->capacity)
		evict_oldest(l);
	if (l->used == l->capacity)
		return NULL;             /* only pins: learn_pin keeps them to half */
	if (l->free_head) {
		idx = l->free_head - 1;
		l->free_head = l->entries[idx].older;
	} else {
		idx = l->high_water++;
	}
	e = &l->entries[idx];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->hash = hash;
	memcpy(e->name, name, len);
	e->name[len] = 0;
	for (i = hash & l->mask; l->slots[i]; i = (i + 1) & l->mask)
		;
	l->slots[i] = idx + 1;
	l->used++;
	if (kind == LEARN_PIN)
		l->npins++;
	else
		l->nlearned++;
	return e;
}

static struct learn_entry *find_live(struct learn *l, uint8_t kind, const char *name, size_t len, uint64_t now)
{
	struct learn_entry *e = find(l, kind, name, len);

	if (e && now >= e->expires) {
		remove_entry(l, e);      /* no save needed: saves skip expired entries */
		return NULL;
	}
	return e;
}

/* The pin covering key (the longest pinned domain), or NULL. */
static struct learn_entry *find_pin(const struct learn *l, const char *key, size_t len)
{
	const char *s = key;

	if (!l->npins)
		return NULL;
	for (;;) {
		struct learn_entry *e = find(l, LEARN_PIN, s, len - (size_t)(s - key));
		const char *dot;

		if (e)
			return e;
		dot = strchr(s, '.');
		if (!dot)
			return NULL;
		s = dot + 1;
	}
}

/* The learned entry serving key: its own, else its site's, else NULL. */
static struct learn_entry *find_serving(struct learn *l, const char *key, size_t len, uint64_t now)
{
	struct learn_entry *e = find_live(l, LEARN_NAME, key, len, now);
	const char *site;

	if (e)
		return e;
	site = learn_site_of(key);
	return find_live(l, LEARN_SITE, site, len - (size_t)(site - key), now);
}

void learn_lookup(struct learn *l, const uint8_t *name, size_t len, uint64_t now, struct learn_answer *a)
{
	char key[LEARN_NAME_MAX + 1];
	struct learn_entry *e;
	int n = learn_normalize(name, len, key);

	a->spec = &l->ladder.rungs[0].spec;
	a->rung = 0;
	a->source = LEARN_FROM_DEFAULT;
	if (n < 0)
		return;
	e = find_pin(l, key, (size_t)n);
	if (e) {
		a->spec = &l->pin_specs[e->rung];
		a->rung = -1;
		a->source = LEARN_FROM_PIN;
		return;
	}
	e = find_serving(l, key, (size_t)n, now);
	if (!e)
		return;
	if (e->state == LEARN_GAVE_UP) {
		a->spec = NULL;
		a->rung = -1;
		a->source = LEARN_FROM_GAVE_UP;
		return;
	}
	a->spec = &l->ladder.rungs[e->rung].spec;
	a->rung = e->rung;
	a->source = e->kind == LEARN_NAME ? LEARN_FROM_NAME : LEARN_FROM_SITE;
}

enum learn_event learn_success(struct learn *l, const uint8_t *name, size_t len, int rung, uint64_t now)
{
	char key[LEARN_NAME_MAX + 1];
	struct learn_entry *e;
	int n = learn_normalize(name, len, key);

	if (n < 0 || rung < 0 || find_pin(l, key, (size_t)n))
		return LEARN_IGNORED;
	e = find_serving(l, key, (size_t)n, now);
	if (!e)
		return rung == 0 ? LEARN_KEPT : LEARN_IGNORED;   /* rung 0 works: nothing to store */
	if (e->state == LEARN_GAVE_UP || rung != e->rung)
		return LEARN_IGNORED;
	if (e->state != LEARN_WORKS) {
		e->state = LEARN_WORKS;
		l->changes++;
	}
	e->successes++;
	e->expires = now + LEARN_KEEP_S;
	return LEARN_KEPT;
}

enum learn_event learn_fail(struct learn *l, const uint8_t *name, size_t len, int rung, enum learn_failure why,
			    uint64_t now)
{
	char key[LEARN_NAME_MAX + 1];
	struct learn_entry *e;
	int n = learn_normalize(name, len, key), at;

	if (n < 0 || rung < 0 || find_pin(l, key, (size_t)n))
		return LEARN_IGNORED;
	e = find_serving(l, key, (size_t)n, now);
	at = e ? e->rung : 0;
	/* A flow that began before another one moved the entry reports the old
	 * rung: already judged, or six parallel connections would move six. */
	if ((e && e->state == LEARN_GAVE_UP) || rung != at)
		return LEARN_IGNORED;
	if (!e) {
		const char *site = learn_site_of(key);

		e = insert(l, LEARN_SITE, site, (size_t)n - (size_t)(site - key));
	} else if (e->kind == LEARN_SITE && e->state == LEARN_WORKS) {
		e = insert(l, LEARN_NAME, key, (size_t)n);   /* may evict the site entry: at is kept */
	}
	if (!e)
		return LEARN_IGNORED;
	e->changed = now;
	e->successes = 0;
	e->last_failure = (uint8_t)why;
	l->changes++;
	if (at + 1 >= l->ladder.count) {
		e->rung = 0;
		e->state = LEARN_GAVE_UP;
		e->expires = now + LEARN_GAVE_UP_S;
		return LEARN_GAVE_UP_NOW;
	}
	e->rung = (uint8_t)(at + 1);
	e->state = LEARN_TRYING;
	e->expires = now + LEARN_KEEP_S;
	return LEARN_MOVED;
}

int learn_pin(struct learn *l, const char *domain, const struct split_spec *spec)
{
	char key[LEARN_NAME_MAX + 1];
	struct learn_entry *e;
	int n = learn_normalize((const uint8_t *)domain, strlen(domain), key);

	if (n < 0 || spec->count < 1 || spec->count > SPLIT_MAX_POSITIONS)
		return -EINVAL;
	e = find(l, LEARN_PIN, key, (size_t)n);
	if (e) {
		l->pin_specs[e->rung] = *spec;   /* pinned again: the last one counts */
		return 0;
	}
	if (l->npins >= LEARN_MAX_PINS || l->npins >= l->capacity / 2)
		return -ENOSPC;
	e = insert(l, LEARN_PIN, key, (size_t)n);
	if (!e)
		return -ENOSPC;
	e->rung = (uint8_t)(l->npins - 1);
	e->state = LEARN_WORKS;
	e->expires = UINT64_MAX;
	l->pin_specs[e->rung] = *spec;
	return 0;
}

/* ---- pins as the user writes them (--pin) */

int learn_parse_pins(const char *text, struct learn *l, char *err, size_t errlen)
{
	const char *p = text;
	int n = 0;

	for (;;) {
		char entry[LEARN_NAME_MAX + LADDER_TEXT_MAX + 2], name[LEARN_NAME_MAX + 1], why[160];
		const char *eq;
		size_t len;
		struct split_spec spec;
		int r;

		while (*p == ';' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "; \t");
		if (len >= sizeof(entry)) {
			snprintf(err, errlen, "the entry '%.40s...' is too long", p);
			return -1;
		}
		memcpy(entry, p, len);
		entry[len] = 0;
		p += len;
		eq = strchr(entry, '=');
		if (!eq || eq == entry || !eq[1]) {
			snprintf(err, errlen, "'%s' is not DOMAIN=SPLIT-AT (e.g. example.com=1,midsld)", entry);
			return -1;
		}
		if (learn_normalize((const uint8_t *)entry, (size_t)(eq - entry), name) < 0) {
			snprintf(err, errlen, "'%.*s' is no domain name", (int)(eq - entry), entry);
			return -1;
		}
		if (split_spec_parse(&spec, eq + 1, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", entry, why);
			return -1;
		}
		if (l && (r = learn_pin(l, name, &spec)) != 0) {
			snprintf(err, errlen, "%s: %s", entry,
				 r == -ENOSPC ? "too many pins (at most 256)" : "cannot be pinned");
			return -1;
		}
		n++;
	}
	if (!n) {
		snprintf(err, errlen, "no DOMAIN=SPLIT-AT entry");
		return -1;
	}
	return 0;
}

const struct learn_entry *learn_next(const struct learn *l, uint32_t *it)
{
	while (*it < l->high_water) {
		const struct learn_entry *e = &l->entries[(*it)++];

		if (e->kind == LEARN_SITE || e->kind == LEARN_NAME)
			return e;
	}
	return NULL;
}

/* ---- the state file */

static const char *const kind_names[] = {[LEARN_FREE] = "-", [LEARN_SITE] = "site", [LEARN_NAME] = "name",
					 [LEARN_PIN] = "pin"};
static const char *const state_names[] = {[LEARN_TRYING] = "trying", [LEARN_WORKS] = "works",
					  [LEARN_GAVE_UP] = "gave-up"};
static const char *const failure_names[] = {[LEARN_FAIL_NONE] = "none", [LEARN_FAIL_RESET] = "reset",
					    [LEARN_FAIL_FIN] = "fin", [LEARN_FAIL_SILENT] = "silent"};

const char *learn_kind_name(enum learn_kind k)
{
	return (unsigned)k <= LEARN_PIN ? kind_names[k] : "?";
}

const char *learn_state_name(enum learn_state s)
{
	return (unsigned)s <= LEARN_GAVE_UP ? state_names[s] : "?";
}

const char *learn_failure_name(enum learn_failure f)
{
	return (unsigned)f <= LEARN_FAIL_SILENT ? failure_names[f] : "?";
}

/* Index of word in names[0..n), or -1. */
static int word_index(const char *const *names, int n, const char *word, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], word, len))
			return i;
	return -1;
}

/* A decimal number without sign or leading zeros, at most max. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

enum { F_KIND, F_NAME, F_SPLIT, F_STATE, F_CHANGED, F_EXPIRES, F_SUCCESSES, F_FAILURE, NFIELDS };

static const char *const field_names[NFIELDS] = {"KIND", "NAME", "SPLIT-AT", "STATE", "CHANGED", "EXPIRES",
						 "SUCCESSES", "LAST-FAILURE"};

static int parse_record(const char *line, size_t len, struct learn_record *r, char *why, size_t whylen)
{
	const char *f[NFIELDS];
	size_t flen[NFIELDS], i = 0;
	int nf = 0, k;
	uint64_t v;
	char err[80];
	struct split_spec spec;

	memset(r, 0, sizeof(*r));
	while (i < len) {
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (nf == NFIELDS) {
			snprintf(why, whylen, "more than the %d fields KIND NAME SPLIT-AT STATE CHANGED EXPIRES "
				 "SUCCESSES LAST-FAILURE", NFIELDS);
			return -1;
		}
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		f[nf] = line + start;
		flen[nf++] = i - start;
	}
	if (nf < NFIELDS) {
		snprintf(why, whylen, "%d fields, want %d: KIND NAME SPLIT-AT STATE CHANGED EXPIRES SUCCESSES "
			 "LAST-FAILURE (%s missing)", nf, NFIELDS, field_names[nf]);
		return -1;
	}
	k = word_index(kind_names, LEARN_NAME + 1, f[F_KIND], flen[F_KIND]);
	if (k != LEARN_SITE && k != LEARN_NAME) {
		snprintf(why, whylen, "KIND '%.*s' is neither site nor name", (int)(flen[F_KIND] > 20 ? 20 : flen[F_KIND]),
			 f[F_KIND]);
		return -1;
	}
	r->kind = (uint8_t)k;
	if (learn_normalize((const uint8_t *)f[F_NAME], flen[F_NAME], r->name) != (int)flen[F_NAME] ||
	    memcmp(r->name, f[F_NAME], flen[F_NAME])) {
		snprintf(why, whylen, "NAME '%.*s' is no lower-case host name", (int)(flen[F_NAME] > 60 ? 60 : flen[F_NAME]),
			 f[F_NAME]);
		return -1;
	}
	if (r->kind == LEARN_SITE && learn_site_of(r->name) != r->name) {
		snprintf(why, whylen, "site '%s' is no registrable part (that would be '%s')", r->name,
			 learn_site_of(r->name));
		return -1;
	}
	k = word_index(state_names, LEARN_GAVE_UP + 1, f[F_STATE], flen[F_STATE]);
	if (k < 0) {
		snprintf(why, whylen, "STATE '%.*s' is not trying, works or gave-up",
			 (int)(flen[F_STATE] > 20 ? 20 : flen[F_STATE]), f[F_STATE]);
		return -1;
	}
	r->state = (uint8_t)k;
	if (flen[F_SPLIT] >= sizeof(r->split_at)) {
		snprintf(why, whylen, "SPLIT-AT is longer than %d bytes", (int)sizeof(r->split_at) - 1);
		return -1;
	}
	memcpy(r->split_at, f[F_SPLIT], flen[F_SPLIT]);
	r->split_at[flen[F_SPLIT]] = 0;
	if (r->state == LEARN_GAVE_UP) {
		if (strcmp(r->split_at, "-")) {
			snprintf(why, whylen, "a gave-up entry has SPLIT-AT '-', not '%s'", r->split_at);
			return -1;
		}
	} else {
		char canonical[LADDER_TEXT_MAX];

		if (split_spec_parse(&spec, r->split_at, err, sizeof(err))) {
			snprintf(why, whylen, "SPLIT-AT '%s': %s", r->split_at, err);
			return -1;
		}
		split_spec_format(&spec, canonical, sizeof(canonical));
		if (strcmp(canonical, r->split_at)) {
			snprintf(why, whylen, "SPLIT-AT '%s' is not written as hellosplit writes it ('%s')", r->split_at,
				 canonical);
			return -1;
		}
	}
	if (parse_u64(f[F_CHANGED], flen[F_CHANGED], UINT64_MAX, &r->changed) ||
	    parse_u64(f[F_EXPIRES], flen[F_EXPIRES], UINT64_MAX, &r->expires)) {
		snprintf(why, whylen, "CHANGED and EXPIRES must be Unix times in seconds");
		return -1;
	}
	if (r->expires < r->changed) {
		snprintf(why, whylen, "EXPIRES %llu is before CHANGED %llu", (unsigned long long)r->expires,
			 (unsigned long long)r->changed);
		return -1;
	}
	if (parse_u64(f[F_SUCCESSES], flen[F_SUCCESSES], UINT32_MAX, &v)) {
		snprintf(why, whylen, "SUCCESSES must be a number of 0 to %u", (unsigned)UINT32_MAX);
		return -1;
	}
	r->successes = (uint32_t)v;
	k = word_index(failure_names, LEARN_FAIL_SILENT + 1, f[F_FAILURE], flen[F_FAILURE]);
	if (k < 0) {
		snprintf(why, whylen, "LAST-FAILURE '%.*s' is not none, reset, fin or silent",
			 (int)(flen[F_FAILURE] > 20 ? 20 : flen[F_FAILURE]), f[F_FAILURE]);
		return -1;
	}
	r->last_failure = (uint8_t)k;
	return 0;
}

/* 1: the header of this version; 0: not a header; -1: another version. */
static int parse_header(const char *line, size_t len, unsigned *version)
{
	size_t m = strlen(LEARN_STATE_MAGIC);
	uint64_t v;

	if (len <= m + 1 || memcmp(line, LEARN_STATE_MAGIC, m) || line[m] != ' ')
		return 0;
	if (parse_u64(line + m + 1, len - m - 1, 1000000, &v))
		return 0;
	*version = (unsigned)v;
	return v == LEARN_STATE_VERSION ? 1 : -1;
}

int learn_parse_state(const char *text, size_t len, learn_record_fn record, learn_warn_fn warn, void *ctx)
{
	size_t at = 0;
	unsigned lineno = 0, version = 0;
	int good = 0, header_seen = 0;
	char why[LEARN_LINE_MAX];

	while (at < len) {
		const char *line = text + at, *nl = memchr(line, '\n', len - at);
		const char *end = nl ? nl : text + len;
		struct learn_record r;
		size_t n;
		int h;

		at = (size_t)(end - text) + (nl ? 1 : 0);
		lineno++;
		if (end > line && end[-1] == '\r')
			end--;
		n = (size_t)(end - line);
		if (n == 0 || line[0] == '#')
			continue;
		if (!nl) {
			warn(ctx, lineno, "cut short (no newline at its end: the file was truncated)");
			break;
		}
		if (memchr(line, 0, n)) {
			warn(ctx, lineno, "holds a NUL byte");
			continue;
		}
		if (n > LEARN_LINE_MAX) {
			snprintf(why, sizeof(why), "longer than %d bytes", LEARN_LINE_MAX);
			warn(ctx, lineno, why);
			continue;
		}
		if (!header_seen) {
			header_seen = 1;
			h = parse_header(line, n, &version);
			if (h > 0)
				continue;
			if (h < 0) {
				snprintf(why, sizeof(why), "written by a hellosplit with state version %u, this one reads "
					 "version %d: the file is not read, and is replaced at the next save",
					 version, LEARN_STATE_VERSION);
				warn(ctx, lineno, why);
				return -EPROTO;
			}
			snprintf(why, sizeof(why), "no '%s %d' header: the entries are read anyway", LEARN_STATE_MAGIC,
				 LEARN_STATE_VERSION);
			warn(ctx, lineno, why);
		}
		if (parse_record(line, n, &r, why, sizeof(why))) {
			warn(ctx, lineno, why);
			continue;
		}
		record(ctx, lineno, &r);
		good++;
	}
	return good;
}

int learn_format_record(const struct learn_record *r, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s %s %s %s %llu %llu %u %s\n", learn_kind_name((enum learn_kind)r->kind),
			 r->name, r->split_at, learn_state_name((enum learn_state)r->state),
			 (unsigned long long)r->changed, (unsigned long long)r->expires, (unsigned)r->successes,
			 learn_failure_name((enum learn_failure)r->last_failure));

	return n < 0 || (size_t)n >= outlen ? -ENOSPC : n;
}

int learn_format_header(char *out, size_t outlen)
{
	int n = snprintf(out, outlen,
			 "%s %d\n"
			 "# Sites hellosplit learned, one a line: written by the daemon, read when it starts.\n"
			 "# See or forget them with `hellosplit learned`. Fields:\n"
			 "# KIND NAME SPLIT-AT STATE CHANGED EXPIRES SUCCESSES LAST-FAILURE\n",
			 LEARN_STATE_MAGIC, LEARN_STATE_VERSION);

	return n < 0 || (size_t)n >= outlen ? -ENOSPC : n;
}

struct load_ctx {
	struct learn *l;
	uint64_t now;
	learn_warn_fn warn;
	void *ctx;
};

static void load_record(void *ctx, unsigned line, const struct learn_record *r)
{
	struct load_ctx *c = ctx;
	struct learn *l = c->l;
	struct learn_entry *e;
	size_t len = strlen(r->name);
	uint64_t keep = r->state == LEARN_GAVE_UP ? LEARN_GAVE_UP_S : LEARN_KEEP_S;
	int rung = 0;
	char why[LEARN_LINE_MAX];

	if (r->expires <= c->now)
		return;                  /* expired while the daemon was away */
	if (r->state != LEARN_GAVE_UP) {
		rung = ladder_find(&l->ladder, r->split_at);
		if (rung < 0) {
			snprintf(why, sizeof(why), "%s %s: --split-at %s is no rung of this ladder (another --split-at "
				 "or version): relearned", learn_kind_name((enum learn_kind)r->kind), r->name, r->split_at);
			c->warn(c->ctx, line, why);
			return;
		}
	}
	e = find(l, r->kind, r->name, len);
	if (e) {
		snprintf(why, sizeof(why), "a second entry for %s %s: this later one is kept",
			 learn_kind_name((enum learn_kind)r->kind), r->name);
		c->warn(c->ctx, line, why);
		remove_entry(l, e);
	}
	e = insert(l, r->kind, r->name, len);
	if (!e)
		return;
	e->rung = (uint8_t)rung;
	e->state = r->state;
	e->last_failure = r->last_failure;
	e->successes = r->successes;
	/* Times ahead of now (a clock set back, a hand edit) are brought to it. */
	e->changed = r->changed > c->now ? c->now : r->changed;
	e->expires = r->expires > c->now + keep ? c->now + keep : r->expires;
}

static void load_warn(void *ctx, unsigned line, const char *why)
{
	struct load_ctx *c = ctx;

	c->warn(c->ctx, line, why);
}

int learn_load(struct learn *l, const char *text, size_t len, uint64_t now, learn_warn_fn warn, void *ctx)
{
	struct load_ctx c = {l, now, warn, ctx};
	int rc = learn_parse_state(text, len, load_record, load_warn, &c);

	return rc < 0 ? rc : (int)l->nlearned;
}

int learn_save(const struct learn *l, uint64_t now, learn_write_fn write, void *ctx)
{
	char line[LEARN_LINE_MAX + 64];
	const struct learn_entry *e;
	uint32_t it = 0;
	int n, rc;

	n = learn_format_header(line, sizeof(line));
	if (n < 0)
		return n;
	rc = write(ctx, line, (size_t)n);
	while (!rc && (e = learn_next(l, &it))) {
		struct learn_record r;

		if (now >= e->expires)
			continue;
		memset(&r, 0, sizeof(r));
		r.kind = e->kind;
		r.state = e->state;
		r.last_failure = e->last_failure;
		memcpy(r.name, e->name, sizeof(r.name));
		snprintf(r.split_at, sizeof(r.split_at), "%s",
			 e->state == LEARN_GAVE_UP ? "-" : l->ladder.rungs[e->rung].text);
		r.changed = e->changed;
		r.expires = e->expires;
		r.successes = e->successes;
		n = learn_format_record(&r, line, sizeof(line));
		rc = n < 0 ? n : write(ctx, line, (size_t)n);
	}
	return rc;
}
