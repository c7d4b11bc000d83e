/* test_tc.c — the tc engine's pure decisions (tc-plan.c): which options it
 * refuses, which interfaces it attaches to and with which program, the
 * program's configuration and its counters. */
#include <stdio.h>
#include <string.h>

#include "tc-plan.h"
#include "test.h"

void test_tc(void);

static void refusals(void)
{
	struct config c;
	const char *r;

	config_defaults(&c);
	CHECK(tc_plan_refusal(&c) == NULL);            /* the defaults: served */
	c.engine.mode = SPLIT_MODE_IMMEDIATE;
	c.engine.observe = 1;
	c.verbose = 2;
	CHECK(tc_plan_refusal(&c) == NULL);            /* immediate, --observe, -vv: served */

	config_defaults(&c);
	c.hostlist = "hosts.txt";
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--hostlist"));
	config_defaults(&c);
	c.hostlist_exclude = "never.txt";
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--hostlist-exclude"));
	config_defaults(&c);
	c.engine.complete = TLS_COMPLETE_HANDSHAKE;
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--tls-complete handshake"));
	config_defaults(&c);
	c.engine.mss = 1200;
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--mss"));
	config_defaults(&c);
	c.rules = RULES_NONE;
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--rules none"));
	config_defaults(&c);
	c.pins = "example.com=sni";
	r = tc_plan_refusal(&c);
	CHECK(r && !strcmp(r, "--pin"));
	config_defaults(&c);
	c.learn = 1;                                    /* on by default: served with learning off */
	CHECK(tc_plan_refusal(&c) == NULL);
}

