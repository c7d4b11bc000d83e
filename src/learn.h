/* learn.h — per-site memory of the ladder rung whose split gets a ClientHello
 * through. Pure: no I/O, no clock; time is passed in as Unix seconds (wall
 * clock, so that the state file means the same after a restart).
 *
 * A name is looked up by, in order: a pin (the user's, longest matching
 * domain wins), its own learned entry, the learned entry of its site (the
 * registrable part: a.example.com and b.example.com share example.com);
 * without any of these it gets rung 0. A failure moves the entry that
 * served the flow one rung down (a new site entry starts at rung 1); a
 * failure at a site entry that has already worked at its rung gives the
 * failing name an entry of its own instead, so one odd name does not drag
 * its siblings down. When the last rung fails the site passes unsplit (fail
 * open) until it expires, and the caller is told once. */
#ifndef HELLOSPLIT_LEARN_H
#define HELLOSPLIT_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "ladder.h"
#include "split.h"

#define LEARN_NAME_MAX 253
#define LEARN_DEFAULT_ENTRIES 4096
#define LEARN_MAX_PINS 256
/* A learned rung is forgotten this long after its last success (after it
 * was learned, before any): an unused site is relearned, one in use keeps a
 * rung that works. A stricter DPI shows as failures and moves it anyway. */
#define LEARN_KEEP_S (7 * 24 * 3600)
/* A site where no rung got through passes unsplit this long, then the
 * ladder is tried again from rung 0: a DPI or an address block may be gone. */
#define LEARN_GAVE_UP_S (6 * 3600)

#define LEARN_STATE_VERSION 1
#define LEARN_STATE_MAGIC "hellosplit-learned"
#define LEARN_LINE_MAX 512

enum learn_kind {
	LEARN_FREE = 0,      /* slot of the entry array not in use */
	LEARN_SITE,          /* key: a registrable part, serves every name under it */
	LEARN_NAME,          /* key: one exact name */
	LEARN_PIN,           /* key: a domain the user pinned (with its subdomains) */
};

enum learn_state {
	LEARN_TRYING = 0,    /* moved here by a failure, no success yet */
	LEARN_WORKS,         /* a flow got through at this rung */
	LEARN_GAVE_UP,       /* every rung failed: pass unsplit until it expires */
};

enum learn_failure {
	LEARN_FAIL_NONE = 0,
	LEARN_FAIL_RESET,    /* a reset before any server record */
	LEARN_FAIL_FIN,      /* a FIN before any server record */
	LEARN_FAIL_SILENT,   /* the hello retransmitted, unanswered, up to the caller's limit */
};

/* What a report did; learn_failure's LEARN_GAVE_UP_NOW comes once per site
 * and expiry: the caller logs "no split gets through" then. */
enum learn_event {
	LEARN_IGNORED = 0,   /* stale (the entry moved since the flow began), pinned, or gave up */
	LEARN_KEPT,          /* the rung stays */
	LEARN_MOVED,         /* the next connection takes the next rung */
	LEARN_GAVE_UP_NOW,   /* the last rung failed: the site passes unsplit until it expires */
};

struct learn_entry {
	uint64_t changed;        /* when the rung was set */
	uint64_t expires;        /* forgotten at this time (pins: never) */
	uint32_t hash;
	uint32_t successes;      /* at this rung */
	uint32_t older;          /* free list: entry index + 1 */
	uint8_t kind, state;
	uint8_t rung;            /* ladder index; pins: index into pin_specs */
	uint8_t last_failure;    /* the failure that moved it here */
	char name[LEARN_NAME_MAX + 1];
};

struct learn {
	struct ladder ladder;
	struct learn_entry *entries;   /* capacity entries; pages touched only as used */
	uint32_t *slots;               /* open addressing: entry index + 1, 0 = empty */
	struct split_spec *pin_specs;  /* LEARN_MAX_PINS */
	uint32_t mask, capacity, used, high_water, free_head, npins, nlearned;
	uint64_t seed;
	uint64_t changes;              /* counts rung and state changes: save when it moved */
};

/* Where a lookup's cuts come from. */
enum learn_source {
	LEARN_FROM_DEFAULT = 0,  /* nothing known: rung 0 */
	LEARN_FROM_NAME,         /* the name's own entry */
	LEARN_FROM_SITE,         /* its site's entry */
	LEARN_FROM_PIN,          /* the user's pin */
	LEARN_FROM_GAVE_UP,      /* no split gets through: pass unsplit */
};

struct learn_answer {
	const struct split_spec *spec;   /* NULL: pass unsplit */
	int rung;                        /* report it back with the outcome; -1: reports are ignored */
	enum learn_source source;
};

