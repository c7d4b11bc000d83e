/* rules-linux.c — installs, prints and removes the rules that rules.c
 * builds: finds the firewall tools, runs them without a shell, tries the
 * variants a kernel may lack matches for, and deletes every trace of
 * hellosplit's chains and table. */
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

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

	if (errlen)
		err[0] = 0;         /* also when the tool never ran */
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
		rules_nft_error_line(err);
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
		rules_nft_error_line(err);
		log_error("--rules nftables: installing the ruleset failed: %s", err);
		return -1;
	}
	/* IPv6 that cannot be injected is not queued at all. */
	if (!(families & RULES_IPV6) && (rules_run(ipv4_only, NULL, err, sizeof(err)) != 0 ||
					 (cfg->learn && rules_run(ipv4_only_in, NULL, err, sizeof(err)) != 0))) {
		rules_nft_error_line(err);
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
		n = rules_split_words(line + plen, del + 7, RULES_MAX_ARGS);
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
