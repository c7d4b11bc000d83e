/* divert.c — the FreeBSD daemon (pfSense, OPNsense): packets that a pf
 * divert-to or ipfw divert rule sends to a divert(4) socket go through the
 * engine and are written back with the address they came with, so they
 * continue after the rule that diverted them. The loop only sees the small
 * struct divert_io; the FreeBSD socket below is one implementation of it,
 * the Linux test stand-in (HELLOSPLIT_DIVERT builds) the other. */
#include "divert.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "daemon.h"
#include "doctor.h"
#include "engine.h"
#include "log.h"

#define DIVERT_PACKET_MAX 65535   /* IP_MAXPACKET: nothing larger comes from divert(4) */
#define DIVERT_BURST 64           /* packets read per wake-up before timers and signals */
#define DIVERT_SOCKBUF_MAX (2 << 20)   /* room for bursts; the kernel drops what does not fit */
#define DIVERT_SOCKBUF_MIN (256 << 10)

/* The engine copies PACKET_META_SIZE bytes of meta with each held packet. */
union divert_packet_meta {
	struct divert_meta addr;
	uint8_t bytes[PACKET_META_SIZE];
};
_Static_assert(sizeof(struct divert_meta) <= PACKET_META_SIZE, "divert meta fits the engine's meta");

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -errno : 0;
}

#if defined(__FreeBSD__)

/* ---- I/O: a divert(4) socket. FreeBSD 14 has its own PF_DIVERT domain;
 * 13 and older spell it as a raw IPv4 socket of protocol IPPROTO_DIVERT. */

static int socket_recv(struct divert_io *io, uint8_t *buf, size_t cap, struct divert_meta *meta)
{
	struct sockaddr_in sin;
	socklen_t sin_len = sizeof(sin);
	ssize_t n = recvfrom(io->fd, buf, cap, 0, (struct sockaddr *)&sin, &sin_len);

	if (n < 0)
		return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	if (sin_len > sizeof(meta->addr))
		sin_len = sizeof(meta->addr);
	memcpy(meta->addr, &sin, sin_len);
	meta->addr_len = sin_len;
	return (int)n;
}

static int socket_send(struct divert_io *io, const uint8_t *pkt, size_t len, const struct divert_meta *meta)
{
	struct sockaddr_in sin;

	memcpy(&sin, meta->addr, sizeof(sin));
	return sendto(io->fd, pkt, len, 0, (const struct sockaddr *)&sin, meta->addr_len) < 0 ? -errno : 0;
}

static int open_divert_socket(void)
{
	int fd = -1, first_errno = 0;

#ifdef PF_DIVERT
	fd = socket(PF_DIVERT, SOCK_RAW, 0);
	if (fd >= 0)
		return fd;
	first_errno = errno;
#endif
	fd = socket(PF_INET, SOCK_RAW, IPPROTO_DIVERT);
	if (fd < 0 && first_errno)
		errno = first_errno;   /* the PF_DIVERT error explains more on FreeBSD 14 */
	return fd;
}

/* Best effort: the largest buffers kern.ipc.maxsockbuf allows, for bursts. */
static void grow_buffers(int fd)
{
	int size;

	for (size = DIVERT_SOCKBUF_MAX; size >= DIVERT_SOCKBUF_MIN; size /= 2)
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) == 0)
			break;
	for (size = DIVERT_SOCKBUF_MAX; size >= DIVERT_SOCKBUF_MIN; size /= 2)
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) == 0)
			break;
}

