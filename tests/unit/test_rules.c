/* test_rules.c — the Linux firewall rules as rules.c builds them: the
 * iptables argument lists and the nftables ruleset for each flag that
 * shapes them, the port groups, overflow, and the parsing of what the tools
 * print back. The config is set field by field (not parsed), so the tests
 * run in every build of the unit runner, Windows' too. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "rules.h"
#include "test.h"

void test_rules(void);

#define ALL_MATCHES (RULES_CONNBYTES | RULES_U32 | RULES_ANSWERED)

static struct rules_list list;
static char nft[16384];

static void base(struct config *c)
{
	config_defaults(c);
	c->learn = 0;
}

/* --ports with n separate ports: 1000, 1002, 1004, ... */
static int many_ports(struct config *c, int n)
{
	static char text[8192];
	size_t k = 0;
	int p;

	for (p = 0; p < n; p++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, "%s%d", p ? "," : "", 1000 + 2 * p);
	return config_parse_ports(c->engine.ports, text);
}

static void build(const struct config *c, int family, int matches)
{
	memset(&list, 0, sizeof(list));
	rules_iptables_build(&list, family == 6 ? "ip6tables" : "iptables", family, c, matches);
}

/* Command i as one line, the words joined by single spaces. */
static const char *line(int i)
{
	static char out[2048];
	size_t k = 0;
	int j;

	out[0] = 0;
	if (i < 0 || i >= list.count)
		return "(no such command)";
	for (j = 0; j < list.cmd[i].argc && k < sizeof(out); j++)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%s", j ? " " : "", list.cmd[i].argv[j]);
	return out;
}

/* How many commands contain a (and b, unless NULL). */
static int count(const char *a, const char *b)
{
	int i, n = 0;

	for (i = 0; i < list.count; i++)
		if (strstr(line(i), a) && (!b || strstr(line(i), b)))
			n++;
	return n;
}

/* The index of the first command containing s, or -1. */
static int find(const char *s)
{
	int i;

	for (i = 0; i < list.count; i++)
		if (strstr(line(i), s))
			return i;
	return -1;
}

static void argv_terminated(void)
{
	int i, ok = 1;

	for (i = 0; i < list.count; i++)
		if (list.cmd[i].argv[list.cmd[i].argc] != NULL || list.cmd[i].argc > RULES_MAX_ARGS)
			ok = 0;
	CHECK(ok);
}

