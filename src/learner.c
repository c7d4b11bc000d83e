/* learner.c — see learner.h. */
#include "learner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "learned.h"
#include "log.h"

/* ---- the state file */

struct load_warnings {
	const char *path;
	unsigned bad, first_line;
	char first[LEARN_LINE_MAX];
};

static void note_bad_line(void *ctx, unsigned line, const char *why)
{
	struct load_warnings *w = ctx;

	if (!w->bad++) {
		w->first_line = line;
		snprintf(w->first, sizeof(w->first), "%s", why);
	}
}

static int load_state(struct learner *lr)
{
	struct load_warnings w;
	char *text;
	size_t len;
	int r = learned_read(lr->path, &text, &len);

	memset(&w, 0, sizeof(w));
	w.path = lr->path;
	if (r == -ENOENT) {
		log_debug("learning: no state file %s yet: nothing learned so far.", lr->path);
		return 0;
	}
	if (r) {
		log_error("warning: cannot read the learned state %s: %s; starting with nothing learned (the file is "
			  "replaced at the next change).", lr->path, strerror(-r));
		return 0;
	}
	r = learn_load(&lr->learn, text, len, lr->now_s, note_bad_line, &w);
	free(text);
	if (r < 0) {
		log_error("warning: the learned state %s: line %u: %s. Starting with nothing learned.", lr->path,
			  w.first_line, w.first);
		return 0;
	}
	if (w.bad)
		log_error("warning: the learned state %s is damaged: %u line%s unreadable (the first, line %u: %s); "
			  "%d entr%s kept, the rest is relearned.", lr->path, w.bad, w.bad == 1 ? "" : "s", w.first_line,
			  w.first, r, r == 1 ? "y" : "ies");
	else
		log_debug("learning: %d entr%s read from %s.", r, r == 1 ? "y" : "ies", lr->path);
	lr->saved_changes = lr->learn.changes;
	return 0;
}

static struct learner *running;

struct learner *learner_running(void)
{
	return running;
}

int learner_init(struct learner *lr, const struct config *cfg, uint64_t now_s, learner_save_fn save, void *save_ctx)
{
	struct ladder ladder;
	uint64_t seed = cfg->engine.hash_key[0] ^ (cfg->engine.hash_key[1] << 1);
	char err[320];
	int r;

	memset(lr, 0, sizeof(*lr));
	lr->path = cfg->state_path ? cfg->state_path : learned_default_path();
	lr->observe = cfg->engine.observe;
	lr->now_s = now_s;
	lr->save = save;
	lr->save_ctx = save_ctx;
	if (ladder_build(&ladder, &cfg->engine.positions)) {
		log_error("learning: --split-at gives no rung to start the ladder with.");
		return -EINVAL;
	}
	r = learn_init(&lr->learn, &ladder, LEARN_DEFAULT_ENTRIES, seed);
	if (r) {
		log_error("learning: out of memory for %u entries.", LEARN_DEFAULT_ENTRIES);
		return r;
	}
	if (cfg->pins && learn_parse_pins(cfg->pins, &lr->learn, err, sizeof(err))) {
		log_error("--pin: %s.", err);
		learn_free(&lr->learn);
		return -EINVAL;
	}
	running = lr;
	return load_state(lr);
}

void learner_free(struct learner *lr)
{
	if (running == lr)
		running = NULL;
	learn_free(&lr->learn);
	free(lr->text);
	lr->text = NULL;
}

static int gather(void *ctx, const char *text, size_t len)
{
	struct learner *lr = ctx;

	if (len > lr->text_cap - lr->text_len) {
		size_t cap = lr->text_cap ? lr->text_cap : 16384;
		char *p;

		while (cap - lr->text_len < len)
			cap *= 2;
		p = realloc(lr->text, cap);
		if (!p)
			return -ENOMEM;
		lr->text = p;
		lr->text_cap = cap;
	}
	memcpy(lr->text + lr->text_len, text, len);
	lr->text_len += len;
	return 0;
}

static int save_state(struct learner *lr)
{
	int r;

	lr->text_len = 0;
	r = learn_save(&lr->learn, lr->now_s, gather, lr);
	if (r) {
		log_error("learning: building the state text failed: %s.", strerror(-r));
		return r;
	}
	if (lr->save)
		return lr->save(lr->save_ctx, lr->text ? lr->text : "", lr->text_len);
	r = file_replace_private(lr->path, lr->text ? lr->text : "", lr->text_len);
	if (r && !lr->save_failed) {
		lr->save_failed = 1;
		log_error("cannot write the learned state %s: %s. Give a writable file with --state FILE; learning "
			  "goes on in memory.", lr->path, strerror(-r));
	}
	return r;
}

uint32_t learner_tick(struct learner *lr, uint64_t now_ms, int force)
{
	if (lr->learn.changes != lr->saved_changes) {
		if (!lr->dirty_since_ms)
			lr->dirty_since_ms = now_ms ? now_ms : 1;
		if (force || now_ms - lr->dirty_since_ms >= LEARNER_SAVE_DELAY_MS) {
			lr->saved_changes = lr->learn.changes;
			lr->dirty_since_ms = 0;
			save_state(lr);
		}
	}
	return lr->learn.nlearned;
}

/* ---- the engine's callbacks */

static const char *const source_names[] = {
	[LEARN_FROM_DEFAULT] = "nothing learned", [LEARN_FROM_NAME] = "learned for the name",
	[LEARN_FROM_SITE] = "learned for its site", [LEARN_FROM_PIN] = "pinned (--pin)",
	[LEARN_FROM_GAVE_UP] = "no split gets through",
};

