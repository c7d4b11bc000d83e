/* test_windivert_filter.c — the WinDivert filter built from the flags
 * (windivert-filter.c): ports and ranges, loopback, excluded interfaces,
 * --filter-extra, and each refusal with its message. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "test.h"
#include "windivert-filter.h"

void test_windivert_filter(void);

#define BASE "outbound and !loopback and (ip or ipv6) and "

static char out[8192], err[512];

static int build(const struct config *c, size_t n)
{
	out[0] = err[0] = 0;
	return windivert_filter(c, out, n, err, sizeof(err));
}

static int is(const char *want)
{
	if (strcmp(out, want))
		fprintf(stderr, "  filter: %s\n  wanted: %s\n", out, want);
	return !strcmp(out, want);
}

static void ports(void)
{
	struct config c;

	config_defaults(&c);
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0"));
	CHECK_EQ(config_parse_ports(c.engine.ports, "443,8443,9000-9010"), 0);
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "(tcp.DstPort == 443 or tcp.DstPort == 8443 or (tcp.DstPort >= 9000 and tcp.DstPort <= 9010)) "
		      "and tcp.PayloadLength > 0"));
	/* one range alone: no parentheses around the or-list */
	CHECK_EQ(config_parse_ports(c.engine.ports, "8000-8999"), 0);
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "(tcp.DstPort >= 8000 and tcp.DstPort <= 8999) and tcp.PayloadLength > 0"));
	CHECK_EQ(config_parse_ports(c.engine.ports, "1,65535"), 0);
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "(tcp.DstPort == 1 or tcp.DstPort == 65535) and tcp.PayloadLength > 0"));
}

static void refusals(void)
{
	char many[4096];
	struct config c;
	size_t k = 0;
	int p;

	config_defaults(&c);
	memset(c.engine.ports, 0, sizeof(c.engine.ports));
	CHECK_EQ(build(&c, sizeof(out)), -1);
	CHECK(!strcmp(err, "--ports: no port given"));

	/* 200 tests are taken, 201 are not (WinDivert: 256 in all) */
	for (p = 0; p < 200; p++)
		k += (size_t)snprintf(many + k, sizeof(many) - k, "%s%d", p ? "," : "", 1000 + 2 * p);
	CHECK_EQ(config_parse_ports(c.engine.ports, many), 0);
	CHECK_EQ(build(&c, sizeof(out)), 0);
	snprintf(many + k, sizeof(many) - k, ",%d", 5000);
	CHECK_EQ(config_parse_ports(c.engine.ports, many), 0);
	CHECK_EQ(build(&c, sizeof(out)), -1);
	CHECK(strstr(err, "--ports: the list needs 201 WinDivert filter tests, more than 200") != NULL);
	/* a range counts two */
	CHECK_EQ(config_parse_ports(c.engine.ports, "1-2,4-5"), 0);
	CHECK_EQ(build(&c, sizeof(out)), 0);

	/* too long for the buffer: said, with the length */
	config_defaults(&c);
	CHECK_EQ(build(&c, strlen(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0")), -1);
	snprintf(many, sizeof(many), "the WinDivert filter is longer than %zu characters",
		 strlen(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0") - 1);
	CHECK(strstr(err, many) == err);
	CHECK_EQ(build(&c, strlen(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0") + 1), 0);
}

static void interfaces_extra(void)
{
	struct config c;

	config_defaults(&c);
	c.exclude_loopback = 0;
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is("outbound and (ip or ipv6) and tcp.DstPort == 443 and tcp.PayloadLength > 0"));

	config_defaults(&c);
	snprintf(c.exclude_ifidx, sizeof(c.exclude_ifidx), "%s", "7");
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0 and ifIdx != 7"));
	/* IfIdx.SubIfIdx: != and or, as WinDivert 2.2 rejects "not (...)" */
	snprintf(c.exclude_ifidx, sizeof(c.exclude_ifidx), "%s", "12,7.1,7.0");
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0 and ifIdx != 12 and (ifIdx != 7 or subIfIdx != 1) "
		      "and (ifIdx != 7 or subIfIdx != 0)"));

	c.exclude_ifidx[0] = 0;
	c.filter_extra = "ip.DstAddr != 198.18.0.1";
	CHECK_EQ(build(&c, sizeof(out)), 0);
	CHECK(is(BASE "tcp.DstPort == 443 and tcp.PayloadLength > 0 and (ip.DstAddr != 198.18.0.1)"));
}

void test_windivert_filter(void)
{
	ports();
	refusals();
	interfaces_extra();
}
