/* tc.c — the tc engine's loader and its daemon adapter: the program of
 * tc.bpf.c comes embedded in the binary (bpftool's skeleton, build/tc.skel.h);
 * it is attached to the clsact egress hook of every interface the options
 * select, and of those that appear later (netlink link events); the loop
 * reads the flow lines of its ring buffer and its per-CPU counters. At exit
 * the filters go, and the clsact qdiscs hellosplit created. */
#include "tc.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon.h"
#include "log.h"
#include "tc-plan.h"
#include "tc.skel.h"

#define TC_HANDLE 0x4853u       /* "HS": hellosplit's filters, with TC_PRIORITY and the program's name */
#define TC_PRIORITY 1u
#define TC_MAX_IFACES 256
#define TC_PROG_PREFIX "hellosplit_"
/* The clsact qdiscs hellosplit created, for --rules-remove after a kill -9:
 * one file per network namespace (its inode number). */
#define TC_STATE_DIR "/run/hellosplit"

/* ---- libbpf's messages: kept for the error line, printed at -vv */

static char libbpf_last[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;
	va_list copy;

	if (level == LIBBPF_DEBUG && log_verbosity < 2)
		return 0;
	va_copy(copy, ap);
	if (log_verbosity >= 2)
		vfprintf(log_stream(), fmt, copy);      /* whole: the verifier's log is long */
	va_end(copy);
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	if (level != LIBBPF_DEBUG && n)
		snprintf(libbpf_last, sizeof(libbpf_last), "%s", line);
	return 0;
}

int tc_built(void)
{
	return 1;
}

/* Opens the skeleton, writes the configuration, loads it. 0 or -errno (why). */
static int load(const struct config *cfg, struct tc_bpf **out, char *why, size_t n)
{
	struct tc_bpf *skel;
	int r;

	libbpf_set_print(libbpf_print);
	libbpf_last[0] = 0;
	skel = tc_bpf__open();
	if (!skel) {
		r = -errno;
		snprintf(why, n, "opening the embedded tc program failed: %s", strerror(-r));
		return r;
	}
	tc_plan_config(cfg, &skel->rodata->cfg);
	if ((r = bpf_map__set_max_entries(skel->maps.flows, cfg->engine.max_flows)) != 0) {
		snprintf(why, n, "sizing the flow map to --max-flows %u failed: %s", cfg->engine.max_flows, strerror(-r));
		tc_bpf__destroy(skel);
		return r;
	}
	if ((r = tc_bpf__load(skel)) != 0) {
		if (r > 0)
			r = -r;
		snprintf(why, n, "the kernel refused the tc program: %s%s%s (needs Linux >= 5.17 with BPF, cls_bpf, "
			 "clsact and BTF; hellosplit -vv shows libbpf's log)", strerror(-r),
			 libbpf_last[0] ? ": " : "", libbpf_last);
		tc_bpf__destroy(skel);
		return r;
	}
	*out = skel;
	return 0;
}

int tc_probe(const struct config *cfg, char *why, size_t n)
{
	struct tc_bpf *skel = NULL;
	int r = load(cfg, &skel, why, n);

	if (r == 0 && skel)
		tc_bpf__destroy(skel);
	return r;
}

/* ---- interfaces */

struct tc_iface {
	int ifindex;
	char name[IF_NAMESIZE];
	enum tc_iface_kind kind;
	int created;            /* hellosplit created its clsact qdisc */
};

struct tc_daemon {
	const struct config *cfg;
	struct tc_bpf *skel;
	struct ring_buffer *ring;
	struct tc_iface ifaces[TC_MAX_IFACES];
	int nifaces;
	int nl, signal_fd;
	uid_t uid;
	gid_t gid;
	int (*drop)(uid_t, gid_t);
	int learn_off;          /* --learn was asked for (the default): say it is off */
	struct stats stats;
	int stats_fd;           /* --stats-json, opened before the privileges go */
	int state_fd;           /* the qdiscs created (state_file), likewise */
	uint64_t *percpu;
	int ncpus;
};

/* /sys/class/net/NAME/FILE as a number (type: decimal, flags: hex). */
static int sys_number(const char *name, const char *file, unsigned *v)
{
	char path[128], buf[32];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = (unsigned)strtoul(buf, NULL, 0);
	return 0;
}

static int prog_fd(const struct tc_daemon *t, enum tc_iface_kind kind)
{
	return bpf_program__fd(kind == TC_IFACE_L3 ? t->skel->progs.hellosplit_l3 : t->skel->progs.hellosplit_l2);
}

