/* split.h — `--split-at` positions and the cut list of a window. */
#ifndef HELLOSPLIT_SPLIT_H
#define HELLOSPLIT_SPLIT_H

#include <stdint.h>

#include "tls.h"

#define SPLIT_MAX_POSITIONS 8
#define SPLIT_DEFAULT_POSITION 5

enum split_marker {
	SPLIT_ABS = 0,   /* N bytes from the record header */
	SPLIT_SNI,       /* first byte of the hostname */
	SPLIT_SNIEND,    /* one past its last byte */
	SPLIT_MIDSLD,    /* middle of the label before the last one */
};

struct split_position {
	uint8_t marker;
	int32_t delta;
};

struct split_spec {
	int count;
	struct split_position pos[SPLIT_MAX_POSITIONS];
};

/* Parses "5,sni+1,midsld". Returns 0, or -1 with a reason in err. */
int split_spec_parse(struct split_spec *spec, const char *text, char *err, int errlen);
/* Writes the canonical text of a spec ("5,midsld"). */
void split_spec_format(const struct split_spec *spec, char *out, int outlen);

/* Resolves the positions against a window of window_len bytes, the
 * inspector's result and the window bytes (both NULL in immediate mode, where
 * markers cannot be resolved), then sorts,
 * de-duplicates and drops those <= 0 or >= window_len; when none remain the
 * default 5 (if it fits). Returns the number of cuts written. */
int split_plan(const struct split_spec *spec, uint32_t window_len, const struct tls_result *tls,
	       const uint8_t *stream, uint32_t cuts[SPLIT_MAX_POSITIONS]);

#endif
