/* daemon-linux.c — the Linux daemon: start-up checks, a privileged parent that owns
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"
#include "file.h"
#include "learned.h"
#include "log.h"
#include "nfqueue.h"
#include "rules.h"
#include "tc-plan.h"
#include "tc.h"

#define STATS_LINE_MAX 2048

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

/* ---- the packet path (child): the adapter of daemon_loop over nfqueue */

struct packet_path {
	struct nfqueue q;
	const struct config *cfg;
	pid_t parent;
	uid_t uid;
	gid_t gid;
	int ready_fd, stats_fd, signal_fd, learn_fd;
	int queue_open;
};

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

static void send_stats(void *ctx, const struct stats *s, double uptime)
{
	struct packet_path *p = ctx;
	char line[STATS_LINE_MAX];
	FILE *f = fmemopen(line, sizeof(line), "w");
	long n;

	if (p->stats_fd < 0 || !f)
		return;
	stats_write_json(f, s, uptime);
	n = ftell(f);
	fclose(f);
	if (n > 0 && write(p->stats_fd, line, (size_t)n) < 0)
		log_error("passing stats to the parent failed: %s.", strerror(errno));
}

/* The learned state goes to the parent, which writes the file as root: a
 * 4-byte length (host order), then the text. */
static int send_learned(void *ctx, const char *text, size_t len)
{
	struct packet_path *p = ctx;
	uint32_t n = (uint32_t)len;
	size_t done = 0;

	if (p->learn_fd < 0 || len > LEARNED_FILE_MAX)
		return -EINVAL;
	if (write(p->learn_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		goto fail;
	while (done < len) {
		ssize_t w = write(p->learn_fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	return 0;
fail:
	log_error("passing the learned state to the parent failed: %s; it is not saved.", strerror(errno));
	close(p->learn_fd);
	p->learn_fd = -1;
	return -EPIPE;
}

#define PACKET_NICE (-10)
#define DRAIN_QUIET_MS 20
#define DRAIN_MAX_MS 500

/* SIGINT or SIGTERM: 1 to keep running. Only the parent's (sent once its
 * rules are gone) stops the packet path: a signal that reaches both
 * processes at once (Ctrl-C, systemd stopping the whole service) would
 * otherwise unbind the queue while the rules still send packets to it. Any
 * other is passed on to the parent through stop_fd; it removes the rules,
 * then signals. */
static int keep_running(const struct signalfd_siginfo *si, pid_t parent, int stop_fd)
{
	if ((pid_t)si->ssi_pid == parent || getppid() != parent)
		return 0;
	return write(stop_fd, "S", 1) == 1;
}

/* Answers what is still queued before the queue is unbound, which would drop
 * it: after the rules are gone only packets already queued arrive. Ends after
 * DRAIN_QUIET_MS without one, DRAIN_MAX_MS at most. */
static void drain(struct nfqueue *q, struct engine *e)
{
	struct pollfd pfd = {q->nl, POLLIN, 0};
	uint64_t start = monotonic_ms(), now;

	while (monotonic_ms() - start < DRAIN_MAX_MS && poll(&pfd, 1, DRAIN_QUIET_MS) > 0) {
		if (nfqueue_receive(q))
			break;
		now = monotonic_ms();
		engine_tick(e, now);
		nfqueue_flush(q);
	}
}

/* The queue is bound as root; then the process gives up root and tells the
 * parent it is ready. Returns 0 or -errno (printed). */
static int packet_path_start(void *ctx, struct engine *e)
{
	struct packet_path *p = ctx;
	char err[512];
	int r;

	if ((r = nfqueue_open(&p->q, (uint16_t)p->cfg->queue_num, p->cfg->fwmark, p->cfg->done_mark, err,
			      sizeof(err))) != 0) {
		log_error("%s", err);
		return r;
	}
	p->queue_open = 1;
	p->q.engine = e;
	engine_set_discard(e, nfqueue_discard);
	/* Each new connection waits for this process to wake up: let the
	 * scheduler run it first (measured: +3.5 % TLS handshakes/s on a busy
	 * 2-core box). It sleeps when no packet comes. */
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) > PACKET_NICE && errno == 0 && setpriority(PRIO_PROCESS, 0, PACKET_NICE))
		log_info("could not raise the packet process's priority: %s.", strerror(errno));
	if ((r = drop_privileges(p->uid, p->gid)) != 0) {
		log_error("dropping privileges to uid %u gid %u failed: %s.", (unsigned)p->uid, (unsigned)p->gid,
			  strerror(-r));
		return r;
	}
	/* After the uid change, which clears it: if the parent dies, stop. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	/* "R": both families can be injected; "4": IPv4 only, IPv6 is not queued. */
	if (getppid() != p->parent || write(p->ready_fd, p->q.raw6 >= 0 ? "R" : "4", 1) != 1)
		return -EPIPE;      /* the parent is gone: nobody to tell */
	return 0;           /* ready_fd stays open: a stop is asked through it */
}

static int packet_path_wait(void *ctx, uint32_t timeout_ms)
{
	struct packet_path *p = ctx;
	struct pollfd pfd[2] = {{p->q.nl, POLLIN, 0}, {p->signal_fd, POLLIN, 0}};
	struct signalfd_siginfo si;
	int events = 0;

	if (poll(pfd, 2, (int)timeout_ms) < 0 && errno != EINTR) {
		int e = errno;

		log_error("poll failed: %s.", strerror(e));
		return -e;
	}
	if (pfd[0].revents & POLLIN)
		events |= DAEMON_PACKETS;
	while ((pfd[1].revents & POLLIN) && read(p->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			events |= DAEMON_PRINT_STATS;
		else if (si.ssi_signo == SIGHUP)     /* the files must be readable by --user */
			events |= DAEMON_RELOAD;
		else if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) &&
			 !keep_running(&si, p->parent, p->ready_fd))
			events |= DAEMON_STOP;
		else if (si.ssi_signo == SIGUSR2)      /* the parent gave up starting */
			events |= DAEMON_STOP_QUIET;
	}
	return events;
}

static int packet_path_receive(void *ctx, uint64_t now)
{
	struct packet_path *p = ctx;
	int r = nfqueue_receive(&p->q);     /* it reads the clock per packet */

	(void)now;
	if (r)
		log_error("reading the queue failed: %s.", strerror(-r));
	return r;
}

static void packet_path_flush(void *ctx)
{
	nfqueue_flush(&((struct packet_path *)ctx)->q);
}

static void packet_path_stop_receiving(void *ctx)
{
	struct packet_path *p = ctx;

	drain(&p->q, p->q.engine);
}

static void packet_path_report_errors(void *ctx)
{
	struct packet_path *p = ctx;

	if (p->q.inject_errors)
		log_error("%llu packets could not be injected (last error: %s).", (unsigned long long)p->q.inject_errors,
			  strerror(p->q.last_inject_errno));
}

static void packet_path_close(void *ctx)
{
	struct packet_path *p = ctx;

	if (p->queue_open)
		nfqueue_close(&p->q);
	p->queue_open = 0;
	if (p->ready_fd >= 0)
		close(p->ready_fd);
	p->ready_fd = -1;
}

static int packet_path(const struct config *cfg, pid_t parent, uid_t uid, gid_t gid, int ready_fd, int stats_fd,
		       int learn_fd)
{
	struct packet_path p = {.cfg = cfg, .parent = parent, .uid = uid, .gid = gid, .ready_fd = ready_fd,
				.stats_fd = stats_fd, .learn_fd = learn_fd};
	const struct daemon_adapter adapter = {
		.ctx = &p,
		.emit = nfqueue_emit,
		.emit_ctx = &p.q,
		.start = packet_path_start,
		.wait = packet_path_wait,
		.receive = packet_path_receive,
		.flush = packet_path_flush,
		.stop_receiving = packet_path_stop_receiving,
		.report_errors = packet_path_report_errors,
		.save_stats = send_stats,
		.close = packet_path_close,
		.observes_replies = 1,       /* the rules queue the first answers of each flow */
		.save_learned = send_learned,
	};

	p.signal_fd = child_signals();
	if (p.signal_fd < 0) {
		log_error("cannot set up the signals of the packet process: %s.", strerror(errno));
		return 1;
	}
	return daemon_loop(cfg, &adapter, &daemon_monotonic_clock);
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
		int err;

		if (cfg->stats_json && (err = file_replace(cfg->stats_json, buf, (size_t)(nl + 1 - buf))) != 0)
			log_error("cannot write '%s': %s.", cfg->stats_json, strerror(-err));
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len + 1);
	}
	if (*len >= STATS_LINE_MAX - 1)
		*len = 0;
	return n;
}

