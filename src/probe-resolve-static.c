/* probe-resolve-static.c — probe_net_resolve for statically linked glibc
 * builds (Android, STATIC=1): static glibc cannot load its resolver (NSS),
 * so these builds take numeric addresses only, given with --ip. */
#include "probe-net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int probe_net_resolve(const char *name, int numeric, uint16_t port, struct probe_address *out, int max,
		      char *err, size_t errlen)
{
	struct probe_address *a = out;

	if (max < 1)
		return -1;
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, name, a->bytes) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, name, a->bytes) == 1)
		a->family = 6;
	if (!a->family) {
		snprintf(err, errlen, numeric ? "not an IPv4 or IPv6 address" : "this static build resolves no names");
		return -1;
	}
	inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, a->text, sizeof(a->text));
	return 1;
}
