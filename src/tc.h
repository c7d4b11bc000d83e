/* tc.h — the Linux tc engine: the loader and daemon adapter of the program
 * in tc.bpf.c (tc.c), or, in builds without libbpf (STATIC=1, Android,
 * OpenWrt), the same functions saying there is none (tc-none.c). */
#ifndef HELLOSPLIT_TC_H
#define HELLOSPLIT_TC_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* tc_run could not load the program: nothing was changed; the reason is in why. */
#define TC_NOT_STARTED (-1)

/* 1 when this build carries the tc engine. */
int tc_built(void);

/* Loads the program into the kernel and unloads it. 0 when the kernel takes
 * it, else -errno with the reason in why (doctor, --engine auto). */
int tc_probe(const struct config *cfg, char *why, size_t n);

/* The daemon on the tc engine: loads the program, attaches it to the egress
 * of every interface the options select (and to those that appear later),
 * calls drop(uid, gid) (keeping CAP_NET_ADMIN for later attaches and the
 * detach), runs daemon_loop until a stop and leaves tc as it found it.
 * --tc-hook: a tcx link (Linux >= 6.6, the default there) or a clsact
 * filter.
 * Learning (--learn): an ingress program on the same interfaces reports
 * the servers' first answers; the kernel takes each hello's rung from maps
 * the learner's entries are written into.
 * Returns the exit code, or TC_NOT_STARTED with the reason in why. */
int tc_run(const struct config *cfg_given, uid_t uid, gid_t gid, int (*drop)(uid_t, gid_t), char *why, size_t n);

/* The interfaces with a hellosplit program at their egress now (a tcx link
 * or a clsact filter: a daemon runs, or a clsact filter was left by a kill
 * -9), ", "-separated into names. Returns how many (0 without a tc engine). */
int tc_attached(char *names, size_t n);

/* --rules-remove: detaches hellosplit's filters (by handle, priority and
 * program name) from every interface and removes the clsact qdiscs a
 * daemon killed before its exit had created. Others' filters stay. 0 or -errno. */
int tc_remove(int verbose);

#endif