/* The learned state the packet process sends: each complete message
 * replaces the --state file. */
struct learned_rx {
	const char *path;
	char *buf;
	uint32_t want;            /* text bytes of the message being read */
	size_t got;               /* bytes of it (length included) so far */
	uint8_t len[4];
	int failed;               /* said once */
};

/* Reads what is there; returns the bytes read (0 at the end, -1 on error). */
static ssize_t read_learned(struct learned_rx *rx, int fd)
{
	ssize_t n;

	if (rx->got < sizeof(rx->len)) {
		n = read(fd, rx->len + rx->got, sizeof(rx->len) - rx->got);
		if (n <= 0)
			return n;
		rx->got += (size_t)n;
		if (rx->got < sizeof(rx->len))
			return n;
		memcpy(&rx->want, rx->len, sizeof(rx->want));
		if (rx->want > LEARNED_FILE_MAX)
			return -1;
		free(rx->buf);
		rx->buf = malloc(rx->want ? rx->want : 1);
		if (!rx->buf)
			return -1;
		if (rx->want)
			return n;
	} else {
		n = read(fd, rx->buf + (rx->got - sizeof(rx->len)), rx->want - (rx->got - sizeof(rx->len)));
		if (n <= 0)
			return n;
		rx->got += (size_t)n;
	}
	if (rx->got == sizeof(rx->len) + rx->want) {
		int err = file_replace_private(rx->path, rx->buf, rx->want);

		if (err && !rx->failed)
			log_error("cannot write the learned state %s: %s. Give a writable file with --state FILE; "
				  "learning goes on in memory.", rx->path, strerror(-err));
		rx->failed = err != 0;
		rx->got = 0;
	}
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

/* Stops the packet process without losing a packet: the rules go first, so
 * nothing more is queued; then it answers what is queued and unbinds. */
static int stop_child(const struct config *cfg, pid_t pid, struct learned_rx *rx, int learn_fd)
{
	if (rules_remove(0) == 0 && cfg->rules != RULES_NONE)
		log_info("rules removed.");
	kill(pid, SIGTERM);
	/* its last save comes as it stops: read it, or a large one would block it */
	while (learn_fd >= 0 && read_learned(rx, learn_fd) > 0)
		;
	return wait_child(pid, 0);
}

/* --engine auto or tc: the tc engine when the options, the build and the
 * kernel allow it. Returns its exit code, or TC_NOT_STARTED (auto: the
 * reason said in one line) for the NFQUEUE path. */
static int run_tc(const struct config *cfg, uid_t uid, gid_t gid)
{
	const char *flag = tc_plan_refusal(cfg);
	int tc = cfg->engine_kind == ENGINE_KIND_TC, rc;
	char why[768];

	if (flag) {
		if (tc) {
			log_error("--engine tc cannot serve %s: drop %s, or use --engine nfqueue (or auto).", flag, flag);
			return 1;
		}
		log_info("engine: nfqueue (the tc engine cannot serve %s).", flag);
		return TC_NOT_STARTED;
	}
	rc = tc_run(cfg, uid, gid, drop_privileges, why, sizeof(why));
	if (rc != TC_NOT_STARTED)
		return rc;
	if (tc) {
		log_error("--engine tc: %s. Use --engine nfqueue (or auto).", why);
		return 1;
	}
	log_info("engine: nfqueue (%s).", why);
	return TC_NOT_STARTED;
}

int daemon_run(const struct config *cfg)
{
	int ready[2], stats[2], learn[2], sfd, stats_fd, stop_fd, learn_fd, rc = 1, rules_in = 1;
	struct learned_rx rx = {.path = cfg->state_path ? cfg->state_path : learned_default_path()};
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
	if (cfg->rules_remove) {
		rc = rules_remove(1) ? 1 : 0;
		return tc_remove(1) ? 1 : rc;
	}
	if (resolve_user(cfg->user, &uid, &gid))
		return 1;
	if (cfg->engine_kind != ENGINE_KIND_NFQUEUE && (rc = run_tc(cfg, uid, gid)) != TC_NOT_STARTED)
		return rc;
	rc = 1;
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
	if (sfd < 0 || pipe2(ready, O_CLOEXEC) || pipe2(stats, O_CLOEXEC) || pipe2(learn, O_CLOEXEC)) {
		log_error("cannot set up signals and pipes: %s.", strerror(errno));
		return 1;
	}
	/* systemd's StateDirectory= makes it; by hand, the default one is made here */
	if (cfg->learn && !cfg->state_path && mkdir("/var/lib/hellosplit", 0755) && errno != EEXIST)
		log_info("cannot create /var/lib/hellosplit (%s): what is learned is not kept.", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s.", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(ready[0]);
		close(stats[0]);
		close(learn[0]);
		close(sfd);
		_exit(packet_path(cfg, getppid(), uid, gid, ready[1], stats[1], learn[1]));
	}
	close(ready[1]);
	close(stats[1]);
	close(learn[1]);
	learn_fd = learn[0];
	stats_fd = stats[0];
	stop_fd = ready[0];     /* after "R": a stop the packet process asks for */
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
		struct pollfd pfd[4] = {{sfd, POLLIN, 0}, {stats_fd, POLLIN, 0}, {stop_fd, POLLIN, 0},
					{learn_fd, POLLIN, 0}};
		struct signalfd_siginfo si;

		if (poll(pfd, 4, -1) < 0 && errno != EINTR)
			break;
		if ((pfd[3].revents & (POLLIN | POLLHUP)) && read_learned(&rx, learn_fd) <= 0) {
			close(learn_fd);
			learn_fd = -1;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP)) && read_stats(cfg, buf, &buffered, stats_fd) <= 0)
			stats_fd = -1;      /* the child closed its end: stop polling it */
		if (pfd[2].revents & (POLLIN | POLLHUP)) {
			if (read(stop_fd, &byte, 1) == 1) {
				rc = stop_child(cfg, pid, &rx, learn_fd);
				rules_in = 0;
				break;
			}
			stop_fd = -1;       /* closed: the child is ending (SIGCHLD follows) */
		}
		if (!(pfd[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP) {
			kill(pid, (int)si.ssi_signo);
		} else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			rc = stop_child(cfg, pid, &rx, learn_fd);
			rules_in = 0;
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
	while (learn_fd >= 0 && read_learned(&rx, learn_fd) > 0)
		;
	if (learn_fd >= 0)
		close(learn_fd);
	free(rx.buf);
	if (rules_in && rules_remove(0) == 0 && cfg->rules != RULES_NONE)
		log_info("rules removed.");
	return rc;
}
