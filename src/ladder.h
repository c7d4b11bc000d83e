/* ladder.h — the ordered --split-at candidates that `hellosplit probe` tries
 * and the daemon's learning walks down (one rung per failure): the user's
 * --split-at first, then cuts that beat stricter DPIs. Split only. */
#ifndef HELLOSPLIT_LADDER_H
#define HELLOSPLIT_LADDER_H

#include "split.h"

#define LADDER_MAX_RUNGS 8
#define LADDER_TEXT_MAX 64

struct ladder_rung {
	char text[LADDER_TEXT_MAX];   /* canonical --split-at text ("1,midsld") */
	struct split_spec spec;
	const char *why;              /* one line: the DPI this rung gets past */
};

struct ladder {
	int count;
	struct ladder_rung rungs[LADDER_MAX_RUNGS];
};

/* The default ladder: first (the user's --split-at; NULL for the default 5),
 * then the built-in rungs that are not the same cuts. Returns 0 or -EINVAL
 * (first has no position). */
int ladder_build(struct ladder *l, const struct split_spec *first);
/* Index of the rung whose canonical text is text, or -1. */
int ladder_find(const struct ladder *l, const char *text);

#endif
