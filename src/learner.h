/* learner.h — the daemon's side of learning: the per-site memory (learn.c)
 * wired to the engine's chooser and outcome callbacks, --pin, the state
 * file read at start and written (debounced) when it changed, and the log
 * lines of -v. Portable: the file is read through learned.c and written by
 * the daemon loop's save function (the Linux parent writes it for the
 * unprivileged packet process). */
#ifndef HELLOSPLIT_LEARNER_H
#define HELLOSPLIT_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "learn.h"

/* A change is written this long after it happened at the latest (more
 * changes meanwhile go in the same write), and at exit. */
#define LEARNER_SAVE_DELAY_MS 2000

/* Where the state text goes: 0 or -errno (said by the callee). */
typedef int (*learner_save_fn)(void *ctx, const char *text, size_t len);

struct learner {
	struct learn learn;
	const char *path;             /* the state file */
	int observe;                  /* --observe: log what would be learned, change nothing */
	uint64_t now_s;               /* wall clock, set by the loop before packets are read */
	uint64_t saved_changes;       /* learn.changes at the last save */
	uint64_t dirty_since_ms;      /* monotonic time of the first unsaved change, 0: none */
	learner_save_fn save;
	void *save_ctx;
	int save_failed;              /* said once */
	char why[LEARN_NAME_MAX + 96];   /* engine_choice.why of the last choice */
	char *text;                   /* the state text of the last save */
	size_t text_len, text_cap;
};

/* Builds the ladder from --split-at, the memory, the pins, and reads the
 * state file (a missing file: a fresh start; a damaged one: one warning, the
 * good lines kept). save writes the state text; NULL: straight to the file.
 * 0, or -errno said. */
int learner_init(struct learner *lr, const struct config *cfg, uint64_t now_s, learner_save_fn save, void *save_ctx);
void learner_free(struct learner *lr);

/* The engine's callbacks; ctx is the learner. */
void learner_choose(void *ctx, const uint8_t *name, uint32_t len, struct engine_choice *c);
enum engine_learned learner_outcome(void *ctx, const struct engine_outcome_event *ev);

/* The -v reason of a choice (engine_choice.why): "rung 1 (midsld): learned
 * for its site", "pinned (--pin)"... into lr->why; returns it. */
const char *learner_why(struct learner *lr, int rung, enum learn_source source);

/* The learner daemon_loop set up (learner_init, not freed yet), or NULL:
 * for an adapter that chooses and observes outside the engine (the tc
 * engine: the kernel chooses, user space feeds the outcomes). */
struct learner *learner_running(void);

/* Saves when a change is LEARNER_SAVE_DELAY_MS old (force: now, if any).
 * Returns the learned entries held (for the learned_sites gauge). */
uint32_t learner_tick(struct learner *lr, uint64_t now_ms, int force);

#endif
