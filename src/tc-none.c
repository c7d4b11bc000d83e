/* tc-none.c — builds without libbpf (STATIC=1, Android, OpenWrt): no tc
 * engine. --engine auto takes nfqueue, --engine tc is refused, doctor says so. */
#include "tc.h"

#include <errno.h>
#include <stdio.h>

#define NO_TC "this build has no tc engine (built without libbpf: STATIC=1, Android or OpenWrt)"

int tc_built(void)
{
	return 0;
}

int tc_probe(const struct config *cfg, char *why, size_t n)
{
	(void)cfg;
	snprintf(why, n, "%s", NO_TC);
	return -ENOSYS;
}

int tc_run(const struct config *cfg_given, uid_t uid, gid_t gid, int (*drop)(uid_t, gid_t), char *why, size_t n)
{
	(void)cfg_given; (void)uid; (void)gid; (void)drop;
	snprintf(why, n, "%s", NO_TC);
	return TC_NOT_STARTED;
}

int tc_attached(char *names, size_t n)
{
	if (n)
		names[0] = 0;
	return 0;
}

int tc_remove(int verbose)
{
	(void)verbose;
	return 0;
}
