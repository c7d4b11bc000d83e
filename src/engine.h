/* engine.h — the portable split engine. No I/O, no clock: the adapter hands
 * in each packet with its meta and the time, and gets a verdict back plus
 * calls of its emit callback for every packet to send. Single-threaded. */
#ifndef HELLOSPLIT_ENGINE_H
#define HELLOSPLIT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "hostlist.h"
#include "packet.h"
#include "split.h"
#include "stats.h"
#include "tls.h"

/* Verdict bits of engine_packet. */
#define ENGINE_PASS   0   /* let the original packet go */
#define ENGINE_STOLEN 1   /* drop the original: the engine holds or re-emitted its bytes */
#define ENGINE_DONE   2   /* the flow needs the engine no more: the adapter may bypass it */

enum split_mode {
	SPLIT_MODE_TLS_HELLO = 0,   /* split the first ClientHello */
	SPLIT_MODE_IMMEDIATE,       /* split the first payload packet, no TLS check */
};

struct engine_config {
	enum split_mode mode;
	enum tls_complete complete;
	struct split_spec positions;
	uint8_t ports[65536 / 8];         /* bitmap of target destination ports */
	uint32_t collect_timeout_ms;
	uint32_t max_buffer;              /* stream bytes per flow */
	uint32_t max_held_pkts;           /* held packets per flow */
	uint64_t max_held_bytes;          /* held-packet buffers in total */
	uint32_t max_flows;
	uint32_t mss;                     /* 0: 1460 for IPv4, 1440 for IPv6 */
	uint32_t idle_timeout_s;
	uint64_t hash_key[2];             /* flow table hash: random in the daemon (config.c) */
	int observe;                      /* decide and count, but pass every packet */
};

/* Payload packets after which a split flow is done even if its hello was
 * never seen answered: room for every held packet and some retransmissions. */
static inline uint32_t engine_packet_cap(const struct engine_config *cfg)
{
	return cfg->max_held_pkts + 16;
}

/* What the engine hands its emit callback. */
enum engine_emit_kind {
	ENGINE_EMIT_PIECE,      /* a segment the engine built: send it */
	ENGINE_EMIT_ORIGINAL,   /* a packet it answered ENGINE_STOLEN for, unchanged: let it go */
};

/* Called for every packet the engine sends; meta is the adapter's meta of the
 * packet whose bytes it carries. The buffer is only valid during the call.
 * Returns 0, or -errno when the packet could not be sent: a flow whose piece
 * fails stops its split and its held originals leave unchanged (fail-open). */
typedef int (*engine_emit_fn)(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len,
			      const void *meta);
/* Called for a packet answered ENGINE_STOLEN whose bytes all left in pieces:
 * an adapter that kept it queued drops it now. Every stolen packet gets
 * exactly one ENGINE_EMIT_ORIGINAL or one discard, during the call that stole
 * it or a later one (engine_release_all at the latest). */
typedef void (*engine_discard_fn)(void *ctx, const void *meta);

/* Per-flow decisions, for -v logging: one call when a flow's hello is split
 * or its packets are passed unsplit. */
struct engine_flow_event {
	const uint8_t *src, *dst;         /* 4 or 16 bytes */
	int family;
	uint16_t sport, dport;
	const char *outcome;              /* "split", or the fail-open counter name */
	const uint8_t *sni;               /* hostname bytes, NULL when none */
	uint32_t sni_len;
	int ncuts;
	const uint32_t *cuts;
	uint32_t window_len;
	int observe;                      /* --observe: nothing was changed */
	int rung;                         /* the learner's rung of a split, -1: none */
	const char *chosen_by;            /* the learner's reason for the cuts, NULL: --split-at */
};
typedef void (*engine_log_fn)(void *ctx, const struct engine_flow_event *ev);

/* ---- learning (engine_set_learner): the cuts of each flow come from a
 * chooser, by its hostname, and the outcome of each split flow is reported:
 * a success is the first TLS handshake record from the server (seen by
 * engine_reply); a failure a reset or a FIN from the server's side before
 * it, or the hello retransmitted ENGINE_SILENT_RETRANSMITS times without
 * one (a censor that drops). One report per flow at most. */
#define ENGINE_SILENT_RETRANSMITS 3
/* Longest hostname a flow remembers for its report (DNS: 253). */
#define ENGINE_NAME_MAX 253
/* Flows awaiting their outcome at once; beyond it a flow is split as chosen
 * but not reported (counted in learn_unobserved). */
