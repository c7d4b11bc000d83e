/* doctor-linux.c — `hellosplit doctor`: checks this machine for what the
 * daemon needs and prints one line per check, with a fix for each problem. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "doctor.h"
#include "nfqueue.h"
#include "rules.h"
#include "tc-plan.h"
#include "tc.h"

#define DOCTOR_CHAIN "HELLOSPLIT_DOCTOR"

static int run(const char *const argv[], char *out, size_t n)
{
	return rules_run(argv, NULL, out, n);
}

static void check_privilege(struct doctor *d)
{
	if (geteuid() == 0)
		doctor_ok("running as root");
	else
		doctor_problem(d, "not running as root: the daemon needs CAP_NET_ADMIN and CAP_NET_RAW",
			"run it with sudo (hellosplit doctor needs root too, to test the queue and rules)");
}

static void check_queue(struct doctor *d, const struct config *cfg)
{
	struct nfqueue q;
	char err[512], line[700];

	if (nfqueue_open(&q, (uint16_t)cfg->queue_num, cfg->fwmark, cfg->done_mark, err, sizeof(err)) == 0) {
		nfqueue_close(&q);
		snprintf(line, sizeof(line), "nfnetlink_queue works; NFQUEUE %u is free; raw sockets open", cfg->queue_num);
		doctor_ok(line);
		return;
	}
	snprintf(line, sizeof(line), "NFQUEUE %u: %s", cfg->queue_num, err);
	doctor_problem(d, line, strstr(err, "already used") ? "stop the other program or pick --queue-num N"
		   : "modprobe nfnetlink_queue (OpenWrt: opkg install kmod-nfnetlink-queue), run as root");
}

static const char *tool(const char *name, char *buf, size_t n, struct doctor *d, const char *fix)
{
	const char *path = rules_find_tool(name, buf, n);
	char line[300];

	if (!path) {
		snprintf(line, sizeof(line), "%s is not installed", name);
		if (fix)
			doctor_problem(d, line, fix);
		else
			doctor_note(line);
		return NULL;
	}
	return path;
}

/* Tries the matches the rules use in a scratch chain, then removes it. */
static void check_matches(struct doctor *d, const char *iptables)
{
	const char *mk[] = {iptables, "-w", "10", "-t", "mangle", "-N", DOCTOR_CHAIN, NULL};
	const char *connbytes[] = {iptables, "-w", "10", "-t", "mangle", "-A", DOCTOR_CHAIN, "-p", "tcp", "-m",
				   "connbytes", "--connbytes", "3:20", "--connbytes-dir", "original",
				   "--connbytes-mode", "packets", "-j", "RETURN", NULL};
	const char *connmark[] = {iptables, "-w", "10", "-t", "mangle", "-A", DOCTOR_CHAIN, "-m", "connmark",
				  "--mark", "0x20000000/0x20000000", "-j", "CONNMARK", "--set-xmark",
				  "0x20000000/0x20000000", NULL};
	const char *queue[] = {iptables, "-w", "10", "-t", "mangle", "-A", DOCTOR_CHAIN, "-p", "tcp", "-j", "NFQUEUE",
			       "--queue-num", "200", "--queue-bypass", NULL};
	const char *owner[] = {iptables, "-w", "10", "-t", "mangle", "-A", DOCTOR_CHAIN, "-m", "owner",
			       "--socket-exists", "-j", "RETURN", NULL};
	const char *u32[] = {iptables, "-w", "10", "-t", "mangle", "-A", DOCTOR_CHAIN, "-m", "u32", "--u32",
			     "0&0x3=1:3", "-j", "RETURN", NULL};
	const char *flush[] = {iptables, "-w", "10", "-t", "mangle", "-F", DOCTOR_CHAIN, NULL};
	const char *drop[] = {iptables, "-w", "10", "-t", "mangle", "-X", DOCTOR_CHAIN, NULL};
	char out[512];

	run(flush, out, sizeof(out));
	run(drop, out, sizeof(out));
	if (run(mk, out, sizeof(out))) {
		doctor_problem(d, "cannot create a chain in the mangle table", out[0] ? out : "see iptables");
		return;
	}
	if (run(queue, out, sizeof(out)))
		doctor_problem(d, "the NFQUEUE target is missing", "modprobe xt_NFQUEUE (OpenWrt: kmod-ipt-nfqueue)");
	else
		doctor_ok("NFQUEUE target with --queue-bypass");
	if (run(connmark, out, sizeof(out)))
		doctor_problem(d, "the connmark match or CONNMARK target is missing (conntrack)",
			"modprobe xt_connmark (OpenWrt: iptables-mod-conntrack-extra)");
	else
		doctor_ok("connmark match and CONNMARK target");
	if (run(connbytes, out, sizeof(out)))
		doctor_note("no connbytes match: hellosplit falls back to queueing each flow until it is done "
		     "(more packets reach it; OpenWrt: iptables-mod-conntrack-extra adds connbytes)");
	else
		doctor_ok("connbytes match (only the first packets of a flow are queued)");
	if (run(u32, out, sizeof(out)))
		doctor_note("no u32 match: packets without payload among a flow's first ones reach hellosplit too "
			    "(OpenWrt: iptables-mod-u32)");
	else
		doctor_ok("u32 match (only packets with payload are queued)");
	if (run(owner, out, sizeof(out)))
		doctor_note("no owner match: a local flow's second payload packet reaches hellosplit too "
			    "(OpenWrt: iptables-mod-extra)");
	else
		doctor_ok("owner match (a local flow the server answered skips the queue)");
	run(flush, out, sizeof(out));
	run(drop, out, sizeof(out));
}

