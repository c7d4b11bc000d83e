/* ladder.c — the one ladder definition. Each rung beats a DPI behaviour the
 * rungs above it do not; the e2e censors (tests/e2e/lib.sh) need rung 0
 * (first-packet, record-start) and rung 1 (any-packet). */
#include "ladder.h"

#include <errno.h>
#include <string.h>

static const struct {
	const char *text, *why;
} builtin_rungs[] = {
	{"midsld", "a cut inside the registrable label: no packet holds the name or its registrable part, "
		   "so a DPI that string-matches every packet misses it"},
	{"1", "the record header itself cut: a DPI that needs a whole TLS record header in one packet "
	      "before it reads on takes the flow for something else"},
	{"sni+1", "the name's first byte stays with the SNI extension header: a DPI that matches the "
		  "truncated name of the first segment as a prefix sees one byte"},
	{"1,midsld", "both: no name in any packet, no record header in the first, and the first two "
		     "segments joined still hold no whole name"},
	{"1,midsld,sniend-1", "last resort: also a cut before the name's last byte, so rules anchored at "
			      "the name's end miss, and no two consecutive segments hold the registrable part"},
};

#define NBUILTIN (sizeof(builtin_rungs) / sizeof(builtin_rungs[0]))

static const char first_why_default[] = "the record header alone in the first segment: a DPI that reads only "
					"the first packet, or only packets that begin with a TLS record, never sees the name";
static const char first_why_user[] = "your --split-at, tried first: the cuts you chose";

int ladder_build(struct ladder *l, const struct split_spec *first)
{
	struct split_spec def;
	char err[80];
	size_t i;

	memset(l, 0, sizeof(*l));
	if (!first) {
		def.count = 1;
		memset(def.pos, 0, sizeof(def.pos));
		def.pos[0].marker = SPLIT_ABS;
		def.pos[0].delta = SPLIT_DEFAULT_POSITION;
		first = &def;
	}
	if (first->count <= 0 || first->count > SPLIT_MAX_POSITIONS)
		return -EINVAL;
	l->rungs[0].spec = *first;
	split_spec_format(first, l->rungs[0].text, sizeof(l->rungs[0].text));
	l->rungs[0].why = first->count == 1 && first->pos[0].marker == SPLIT_ABS &&
				  first->pos[0].delta == SPLIT_DEFAULT_POSITION ? first_why_default : first_why_user;
	l->count = 1;
	for (i = 0; i < NBUILTIN; i++) {
		struct ladder_rung *r = &l->rungs[l->count];

		if (split_spec_parse(&r->spec, builtin_rungs[i].text, err, sizeof(err)))
			return -EINVAL;
		split_spec_format(&r->spec, r->text, sizeof(r->text));
		if (ladder_find(l, r->text) >= 0)
			continue;                /* the user's rung already: once is enough */
		r->why = builtin_rungs[i].why;
		l->count++;
	}
	return 0;
}

int ladder_find(const struct ladder *l, const char *text)
{
	int i;

	for (i = 0; i < l->count; i++)
		if (!strcmp(l->rungs[i].text, text))
			return i;
	return -1;
}
