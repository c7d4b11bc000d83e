/* split.c — parse the `--split-at` grammar and turn it into cut positions. */
#include "split.h"

#include <stdio.h>
#include <string.h>

static const char *const marker_names[] = {
	[SPLIT_ABS] = "", [SPLIT_SNI] = "sni", [SPLIT_SNIEND] = "sniend", [SPLIT_MIDSLD] = "midsld",
};

#define SPLIT_NUMBER_MAX 1048576

/* Reads a decimal number of at most 7 digits; returns chars used, 0 if none. */
static int read_number(const char *s, int32_t *v)
{
	int n = 0;
	int32_t x = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 7)
			return 0;
		x = x * 10 + (s[n] - '0');
		n++;
	}
	*v = x;
	return n;
}

static int parse_one(struct split_position *p, const char *s, size_t len)
{
	char word[16];
	int32_t v;
	size_t name_len = 0;
	int i, used;

	while (name_len < len && s[name_len] >= 'a' && s[name_len] <= 'z')
		name_len++;
	if (name_len == 0) {
		used = read_number(s, &v);
		if (used == 0 || (size_t)used != len || v > SPLIT_NUMBER_MAX)
			return -1;
		p->marker = SPLIT_ABS;
		p->delta = v;
		return 0;
	}
	if (name_len >= sizeof(word))
		return -1;
	memcpy(word, s, name_len);
	word[name_len] = 0;
	for (i = SPLIT_SNI; i <= SPLIT_MIDSLD; i++)
		if (!strcmp(word, marker_names[i]))
			break;
	if (i > SPLIT_MIDSLD)
		return -1;
	p->marker = (uint8_t)i;
	p->delta = 0;
	if (name_len == len)
		return 0;
	if (s[name_len] != '+' && s[name_len] != '-')
		return -1;
	used = read_number(s + name_len + 1, &v);
	if (used == 0 || name_len + 1 + (size_t)used != len || v > SPLIT_NUMBER_MAX)
		return -1;
	p->delta = s[name_len] == '-' ? -v : v;
	return 0;
}

int split_spec_parse(struct split_spec *spec, const char *text, char *err, int errlen)
{
	const char *s = text;

	memset(spec, 0, sizeof(*spec));
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (spec->count == SPLIT_MAX_POSITIONS) {
			snprintf(err, (size_t)errlen, "more than %d positions", SPLIT_MAX_POSITIONS);
			return -1;
		}
		if (len == 0 || parse_one(&spec->pos[spec->count], s, len)) {
			snprintf(err, (size_t)errlen,
				 "bad position '%.*s' (expected N, sni, sniend or midsld, optionally +N or -N; N <= %d)",
				 (int)(len > 40 ? 40 : len), s, SPLIT_NUMBER_MAX);
			return -1;
		}
		spec->count++;
		if (!end)
			return 0;
		s = end + 1;
	}
}

void split_spec_format(const struct split_spec *spec, char *out, int outlen)
{
	int i, n = 0;

	out[0] = 0;
	for (i = 0; i < spec->count && n < outlen; i++) {
		const struct split_position *p = &spec->pos[i];
		const char *sep = i ? "," : "";

		if (p->marker == SPLIT_ABS)
			n += snprintf(out + n, (size_t)(outlen - n), "%s%d", sep, (int)p->delta);
		else if (p->delta)
			n += snprintf(out + n, (size_t)(outlen - n), "%s%s%+d", sep, marker_names[p->marker], (int)p->delta);
		else
			n += snprintf(out + n, (size_t)(outlen - n), "%s%s", sep, marker_names[p->marker]);
	}
}

/* Offset inside the hostname of the middle of its second-level label. */
static uint32_t midsld_offset(const uint8_t *name, uint32_t len)
{
	uint32_t end = len, start, last_dot;

	if (end && name[end - 1] == '.')
		end--;                           /* a trailing dot is not a label */
	last_dot = end;
	while (last_dot > 0 && name[last_dot - 1] != '.')
		last_dot--;
	if (last_dot == 0)                       /* one label: its middle */
		return end / 2;
	end = last_dot - 1;                      /* the label before the last one */
	start = end;
	while (start > 0 && name[start - 1] != '.')
		start--;
	return start + (end - start) / 2;
}

static int resolve(const struct split_position *p, const struct tls_result *tls, const uint8_t *stream,
		   int64_t *at)
{
	switch (p->marker) {
	case SPLIT_ABS:
		*at = p->delta;
		return 0;
	case SPLIT_SNI:
	case SPLIT_SNIEND:
	case SPLIT_MIDSLD:
		if (!tls || !tls->sni_len || !stream)
			return -1;
		*at = tls->sni_off;
		if (p->marker == SPLIT_SNIEND)
			*at += tls->sni_len;
		else if (p->marker == SPLIT_MIDSLD)
			*at += midsld_offset(stream + tls->sni_off, tls->sni_len);
		*at += p->delta;
		return 0;
	}
	return -1;
}

int split_plan(const struct split_spec *spec, uint32_t window_len, const struct tls_result *tls,
	       const uint8_t *stream, uint32_t cuts[SPLIT_MAX_POSITIONS])
{
	int i, j, n = 0;

	for (i = 0; i < spec->count; i++) {
		int64_t at;
		uint32_t c;

		if (resolve(&spec->pos[i], tls, stream, &at) || at <= 0 || at >= window_len)
			continue;
		c = (uint32_t)at;
		for (j = 0; j < n && cuts[j] != c; j++)
			;
		if (j < n)
			continue;                            /* duplicate */
		for (j = n; j > 0 && cuts[j - 1] > c; j--)   /* insertion sort */
			cuts[j] = cuts[j - 1];
		cuts[j] = c;
		n++;
	}
	if (n == 0 && SPLIT_DEFAULT_POSITION < window_len)
		cuts[n++] = SPLIT_DEFAULT_POSITION;
	return n;
}
