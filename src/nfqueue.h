/* nfqueue.h — Linux packet I/O: nfnetlink_queue spoken directly (one small
 * path for the dynamic, static and Android builds) and raw-socket injection. */
#ifndef HELLOSPLIT_NFQUEUE_H
#define HELLOSPLIT_NFQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* What nfqueue attaches to each packet for the engine, padded to the
 * PACKET_META_SIZE bytes the engine copies. */
struct nfqueue_meta {
	uint32_t mark;        /* the packet's fwmark: Android's netd routes by it */
	uint32_t outdev;
	uint32_t packet_id;   /* its verdict waits while the engine holds it */
	uint8_t unused[PACKET_META_SIZE - 12];
};

struct nfqueue {
	int nl;                         /* NETLINK_NETFILTER socket */
	int raw4, raw6;                 /* injection sockets (-1 when that family is unavailable) */
	uint16_t queue_num;
	uint32_t fwmark, done_mark;
	uint32_t raw4_mark, raw6_mark;  /* SO_MARK currently set on each */
	uint32_t seq;
	struct engine *engine;
	uint8_t *rx;
	size_t rx_size;
	uint8_t tx[8192];               /* verdicts not sent yet */
	size_t tx_len;
	uint64_t packets, inject_errors;
	int last_inject_errno;
	int in_engine;                  /* a packet is in engine_packet now: */
	uint32_t current_id;            /* its id */
	int current_decided;            /* the engine gave it its verdict itself */
	uint32_t deferred;              /* stolen packets still waiting for a verdict */
};

/* Opens the queue and the raw sockets. Returns 0, or -errno with a one-line
 * explanation and what to do in err. */
int nfqueue_open(struct nfqueue *q, uint16_t queue_num, uint32_t fwmark, uint32_t done_mark, char *err,
		 size_t errlen);
void nfqueue_close(struct nfqueue *q);

/* Reads the packets waiting, at most NFQUEUE_BATCH of them (so that timers
 * and signals are not starved by a busy queue), runs them through the engine
 * with the time read per packet, sends verdicts. A packet the engine holds
 * stays queued in the kernel until the engine emits or discards it. Returns
 * 0 or -errno. */
#define NFQUEUE_BATCH 64
int nfqueue_receive(struct nfqueue *q);
/* Sends the verdicts still pending. */
void nfqueue_flush(struct nfqueue *q);

/* engine_emit_fn: a piece goes out through the raw socket with the packet's
 * original mark plus fwmark, after the pending verdicts; an unchanged
 * original by an accept verdict for its queued packet, with the same mark. */
int nfqueue_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta);
/* engine_discard_fn: a drop verdict for the queued packet. */
void nfqueue_discard(void *ctx, const void *meta);

#endif
