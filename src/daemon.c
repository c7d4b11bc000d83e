/* daemon.c — the daemon loop, the same on every platform: wait for packets
 * or the next deadline, read them into the engine, tick, flush, answer the
 * events, report the counters on time; at a stop every held packet leaves
 * before the packet source closes. */
#include "daemon.h"

#include <string.h>
#include <time.h>

#include "file.h"
#include "hostlist.h"
#include "learner.h"
#include "log.h"

/* How long the adapter may wait: until the engine's next collect timeout,
 * the next stats report, or the GC tick, whichever comes first. A report
 * already overdue makes it 0. */
static uint32_t wait_ms(const struct engine *e, uint64_t now, uint64_t next_stats)
{
	uint32_t wait = engine_next_timeout(e, now);

	if (wait > DAEMON_TICK_MS)
		wait = DAEMON_TICK_MS;
	if (next_stats <= now)
		return 0;
	if (next_stats - now < wait)
		wait = (uint32_t)(next_stats - now);
	return wait;
}

/* The engine's counters, or the adapter's when it counts the packets. */
static const struct stats *counters(const struct daemon_adapter *a, const struct engine *e)
{
	return a->stats ? a->stats(a->ctx) : engine_stats(e);
}

/* The counters to the log (print) and to the adapter's place or --stats-json. */
static void report(const struct config *cfg, const struct daemon_adapter *a, const struct engine *e, double uptime,
		   int print)
{
	const struct stats *s = counters(a, e);
	int err;

	if (print)
		stats_print(log_stream(), s, uptime);
	if (a->save_stats)
		a->save_stats(a->ctx, s, uptime);
	else if (cfg->stats_json && (err = stats_save_json(cfg->stats_json, s, uptime)) != 0)
		log_error("cannot write the counters to '%s' (--stats-json): %s. Give a file in a directory that "
			  "exists and is writable.", cfg->stats_json, strerror(-err));
}

/* The same files are read again; on failure the old lists stay. */
static void reload(struct engine *e, struct hostlists *lists)
{
	if (!lists->include_path && !lists->exclude_path)
		return;
	if (hostlists_reload(lists, log_stream())) {
		log_error("reloading the host lists failed; the old ones stay in use.");
		return;
	}
	engine_use_hostlists(e, lists);
	log_info("host lists reloaded: %u names to split, %u never.", lists->include.count, lists->exclude.count);
}

static uint64_t monotonic_now(void *ctx)
{
	(void)ctx;
	return monotonic_ms();
}

const struct daemon_clock daemon_monotonic_clock = {monotonic_now, NULL};

static uint64_t now_ms(const struct daemon_clock *clock)
{
	return clock->now_ms(clock->ctx);
}

/* What is learned is kept in Unix seconds: it means the same after a restart. */
static uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

/* The learner, when learning is on and the adapter sees the answers. */
static void learner_step(struct learner *lr, struct engine *e, uint64_t now, int force)
{
	if (!lr)
		return;
	lr->now_s = wall_s();
	engine_set_learned_sites(e, learner_tick(lr, now, force));
}

static double seconds_since(const struct daemon_clock *clock, uint64_t start)
{
	return (double)(now_ms(clock) - start) / 1000;
}

/* Runs the adapter until a stop; returns the exit code. */
static int run(const struct config *cfg, const struct daemon_adapter *a, const struct daemon_clock *clock,
	       struct engine *e, struct hostlists *lists, struct learner *lr, uint64_t start, int *quiet)
{
	uint64_t interval = cfg->stats_interval_s * 1000ull;
	uint64_t next_stats = interval ? start + interval : UINT64_MAX;

	for (;;) {
		uint64_t now = now_ms(clock);
		int events = a->wait(a->ctx, wait_ms(e, now, next_stats)), r;

		if (events < 0)
			return 1;
		now = now_ms(clock);
		learner_step(lr, e, now, 0);
		if (events & DAEMON_PACKETS) {
			if ((r = a->receive(a->ctx, now)) != 0)
				return r < 0 ? 1 : 0;
			now = now_ms(clock);    /* after a batch: timeouts are due by the clock of now */
		}
		engine_tick(e, now);
		if (a->flush)
			a->flush(a->ctx);
		if (events & DAEMON_PRINT_STATS)
			stats_print(log_stream(), counters(a, e), (double)(now - start) / 1000);
		if (events & DAEMON_RELOAD)
			reload(e, lists);
		if (now >= next_stats) {
			report(cfg, a, e, (double)(now - start) / 1000, 1);
			next_stats = now + interval;
		}
		if (events & (DAEMON_STOP | DAEMON_STOP_QUIET)) {
			*quiet = !!(events & DAEMON_STOP_QUIET);
			return 0;
		}
	}
}

int daemon_loop(const struct config *cfg, const struct daemon_adapter *a, const struct daemon_clock *clock)
{
	uint64_t start = now_ms(clock);
	struct hostlists lists;
	struct learner learner, *lr = NULL;
	struct engine *e;
	int rc, quiet = 0;

	if (hostlists_load(&lists, cfg->hostlist, cfg->hostlist_exclude, log_stream()))
		return 1;
	e = engine_create(&cfg->engine, a->emit, a->emit_ctx);
	if (!e) {
		log_error("out of memory creating the engine (--max-flows %u, --max-buffer %u). Give smaller values.",
			  cfg->engine.max_flows, cfg->engine.max_buffer);
		hostlists_free(&lists);
		return 1;
	}
	engine_set_logger(e, log_flow_event, NULL);
	engine_use_hostlists(e, &lists);
	if (cfg->learn && !a->observes_replies) {
		log_info("learning is off here: this platform's packet path does not see the servers' answers yet; "
			 "every flow is cut at --split-at.");
	} else if (cfg->learn) {
		/* the state file is read here, before the adapter drops privileges */
		if (learner_init(&learner, cfg, wall_s(), a->save_learned, a->ctx) ||
		    engine_set_learner(e, learner_choose, learner_outcome, &learner)) {
			log_error("learning could not start (above); run with --no-learn to split at --split-at only.");
			learner_free(&learner);
			engine_destroy(e);
			hostlists_free(&lists);
			return 1;
		}
		lr = &learner;
		engine_set_learned_sites(e, lr->learn.nlearned);
	}
	rc = a->start(a->ctx, e);
	if (rc != 0) {
		rc = rc < 0 ? 1 : 0;
		goto out;
	}
	rc = run(cfg, a, clock, e, &lists, lr, start, &quiet);
	if (a->stop_receiving)
		a->stop_receiving(a->ctx);
	engine_release_all(e);      /* held packets leave before the packet source closes */
	if (a->flush)
		a->flush(a->ctx);
	if (a->report_errors)
		a->report_errors(a->ctx);
	learner_step(lr, e, now_ms(clock), 1);   /* what changed since the last save */
	/* A start the Linux parent gave up on ends with its one-line reason, not counters. */
	report(cfg, a, e, seconds_since(clock, start), !quiet);
out:
	if (a->close)
		a->close(a->ctx);
	engine_destroy(e);
	if (lr)
		learner_free(lr);
	hostlists_free(&lists);
	return rc;
}