/* 1 when the filter at hellosplit's handle and priority on ifindex is one of
 * hellosplit's programs, 0 when another's, -errno when there is none. */
static int filter_is_ours(int ifindex)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_EGRESS};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts), .handle = TC_HANDLE, .priority = TC_PRIORITY};
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, r;

	if ((r = bpf_tc_query(&hook, &opts)) != 0)
		return r;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (r)
		return r;
	return !strncmp(info.name, TC_PROG_PREFIX, strlen(TC_PROG_PREFIX));
}

static const char *state_file(void)
{
	static char path[96];
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		st.st_ino = 0;
	snprintf(path, sizeof(path), TC_STATE_DIR "/tc-qdiscs.%llu", (unsigned long long)st.st_ino);
	return path;
}

/* Notes the qdiscs hellosplit created, for --rules-remove after a kill -9,
 * through the descriptor opened as root (the daemon runs as --user later):
 * an empty file lists nothing. */
static void save_state(const struct tc_daemon *t)
{
	char text[TC_MAX_IFACES * 24];
	size_t k = 0;
	int i;

	if (t->state_fd < 0)
		return;
	text[0] = 0;
	for (i = 0; i < t->nifaces && k < sizeof(text) - 24; i++)
		if (t->ifaces[i].created)
			k += (size_t)snprintf(text + k, sizeof(text) - k, "%d %s\n", t->ifaces[i].ifindex,
					      t->ifaces[i].name);
	if (ftruncate(t->state_fd, 0) || (k && pwrite(t->state_fd, text, k, 0) != (ssize_t)k))
		log_info("cannot write %s (%s): after a crash, --rules-remove will leave the clsact qdiscs "
			 "hellosplit created.", state_file(), strerror(errno));
}

/* The empty state files daemons running as --user could not remove list
 * nothing: removed (as root, at start). */
static void sweep_state(void)
{
	DIR *dir = opendir(TC_STATE_DIR);
	struct dirent *de;
	struct stat st;
	char path[300];

	if (!dir)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "tc-qdiscs.", 10))
			continue;
		snprintf(path, sizeof(path), TC_STATE_DIR "/%s", de->d_name);
		if (!stat(path, &st) && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(path);
	}
	closedir(dir);
}

static int open_state(void)
{
	int fd;

	mkdir(TC_STATE_DIR, 0755);
	sweep_state();
	fd = open(state_file(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		log_info("cannot create %s (%s): after a crash, --rules-remove will leave the clsact qdiscs "
			 "hellosplit created.", state_file(), strerror(errno));
	return fd;
}

static int attach(struct tc_daemon *t, int ifindex, const char *name, enum tc_iface_kind kind)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_EGRESS};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts), .handle = TC_HANDLE, .priority = TC_PRIORITY,
				   .prog_fd = prog_fd(t, kind)};
	struct tc_iface *ifc;
	int r, created = 0;

	if (t->nifaces == TC_MAX_IFACES) {
		log_error("more than %d interfaces: %s is not served. Name the ones to serve with --iface.",
			  TC_MAX_IFACES, name);
		return -ENOSPC;
	}
	r = bpf_tc_hook_create(&hook);
	if (r == 0)
		created = 1;
	else if (r != -EEXIST) {
		log_error("creating the clsact qdisc on %s failed: %s. Is sch_clsact available (modprobe sch_ingress)?",
			  name, strerror(-r));
		return r;
	}
	r = bpf_tc_attach(&hook, &opts);
	if (r == -EEXIST && filter_is_ours(ifindex) == 1) {
		/* left by a daemon killed with -9: take its place */
		opts.flags = BPF_TC_F_REPLACE;
		opts.prog_id = 0;
		r = bpf_tc_attach(&hook, &opts);
	}
	if (r) {
		log_error("attaching the tc program to %s failed: %s%s. Exclude it with --exclude-iface %s.", name,
			  strerror(-r), r == -EEXIST ? " (another filter uses handle 0x4853 priority 1)" : "", name);
		if (created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return r;
	}
	ifc = &t->ifaces[t->nifaces++];
	ifc->ifindex = ifindex;
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	ifc->kind = kind;
	ifc->created = created;
	if (created)
		save_state(t);
	return 0;
}

/* Detaches the filter at hellosplit's handle and priority (check: only if
 * it runs a program of hellosplit's, which needs CAP_SYS_ADMIN: the daemon
 * itself knows it attached it); removes the clsact qdisc if hellosplit
 * created it. */
