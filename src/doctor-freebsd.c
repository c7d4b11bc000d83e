/* doctor-freebsd.c — `hellosplit doctor` on FreeBSD (and in the divert
 * stand-in build): what can be checked from here is the divert socket itself;
 * the pf or ipfw rules are named, not read. */
#include <stdio.h>

#include "config.h"
#include "divert.h"
#include "doctor.h"

int doctor_main(int argc, char **argv)
{
	struct doctor d = {0};
	struct config cfg;
	struct divert_io io;
	char err[512], line[600];
	int rc;

	if ((rc = config_load(&cfg, argc, argv)) >= 0)
		return rc;
	printf("hellosplit %s doctor\n", HELLOSPLIT_VERSION);
	if (divert_io_open(&io, &cfg, err, sizeof(err)) == 0) {
		divert_io_close(&io);
		snprintf(line, sizeof(line), "divert(4) socket opened and bound to port %u", cfg.divert_port);
		doctor_ok(line);
	} else {
		doctor_problem(&d, err, NULL);
	}
	snprintf(line, sizeof(line), "the rules are not checked: pfctl -a '%s' -s rules (or ipfw show) must list a "
		 "divert rule to port %u", cfg.pf_anchor, cfg.divert_port);
	doctor_note(line);
	printf("\n%d problem(s).\n", d.problems);
	return d.problems ? 1 : 0;
}