/* capacity learned entries and pins together (at most LEARN_MAX_PINS pins);
 * seed keys the hash. Returns 0, -EINVAL or -ENOMEM. */
int learn_init(struct learn *l, const struct ladder *ladder, uint32_t capacity, uint64_t seed);
void learn_free(struct learn *l);

/* The rung for a hello's SNI (as sent: any case, a trailing dot). Names
 * that are no host name get rung 0 and are never learned. Drops expired
 * entries on the way. */
void learn_lookup(struct learn *l, const uint8_t *name, size_t len, uint64_t now, struct learn_answer *a);
/* The outcome of a flow split at answer.rung. */
enum learn_event learn_success(struct learn *l, const uint8_t *name, size_t len, int rung, uint64_t now);
enum learn_event learn_fail(struct learn *l, const uint8_t *name, size_t len, int rung, enum learn_failure why,
			    uint64_t now);

/* Pins a domain and its subdomains to spec. 0, -EINVAL (not a domain) or
 * -ENOSPC (LEARN_MAX_PINS, or half the capacity, reached). */
int learn_pin(struct learn *l, const char *domain, const struct split_spec *spec);

/* Parses the user's pins (--pin): "DOMAIN=SPLIT-AT" entries separated by
 * ';' or spaces ("example.com=1,midsld; other.org=midsld"). 0, or -1 with
 * why in err. With l, each entry is also pinned there (learn_pin). */
int learn_parse_pins(const char *text, struct learn *l, char *err, size_t errlen);

/* Iterates the learned entries (not pins): *it starts at 0; NULL at the end. */
const struct learn_entry *learn_next(const struct learn *l, uint32_t *it);

/* Host name rules shared with the state file. */
/* Lower-cases name into out (LEARN_NAME_MAX + 1) without a trailing dot;
 * returns its length, or -EINVAL when it is no host name (1-253 bytes of
 * a-z 0-9 - _ ., no empty label). */
int learn_normalize(const uint8_t *name, size_t len, char *out);
/* The registrable part of a normalized name: its last two labels, or three
 * when the last two are a country's generic second level (co.uk, com.au,
 * ...). Returns a pointer into name. */
const char *learn_site_of(const char *name);

/* ---- the state file: text, one entry a line
 *   hellosplit-learned 1
 *   KIND NAME SPLIT-AT STATE CHANGED EXPIRES SUCCESSES LAST-FAILURE
 *   site blocked.example midsld works 1764745200 1765350000 3 reset
 * KIND site|name, SPLIT-AT a ladder rung's text ("-" when gave up), STATE
 * trying|works|gave-up, times in Unix seconds, LAST-FAILURE
 * none|reset|fin|silent. '#' lines are comments. */
struct learn_record {
	uint8_t kind, state, last_failure;
	char name[LEARN_NAME_MAX + 1];
	char split_at[LADDER_TEXT_MAX];
	uint64_t changed, expires;
	uint32_t successes;
};

/* Bad lines: line number (1-based) and why, through warn. */
typedef void (*learn_warn_fn)(void *ctx, unsigned line, const char *why);
typedef void (*learn_record_fn)(void *ctx, unsigned line, const struct learn_record *r);
/* Calls record for each good line of text and warn for each bad one; a
 * last line without its newline is cut short (a truncated file) and bad.
 * Returns the number of good records, or -EPROTO (warned) when the file is
 * of another version: nothing in it is read. */
int learn_parse_state(const char *text, size_t len, learn_record_fn record, learn_warn_fn warn, void *ctx);
/* Writes one record as a line (with its newline) into out; returns its
 * length, or -ENOSPC. */
int learn_format_record(const struct learn_record *r, char *out, size_t outlen);
const char *learn_kind_name(enum learn_kind k);
const char *learn_state_name(enum learn_state s);
const char *learn_failure_name(enum learn_failure f);

/* Loads a state file's text into l: expired entries are dropped, a rung
 * that is not in l's ladder (another --split-at, another version) is
 * dropped with a warning, times in the future and expiry times beyond now
 * + the keep time (a clock set back) are brought to those; a full table drops the entries that would
 * expire first. Returns the number of learned entries l holds afterwards,
 * or -EPROTO as learn_parse_state. */
int learn_load(struct learn *l, const char *text, size_t len, uint64_t now, learn_warn_fn warn, void *ctx);
/* Writes the header and every unexpired learned entry through write
 * (returns 0 or -errno). Returns 0 or write's error. */
typedef int (*learn_write_fn)(void *ctx, const char *text, size_t len);
int learn_save(const struct learn *l, uint64_t now, learn_write_fn write, void *ctx);
/* The state file's first line (with its newline). */
int learn_format_header(char *out, size_t outlen);

#endif
