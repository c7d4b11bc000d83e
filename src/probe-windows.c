/* probe-windows.c — probe-net.h for Windows (Winsock2). Link with -lws2_32.
 * SIO_TCP_INFO (Windows 10 1703 and later) gives bytes in flight and
 * retransmitted bytes; it cannot tell unsent bytes, so the pieces are paced
 * by time. Older Windows: no TCP state, merges are not recognised. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#ifndef NTDDI_VERSION
#define NTDDI_VERSION 0x0A000003   /* NTDDI_WIN10_RS2: SIO_TCP_INFO, TCP_INFO_v0 */
#endif

#define _CRT_RAND_S
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "probe-net.h"

static int tcp_info_works = 1;

int probe_net_init(char *err, size_t errlen)
{
	WSADATA wsa;
	int rc = WSAStartup(MAKEWORD(2, 2), &wsa);

	if (rc) {
		snprintf(err, errlen, "WSAStartup failed (error %d)", rc);
		return -1;
	}
	SetConsoleOutputCP(CP_UTF8);             /* the report prints check marks */
	return 0;
}

void probe_net_cleanup(void)
{
	WSACleanup();
}

static enum probe_net_status status_of(int e)
{
	switch (e) {
	case 0:
		return PROBE_NET_OK;
	case WSAEWOULDBLOCK:
	case WSAEINPROGRESS:
	case WSAEINTR:
		return PROBE_NET_AGAIN;
	case WSAECONNRESET:
	case WSAECONNABORTED:
		return PROBE_NET_RESET;
	case WSAECONNREFUSED:
		return PROBE_NET_REFUSED;
	case WSAETIMEDOUT:
		return PROBE_NET_TIMEOUT;
	case WSAENETUNREACH:
	case WSAEHOSTUNREACH:
	case WSAENETDOWN:
	case WSAEHOSTDOWN:
		return PROBE_NET_UNREACHABLE;
	default:
		return PROBE_NET_ERROR;
	}
}

enum probe_net_status probe_net_connect(const struct probe_address *a, probe_socket *sock)
{
	struct sockaddr_storage ss;
	int len;
	SOCKET s;
	u_long nonblocking = 1;
	BOOL one = TRUE;

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
	s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
	if (s == INVALID_SOCKET)
		return status_of(WSAGetLastError());
	if (ioctlsocket(s, FIONBIO, &nonblocking) == SOCKET_ERROR ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one)) == SOCKET_ERROR ||
	    (connect(s, (struct sockaddr *)&ss, len) == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)) {
		enum probe_net_status st = status_of(WSAGetLastError());

		closesocket(s);
		return st == PROBE_NET_AGAIN ? PROBE_NET_ERROR : st;
	}
	*sock = (probe_socket)s;
	return PROBE_NET_OK;
}

enum probe_net_status probe_net_connect_result(probe_socket sock)
{
	int e = 0, len = sizeof(e);

	if (getsockopt((SOCKET)sock, SOL_SOCKET, SO_ERROR, (char *)&e, &len) == SOCKET_ERROR)
		return status_of(WSAGetLastError());
	return status_of(e);
}

long probe_net_send(probe_socket sock, const uint8_t *buf, size_t n)
{
	int r = send((SOCKET)sock, (const char *)buf, (int)n, 0);

	return r != SOCKET_ERROR ? (long)r : -(long)status_of(WSAGetLastError());
}

long probe_net_recv(probe_socket sock, uint8_t *buf, size_t n)
{
	int r = recv((SOCKET)sock, (char *)buf, (int)n, 0);

	if (r == 0)
		return -(long)PROBE_NET_CLOSED;
	return r != SOCKET_ERROR ? (long)r : -(long)status_of(WSAGetLastError());
}

void probe_net_close(probe_socket sock)
{
	struct linger l = {1, 0};

	setsockopt((SOCKET)sock, SOL_SOCKET, SO_LINGER, (const char *)&l, sizeof(l));
	closesocket((SOCKET)sock);
}

int probe_net_poll(struct probe_poll *p, int n, int timeout_ms)
{
	WSAPOLLFD fds[256];
	int i, r;

	if (n > (int)(sizeof(fds) / sizeof(fds[0])))
		return -1;
	if (n == 0) {                            /* WSAPoll refuses an empty set */
		Sleep((DWORD)timeout_ms);
		return 0;
	}
	for (i = 0; i < n; i++) {
		fds[i].fd = (SOCKET)p[i].sock;
		fds[i].events = (SHORT)((p[i].want & PROBE_NET_READ ? POLLRDNORM : 0) |
					(p[i].want & PROBE_NET_WRITE ? POLLWRNORM : 0));
		fds[i].revents = 0;
	}
	r = WSAPoll(fds, (ULONG)n, timeout_ms);
	if (r == SOCKET_ERROR)
		return -1;
	for (i = 0; i < n; i++)
		p[i].got = (fds[i].revents & POLLRDNORM ? PROBE_NET_READ : 0) |
			   (fds[i].revents & POLLWRNORM ? PROBE_NET_WRITE : 0) |
			   (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? PROBE_NET_FAILED : 0);
	return r;
}

int probe_net_tcp_state(probe_socket sock, struct probe_tcp_state *st)
{
	TCP_INFO_v0 info;
	DWORD version = 0, got = 0;

	if (!tcp_info_works)
		return -1;
	if (WSAIoctl((SOCKET)sock, SIO_TCP_INFO, &version, sizeof(version), &info, sizeof(info), &got, NULL,
		     NULL) == SOCKET_ERROR) {
		if (WSAGetLastError() == WSAEOPNOTSUPP || WSAGetLastError() == WSAEINVAL)
			tcp_info_works = 0;      /* before Windows 10 1703 */
		return -1;
	}
	st->unsent = -1;
	st->unacked = info.BytesInFlight;
	st->retransmits = info.BytesRetrans;
	return 0;
}

const char *probe_net_merge_note(void)
{
	return tcp_info_works ? NULL
			      : "this Windows does not report retransmissions (SIO_TCP_INFO needs Windows 10 1703): "
				"a try whose pieces were merged when resent is not recognised";
}

uint64_t probe_net_seed(void)
{
	unsigned int a = 0, b = 0;

	if (rand_s(&a) || rand_s(&b))
		return monotonic_us() ^ ((uint64_t)GetCurrentProcessId() << 32);
	return (uint64_t)a << 32 | b;
}

const char *probe_net_daemon_command(void)
{
	return "hellosplit.exe";
}
