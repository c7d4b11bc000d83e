/* rules.c — one chain of hellosplit's own, hooked first in mangle
 * POSTROUTING, so one rule serves a desktop (local packets) and a router
 * (forwarded packets). It queues only the first payload packets of flows to
 * the target ports, skips what hellosplit injected and flows marked done. */
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

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

static const char *const tool_dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin",
					"/system/bin", "/system/xbin"};

const char *rules_find_tool(const char *name, char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(tool_dirs) / sizeof(tool_dirs[0]); i++) {
		snprintf(buf, n, "%s/%s", tool_dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

int rules_run(const char *const argv[], const char *input, char *err, size_t errlen)
{
	static char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin:/system/bin", "LC_ALL=C", NULL};
	int out[2], in[2] = {-1, -1}, status;
	size_t got = 0;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) || (input && pipe2(in, O_CLOEXEC)))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(input ? in[0] : devnull, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	close(out[1]);
	if (input) {
		close(in[0]);
		if (write(in[1], input, strlen(input)) < 0)
			got = 0;
		close(in[1]);
	}
	for (;;) {
		ssize_t r = read(out[0], err + got, got + 1 < errlen ? errlen - got - 1 : 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && got + 1 >= errlen) {      /* buffer full: drain the rest */
			char sink[256];

			while (read(out[0], sink, sizeof(sink)) > 0)
				;
		}
		break;
	}
	close(out[0]);
	if (errlen)
		err[got] = 0;
	while (got && (err[got - 1] == '\n' || err[got - 1] == ' '))
		err[--got] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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
	unsigned p = 1;

	while (p < 65536) {
		unsigned lo, hi;

		if (!(cfg->engine.ports[p / 8] >> (p % 8) & 1)) {
			p++;
			continue;
		}
		lo = hi = p;
		while (hi + 1 < 65536 && cfg->engine.ports[(hi + 1) / 8] >> ((hi + 1) % 8) & 1)
			hi++;
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
		p = hi + 1;
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

/* ---- installing and removing */

static int run_list(const struct rules_list *l, int from, int to, char *err, size_t errlen)
{
	int i;

	for (i = from; i < to; i++)
		if (rules_run(l->cmd[i].argv, NULL, err, errlen) != 0)
			return i;
	return -1;
}

static void describe(const struct rules_cmd *c, char *out, size_t n)
{
	size_t k = 0;
	int i;

	out[0] = 0;
	for (i = 0; i < c->argc && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? " " : "", c->argv[i]);
}

static int too_many(void)
{
	log_error("too many ports or interfaces for the rules; use fewer.");
	return -1;
}

/* rules_iptables_build into an emptied list; -1 (said) when it overflows. */
static int build_iptables(struct rules_list *l, const char *tool, int family, const struct config *cfg, int matches)
{
	memset(l, 0, sizeof(*l));
	rules_iptables_build(l, tool, family, cfg, matches);
	return l->overflow ? too_many() : 0;
}

/* rules_nft_build; -1 (said) when the ruleset does not fit. */
static int build_nft(const struct config *cfg, char *text, size_t n)
{
	return rules_nft_build(cfg, text, n) < 0 ? too_many() : 0;
}

static int is_variable(const struct rules_cmd *c)
{
	int i;

	for (i = 0; i < c->argc; i++)
		if (!strcmp(c->argv[i], "NFQUEUE") || !strcmp(c->argv[i], "--socket-exists"))
			return 1;
	return 0;
}

static int install_iptables(const struct config *cfg, const char *tool, int family)
{
	/* Best first; a kernel may lack connbytes (many Android/OpenWrt ones),
	 * u32 or owner. Not every iptables names the missing match (1.8.9 may
	 * say only "No chain/target/match by that name"), so the variants are
	 * tried, the chain emptied between tries. */
	static const int variants[] = {
		RULES_CONNBYTES | RULES_U32 | RULES_ANSWERED, RULES_CONNBYTES | RULES_U32,
		RULES_CONNBYTES | RULES_ANSWERED, RULES_CONNBYTES, RULES_U32, 0};
	static struct rules_list l;
	char err[1024], first[1024] = "", cmd[1024];
	const char *flush[] = {tool, "-w", "10", "-t", "mangle", "-F", RULES_CHAIN, NULL};
	const char *flush_in[] = {tool, "-w", "10", "-t", "mangle", "-F", RULES_CHAIN_IN, NULL};
	int bad = -1, matches = 0;
	size_t v;

	for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		matches = variants[v];
		if (build_iptables(&l, tool, family, cfg, matches))
			return -1;
		/* the chains exist after the first try: empty them and fill them again */
		if (v && (rules_run(flush, NULL, err, sizeof(err)) != 0 ||
			  (cfg->learn && rules_run(flush_in, NULL, err, sizeof(err)) != 0))) {
			bad = 0;
			break;
		}
		bad = run_list(&l, v ? (cfg->learn ? 2 : 1) : 0, l.count, err, sizeof(err));
		if (bad < 0 || !is_variable(&l.cmd[bad]))
			break;
		if (!first[0])
			snprintf(first, sizeof(first), "%s", err);
	}
	if (bad >= 0) {
		describe(&l.cmd[bad], cmd, sizeof(cmd));
		log_error("installing the rules failed: '%s' said: %s", cmd, err[0] ? err : "(nothing)");
		return -1;
	}
	if (!(matches & RULES_CONNBYTES))
		log_info("%s: the kernel has no connbytes match (%s); queueing each flow until it is done "
			 "(connmark only).", tool, first);
	else if (!(matches & RULES_ANSWERED))
		log_info("%s: the kernel has no owner match; a local flow's second payload packet is queued "
			 "too.", tool);
	if (!(matches & RULES_U32))
		log_info("%s: the kernel has no u32 match; packets without payload among the first ones are "
			 "queued too.", tool);
	return 0;
}

/* nft follows its error line with the offending rule and a caret line: keep
 * the error itself (after "Error: " when present), so the message stays the
 * one line the CLI contract promises. */
static void one_line(char *err)
{
	char *e = strstr(err, "Error: "), *nl;

	if (e)
		memmove(err, e + 7, strlen(e + 7) + 1);
	nl = strchr(err, '\n');
	if (nl)
		*nl = 0;
}

static int install_nftables(const struct config *cfg, int families)
{
	char text[8192], err[1024], path[256];
	const char *argv[5];
	const char *ipv4_only[] = {path, "insert", "rule", "inet", RULES_NFT_TABLE, "postrouting", "meta", "nfproto",
				   "ipv6", "return", NULL};
	const char *ipv4_only_in[] = {path, "insert", "rule", "inet", RULES_NFT_TABLE, "learn_in", "meta", "nfproto",
				      "ipv6", "return", NULL};

	if (!rules_find_tool("nft", path, sizeof(path))) {
		log_error("--rules nftables: nft is not installed (Debian: apt install nftables).");
		return -1;
	}
	if (build_nft(cfg, text, sizeof(text)))
		return -1;
	argv[0] = path;
	argv[1] = "-c";
	argv[2] = "-f";
	argv[3] = "-";
	argv[4] = NULL;
	if (rules_run(argv, text, err, sizeof(err)) != 0) {
		one_line(err);
		if (strstr(err, "queue") || strstr(err, "Operation not supported") || strstr(err, "No such file"))
			log_error("--rules nftables: this kernel has no nftables queue support (CONFIG_NFT_QUEUE); "
				  "use --rules iptables. nft said: %s", err);
		else
			log_error("--rules nftables: the generated ruleset was refused: %s", err);
		return -1;
	}
	argv[1] = "-f";
	argv[2] = "-";
	argv[3] = NULL;
	if (rules_run(argv, text, err, sizeof(err)) != 0) {
		one_line(err);
		log_error("--rules nftables: installing the ruleset failed: %s", err);
		return -1;
	}
	/* IPv6 that cannot be injected is not queued at all. */
	if (!(families & RULES_IPV6) && (rules_run(ipv4_only, NULL, err, sizeof(err)) != 0 ||
					 (cfg->learn && rules_run(ipv4_only_in, NULL, err, sizeof(err)) != 0))) {
		one_line(err);
		log_error("--rules nftables: keeping IPv6 out of the queue failed: %s", err);
		return -1;
	}
	return 0;
}

/* The queue an installed HELLOSPLIT chain sends to, or -1 when none is. */
static long installed_queue(void)
{
	char path[256], out[8192];
	const char *tool = rules_find_tool("iptables", path, sizeof(path)), *q;
	const char *list[] = {tool, "-w", "10", "-t", "mangle", "-S", RULES_CHAIN, NULL};

	if (!tool || rules_run(list, NULL, out, sizeof(out)) != 0 || !(q = strstr(out, "--queue-num ")))
		return -1;
	return strtol(q + 12, NULL, 10);
}

/* 1 when a program listens on NFQUEUE n (this network namespace). */
static int queue_bound(long n)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	long queue;
	char line[256];
	int bound = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%ld", &queue) == 1 && queue == n)
			bound = 1;
	if (f)
		fclose(f);
	return bound;
}

static void print_word(FILE *out, const char *w)
{
	const char *c;

	for (c = w; *c; c++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:/.,=+", *c))
			break;
	fprintf(out, *c || !*w ? " '%s'" : " %s", w);
}

int rules_print(const struct config *cfg, FILE *out)
{
	static struct rules_list l;
	char text[8192];
	int family, i, j;

	if (cfg->rules == RULES_NFTABLES) {
		if (build_nft(cfg, text, sizeof(text)))
			return -1;
		fputs(text, out);
		return 0;
	}
	for (family = 4; family <= 6; family += 2) {
		if (build_iptables(&l, family == 4 ? "iptables" : "ip6tables", family, cfg,
				   RULES_CONNBYTES | RULES_U32 | RULES_ANSWERED))
			return -1;
		for (i = 0; i < l.count; i++) {
			fputs(l.cmd[i].argv[0], out);
			for (j = 1; j < l.cmd[i].argc; j++)
				print_word(out, l.cmd[i].argv[j]);
			fputc('\n', out);
		}
	}
	return 0;
}

int rules_install(const struct config *cfg, int families)
{
	char path4[256], path6[256];
	const char *tool4, *tool6;
	long other = installed_queue();

	/* Rules of a running hellosplit (on another queue) stay; those left by
	 * a crash would shadow the new ones and go. */
	if (other >= 0 && other != (long)cfg->queue_num && queue_bound(other)) {
		log_error("another hellosplit is running here (its rules send to NFQUEUE %ld); stop it first. If "
			  "that queue is not hellosplit's, remove the stale rules: hellosplit --rules-remove", other);
		return -1;
	}
	rules_remove(0);
	if (cfg->rules == RULES_NONE)
		return 0;
	if (cfg->rules == RULES_NFTABLES) {
		if (install_nftables(cfg, families))
			goto fail;
		return 0;
	}
	tool4 = rules_find_tool("iptables", path4, sizeof(path4));
	tool6 = rules_find_tool("ip6tables", path6, sizeof(path6));
	if (!tool4) {
		log_error("iptables is not installed (Debian: apt install iptables; OpenWrt: iptables-nft, or use "
			  "--rules nftables or --rules none with your own rules).");
		return -1;
	}
	if (install_iptables(cfg, tool4, 4))
		goto fail;
	if (!(families & RULES_IPV6))
		return 0;           /* nfqueue_open said why */
	if (!tool6)
		log_info("ip6tables is not installed: IPv6 flows are not split.");
	else if (access("/proc/net/if_inet6", F_OK))
		log_info("IPv6 is disabled in this kernel: only IPv4 flows are split.");
	else if (install_iptables(cfg, tool6, 6))
		goto fail;
	return 0;
fail:
	rules_remove(0);
	return -1;
}

/* Splits one line of `iptables -S` into words in place: spaces separate
 * them, double quotes hold a word with spaces (a comment), a backslash in
 * quotes escapes the next character. Returns the number of words, or -1 when
 * more than max. */
static int split_rule(char *line, const char *words[], int max)
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

/* Deletes every jump to the chain from mangle POSTROUTING, whatever its
 * matches (another --done-mark or --ports, an older version), by its rule
 * specification: a number would name another tool's rule once that tool
 * (wg-quick, firewalld, a fw4 reload) inserted or deleted one meanwhile. */
static void delete_jumps(const char *tool, const char *hook, const char *chain, int *removed)
{
	static char out[65536];
	char err[512], jump[64], prefix[32];
	const char *list[] = {tool, "-w", "10", "-t", "mangle", "-S", hook, NULL};
	const char *del[RULES_MAX_ARGS + 8] = {tool, "-w", "10", "-t", "mangle", "-D", hook};
	char *line, *next;
	size_t plen;

	snprintf(jump, sizeof(jump), " -j %s", chain);
	plen = (size_t)snprintf(prefix, sizeof(prefix), "-A %s ", hook);

	if (rules_run(list, NULL, out, sizeof(out)) != 0)
		return;
	for (line = out; *line; line = next) {
		size_t len = strcspn(line, "\n");
		int n;

		next = line + len + (line[len] == '\n');
		line[len] = 0;
		if (strncmp(line, prefix, plen) || len < strlen(jump) || strcmp(line + len - strlen(jump), jump))
			continue;
		n = split_rule(line + plen, del + 7, RULES_MAX_ARGS);
		if (n < 0) {
			log_error("%s: a jump to %s in mangle %s has more than %d words; delete it by "
				  "hand (%s -t mangle -S %s shows it).", tool, chain, hook, RULES_MAX_ARGS, tool, hook);
			continue;
		}
		del[7 + n] = NULL;
		if (rules_run(del, NULL, err, sizeof(err)) == 0)
			(*removed)++;
		else
			log_error("%s: deleting the jump to %s from mangle %s failed: %s", tool, chain, hook, err);
	}
}

/* Flushes and deletes one chain of ours; 0 also when there is none. */
static int remove_chain(const char *tool, const char *chain, int *removed)
{
	const char *flush[] = {tool, "-w", "10", "-t", "mangle", "-F", chain, NULL};
	const char *drop[] = {tool, "-w", "10", "-t", "mangle", "-X", chain, NULL};
	const char *list[] = {tool, "-w", "10", "-t", "mangle", "-S", chain, NULL};
	char err[512];

	if (rules_run(list, NULL, err, sizeof(err)) != 0)
		return 0;           /* no chain: clean */
	if (rules_run(flush, NULL, err, sizeof(err)) || rules_run(drop, NULL, err, sizeof(err))) {
		log_error("%s: removing chain %s failed: %s", tool, chain, err);
		return -1;
	}
	(*removed)++;
	return 0;
}

static int remove_iptables(const char *tool, int *removed)
{
	int bad;

	delete_jumps(tool, "POSTROUTING", RULES_CHAIN, removed);
	delete_jumps(tool, "INPUT", RULES_CHAIN_IN, removed);
	delete_jumps(tool, "FORWARD", RULES_CHAIN_IN, removed);
	bad = remove_chain(tool, RULES_CHAIN, removed);
	return remove_chain(tool, RULES_CHAIN_IN, removed) | bad;
}

int rules_remove(int verbose)
{
	char path[256], err[512];
	const char *tool;
	int bad = 0, removed = 0;

	if ((tool = rules_find_tool("iptables", path, sizeof(path))) != NULL)
		bad |= remove_iptables(tool, &removed);
	if ((tool = rules_find_tool("ip6tables", path, sizeof(path))) != NULL)
		bad |= remove_iptables(tool, &removed);
	if ((tool = rules_find_tool("nft", path, sizeof(path))) != NULL) {
		const char *list[] = {tool, "list", "table", "inet", RULES_NFT_TABLE, NULL};
		const char *del[] = {tool, "delete", "table", "inet", RULES_NFT_TABLE, NULL};

		if (rules_run(list, NULL, err, sizeof(err)) == 0) {
			if (rules_run(del, NULL, err, sizeof(err))) {
				log_error("nft: removing table inet %s failed: %s", RULES_NFT_TABLE, err);
				bad = 1;
			} else {
				removed++;
			}
		}
	}
	if (verbose)
		log_info(removed ? "firewall rules removed." : "no hellosplit rules were installed.");
	return bad ? -1 : 0;
}
