/* linux.c — the Linux daemon: start-up checks, a privileged parent that owns
 * the firewall rules, and a child that handles packets with no more than
 * CAP_NET_ADMIN and CAP_NET_RAW under --user. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "nfqueue.h"
#include "rules.h"

#define STATS_LINE_MAX 2048

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- capabilities, by raw syscalls: no libcap in static builds */

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

	return (int)syscall(SYS_capget, &h, data);
}

static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	return (int)syscall(SYS_capset, &h, data);
}

static int has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective >> (cap % 32) & 1;
}

static int check_privileges(void)
{
	struct __user_cap_data_struct data[2];

	if (caps_get(data) == 0 && has_cap(data, CAP_NET_ADMIN) && has_cap(data, CAP_NET_RAW))
		return 0;
	log_error("needs root (CAP_NET_ADMIN and CAP_NET_RAW) to queue and inject packets. Run: sudo hellosplit");
	return -1;
}

/* A user from /etc/passwd itself: getpwnam would load NSS modules, which a
 * static build (Android, OpenWrt, build/static) cannot. */
static int passwd_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;
	int found = 0;

	if (!f)
		return -1;
	while (!found && (pw = fgetpwent(f)) != NULL) {
		if (!strcmp(pw->pw_name, name)) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

/* --user NAME or UID:GID; default nobody, or 65534:65534 where no such user
 * exists (Android). root keeps the packet path as root. */
static int resolve_user(const char *user, uid_t *uid, gid_t *gid)
{
	unsigned long u, g;
	char *end;

	if (!user) {
		if (passwd_lookup("nobody", uid, gid)) {
			*uid = 65534;
			*gid = 65534;
		}
		return 0;
	}
	if (strchr(user, ':')) {
		errno = 0;
		u = strtoul(user, &end, 10);
		if (*end == ':' && end != user) {
			const char *gs = end + 1;

			g = strtoul(gs, &end, 10);
			if (!*end && end != gs && !errno && u < 0xffffffffu && g < 0xffffffffu) {
				*uid = (uid_t)u;
				*gid = (gid_t)g;
				return 0;
			}
		}
		log_error("--user %s: expected a name or UID:GID (numbers).", user);
		return -1;
	}
	if (passwd_lookup(user, uid, gid)) {
		log_error("--user %s: no such user in /etc/passwd. Give an existing user or UID:GID.", user);
		return -1;
	}
	return 0;
}

/* Keeps CAP_NET_ADMIN (SO_MARK, verdicts) and CAP_NET_RAW (raw sockets)
 * across the change to uid/gid, and nothing else. */
static int drop_privileges(uid_t uid, gid_t gid)
{
	uint64_t keep = (1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW);
	int cap;

	if (uid != 0) {
		for (cap = 0; cap <= 63; cap++)
			if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
				return -errno;
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			return -errno;
	}
	if (caps_set(keep) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

/* ---- the packet path (child) */

static int child_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void send_stats(int fd, const struct stats *s, double uptime)
{
	char line[STATS_LINE_MAX];
	FILE *f = fmemopen(line, sizeof(line), "w");
	long n;

	if (fd < 0 || !f)
		return;
	stats_write_json(f, s, uptime);
	n = ftell(f);
	fclose(f);
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		log_error("passing stats to the parent failed: %s.", strerror(errno));
}

/* SIGHUP: the host lists are read again; flows in progress are kept. The
 * files must be readable by --user. */
static void reload_hostlists(struct engine *e, struct hostlists *lists)
{
	if (!lists->include_path && !lists->exclude_path)
		return;
	if (hostlists_reload(lists, stderr)) {
		log_error("reloading the host lists failed; the old ones stay in use.");
		return;
	}
	engine_use_hostlists(e, lists);
	log_info("host lists reloaded: %u names to split, %u never.", lists->include.count, lists->exclude.count);
}

#define PACKET_NICE (-10)

static int packet_path(const struct config *cfg, pid_t parent, uid_t uid, gid_t gid, int ready_fd, int stats_fd)
{
	struct nfqueue q;
	struct engine *e;
	struct hostlists lists;
	char err[512];
	int sfd = child_signals(), running = 1, quiet = 0, rc = 0;
	uint64_t start = now_ms(), next_stats;

	e = engine_create(&cfg->engine, nfqueue_emit, &q);
	if (!e || sfd < 0) {
		log_error("out of memory creating the engine (--max-flows %u).", cfg->engine.max_flows);
		return 1;
	}
	engine_set_logger(e, log_flow_event, NULL);
	engine_set_discard(e, nfqueue_discard);
	if (hostlists_load(&lists, cfg->hostlist, cfg->hostlist_exclude, stderr)) {
		engine_destroy(e);
		return 1;
	}
	engine_use_hostlists(e, &lists);
	if (nfqueue_open(&q, (uint16_t)cfg->queue_num, cfg->fwmark, cfg->done_mark, err, sizeof(err))) {
		log_error("%s", err);
		hostlists_free(&lists);
		engine_destroy(e);
		return 1;
	}
	q.engine = e;
	/* Each new connection waits for this process to wake up: let the
	 * scheduler run it first (measured: +3.5 % TLS handshakes/s on a busy
	 * 2-core box). It sleeps when no packet comes. */
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) > PACKET_NICE && errno == 0 && setpriority(PRIO_PROCESS, 0, PACKET_NICE))
		log_info("could not raise the packet process's priority: %s.", strerror(errno));
	if (drop_privileges(uid, gid)) {
		log_error("dropping privileges to uid %u gid %u failed: %s.", (unsigned)uid, (unsigned)gid,
			  strerror(errno));
		rc = 1;
		goto out;
	}
	/* After the uid change, which clears it: if the parent dies, stop. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	/* "R": both families can be injected; "4": IPv4 only, IPv6 is not queued. */
	if (getppid() != parent || write(ready_fd, q.raw6 >= 0 ? "R" : "4", 1) != 1) {
		rc = 1;
		goto out;
	}
	close(ready_fd);
	next_stats = cfg->stats_interval_s ? start + cfg->stats_interval_s * 1000ull : UINT64_MAX;
	while (running) {
		struct pollfd pfd[2] = {{q.nl, POLLIN, 0}, {sfd, POLLIN, 0}};
		uint64_t now = now_ms();
		uint32_t wait = engine_next_timeout(e, now);
		struct signalfd_siginfo si;

		if (wait > 1000)
			wait = 1000;
		if (next_stats != UINT64_MAX && next_stats - now < wait)
			wait = next_stats > now ? (uint32_t)(next_stats - now) : 0;
		if (poll(pfd, 2, (int)wait) < 0 && errno != EINTR) {
			log_error("poll failed: %s.", strerror(errno));
			rc = 1;
			break;
		}
		if ((pfd[0].revents & POLLIN) && nfqueue_receive(&q)) {
			log_error("reading the queue failed: %s.", strerror(errno));
			rc = 1;
			break;
		}
		now = now_ms();         /* after a drain: timeouts are due by the clock of now */
		engine_tick(e, now);
		nfqueue_flush(&q);
		while ((pfd[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGUSR1)
				stats_print(stderr, engine_stats(e), (double)(now - start) / 1000);
			else if (si.ssi_signo == SIGHUP)
				reload_hostlists(e, &lists);
			else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
				running = 0;
			else if (si.ssi_signo == SIGUSR2)      /* the parent gave up starting */
				running = 0, quiet = 1;
		}
		if (now >= next_stats) {
			stats_print(stderr, engine_stats(e), (double)(now - start) / 1000);
			send_stats(stats_fd, engine_stats(e), (double)(now - start) / 1000);
			next_stats = now + cfg->stats_interval_s * 1000ull;
		}
	}
out:
	engine_release_all(e);      /* held packets leave before the queue closes */
	nfqueue_flush(&q);
	if (q.inject_errors)
		log_error("%llu packets could not be injected (last error: %s).", (unsigned long long)q.inject_errors,
			  strerror(q.last_inject_errno));
	/* A start that failed ends with the parent's one-line reason, not stats. */
	if (!quiet)
		stats_print(stderr, engine_stats(e), (double)(now_ms() - start) / 1000);
	send_stats(stats_fd, engine_stats(e), (double)(now_ms() - start) / 1000);
	nfqueue_close(&q);
	engine_destroy(e);
	hostlists_free(&lists);
	return rc;
}

/* ---- the parent: rules, signals, stats file */

/* Reads what the child sent; every complete JSON line replaces the
 * --stats-json file. Returns the bytes read (0 at the end). */
static ssize_t read_stats(const struct config *cfg, char *buf, size_t *len, int fd)
{
	ssize_t n = read(fd, buf + *len, STATS_LINE_MAX - 1 - *len);
	char *nl;

	if (n <= 0)
		return n;
	*len += (size_t)n;
	buf[*len] = 0;
	while ((nl = strchr(buf, '\n')) != NULL) {
		char tmp[4200];
		FILE *f;

		*nl = 0;
		if (cfg->stats_json) {
			snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->stats_json);
			f = fopen(tmp, "w");
			if (!f || fprintf(f, "%s\n", buf) < 0 || fclose(f) || rename(tmp, cfg->stats_json))
				log_error("cannot write '%s': %s.", cfg->stats_json, strerror(errno));
		}
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len + 1);
	}
	if (*len >= STATS_LINE_MAX - 1)
		*len = 0;
	return n;
}