static void detach(int ifindex, const char *name, int created, int check, int verbose)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_EGRESS};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts), .handle = TC_HANDLE, .priority = TC_PRIORITY};
	int r;

	if ((!check || filter_is_ours(ifindex) == 1) && (r = bpf_tc_detach(&hook, &opts)) != 0 && r != -ENOENT &&
	    r != -ENODEV && r != -EINVAL)
		log_error("detaching the tc program from %s failed: %s. Remove it by hand: tc filter del dev %s "
			  "egress handle 0x4853 prio 1 bpf", name, strerror(-r), name);
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		r = bpf_tc_hook_destroy(&hook);
		if (r && r != -ENOENT && r != -ENODEV && r != -EINVAL)
			log_error("removing the clsact qdisc of %s failed: %s. Remove it by hand: tc qdisc del dev %s "
				  "clsact", name, strerror(-r), name);
	}
	if (verbose)
		log_info("tc: detached from %s%s.", name, created ? ", clsact removed" : "");
}

static struct tc_iface *find_iface(struct tc_daemon *t, int ifindex)
{
	int i;

	for (i = 0; i < t->nifaces; i++)
		if (t->ifaces[i].ifindex == ifindex)
			return &t->ifaces[i];
	return NULL;
}

/* Attaches to every selected interface not served yet; forgets those gone
 * (the kernel removed their qdisc with them). Returns the number attached now. */
static int rescan(struct tc_daemon *t, int announce)
{
	struct if_nameindex *list = if_nameindex(), *it;
	int i, added = 0;

	if (!list) {
		log_error("listing the interfaces failed: %s.", strerror(errno));
		return 0;
	}
	for (i = 0; i < t->nifaces;) {
		for (it = list; it->if_index && (int)it->if_index != t->ifaces[i].ifindex; it++)
			;
		if (!it->if_index) {
			if (announce)
				log_info("tc: %s is gone.", t->ifaces[i].name);
			t->ifaces[i] = t->ifaces[--t->nifaces];
			save_state(t);
		} else {
			i++;
		}
	}
	for (it = list; it->if_index; it++) {
		unsigned type = 0, flags = 0;
		enum tc_iface_kind kind;

		if (find_iface(t, (int)it->if_index) || sys_number(it->if_name, "type", &type) ||
		    sys_number(it->if_name, "flags", &flags))
			continue;
		kind = tc_plan_iface(t->cfg, it->if_name, type, flags);
		if (kind == TC_IFACE_SKIP)
			continue;
		if (attach(t, (int)it->if_index, it->if_name, kind) == 0) {
			added++;
			if (announce)
				log_info("tc: attached to %s (%s).", it->if_name, tc_plan_link_name(type));
		}
	}
	if_freenameindex(list);
	return added;
}

