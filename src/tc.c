/* tc.c — the tc engine's loader and its daemon adapter: the program of
 * tc.bpf.c comes embedded in the binary (bpftool's skeleton, build/tc.skel.h);
 * it is attached to the egress hook of every interface the options select,
 * and of those that appear later (netlink link events): as a tcx link where
 * the kernel has tcx (Linux >= 6.6: no qdisc to add, and the kernel detaches
 * the program when the daemon's last descriptor goes, even after kill -9),
 * else as a filter of a clsact qdisc. The loop reads the flow lines of its
 * ring buffer and its per-CPU counters. At exit the links close, or the
 * filters go with the clsact qdiscs hellosplit created.
 *
 * Learning: the kernel chooses each named hello's rung (the rungs map, the
 * ladder's positions; the learned map, the learner's entries by name hash,
 * rewritten here whenever what is learned changes), and reports each split
 * flow's outcome through the ring buffer (an ingress program on the same
 * interfaces sees the servers' first answers); the outcomes feed the same
 * learner the NFQUEUE engine feeds (learner.c). */
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
#include "file.h"
#include "learned.h"
#include "learner.h"
#include "log.h"
#include "tc-plan.h"
#include "tc.skel.h"

#define TC_HANDLE 0x4853u       /* "HS": hellosplit's filters, with TC_PRIORITY and the program's name */
#define TC_PRIORITY 1u
#define TC_MAX_IFACES 256
#define TC_PROG_PREFIX "hellosplit_"
/* BPF_TCX_EGRESS of <linux/bpf.h> since Linux 6.6; Debian bookworm's headers
 * (6.1) do not have it. */
#define TC_TCX_EGRESS 47
#define TC_TCX_INGRESS 46
/* The clsact qdiscs hellosplit created, for --rules-remove after a kill -9:
 * one file per network namespace (its inode number). */
#define TC_STATE_DIR "/run/hellosplit"
/* Learning: the hello events' names by flow, until the flow's outcome
 * comes (direct-mapped: a newer flow in the slot loses the older's report). */
#define TC_NAMES 4096
/* The learned map is rewritten at each change, and this often anyway (expiry). */
#define TC_SYNC_S 60

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
	int link_fd;            /* tcx: the link (closing it detaches); clsact: -1 */
	int link_in_fd;         /* tcx, learning: the ingress link; else -1 */
};

struct tc_name {
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t family, len, used;
	int16_t rung;
	uint8_t name[TC_SNI_MAX];
};

struct tc_daemon {
	const struct config *cfg;
	struct engine *engine;
	struct learner *lr;     /* learning (daemon_loop's learner), or NULL */
	uint64_t synced_changes, synced_at;
	int synced, sync_failed;
	uint64_t successes, failures, moves, gave_up, unmatched;
	int learn_fd;           /* the --state file, opened before the privileges go */
	const char *learn_path;
	struct tc_name names[TC_NAMES];
	struct tc_site_key want[TC_SITES], stale[TC_SITES];
	struct tc_bpf *skel;
	struct ring_buffer *ring;
	struct tc_iface ifaces[TC_MAX_IFACES];
	int nifaces;
	int nl, signal_fd;
	uid_t uid;
	gid_t gid;
	int (*drop)(uid_t, gid_t);
	enum tc_hook hook;      /* --tc-hook; auto becomes tcx or clsact at the first attach */
	int other_daemon;       /* an interface already had a hellosplit program at its tcx hook */
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

static int filter_is_ours(int ifindex, enum bpf_tc_attach_point point);

/* The ingress program (learning: the servers' answers). */
static int prog_in_fd(const struct tc_daemon *t, enum tc_iface_kind kind)
{
	return bpf_program__fd(kind == TC_IFACE_L3 ? t->skel->progs.hellosplit_inl3 :
			       t->skel->progs.hellosplit_inl2);
}

static const char *point_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

/* Attaches fd at hellosplit's handle and priority to one hook: 0 or -errno. */
static int attach_filter(int ifindex, enum bpf_tc_attach_point point, int fd)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = point};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts), .handle = TC_HANDLE, .priority = TC_PRIORITY,
				   .prog_fd = fd};
	int r = bpf_tc_attach(&hook, &opts);

	if (r == -EEXIST && filter_is_ours(ifindex, point) == 1) {
		/* left by a daemon killed with -9: take its place */
		opts.flags = BPF_TC_F_REPLACE;
		opts.prog_id = 0;
		r = bpf_tc_attach(&hook, &opts);
	}
	return r;
}

