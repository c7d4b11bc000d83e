/* test_learned.c — the state file on disk (atomic replace, a stale or
 * planted temporary file, errors leave it unchanged) and `hellosplit
 * learned`: list, forget, clear, and its errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learned.h"
#include "test.h"

void test_learned(void);

struct text_producer {
	const char *text;
	int err;
};

static int produce_text(void *ctx, learn_write_fn write, void *write_ctx)
{
	const struct text_producer *p = ctx;
	int rc = write(write_ctx, p->text, strlen(p->text));

	return rc ? rc : p->err;
}

static int file_is(const char *path, const char *want)
{
	char *text;
	size_t len;
	int same;

	if (learned_read(path, &text, &len))
		return 0;
	same = len == strlen(want) && !memcmp(text, want, len);
	free(text);
	return same;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void files(const char *path)
{
	char tmp[512], victim[512];
	struct text_producer p = {"first\n", 0};
	char *text;
	size_t len;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s.victim", path);
	CHECK_EQ(learned_write(path, produce_text, &p), 0);
	CHECK(file_is(path, "first\n"));
	CHECK(access(tmp, F_OK) != 0);
#ifndef _WIN32
	{
		struct stat st;

		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);   /* the sites one visits are private */
	}
#endif
	/* A producer's error: the file stays as it was, no temporary left. */
	p.text = "half";
	p.err = -EIO;
	CHECK_EQ(learned_write(path, produce_text, &p), -EIO);
	CHECK(file_is(path, "first\n"));
	CHECK(access(tmp, F_OK) != 0);
	/* A temporary file left by a writer that died is replaced. */
	write_file(tmp, "stale");
	p.text = "second\n";
	p.err = 0;
	CHECK_EQ(learned_write(path, produce_text, &p), 0);
	CHECK(file_is(path, "second\n"));
#ifndef _WIN32
	/* A link planted as the temporary file is never written through. */
	write_file(victim, "victim\n");
	CHECK_EQ(symlink(victim, tmp), 0);
	p.text = "third\n";
	CHECK_EQ(learned_write(path, produce_text, &p), 0);
	CHECK(file_is(path, "third\n"));
	CHECK(file_is(victim, "victim\n"));
	unlink(victim);
#endif
	/* No folder: an error, nothing written. */
	CHECK_EQ(learned_write("/nonexistent-hellosplit-dir/learned", produce_text, &p), -ENOENT);
	CHECK_EQ(learned_read("/nonexistent-hellosplit-dir/learned", &text, &len), -ENOENT);
	CHECK(text == NULL && len == 0);
	/* Too large to be a state file. */
	f = fopen(tmp, "wb");
	if (f) {
		fseek(f, LEARNED_FILE_MAX, SEEK_SET);
		fputc('x', f);
		fclose(f);
	}
	CHECK_EQ(learned_read(tmp, &text, &len), -EFBIG);
	unlink(tmp);
}

