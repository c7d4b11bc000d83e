/* daemon-freebsd.c — the FreeBSD daemon (pfSense, OPNsense): the adapter of
 * daemon_loop over struct divert_io. Each packet diverted to it goes through
 * the engine; what the engine emits, and every packet it does not keep, goes
 * back with the address of the packet whose bytes it carries. The I/O is
 * divert.c's divert(4) socket on FreeBSD, divert-sim.c's stand-in in the
 * Linux tests: this file is the same in both. */
#include "divert.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"
#include "file.h"
#include "log.h"

#define DIVERT_PACKET_MAX 65535   /* IP_MAXPACKET: nothing larger comes from divert(4) */
#define DIVERT_BURST 64           /* packets read per wake-up before timers and signals */

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

void divert_io_close(struct divert_io *io)
{
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

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
			now = monotonic_ms();
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

/* Runs the engine over io until SIGINT or SIGTERM (or the far end closes),
 * then sends every held packet back unchanged. Returns the exit code. */
static int divert_loop(struct divert_io *io, const struct config *cfg)
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
	int e = set_nonblocking(io->fd);

	if (e) {
		log_error("cannot make the divert socket (fd %d) non-blocking: %s.", io->fd, strerror(-e));
		return 1;
	}
	return daemon_loop(cfg, &adapter, &daemon_monotonic_clock);
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
