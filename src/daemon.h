/* daemon.h — what each platform adapter provides to main.c. One of
 * nfqueue.c (Linux, Android), windivert.c (Windows) or divert.c (FreeBSD)
 * is linked, chosen by the Makefile. */
#ifndef HELLOSPLIT_DAEMON_H
#define HELLOSPLIT_DAEMON_H

#include "config.h"

/* Runs until a stop signal; returns the exit code (0, or 1 with the reason printed). */
int daemon_run(const struct config *cfg);

/* `hellosplit doctor [OPTIONS]`: checks this machine, one line each with a
 * fix. Returns 0 when all is good, 1 when problems were listed, 2 on usage. */
int doctor_main(int argc, char **argv);

#endif
