/* test_learner.c — the daemon's learner with a driven clock: the chooser and
 * the outcomes over learn.c, the debounced save, a restart from the state
 * file, a damaged file (one warning, the good lines kept), pins, --observe,
 * the ladder running out (said once), the --pin syntax. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "learned.h"
#include "learner.h"
#include "log.h"
#include "test.h"

void test_learner(void);

#define NAME "www.blocked.example"
#define T0 1764745200u

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static struct engine_outcome_event outcome(const char *name, int rung, enum engine_outcome o)
{
	struct engine_outcome_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.name = (const uint8_t *)name;
	ev.name_len = (uint32_t)strlen(name);
	ev.rung = rung;
	ev.outcome = o;
	return ev;
}

static int rung_of(struct learner *lr, const char *name, char *cuts, size_t n)
{
	struct engine_choice c = {NULL, -7, NULL};

	learner_choose(lr, (const uint8_t *)name, (uint32_t)strlen(name), &c);
	if (cuts)
		split_spec_format(c.spec ? c.spec : &(struct split_spec){0, {{0, 0}}}, cuts, (int)n);
	return c.spec ? c.rung : -2;
}

static int file_has(const char *path, const char *needle)
{
	char *text;
	size_t len;
	int found;

	if (learned_read(path, &text, &len))
		return 0;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

static void learn_save_restart(const char *path)
{
	struct config cfg;
	struct learner lr;
	struct engine_outcome_event ev;
	char cuts[64];

	config_defaults(&cfg);
	cfg.state_path = path;
	unlink(path);
	CHECK_EQ(learner_init(&lr, &cfg, T0, NULL, NULL), 0);
	CHECK_EQ(rung_of(&lr, NAME, cuts, sizeof(cuts)), 0);
	CHECK(!strcmp(cuts, "5"));
	/* a reset at rung 0: the site moves to midsld, the sibling with it */
	ev = outcome(NAME, 0, ENGINE_OUTCOME_RESET);
	CHECK_EQ(learner_outcome(&lr, &ev), ENGINE_LEARN_MOVED);
	CHECK_EQ(rung_of(&lr, NAME, cuts, sizeof(cuts)), 1);
	CHECK(!strcmp(cuts, "midsld"));
	CHECK_EQ(rung_of(&lr, "mail.blocked.example", NULL, 0), 1);
	CHECK_EQ(rung_of(&lr, "www.allowed.example", NULL, 0), 0);
	CHECK(strstr(lr.why, "learned for its site") != NULL || strstr(lr.why, "nothing learned") != NULL);
	/* a flow that began before the move reports the old rung: ignored */
	CHECK_EQ(learner_outcome(&lr, &ev), ENGINE_LEARN_IGNORED);
	ev = outcome(NAME, 1, ENGINE_OUTCOME_SUCCESS);
	CHECK_EQ(learner_outcome(&lr, &ev), ENGINE_LEARN_KEPT);
	/* saved LEARNER_SAVE_DELAY_MS after the change, not before */
	CHECK_EQ(learner_tick(&lr, 1000, 0), 1);
	CHECK(!file_has(path, "blocked.example"));
	learner_tick(&lr, 1000 + LEARNER_SAVE_DELAY_MS - 1, 0);
	CHECK(!file_has(path, "blocked.example"));
	learner_tick(&lr, 1000 + LEARNER_SAVE_DELAY_MS, 0);
	CHECK(file_has(path, "site blocked.example midsld works"));
	learner_free(&lr);
	/* a restart starts from the learned rung */
	CHECK_EQ(learner_init(&lr, &cfg, T0 + 60, NULL, NULL), 0);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 1);
	CHECK_EQ(rung_of(&lr, "static.blocked.example", NULL, 0), 1);
	learner_free(&lr);
	/* ... until it expires */
	CHECK_EQ(learner_init(&lr, &cfg, T0 + LEARN_KEEP_S + 1, NULL, NULL), 0);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 0);
	learner_free(&lr);
}

/* A damaged file: one warning naming the file and the first bad line; the good entries stay. */
static void learn_damaged_file(const char *path)
{
	struct config cfg;
	struct learner lr;
	char logbuf[4096];
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "hellosplit-learned 1\n"
		   "site blocked.example 1 works %u %u 2 reset\n"
		   "site other.example midsld garbage 1 2 3 none\n"
		   "name www.third.example midsld works %u %u 1 fin\n"
		   "site cut.example midsld wo",
		T0, T0 + 1000, T0, T0 + 1000);
	fclose(f);
	config_defaults(&cfg);
	cfg.state_path = path;
	log_file = test_memopen(logbuf, sizeof(logbuf));
	CHECK_EQ(learner_init(&lr, &cfg, T0 + 10, NULL, NULL), 0);
	test_memclose(log_file);
	log_file = NULL;
	CHECK_EQ(count_of(logbuf, "warning"), 1);
	CHECK(strstr(logbuf, path) != NULL);
	CHECK(strstr(logbuf, "2 lines unreadable") != NULL);
	CHECK(strstr(logbuf, "line 3") != NULL);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 2);
	CHECK_EQ(rung_of(&lr, "www.third.example", NULL, 0), 1);
	learner_free(&lr);
	/* another version: one warning, a fresh start */
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("hellosplit-learned 9\nsite blocked.example 1 works 1 2 3 none\n", f);
	fclose(f);
	log_file = test_memopen(logbuf, sizeof(logbuf));
	CHECK_EQ(learner_init(&lr, &cfg, T0 + 10, NULL, NULL), 0);
	test_memclose(log_file);
	log_file = NULL;
	CHECK_EQ(count_of(logbuf, "warning"), 1);
	CHECK(strstr(logbuf, "Starting with nothing learned") != NULL);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 0);
	learner_free(&lr);
}