/* Detaches hellosplit's filter from one hook (check: only if it runs one
 * of hellosplit's programs). 0, or -errno said. */
static int detach_filter(int ifindex, const char *name, enum bpf_tc_attach_point point, int check)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = point};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts), .handle = TC_HANDLE, .priority = TC_PRIORITY};
	int r;

	if (check && filter_is_ours(ifindex, point) != 1)
		return 0;
	r = bpf_tc_detach(&hook, &opts);
	if (r && r != -ENOENT && r != -ENODEV && r != -EINVAL) {
		log_error("detaching the tc program from %s %s failed: %s. Remove it by hand: tc filter del dev %s "
			  "%s handle 0x4853 prio 1 bpf", name, point_name(point), strerror(-r), name, point_name(point));
		return r;
	}
	return 0;
}

/* 1 when the filter at hellosplit's handle and priority on ifindex is one of
 * hellosplit's programs, 0 when another's, -errno when there is none. */
static int filter_is_ours(int ifindex, enum bpf_tc_attach_point point)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = point};
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

/* 1 when a program of hellosplit's is attached at ifindex's tcx egress
 * (another daemon's: two would cut each hello twice), 0 when none, -errno
 * when the kernel cannot say (-EINVAL: no tcx). */
static int tcx_has_ours(int ifindex)
{
	__u32 ids[64], cnt = 64, i;
	int r = bpf_prog_query(ifindex, TC_TCX_EGRESS, 0, NULL, ids, &cnt), ours = 0;

	if (r)
		return r < 0 ? r : -errno;
	for (i = 0; i < cnt && i < 64 && !ours; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		       !strncmp(info.name, TC_PROG_PREFIX, strlen(TC_PROG_PREFIX));
		close(fd);
	}
	return ours;
}

/* Attaches as a tcx link: 0, -EINVAL when the kernel has no tcx (before
 * 6.6), another -errno (said) when it refuses. */
static int tcx_attach(struct tc_daemon *t, int ifindex, const char *name, enum tc_iface_kind kind)
{
	struct tc_iface *ifc;
	int fd, in_fd = -1, r = tcx_has_ours(ifindex);

	if (r == -EINVAL)
		return r;
	if (r == 1) {
		log_error("%s already has a hellosplit program at its tcx egress: another hellosplit runs in this "
			  "network namespace. Stop it first (two would cut each hello twice).", name);
		t->other_daemon = 1;
		return -EEXIST;
	}
	fd = bpf_link_create(prog_fd(t, kind), ifindex, TC_TCX_EGRESS, NULL);
	if (fd < 0) {
		r = fd;
		if (r != -EINVAL || t->hook == TC_HOOK_TCX)
			log_error("attaching the tc program to %s (tcx) failed: %s. %s", name, strerror(-r),
				  r == -EINVAL ? "This kernel has no tcx (Linux >= 6.6): use --tc-hook clsact."
					       : "Try --tc-hook clsact, or exclude it with --exclude-iface.");
		return r;
	}
	if (t->cfg->learn && (in_fd = bpf_link_create(prog_in_fd(t, kind), ifindex, TC_TCX_INGRESS, NULL)) < 0) {
		/* the servers' answers come back on the interface the hello left by */
		log_error("attaching the tc program to %s ingress (tcx) failed: %s. Try --tc-hook clsact, or exclude "
			  "it with --exclude-iface.", name, strerror(-in_fd));
		close(fd);
		return in_fd;
	}
	ifc = &t->ifaces[t->nifaces++];
	ifc->ifindex = ifindex;
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	ifc->kind = kind;
	ifc->created = 0;
	ifc->link_fd = fd;
	ifc->link_in_fd = in_fd;
	t->hook = TC_HOOK_TCX;
	return 0;
}

