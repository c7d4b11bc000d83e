/* stats.c — print the counters for people and for machines. */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "file.h"

static int is_gauge(const char *name)
{
	return !strncmp(name, "held_bytes", 10);
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

void stats_write_json(FILE *out, const struct stats *s, double uptime_s)
{
	char reason[32];

	fputc('{', out);
#define STATS_JSON(name, help) fprintf(out, "\"%s\":%llu,", #name, (unsigned long long)s->name);
	STATS_COUNTERS(STATS_JSON)
#undef STATS_JSON
	fprintf(out, "\"failopen_emit_reason\":\"%s\",\"uptime_s\":%.3f}\n", emit_reason(s, reason, sizeof(reason)),
		uptime_s);
}

int stats_save_json(const char *path, const struct stats *s, double uptime_s)
{
	char tmp[4096];
	FILE *f;
	int err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	stats_write_json(f, s, uptime_s);
	if (fflush(f) || ferror(f))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err)
		err = file_replace(tmp, path);
	if (err)
		remove(tmp);
	return err ? err : 0;
}
