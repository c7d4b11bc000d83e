/* test_daemon.c — the one daemon loop, driven by a fake adapter and a fake
 * clock: the wait it asks for (stats overdue included), host-list reloads,
 * the error text of a failed --stats-json, the order of the shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "test.h"

void test_daemon(void);

#define STEPS_MAX 8

/* One wait call: what it returns and how far the clock moves meanwhile. */
struct step {
	int events;
	uint64_t advance_ms;
	uint64_t receive_ms;     /* with DAEMON_PACKETS: how long the receive takes */
	const char *hostlist;    /* written to the host-list file before returning */
};

struct fake {
	uint64_t now;
	const struct step *steps;
	int nsteps, waits, receives, saves;
	uint32_t timeouts[STEPS_MAX];
	double saved_uptime[STEPS_MAX];
	int start_rc, receive_rc;
	const char *hostlist_path;
	char trace[256];         /* the calls after the loop, in order */
	uint64_t learned_sites;  /* the gauge at the last save */
	int observes_replies;
	struct engine *engine;
};

static void trace(struct fake *f, const char *what)
{
	size_t n = strlen(f->trace);

	snprintf(f->trace + n, sizeof(f->trace) - n, "%s%s", n ? " " : "", what);
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static int fake_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	(void)ctx;
	(void)kind;
	(void)pkt;
	(void)len;
	(void)meta;
	return 0;
}

static int fake_start(void *ctx, struct engine *e)
{
	struct fake *f = ctx;

	f->engine = e;
	return f->start_rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");

	if (out) {
		fputs(text, out);
		fclose(out);
	}
}

static int fake_wait(void *ctx, uint32_t timeout_ms)
{
	struct fake *f = ctx;
	const struct step *s;

	if (f->waits >= f->nsteps || f->waits >= STEPS_MAX)
		return DAEMON_STOP;     /* a script that ran out stops the loop */
	s = &f->steps[f->waits];
	f->timeouts[f->waits++] = timeout_ms;
	f->now += s->advance_ms;
	if (s->hostlist)
		write_file(f->hostlist_path, s->hostlist);
	return s->events;
}

static int fake_receive(void *ctx, uint64_t now_ms)
{
	struct fake *f = ctx;

	(void)now_ms;
	f->receives++;
	f->now += f->steps[f->waits - 1].receive_ms;
	return f->receive_rc;
}

static void fake_flush(void *ctx)
{
	struct fake *f = ctx;

	if (f->trace[0])
		trace(f, "flush");
}

static void fake_stop_receiving(void *ctx)
{
	trace(ctx, "stop_receiving");
}

static void fake_report_errors(void *ctx)
{
	trace(ctx, "report_errors");
}

static void fake_save(void *ctx, const struct stats *s, double uptime_s)
{
	struct fake *f = ctx;

	f->learned_sites = s->learned_sites;
	if (f->saves < STEPS_MAX)
		f->saved_uptime[f->saves] = uptime_s;
	f->saves++;
}

static void fake_close(void *ctx)
{
	trace(ctx, "close");
}

static const struct daemon_adapter fake_adapter = {
	NULL, fake_emit, NULL, fake_start, fake_wait, fake_receive, fake_flush, fake_stop_receiving, fake_report_errors,
	fake_save, fake_close, 0, NULL, NULL,
};

/* Runs the loop over steps with log messages in logbuf; returns the exit code. */
static int run_fake(struct config *cfg, struct fake *f, const struct step *steps, int nsteps, int with_save,
		    char *logbuf, size_t logsize)
{
	struct daemon_adapter a = fake_adapter;
	struct daemon_clock clock = {fake_now, f};
	int rc;

	f->steps = steps;
	f->nsteps = nsteps;
	a.ctx = f;
	a.emit_ctx = f;
	a.observes_replies = f->observes_replies;
	if (!with_save)
		a.save_stats = NULL;
	logbuf[0] = 0;     /* a stream nothing is written to leaves the buffer as it was */
	log_file = test_memopen(logbuf, logsize);
	rc = daemon_loop(cfg, &a, &clock);
	test_memclose(log_file);
	log_file = NULL;
	return rc;
}

static void quiet_config(struct config *cfg)
{
	config_defaults(cfg);
	cfg->engine.max_flows = 64;
}

/* The wait covers the time to the next report; a report that fell due
 * during a long receive is made right after it (the clock is read again),
 * not one more tick later. */
