/* divert.c — packet I/O on FreeBSD (pfSense, OPNsense): a divert(4) socket
 * bound to --divert-port. Packets that a pf divert-to or ipfw divert rule
 * sends to it are read with the address they came with and written back
 * with it, so they continue after the rule that diverted them. The loop
 * over it is daemon-freebsd.c's; divert-sim.c is the other implementation of
 * struct divert_io, the stand-in the Linux tests drive. Built for FreeBSD
 * only (make PLATFORM=freebsd); tests/divert/run.sh compiles it with clang
 * for FreeBSD 13 and 14. */
#include "divert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <netinet/in.h>

#define DIVERT_SOCKBUF_MAX (2 << 20)   /* room for bursts; the kernel drops what does not fit */
#define DIVERT_SOCKBUF_MIN (256 << 10)

/* FreeBSD 14 has its own PF_DIVERT domain; 13 and older spell it as a raw
 * IPv4 socket of protocol IPPROTO_DIVERT. */

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
	return 0;
}
