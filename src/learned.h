/* learned.h — the learner's state file on disk (read whole, replaced
 * atomically), and `hellosplit learned`, which lists and forgets its
 * entries. The text itself is learn.c's. */
#ifndef HELLOSPLIT_LEARNED_H
#define HELLOSPLIT_LEARNED_H

#include <stddef.h>
#include <stdio.h>

#include "learn.h"

/* Largest state file read: LEARN_DEFAULT_ENTRIES full lines fit twice. */
#define LEARNED_FILE_MAX (4u << 20)

/* /var/lib/hellosplit/learned; on Windows %ProgramData%\hellosplit\learned. */
const char *learned_default_path(void);

/* The whole file, NUL-terminated, in *text (free it). 0, -ENOENT, -EFBIG
 * (over LEARNED_FILE_MAX), -ENOMEM or another -errno. */
int learned_read(const char *path, char **text, size_t *len);

/* Replaces path with what produce writes through its write function: into
 * PATH.tmp, created exclusively (never through a link) with mode 0600,
 * flushed to disk, then renamed over path. Returns 0, produce's error or
 * -errno; on error path is unchanged and the temporary file removed. */
typedef int (*learned_produce_fn)(void *ctx, learn_write_fn write, void *write_ctx);
int learned_write(const char *path, learned_produce_fn produce, void *ctx);

/* `hellosplit learned ...` (argv[0] is "learned"): the exit code. */
int learned_main(int argc, char **argv, FILE *out, FILE *err);

#endif
