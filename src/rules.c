/* rules.c — the Linux firewall rules as data: the iptables argument lists
 * and the nftables ruleset text that send the first packets of new flows to
 * the queue, and the parsing of what the tools print back. Portable: no
 * exec, no OS header, so the unit tests build them for every flag
 * combination; rules-linux.c runs them.
 *
 * One chain of hellosplit's own, hooked first in mangle POSTROUTING, so one
 * rule serves a desktop (local packets) and a router (forwarded packets). It
 * queues only the first payload packets of flows to the target ports, skips
 * what hellosplit injected and flows marked done. */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ports.h"

/* Conntrack counts SYN = 1, ACK = 2, first data = 3 in the original
 * direction, and the segments hellosplit injects too: the queue window ends
 * where even a flow that held --max-held-pkts packets and was split (about
 * twice as many packets) is past the engine's own packet cap. */
#define RULES_FIRST_PACKET 3

static uint32_t rules_last_packet(const struct config *cfg)
{
	return 2 + 2 * engine_packet_cap(&cfg->engine);
}
#define MULTIPORT_SLOTS 15

/* ---- building */

static const char *keep(struct rules_list *l, const char *fmt, ...)
{
	char *s = l->text + l->used;
	size_t room = sizeof(l->text) - l->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		l->overflow = 1;
		return "";
	}
	l->used += (size_t)n + 1;
	return s;
}

/* Appends one command: the tool, "-w 10 -t mangle", then the words given. */
static void add(struct rules_list *l, const char *tool, ...)
{
	struct rules_cmd *c;
	const char *word;
	va_list ap;

	if (l->count == RULES_MAX_CMDS) {
		l->overflow = 1;
		return;
	}
	c = &l->cmd[l->count++];
	c->argc = 0;
	c->argv[c->argc++] = tool;
	c->argv[c->argc++] = "-w";
	c->argv[c->argc++] = "10";
	c->argv[c->argc++] = "-t";
	c->argv[c->argc++] = "mangle";
	va_start(ap, tool);
	while ((word = va_arg(ap, const char *)) != NULL && c->argc < RULES_MAX_ARGS)
		c->argv[c->argc++] = word;
	va_end(ap);
	c->argv[c->argc] = NULL;
}

/* Appends words to the last command. */
static void extend(struct rules_list *l, ...)
{
	struct rules_cmd *c = &l->cmd[l->count - 1];
	const char *word;
	va_list ap;

	va_start(ap, l);
	while ((word = va_arg(ap, const char *)) != NULL) {
		if (c->argc == RULES_MAX_ARGS) {
			l->overflow = 1;
			break;
		}
		c->argv[c->argc++] = word;
	}
	va_end(ap);
	c->argv[c->argc] = NULL;
}

/* The port bitmap as multiport lists of at most 15 slots (a range takes 2). */
static int port_groups(struct rules_list *l, const struct config *cfg, const char *groups[], int max)
{
	char buf[256];
	int n = 0, slots = 0;
	size_t len = 0;
	unsigned p = 1, lo, hi;

	while (ports_next_range(cfg->engine.ports, &p, &lo, &hi)) {
		if (slots + (lo == hi ? 1 : 2) > MULTIPORT_SLOTS) {
			if (n < max)
				groups[n++] = keep(l, "%s", buf);
			else
				l->overflow = 1;      /* never leave ports out silently */
			len = 0;
			slots = 0;
		}
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, lo == hi ? "%s%u" : "%s%u:%u", len ? "," : "", lo, hi);
		slots += lo == hi ? 1 : 2;
	}
	if (len && n < max)
		groups[n++] = keep(l, "%s", buf);
	else if (len)
		l->overflow = 1;
	return n;
}

static int split_list(struct rules_list *l, const char *list, const char *items[], int max)
{
	int n = 0;

	while (*list && n < max) {
		size_t k = strcspn(list, ",");

		items[n++] = keep(l, "%.*s", (int)k, list);
		list += k + (list[k] == ',');
	}
	return n;
}

#define RULES_ANSWERED_AVGPKT "101:"

/* Payload present: 4 bytes readable at the payload start (u32 fails a read
 * past the end), or 1-3 bytes (the IP length is then not a multiple of 4,
 * as every header length is). Two rules, as u32 has no "or". */
static const char *const payload_u32[2][2] = {
	{"0>>22&0x3C@12>>26&0x3C@0>>0=0:0xffffffff", "0&0x3=1:3"},   /* IPv4: IHL, then doff */
	{"52>>26&0x3C@40>>0=0:0xffffffff", "4>>16&0x3=1:3"},        /* IPv6, no extension headers */
};