int divert_io_open(struct divert_io *io, const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	int e;

	io->recv = socket_recv;
	io->send = socket_send;
	io->fd = open_divert_socket();
	if (io->fd < 0) {
		e = errno;
		if (e == EPERM || e == EACCES)
			snprintf(err, errlen, "opening a divert(4) socket needs root. Run as root (the rc.d script does).");
		else
			snprintf(err, errlen, "cannot open a divert(4) socket: %s. Load divert support: kldload ipdivert, "
				 "and add ipdivert_load=\"YES\" to /boot/loader.conf.", strerror(e));
		return -e;
	}
	/* The address is ignored but for the port; the kernel sets sin_len from
	 * the length given. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)cfg->divert_port);
	if (bind(io->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		e = errno;
		if (e == EADDRINUSE)
			snprintf(err, errlen, "divert port %u is already bound by another program (another hellosplit, "
				 "natd, suricata?). Stop it, or pick another --divert-port and use it in the rules.",
				 cfg->divert_port);
		else
			snprintf(err, errlen, "cannot bind divert port %u: %s.", cfg->divert_port, strerror(e));
		close(io->fd);
		return -e;
	}
	grow_buffers(io->fd);
	if ((e = set_nonblocking(io->fd)) != 0) {
		snprintf(err, errlen, "cannot make the divert socket non-blocking: %s.", strerror(-e));
		close(io->fd);
		return e;
	}
	return 0;
}

#else

/* ---- I/O: the test stand-in. A SOCK_SEQPACKET socket inherited as fd
 * $HELLOSPLIT_DIVERT_SIM_FD; each message is the 16-byte address divert(4)
 * would give (FreeBSD's struct sockaddr_in layout) followed by the packet,
 * both ways. The first message this side sends is the divert port as 2
 * bytes (network order), as bind(2) would name it. */

#define SIM_FD_ENV "HELLOSPLIT_DIVERT_SIM_FD"

static int sim_recv(struct divert_io *io, uint8_t *buf, size_t cap, struct divert_meta *meta)
{
	struct iovec iov[2] = {{meta->addr, DIVERT_ADDR_MAX}, {buf, cap}};
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	n = recvmsg(io->fd, &msg, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	if (n <= DIVERT_ADDR_MAX || (msg.msg_flags & MSG_TRUNC))
		return -EPROTO;
	meta->addr_len = DIVERT_ADDR_MAX;
	return (int)(n - DIVERT_ADDR_MAX);
}

static int sim_send(struct divert_io *io, const uint8_t *pkt, size_t len, const struct divert_meta *meta)
{
	struct iovec iov[2] = {{(void *)meta->addr, meta->addr_len}, {(void *)pkt, len}};
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	return sendmsg(io->fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int divert_io_open(struct divert_io *io, const struct config *cfg, char *err, size_t errlen)
{
	const char *env = getenv(SIM_FD_ENV);
	uint8_t port[2] = {(uint8_t)(cfg->divert_port >> 8), (uint8_t)cfg->divert_port};
	struct stat st;
	char *end = NULL;
	long fd;
	int e;

	io->recv = sim_recv;
	io->send = sim_send;
	fd = env ? strtol(env, &end, 10) : -1;
	if (!env || *end || end == env || fd < 0 || fd > 65535 || fstat((int)fd, &st) || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "this is the divert(4) stand-in build (make PLATFORM=freebsd-sim): it talks to "
			 "tests/divert/divert_standin.py through the socket named by %s, not to a kernel.", SIM_FD_ENV);
		return -EBADF;
	}
	io->fd = (int)fd;
	if (send(io->fd, port, sizeof(port), MSG_NOSIGNAL) < 0 || set_nonblocking(io->fd) < 0) {
		e = errno;
		snprintf(err, errlen, "the divert stand-in socket (fd %ld) does not work: %s.", fd, strerror(e));
		return -e;
	}
	return 0;
}

#endif

void divert_io_close(struct divert_io *io)
{
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

/* ---- the adapter of daemon_loop: the same on FreeBSD and in the stand-in tests */

struct divert_run {
	struct divert_io *io;
	struct engine *engine;
	sigset_t wait_mask;
	uint64_t send_errors;
	int last_send_errno;
};

static volatile sig_atomic_t stop_signal, stats_signal, reload_signal;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_signal = 1;
	else if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

static uint64_t now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The signals stay blocked except inside ppoll(), so none is lost between
 * the check of the flags and the wait. */
static void signals_setup(sigset_t *wait_mask)
{
	static const int handled[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		sigaction(handled[i], &sa, NULL);
		sigaddset(&block, handled[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigdelset(wait_mask, handled[i]);
}

static int send_back(struct divert_run *r, const uint8_t *pkt, size_t len, const struct divert_meta *meta)
{
	int err = r->io->send(r->io, pkt, len, meta);

	if (err) {
		r->send_errors++;
		r->last_send_errno = -err;
	}
	return err;
}

/* engine_emit_fn: a segment or a released packet (a copy, whatever its kind)
 * goes back with the address of the packet whose bytes it carries. */
static int divert_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	struct divert_meta addr;

	(void)kind;
	memcpy(&addr, meta, sizeof(addr));
	return send_back(ctx, pkt, len, &addr);
}

static int divert_start(void *ctx, struct engine *e)
{
	struct divert_run *r = ctx;

	r->engine = e;
	signals_setup(&r->wait_mask);
	return 0;
}

static int divert_wait(void *ctx, uint32_t timeout_ms)
{
	struct divert_run *r = ctx;
	struct pollfd pfd = {r->io->fd, POLLIN, 0};
	struct timespec ts = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L};
	int events = 0;

	if (ppoll(&pfd, 1, &ts, &r->wait_mask) < 0 && errno != EINTR) {
		int e = errno;

		log_error("poll failed: %s.", strerror(e));
		return -e;
	}
	if (pfd.revents)
		events |= DAEMON_PACKETS;
	if (stats_signal)
		events |= DAEMON_PRINT_STATS;
	if (reload_signal)
		events |= DAEMON_RELOAD;
	if (stop_signal)
		events |= DAEMON_STOP;
	stats_signal = reload_signal = 0;
	return events;
}

/* Reads up to DIVERT_BURST packets; each goes back at once unless the engine
 * keeps it. ENGINE_DONE needs nothing here: the pf/ipfw rules decide what is
 * diverted (dist/freebsd/INSTALL.md). Returns 0, 1 when the stand-in closed
 * its end, or -errno. */
static int divert_receive(void *ctx, uint64_t now)
{
	static uint8_t buf[DIVERT_PACKET_MAX];
	struct divert_run *r = ctx;
	union divert_packet_meta meta;
	int i, n;

	memset(&meta, 0, sizeof(meta));
	for (i = 0; i < DIVERT_BURST; i++) {
		n = r->io->recv(r->io, buf, DIVERT_PACKET_MAX, &meta.addr);
		if (n == -EAGAIN)
			return 0;
		if (n == -EPIPE) {
			log_info("the divert stand-in closed its end; stopping.");
			return 1;
		}
		if (n < 0) {
			log_error("reading the divert socket failed: %s.", strerror(-n));
			return n;
		}
		if (i)
			now = now_ms(NULL);
		if (engine_next_timeout(r->engine, now) == 0)
			engine_tick(r->engine, now);   /* timeouts due before this packet go first */
		if (!(engine_packet(r->engine, buf, (size_t)n, &meta, now) & ENGINE_STOLEN))
			send_back(r, buf, (size_t)n, &meta.addr);
	}
	return 0;
}

static void divert_report_errors(void *ctx)
{
	struct divert_run *r = ctx;

	if (r->send_errors)
		log_error("%llu packets could not be sent back into the kernel (last error: %s).",
			  (unsigned long long)r->send_errors, strerror(r->last_send_errno));
}

int divert_loop(struct divert_io *io, const struct config *cfg)
{
	struct divert_run r = {.io = io};
	const struct daemon_adapter adapter = {
		.ctx = &r,
		.emit = divert_emit,
		.emit_ctx = &r,
		.start = divert_start,
		.wait = divert_wait,
		.receive = divert_receive,
		.report_errors = divert_report_errors,
	};
	const struct daemon_clock clock = {now_ms, NULL};

	return daemon_loop(cfg, &adapter, &clock);
}

int daemon_run(const struct config *cfg)
{
	struct divert_io io;
	char err[512];
	int rc;

	if (divert_io_open(&io, cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	log_info("listening on divert port %u: load the divert rules into pf anchor \"%s\" or ipfw "
		 "(dist/freebsd/INSTALL.md). SIGINT/SIGTERM stops, SIGUSR1 prints stats.",
		 cfg->divert_port, cfg->pf_anchor);
	rc = divert_loop(&io, cfg);
	divert_io_close(&io);
	return rc;
}

/* `hellosplit doctor`: what can be checked from here is the socket itself. */
int doctor_main(int argc, char **argv)
{
	struct doctor d = {0};
	struct config cfg;
	struct divert_io io;
	char err[512], line[600];
	int rc;

	if ((rc = config_load(&cfg, argc, argv)) >= 0)
		return rc;
	printf("hellosplit %s doctor\n", HELLOSPLIT_VERSION);
	if (divert_io_open(&io, &cfg, err, sizeof(err)) == 0) {
		divert_io_close(&io);
		snprintf(line, sizeof(line), "divert(4) socket opened and bound to port %u", cfg.divert_port);
		doctor_ok(line);
	} else {
		doctor_problem(&d, err, NULL);
	}
	snprintf(line, sizeof(line), "the rules are not checked: pfctl -a '%s' -s rules (or ipfw show) must list a "
		 "divert rule to port %u", cfg.pf_anchor, cfg.divert_port);
	doctor_note(line);
	printf("\n%d problem(s).\n", d.problems);
	return d.problems ? 1 : 0;
}