static int attach(struct tc_daemon *t, int ifindex, const char *name, enum tc_iface_kind kind)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_EGRESS};
	enum bpf_tc_attach_point failed = BPF_TC_EGRESS;
	struct tc_iface *ifc;
	int r, created = 0;

	if (t->nifaces == TC_MAX_IFACES) {
		log_error("more than %d interfaces: %s is not served. Name the ones to serve with --iface.",
			  TC_MAX_IFACES, name);
		return -ENOSPC;
	}
	if (t->hook != TC_HOOK_CLSACT) {
		if ((r = tcx_attach(t, ifindex, name, kind)) != -EINVAL || t->hook == TC_HOOK_TCX)
			return r;
		t->hook = TC_HOOK_CLSACT;   /* a kernel before 6.6: no tcx */
	}
	r = bpf_tc_hook_create(&hook);
	if (r == 0)
		created = 1;
	else if (r != -EEXIST) {
		log_error("creating the clsact qdisc on %s failed: %s. Is sch_clsact available (modprobe sch_ingress)?",
			  name, strerror(-r));
		return r;
	}
	r = attach_filter(ifindex, BPF_TC_EGRESS, prog_fd(t, kind));
	if (!r && t->cfg->learn) {
		/* the servers' answers come back on the interface the hello left by */
		failed = BPF_TC_INGRESS;
		if ((r = attach_filter(ifindex, BPF_TC_INGRESS, prog_in_fd(t, kind))) != 0)
			detach_filter(ifindex, name, BPF_TC_EGRESS, 0);
	}
	if (r) {
		log_error("attaching the tc program to %s %s failed: %s%s. Exclude it with --exclude-iface %s.", name,
			  point_name(failed), strerror(-r),
			  r == -EEXIST ? " (another filter uses handle 0x4853 priority 1)" : "", name);
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
	ifc->link_fd = -1;
	ifc->link_in_fd = -1;
	if (created)
		save_state(t);
	return 0;
}

/* Detaches the filter at hellosplit's handle and priority (check: only if
 * it runs a program of hellosplit's, which needs CAP_SYS_ADMIN: the daemon
 * itself knows it attached it); removes the clsact qdisc if hellosplit
 * created it. */
static void detach(int ifindex, const char *name, int created, int check, int verbose, int ingress)
{
	struct bpf_tc_hook hook = {.sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_EGRESS};
	int r;

	detach_filter(ifindex, name, BPF_TC_EGRESS, check);
	if (ingress)
		detach_filter(ifindex, name, BPF_TC_INGRESS, check);    /* learning's */
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
			if (t->ifaces[i].link_fd >= 0)
				close(t->ifaces[i].link_fd);
			if (t->ifaces[i].link_in_fd >= 0)
				close(t->ifaces[i].link_in_fd);
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

/* ---- learning: names by flow, outcomes, the learned map */

static uint32_t tuple_slot(const uint8_t *saddr, const uint8_t *daddr, uint16_t sport, uint16_t dport)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ saddr[i]) * 16777619u ^ daddr[i];
	h = (h ^ sport) * 16777619u;
	h = (h ^ dport) * 16777619u;
	return (h ^ (h >> 15)) & (TC_NAMES - 1);
}

static int same_tuple(const struct tc_name *n, const struct tc_event *ev)
{
	return n->used && n->family == ev->family && n->sport == ev->sport && n->dport == ev->dport &&
	       !memcmp(n->saddr, ev->saddr, 16) && !memcmp(n->daddr, ev->daddr, 16);
}

/* A split hello's name and rung, kept until its outcome comes. */
static void remember(struct tc_daemon *t, const struct tc_event *ev)
{
	struct tc_name *n = &t->names[tuple_slot(ev->saddr, ev->daddr, ev->sport, ev->dport)];

	memcpy(n->saddr, ev->saddr, 16);
	memcpy(n->daddr, ev->daddr, 16);
	n->sport = ev->sport;
	n->dport = ev->dport;
	n->family = ev->family;
	n->rung = ev->rung;
	n->len = ev->sni_len;           /* at most TC_SNI_MAX - 1 */
	memcpy(n->name, ev->sni, n->len);
	n->used = 1;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tc_site_key));
}

/* Writes the learner's entries and pins into the learned map and removes
 * what is no longer there: at each change (force), else every TC_SYNC_S
 * (entries expire). */
