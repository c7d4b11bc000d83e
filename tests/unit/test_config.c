/* test_config.c — flags, values, errors, --config files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

void test_config(void);

static char errbuf[4096];

static enum config_result parse(struct config *c, const char *line)
{
	char copy[1024], *argv[64];
	int argc = 0;
	char *tok, *save = NULL;
	FILE *out = fopen(TEST_NULL_DEVICE, "w"), *err = test_memopen(errbuf, sizeof(errbuf));
	enum config_result r;

	snprintf(copy, sizeof(copy), "%s", line);
	argv[argc++] = "hellosplit";
	for (tok = strtok_r(copy, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	config_defaults(c);
	memset(errbuf, 0, sizeof(errbuf));
	r = config_parse(c, argc, argv, out, err);
	fclose(out);
	test_memclose(err);
	return r;
}

static void defaults_and_values(void)
{
	struct config c;

	CHECK_EQ(parse(&c, ""), CONFIG_RUN);
	CHECK_EQ(c.engine.collect_timeout_ms, 250);
	CHECK_EQ(c.engine.max_buffer, 65536);
	CHECK_EQ(c.engine.max_held_pkts, 32);
	CHECK_EQ(c.engine.max_flows, 65536);
	CHECK_EQ(c.engine.max_held_bytes, 33554432);
	CHECK_EQ(c.engine.positions.count, 1);
	CHECK_EQ(c.engine.positions.pos[0].delta, 5);
	CHECK_EQ(c.engine.ports[443 / 8] >> (443 % 8) & 1, 1);
	CHECK_EQ(c.queue_num, 200);
	CHECK_EQ(c.fwmark, 0x40000000u);
	CHECK_EQ(c.exclude_loopback, 1);

	CHECK_EQ(parse(&c, "--collect-timeout 100 --max-buffer=4096 --split-at sni+1,5 --ports 443,8443,9000-9002"),
		 CONFIG_RUN);
	CHECK_EQ(c.engine.collect_timeout_ms, 100);
	CHECK_EQ(c.engine.max_buffer, 4096);
	CHECK_EQ(c.engine.positions.count, 2);
	CHECK_EQ(c.engine.ports[8443 / 8] >> (8443 % 8) & 1, 1);
	CHECK_EQ(c.engine.ports[9001 / 8] >> (9001 % 8) & 1, 1);
	CHECK_EQ(c.engine.ports[9003 / 8] >> (9003 % 8) & 1, 0);
	if (PLATFORM_THIS == PLATFORM_WINDOWS) {
		CHECK_EQ(parse(&c, "--no-exclude-loopback --queue-len 100 -vv"), CONFIG_RUN);
		CHECK_EQ(c.queue_len, 100);
	} else {
		CHECK_EQ(parse(&c, "--no-exclude-loopback --fwmark 0x100 -vv"), CONFIG_RUN);
		CHECK_EQ(c.fwmark, 0x100);
	}
	CHECK_EQ(c.exclude_loopback, 0);
	CHECK_EQ(c.verbose, 2);
	CHECK_EQ(parse(&c, "--split-chunk 2 --split-mode immediate --tls-complete handshake"), CONFIG_RUN);
	CHECK_EQ(c.engine.positions.pos[0].delta, 2);
	CHECK_EQ(c.engine.mode, SPLIT_MODE_IMMEDIATE);
	CHECK_EQ(c.engine.complete, TLS_COMPLETE_HANDSHAKE);
	CHECK_EQ(parse(&c, "--help"), CONFIG_EXIT_OK);
	CHECK_EQ(parse(&c, "--version"), CONFIG_EXIT_OK);
}

/* Counts are decimal whatever they start with; marks also take 0x hex. The
 * value checked is the value used. */
