/* stats.c — print the counters for people and for machines. */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "file.h"

#define STATS_JSON_MAX 4096

static int is_gauge(const char *name)
{
	return !strncmp(name, "held_bytes", 10) || !strcmp(name, "learned_sites");
}

#define ERRNO_NAME(e) {e, #e},
static const struct {
	int err;
	const char *name;
} errno_names[] = {
	ERRNO_NAME(EPERM) ERRNO_NAME(EACCES) ERRNO_NAME(ENOBUFS) ERRNO_NAME(ENOMEM) ERRNO_NAME(EMSGSIZE)
	ERRNO_NAME(EAFNOSUPPORT) ERRNO_NAME(ENETUNREACH) ERRNO_NAME(EHOSTUNREACH) ERRNO_NAME(ENETDOWN)
	ERRNO_NAME(EINVAL) ERRNO_NAME(EIO) ERRNO_NAME(ENODEV) ERRNO_NAME(ENXIO) ERRNO_NAME(EAGAIN)
};

const char *stats_errno_name(int err, char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	snprintf(buf, n, "errno %d", err);
	return buf;
}

static const char *emit_reason(const struct stats *s, char *buf, size_t n)
{
	return s->failopen_emit_errno ? stats_errno_name(s->failopen_emit_errno, buf, n) : "";
}

void stats_print(FILE *out, const struct stats *s, double uptime_s)
{
	char reason[32];

	fprintf(out, "hellosplit: stats after %.1f s\n", uptime_s);
#define STATS_LINE(name, help)                                                            \
	if (is_gauge(#name) || uptime_s <= 0)                                              \
		fprintf(out, "  %-20s %12llu  %s\n", #name, (unsigned long long)s->name, help); \
	else                                                                               \
		fprintf(out, "  %-20s %12llu  %s (%.1f/s)\n", #name, (unsigned long long)s->name, help, \
			(double)s->name / uptime_s);
	STATS_COUNTERS(STATS_LINE)
#undef STATS_LINE
	if (s->failopen_emit_errno)
		fprintf(out, "  %-20s %12s  why the last piece could not be sent\n", "failopen_emit_reason",
			emit_reason(s, reason, sizeof(reason)));
	fflush(out);
}

/* The JSON object as one string: stats_write_json prints it, stats_save_json
 * hands it to file_replace. Returns its length, or -1 when it does not fit. */
static int format_json(char *buf, size_t size, const struct stats *s, double uptime_s)
{
	char reason[32];
	size_t used = 0;
	int n;

#define STATS_JSON(name, help)                                                                      \
	n = snprintf(buf + used, size - used, "%s\"%s\":%llu", used ? "," : "{", #name,             \
		     (unsigned long long)s->name);                                                 \
	if (n < 0 || (size_t)n >= size - used)                                                     \
		return -1;                                                                          \
	used += (size_t)n;
	STATS_COUNTERS(STATS_JSON)
#undef STATS_JSON
	n = snprintf(buf + used, size - used, ",\"failopen_emit_reason\":\"%s\",\"uptime_s\":%.3f}\n",
		     emit_reason(s, reason, sizeof(reason)), uptime_s);
	if (n < 0 || (size_t)n >= size - used)
		return -1;
	return (int)(used + (size_t)n);
}

void stats_write_json(FILE *out, const struct stats *s, double uptime_s)
{
	char json[STATS_JSON_MAX];

	if (format_json(json, sizeof(json), s, uptime_s) > 0)
		fputs(json, out);
}

int stats_save_json(const char *path, const struct stats *s, double uptime_s)
{
	char json[STATS_JSON_MAX];
	int n = format_json(json, sizeof(json), s, uptime_s);

	if (n < 0) {
		errno = ENOBUFS;
		return -ENOBUFS;
	}
	return file_replace(path, json, (size_t)n);
}