/* Learning: the chain of the servers' first answers. Like the outbound
 * chain it lets by what carries the fwmark (a verdict repeats the table),
 * saves a done verdict on the connection and skips such connections; then it
 * queues only resets, FINs and packets with payload from the target ports
 * among the first reply packets of a connection (connbytes): the answers
 * that tell whether a split got through, never the bulk. */
static void build_replies(struct rules_list *l, const char *tool, int family, const struct config *cfg, int matches,
			  const char *const ports[], int np, const char *const ifaces[], int ni,
			  const char *const excluded[], int ne)
{
	const char *fw = keep(l, "0x%x/0x%x", cfg->fwmark, cfg->fwmark);
	const char *done = keep(l, "0x%x/0x%x", cfg->done_mark, cfg->done_mark);
	const char *queue = keep(l, "%u", cfg->queue_num);
	int i, j, k;

	add(l, tool, "-A", RULES_CHAIN_IN, "-m", "mark", "--mark", fw, "-j", "RETURN", NULL);
	add(l, tool, "-A", RULES_CHAIN_IN, "-m", "mark", "--mark", done, "-j", "CONNMARK", "--set-xmark", done, NULL);
	add(l, tool, "-A", RULES_CHAIN_IN, "-m", "connmark", "--mark", done, "-j", "RETURN", NULL);
	if (cfg->exclude_loopback)
		add(l, tool, "-A", RULES_CHAIN_IN, "-i", "lo", "-j", "RETURN", NULL);
	for (i = 0; i < ne; i++)
		add(l, tool, "-A", RULES_CHAIN_IN, "-i", excluded[i], "-j", "RETURN", NULL);
	for (j = 0; j < (ni ? ni : 1); j++)
		for (i = 0; i < np; i++)
			for (k = 0; k < (matches & RULES_U32 ? 4 : 3); k++) {
				add(l, tool, "-A", RULES_CHAIN_IN, NULL);
				if (ni)
					extend(l, "-i", ifaces[j], NULL);
				extend(l, "-p", "tcp", "-m", "multiport", "--sports", ports[i], NULL);
				if (matches & RULES_CONNBYTES)
					extend(l, "-m", "connbytes", "--connbytes", RULES_REPLY_WINDOW, "--connbytes-dir",
					       "reply", "--connbytes-mode", "packets", NULL);
				if (k == 0)
					extend(l, "--tcp-flags", "RST", "RST", NULL);
				else if (k == 1)
					extend(l, "--tcp-flags", "FIN", "FIN", NULL);
				else if (matches & RULES_U32)
					extend(l, "-m", "u32", "--u32", payload_u32[family == 6][k - 2], NULL);
				extend(l, "-j", "NFQUEUE", "--queue-num", queue, NULL);
				if (cfg->queue_bypass)
					extend(l, "--queue-bypass", NULL);
				if (!(matches & RULES_U32) && k == 2)
					break;      /* without u32: every packet of the window */
			}
}

