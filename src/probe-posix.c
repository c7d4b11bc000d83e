/* probe-posix.c — probe-net.h for Linux, Android and the BSDs (names are
 * resolved in probe-resolve.c, or probe-resolve-static.c). */
#include "probe-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "file.h"

int probe_net_init(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

void probe_net_cleanup(void)
{
}

static enum probe_net_status status_of(int e)
{
	switch (e) {
	case 0:
		return PROBE_NET_OK;
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINPROGRESS:
	case EINTR:
		return PROBE_NET_AGAIN;
	case ECONNRESET:
	case EPIPE:
		return PROBE_NET_RESET;
	case ECONNREFUSED:
		return PROBE_NET_REFUSED;
	case ETIMEDOUT:
		return PROBE_NET_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return PROBE_NET_UNREACHABLE;
	default:
		return PROBE_NET_ERROR;
	}
}

enum probe_net_status probe_net_connect(const struct probe_address *a, probe_socket *sock)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (a->family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		len = sizeof(*sin6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
	if (fd < 0)
		return status_of(errno);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
		enum probe_net_status st = status_of(errno);

		close(fd);
		return st == PROBE_NET_AGAIN ? PROBE_NET_ERROR : st;
	}
	*sock = fd;
	return PROBE_NET_OK;
}

enum probe_net_status probe_net_connect_result(probe_socket sock)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt((int)sock, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return status_of(errno);
	return status_of(e);
}

long probe_net_send(probe_socket sock, const uint8_t *buf, size_t n)
{
	ssize_t r = send((int)sock, buf, n, MSG_NOSIGNAL);

	return r >= 0 ? (long)r : -(long)status_of(errno);
}

long probe_net_recv(probe_socket sock, uint8_t *buf, size_t n)
{
	ssize_t r = recv((int)sock, buf, n, 0);

	if (r == 0)
		return -(long)PROBE_NET_CLOSED;
	return r > 0 ? (long)r : -(long)status_of(errno);
}

void probe_net_close(probe_socket sock)
{
	struct linger l = {1, 0};

	setsockopt((int)sock, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close((int)sock);
}

int probe_net_poll(struct probe_poll *p, int n, int timeout_ms)
{
	struct pollfd fds[256];
	int i, r;

	if (n > (int)(sizeof(fds) / sizeof(fds[0])))
		return -1;
	for (i = 0; i < n; i++) {
		fds[i].fd = (int)p[i].sock;
		fds[i].events = (short)((p[i].want & PROBE_NET_READ ? POLLIN : 0) |
					(p[i].want & PROBE_NET_WRITE ? POLLOUT : 0));
		fds[i].revents = 0;
	}
	r = poll(fds, (nfds_t)n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++)
		p[i].got = (fds[i].revents & POLLIN ? PROBE_NET_READ : 0) |
			   (fds[i].revents & POLLOUT ? PROBE_NET_WRITE : 0) |
			   (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? PROBE_NET_FAILED : 0);
	return r;
}

#ifdef __linux__
/* SIOCOUTQ: written and not acknowledged; SIOCOUTQNSD: not sent yet;
 * TCP_INFO's total_retrans counts every retransmitted segment. */
int probe_net_tcp_state(probe_socket sock, struct probe_tcp_state *st)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq, unsent;

	memset(&ti, 0, sizeof(ti));
	if (ioctl((int)sock, SIOCOUTQ, &outq) < 0 || ioctl((int)sock, SIOCOUTQNSD, &unsent) < 0 ||
	    getsockopt((int)sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	st->unsent = unsent;
	st->unacked = (uint32_t)outq;
	st->retransmits = ti.tcpi_total_retrans;
	return 0;
}

const char *probe_net_merge_note(void)
{
	return NULL;
}
#else
/* The BSDs' tcp_info has no total retransmission count that every version
 * fills in: the probe paces the pieces by time and cannot see merges. */
int probe_net_tcp_state(probe_socket sock, struct probe_tcp_state *st)
{
	(void)sock;
	(void)st;
	return -1;
}

const char *probe_net_merge_note(void)
{
	return "this system does not report retransmissions: a try whose pieces the kernel merged "
	       "when resending them is not recognised (on a lossy path, use more --tries)";
}
#endif

uint64_t probe_net_seed(void)
{
	uint64_t seed = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed))
		seed = monotonic_us() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	return seed;
}

const char *probe_net_daemon_command(void)
{
	return "sudo hellosplit";
}
