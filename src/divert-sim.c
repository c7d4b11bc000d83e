/* divert-sim.c — the stand-in for divert(4) in the Linux build of the
 * FreeBSD daemon (make PLATFORM=freebsd-sim, build/divert-sim/hellosplit):
 * the same loop (daemon-freebsd.c) over a socket whose far end,
 * tests/divert/divert_standin.py, behaves like the kernel's divert socket. */
#include "divert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* A SOCK_SEQPACKET socket inherited as fd
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
	if (send(io->fd, port, sizeof(port), MSG_NOSIGNAL) < 0) {
		e = errno;
		snprintf(err, errlen, "the divert stand-in socket (fd %ld) does not work: %s.", fd, strerror(e));
		return -e;
	}
	return 0;
}