void rules_iptables_build(struct rules_list *l, const char *tool, int family, const struct config *cfg,
			  int matches)
{
	const char *fw = keep(l, "0x%x/0x%x", cfg->fwmark, cfg->fwmark);
	const char *done = keep(l, "0x%x/0x%x", cfg->done_mark, cfg->done_mark);
	const char *queue = keep(l, "%u", cfg->queue_num);
	const char *window = keep(l, "%d:%u", RULES_FIRST_PACKET, rules_last_packet(cfg));
	const char *ports[32], *ifaces[32], *excluded[32];
	int np = port_groups(l, cfg, ports, 32), ni = split_list(l, cfg->iface, ifaces, 32);
	int ne = split_list(l, cfg->exclude_iface, excluded, 32), i, j, k;

	add(l, tool, "-N", RULES_CHAIN, NULL);
	if (cfg->learn)
		add(l, tool, "-N", RULES_CHAIN_IN, NULL);
	/* packets we injected or already passed (the verdict repeats the table) */
	add(l, tool, "-A", RULES_CHAIN, "-m", "mark", "--mark", fw, "-j", "RETURN", NULL);
	/* a done verdict: remember it on the connection (the jump skips those
	 * from then on), then skip */
	add(l, tool, "-A", RULES_CHAIN, "-m", "mark", "--mark", done, "-j", "CONNMARK", "--set-xmark", done, NULL);
	add(l, tool, "-A", RULES_CHAIN, "-m", "connmark", "--mark", done, "-j", "RETURN", NULL);
	if (cfg->exclude_loopback)
		add(l, tool, "-A", RULES_CHAIN, "-o", "lo", "-j", "RETURN", NULL);
	for (i = 0; i < ne; i++)
		add(l, tool, "-A", RULES_CHAIN, "-o", excluded[i], "-j", "RETURN", NULL);
	/* The server has sent payload (a reply packet larger than any bare TCP
	 * header: 60 + 40): a TLS server answers only a whole ClientHello, so it
	 * has it and the flow needs no second trip to be marked done. Local flows
	 * only: on a router the answer may still be lost on the LAN, and the
	 * client's retransmitted hello must then be split again. */
	if ((matches & RULES_ANSWERED) && (matches & RULES_CONNBYTES))
		add(l, tool, "-A", RULES_CHAIN, "-m", "owner", "--socket-exists", "-m", "connbytes", "--connbytes",
		    RULES_ANSWERED_AVGPKT, "--connbytes-dir", "reply", "--connbytes-mode", "avgpkt", "-j", "RETURN",
		    NULL);
	for (j = 0; j < (ni ? ni : 1); j++)
		for (i = 0; i < np; i++)
			for (k = 0; k < (matches & RULES_U32 ? 2 : 1); k++) {
				add(l, tool, "-A", RULES_CHAIN, NULL);
				if (ni)
					extend(l, "-o", ifaces[j], NULL);
				extend(l, "-p", "tcp", "!", "--syn", "-m", "multiport", "--dports", ports[i], NULL);
				if (matches & RULES_CONNBYTES)
					extend(l, "-m", "connbytes", "--connbytes", window, "--connbytes-dir", "original",
					       "--connbytes-mode", "packets", NULL);
				if (matches & RULES_U32)
					extend(l, "-m", "u32", "--u32", payload_u32[family == 6][k], NULL);
				extend(l, "-j", "NFQUEUE", "--queue-num", queue, NULL);
				if (cfg->queue_bypass)
					extend(l, "--queue-bypass", NULL);
			}
	if (cfg->learn)
		build_replies(l, tool, family, cfg, matches, ports, np, ifaces, ni, excluded, ne);
	/* Every packet leaving the machine meets this one rule: a packet of
	 * another protocol, of another port (one port group) or of a finished
	 * connection goes no further. */
	add(l, tool, "-I", "POSTROUTING", "1", "-p", "tcp", NULL);
	if (np == 1)
		extend(l, "-m", "multiport", "--dports", ports[0], NULL);
	extend(l, "-m", "connmark", "!", "--mark", done, "-j", RULES_CHAIN, NULL);
	if (cfg->learn) {
		/* the same one rule for what comes in, local (INPUT) or routed (FORWARD) */
		static const char *const hooks[] = {"INPUT", "FORWARD"};

		for (i = 0; i < 2; i++) {
			add(l, tool, "-I", hooks[i], "1", "-p", "tcp", NULL);
			if (np == 1)
				extend(l, "-m", "multiport", "--sports", ports[0], NULL);
			extend(l, "-m", "conntrack", "--ctdir", "REPLY", "-m", "connmark", "!", "--mark", done, "-j",
			       RULES_CHAIN_IN, NULL);
		}
	}
}

