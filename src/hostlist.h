/* hostlist.h — sets of domains: a name matches when it or one of its parent
 * domains is listed. Looked up in O(length of the name). */
#ifndef HELLOSPLIT_HOSTLIST_H
#define HELLOSPLIT_HOSTLIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HOSTLIST_NAME_MAX 253

struct hostlist {
	uint32_t *slots;       /* open addressing: offset + 1 into names, 0 empty */
	uint32_t *hashes;      /* hash of each slot's name */
	uint32_t mask, count;
	char *names;           /* NUL-terminated lower-case names, back to back */
	size_t names_len, names_cap;
};

/* Loads FILE: one domain a line, '#' comments. Bad lines are reported to err
 * with their line number and make the load fail. Returns 0 or -1. */
int hostlist_load(struct hostlist *h, const char *path, FILE *err);
void hostlist_free(struct hostlist *h);

/* Adds one name (normalised: lower case, no trailing dot). Returns 0, 1 when
 * already present, -1 when the name is not a domain (why in err). */
int hostlist_add(struct hostlist *h, const char *name, size_t len, char *err, size_t errlen);

/* 1 when name or a parent domain of it is in the list. */
int hostlist_match(const struct hostlist *h, const uint8_t *name, size_t len);

/* The --hostlist and --hostlist-exclude lists of a run; a NULL path means
 * that list is not used. */
struct hostlists {
	const char *include_path, *exclude_path;
	struct hostlist include, exclude;
};

/* Loads both lists (reload: load into a new struct, then swap). Returns 0 or -1. */
int hostlists_load(struct hostlists *l, const char *include_path, const char *exclude_path, FILE *err);
void hostlists_free(struct hostlists *l);
/* Loads the same files again; on success the new lists replace l's (point
 * the engine at them again), on failure l is unchanged. Returns 0 or -1. */
int hostlists_reload(struct hostlists *l, FILE *err);

#endif
