/* tc-plan.h — the tc engine's decisions that need no kernel: which flags it
 * can serve, which interfaces it attaches to and how (Ethernet or L3), the
 * configuration the program gets, and its counters as struct stats. Pure
 * logic (no OS or libbpf header): unit-tested in tests/unit/test_tc.c. */
#ifndef HELLOSPLIT_TC_PLAN_H
#define HELLOSPLIT_TC_PLAN_H

#include <stdint.h>

#include "config.h"
#include "stats.h"
#include "tc-abi.h"

enum tc_iface_kind {
	TC_IFACE_SKIP = 0,      /* not attached */
	TC_IFACE_L2,            /* packets start with a 14-byte Ethernet header: hellosplit_l2 */
	TC_IFACE_L3,            /* packets start at the IP header (PPP, tun, WireGuard): hellosplit_l3 */
};

/* Interface flags and link types (the values of linux/if.h, linux/if_arp.h). */
#define TC_IFF_UP 0x1u
#define TC_IFF_LOOPBACK 0x8u
#define TC_ARPHRD_ETHER 1u
#define TC_ARPHRD_PPP 512u
#define TC_ARPHRD_RAWIP 519u
#define TC_ARPHRD_TUNNEL 768u
#define TC_ARPHRD_TUNNEL6 769u
#define TC_ARPHRD_LOOPBACK 772u
#define TC_ARPHRD_SIT 776u
#define TC_ARPHRD_IPGRE 778u
#define TC_ARPHRD_NONE 65534u

/* NULL when the tc engine serves every option of cfg; else the option it
 * cannot serve, as the user wrote it ("--hostlist"). --learn (on by
 * default) is not refused: the tc engine runs with learning off, said once
 * (daemon-linux.c). */
const char *tc_plan_refusal(const struct config *cfg);

/* How the engine treats interface name, of link type type (ARPHRD_*) and
 * flags (IFF_*), under --iface, --exclude-iface and --exclude-loopback. */
enum tc_iface_kind tc_plan_iface(const struct config *cfg, const char *name, unsigned type, unsigned flags);

/* The link type's name for messages: "Ethernet", "PPP", "none (tun, WireGuard)"... */
const char *tc_plan_link_name(unsigned type);

/* The program's .rodata configuration for cfg. */
void tc_plan_config(const struct config *cfg, struct tc_config *out);

/* The program's counters (summed over the CPUs) as struct stats. */
void tc_plan_stats(const uint64_t c[TC_C_COUNT], struct stats *s);

#endif