static void defaults_v4(void)
{
	static const char *const want[] = {
		"iptables -w 10 -t mangle -N HELLOSPLIT",
		"iptables -w 10 -t mangle -A HELLOSPLIT -m mark --mark 0x40000000/0x40000000 -j RETURN",
		"iptables -w 10 -t mangle -A HELLOSPLIT -m mark --mark 0x20000000/0x20000000 -j CONNMARK --set-xmark "
		"0x20000000/0x20000000",
		"iptables -w 10 -t mangle -A HELLOSPLIT -m connmark --mark 0x20000000/0x20000000 -j RETURN",
		"iptables -w 10 -t mangle -A HELLOSPLIT -o lo -j RETURN",
		"iptables -w 10 -t mangle -A HELLOSPLIT -m owner --socket-exists -m connbytes --connbytes 101: "
		"--connbytes-dir reply --connbytes-mode avgpkt -j RETURN",
		"iptables -w 10 -t mangle -A HELLOSPLIT -p tcp ! --syn -m multiport --dports 443 -m connbytes "
		"--connbytes 3:98 --connbytes-dir original --connbytes-mode packets -m u32 --u32 "
		"0>>22&0x3C@12>>26&0x3C@0>>0=0:0xffffffff -j NFQUEUE --queue-num 200 --queue-bypass",
		"iptables -w 10 -t mangle -A HELLOSPLIT -p tcp ! --syn -m multiport --dports 443 -m connbytes "
		"--connbytes 3:98 --connbytes-dir original --connbytes-mode packets -m u32 --u32 0&0x3=1:3 -j NFQUEUE "
		"--queue-num 200 --queue-bypass",
		"iptables -w 10 -t mangle -I POSTROUTING 1 -p tcp -m multiport --dports 443 -m connmark ! --mark "
		"0x20000000/0x20000000 -j HELLOSPLIT",
	};
	struct config c;
	size_t i;

	base(&c);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(list.overflow, 0);
	CHECK_EQ(list.count, (int)(sizeof(want) / sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK(!strcmp(line((int)i), want[i]));
		if (strcmp(line((int)i), want[i]))
			fprintf(stderr, "  command %zu: %s\n  wanted:     %s\n", i, line((int)i), want[i]);
	}
	argv_terminated();
}

static void family_v6(void)
{
	struct config c;

	base(&c);
	build(&c, 6, ALL_MATCHES);
	CHECK_EQ(list.overflow, 0);
	CHECK(!strcmp(list.cmd[0].argv[0], "ip6tables"));
	/* the IPv6 payload tests (fixed 40-byte header), never the IPv4 ones */
	CHECK_EQ(count("--u32 52>>26&0x3C@40>>0=0:0xffffffff -j NFQUEUE", NULL), 1);
	CHECK_EQ(count("--u32 4>>16&0x3=1:3 -j NFQUEUE", NULL), 1);
	CHECK_EQ(count("0>>22&0x3C", NULL), 0);
	CHECK_EQ(count("0&0x3=1:3", NULL), 0);
}

static void ports_and_ranges(void)
{
	struct config c;
	int i;

	base(&c);
	CHECK_EQ(config_parse_ports(c.engine.ports, "9002,443,8443,9000-9001,65535"), 0);
	build(&c, 4, ALL_MATCHES);
	/* adjacent ports merge into one range, in port order */
	CHECK_EQ(count("--dports 443,8443,9000:9002,65535 ", NULL), 3);
	CHECK_EQ(count("-I POSTROUTING 1 -p tcp -m multiport --dports 443,8443,9000:9002,65535 -m connmark", NULL), 1);
	CHECK(!strcmp(line(list.count - 1), "iptables -w 10 -t mangle -I POSTROUTING 1 -p tcp -m multiport --dports "
					     "443,8443,9000:9002,65535 -m connmark ! --mark 0x20000000/0x20000000 -j "
					     "HELLOSPLIT"));

	/* 1 and 65535, the ends of the bitmap */
	base(&c);
	CHECK_EQ(config_parse_ports(c.engine.ports, "1,65535"), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("--dports 1,65535 ", NULL), 3);

	/* a range of all ports is one range */
	base(&c);
	CHECK_EQ(config_parse_ports(c.engine.ports, "1-65535"), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("--dports 1:65535 ", NULL), 3);

	/* 20 single ports: 15 multiport slots, then a second group; with two
	 * groups the POSTROUTING jump cannot name the ports */
	base(&c);
	CHECK_EQ(many_ports(&c, 20), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(list.overflow, 0);
	CHECK_EQ(count("--dports 1000,1002,1004,1006,1008,1010,1012,1014,1016,1018,1020,1022,1024,1026,1028 ",
		       "-j NFQUEUE"), 2);
	CHECK_EQ(count("--dports 1030,1032,1034,1036,1038 ", "-j NFQUEUE"), 2);
	CHECK_EQ(count("-j NFQUEUE", NULL), 4);
	i = find("-I POSTROUTING");
	CHECK(i == list.count - 1);
	CHECK(!strcmp(line(i), "iptables -w 10 -t mangle -I POSTROUTING 1 -p tcp -m connmark ! --mark "
			       "0x20000000/0x20000000 -j HELLOSPLIT"));

	/* a range takes two slots: 7 ranges and one port fill 15 */
	base(&c);
	CHECK_EQ(config_parse_ports(c.engine.ports, "10-11,20-21,30-31,40-41,50-51,60-61,70-71,80,90"), 0);
	build(&c, 4, RULES_CONNBYTES);
	CHECK_EQ(count("--dports 10:11,20:21,30:31,40:41,50:51,60:61,70:71,80 ", NULL), 1);
	CHECK_EQ(count("--dports 90 ", NULL), 1);
}

static void ports_overflow(void)
{
	struct config c;

	/* 1000 separate ports: 67 groups, more than the builder keeps: overflow,
	 * never a rule set that leaves ports out silently */
	base(&c);
	CHECK_EQ(many_ports(&c, 1000), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(list.overflow, 1);
	CHECK_EQ(rules_nft_build(&c, nft, sizeof(nft)), -1);

	/* 32 groups fit the builder, but one rule each per interface and payload
	 * test is more commands than a list holds */
	base(&c);
	CHECK_EQ(many_ports(&c, 32 * 15), 0);
	build(&c, 4, RULES_CONNBYTES);
	CHECK_EQ(list.overflow, 0);
	CHECK_EQ(count("-j NFQUEUE", NULL), 32);
	snprintf(c.iface, sizeof(c.iface), "%s", "eth0,eth1,eth2");
	build(&c, 4, RULES_CONNBYTES | RULES_U32);
	CHECK_EQ(list.overflow, 1);
	CHECK(list.count <= RULES_MAX_CMDS);
}

static void marks_queue_bypass(void)
{
	struct config c;

	base(&c);
	c.fwmark = 0x8;
	c.done_mark = 0x100;
	c.queue_num = 7;
	c.queue_bypass = 0;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A HELLOSPLIT -m mark --mark 0x8/0x8 -j RETURN", NULL), 1);
	CHECK_EQ(count("-m mark --mark 0x100/0x100 -j CONNMARK --set-xmark 0x100/0x100", NULL), 1);
	CHECK_EQ(count("-m connmark --mark 0x100/0x100 -j RETURN", NULL), 1);
	CHECK_EQ(count("-m connmark ! --mark 0x100/0x100 -j HELLOSPLIT", NULL), 1);
	CHECK_EQ(count("-j NFQUEUE --queue-num 7", NULL), 2);
	CHECK_EQ(count("--queue-bypass", NULL), 0);
	CHECK_EQ(count("0x40000000", NULL), 0);
	CHECK_EQ(count("0x20000000", NULL), 0);
	c.queue_bypass = 1;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-j NFQUEUE --queue-num 7 --queue-bypass", NULL), 2);
	/* the bypass word ends the command: nothing may follow the target's options */
	CHECK(!strcmp(list.cmd[find("NFQUEUE")].argv[list.cmd[find("NFQUEUE")].argc - 1], "--queue-bypass"));
}

static void matches_variants(void)
{
	struct config c;

	base(&c);
	c.engine.max_held_pkts = 4;
	/* the window: from the first data packet to twice the engine's cap */
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("--connbytes 3:42 --connbytes-dir original --connbytes-mode packets", NULL), 2);

	/* connbytes absent: no window, and no answered rule (it needs connbytes) */
	build(&c, 4, RULES_U32 | RULES_ANSWERED);
	CHECK_EQ(list.overflow, 0);
	CHECK_EQ(count("connbytes", NULL), 0);
	CHECK_EQ(count("--socket-exists", NULL), 0);
	CHECK_EQ(count("-j NFQUEUE", "-m u32"), 2);

	/* u32 absent: one queue rule per port group */
	build(&c, 4, RULES_CONNBYTES | RULES_ANSWERED);
	CHECK_EQ(count("u32", NULL), 0);
	CHECK_EQ(count("-j NFQUEUE", "--connbytes 3:42"), 1);
	CHECK_EQ(count("--socket-exists", NULL), 1);

	/* owner absent */
	build(&c, 4, RULES_CONNBYTES | RULES_U32);
	CHECK_EQ(count("--socket-exists", NULL), 0);
	CHECK_EQ(count("-j NFQUEUE", NULL), 2);

	/* nothing but the connmark: every non-SYN packet to the port, until done */
	build(&c, 4, 0);
	CHECK_EQ(count("-j NFQUEUE", NULL), 1);
	CHECK(!strcmp(line(find("NFQUEUE")), "iptables -w 10 -t mangle -A HELLOSPLIT -p tcp ! --syn -m multiport "
					     "--dports 443 -j NFQUEUE --queue-num 200 --queue-bypass"));
}

static void interfaces(void)
{
	struct config c;
	int i;

	/* router mode: --iface names the WAN; each interface gets its rules */
	base(&c);
	snprintf(c.iface, sizeof(c.iface), "%s", "eth0,wan1");
	CHECK_EQ(config_parse_ports(c.engine.ports, "443,8443"), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A HELLOSPLIT -o eth0 -p tcp ! --syn -m multiport --dports 443,8443 ", NULL), 2);
	CHECK_EQ(count("-A HELLOSPLIT -o wan1 -p tcp ! --syn -m multiport --dports 443,8443 ", NULL), 2);
	CHECK_EQ(count("-j NFQUEUE", NULL), 4);
	/* the interface comes before the protocol, as iptables -S prints it */
	i = find("-o eth0");
	CHECK(i >= 0 && !strcmp(list.cmd[i].argv[7], "-o"));

	/* --exclude-iface: a RETURN per interface; loopback off too */
	base(&c);
	snprintf(c.exclude_iface, sizeof(c.exclude_iface), "%s", "docker0,br-lan");
	c.exclude_loopback = 0;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A HELLOSPLIT -o docker0 -j RETURN", NULL), 1);
	CHECK_EQ(count("-A HELLOSPLIT -o br-lan -j RETURN", NULL), 1);
	CHECK_EQ(count("-o lo", NULL), 0);
	CHECK_EQ(count("-j NFQUEUE", "-o "), 0);
	/* the RETURNs stand before the queue rules */
	CHECK(find("-o br-lan -j RETURN") < find("-j NFQUEUE"));
}

static void learning(void)
{
	struct config c;
	int i;

	base(&c);
	c.learn = 1;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(list.overflow, 0);
	CHECK(!strcmp(line(0), "iptables -w 10 -t mangle -N HELLOSPLIT"));
	/* the install retries refill from command 2 on: both chains come first */
	CHECK(!strcmp(line(1), "iptables -w 10 -t mangle -N " RULES_CHAIN_IN));
	CHECK_EQ(count("-A " RULES_CHAIN_IN " -i lo -j RETURN", NULL), 1);
	CHECK_EQ(count("--sports 443 -m connbytes --connbytes " RULES_REPLY_WINDOW
		       " --connbytes-dir reply --connbytes-mode packets --tcp-flags RST RST -j NFQUEUE",
		       NULL), 1);
	CHECK_EQ(count("--tcp-flags FIN FIN -j NFQUEUE", NULL), 1);
	CHECK_EQ(count("-A " RULES_CHAIN_IN, "-m u32"), 2);
	CHECK_EQ(count("-A " RULES_CHAIN_IN, "-j NFQUEUE --queue-num 200 --queue-bypass"), 4);
	CHECK_EQ(count("-I INPUT 1 -p tcp -m multiport --sports 443 -m conntrack --ctdir REPLY -m connmark ! --mark "
		       "0x20000000/0x20000000 -j " RULES_CHAIN_IN, NULL), 1);
	CHECK_EQ(count("-I FORWARD 1 -p tcp -m multiport --sports 443 -m conntrack --ctdir REPLY", NULL), 1);
	/* POSTROUTING's jump before the learning jumps, the last three */
	i = find("-I POSTROUTING");
	CHECK_EQ(i, list.count - 3);

	/* without u32: RST, FIN and then every packet of the reply window */
	build(&c, 4, RULES_CONNBYTES);
	CHECK_EQ(count("-A " RULES_CHAIN_IN, "-j NFQUEUE"), 3);
	CHECK_EQ(count("-A " RULES_CHAIN_IN " -p tcp -m multiport --sports 443 -m connbytes --connbytes 2:4 "
		       "--connbytes-dir reply --connbytes-mode packets -j NFQUEUE", NULL), 1);
	/* without connbytes: no reply window either */
	build(&c, 4, RULES_U32);
	CHECK_EQ(count("-A " RULES_CHAIN_IN, "connbytes"), 0);

	/* router: learning reads the answers arriving on the WAN */
	snprintf(c.iface, sizeof(c.iface), "%s", "wan");
	c.exclude_iface[0] = 0;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A " RULES_CHAIN_IN " -i wan -p tcp -m multiport --sports 443", NULL), 4);
	c.queue_bypass = 0;
	c.queue_num = 9;
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A " RULES_CHAIN_IN, "-j NFQUEUE --queue-num 9"), 4);
	CHECK_EQ(count("--queue-bypass", NULL), 0);
	c.iface[0] = 0;
	snprintf(c.exclude_iface, sizeof(c.exclude_iface), "%s", "tun0");
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-A " RULES_CHAIN_IN " -i tun0 -j RETURN", NULL), 1);

	/* several port groups: the learning jumps cannot name the ports either */
	CHECK_EQ(config_parse_ports(c.engine.ports, "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31"), 0);
	build(&c, 4, ALL_MATCHES);
	CHECK_EQ(count("-I INPUT 1 -p tcp -m conntrack", NULL), 1);
	CHECK_EQ(count("-I FORWARD 1 -p tcp -m conntrack", NULL), 1);
}

static void nft_defaults(void)
{
	static const char want[] =
		"table inet hellosplit {\n"
		"\tchain postrouting {\n"
		"\t\ttype filter hook postrouting priority mangle; policy accept;\n"
		"\t\tmeta mark & 0x40000000 == 0x40000000 return\n"
		"\t\tmeta mark & 0x20000000 == 0x20000000 ct mark set ct mark | 0x20000000 return\n"
		"\t\tct mark & 0x20000000 == 0x20000000 return\n"
		"\t\toifname \"lo\" return\n"
		"\t\tmeta skuid >= 0 ct reply avgpkt > 100 return\n"
		"\t\tmeta l4proto tcp tcp dport { 443 } tcp flags & syn == 0 ct original packets 3-98 queue num 200 "
		"bypass\n"
		"\t}\n"
		"}\n";
	struct config c;
	int n;

	base(&c);
	n = rules_nft_build(&c, nft, sizeof(nft));
	CHECK_EQ(n, (int)strlen(want));
	CHECK(!strcmp(nft, want));
	/* too small a buffer: -1, never a cut ruleset */
	CHECK_EQ(rules_nft_build(&c, nft, strlen(want)), -1);
	CHECK_EQ(rules_nft_build(&c, nft, strlen(want) + 1), (int)strlen(want));
}

static void nft_flags(void)
{
	struct config c;

	base(&c);
	CHECK_EQ(config_parse_ports(c.engine.ports, "443,8443,9000-9002"), 0);
	c.fwmark = 0x8;
	c.done_mark = 0x100;
	c.queue_num = 7;
	c.queue_bypass = 0;
	c.exclude_loopback = 0;
	c.engine.max_held_pkts = 4;
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "tcp dport { 443,8443,9000-9002 } tcp flags & syn == 0 ct original packets 3-42 queue num "
			  "7\n") != NULL);
	CHECK(strstr(nft, "meta mark & 0x8 == 0x8 return\n") != NULL);
	CHECK(strstr(nft, "meta mark & 0x100 == 0x100 ct mark set ct mark | 0x100 return\n") != NULL);
	CHECK(strstr(nft, "ct mark & 0x100 == 0x100 return\n") != NULL);
	CHECK(strstr(nft, "bypass") == NULL);
	CHECK(strstr(nft, "\"lo\"") == NULL);

	base(&c);
	snprintf(c.iface, sizeof(c.iface), "%s", "eth0,wan1");
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "\t\toifname { \"eth0\", \"wan1\" } meta l4proto tcp tcp dport { 443 }") != NULL);

	base(&c);
	snprintf(c.exclude_iface, sizeof(c.exclude_iface), "%s", "docker0,br1");
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "\t\toifname \"lo\" return\n\t\toifname { \"docker0\", \"br1\" } return\n") != NULL);
	CHECK(strstr(nft, "learn_in") == NULL);

	/* more than 15 ports: nft takes them all in one set */
	CHECK_EQ(config_parse_ports(c.engine.ports, "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33-40"), 0);
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "tcp dport { 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33-40 }") != NULL);
}

