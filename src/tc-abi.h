/* tc-abi.h — what the tc program (tc.bpf.c) and its loader (tc.c, tc-plan.c)
 * share: the configuration in .rodata, the counters of the per-CPU stats
 * array and the flow-line events of the ring buffer. Fixed-size types only;
 * tc.bpf.c defines the uint*_t names from the kernel's __u* before including it. */
#ifndef HELLOSPLIT_TC_ABI_H
#define HELLOSPLIT_TC_ABI_H

#define TC_MAX_POSITIONS 8      /* = SPLIT_MAX_POSITIONS */
#define TC_MAX_PIECES 16        /* pieces one skb is cut into at most; more: it goes whole */
#define TC_MAX_PIECE 9216       /* bytes of one piece at most (a jumbo frame's payload) */
#define TC_FLOWS 65536          /* entries of the flow LRU map */
#define TC_SNI_MAX 128          /* hostname bytes carried in a flow line: TC_SNI_MAX - 1 at most */

/* Markers: the same numbers as enum split_marker (split.h). */
#define TC_POS_ABS 0
#define TC_POS_SNI 1
#define TC_POS_SNIEND 2
#define TC_POS_MIDSLD 3

struct tc_position {
	uint32_t marker;
	int32_t delta;
};

/* The program's configuration, written into .rodata before the load. */
struct tc_config {
	uint8_t ports[65536 / 8];   /* destination ports, bitmap */
	uint32_t clone_mark;        /* mark bit of the program's own clones (--fwmark) */
	uint32_t npos;
	struct tc_position pos[TC_MAX_POSITIONS];
	uint32_t immediate;         /* --split-mode immediate: the first payload, no TLS check */
	uint32_t observe;           /* --observe: decide, count, change nothing */
	uint32_t events;            /* -v: flow lines through the ring buffer */
	uint32_t max_fails;         /* failed cuts after which a flow is passed */
};

/* Per-CPU counters; tc.c adds them up into struct stats. */
enum tc_counter {
	TC_C_PACKETS = 0,       /* TCP packets to a target port */
	TC_C_FLOWS,             /* SYNs tracked */
	TC_C_SPLIT,             /* hellos split (first time) */
	TC_C_SEGMENTS,          /* pieces sent */
	TC_C_RESPLIT,           /* retransmissions cut again */
	TC_C_NOT_TLS,           /* first payload not a ClientHello */
	TC_C_ERROR,             /* a piece could not be built: the packet was dropped, TCP resends */
	TC_C_EMIT,              /* a clone could not be sent: the original left whole */
	TC_C_MALFORMED,         /* IP/TCP headers that do not parse */
	TC_C_FRAGMENT,          /* IPv4 fragments */
	TC_C_IPV6_EXT,          /* IPv6 extension headers */
	TC_C_TFO,               /* data on a SYN (TCP Fast Open): passed */
	TC_C_TOO_BIG,           /* more than TC_MAX_PIECES pieces or a piece over TC_MAX_PIECE: passed */
	TC_C_SNI_LATER,         /* the hostname was in a later packet of the hello, or across two: found and cut there */
	TC_C_FIN,               /* the hello packet carried FIN: passed */
	TC_C_SNI_MISSED,        /* the walk could not follow the hello into the next packet: numeric positions only */
	TC_C_COUNT
};

/* Outcomes of a flow line. */
#define TC_EV_SPLIT 0
#define TC_EV_NOT_TLS 1
#define TC_EV_EMIT 2
#define TC_EV_ERROR 3
#define TC_EV_TOO_BIG 4

struct tc_event {
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;      /* host order */
	uint8_t family;             /* 4 or 6 */
	uint8_t outcome;            /* TC_EV_* */
	uint8_t ncuts;
	uint8_t sni_len;            /* bytes in sni (at most TC_SNI_MAX) */
	uint32_t window;
	uint32_t cuts[TC_MAX_POSITIONS];
	uint8_t sni[TC_SNI_MAX];
};

#endif