static void numbers_are_decimal(void)
{
	struct config c;

	CHECK_EQ(parse(&c, "--split-chunk 010"), CONFIG_RUN);
	CHECK_EQ(c.engine.positions.count, 1);
	CHECK_EQ(c.engine.positions.pos[0].delta, 10);
	CHECK_EQ(parse(&c, "--split-chunk 00000005"), CONFIG_RUN);     /* 8 digits, the same 5 */
	CHECK_EQ(c.engine.positions.pos[0].delta, 5);
	CHECK_EQ(parse(&c, "--collect-timeout 010 --max-held-pkts 09"), CONFIG_RUN);
	CHECK_EQ(c.engine.collect_timeout_ms, 10);
	CHECK_EQ(c.engine.max_held_pkts, 9);
	CHECK_EQ(parse(&c, "--split-chunk 0x10"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--collect-timeout 0x10"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--max-held-bytes 0x100000"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--max-flows +100"), CONFIG_USAGE);
	if (PLATFORM_THIS != PLATFORM_LINUX)
		return;
	CHECK_EQ(parse(&c, "--fwmark 0x10 --done-mark 0X20"), CONFIG_RUN);
	CHECK_EQ(c.fwmark, 0x10);
	CHECK_EQ(c.done_mark, 0x20);
	CHECK_EQ(parse(&c, "--fwmark 010"), CONFIG_RUN);
	CHECK_EQ(c.fwmark, 10);
	CHECK_EQ(parse(&c, "--fwmark 0x"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--fwmark 0x0x10"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--fwmark 0x1g"), CONFIG_USAGE);
	CHECK_EQ(parse(&c, "--fwmark 0x100000000"), CONFIG_USAGE);
	CHECK(strstr(errbuf, "--fwmark: '0x100000000' is not a mark in 0x1..0xffffffff") != NULL);
}

/* Every start draws a new secret key for the flow table's hash. */
static void flow_hash_key_is_random(void)
{
	struct config c1, c2;

	CHECK_EQ(parse(&c1, ""), CONFIG_RUN);
	CHECK_EQ(parse(&c2, "--max-flows 1000"), CONFIG_RUN);
	CHECK(c1.engine.hash_key[0] || c1.engine.hash_key[1]);
	CHECK(c1.engine.hash_key[0] != c2.engine.hash_key[0] || c1.engine.hash_key[1] != c2.engine.hash_key[1]);
	CHECK_EQ(errbuf[0], 0);
}

/* One bad command line: usage error, one line naming the problem. */
static void error_case(const char *args, const char *message)
{
	struct config c;
	int ok = parse(&c, args) == CONFIG_USAGE && strstr(errbuf, message) && !strncmp(errbuf, "hellosplit: ", 12) &&
		 strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1;

	if (!ok)
		fprintf(stderr, "config case '%s' gave: %s\n", args, errbuf);
	CHECK(ok);
}

static void errors(void)
{
	static const struct {
		const char *args, *message;
	} cases[] = {
		{"--collect-timeout 0", "--collect-timeout: '0' is not a number in 1..60000"},
		{"--collect-timeout abc", "--collect-timeout"},
		{"--collect-timeout", "--collect-timeout needs a value"},
		{"--max-buffer 100", "256..1048576"},
		{"--max-held-pkts 65", "1..64"},
		{"--max-flows -1", "--max-flows"},
		{"--split-at 5,x", "bad position 'x'"},
		{"--split-chunk 0", "1..1048576"},
		{"--split-chunk 0x10", "'0x10' is not a number in 1..1048576"},
		{"--split-chunk 5 --split-at 7", "use one"},
		{"--split-mode fast", "tls-hello, immediate"},
		{"--tls-complete all", "record, handshake"},
		{"--ports 0", "ports"},
		{"--ports 443,", "ports"},
		{"--ports 70000", "ports"},
		{"--ports 10-5", "ports"},
		{"--divert-port 8000", "FreeBSD option"},
		{"--pcap-in x", "go together"},
		{"--frobnicate", "unknown option '--frobnicate'"},
		{"stray", "unknown argument 'stray'"},
		{"-x", "unknown option '-x'"},
		{"--observe=1", "takes no value"},
		{"--config /nonexistent/file", "cannot open '/nonexistent/file'"},
	};
	static const struct {
		const char *args, *message;
		unsigned platforms;     /* the builds whose options make this an error */
	} platform_cases[] = {
		{"--rules pf", "iptables, nftables, none", PLATFORM_LINUX},
		{"--fwmark 0x1 --done-mark 0x3", "share bits", PLATFORM_LINUX},
		{"--iface eth0/1", "not an interface name", PLATFORM_LINUX},
		{"--iface eth0 --exclude-iface eth1", "use one", PLATFORM_LINUX},
		{"--engine nfqueue --tc-hook tcx", "--engine nfqueue has no use for it", PLATFORM_LINUX},
		{"--tc-hook qdisc", "auto, tcx, clsact", PLATFORM_LINUX},
		{"--user ro;ot", "not a user name", PLATFORM_LINUX},
		{"--queue-len 10", "Windows option", PLATFORM_LINUX | PLATFORM_BSD},
		{"--queue-len 10", "not a number in 32..16384", PLATFORM_WINDOWS},
		{"--exclude-ifidx 7.x", "IfIdx.SubIfIdx", PLATFORM_WINDOWS},
		{"--fwmark 1", "Linux option", PLATFORM_WINDOWS},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		error_case(cases[i].args, cases[i].message);
	for (i = 0; i < sizeof(platform_cases) / sizeof(platform_cases[0]); i++)
		if (platform_cases[i].platforms & PLATFORM_THIS)
			error_case(platform_cases[i].args, platform_cases[i].message);
}

static void config_file(void)
{
	char path[] = "/tmp/hellosplit-test-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct config c;
	char line[256];

	fprintf(f, "# a comment\n\nsplit-at 5,midsld   # trailing comment\ncollect-timeout 400\nno-exclude-loopback\n"
		   "max-flows 1000\n");
	fclose(f);
	snprintf(line, sizeof(line), "--config %s --collect-timeout 300", path);
	CHECK_EQ(parse(&c, line), CONFIG_RUN);
	CHECK_EQ(c.engine.positions.count, 2);
	CHECK_EQ(c.engine.collect_timeout_ms, 300);   /* the command line wins */
	CHECK_EQ(c.exclude_loopback, 0);
	CHECK_EQ(c.engine.max_flows, 1000);
	f = fopen(path, "w");
	fprintf(f, "collect-timeout 400\nbogus-option 1\nmax-buffer 1\n");
	fclose(f);
	snprintf(line, sizeof(line), "--config=%s", path);
	CHECK_EQ(parse(&c, line), CONFIG_USAGE);
	CHECK(strstr(errbuf, ":2: unknown option 'bogus-option'") != NULL);
	CHECK(strstr(errbuf, ":3: --max-buffer") != NULL);
	unlink(path);
}

static void help_lists_this_platform(void)
{
	char buf[16384];
	FILE *f = test_memopen(buf, sizeof(buf));

	config_usage(f);
	test_memclose(f);
	CHECK(strstr(buf, "--split-at LIST") != NULL);
	CHECK((strstr(buf, "--queue-num N") != NULL) == (PLATFORM_THIS == PLATFORM_LINUX));
	CHECK((strstr(buf, "--queue-len") != NULL) == (PLATFORM_THIS == PLATFORM_WINDOWS));
	CHECK((strstr(buf, "Windows") != NULL) == (PLATFORM_THIS == PLATFORM_WINDOWS));
}

void test_config(void)
{
	defaults_and_values();
	numbers_are_decimal();
	flow_hash_key_is_random();
	errors();
	config_file();
	help_lists_this_platform();
}
