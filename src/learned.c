/* learned.c — the state file on disk and `hellosplit learned [--state FILE]
 * [list | forget NAME | clear]`. */
#include "learned.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"

#define LEARNED_PATH_MAX 4096

const char *learned_default_path(void)
{
#ifdef _WIN32
	static char path[LEARNED_PATH_MAX];
	const char *base = getenv("ProgramData");

	snprintf(path, sizeof(path), "%s\\hellosplit\\learned", base && *base ? base : "C:\\ProgramData");
	return path;
#else
	return "/var/lib/hellosplit/learned";
#endif
}

int learned_read(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *buf;
	int err = 0;

	*text = NULL;
	*len = 0;
	if (!f)
		return -errno;
	buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		char *grown;

		n += got;
		if (n < cap) {
			if (ferror(f))
				err = -EIO;
			break;
		}
		if (cap >= LEARNED_FILE_MAX) {
			err = -EFBIG;
			break;
		}
		cap *= 2;
		grown = realloc(buf, cap + 1);
		if (!grown) {
			free(buf);
		}
		buf = grown;
	}
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

/* What produce writes, gathered in memory: the file is a few hundred KB at
 * most (LEARN_DEFAULT_ENTRIES lines). */
struct buffer {
	char *data;
	size_t len, cap;
};

static int buffer_write(void *ctx, const char *text, size_t len)
{
	struct buffer *b = ctx;

	if (!len)
		return 0;
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap - b->len < len)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, text, len);
	b->len += len;
	return 0;
}

int learned_write(const char *path, learned_produce_fn produce, void *ctx)
{
	struct buffer b = {NULL, 0, 0};
	int err = produce(ctx, buffer_write, &b);

	/* the sites someone visits are private: mode 0600 */
	if (!err)
		err = file_replace_private(path, b.data ? b.data : "", b.len);
	free(b.data);
	return err;
}

/* ---- the subcommand */

enum command { CMD_LIST, CMD_FORGET, CMD_CLEAR };

struct records {
	const char *path;
	FILE *err;
	struct learn_record *r;
	size_t n, cap;
	int oom, changing;           /* changing: bad lines are dropped when the file is written */
	unsigned bad;
};

static void keep_record(void *ctx, unsigned line, const struct learn_record *r)
{
	struct records *rs = ctx;

	(void)line;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct learn_record *grown = realloc(rs->r, cap * sizeof(*grown));

		if (!grown) {
			rs->oom = 1;
			return;
		}
		rs->r = grown;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
}

static void warn_line(void *ctx, unsigned line, const char *why)
{
	struct records *rs = ctx;

	rs->bad++;
	fprintf(rs->err, "hellosplit: %s: line %u: %s; %s.\n", rs->path, line, why,
		rs->changing ? "that line is dropped when the file is written" : "that line is skipped");
}

static int produce_records(void *ctx, learn_write_fn write, void *write_ctx)
{
	const struct records *rs = ctx;
	char line[LEARN_LINE_MAX + 64];
	size_t i;
	int n = learn_format_header(line, sizeof(line)), err;

	if (n < 0)
		return n;
	err = write(write_ctx, line, (size_t)n);
	for (i = 0; !err && i < rs->n; i++) {
		n = learn_format_record(&rs->r[i], line, sizeof(line));
		err = n < 0 ? n : write(write_ctx, line, (size_t)n);
	}
	return err;
}

/* "3d04h", "5h12m", "7m", "40s" */
static void format_span(uint64_t s, char *out, size_t outlen)
{
	if (s >= 86400)
		snprintf(out, outlen, "%llud%02lluh", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, outlen, "%lluh%02llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, outlen, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, outlen, "%llus", (unsigned long long)s);
}

static void list(FILE *out, const struct records *rs, uint64_t now)
{
	size_t i;

	if (rs->n == 0) {
		fprintf(out, "Nothing learned in %s.\n", rs->path);
		return;
	}
	fprintf(out, "%-4s  %-32s %-18s %-8s %-14s %-10s %9s  %s\n", "kind", "name", "split-at", "state", "changed",
	       "expires", "successes", "last failure");
	for (i = 0; i < rs->n; i++) {
		const struct learn_record *r = &rs->r[i];
		char changed[32], expires[32];

		if (r->changed <= now) {
			format_span(now - r->changed, changed, sizeof(changed));
			snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed), " ago");
		} else {
			snprintf(changed, sizeof(changed), "(future)");
		}
		if (r->expires > now) {
			snprintf(expires, sizeof(expires), "in ");
			format_span(r->expires - now, expires + 3, sizeof(expires) - 3);
		} else {
			snprintf(expires, sizeof(expires), "expired");
		}
		fprintf(out, "%-4s  %-32s %-18s %-8s %-14s %-10s %9u  %s\n", learn_kind_name((enum learn_kind)r->kind), r->name,
		       r->state == LEARN_GAVE_UP ? "(unsplit)" : r->split_at,
		       learn_state_name((enum learn_state)r->state), changed, expires, (unsigned)r->successes,
		       learn_failure_name((enum learn_failure)r->last_failure));
	}
	fprintf(out, "%u entr%s. An expired entry is dropped when the daemon starts.\n", (unsigned)rs->n,
	       rs->n == 1 ? "y" : "ies");
}

/* Whether forgetting name removes r: r is name's own entry, its site's, or
 * an entry under name. */