static void stats_timer(void)
{
	static const struct step steps[] = {
		{0, 300, 0, NULL},                   /* t=300: nothing came */
		{DAEMON_PACKETS, 600, 1600, NULL},   /* t=900 packets; the receive ends at t=2500 */
		{0, 0, 0, NULL},                     /* t=2500: reported after the receive */
		{DAEMON_STOP, 200, 0, NULL},
	};
	struct config cfg;
	struct fake f;
	char log[4096];

	quiet_config(&cfg);
	cfg.stats_interval_s = 1;
	memset(&f, 0, sizeof(f));
	f.now = 10000;
	CHECK_EQ(run_fake(&cfg, &f, steps, 4, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.waits, 4);
	CHECK_EQ(f.receives, 1);
	CHECK_EQ(f.timeouts[0], 1000);    /* the first report is 1 s away: one tick */
	CHECK_EQ(f.timeouts[1], 700);     /* 300 ms later: 700 ms to the report */
	CHECK_EQ(f.timeouts[2], 1000);    /* reported at t=2500, after the receive: the next at 3500 */
	CHECK_EQ(f.timeouts[3], 1000);    /* no time passed */
	CHECK_EQ(f.saves, 2);             /* the overdue one, then the one at exit */
	CHECK(f.saved_uptime[0] > 2.49 && f.saved_uptime[0] < 2.51);
	CHECK(f.saved_uptime[1] > 2.69 && f.saved_uptime[1] < 2.71);
	CHECK(strstr(log, "packets") != NULL);   /* printed as well */

	/* Without --stats-interval only the engine's next timeout or the tick. */
	cfg.stats_interval_s = 0;
	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, steps, 4, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.timeouts[1], 1000);
	CHECK_EQ(f.timeouts[2], 1000);
	CHECK_EQ(f.saves, 1);
}

/* DAEMON_RELOAD reads the files again whichever platform sent it; a bad list
 * keeps the old one; SIGUSR1's print does not save. */
static void hostlist_reload(void)
{
	char path[] = "/tmp/hellosplit-daemon-hosts-XXXXXX", log[8192];
	int fd = mkstemp(path);
	const struct step steps[] = {
		{DAEMON_RELOAD, 10, 0, "a.example\nb.example\n"},
		{DAEMON_RELOAD, 10, 0, "c.example\nbad name\n"},
		{DAEMON_PRINT_STATS, 10, 0, NULL},
		{DAEMON_STOP, 10, 0, NULL},
	};
	struct config cfg;
	struct fake f;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	write_file(path, "a.example\n");
	quiet_config(&cfg);
	cfg.hostlist = path;
	memset(&f, 0, sizeof(f));
	f.hostlist_path = path;
	CHECK_EQ(run_fake(&cfg, &f, steps, 4, 1, log, sizeof(log)), 0);
	CHECK(strstr(log, "host lists reloaded: 2 names to split, 0 never.") != NULL);
	CHECK(strstr(log, ":2: 'bad name'") != NULL);
	CHECK(strstr(log, "reloading the host lists failed; the old ones stay in use.") != NULL);
	CHECK_EQ(f.saves, 1);             /* the print is not a report */

	/* Without host lists a reload is nothing. */
	quiet_config(&cfg);
	memset(&f, 0, sizeof(f));
	f.hostlist_path = path;
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 1, log, sizeof(log)), 0);
	CHECK(strstr(log, "reloaded") == NULL);
	unlink(path);
}

/* The message names the file and the error stats_save_json returned, not
 * whatever errno holds afterwards. */
static void stats_json_error(void)
{
	static const struct step steps[] = {{DAEMON_STOP, 5, 0, NULL}};
	char log[8192], expect[300], *longpath = malloc(4200);
	struct config cfg;
	struct fake f;

	quiet_config(&cfg);
	cfg.stats_json = "/nonexistent-hellosplit-dir/stats.json";
	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 0, log, sizeof(log)), 0);
	snprintf(expect, sizeof(expect), "cannot write the counters to '%s' (--stats-json): %s.", cfg.stats_json,
		 strerror(ENOENT));
	CHECK(strstr(log, expect) != NULL);

	if (!longpath)
		return;
	memset(longpath, 'x', 4199);
	longpath[4199] = 0;
	cfg.stats_json = longpath;
	memset(&f, 0, sizeof(f));
	errno = 0;
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 0, log, sizeof(log)), 0);
	snprintf(expect, sizeof(expect), "(--stats-json): %s.", strerror(ENAMETOOLONG));
	CHECK(strstr(log, expect) != NULL);
	free(longpath);
}

