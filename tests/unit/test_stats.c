/* test_stats.c — the JSON object and its file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "test.h"

void test_stats(void);

void test_stats(void)
{
	struct stats s;
	char buf[4096], path[] = "/tmp/hellosplit-stats-XXXXXX";
	FILE *f;
	int fd;
	size_t n;

	memset(&s, 0, sizeof(s));
	s.packets = 12;
	s.flows_split = 3;
	s.held_bytes_peak = 4096;
	f = test_memopen(buf, sizeof(buf));
	stats_write_json(f, &s, 1.5);
	test_memclose(f);
	CHECK(buf[0] == '{');
	CHECK(strstr(buf, "\"packets\":12,") != NULL);
	CHECK(strstr(buf, "\"flows_split\":3,") != NULL);
	CHECK(strstr(buf, "\"held_bytes_peak\":4096,") != NULL);
	CHECK(strstr(buf, "\"failopen_table_full\":0,") != NULL);
	CHECK(strstr(buf, "\"uptime_s\":1.500}") != NULL);
	fd = mkstemp(path);
	close(fd);
	CHECK_EQ(stats_save_json(path, &s, 2), 0);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	CHECK(strstr(buf, "\"uptime_s\":2.000}") != NULL);
	unlink(path);
	CHECK(stats_save_json("/nonexistent-dir/x.json", &s, 2) < 0);
	/* the reason of the last failed piece, by name; none yet: empty */
	CHECK(strstr(buf, "\"failopen_emit_reason\":\"\",") != NULL);
	s.failopen_emit = 2;
	s.failopen_emit_errno = EPERM;
	f = test_memopen(buf, sizeof(buf));
	stats_write_json(f, &s, 1);
	test_memclose(f);
	CHECK(strstr(buf, "\"failopen_emit\":2,") != NULL);
	CHECK(strstr(buf, "\"failopen_emit_reason\":\"EPERM\",") != NULL);
	CHECK(!strcmp(stats_errno_name(EMSGSIZE, buf, sizeof(buf)), "EMSGSIZE"));
	CHECK(!strcmp(stats_errno_name(12345, buf, sizeof(buf)), "errno 12345"));
}
