/* probe-resolve.c — probe_net_resolve with getaddrinfo: the dynamically
 * linked POSIX builds and Windows (static glibc has no resolver: those builds
 * take probe-resolve-static.c). */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probe-net.h"

int probe_net_resolve(const char *name, int numeric, uint16_t port, struct probe_address *out, int max,
		      char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int rc, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = numeric ? AI_NUMERICHOST : AI_ADDRCONFIG;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc) {
#ifdef EAI_SYSTEM
		if (rc == EAI_SYSTEM) {
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
#endif
		snprintf(err, errlen, "%s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		struct probe_address *a = &out[n];

		memset(a, 0, sizeof(*a));
		a->port = port;
		if (ai->ai_family == AF_INET) {
			a->family = 4;
			memcpy(a->bytes, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a->family = 6;
			memcpy(a->bytes, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		inet_ntop(ai->ai_family, a->bytes, a->text, sizeof(a->text));
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		snprintf(err, errlen, "no IPv4 or IPv6 address");
	return n ? n : -1;
}
