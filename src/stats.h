/* stats.h — the counters every platform reports, by one list of names. */
#ifndef HELLOSPLIT_STATS_H
#define HELLOSPLIT_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(name, help): the JSON key is the name. */
#define STATS_COUNTERS(X)                                                              \
	X(packets, "packets seen by the engine")                                        \
	X(flows, "flows tracked")                                                        \
	X(flows_split, "flows whose hello was split")                                    \
	X(segments_emitted, "segments emitted by splits")                                \
	X(resplit_retransmits, "retransmissions split again")                            \
	X(failopen_not_tls, "passed unsplit: not a TLS ClientHello")                     \
	X(failopen_timeout, "passed unsplit: hello incomplete at --collect-timeout")     \
	X(failopen_overflow, "passed unsplit: hello larger than --max-buffer")           \
	X(failopen_held_limit, "passed unsplit: --max-held-pkts or --max-held-bytes")    \
	X(failopen_table_full, "passed unsplit: --max-flows reached")                    \
	X(failopen_error, "passed unsplit: packets out of sequence or internal error")   \
	X(failopen_shutdown, "passed unsplit: released at exit")                         \
	X(failopen_emit, "passed unsplit: a piece could not be sent")                    \
	X(pass_hostlist, "flows passed unsplit by --hostlist/--hostlist-exclude")       \
	X(pass_malformed, "packets passed: malformed IP/TCP")                            \
	X(pass_fragment, "packets passed: IPv4 fragments")                               \
	X(pass_ipv6_ext, "packets passed: IPv6 extension headers")                       \
	X(replies_seen, "packets from servers observed for learning")                   \
	X(learn_successes, "split flows answered by the server")                         \
	X(learn_failures, "split flows reset, ended or unanswered before any answer")   \
	X(learn_moves, "sites moved one rung down the ladder")                           \
	X(learn_gave_up, "sites where no rung of the ladder got through")                \
	X(learn_unobserved, "split flows not observed: every outcome slot busy")         \
	X(pass_learned, "flows passed unsplit: their site gave up (no split gets through)") \
	X(learned_sites, "sites and names with a learned rung now")                      \
	X(held_bytes, "bytes of held-packet buffers now")                                \
	X(held_bytes_peak, "most bytes of held-packet buffers at once")

struct stats {
#define STATS_FIELD(name, help) uint64_t name;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
	int failopen_emit_errno;          /* why the last piece could not be sent */
};

/* "EPERM" for EPERM: the name of the errors sending a packet can give, else "errno N". */
const char *stats_errno_name(int err, char *buf, size_t n);

/* Aligned "name  value  (per second)" lines for a person. */
void stats_print(FILE *out, const struct stats *s, double uptime_s);
/* One flat JSON object with uptime_s. */
void stats_write_json(FILE *out, const struct stats *s, double uptime_s);
/* Writes the JSON to path through a temporary file and rename. Returns 0 or -errno. */
int stats_save_json(const char *path, const struct stats *s, double uptime_s);

#endif