/* Exit code of the packet process; -1 when it is still running (no_hang). */
static int wait_child(pid_t pid, int no_hang)
{
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, no_hang ? WNOHANG : 0)) < 0)
		if (errno != EINTR)
			return 1;
	if (r == 0)
		return -1;
	if (WIFSIGNALED(status)) {
		log_error("the packet process died (signal %d); traffic passes unsplit.", WTERMSIG(status));
		return 1;
	}
	return WEXITSTATUS(status);
}

int daemon_run(const struct config *cfg)
{
	int ready[2], stats[2], sfd, stats_fd, rc = 1;
	char byte, buf[STATS_LINE_MAX];
	size_t buffered = 0;
	sigset_t set;
	uid_t uid;
	gid_t gid;
	pid_t pid;

	if (cfg->print_rules)
		return rules_print(cfg, stdout) ? 1 : 0;
	if (check_privileges())
		return 1;
	if (cfg->rules_remove)
		return rules_remove(1) ? 1 : 0;
	if (resolve_user(cfg->user, &uid, &gid))
		return 1;
	/* A shell starts background jobs with SIGINT ignored; an ignored signal
	 * never reaches a signalfd, so take the defaults back first. */
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
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0 || pipe2(ready, O_CLOEXEC) || pipe2(stats, O_CLOEXEC)) {
		log_error("cannot set up signals and pipes: %s.", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s.", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(ready[0]);
		close(stats[0]);
		close(sfd);
		_exit(packet_path(cfg, getppid(), uid, gid, ready[1], stats[1]));
	}
	close(ready[1]);
	close(stats[1]);
	stats_fd = stats[0];
	/* The queue is bound before any rule sends packets to it. */
	if (read(ready[0], &byte, 1) != 1) {
		rc = wait_child(pid, 0);
		return rc ? rc : 1;
	}
	if (rules_install(cfg, byte == '4' ? RULES_IPV4 : RULES_IPV4 | RULES_IPV6)) {
		kill(pid, SIGUSR2);
		wait_child(pid, 0);
		return 1;
	}
	log_info("running on queue %u; rules %s. Ctrl-C stops%s.", cfg->queue_num,
		 cfg->rules == RULES_NONE ? "are yours to install (--rules none)" : "installed",
		 cfg->rules == RULES_NONE ? "" : " and removes them");
	for (;;) {
		struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {stats_fd, POLLIN, 0}};
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if ((pfd[1].revents & (POLLIN | POLLHUP)) && read_stats(cfg, buf, &buffered, stats_fd) <= 0)
			stats_fd = -1;      /* the child closed its end: stop polling it */
		if (!(pfd[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP) {
			kill(pid, (int)si.ssi_signo);
		} else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			kill(pid, SIGTERM);
			rc = wait_child(pid, 0);
			break;
		} else if (si.ssi_signo == SIGCHLD) {
			/* also sent for the firewall tools run at start */
			if ((rc = wait_child(pid, 1)) < 0)
				continue;
			log_error("the packet process exited unexpectedly; removing the rules.");
			if (rc == 0)
				rc = 1;
			break;
		}
	}
	while (stats_fd >= 0 && read_stats(cfg, buf, &buffered, stats_fd) > 0)
		;
	if (rules_remove(0) == 0 && cfg->rules != RULES_NONE)
		log_info("rules removed.");
	return rc;
}