static void check_conflicts(struct doctor *d, const struct config *cfg, const char *save_tool)
{
	const char *save[] = {save_tool, "-t", "mangle", NULL};
	static char out[65536];
	char num[32], line[200];

	if (run(save, out, sizeof(out)) != 0) {
		doctor_note("could not read the rule set (iptables-save failed)");
		return;
	}
	if (strstr(out, ":" RULES_CHAIN " ") || strstr(out, "-j " RULES_CHAIN))
		doctor_problem(d, "hellosplit rules are installed (hellosplit running, or left by a crash)",
			"if hellosplit is not running: hellosplit --rules-remove");
	else
		doctor_ok("no hellosplit rules installed");
	snprintf(num, sizeof(num), "--queue-num %u", cfg->queue_num);
	if (strstr(out, num) && !strstr(out, RULES_CHAIN)) {
		snprintf(line, sizeof(line), "another rule already sends packets to NFQUEUE %u", cfg->queue_num);
		doctor_problem(d, line, "pick another queue with --queue-num N");
	}
}

/* Interfaces with segmentation offloads hand local packets to the queue as
 * super-packets; hellosplit cuts them at --mss, which is fine but worth knowing. */
static void check_offloads(void)
{
	char ip[256], ethtool[256], out[4096], dev[64] = "", line[300];
	char *p;

	if (!rules_find_tool("ip", ip, sizeof(ip)))
		return;
	{
		const char *argv[] = {ip, "route", "show", "default", NULL};

		if (run(argv, out, sizeof(out)) || !(p = strstr(out, " dev ")) || sscanf(p + 5, "%63s", dev) != 1)
			return;
	}
	if (!rules_find_tool("ethtool", ethtool, sizeof(ethtool))) {
		snprintf(line, sizeof(line), "ethtool not installed: offloads of %s not checked", dev);
		doctor_note(line);
		return;
	}
	{
		const char *argv[] = {ethtool, "-k", dev, NULL};

		if (run(argv, out, sizeof(out)))
			return;
	}
	if (strstr(out, "generic-segmentation-offload: on") || strstr(out, "tcp-segmentation-offload: on"))
		snprintf(line, sizeof(line), "%s has TSO/GSO on: local packets may reach hellosplit as super-packets; "
			 "they are cut at --mss (default 1460/1440)", dev);
	else
		snprintf(line, sizeof(line), "%s has TSO/GSO off", dev);
	doctor_note(line);
}

/* One line: the engine the daemon would run with these options, and why. */
/* A running tc engine, or a clsact filter a kill -9 left: the twin of the
 * "rules are installed" problem of the NFQUEUE engine. */