int rules_nft_build(const struct config *cfg, char *out, size_t n)
{
	struct rules_list l;
	const char *ports[32], *ifaces[32], *excluded[32];
	int np, ni, ne, i, len;
	char portset[4096], oif[1024] = "", skip[1024] = "", iif[1024] = "", skip_in[1024] = "", learn[8192] = "";
	size_t k = 0;

	l.used = 0;
	l.overflow = 0;
	np = port_groups(&l, cfg, ports, 32);
	ni = split_list(&l, cfg->iface, ifaces, 32);
	ne = split_list(&l, cfg->exclude_iface, excluded, 32);
	portset[0] = 0;
	for (i = 0; i < np; i++)
		k += (size_t)snprintf(portset + k, sizeof(portset) - k, "%s%s", i ? "," : "", ports[i]);
	for (i = 0; portset[i]; i++)
		if (portset[i] == ':')
			portset[i] = '-';
	for (i = 0, k = 0; i < ni; i++)
		k += (size_t)snprintf(oif + k, sizeof(oif) - k, "%s\"%s\"", i ? ", " : "oifname { ", ifaces[i]);
	if (ni)
		snprintf(oif + k, sizeof(oif) - k, " } ");
	for (i = 0, k = 0; i < ne; i++)
		k += (size_t)snprintf(skip + k, sizeof(skip) - k, "%s\"%s\"", i ? ", " : "\t\toifname { ", excluded[i]);
	if (ne)
		snprintf(skip + k, sizeof(skip) - k, " } return\n");
	for (i = 0, k = 0; i < ni; i++)
		k += (size_t)snprintf(iif + k, sizeof(iif) - k, "%s\"%s\"", i ? ", " : "iifname { ", ifaces[i]);
	if (ni)
		snprintf(iif + k, sizeof(iif) - k, " } ");
	for (i = 0, k = 0; i < ne; i++)
		k += (size_t)snprintf(skip_in + k, sizeof(skip_in) - k, "%s\"%s\"", i ? ", " : "\t\tiifname { ",
				      excluded[i]);
	if (ne)
		snprintf(skip_in + k, sizeof(skip_in) - k, " } return\n");
	/* Learning: the first answers of each connection (see build_replies;
	 * nft has no u32: every reply packet of the window, at most three). */
	if (cfg->learn &&
	    snprintf(learn, sizeof(learn),
		     "\tchain learn_in {\n"
		     "\t\tmeta mark & 0x%x == 0x%x return\n"
		     "\t\tmeta mark & 0x%x == 0x%x ct mark set ct mark | 0x%x return\n"
		     "\t\tct mark & 0x%x == 0x%x return\n"
		     "%s%s"
		     "\t\t%smeta l4proto tcp tcp sport { %s } ct direction reply ct reply packets %s "
		     "queue num %u%s\n"
		     "\t}\n"
		     "\tchain input {\n"
		     "\t\ttype filter hook input priority mangle; policy accept;\n"
		     "\t\tjump learn_in\n"
		     "\t}\n"
		     "\tchain forward {\n"
		     "\t\ttype filter hook forward priority mangle; policy accept;\n"
		     "\t\tjump learn_in\n"
		     "\t}\n",
		     cfg->fwmark, cfg->fwmark, cfg->done_mark, cfg->done_mark, cfg->done_mark, cfg->done_mark,
		     cfg->done_mark, cfg->exclude_loopback ? "\t\tiifname \"lo\" return\n" : "", skip_in, iif, portset,
		     "2-4", cfg->queue_num, cfg->queue_bypass ? " bypass" : "") >= (int)sizeof(learn))
		return -1;
	len = snprintf(out, n,
		       "table inet " RULES_NFT_TABLE " {\n"
		       "\tchain postrouting {\n"
		       "\t\ttype filter hook postrouting priority mangle; policy accept;\n"
		       "\t\tmeta mark & 0x%x == 0x%x return\n"
		       "\t\tmeta mark & 0x%x == 0x%x ct mark set ct mark | 0x%x return\n"
		       "\t\tct mark & 0x%x == 0x%x return\n"
		       "%s%s"
		       "\t\tmeta skuid >= 0 ct reply avgpkt > 100 return\n"   /* see RULES_ANSWERED */
		       "\t\t%smeta l4proto tcp tcp dport { %s } tcp flags & syn == 0 ct original packets %d-%u "
		       "queue num %u%s\n"
		       "\t}\n"
		       "%s"
		       "}\n",
		       cfg->fwmark, cfg->fwmark, cfg->done_mark, cfg->done_mark, cfg->done_mark, cfg->done_mark,
		       cfg->done_mark, cfg->exclude_loopback ? "\t\toifname \"lo\" return\n" : "", skip, oif, portset,
		       RULES_FIRST_PACKET, rules_last_packet(cfg), cfg->queue_num, cfg->queue_bypass ? " bypass" : "",
		       learn);
	return len < 0 || (size_t)len >= n || l.overflow ? -1 : len;
}

/* nft follows its error line with the offending rule and a caret line: keep
 * the error itself (after "Error: " when present), so the message stays the
 * one line the CLI contract promises. */
void rules_nft_error_line(char *err)
{
	char *e = strstr(err, "Error: "), *nl;

	if (e)
		memmove(err, e + 7, strlen(e + 7) + 1);
	nl = strchr(err, '\n');
	if (nl)
		*nl = 0;
}

/* Splits one line of `iptables -S` into words in place: spaces separate
 * them, double quotes hold a word with spaces (a comment), a backslash in
 * quotes escapes the next character. Returns the number of words, or -1 when
 * more than max. */
int rules_split_words(char *line, const char *words[], int max)
{
	char *in = line, *out = line;
	int n = 0;

	for (;;) {
		while (*in == ' ')
			in++;
		if (!*in)
			return n;
		if (n == max)
			return -1;
		words[n++] = out;
		if (*in == '"') {
			for (in++; *in && *in != '"'; *out++ = *in++)
				if (*in == '\\' && in[1])
					in++;
			in += *in == '"';
		} else {
			while (*in && *in != ' ')
				*out++ = *in++;
		}
		if (*in)
			in++;
		*out++ = 0;
	}
}