static void interfaces(void)
{
	struct config c;

	config_defaults(&c);
	/* link types: Ethernet gets the L2 program, PPP, tun, WireGuard (none) and tunnels the L3 one */
	CHECK_EQ(tc_plan_iface(&c, "eth0", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_L2);
	CHECK_EQ(tc_plan_iface(&c, "eth0", TC_ARPHRD_ETHER, 0), TC_IFACE_L2);     /* down: attached for when it comes up */
	CHECK_EQ(tc_plan_iface(&c, "ppp0", TC_ARPHRD_PPP, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "wg0", TC_ARPHRD_NONE, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "tun0", TC_ARPHRD_NONE, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "rmnet0", TC_ARPHRD_RAWIP, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "sit1", TC_ARPHRD_SIT, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "gre1", TC_ARPHRD_IPGRE, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "ipip1", TC_ARPHRD_TUNNEL, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "ip6tnl1", TC_ARPHRD_TUNNEL6, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "wlan0mon", 803, TC_IFF_UP), TC_IFACE_SKIP);   /* radiotap: not served */
	CHECK_EQ(tc_plan_iface(&c, "can0", 280, TC_IFF_UP), TC_IFACE_SKIP);
	/* loopback: left alone by default (--exclude-loopback), else Ethernet-framed */
	CHECK_EQ(tc_plan_iface(&c, "lo", TC_ARPHRD_LOOPBACK, TC_IFF_UP | TC_IFF_LOOPBACK), TC_IFACE_SKIP);
	c.exclude_loopback = 0;
	CHECK_EQ(tc_plan_iface(&c, "lo", TC_ARPHRD_LOOPBACK, TC_IFF_UP | TC_IFF_LOOPBACK), TC_IFACE_L2);
	/* --iface: only those (lo too when named); --exclude-iface: all but those */
	config_defaults(&c);
	snprintf(c.iface, sizeof(c.iface), "wan0,ppp0,lo");
	CHECK_EQ(tc_plan_iface(&c, "wan0", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_L2);
	CHECK_EQ(tc_plan_iface(&c, "ppp0", TC_ARPHRD_PPP, TC_IFF_UP), TC_IFACE_L3);
	CHECK_EQ(tc_plan_iface(&c, "lan0", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_SKIP);
	CHECK_EQ(tc_plan_iface(&c, "wan", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_SKIP);    /* a prefix is not a name */
	CHECK_EQ(tc_plan_iface(&c, "wan00", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_SKIP);
	CHECK_EQ(tc_plan_iface(&c, "lo", TC_ARPHRD_LOOPBACK, TC_IFF_UP | TC_IFF_LOOPBACK), TC_IFACE_L2);
	config_defaults(&c);
	snprintf(c.exclude_iface, sizeof(c.exclude_iface), "docker0,wg0");
	CHECK_EQ(tc_plan_iface(&c, "wg0", TC_ARPHRD_NONE, TC_IFF_UP), TC_IFACE_SKIP);
	CHECK_EQ(tc_plan_iface(&c, "docker0", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_SKIP);
	CHECK_EQ(tc_plan_iface(&c, "eth0", TC_ARPHRD_ETHER, TC_IFF_UP), TC_IFACE_L2);
	CHECK(!strcmp(tc_plan_link_name(TC_ARPHRD_ETHER), "Ethernet"));
	CHECK(!strcmp(tc_plan_link_name(TC_ARPHRD_PPP), "PPP"));
	CHECK(!strcmp(tc_plan_link_name(TC_ARPHRD_NONE), "none (tun, WireGuard)"));
	CHECK(!strcmp(tc_plan_link_name(4242), "other"));
}

static void program_config(void)
{
	struct config c;
	struct tc_config t;
	char err[100];

	config_defaults(&c);
	tc_plan_config(&c, &t);
	CHECK_EQ(t.npos, 1);                    /* the default split: 5 */
	CHECK_EQ(t.pos[0].marker, TC_POS_ABS);
	CHECK_EQ(t.pos[0].delta, 5);
	CHECK_EQ(t.ports[443 / 8], 1u << (443 % 8));
	CHECK_EQ(t.ports[8443 / 8], 0);
	CHECK_EQ(t.clone_mark, c.fwmark);
	CHECK_EQ(t.immediate, 0);
	CHECK_EQ(t.observe, 0);
	CHECK_EQ(t.events, 0);
	CHECK(t.max_fails > 0);

	CHECK_EQ(split_spec_parse(&c.engine.positions, "1,sni+2,midsld,sniend-1", err, sizeof(err)), 0);
	CHECK_EQ(config_parse_ports(c.engine.ports, "443,8443"), 0);
	c.engine.observe = 1;
	c.verbose = 1;
	c.engine.mode = SPLIT_MODE_IMMEDIATE;
	c.fwmark = 0x100;
	tc_plan_config(&c, &t);
	CHECK_EQ(t.npos, 4);
	CHECK_EQ(t.pos[0].marker, TC_POS_ABS);
	CHECK_EQ(t.pos[0].delta, 1);
	CHECK_EQ(t.pos[1].marker, TC_POS_SNI);
	CHECK_EQ(t.pos[1].delta, 2);
	CHECK_EQ(t.pos[2].marker, TC_POS_MIDSLD);
	CHECK_EQ(t.pos[3].marker, TC_POS_SNIEND);
	CHECK_EQ(t.pos[3].delta, -1);
	CHECK_EQ(t.ports[8443 / 8], 1u << (8443 % 8));
	CHECK_EQ(t.clone_mark, 0x100);
	CHECK_EQ(t.immediate, 1);
	CHECK_EQ(t.observe, 1);
	CHECK_EQ(t.events, 1);
	/* the markers are split.h's numbers */
	CHECK_EQ(TC_POS_SNI, SPLIT_SNI);
	CHECK_EQ(TC_POS_SNIEND, SPLIT_SNIEND);
	CHECK_EQ(TC_POS_MIDSLD, SPLIT_MIDSLD);
	CHECK_EQ(TC_MAX_POSITIONS, SPLIT_MAX_POSITIONS);
}

static void counters(void)
{
	uint64_t c[TC_C_COUNT];
	struct stats s;
	int i;

	for (i = 0; i < TC_C_COUNT; i++)
		c[i] = 100u + (uint64_t)i;
	tc_plan_stats(c, &s);
	CHECK_EQ(s.packets, 100u + TC_C_PACKETS);
	CHECK_EQ(s.flows, 100u + TC_C_FLOWS);
	CHECK_EQ(s.flows_split, 100u + TC_C_SPLIT);
	CHECK_EQ(s.segments_emitted, 100u + TC_C_SEGMENTS);
	CHECK_EQ(s.resplit_retransmits, 100u + TC_C_RESPLIT);
	CHECK_EQ(s.failopen_not_tls, 100u + TC_C_NOT_TLS);
	CHECK_EQ(s.failopen_error, 200u + TC_C_ERROR + TC_C_FIN);
	CHECK_EQ(s.failopen_emit, 100u + TC_C_EMIT);
	CHECK_EQ(s.failopen_overflow, 100u + TC_C_TOO_BIG);
	CHECK_EQ(s.pass_malformed, 100u + TC_C_MALFORMED);
	CHECK_EQ(s.pass_fragment, 100u + TC_C_FRAGMENT);
	CHECK_EQ(s.pass_ipv6_ext, 100u + TC_C_IPV6_EXT);
	CHECK_EQ(s.failopen_timeout, 0);        /* nothing is held in the kernel */
	CHECK_EQ(s.held_bytes, 0);
}

void test_tc(void)
{
	refusals();
	interfaces();
	program_config();
	counters();
}