static int open_link_events(void)
{
	struct sockaddr_nl sa;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* ---- the adapter */

static int flow_line(void *ctx, void *data, size_t size)
{
	static const char *const outcomes[] = {"split", "failopen_not_tls", "failopen_emit", "failopen_error",
					       "failopen_overflow"};
	const struct tc_event *ev = data;
	struct engine_flow_event fe;
	uint32_t cuts[TC_MAX_POSITIONS];
	int i;

	(void)ctx;
	if (size < sizeof(*ev))
		return 0;
	memset(&fe, 0, sizeof(fe));
	fe.src = ev->saddr;
	fe.dst = ev->daddr;
	fe.family = ev->family;
	fe.sport = ev->sport;
	fe.dport = ev->dport;
	fe.outcome = ev->outcome < sizeof(outcomes) / sizeof(outcomes[0]) ? outcomes[ev->outcome] : "failopen_error";
	fe.sni = ev->sni_len ? ev->sni : NULL;
	fe.sni_len = ev->sni_len;
	fe.ncuts = ev->ncuts > TC_MAX_POSITIONS ? TC_MAX_POSITIONS : ev->ncuts;
	for (i = 0; i < fe.ncuts; i++)
		cuts[i] = ev->cuts[i];
	fe.cuts = cuts;
	fe.window_len = ev->window;
	fe.observe = 0;
	log_flow_event(NULL, &fe);
	return 0;
}

static int tc_start(void *ctx, struct engine *e)
{
	struct tc_daemon *t = ctx;
	char names[512];
	size_t k = 0;
	int i, r;

	(void)e;
	rescan(t, 0);
	if ((r = t->drop(t->uid, t->gid)) != 0) {
		log_error("dropping privileges to uid %u gid %u failed: %s.", (unsigned)t->uid, (unsigned)t->gid,
			  strerror(-r));
		return r;
	}
	names[0] = 0;
	for (i = 0; i < t->nifaces && k < sizeof(names) - 20; i++)
		k += (size_t)snprintf(names + k, sizeof(names) - k, "%s%s", i ? ", " : "", t->ifaces[i].name);
	log_info("running in the kernel (tc engine) on %d interface%s%s%s; no queue, no raw socket. Ctrl-C stops "
		 "and detaches.", t->nifaces, t->nifaces == 1 ? "" : "s", t->nifaces ? ": " : "", names);
	if (t->learn_off)
		log_info("tc: learning is off with the tc engine: every hello is cut at --split-at "
			 "(--engine nfqueue learns; --no-learn silences this).");
	if (!t->nifaces)
		log_info("tc: no interface selected yet; attaching to those that appear.");
	return 0;
}

static int tc_wait(void *ctx, uint32_t timeout_ms)
{
	struct tc_daemon *t = ctx;
	struct pollfd pfd[3] = {{t->nl, POLLIN, 0}, {t->signal_fd, POLLIN, 0},
				{t->ring ? ring_buffer__epoll_fd(t->ring) : -1, POLLIN, 0}};
	struct signalfd_siginfo si;
	int events = 0;

	if (poll(pfd, 3, (int)timeout_ms) < 0 && errno != EINTR) {
		int e = errno;

		log_error("poll failed: %s.", strerror(e));
		return -e;
	}
	if ((pfd[0].revents | pfd[2].revents) & POLLIN)
		events |= DAEMON_PACKETS;
	while ((pfd[1].revents & POLLIN) && read(t->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			events |= DAEMON_PRINT_STATS;
		else if (si.ssi_signo == SIGHUP)
			events |= DAEMON_RELOAD;
		else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
			events |= DAEMON_STOP;
	}
	return events;
}

static int tc_receive(void *ctx, uint64_t now)
{
	struct tc_daemon *t = ctx;
	char buf[8192];
	int changed = 0;

	(void)now;
	while (recv(t->nl, buf, sizeof(buf), 0) > 0)
		changed = 1;
	if (changed)
		rescan(t, 1);
	if (t->ring)
		ring_buffer__consume(t->ring);
	return 0;
}

static const struct stats *tc_stats(void *ctx)
{
	struct tc_daemon *t = ctx;
	uint64_t sum[TC_C_COUNT];
	uint32_t i;
	int c;

	memset(sum, 0, sizeof(sum));
	for (i = 0; i < TC_C_COUNT; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &i, t->percpu))
			continue;
		for (c = 0; c < t->ncpus; c++)
			sum[i] += t->percpu[c];
	}
	tc_plan_stats(sum, &t->stats);
	return &t->stats;
}

/* --stats-json through the descriptor opened as root: rewritten in place
 * (the daemon may no longer create files in its directory). */
static void tc_save_stats(void *ctx, const struct stats *s, double uptime)
{
	struct tc_daemon *t = ctx;
	char buf[2048];
	FILE *f;
	long n;

	if (t->stats_fd < 0 || !(f = fmemopen(buf, sizeof(buf), "w")))
		return;
	stats_write_json(f, s, uptime);
	n = ftell(f);
	fclose(f);
	if (n <= 0 || ftruncate(t->stats_fd, 0) || pwrite(t->stats_fd, buf, (size_t)n, 0) != n)
		log_error("cannot write the counters to '%s' (--stats-json): %s.", t->cfg->stats_json, strerror(errno));
}

static void tc_close(void *ctx)
{
	struct tc_daemon *t = ctx;
	uint64_t sum[3] = {0, 0, 0};
	uint32_t idx[3] = {TC_C_TFO, TC_C_SNI_LATER, TC_C_SNI_MISSED};
	int i, c;

	if (t->ring)
		ring_buffer__consume(t->ring);
	for (i = 0; i < 3 && t->percpu; i++)
		if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &idx[i], t->percpu))
			for (c = 0; c < t->ncpus; c++)
				sum[i] += t->percpu[c];
	if (sum[0] || sum[1] || sum[2])
		log_info("tc: %llu SYNs with data (TCP Fast Open) passed unsplit; %llu hellos had their hostname in a "
			 "later packet or across two (cut there); %llu where the walk could not follow it (cut at the numeric "
			 "positions only).",
			 (unsigned long long)sum[0], (unsigned long long)sum[1], (unsigned long long)sum[2]);
	for (i = 0; i < t->nifaces; i++)
		detach(t->ifaces[i].ifindex, t->ifaces[i].name, t->ifaces[i].created, 0, 0);
	if (t->nifaces)
		log_info("tc: detached from %d interface%s.", t->nifaces, t->nifaces == 1 ? "" : "s");
	t->nifaces = 0;
	if (t->state_fd >= 0 && ftruncate(t->state_fd, 0) == 0)
		unlink(state_file());   /* as root; under --user the empty file stays */
}

