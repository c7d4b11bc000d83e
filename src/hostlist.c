/* hostlist.c — a hash set of lower-case domain names. A lookup hashes the
 * name from its end, so every parent domain's hash is known on the way and
 * each suffix costs one probe. */
#include "hostlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 1024

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Hash of a suffix, grown one byte at a time from the right. */
static uint32_t hash_step(uint32_t h, uint8_t c)
{
	return (h ^ lower(c)) * 16777619u;
}

static uint32_t hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	while (len)
		h = hash_step(h, (uint8_t)s[--len]);
	return h;
}

static int same(const char *stored, const uint8_t *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!stored[i] || stored[i] != (char)lower(name[i]))
			return 0;
	return stored[len] == 0;
}

static const char *lookup(const struct hostlist *h, const uint8_t *name, size_t len, uint32_t hash)
{
	uint32_t i;

	if (!h->slots)
		return NULL;
	for (i = hash & h->mask; h->slots[i]; i = (i + 1) & h->mask)
		if (h->hashes[i] == hash && same(h->names + h->slots[i] - 1, name, len))
			return h->names + h->slots[i] - 1;
	return NULL;
}

static int grow(struct hostlist *h)
{
	uint32_t nslots = h->slots ? (h->mask + 1) * 2 : 1024, i, j;
	uint32_t *slots = calloc(nslots, sizeof(*slots)), *hashes = calloc(nslots, sizeof(*hashes));

	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -1;
	}
	for (i = 0; h->slots && i <= h->mask; i++) {
		if (!h->slots[i])
			continue;
		for (j = h->hashes[i] & (nslots - 1); slots[j]; j = (j + 1) & (nslots - 1))
			;
		slots[j] = h->slots[i];
		hashes[j] = h->hashes[i];
	}
	free(h->slots);
	free(h->hashes);
	h->slots = slots;
	h->hashes = hashes;
	h->mask = nslots - 1;
	return 0;
}

/* A domain: labels of 1-63 letters, digits, '-' or '_', joined by dots. */
static int check_name(const char *s, size_t len, char *err, size_t errlen)
{
	size_t i, label = 0;

	if (len == 0 || len > HOSTLIST_NAME_MAX) {
		snprintf(err, errlen, "a domain has 1 to %d characters", HOSTLIST_NAME_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0) {
				snprintf(err, errlen, "empty label");
				return -1;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_') {
			if (++label > 63) {
				snprintf(err, errlen, "a label is longer than 63 characters");
				return -1;
			}
		} else if (c == '*') {
			snprintf(err, errlen, "wildcards are not needed: a listed domain covers its subdomains");
			return -1;
		} else {
			snprintf(err, errlen, "'%c' is not allowed in a domain (IDN names go in punycode: xn--...)",
				 (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? c : '?');
			return -1;
		}
	}
	if (label == 0) {
		snprintf(err, errlen, "empty label");
		return -1;
	}
	return 0;
}

int hostlist_add(struct hostlist *h, const char *name, size_t len, char *err, size_t errlen)
{
	uint32_t hash, i;
	size_t k;

	if (len && name[0] == '.') {              /* ".example.com" means example.com */
		name++;
		len--;
	}
	if (len && name[len - 1] == '.')
		len--;
	if (check_name(name, len, err, errlen))
		return -1;
	hash = hash_name(name, len);
	if (lookup(h, (const uint8_t *)name, len, hash))
		return 1;
	if ((h->count + 1) * 2 > h->mask + 1 || !h->slots) {
		if (grow(h)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (h->names_len + len + 1 > h->names_cap) {
		size_t cap = h->names_cap ? h->names_cap * 2 : 65536;
		char *n;

		while (cap < h->names_len + len + 1)
			cap *= 2;
		if (cap > 0xffffffffu || !(n = realloc(h->names, cap))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		h->names = n;
		h->names_cap = cap;
	}
	for (k = 0; k < len; k++)
		h->names[h->names_len + k] = (char)lower((uint8_t)name[k]);
	h->names[h->names_len + len] = 0;
	for (i = hash & h->mask; h->slots[i]; i = (i + 1) & h->mask)
		;
	h->slots[i] = (uint32_t)h->names_len + 1;
	h->hashes[i] = hash;
	h->names_len += len + 1;
	h->count++;
	return 0;
}

int hostlist_match(const struct hostlist *h, const uint8_t *name, size_t len)
{
	uint32_t hash = 2166136261u;
	size_t i;

	if (len && name[len - 1] == '.')
		len--;
	if (!h->count || len == 0 || len > HOSTLIST_NAME_MAX)
		return 0;
	/* Walk from the end; at each label start the suffix is a candidate. */
	for (i = len; i > 0; i--) {
		hash = hash_step(hash, name[i - 1]);
		if ((i == 1 || name[i - 2] == '.') && lookup(h, name + i - 1, len - i + 1, hash))
			return 1;
	}
	return 0;
}

void hostlist_free(struct hostlist *h)
{
	free(h->slots);
	free(h->hashes);
	free(h->names);
	memset(h, 0, sizeof(*h));
}

int hostlist_load(struct hostlist *h, const char *path, FILE *err)
{
	char line[LINE_MAX_LEN + 2], why[160];
	FILE *f = fopen(path, "r");
	unsigned long lineno = 0;
	int bad = 0;

	memset(h, 0, sizeof(*h));
	if (!f) {
		fprintf(err, "hellosplit: cannot open host list '%s': %s.\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *end;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			int c;

			fprintf(err, "hellosplit: %s:%lu: line longer than %d characters.\n", path, lineno, LINE_MAX_LEN);
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			bad = 1;
			continue;
		}
		if ((end = strchr(s, '#')) != NULL)
			*end = 0;
		while (*s == ' ' || *s == '\t')
			s++;
		end = s + strlen(s);
		while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		if (end == s)
			continue;
		if (hostlist_add(h, s, (size_t)(end - s), why, sizeof(why)) < 0) {
			fprintf(err, "hellosplit: %s:%lu: '%.*s': %s.\n", path, lineno, (int)(end - s > 60 ? 60 : end - s),
				s, why);
			if (++bad > 20) {
				fprintf(err, "hellosplit: %s: too many bad lines, stopped.\n", path);
				break;
			}
		}
	}
	if (ferror(f)) {
		fprintf(err, "hellosplit: reading '%s' failed: %s.\n", path, strerror(errno));
		bad = 1;
	}
	fclose(f);
	if (bad) {
		hostlist_free(h);
		return -1;
	}
	return 0;
}

int hostlists_load(struct hostlists *l, const char *include_path, const char *exclude_path, FILE *err)
{
	memset(l, 0, sizeof(*l));
	l->include_path = include_path;
	l->exclude_path = exclude_path;
	if (include_path && hostlist_load(&l->include, include_path, err))
		return -1;
	if (exclude_path && hostlist_load(&l->exclude, exclude_path, err)) {
		hostlist_free(&l->include);
		return -1;
	}
	return 0;
}

void hostlists_free(struct hostlists *l)
{
	hostlist_free(&l->include);
	hostlist_free(&l->exclude);
}

int hostlists_reload(struct hostlists *l, FILE *err)
{
	struct hostlists fresh;

	if (hostlists_load(&fresh, l->include_path, l->exclude_path, err))
		return -1;
	hostlists_free(l);
	*l = fresh;
	return 0;
}