static int forgets(const struct learn_record *r, const char *name)
{
	size_t n = strlen(r->name), m = strlen(name);

	if (!strcmp(r->name, name))
		return 1;
	if (r->kind == LEARN_SITE && !strcmp(r->name, learn_site_of(name)))
		return 1;
	return n > m && r->name[n - m - 1] == '.' && !strcmp(r->name + n - m, name);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: hellosplit learned [--state FILE] [list | forget NAME | clear]\n"
		"Show or forget what the daemon learned: for each site, the --split-at that gets its\n"
		"ClientHello past the DPI (the rung of the ladder, see `hellosplit probe --help`).\n\n"
		"  --state FILE   the state file (default %s)\n"
		"  -h, --help     show this help and exit\n\n"
		"  list           every entry: site (a registrable part: example.com serves\n"
		"                 www.example.com) or name (one exact name), its split-at, state\n"
		"                 (trying, works, gave-up: passes unsplit), times, last failure\n"
		"                 (the default)\n"
		"  forget NAME    forget NAME's own entry, its site's, and every entry under NAME:\n"
		"                 they are learned again from the next connection\n"
		"  clear          forget every entry\n\n"
		"Exit status: 0 done; 1 the file cannot be read or written, or NAME has no entry;\n"
		"2 usage error.\n",
		learned_default_path());
}

int learned_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *path = learned_default_path(), *name = NULL;
	enum command cmd = CMD_LIST;
	struct records rs;
	char key[LEARN_NAME_MAX + 1];
	char *text = NULL;
	size_t len = 0, i, kept;
	int rc, have_cmd = 0, argi;

	for (argi = 1; argi < argc; argi++) {
		const char *a = argv[argi];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(out);
			return 0;
		}
		if (!strcmp(a, "--state") || !strncmp(a, "--state=", 8)) {
			if (a[7] == '=') {
				path = a + 8;
			} else if (argi + 1 < argc) {
				path = argv[++argi];
			} else {
				fprintf(err, "hellosplit: learned: --state needs a value (FILE).\n");
				return 2;
			}
			if (!*path) {
				fprintf(err, "hellosplit: learned: --state: the file name is empty.\n");
				return 2;
			}
			continue;
		}
		if (a[0] == '-') {
			fprintf(err, "hellosplit: learned: unknown option '%s'. Try 'hellosplit learned --help'.\n", a);
			return 2;
		}
		if (have_cmd) {
			fprintf(err, "hellosplit: learned: unexpected '%s': one of list, forget NAME, clear "
				     "(hellosplit learned --help).\n", a);
			return 2;
		}
		have_cmd = 1;
		if (!strcmp(a, "list")) {
			cmd = CMD_LIST;
		} else if (!strcmp(a, "clear")) {
			cmd = CMD_CLEAR;
		} else if (!strcmp(a, "forget")) {
			cmd = CMD_FORGET;
			if (argi + 1 >= argc) {
				fprintf(err, "hellosplit: learned: forget needs a NAME (e.g. forget example.com).\n");
				return 2;
			}
			name = argv[++argi];
			if (learn_normalize((const uint8_t *)name, strlen(name), key) < 0) {
				fprintf(err, "hellosplit: learned: forget: '%.60s' is not a host name (1-253 of a-z "
					     "0-9 - . _, no empty label; an IDN in its xn-- form).\n", name);
				return 2;
			}
		} else {
			fprintf(err, "hellosplit: learned: unknown command '%s': one of list, forget NAME, clear "
				     "(hellosplit learned --help).\n", a);
			return 2;
		}
	}

	rc = learned_read(path, &text, &len);
	if (rc == -ENOENT) {
		fprintf(err, "hellosplit: learned: %s does not exist: the daemon has learned nothing there yet "
			     "(or give its file with --state FILE).\n", path);
		return 1;
	}
	if (rc) {
		fprintf(err, "hellosplit: learned: cannot read %s: %s%s.\n", path,
			rc == -EFBIG ? "larger than 4 MiB, not a state file" : strerror(-rc),
			rc == -EACCES ? " (run it as root)" : "");
		return 1;
	}
	memset(&rs, 0, sizeof(rs));
	rs.path = path;
	rs.err = err;
	rs.changing = cmd != CMD_LIST;
	rc = learn_parse_state(text, len, keep_record, warn_line, &rs);
	free(text);
	if (rs.oom) {
		fprintf(err, "hellosplit: learned: out of memory reading %s.\n", path);
		free(rs.r);
		return 1;
	}
	if (rc < 0) {
		fprintf(err, "hellosplit: learned: %s is left as it is: run this hellosplit's own version "
			     "of the command%s.\n", path, cmd == CMD_LIST ? "" : " to change it");
		free(rs.r);
		return 1;
	}
	if (cmd == CMD_LIST) {
		list(out, &rs, (uint64_t)time(NULL));
		free(rs.r);
		return 0;
	}
	kept = 0;
	for (i = 0; i < rs.n; i++)
		if (cmd == CMD_FORGET && !forgets(&rs.r[i], key))
			rs.r[kept++] = rs.r[i];
	if (cmd == CMD_FORGET && kept == rs.n) {
		fprintf(err, "hellosplit: learned: nothing learned for %s in %s (`hellosplit learned --state %s "
			     "list` shows what is).\n", key, path, path);
		free(rs.r);
		return 1;
	}
	i = rs.n - kept;
	rs.n = kept;
	rc = learned_write(path, produce_records, &rs);
	free(rs.r);
	if (rc) {
		fprintf(err, "hellosplit: learned: cannot write %s: %s; it is unchanged.\n", path, strerror(-rc));
		return 1;
	}
	fprintf(out, "Forgot %u entr%s of %s%s%s.\n", (unsigned)i, i == 1 ? "y" : "ies", path,
	       cmd == CMD_FORGET ? " for " : "", cmd == CMD_FORGET ? key : "");
	return 0;
}