static void sync_learned(struct tc_daemon *t, int force)
{
	const struct learn *l = &t->lr->learn;
	int fd = bpf_map__fd(t->skel->maps.learned);
	uint64_t now = (uint64_t)time(NULL);
	struct tc_site_key k, next, *prev = NULL;
	struct tc_site v;
	uint32_t i, nwant = 0, nstale = 0;
	int failed = 0;

	if (t->synced && !force && l->changes == t->synced_changes && now < t->synced_at + TC_SYNC_S)
		return;
	for (i = 0; i < l->high_water && nwant < TC_SITES; i++) {
		if (tc_plan_entry(&l->entries[i], now, &k, &v))
			continue;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			failed = errno;
		else
			t->want[nwant++] = k;
	}
	qsort(t->want, nwant, sizeof(t->want[0]), key_cmp);
	while (nstale < TC_SITES && !bpf_map_get_next_key(fd, prev, &next)) {
		if (!bsearch(&next, t->want, nwant, sizeof(t->want[0]), key_cmp))
			t->stale[nstale++] = next;
		k = next;
		prev = &k;
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &t->stale[i]);
	if (failed && !t->sync_failed)
		log_error("tc: writing the learned rungs into the kernel failed: %s; those sites are cut at rung 0 "
			  "until the next change.", strerror(failed));
	t->sync_failed = failed != 0;
	t->synced = 1;
	t->synced_changes = l->changes;
	t->synced_at = now;
}