/* Runs `hellosplit learned ARGS...`; its stdout and stderr in out and err. */
static int run(char *out, size_t outlen, char *err, size_t errlen, ...)
{
	char *argv[8];
	int argc = 0, rc;
	FILE *o, *e;
	va_list ap;

	out[0] = err[0] = 0;         /* a stream nothing is written to leaves its buffer alone */
	o = test_memopen(out, outlen);
	e = test_memopen(err, errlen);

	argv[argc++] = "learned";
	va_start(ap, errlen);
	while (argc < 7 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	rc = learned_main(argc, argv, o, e);
	test_memclose(o);
	test_memclose(e);
	return rc;
}

static void command(const char *path)
{
	char out[4096], err[4096], p[512];
	uint64_t now = (uint64_t)time(NULL);
	char text[2048];

	snprintf(p, sizeof(p), "%s", path);
	snprintf(text, sizeof(text),
		 "hellosplit-learned 1\n"
		 "site blocked.example midsld works %llu %llu 3 reset\n"
		 "name odd.blocked.example 1,midsld trying %llu %llu 0 fin\n"
		 "site bad line\n"
		 "name www.other.example 1 works %llu %llu 1 silent\n"
		 "site nothing.example - gave-up %llu %llu 0 reset\n",
		 (unsigned long long)now - 7200, (unsigned long long)now + 600000, (unsigned long long)now - 60,
		 (unsigned long long)now + 600000, (unsigned long long)now - 60, (unsigned long long)now + 600000,
		 (unsigned long long)now - 60, (unsigned long long)now + 20000);
	write_file(p, text);

	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, NULL), 0);
	CHECK(strstr(out, "site  blocked.example") && strstr(out, "midsld") && strstr(out, "2h00m ago"));
	CHECK(strstr(out, "name  odd.blocked.example") && strstr(out, "(unsplit)"));
	CHECK(strstr(out, "4 entries.") != NULL);
	CHECK(strstr(err, ": line 4: 3 fields, want 8") && strstr(err, "that line is skipped"));
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "list", NULL), 0);
	CHECK(strstr(out, "4 entries.") != NULL);

	/* forget: the name's own entry, its site's and those under it. */
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "forget", "WWW.Blocked.Example", NULL), 0);
	CHECK(strstr(out, "Forgot 1 entry of") != NULL);
	CHECK(strstr(err, "that line is dropped when the file is written") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "list", NULL), 0);
	CHECK(!strstr(out, "site  blocked.example") && strstr(out, "odd.blocked.example") && strstr(out, "3 entries."));
	CHECK_EQ(err[0], 0);                        /* the bad line is gone */
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "forget", "blocked.example", NULL), 0);
	CHECK(strstr(out, "Forgot 1 entry") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "forget", "blocked.example", NULL), 1);
	CHECK(strstr(err, "nothing learned for blocked.example in") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "forget", "bad name", NULL), 2);
	CHECK(strstr(err, "'bad name' is not a host name") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "forget", NULL), 2);
	CHECK(strstr(err, "forget needs a NAME") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state=", NULL), 2);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", NULL), 2);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "list", "clear", NULL), 2);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "lisst", NULL), 2);
	CHECK(strstr(err, "unknown command 'lisst'") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--frob", NULL), 2);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--help", NULL), 0);
	CHECK(strstr(out, "Usage: hellosplit learned [--state FILE] [list | forget NAME | clear]") != NULL);
	CHECK(strstr(out, learned_default_path()) != NULL);

	/* clear keeps a valid, empty file. */
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "clear", NULL), 0);
	CHECK(strstr(out, "Forgot 2 entries") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, NULL), 0);
	CHECK(strstr(out, "Nothing learned in") != NULL);
	CHECK_EQ(err[0], 0);

	/* Another version's file is left alone. */
	write_file(p, "hellosplit-learned 9\nsite a.example midsld works 1 2 0 reset\n");
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "clear", NULL), 1);
	CHECK(strstr(err, "state version 9") && strstr(err, "is left as it is"));
	CHECK(file_is(p, "hellosplit-learned 9\nsite a.example midsld works 1 2 0 reset\n"));

	/* A missing file. */
	unlink(p);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, NULL), 1);
	CHECK(strstr(err, "does not exist") != NULL);
	CHECK_EQ(run(out, sizeof(out), err, sizeof(err), "--state", p, "clear", NULL), 1);
}

/* The daemon's way: learn_save into the file, read back, learn_load. */
struct save_ctx {
	const struct learn *l;
	uint64_t now;
};

static int produce_learned(void *ctx, learn_write_fn write, void *write_ctx)
{
	const struct save_ctx *c = ctx;

	return learn_save(c->l, c->now, write, write_ctx);
}

static void ignore_warning(void *ctx, unsigned line, const char *why)
{
	(void)line;
	(void)why;
	(*(int *)ctx)++;
}

static void daemon_round_trip(const char *path)
{
	struct ladder ladder;
	struct learn a, b;
	struct save_ctx c;
	struct learn_answer ans;
	char *text;
	size_t len;
	int warnings = 0;

	CHECK_EQ(ladder_build(&ladder, NULL), 0);
	CHECK_EQ(learn_init(&a, &ladder, 16, 1), 0);
	CHECK_EQ(learn_init(&b, &ladder, 16, 2), 0);
	learn_fail(&a, (const uint8_t *)"www.blocked.example", 19, 0, LEARN_FAIL_RESET, 1764745200);
	c.l = &a;
	c.now = 1764745200;
	CHECK_EQ(learned_write(path, produce_learned, &c), 0);
	CHECK_EQ(learned_read(path, &text, &len), 0);
	CHECK_EQ(learn_load(&b, text, len, 1764745300, ignore_warning, &warnings), 1);
	CHECK_EQ(warnings, 0);
	learn_lookup(&b, (const uint8_t *)"img.blocked.example", 19, 1764745300, &ans);
	CHECK_EQ(ans.rung, 1);
	free(text);
	learn_free(&a);
	learn_free(&b);
	unlink(path);
}

void test_learned(void)
{
	char path[] = "/tmp/hellosplit-test-learned-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	files(path);
	command(path);
	daemon_round_trip(path);
	unlink(path);
}
