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

void stats_print(FILE *out, const struct stats *s, double uptime_s)
{
	fprintf(out, "hellosplit: stats after %.1f s\n", uptime_s);
#define STATS_LINE(name, help)                                                            \
	if (is_gauge(#name) || uptime_s <= 0)                                              \
		fprintf(out, "  %-20s %12llu  %s\n", #name, (unsigned long long)s->name, help); \
	else                                                                               \
		fprintf(out, "  %-20s %12llu  %s (%.1f/s)\n", #name, (unsigned long long)s->name, help, \
			(double)s->name / uptime_s);
	STATS_COUNTERS(STATS_LINE)
#undef STATS_LINE
	fflush(out);
}

void stats_write_json(FILE *out, const struct stats *s, double uptime_s)
{
	fputc('{', out);
#define STATS_JSON(name, help) fprintf(out, "\"%s\":%llu,", #name, (unsigned long long)s->name);
	STATS_COUNTERS(STATS_JSON)
#undef STATS_JSON
	fprintf(out, "\"uptime_s\":%.3f}\n", uptime_s);
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
