/* fuzz_split.c — the `--split-at` grammar and the split planner.
 *   - a spec that parses formats back to text that parses to the same spec;
 *     formatting into any buffer size stays inside it; a rejected spec gets a
 *     terminated message;
 *   - the plan is sorted, unique, every cut in (0, window), and equals the
 *     doc/design.md rules applied by a reference written from the text (5 when
 *     nothing remains and 5 fits).
 * Input: spec text, '\n', then mode(1) window(2) sni_off(2) sni_len(2)
 * buffer_size(1), then the stream bytes (the hostname is read from them). */
#include <string.h>

#include "fuzz.h"
#include "split.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

/* doc/design.md: the middle of the label before the last one (a trailing dot
 * does not make a label), or of the only label. */
static uint32_t ref_midsld(const uint8_t *name, uint32_t len)
{
	int64_t before = -1, last = -1;          /* the last two dots */
	uint32_t i, start;

	if (len && name[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++) {
		if (name[i] == '.') {
			before = last;
			last = i;
		}
	}
	if (last < 0)
		return len / 2;
	start = (uint32_t)(before + 1);
	return start + ((uint32_t)last - start) / 2;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The plan doc/design.md describes; returns the count. */
static int ref_plan(const struct split_spec *spec, uint32_t window, const struct tls_result *tls,
		    const uint8_t *stream, uint32_t *cuts)
{
	int i, j, n = 0;

	for (i = 0; i < spec->count; i++) {
		const struct split_position *p = &spec->pos[i];
		int64_t at;

		if (p->marker == SPLIT_ABS) {
			at = p->delta;
		} else {
			if (!tls || !tls->sni_len)
				continue;
			at = (int64_t)tls->sni_off + p->delta;
			if (p->marker == SPLIT_SNIEND) {
				at += tls->sni_len;
			} else if (p->marker == SPLIT_MIDSLD) {
				at += ref_midsld(stream + tls->sni_off, tls->sni_len);
			}
		}
		if (at <= 0 || at >= window)
			continue;
		for (j = 0; j < n && cuts[j] != (uint32_t)at; j++)
			;
		if (j == n)
			cuts[n++] = (uint32_t)at;
	}
	qsort(cuts, (size_t)n, sizeof(*cuts), cmp_u32);
	if (n == 0 && window > SPLIT_DEFAULT_POSITION)
		cuts[n++] = SPLIT_DEFAULT_POSITION;
	return n;
}

static void check_spec(const struct split_spec *spec, size_t bufsize)
{
	char text[512], again_err[128], *small;
	struct split_spec again;
	int i;

	FUZZ_ASSERT(spec->count >= 1 && spec->count <= SPLIT_MAX_POSITIONS, "count %d", spec->count);
	for (i = 0; i < spec->count; i++) {
		const struct split_position *p = &spec->pos[i];

		FUZZ_ASSERT(p->marker <= SPLIT_MIDSLD, "marker %d", p->marker);
		FUZZ_ASSERT(p->delta >= -1048576 && p->delta <= 1048576, "delta %d", (int)p->delta);
		FUZZ_ASSERT(p->marker != SPLIT_ABS || p->delta >= 0, "negative absolute position %d", (int)p->delta);
	}
	split_spec_format(spec, text, sizeof(text));
	FUZZ_ASSERT(strlen(text) < sizeof(text) - 1, "format filled the buffer");
	FUZZ_ASSERT(split_spec_parse(&again, text, again_err, sizeof(again_err)) == 0, "'%s' does not parse back: %s",
		    text, again_err);
	FUZZ_ASSERT(again.count == spec->count, "'%s' parses back to %d positions", text, again.count);
	for (i = 0; i < spec->count; i++)
		FUZZ_ASSERT(again.pos[i].marker == spec->pos[i].marker && again.pos[i].delta == spec->pos[i].delta,
			    "'%s': position %d changes", text, i);
	/* A short buffer gets a terminated prefix, and nothing past its end. */
	small = malloc(bufsize);
	split_spec_format(spec, small, (int)bufsize);
	FUZZ_ASSERT(strlen(small) < bufsize && !strncmp(small, text, strlen(small)), "format into %zu bytes", bufsize);
	free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t text_len = nl ? (size_t)(nl - data) : size, rest_len, bufsize, errlen;
	const uint8_t *rest = nl ? nl + 1 : data + size;
	uint8_t params[8];
	char text[300], *err;
	struct split_spec spec;
	struct tls_result tls;
	uint32_t cuts[SPLIT_MAX_POSITIONS], ref[SPLIT_MAX_POSITIONS], window, stream_len;
	const uint8_t *stream;
	int n, nref, i, immediate, rc;

	if (text_len >= sizeof(text))
		return 0;
	memcpy(text, data, text_len);
	text[text_len] = 0;
	rest_len = size - (size_t)(rest - data);
	memset(params, 0, sizeof(params));
	memcpy(params, rest, rest_len < sizeof(params) ? rest_len : sizeof(params));
	stream = rest + (rest_len < sizeof(params) ? rest_len : sizeof(params));
	stream_len = (uint32_t)(rest_len < sizeof(params) ? 0 : rest_len - sizeof(params));
	bufsize = 1 + params[7] % 48;
	errlen = 1 + params[7] % 97;

	err = malloc(errlen);
	rc = split_spec_parse(&spec, text, err, (int)errlen);
	if (rc) {
		FUZZ_ASSERT(rc == -1 && memchr(err, 0, errlen), "rejection without a terminated message");
		free(err);
		return 0;
	}
	free(err);
	check_spec(&spec, bufsize);

	immediate = params[0] & 1;
	memset(&tls, 0, sizeof(tls));
	if (immediate) {
		window = be16(params + 1) << (params[0] >> 4 & 7);   /* any payload length */
	} else {
		/* What tls_inspect promises: window <= stream, hostname inside it. */
		window = be16(params + 1) % (stream_len + 1);
		tls.window_len = window;
		tls.sni_len = be16(params + 5) % (window + 1);
		tls.sni_off = be16(params + 3) % (window - tls.sni_len + 1);
		if (!tls.sni_len)
			tls.sni_off = 0;
	}
	n = split_plan(&spec, window, immediate ? NULL : &tls, immediate ? NULL : stream, cuts);
	FUZZ_ASSERT(n >= 0 && n <= SPLIT_MAX_POSITIONS, "%d cuts", n);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(cuts[i] > 0 && cuts[i] < window, "cut %u outside (0, %u)", cuts[i], window);
		FUZZ_ASSERT(i == 0 || cuts[i - 1] < cuts[i], "cuts not sorted/unique: %u then %u", cuts[i - 1], cuts[i]);
	}
	nref = ref_plan(&spec, window, immediate ? NULL : &tls, stream, ref);
	FUZZ_ASSERT(n == nref, "'%s' window %u sni %u+%u: %d cuts, the rules give %d", text, window, tls.sni_off,
		    tls.sni_len, n, nref);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(cuts[i] == ref[i], "'%s' window %u sni %u+%u: cut %d is %u, the rules give %u", text, window,
			    tls.sni_off, tls.sni_len, i, cuts[i], ref[i]);
	return 0;
}