/* The ladder's rungs and the pins' positions into the rungs map (once). */
static int write_rungs(struct tc_daemon *t)
{
	const struct learn *l = &t->lr->learn;
	int fd = bpf_map__fd(t->skel->maps.rungs);
	struct tc_rung r;
	uint32_t i;

	for (i = 0; i < (uint32_t)l->ladder.count + l->npins && i < TC_RUNGS; i++) {
		uint32_t idx = i < (uint32_t)l->ladder.count ? i : TC_PIN_RUNG0 + i - (uint32_t)l->ladder.count;

		tc_plan_rung(i < (uint32_t)l->ladder.count ? &l->ladder.rungs[i].spec :
			     &l->pin_specs[i - (uint32_t)l->ladder.count], &r);
		if (bpf_map_update_elem(fd, &idx, &r, BPF_ANY)) {
			log_error("tc: writing rung %u into the kernel's rungs map failed: %s.", idx, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* A split flow's outcome from the kernel: to the learner, as the NFQUEUE
 * engine reports it. */
static void on_outcome(struct tc_daemon *t, const struct tc_event *ev)
{
	static const enum engine_outcome outcomes[] = {ENGINE_OUTCOME_SUCCESS, ENGINE_OUTCOME_RESET,
						       ENGINE_OUTCOME_FIN, ENGINE_OUTCOME_SILENT};
	struct tc_name *n = &t->names[tuple_slot(ev->saddr, ev->daddr, ev->sport, ev->dport)];
	struct engine_outcome_event oe;
	enum engine_learned r;

	if (!t->lr || ev->outcome > TC_EV_SILENT)
		return;
	if (!same_tuple(n, ev)) {
		t->unmatched++;         /* its slot went to a newer flow: not learned from */
		return;
	}
	memset(&oe, 0, sizeof(oe));
	oe.src = ev->saddr;
	oe.dst = ev->daddr;
	oe.family = ev->family;
	oe.sport = ev->sport;
	oe.dport = ev->dport;
	oe.name = n->name;
	oe.name_len = n->len;
	oe.rung = n->rung;
	oe.outcome = outcomes[ev->outcome - TC_EV_ANSWER];
	n->used = 0;
	if (oe.outcome == ENGINE_OUTCOME_SUCCESS)
		t->successes++;
	else
		t->failures++;
	r = learner_outcome(t->lr, &oe);
	if (r == ENGINE_LEARN_MOVED)
		t->moves++;
	else if (r == ENGINE_LEARN_GAVE_UP)
		t->gave_up++;
	sync_learned(t, 0);
}

/* ---- the adapter */

static int flow_line(void *ctx, void *data, size_t size)
{
	static const char *const outcomes[] = {"split", "failopen_not_tls", "failopen_emit", "failopen_error",
					       "failopen_overflow", "pass_learned"};
	struct tc_daemon *t = ctx;
	const struct tc_event *ev = data;
	struct engine_flow_event fe;
	uint32_t cuts[TC_MAX_POSITIONS];
	int i;

	if (size < sizeof(*ev))
		return 0;
	if (ev->outcome >= TC_EV_ANSWER) {
		on_outcome(t, ev);
		return 0;
	}
	if (t->lr && ev->outcome == TC_EV_SPLIT && ev->sni_len && ev->rung >= 0)
		remember(t, ev);
	if (!t->cfg->verbose)
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
	fe.observe = t->cfg->engine.observe;   /* the program cut nothing: "would split" */
	fe.rung = ev->rung;
	if (t->lr && ev->sni_len && ev->outcome == TC_EV_SPLIT)
		fe.chosen_by = learner_why(t->lr, ev->rung, tc_plan_source(ev->source));
	log_flow_event(NULL, &fe);
	return 0;
}

/* The learned state (learner_tick): as root, replaced atomically; as
 * --user, rewritten in place through the descriptor opened as root (a
 * write cut short by a crash loses the lines after it: the next start warns
 * and keeps the rest). */
static int tc_save_learned(void *ctx, const char *text, size_t len)
{
	struct tc_daemon *t = ctx;
	int r;

	if (geteuid() == 0 || t->learn_fd < 0) {
		r = file_replace_private(t->learn_path, text, len);
	} else {
		r = 0;
		if (ftruncate(t->learn_fd, 0) || pwrite(t->learn_fd, text, len, 0) != (ssize_t)len)
			r = -errno;
	}
	if (r && !t->lr->save_failed) {
		t->lr->save_failed = 1;
		log_error("cannot write the learned state %s: %s. Give a writable file with --state FILE; learning "
			  "goes on in memory.", t->learn_path, strerror(-r));
	}
	return r;
}

static int tc_start(void *ctx, struct engine *e)
{
	struct tc_daemon *t = ctx;
	char names[512];
	size_t k = 0;
	int i, r;

	t->engine = e;
	if (t->cfg->learn) {
		t->lr = learner_running();
		if (!t->lr) {
			log_error("tc: learning is on but no learner runs (an internal error); use --no-learn.");
			return -EINVAL;
		}
		if ((r = write_rungs(t)) != 0)
			return r;
		sync_learned(t, 1);
	}
	rescan(t, 0);
	if (t->other_daemon)
		return -EEXIST;   /* said by tcx_attach */
	if ((r = t->drop(t->uid, t->gid)) != 0) {
		log_error("dropping privileges to uid %u gid %u failed: %s.", (unsigned)t->uid, (unsigned)t->gid,
			  strerror(-r));
		return r;
	}
	names[0] = 0;
	for (i = 0; i < t->nifaces && k < sizeof(names) - 20; i++)
		k += (size_t)snprintf(names + k, sizeof(names) - k, "%s%s", i ? ", " : "", t->ifaces[i].name);
	log_info("running in the kernel (tc engine, %s) on %d interface%s%s%s; no queue, no raw socket. Ctrl-C "
		 "stops and detaches.", t->hook == TC_HOOK_CLSACT ? "clsact" : "tcx", t->nifaces,
		 t->nifaces == 1 ? "" : "s", t->nifaces ? ": " : "", names);
	if (t->lr)
		log_info("tc: learning on: %d rungs, %u entr%s learned; the servers' first answers are seen at ingress.",
			 t->lr->learn.ladder.count, t->lr->learn.nlearned, t->lr->learn.nlearned == 1 ? "y" : "ies");
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
	/* the ring too at each tick: hello events do not wake the daemon (no -v) */
	if (((pfd[0].revents | pfd[2].revents) & POLLIN) || t->ring)
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
	if (t->lr)
		sync_learned(t, 0);
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
	t->stats.learn_successes = t->successes + sum[TC_C_ANSWERED_DEFAULT];
	t->stats.learn_failures = t->failures;
	t->stats.learn_moves = t->moves;
	t->stats.learn_gave_up = t->gave_up;
	t->stats.learn_unobserved += t->unmatched;
	if (t->lr)
		t->stats.learned_sites = t->lr->learn.nlearned;
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
		if (t->ifaces[i].link_fd >= 0) {
			close(t->ifaces[i].link_fd);   /* tcx: the kernel detaches it */
			if (t->ifaces[i].link_in_fd >= 0)
				close(t->ifaces[i].link_in_fd);
		} else {
			detach(t->ifaces[i].ifindex, t->ifaces[i].name, t->ifaces[i].created, 0, 0, t->cfg->learn);
		}
	if (t->nifaces)
		log_info("tc: detached from %d interface%s.", t->nifaces, t->nifaces == 1 ? "" : "s");
	t->nifaces = 0;
	if (t->state_fd >= 0 && ftruncate(t->state_fd, 0) == 0)
		unlink(state_file());   /* as root; under --user the empty file stays */
}

/* The --state file, opened as root for the writes after the privileges go
 * (created with its header line when missing: an empty file would read as
 * damaged). */
static void open_learned(struct tc_daemon *t)
{
	char header[64];
	int n;

	t->learn_path = t->cfg->state_path ? t->cfg->state_path : learned_default_path();
	if (!t->cfg->state_path && mkdir("/var/lib/hellosplit", 0755) && errno != EEXIST)
		log_info("cannot create /var/lib/hellosplit (%s): what is learned is not kept.", strerror(errno));
	t->learn_fd = open(t->learn_path, O_RDWR | O_CLOEXEC);
	if (t->learn_fd < 0 && errno == ENOENT &&
	    (t->learn_fd = open(t->learn_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0 &&
	    (n = learn_format_header(header, sizeof(header))) > 0 && write(t->learn_fd, header, (size_t)n) != n)
		log_info("cannot write %s (%s): what is learned is not kept.", t->learn_path, strerror(errno));
	if (t->learn_fd < 0)
		log_info("cannot open %s (%s): what is learned is kept only while running as root.", t->learn_path,
			 strerror(errno));
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
	const struct config *cfg = cfg_given;
	const struct daemon_adapter adapter = {
		.ctx = &t,
		.start = tc_start,
		.wait = tc_wait,
		.receive = tc_receive,
		.stats = tc_stats,
		.close = tc_close,
		.save_stats = tc_save_stats,
		.observes_replies = 1,  /* the ingress program sees the answers */
		.save_learned = tc_save_learned,
	};
	int rc;

	memset(&t, 0, sizeof(t));
	t.hook = cfg_given->tc_hook;
	t.cfg = cfg;
	t.uid = uid;
	t.gid = gid;
	t.drop = drop;
	t.nl = t.signal_fd = t.stats_fd = t.state_fd = t.learn_fd = -1;
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
	if (cfg->learn)
		open_learned(&t);
	if ((t.nl = open_link_events()) < 0) {
		snprintf(why, n, "opening the netlink socket for link events failed: %s", strerror(-t.nl));
		rc = TC_NOT_STARTED;
		goto out;
	}
	if ((cfg->verbose || cfg->learn) &&
	    !(t.ring = ring_buffer__new(bpf_map__fd(t.skel->maps.events), flow_line, &t, NULL))) {
		snprintf(why, n, "opening the tc program's ring buffer failed: %s", strerror(errno));
		rc = TC_NOT_STARTED;
		goto out;
	}
	if ((t.signal_fd = open_signals()) < 0) {
		log_error("cannot set up the signals: %s.", strerror(errno));
		rc = 1;
		goto out;
	}
	rc = daemon_loop(cfg, &adapter, &daemon_monotonic_clock);
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
	if (t.learn_fd >= 0)
		close(t.learn_fd);
	free(t.percpu);
	tc_bpf__destroy(t.skel);
	return rc;
}

int tc_attached(char *names, size_t n)
{
	struct if_nameindex *list = if_nameindex(), *it;
	size_t k = 0;
	int count = 0;

	if (n)
		names[0] = 0;
	if (!list)
		return 0;
	libbpf_set_print(libbpf_print);
	for (it = list; it->if_index; it++) {
		if (tcx_has_ours((int)it->if_index) != 1 && filter_is_ours((int)it->if_index, BPF_TC_EGRESS) != 1)
			continue;
		if (k < n)
			k += (size_t)snprintf(names + k, n - k, "%s%s", count ? ", " : "", it->if_name);
		count++;
	}
	if_freenameindex(list);
	return count;
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
		int ours = filter_is_ours((int)it->if_index, BPF_TC_EGRESS) == 1 ||
			   filter_is_ours((int)it->if_index, BPF_TC_INGRESS) == 1, made = 0;

		for (i = 0; i < ncreated; i++)
			made |= created[i] == (int)it->if_index;
		if (!ours && !made)
			continue;
		detach((int)it->if_index, it->if_name, made, 1, verbose, 1);
		removed++;
	}
	if_freenameindex(list);
	unlink(state_file());
	if (verbose && !removed)
		log_info("tc: no hellosplit filter attached.");
	return 0;
}