/* At a stop: receiving stops, the held packets are released and flushed,
 * send errors are told, then the source closes. A clean end of the source
 * exits 0, a failed wait 1, a stop before the start 0 without counters. */
static void shutdown_order(void)
{
	static const struct step stop[] = {{DAEMON_STOP, 5, 0, NULL}};
	static const struct step quiet[] = {{DAEMON_STOP_QUIET, 5, 0, NULL}};
	static const struct step ended[] = {{DAEMON_PACKETS, 5, 0, NULL}, {0, 5, 0, NULL}};
	static const struct step failed[] = {{-EIO, 5, 0, NULL}};
	struct config cfg;
	struct fake f;
	char log[4096];

	quiet_config(&cfg);
	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, stop, 1, 1, log, sizeof(log)), 0);
	CHECK(!strcmp(f.trace, "stop_receiving flush report_errors close"));
	CHECK_EQ(f.saves, 1);
	CHECK(strstr(log, "packets") != NULL);

	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, quiet, 1, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.saves, 1);             /* saved for the parent, not printed */
	CHECK(strstr(log, "packets") == NULL);

	memset(&f, 0, sizeof(f));
	f.receive_rc = 1;
	CHECK_EQ(run_fake(&cfg, &f, ended, 2, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.waits, 1);
	CHECK_EQ(f.saves, 1);

	memset(&f, 0, sizeof(f));
	f.receive_rc = -EIO;
	CHECK_EQ(run_fake(&cfg, &f, ended, 2, 1, log, sizeof(log)), 1);
	CHECK_EQ(f.waits, 1);

	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, failed, 1, 1, log, sizeof(log)), 1);
	CHECK(!strcmp(f.trace, "stop_receiving flush report_errors close"));

	memset(&f, 0, sizeof(f));
	f.start_rc = 1;
	CHECK_EQ(run_fake(&cfg, &f, stop, 1, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.waits, 0);
	CHECK_EQ(f.saves, 0);
	CHECK(!strcmp(f.trace, "close"));

	memset(&f, 0, sizeof(f));
	f.start_rc = -EACCES;
	CHECK_EQ(run_fake(&cfg, &f, stop, 1, 1, log, sizeof(log)), 1);
	CHECK_EQ(f.waits, 0);
	CHECK(f.engine != NULL);
}

/* Learning: off, in one line, where the adapter does not see the answers;
 * on, the state file is read before the adapter starts; --no-learn. */
static void learning_switch(void)
{
	static const struct step steps[] = {{DAEMON_STOP, 10, 0, NULL}};
	char path[] = "/tmp/hellosplit-test-daemon-learn-XXXXXX", log[4096];
	struct config cfg;
	struct fake f;
	FILE *out;
	int fd = mkstemp(path);
	unsigned long long now = (unsigned long long)time(NULL);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	out = fopen(path, "w");
	CHECK(out != NULL);
	if (!out)
		return;
	fprintf(out, "hellosplit-learned 1\nsite blocked.example midsld works %llu %llu 1 reset\n", now, now + 3600);
	fclose(out);
	quiet_config(&cfg);
	cfg.state_path = path;
	memset(&f, 0, sizeof(f));
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 1, log, sizeof(log)), 0);
	CHECK(strstr(log, "learning is off here") != NULL);
	CHECK_EQ(f.learned_sites, 0);
	memset(&f, 0, sizeof(f));
	f.observes_replies = 1;
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 1, log, sizeof(log)), 0);
	CHECK(strstr(log, "learning is off") == NULL);
	CHECK(strstr(log, "warning") == NULL);
	CHECK_EQ(f.learned_sites, 1);
	cfg.learn = 0;
	memset(&f, 0, sizeof(f));
	f.observes_replies = 1;
	CHECK_EQ(run_fake(&cfg, &f, steps, 1, 1, log, sizeof(log)), 0);
	CHECK_EQ(f.learned_sites, 0);
	CHECK(strstr(log, "learning is off") == NULL);
	unlink(path);
}

void test_daemon(void)
{
	learning_switch();
	stats_timer();
	hostlist_reload();
	stats_json_error();
	shutdown_order();
}