/* Every rung fails: said once, then the site passes unsplit. */
static void learn_gives_up(const char *path)
{
	struct config cfg;
	struct learner lr;
	struct engine_outcome_event ev;
	char logbuf[4096];
	int rung, moves = 0;

	config_defaults(&cfg);
	cfg.state_path = path;
	unlink(path);
	CHECK_EQ(learner_init(&lr, &cfg, T0, NULL, NULL), 0);
	log_file = test_memopen(logbuf, sizeof(logbuf));
	for (rung = 0; rung < lr.learn.ladder.count; rung++) {
		enum engine_learned r;

		ev = outcome(NAME, rung_of(&lr, NAME, NULL, 0), ENGINE_OUTCOME_SILENT);
		r = learner_outcome(&lr, &ev);
		moves += r == ENGINE_LEARN_MOVED;
		if (rung + 1 == lr.learn.ladder.count)
			CHECK_EQ(r, ENGINE_LEARN_GAVE_UP);
	}
	CHECK_EQ(moves, lr.learn.ladder.count - 1);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), -2);       /* pass unsplit */
	ev = outcome(NAME, 0, ENGINE_OUTCOME_RESET);
	CHECK_EQ(learner_outcome(&lr, &ev), ENGINE_LEARN_IGNORED);
	test_memclose(log_file);
	log_file = NULL;
	CHECK_EQ(count_of(logbuf, "no split gets through to www.blocked.example"), 1);
	learner_tick(&lr, 10, 1);
	CHECK(file_has(path, "site blocked.example - gave-up"));
	learner_free(&lr);
	/* tried again after the expiry */
	CHECK_EQ(learner_init(&lr, &cfg, T0 + LEARN_GAVE_UP_S + 1, NULL, NULL), 0);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 0);
	learner_free(&lr);
}

static void learn_pins_observe(const char *path)
{
	struct config cfg;
	struct learner lr;
	struct engine_outcome_event ev;
	char cuts[64], err[160];

	config_defaults(&cfg);
	cfg.state_path = path;
	cfg.pins = "blocked.example=1,sniend; pinned.example=sni+1";
	unlink(path);
	CHECK_EQ(learner_init(&lr, &cfg, T0, NULL, NULL), 0);
	CHECK_EQ(rung_of(&lr, NAME, cuts, sizeof(cuts)), -1);   /* the user's: never reported */
	CHECK(!strcmp(cuts, "1,sniend"));
	CHECK(strstr(lr.why, "pinned") != NULL);
	CHECK_EQ(rung_of(&lr, "a.pinned.example", cuts, sizeof(cuts)), -1);
	CHECK(!strcmp(cuts, "sni+1"));
	learner_free(&lr);
	/* --observe: outcomes are logged, nothing moves */
	cfg.pins = NULL;
	cfg.engine.observe = 1;
	CHECK_EQ(learner_init(&lr, &cfg, T0, NULL, NULL), 0);
	ev = outcome(NAME, 0, ENGINE_OUTCOME_RESET);
	CHECK_EQ(learner_outcome(&lr, &ev), ENGINE_LEARN_IGNORED);
	CHECK_EQ(rung_of(&lr, NAME, NULL, 0), 0);
	CHECK_EQ(lr.learn.nlearned, 0);
	learner_free(&lr);
	/* the --pin syntax */
	CHECK_EQ(learn_parse_pins("a.example=5;b.example=1,midsld c.example=sniend-1", NULL, err, sizeof(err)), 0);
	CHECK_EQ(learn_parse_pins("example.com", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "DOMAIN=SPLIT-AT") != NULL);
	CHECK_EQ(learn_parse_pins("=5", NULL, err, sizeof(err)), -1);
	CHECK_EQ(learn_parse_pins("bad..name=5", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "no domain name") != NULL);
	CHECK_EQ(learn_parse_pins("x.example=zz", NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "x.example=zz") != NULL);
	CHECK_EQ(learn_parse_pins(" ; ", NULL, err, sizeof(err)), -1);
}

void test_learner(void)
{
	char path[] = "/tmp/hellosplit-test-learner-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	learn_save_restart(path);
	learn_damaged_file(path);
	learn_gives_up(path);
	learn_pins_observe(path);
	unlink(path);
}