#define ENGINE_OBSERVED_MAX 1024

struct engine_choice {
	const struct split_spec *spec;    /* NULL: pass this hello unsplit */
	int rung;                         /* reported back with the outcome; -1: no report */
	const char *why;                  /* for -v: where the cuts come from (static text) */
};
/* Pure (no I/O): called once per hello whose hostname is known. */
typedef void (*engine_choose_fn)(void *ctx, const uint8_t *name, uint32_t len, struct engine_choice *c);

enum engine_outcome {
	ENGINE_OUTCOME_SUCCESS = 0,   /* a TLS handshake record came back */
	ENGINE_OUTCOME_RESET,         /* a reset before any */
	ENGINE_OUTCOME_FIN,           /* a FIN before any */
	ENGINE_OUTCOME_SILENT,        /* the hello retransmitted, unanswered */
};

/* What the outcome callback did with a report: counted by the engine. */
enum engine_learned {
	ENGINE_LEARN_IGNORED = 0,     /* stale, pinned, gave up, or --observe */
	ENGINE_LEARN_KEPT,            /* the rung stays */
	ENGINE_LEARN_MOVED,           /* the next connection takes the next rung */
	ENGINE_LEARN_GAVE_UP,         /* no rung gets through: the site passes unsplit */
};

struct engine_outcome_event {
	const uint8_t *src, *dst;         /* the client's flow, as in engine_flow_event */
	int family;
	uint16_t sport, dport;
	const uint8_t *name;              /* the hostname the chooser was asked about */
	uint32_t name_len;
	int rung;                         /* as the chooser answered */
	enum engine_outcome outcome;
};
typedef enum engine_learned (*engine_outcome_fn)(void *ctx, const struct engine_outcome_event *ev);

struct engine;

void engine_config_defaults(struct engine_config *cfg);
struct engine *engine_create(const struct engine_config *cfg, engine_emit_fn emit, void *ctx);
void engine_set_logger(struct engine *e, engine_log_fn log, void *ctx);
/* For adapters that defer the verdict of stolen packets (NFQUEUE); called
 * with the emit callback's ctx. */
void engine_set_discard(struct engine *e, engine_discard_fn discard);
/* Lists of hostnames to split only / never (NULL: not used). The caller
 * keeps them alive; a reload swaps them between packets. */
void engine_set_hostlists(struct engine *e, const struct hostlist *include, const struct hostlist *exclude);
/* Both lists of a struct hostlists, as loaded. */
static inline void engine_use_hostlists(struct engine *e, const struct hostlists *l)
{
	engine_set_hostlists(e, l->include_path ? &l->include : NULL, l->exclude_path ? &l->exclude : NULL);
}
void engine_destroy(struct engine *e);
/* Turns learning on: choose picks each flow's cuts, outcome hears how its
 * split did. Allocates the ENGINE_OBSERVED_MAX outcome slots once: 0 or
 * -ENOMEM. */
int engine_set_learner(struct engine *e, engine_choose_fn choose, engine_outcome_fn outcome, void *ctx);

/* One IP packet (no link layer). meta must point to PACKET_META_SIZE bytes:
 * the engine keeps a copy of all of them with each held packet. */
int engine_packet(struct engine *e, const uint8_t *pkt, size_t len, const void *meta, uint64_t now_ms);
/* One IP packet coming back from a server (source port a target port): only
 * observed, never held or changed, so the adapter lets it pass whatever the
 * answer; ENGINE_DONE when the flow needs no more of them. */
int engine_reply(struct engine *e, const uint8_t *pkt, size_t len, uint64_t now_ms);
/* Collect timeouts and idle-flow GC: call when engine_next_timeout() says,
 * and about once a second for the GC. */
void engine_tick(struct engine *e, uint64_t now_ms);
/* Milliseconds until the next collect timeout; UINT32_MAX when nothing is held. */
uint32_t engine_next_timeout(const struct engine *e, uint64_t now_ms);
/* Shutdown: every held packet is emitted unchanged, in order. */
void engine_release_all(struct engine *e);

const struct stats *engine_stats(const struct engine *e);
/* The learned_sites gauge, set by the learner's owner. */
void engine_set_learned_sites(struct engine *e, uint32_t n);
/* Flows currently in the table. */
uint32_t engine_flow_count(const struct engine *e);

#endif
