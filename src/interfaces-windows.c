/* interfaces-windows.c — `--print-interfaces`: what a user needs to pick
 * --exclude-ifidx values (WinDivert's ifIdx is the interface index). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>

#include "interfaces.h"
#include "log.h"
#include "util-windows.h"

static const char *oper_status(IF_OPER_STATUS s)
{
	switch (s) {
	case IfOperStatusUp: return "up";
	case IfOperStatusDown: return "down";
	case IfOperStatusDormant: return "dormant";
	case IfOperStatusNotPresent: return "not present";
	case IfOperStatusLowerLayerDown: return "lower layer down";
	default: return "unknown";
	}
}

static void print_address(FILE *out, const SOCKADDR *sa)
{
	char text[INET6_ADDRSTRLEN];
	const void *addr = sa->sa_family == AF_INET ? (const void *)&((const SOCKADDR_IN *)sa)->sin_addr
						    : (const void *)&((const SOCKADDR_IN6 *)sa)->sin6_addr;

	if (inet_ntop(sa->sa_family, addr, text, sizeof(text)))
		fprintf(out, "                 %s\n", text);
}

int interfaces_print(FILE *out)
{
	ULONG size = 16384, flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
	IP_ADAPTER_ADDRESSES *list = NULL, *a;
	ULONG r = ERROR_BUFFER_OVERFLOW;
	char text[256], name[512], description[512];
	int tries;

	for (tries = 0; tries < 4 && r == ERROR_BUFFER_OVERFLOW; tries++) {
		free(list);
		list = malloc(size);
		if (!list) {
			log_error("out of memory listing interfaces.");
			return 1;
		}
		r = GetAdaptersAddresses(AF_UNSPEC, flags, NULL, list, &size);
	}
	if (r != NO_ERROR) {
		log_error("listing interfaces failed (GetAdaptersAddresses error %lu: %s).", r,
			  windows_error_text(r, text, sizeof(text)));
		free(list);
		return 1;
	}
	SetConsoleOutputCP(CP_UTF8);          /* adapter names are Unicode */
	fprintf(out, "IfIdx  Status  Name (description)\n                 addresses\n");
	for (a = list; a; a = a->Next) {
		IP_ADAPTER_UNICAST_ADDRESS *u;
		ULONG idx = a->IfIndex ? a->IfIndex : a->Ipv6IfIndex;

		windows_utf8(a->FriendlyName, name, sizeof(name));
		windows_utf8(a->Description, description, sizeof(description));
		fprintf(out, "%-6lu %-7s %s (%s)\n", idx, oper_status(a->OperStatus), name, description);
		if (a->IfIndex && a->Ipv6IfIndex && a->Ipv6IfIndex != a->IfIndex)
			fprintf(out, "                 IPv6 index %lu\n", a->Ipv6IfIndex);
		for (u = a->FirstUnicastAddress; u; u = u->Next)
			print_address(out, u->Address.lpSockaddr);
	}
	fprintf(out, "\nTo leave an interface alone (a VPN, a virtual switch): --exclude-ifidx IfIdx, or IfIdx.SubIfIdx\n"
		     "for one sub-interface (SubIfIdx is 0 for most adapters). A list: --exclude-ifidx 12,17.\n");
	free(list);
	return 0;
}
