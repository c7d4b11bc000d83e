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
 * Learning (--learn) is off: the program cuts at --split-at, said once.
 * Returns the exit code, or TC_NOT_STARTED with the reason in why. */
int tc_run(const struct config *cfg_given, uid_t uid, gid_t gid, int (*drop)(uid_t, gid_t), char *why, size_t n);

/* --rules-remove: detaches hellosplit's filters (by handle, priority and
 * program name) from every interface and removes the clsact qdiscs a
 * daemon killed before its exit had created. Others' filters stay. 0 or -errno. */
int tc_remove(int verbose);

#endif
