/* test_probe.c — `hellosplit probe` without a network: its command line, and
 * what it concludes (verdict, recommendation, exit code, JSON) from given
 * try results. The tries themselves run in tests/e2e/test_probe.sh. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "test.h"

void test_probe(void);

static struct probe_options opts;

/* Parses a NULL-terminated argument list (after "probe"); the number of
 * error lines printed goes to *lines. */
static enum probe_parse_result parse(int *lines, ...)
{
	char *argv[32], text[1024];
	FILE *err = tmpfile(), *out = tmpfile();
	enum probe_parse_result r;
	va_list ap;
	int argc = 0;
	size_t n;

	argv[argc++] = (char *)"probe";
	va_start(ap, lines);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	probe_options_free(&opts);
	r = probe_parse(&opts, argc, argv, out, err);
	rewind(err);
	n = fread(text, 1, sizeof(text) - 1, err);
	text[n] = 0;
	*lines = 0;
	for (n = 0; text[n]; n++)
		*lines += text[n] == '\n';
	fclose(err);
	fclose(out);
	return r;
}

static void command_line(void)
{
	int lines, i;
	/* unsplit, then the ladder (src/ladder.c) */
	static const char *const expected[] = {"unsplit", "5", "midsld", "1", "sni+1", "1,midsld",
					       "1,midsld,sniend-1"};

	CHECK_EQ(parse(&lines, "www.blocked.example", NULL), PROBE_PARSE_RUN);
	CHECK_EQ(opts.nhosts, 1);
	CHECK(!strcmp(opts.hosts[0], "www.blocked.example"));
	CHECK(opts.port == 443 && opts.tries == 3 && opts.concurrency == 4 && opts.timeout_ms == 4000);
	CHECK(opts.profile == CLIENTHELLO_CHROME && !opts.json && !opts.ip);
	CHECK_EQ(opts.ncandidates, 7);
	for (i = 0; i < opts.ncandidates && i < 7; i++)
		CHECK(!strcmp(opts.candidates[i].text, expected[i]));
	CHECK(opts.candidates[0].unsplit && !opts.candidates[1].unsplit);

	CHECK_EQ(parse(&lines, "a.example", "--ip=2001:db8::1", "--port", "8443", "--tries", "5", "--timeout", "100",
		       "--concurrency", "1", "--json", "--no-pq", "-v", "b.example", "a.example", NULL),
		 PROBE_PARSE_RUN);
	CHECK(opts.nhosts == 2 && !strcmp(opts.ip, "2001:db8::1") && opts.port == 8443 && opts.tries == 5);
	CHECK(opts.timeout_ms == 100 && opts.concurrency == 1 && opts.json && opts.verbose);
	CHECK(opts.profile == CLIENTHELLO_CLASSIC);

	/* --positions replaces the defaults, keeps unsplit, sorts by cut count,
	 * and drops repeats (also written differently: sni+0 is sni). */
	CHECK_EQ(parse(&lines, "x.example", "--positions", "sni+1,midsld; 5 midsld", "--positions", "5;sni+0;sni", NULL),
		 PROBE_PARSE_RUN);
	CHECK_EQ(opts.ncandidates, 5);
	if (opts.ncandidates == 5) {
		CHECK(!strcmp(opts.candidates[0].text, "unsplit"));
		CHECK(!strcmp(opts.candidates[1].text, "5"));
		CHECK(!strcmp(opts.candidates[2].text, "midsld"));
		CHECK(!strcmp(opts.candidates[3].text, "sni"));
		CHECK(!strcmp(opts.candidates[4].text, "sni+1,midsld"));
	}
	CHECK_EQ(parse(&lines, "--help", NULL), PROBE_PARSE_EXIT_OK);
}