static uint64_t clock_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int open_signals(void)
{
	sigset_t set;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int tc_run(const struct config *cfg_given, uid_t uid, gid_t gid, int (*drop)(uid_t, gid_t), char *why, size_t n)
{
	static struct tc_daemon t;
	static struct config run_cfg;   /* learning off: the program cuts at --split-at */
	const struct config *cfg = &run_cfg;
	const struct daemon_adapter adapter = {
		.ctx = &t,
		.start = tc_start,
		.wait = tc_wait,
		.receive = tc_receive,
		.stats = tc_stats,
		.close = tc_close,
		.save_stats = tc_save_stats,
	};
	const struct daemon_clock clock = {clock_ms, NULL};
	int rc;

	memset(&t, 0, sizeof(t));
	run_cfg = *cfg_given;
	t.learn_off = run_cfg.learn;
	run_cfg.learn = 0;
	t.cfg = cfg;
	t.uid = uid;
	t.gid = gid;
	t.drop = drop;
	t.nl = t.signal_fd = t.stats_fd = t.state_fd = -1;
	if (load(cfg, &t.skel, why, n) || !t.skel)
		return TC_NOT_STARTED;
	if (cfg->stats_json && (t.stats_fd = open(cfg->stats_json, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		log_error("cannot open '%s' (--stats-json): %s. Give a file in a directory that exists and is writable.",
			  cfg->stats_json, strerror(errno));
		tc_bpf__destroy(t.skel);
		return 1;
	}
	t.ncpus = libbpf_num_possible_cpus();
	if (t.ncpus <= 0 || !(t.percpu = calloc((size_t)t.ncpus, sizeof(uint64_t)))) {
		snprintf(why, n, "counting the CPUs for the tc counters failed (%d)", t.ncpus);
		rc = TC_NOT_STARTED;
		goto out;
	}
	t.state_fd = open_state();
	if ((t.nl = open_link_events()) < 0) {
		snprintf(why, n, "opening the netlink socket for link events failed: %s", strerror(-t.nl));
		rc = TC_NOT_STARTED;
		goto out;
	}
	if (cfg->verbose && !(t.ring = ring_buffer__new(bpf_map__fd(t.skel->maps.events), flow_line, NULL, NULL))) {
		snprintf(why, n, "opening the tc program's ring buffer failed: %s", strerror(errno));
		rc = TC_NOT_STARTED;
		goto out;
	}
	if ((t.signal_fd = open_signals()) < 0) {
		log_error("cannot set up the signals: %s.", strerror(errno));
		rc = 1;
		goto out;
	}
	rc = daemon_loop(cfg, &adapter, &clock);
out:
	tc_close(&t);
	if (t.ring)
		ring_buffer__free(t.ring);
	if (t.nl >= 0)
		close(t.nl);
	if (t.signal_fd >= 0)
		close(t.signal_fd);
	if (t.stats_fd >= 0)
		close(t.stats_fd);
	if (t.state_fd >= 0)
		close(t.state_fd);
	free(t.percpu);
	tc_bpf__destroy(t.skel);
	return rc;
}

int tc_remove(int verbose)
{
	struct if_nameindex *list = if_nameindex(), *it;
	int created[TC_MAX_IFACES], ncreated = 0, i, removed = 0;
	FILE *f = fopen(state_file(), "re");
	char line[64];

	libbpf_set_print(libbpf_print);
	if (f) {
		while (ncreated < TC_MAX_IFACES && fgets(line, sizeof(line), f))
			created[ncreated++] = (int)strtol(line, NULL, 10);
		fclose(f);
	}
	if (!list) {
		log_error("listing the interfaces failed: %s.", strerror(errno));
		return -errno;
	}
	for (it = list; it->if_index; it++) {
		int ours = filter_is_ours((int)it->if_index) == 1, made = 0;

		for (i = 0; i < ncreated; i++)
			made |= created[i] == (int)it->if_index;
		if (!ours && !made)
			continue;
		detach((int)it->if_index, it->if_name, made, 1, verbose);
		removed++;
	}
	if_freenameindex(list);
	unlink(state_file());
	if (verbose && !removed)
		log_info("tc: no hellosplit filter attached.");
	return 0;
}
