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
#define TC_SNI_MAX 256          /* hostname bytes carried in a flow line: TC_SNI_MAX - 1 at most (DNS: 253) */
#define TC_RUNGS 264            /* rungs map: the ladder's rungs (LADDER_MAX_RUNGS), then one per pin (LEARN_MAX_PINS) */
#define TC_PIN_RUNG0 8          /* index of the first pin's positions in the rungs map (= LADDER_MAX_RUNGS) */
#define TC_SITES 4096           /* entries of the learned map (= LEARN_DEFAULT_ENTRIES, pins included) */
#define TC_SUFFIXES 16          /* label-boundary suffixes of a hostname looked up at most (the shortest) */
#define TC_SILENT_RETRANSMITS 3 /* = ENGINE_SILENT_RETRANSMITS: an unanswered hello sent again this often: SILENT */

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
	uint32_t learn;             /* --learn: each named hello's cuts come from the rungs and learned maps,
				     * the outcome of its flow comes back as an event */
	uint32_t pins;              /* --pin given: look up pin entries too */
	uint32_t verbose;           /* -v: every event wakes the daemon; else only the outcomes that teach
				     * (hello events wait for the next wakeup, successes at rung 0 with
				     * nothing learned are only counted) */
};

/* The learned map (learning): key = the 64-bit hash (tc_plan_hash) of a
 * lowercased name without its trailing dot, and the kind of entry. */
#define TC_KIND_PIN 1           /* a pinned domain (and its subdomains): rung = TC_PIN_RUNG0 + pin index */
#define TC_KIND_NAME 2          /* one exact name's learned rung */
#define TC_KIND_SITE 3          /* a site's (registrable part's) learned rung */

struct tc_site_key {
	uint64_t hash;
	uint32_t kind;              /* TC_KIND_* */
	uint32_t zero;
};

struct tc_site {
	uint32_t rung;              /* index into the rungs map */
	uint32_t gave_up;           /* no rung gets through: pass unsplit */
};

/* One rung's positions (the rungs map, index = rung). */
struct tc_rung {
	uint32_t npos;
	struct tc_position pos[TC_MAX_POSITIONS];
};

/* Where a hello's cuts came from (the event's source): as enum learn_source. */
#define TC_SRC_DEFAULT 0
#define TC_SRC_NAME 1
#define TC_SRC_SITE 2
#define TC_SRC_PIN 3
#define TC_SRC_GAVE_UP 4

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
	TC_C_PASS_LEARNED,      /* hellos passed unsplit: their site gave up (no split gets through) */
	TC_C_REPLIES,           /* packets from servers observed for learning (ingress, flows awaiting their answer) */
	TC_C_EVENT_LOST,        /* an outcome or hello event the ring buffer had no room for: not learned from */
	TC_C_ANSWERED_DEFAULT,  /* learning: flows at rung 0 with nothing learned answered (counted, no event) */
	TC_C_COUNT
};

/* Outcomes of a flow line. */
#define TC_EV_SPLIT 0
#define TC_EV_NOT_TLS 1
#define TC_EV_EMIT 2
#define TC_EV_ERROR 3
#define TC_EV_TOO_BIG 4
#define TC_EV_PASS_LEARNED 5    /* the site gave up: passed unsplit */
/* Outcomes of a split flow awaiting its first answer (learning): the ingress
 * program (answer, reset, FIN) or the egress one (silent); tuple and rung
 * only, the name came with the flow's TC_EV_SPLIT event. */
#define TC_EV_ANSWER 16         /* a TLS handshake record from the server */
#define TC_EV_RESET 17          /* a reset before any */
#define TC_EV_FIN 18            /* a FIN before any */
#define TC_EV_SILENT 19         /* the hello retransmitted TC_SILENT_RETRANSMITS times, unanswered */

struct tc_event {
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;      /* host order */
	uint8_t family;             /* 4 or 6 */
	uint8_t outcome;            /* TC_EV_* */
	uint8_t ncuts;
	uint8_t sni_len;            /* bytes in sni (at most TC_SNI_MAX - 1) */
	int16_t rung;               /* learning: the rung the cuts came from (rungs map index); -1: no report */
	uint8_t source;             /* learning: TC_SRC_* */
	uint8_t pad;
	uint32_t window;
	uint32_t cuts[TC_MAX_POSITIONS];
	uint8_t sni[TC_SNI_MAX];
};

#endif