static void usage_errors(void)
{
	int lines;

	CHECK_EQ(parse(&lines, NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	CHECK_EQ(parse(&lines, "x.example", "--tries", "0", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	CHECK_EQ(parse(&lines, "x.example", "--tries", "21", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--tries", "3x", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--tries", "-3", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--port", "0", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--concurrency", "65", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--ip", "www.example.com", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	CHECK_EQ(parse(&lines, "x.example", "--positions", "5;6;bogus", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	CHECK_EQ(parse(&lines, "x.example", "--positions", "", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--tries", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "--json=yes", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "x.example", "-x", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "https://x.example/", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	CHECK_EQ(parse(&lines, "198.18.2.2", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "a..example", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, ".example", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "--", "-x.example", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(parse(&lines, "--hosts", "/nonexistent/hosts", NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
}

static void hosts_file(void)
{
	char path[] = "/tmp/hellosplit-test-hosts-XXXXXX";
	int fd = mkstemp(path), lines;
	FILE *f;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	fprintf(f, "# hosts\n\n  a.example   b.example # two on a line\nc.example\r\na.example\n");
	fclose(f);
	CHECK_EQ(parse(&lines, "--hosts", path, "d.example", NULL), PROBE_PARSE_RUN);
	CHECK_EQ(opts.nhosts, 4);
	if (opts.nhosts == 4)
		CHECK(!strcmp(opts.hosts[0], "a.example") && !strcmp(opts.hosts[2], "c.example") &&
		      !strcmp(opts.hosts[3], "d.example"));
	f = fopen(path, "w");
	fprintf(f, "ok.example\nhttps://bad.example/\n");
	fclose(f);
	CHECK_EQ(parse(&lines, "--hosts", path, NULL), PROBE_PARSE_USAGE);
	CHECK_EQ(lines, 1);
	unlink(path);
}

/* A host with the default candidates and the given results: one character
 * per candidate, in order: 'y' always worked, 'n' always failed, 'p' partly,
 * 'c' connection failed, '?' inconclusive. */
static void make_host(struct probe_host *h, const char *name, const char *results, enum probe_outcome failure)
{
	int lines, i;

	parse(&lines, name, NULL);
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->ncandidates = opts.ncandidates;
	snprintf(h->address.text, sizeof(h->address.text), "198.18.2.2");
	h->address.port = 443;
	for (i = 0; i < opts.ncandidates; i++) {
		struct probe_candidate *c = &h->candidates[i];

		*c = opts.candidates[i];
		switch (results[i]) {
		case 'y':
			c->ok = 3;
			c->outcomes[PROBE_SERVER_HELLO] = 3;
			c->nanswers = 3;
			c->answer_us[0] = 3000;
			c->answer_us[1] = 1000;
			c->answer_us[2] = 2000;
			break;
		case 'p':
			c->ok = 1;
			c->failed = 2;
			c->outcomes[PROBE_SERVER_HELLO] = 1;
			c->outcomes[failure] = 2;
			break;
		case 'c':
			c->failed = 3;
			c->outcomes[PROBE_CONNECT_FAILED] = 3;
			break;
		case '?':
			c->inconclusive = 3;
			break;
		default:
			c->failed = 3;
			c->outcomes[failure] = 3;
		}
	}
	h->recommended = h->best = -1;
}

static void judging(void)
{
	struct probe_host h[2];

	/* candidates: unsplit 5 midsld 1 sni+1 1,midsld 1,midsld,sniend-1 */
	make_host(&h[0], "a.example", "yyyyyyy", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_NO_DPI);
	CHECK_EQ(h[0].recommended, -1);
	CHECK_EQ(probe_exit_code(h, 1), 0);

	make_host(&h[0], "a.example", "nyyyyyy", PROBE_RESET);       /* first-packet */
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_SPLIT_WORKS);
	CHECK(h[0].recommended >= 0 && !strcmp(h[0].candidates[h[0].recommended].text, "5"));
	CHECK_EQ(probe_exit_code(h, 1), 0);

	make_host(&h[0], "a.example", "nnynyyy", PROBE_RESET);       /* any-packet */
	probe_judge(&h[0]);
	CHECK(h[0].recommended >= 0 && !strcmp(h[0].candidates[h[0].recommended].text, "midsld"));

	make_host(&h[0], "a.example", "npnnnyy", PROBE_TIMEOUT);         /* a flaky 5 loses to 1,midsld */
	probe_judge(&h[0]);
	CHECK(h[0].recommended >= 0 && !strcmp(h[0].candidates[h[0].recommended].text, "1,midsld"));

	make_host(&h[0], "a.example", "nn?nnnn", PROBE_RESET);       /* inconclusive is not "worked" */
	probe_judge(&h[0]);
	CHECK(h[0].verdict != PROBE_SPLIT_WORKS);

	make_host(&h[0], "a.example", "pyyyyyy", PROBE_RESET);       /* unsplit sometimes blocked */
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_SPLIT_WORKS);

	make_host(&h[0], "a.example", "nnnppnn", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_PARTLY);
	CHECK(h[0].best >= 0 && !strcmp(h[0].candidates[h[0].best].text, "1"));
	CHECK_EQ(probe_exit_code(h, 1), 3);

	make_host(&h[0], "a.example", "nnnnnnn", PROBE_RESET);       /* before the control tries */
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_NAME_REASSEMBLED);
	h[0].control_run = 1;
	h[0].control.ok = 3;
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_NAME_REASSEMBLED);
	CHECK_EQ(probe_exit_code(h, 1), 3);
	h[0].control.ok = 0;
	h[0].control.failed = 3;
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_ADDRESS_BLOCKED);
	CHECK_EQ(probe_exit_code(h, 1), 3);

	make_host(&h[0], "a.example", "ccccccc", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_UNREACHABLE);
	CHECK(h[0].error[0] != 0);

	make_host(&h[0], "a.example", "???????", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_UNKNOWN);
	CHECK_EQ(probe_exit_code(h, 1), 3);

	h[0].verdict = PROBE_ERROR;                                          /* not probed: stays so */
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_ERROR);
	CHECK_EQ(probe_exit_code(h, 1), 1);
}

static void several_hosts(void)
{
	struct probe_host h[3];

	make_host(&h[0], "a.example", "nyyyyyy", PROBE_RESET);
	make_host(&h[1], "b.example", "nnynyyy", PROBE_RESET);
	make_host(&h[2], "c.example", "yyyyyyy", PROBE_RESET);
	probe_judge(&h[0]);
	probe_judge(&h[1]);
	probe_judge(&h[2]);
	CHECK_EQ(probe_recommend_all(h, 3), 2);                 /* midsld works for both with DPI */
	CHECK_EQ(probe_exit_code(h, 3), 0);
	make_host(&h[1], "b.example", "nnnnnyy", PROBE_RESET);
	probe_judge(&h[1]);
	CHECK_EQ(probe_recommend_all(h, 3), 5);                 /* 1,midsld */
	CHECK_EQ(probe_recommend_all(&h[2], 1), -1);            /* nobody needs a split */
	make_host(&h[1], "b.example", "nnnnnnn", PROBE_RESET);
	probe_judge(&h[1]);
	CHECK_EQ(probe_recommend_all(h, 3), 1);                 /* hosts nothing helps do not count */
	CHECK_EQ(probe_exit_code(h, 3), 3);
}

static void json_output(void)
{
	struct probe_host h[2];
	char text[16384], want[256];
	FILE *f = tmpfile();
	size_t n;

	make_host(&h[0], "a.example", "nnynyyy", PROBE_RESET);
	make_host(&h[1], "b.example", "yyyyyyy", PROBE_RESET);
	probe_judge(&h[0]);
	probe_judge(&h[1]);
	probe_print_json(f, &opts, h, 2);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	CHECK(strstr(text, "{\"hosts\":[") == text);
	CHECK(strstr(text, "\"host\":\"a.example\",\"address\":\"198.18.2.2\",\"port\":443,\"verdict\":\"split-works\","
			   "\"recommended\":\"midsld\"") != NULL);
	CHECK(strstr(text, "\"host\":\"b.example\",\"address\":\"198.18.2.2\",\"port\":443,\"verdict\":\"no-dpi\","
			   "\"recommended\":null") != NULL);
	CHECK(strstr(text, "{\"split_at\":\"5\",\"cuts\":[],\"ok\":0,\"failed\":3,\"inconclusive\":0,\"median_ms\":null,"
			   "\"outcomes\":{\"server-hello\":0,\"hello-retry\":0,\"alert\":0,\"other-record\":0,\"reset\":3,") !=
	      NULL);
	CHECK(strstr(text, "\"median_ms\":2.000") != NULL);     /* of 3, 1 and 2 ms */
	snprintf(want, sizeof(want), "\"recommended\":\"midsld\",\"command\":\"%s --split-at midsld\",\"exit_code\":0}",
		 probe_net_daemon_command());
	CHECK(strstr(text, want) != NULL);
}

/* Prints host h into text; returns it. */
static const char *print_text(struct probe_host *h, int nhosts)
{
	static char text[16384];
	FILE *f = tmpfile();
	size_t n;
	int k;

	for (k = 0; k < nhosts; k++)
		probe_print_host(f, &opts, &h[k]);
	if (nhosts > 1)
		probe_print_summary(f, h, nhosts);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return text;
}

static void text_output(void)
{
	struct probe_host h[2];
	const char *t;
	char want[512];

	make_host(&h[0], "a.example", "nnynyyy", PROBE_RESET);
	probe_judge(&h[0]);
	t = print_text(h, 1);
	CHECK(strstr(t, "  unsplit                -              \u2713" "0  \u2717" "3              -  reset 3\n") != NULL);
	CHECK(strstr(t, "  midsld                 -              \u2713" "3  \u2717" "0         2.0 ms  <- recommended\n") !=
	      NULL);
	snprintf(want, sizeof(want),
		 "DPI seen: the unsplit ClientHello was blocked 3 times of 3 (reset 3).\n"
		 "Recommended: --split-at midsld (the simplest that always worked)\n"
		 "Run the daemon with it: %s --split-at midsld\n", probe_net_daemon_command());
	CHECK(strstr(t, want) != NULL);

	make_host(&h[1], "b.example", "yyyyyyy", PROBE_RESET);
	probe_judge(&h[1]);
	t = print_text(h, 2);
	CHECK(strstr(t, "No DPI seen: the unsplit ClientHello was answered 3 times of 3.\n") != NULL);
	CHECK(strstr(t, "Summary\n") != NULL);
	CHECK(strstr(t, "Recommended for every host: --split-at midsld\n") != NULL);

	make_host(&h[0], "a.example", "pnnnnnn", PROBE_TIMEOUT);    /* split hellos dropped? */
	probe_judge(&h[0]);
	CHECK_EQ(h[0].verdict, PROBE_PARTLY);
	CHECK_EQ(h[0].best, -1);
	CHECK(strstr(print_text(h, 1), "a split one never did") != NULL);

	make_host(&h[0], "a.example", "nnnppnn", PROBE_TIMEOUT);
	probe_judge(&h[0]);
	CHECK(strstr(print_text(h, 1), "the best, --split-at 1, worked 1 of 3 tries") != NULL);

	make_host(&h[0], "a.example", "nnnnnnn", PROBE_RESET);
	h[0].control_run = 1;
	h[0].control.ok = 1;
	probe_judge(&h[0]);
	CHECK(strstr(print_text(h, 1), "reassembles the TCP stream") != NULL);
	h[0].control.ok = 0;
	h[0].control.failed = 1;
	probe_judge(&h[0]);
	CHECK(strstr(print_text(h, 1), "the address 198.18.2.2\nitself is blocked") != NULL);

	make_host(&h[0], "a.example", "ccccccc", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK(strstr(print_text(h, 1), "Nothing works: no TCP connection opens (198.18.2.2 port 443: every connection failed)") !=
	      NULL);
	make_host(&h[0], "a.example", "???????", PROBE_RESET);
	probe_judge(&h[0]);
	CHECK(strstr(print_text(h, 1), "every try was inconclusive") != NULL);
}

void test_probe(void)
{
	command_line();
	usage_errors();
	hosts_file();
	judging();
	several_hosts();
	json_output();
	text_output();
	probe_options_free(&opts);
}