static void nft_learning(void)
{
	struct config c;

	base(&c);
	c.learn = 1;
	snprintf(c.iface, sizeof(c.iface), "%s", "wan");
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "\tchain learn_in {\n") != NULL);
	CHECK(strstr(nft, "\t\tiifname \"lo\" return\n") != NULL);
	CHECK(strstr(nft, "\t\tiifname { \"wan\" } meta l4proto tcp tcp sport { 443 } ct direction reply ct reply "
			  "packets 2-4 queue num 200 bypass\n") != NULL);
	CHECK(strstr(nft, "\tchain input {\n\t\ttype filter hook input priority mangle; policy accept;\n\t\tjump "
			  "learn_in\n\t}\n") != NULL);
	CHECK(strstr(nft, "\tchain forward {\n\t\ttype filter hook forward priority mangle; policy accept;\n\t\tjump "
			  "learn_in\n\t}\n}\n") != NULL);
	c.iface[0] = 0;
	snprintf(c.exclude_iface, sizeof(c.exclude_iface), "%s", "tun0");
	CHECK(rules_nft_build(&c, nft, sizeof(nft)) > 0);
	CHECK(strstr(nft, "\t\tiifname { \"tun0\" } return\n") != NULL);
}

static void split_words(void)
{
	char buf[256];
	const char *w[8];

	snprintf(buf, sizeof(buf), "%s", "-p tcp  -m multiport --dports 443 -j HELLOSPLIT");
	CHECK_EQ(rules_split_words(buf, w, 8), 8);
	CHECK(!strcmp(w[0], "-p") && !strcmp(w[1], "tcp") && !strcmp(w[5], "443") && !strcmp(w[7], "HELLOSPLIT"));

	/* a quoted comment is one word; a backslash escapes a quote inside */
	snprintf(buf, sizeof(buf), "%s", "-m comment --comment \"a \\\"b\\\" c\" -j X");
	CHECK_EQ(rules_split_words(buf, w, 8), 6);
	CHECK(!strcmp(w[3], "a \"b\" c"));
	CHECK(!strcmp(w[5], "X"));

	/* an unterminated quote takes the rest; leading and trailing spaces go */
	snprintf(buf, sizeof(buf), "%s", "  -j \"open end ");
	CHECK_EQ(rules_split_words(buf, w, 8), 2);
	CHECK(!strcmp(w[1], "open end "));

	snprintf(buf, sizeof(buf), "%s", "");
	CHECK_EQ(rules_split_words(buf, w, 8), 0);
	snprintf(buf, sizeof(buf), "%s", "a b c d e f g h");
	CHECK_EQ(rules_split_words(buf, w, 8), 8);
	snprintf(buf, sizeof(buf), "%s", "a b c d e f g h i");
	CHECK_EQ(rules_split_words(buf, w, 8), -1);
}

static void nft_error_line(void)
{
	char err[256];

	snprintf(err, sizeof(err), "%s",
		 "/dev/stdin:9:3-40: Error: Could not process rule: No such file or directory\n"
		 "\t\tmeta l4proto tcp queue num 200\n\t\t^^^^^^^^^^^^\n");
	rules_nft_error_line(err);
	CHECK(!strcmp(err, "Could not process rule: No such file or directory"));
	snprintf(err, sizeof(err), "%s", "netlink: something\nmore");
	rules_nft_error_line(err);
	CHECK(!strcmp(err, "netlink: something"));
	err[0] = 0;
	rules_nft_error_line(err);
	CHECK(!strcmp(err, ""));
}

void test_rules(void)
{
	defaults_v4();
	family_v6();
	ports_and_ranges();
	ports_overflow();
	marks_queue_bypass();
	matches_variants();
	interfaces();
	learning();
	nft_defaults();
	nft_flags();
	nft_learning();
	split_words();
	nft_error_line();
}