static void check_tc_attached(struct doctor *d)
{
	char names[512], line[700];

	if (tc_attached(names, sizeof(names)) > 0) {
		snprintf(line, sizeof(line), "hellosplit's tc program is attached to %s (a hellosplit runs, or a clsact "
			 "filter was left by a kill -9)", names);
		doctor_problem(d, line, "stop the running hellosplit, or remove what is left: hellosplit --rules-remove");
	}
}

static void check_engine(struct doctor *d, const struct config *cfg)
{
	const char *flag = tc_plan_refusal(cfg);
	char why[768], line[1024];

	if (cfg->engine_kind == ENGINE_KIND_NFQUEUE) {
		doctor_ok("engine: nfqueue (--engine nfqueue)");
		return;
	}
	if (flag) {
		snprintf(line, sizeof(line), "engine: %s: the tc engine cannot serve %s", cfg->engine_kind ==
			 ENGINE_KIND_TC ? "--engine tc refuses to start" : "nfqueue", flag);
		if (cfg->engine_kind == ENGINE_KIND_TC)
			doctor_problem(d, line, "drop that option, or use --engine nfqueue (or auto)");
		else
			doctor_ok(line);
		return;
	}
	if (tc_probe(cfg, why, sizeof(why)) == 0) {
		doctor_ok(cfg->learn ? "engine: tc (the kernel takes the tc program: the hello is cut in the kernel, no "
			  "queue; learning sees the servers' answers at ingress)" :
			  "engine: tc (the kernel takes the tc program: the hello is cut in the kernel, no queue)");
		return;
	}
	snprintf(line, sizeof(line), "engine: %s: %s", cfg->engine_kind == ENGINE_KIND_TC ?
		 "--engine tc cannot start" : "nfqueue", why);
	if (cfg->engine_kind == ENGINE_KIND_TC)
		doctor_problem(d, line, "use --engine nfqueue (or auto), or a kernel with BPF, cls_bpf and clsact");
	else
		doctor_note(line);
}

int doctor_main(int argc, char **argv)
{
	struct doctor d = {0};
	struct config cfg;
	char path[256], path6[256], save[256], out[512];
	const char *iptables;
	int rc;

	if ((rc = config_load(&cfg, argc, argv)) >= 0)
		return rc;
	printf("hellosplit %s doctor\n", HELLOSPLIT_VERSION);
	check_privilege(&d);
	if (geteuid() != 0) {
		printf("\n%d problem(s).\n", d.problems);
		return 1;
	}
	check_engine(&d, &cfg);
	check_tc_attached(&d);
	check_queue(&d, &cfg);
	iptables = tool("iptables", path, sizeof(path), &d,
			"apt install iptables (OpenWrt: opkg install iptables-nft), or use --rules none");
	if (iptables) {
		const char *v[] = {iptables, "-V", NULL};

		if (run(v, out, sizeof(out)) == 0)
			doctor_ok(out);
		check_matches(&d, iptables);
		if (rules_find_tool("iptables-save", save, sizeof(save)))
			check_conflicts(&d, &cfg, save);
	}
	if (!tool("ip6tables", path6, sizeof(path6), &d, "apt install iptables (it carries ip6tables)"))
		doctor_note("IPv6 flows will not be split");
	else if (access("/proc/net/if_inet6", F_OK))
		doctor_note("IPv6 is disabled in this kernel");
	else
		doctor_ok("ip6tables present, IPv6 enabled");
	if (tool("nft", path, sizeof(path), &d, NULL)) {
		char text[4096], err[512];
		const char *c[] = {path, "-c", "-f", "-", NULL};

		if (rules_nft_build(&cfg, text, sizeof(text)) > 0 && rules_run(c, text, err, sizeof(err)) == 0)
			doctor_ok("nftables can hold hellosplit's rules (--rules nftables works)");
		else
			doctor_note("this kernel has no nftables queue support: use --rules iptables (the default)");
	}
	check_offloads();
	if (d.problems)
		printf("\n%d problem(s) found.\n", d.problems);
	else
		printf("\nAll good: sudo hellosplit\n");
	return d.problems ? 1 : 0;
}