void learner_choose(void *ctx, const uint8_t *name, uint32_t len, struct engine_choice *c)
{
	struct learner *lr = ctx;
	struct learn_answer a;

	learn_lookup(&lr->learn, name, len, lr->now_s, &a);
	c->spec = a.spec;
	c->rung = a.rung;
	c->why = learner_why(lr, a.rung, a.source);
}

const char *learner_why(struct learner *lr, int rung, enum learn_source source)
{
	if ((unsigned)source > LEARN_FROM_GAVE_UP)
		source = LEARN_FROM_DEFAULT;
	if (source == LEARN_FROM_PIN || source == LEARN_FROM_GAVE_UP || rung < 0 || rung >= lr->learn.ladder.count)
		snprintf(lr->why, sizeof(lr->why), "%s", source_names[source]);
	else
		snprintf(lr->why, sizeof(lr->why), "rung %d (%s): %s", rung, lr->learn.ladder.rungs[rung].text,
			 source_names[source]);
	return lr->why;
}

static const char *const outcome_names[] = {
	[ENGINE_OUTCOME_SUCCESS] = "answered", [ENGINE_OUTCOME_RESET] = "reset",
	[ENGINE_OUTCOME_FIN] = "ended (FIN)", [ENGINE_OUTCOME_SILENT] = "unanswered (hello retransmitted)",
};

/* The hostname, printable (it comes from the network). */
static void printable(char *out, size_t n, const uint8_t *name, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len && i + 1 < n; i++)
		out[i] = name[i] > 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
	out[i] = 0;
}

static void log_observed(const struct learner *lr, const char *name, const struct engine_outcome_event *ev)
{
	int last = ev->rung + 1 >= lr->learn.ladder.count;

	if (ev->outcome == ENGINE_OUTCOME_SUCCESS)
		log_debug("learn (--observe): %s answered at rung %d (%s): would keep it.", name, ev->rung,
			  lr->learn.ladder.rungs[ev->rung].text);
	else if (last)
		log_debug("learn (--observe): %s %s at rung %d (%s), the last: would pass it unsplit (no split gets "
			  "through).", name, outcome_names[ev->outcome], ev->rung, lr->learn.ladder.rungs[ev->rung].text);
	else
		log_debug("learn (--observe): %s %s at rung %d (%s): would try rung %d (%s) next.", name,
			  outcome_names[ev->outcome], ev->rung, lr->learn.ladder.rungs[ev->rung].text, ev->rung + 1,
			  lr->learn.ladder.rungs[ev->rung + 1].text);
}

static const enum learn_failure failure_of[] = {
	[ENGINE_OUTCOME_SUCCESS] = LEARN_FAIL_NONE, [ENGINE_OUTCOME_RESET] = LEARN_FAIL_RESET,
	[ENGINE_OUTCOME_FIN] = LEARN_FAIL_FIN, [ENGINE_OUTCOME_SILENT] = LEARN_FAIL_SILENT,
};

enum engine_learned learner_outcome(void *ctx, const struct engine_outcome_event *ev)
{
	struct learner *lr = ctx;
	char name[LEARN_NAME_MAX + 1];
	struct learn_answer next;
	enum learn_event r;
	int rungs = lr->learn.ladder.count;

	printable(name, sizeof(name), ev->name, ev->name_len);
	if (ev->rung < 0 || ev->rung >= rungs)
		return ENGINE_LEARN_IGNORED;
	if (lr->observe) {
		log_observed(lr, name, ev);
		return ENGINE_LEARN_IGNORED;
	}
	if (ev->outcome == ENGINE_OUTCOME_SUCCESS)
		r = learn_success(&lr->learn, ev->name, ev->name_len, ev->rung, lr->now_s);
	else
		r = learn_fail(&lr->learn, ev->name, ev->name_len, ev->rung, failure_of[ev->outcome], lr->now_s);
	switch (r) {
	case LEARN_KEPT:
		log_debug("learn: %s %s at rung %d (%s): kept.", name, outcome_names[ev->outcome], ev->rung,
			  lr->learn.ladder.rungs[ev->rung].text);
		return ENGINE_LEARN_KEPT;
	case LEARN_MOVED:
		learn_lookup(&lr->learn, ev->name, ev->name_len, lr->now_s, &next);
		log_debug("learn: %s %s at rung %d (%s): the next connection takes rung %d (%s).", name,
			  outcome_names[ev->outcome], ev->rung, lr->learn.ladder.rungs[ev->rung].text, next.rung,
			  next.rung >= 0 ? lr->learn.ladder.rungs[next.rung].text : "-");
		return ENGINE_LEARN_MOVED;
	case LEARN_GAVE_UP_NOW:
		log_info("no split gets through to %s: all %d rungs of the ladder failed, the last (%s) %s. Its "
			 "connections pass unsplit for %d hours, then the ladder is tried again. This is a DPI that "
			 "reassembles the stream, or a block of the address: splitting cannot help.", name, rungs,
			 lr->learn.ladder.rungs[ev->rung].text, outcome_names[ev->outcome], LEARN_GAVE_UP_S / 3600);
		return ENGINE_LEARN_GAVE_UP;
	case LEARN_IGNORED:
		break;
	}
	log_debug("learn: %s %s at rung %d (%s): already judged, nothing changes.", name, outcome_names[ev->outcome],
		  ev->rung, lr->learn.ladder.rungs[ev->rung].text);
	return ENGINE_LEARN_IGNORED;
}
