/* tc.bpf.c — the tc engine: a clsact egress, direct-action sched_cls
 * program that cuts the first TLS ClientHello of each outbound TCP flow to a
 * target port into pieces where the packet already is.
 *
 * For every extra piece the packet is cloned with bpf_clone_redirect to the
 * same interface's egress, carrying the --fwmark bit: the clone re-enters
 * this program before the helper returns, is trimmed to its piece there and
 * leaves; so pieces leave in order and the original, trimmed last, is the
 * last piece. A flow LRU map keeps each hello's absolute cut positions, so a
 * retransmission (also one starting mid-hello after a partial ACK) is cut
 * again. Whatever cannot be done leaves the packet whole (fail open).
 *
 * Every verdict but a drop is TC_ACT_UNSPEC: the filters after this one
 * (other programs') still see each packet.
 *
 * Built with clang -target bpf; the object is embedded in the binary through
 * bpftool's skeleton (tc.c). hellosplit_l2 serves interfaces with an
 * Ethernet header, hellosplit_l3 those whose packets start at the IP header
 * (PPP, tun, WireGuard). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __s32 int32_t;
#include "tc-abi.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct tc_config cfg = {};

/* Hides a value from clang's range analysis, so the mask after it stays
 * for the verifier. */
#define OPAQUE(v) asm volatile("" : "+r"(v))
#define CHUNK 512               /* bytes moved or summed per helper call (bpf_csum_diff: at most 512) */
#define BUF_SIZE 1024           /* scratch buffer: CHUNK plus room for the zero padding, a power of two */
#define HELLO_BUF 4096          /* the hello's first bytes, parsed for the hostname; a power of two */
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

enum flow_state { FLOW_NEW = 0, FLOW_SPLIT, FLOW_DONE };

struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u32 family;
};

struct flow {
	__u32 base;             /* sequence number of the first payload byte */
	__u32 window;           /* hello bytes from base the cuts apply to */
	__u32 cuts[TC_MAX_POSITIONS];
	__u32 seen_end;         /* bytes from base sent so far: below it, a retransmission */
	__u32 walk_off, walk_end;       /* pending: where the extension walk goes on (from base) */
	__u8 ncuts, state, fails;
	__u8 pending;           /* the hostname comes in a later packet */
	__u16 carry;            /* bytes of the previous packet kept in carries (from walk_off) */
};

/* The tail of a packet that ends inside the hostname's extension (its
 * header or the name cross into the next packet): kept until the next
 * packet comes, then walked together with it. */
#define CARRY_MAX 512           /* 4 + 5 + 255 bytes at most are needed; a power of two */
#define CARRY_FLOWS 256         /* flows waiting for their next packet at the same time */

struct carry {
	__u32 len;
	__u8 b[CARRY_MAX];
};

/* The clone's piece, set by the original just before each clone (same CPU,
 * synchronous), and a buffer for moving and summing bytes. */
/* The state of the two bpf_loop walks: in the scratch map, whose contents
 * the verifier does not track (on the stack, each step would differ and the
 * callback be verified again and again). */
struct ext_walk {
	__u32 off, end, avail, sni_off, sni_len;
	int result;
};

struct dots {
	__u32 base, end, start, last_dot, found;
};

struct scratch {
	__u32 active, start, end, mark, partial, failed;
	__u32 lc[TC_MAX_POSITIONS];     /* hs_cut: the cuts inside this packet */
	__u32 ends[TC_MAX_PIECES];      /* hs_cut: where each piece ends */
	__u8 buf[BUF_SIZE];
	__u8 hello[HELLO_BUF];          /* hs_first: the hello's first bytes */
	struct ext_walk w;
	struct dots d;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TC_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CARRY_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct carry);
} carries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_C_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* One packet's offsets (from skb->data) and fields. */
struct pkt {
	__u32 nh, l4, pay, plen, seq, l4len;
	__u16 iplen;            /* IPv4 total length or IPv6 payload length */
	__u8 v6, ihl, thl, flags;
	struct flow_key key;
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count_if(int on, __u32 idx)
{
	if (on)
		count(idx);
}

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

/* 0: a TCP packet to a target port, parsed; 1: not ours, pass. counting:
 * the packet's first look (the others, of the same packet, count nothing). */
static __always_inline int parse(struct __sk_buff *skb, __u32 nh, struct pkt *p, int counting)
{
	struct tcphdr th;
	__u32 l4len;
	__u16 port;
	__u8 fl;

	__builtin_memset(p, 0, sizeof(*p));
	p->nh = nh;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, nh, &ip, sizeof(ip)))
			return 1;
		if (ip.protocol != IPPROTO_TCP)
			return 1;
		if (ip.version != 4 || ip.ihl < 5) {
			count_if(counting, TC_C_MALFORMED);
			return 1;
		}
		if (ip.frag_off & bpf_htons(0x3fff)) {
			count_if(counting, TC_C_FRAGMENT);
			return 1;
		}
		p->ihl = ip.ihl * 4;
		p->iplen = bpf_ntohs(ip.tot_len);
		if (p->iplen < p->ihl + 20u) {
			count_if(counting, TC_C_MALFORMED);
			return 1;
		}
		l4len = p->iplen - p->ihl;
		p->key.family = 4;
		__builtin_memcpy(p->key.saddr, &ip.saddr, 4);
		__builtin_memcpy(p->key.daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, nh, &ip6, sizeof(ip6)))
			return 1;
		if (ip6.nexthdr != IPPROTO_TCP) {
			/* hop-by-hop, routing, fragment, destination options */
			if (ip6.nexthdr == 0 || ip6.nexthdr == 43 || ip6.nexthdr == 44 || ip6.nexthdr == 60)
				count_if(counting, TC_C_IPV6_EXT);
			return 1;
		}
		p->v6 = 1;
		p->ihl = 40;
		p->iplen = bpf_ntohs(ip6.payload_len);
		l4len = p->iplen;
		p->key.family = 6;
		__builtin_memcpy(p->key.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->key.daddr, &ip6.daddr, 16);
	} else {
		return 1;
	}
	p->l4 = nh + p->ihl;
	if (bpf_skb_load_bytes(skb, p->l4, &th, sizeof(th)))
		return 1;
	port = bpf_ntohs(th.dest);
	if (!(cfg.ports[port >> 3] & (1u << (port & 7))))
		return 1;
	count_if(counting, TC_C_PACKETS);
	p->thl = th.doff * 4;
	if (p->thl < 20 || p->thl > l4len || skb->len < p->l4 + l4len) {
		count_if(counting, TC_C_MALFORMED);
		return 1;
	}
	p->l4len = l4len;
	p->pay = p->l4 + p->thl;
	p->plen = l4len - p->thl;
	p->seq = bpf_ntohl(th.seq);
	__builtin_memcpy(&fl, (__u8 *)&th + 13, 1);
	p->flags = fl;
	p->key.sport = bpf_ntohs(th.source);
	p->key.dport = port;
	return 0;
}

/* The full TCP checksum of the packet as it is now, into its field. */
static __always_inline int tcp_checksum(struct __sk_buff *skb, struct pkt *p, __u32 plen, struct scratch *sc)
{
	__u32 csum_off = p->l4 + 16, l4len = p->thl + plen, off, i;
	__u16 zero = 0, folded;
	__s64 sum;

	if (bpf_skb_store_bytes(skb, csum_off, &zero, 2, 0))
		return -1;
	/* pseudo header: addresses, protocol, TCP length (network order) */
	if (p->v6) {
		struct {
			__u8 s[16], d[16];
			__u32 len;
			__u8 zero[3], nh;
		} ph = {};

		__builtin_memcpy(ph.s, p->key.saddr, 16);
		__builtin_memcpy(ph.d, p->key.daddr, 16);
		ph.len = bpf_htonl(l4len);
		ph.nh = IPPROTO_TCP;
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct {
			__u8 s[4], d[4];
			__u8 zero, proto;
			__u16 len;
		} ph = {};

		__builtin_memcpy(ph.s, p->key.saddr, 4);
		__builtin_memcpy(ph.d, p->key.daddr, 4);
		ph.proto = IPPROTO_TCP;
		ph.len = bpf_htons(l4len);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
	if (sum < 0)
		return -1;
	/* the TCP header: 20..60 bytes, a multiple of 4 */
	{
		__u32 n = p->thl;

		OPAQUE(n);
		n &= 63;

		if (n < 20 || n > 60)
			return -1;
		if (bpf_skb_load_bytes(skb, p->l4, sc->buf, n))
			return -1;
		sum = bpf_csum_diff(0, 0, (__be32 *)sc->buf, n, (__u32)sum);
		if (sum < 0)
			return -1;
	}
	/* the payload, CHUNK bytes a call, the last one padded with zeros */
	for (i = 0; i < TC_MAX_PIECE / CHUNK; i++) {
		__u32 n, m;

		off = i * CHUNK;
		if (off >= plen)
			break;
		n = plen - off;
		if (n > CHUNK)
			n = CHUNK;
		OPAQUE(n);
		n &= BUF_SIZE - 1;      /* the verifier's bound */
		if (n < 1)
			return -1;
		if (bpf_skb_load_bytes(skb, p->pay + off, sc->buf, n))
			return -1;
		sc->buf[n & (BUF_SIZE - 1)] = 0;
		sc->buf[(n + 1) & (BUF_SIZE - 1)] = 0;
		sc->buf[(n + 2) & (BUF_SIZE - 1)] = 0;
		m = (n + 3) & ~3u;
		OPAQUE(m);
		m &= BUF_SIZE - 1;
		sum = bpf_csum_diff(0, 0, (__be32 *)sc->buf, m, (__u32)sum);
		if (sum < 0)
			return -1;
	}
	{
		__u32 s = (__u32)sum;

		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		folded = (__u16)~s;
	}
	return bpf_skb_store_bytes(skb, csum_off, &folded, 2, 0) ? -1 : 0;
}

/* Trims the packet to payload bytes [start, end): the bytes move to the
 * payload's start, the tail goes, length, sequence number and checksums
 * follow. partial: the checksum is CHECKSUM_PARTIAL (only the pseudo header
 * is in the field; the device or the stack sums the rest). */
static __always_inline int build_piece(struct __sk_buff *skb, struct pkt *p, __u32 start, __u32 end, __u32 partial,
				       struct scratch *sc)
{
	__u32 newlen = end - start, i;

	if (end <= start || end > p->plen || newlen > TC_MAX_PIECE)
		return -1;
	if (start) {
		for (i = 0; i < TC_MAX_PIECE / CHUNK; i++) {
			__u32 off = i * CHUNK, n;

			if (off >= newlen)
				break;
			n = newlen - off;
			if (n > CHUNK)
				n = CHUNK;
			OPAQUE(n);
			n &= BUF_SIZE - 1;
			if (n < 1)
				return -1;
			if (bpf_skb_load_bytes(skb, p->pay + start + off, sc->buf, n) ||
			    bpf_skb_store_bytes(skb, p->pay + off, sc->buf, n, 0))
				return -1;
		}
	}
	if (newlen != p->plen && bpf_skb_change_tail(skb, p->pay + newlen, 0))
		return -1;
	if (p->v6) {
		__u16 pl = bpf_htons(p->thl + newlen);

		if (bpf_skb_store_bytes(skb, p->nh + 4, &pl, 2, 0))
			return -1;
	} else {
		__u16 old = bpf_htons(p->iplen), tot = bpf_htons(p->ihl + p->thl + newlen);

		if (bpf_l3_csum_replace(skb, p->nh + 10, old, tot, 2) ||
		    bpf_skb_store_bytes(skb, p->nh + 2, &tot, 2, 0))
			return -1;
	}
	if (start) {
		__u32 seq = bpf_htonl(p->seq + start);

		if (bpf_skb_store_bytes(skb, p->l4 + 4, &seq, 4, 0))
			return -1;
	}
	if (partial) {
		__u16 oldl = bpf_htons(p->l4len), newl = bpf_htons(p->thl + newlen);

		return bpf_l4_csum_replace(skb, p->l4 + 16, oldl, newl, BPF_F_PSEUDO_HDR | 2) ? -1 : 0;
	}
	return tcp_checksum(skb, p, newlen, sc);
}

/* 1 when the skb's checksum is CHECKSUM_PARTIAL: bpf_l4_csum_replace
 * changes the field of every other skb for a change outside the pseudo
 * header, and leaves a partial one alone. The test change is undone. */
static __always_inline int checksum_partial(struct __sk_buff *skb, struct pkt *p, int *partial)
{
	__u16 before, after;

	if (bpf_skb_load_bytes(skb, p->l4 + 16, &before, 2) || bpf_l4_csum_replace(skb, p->l4 + 16, 0, 1, 2) ||
	    bpf_skb_load_bytes(skb, p->l4 + 16, &after, 2))
		return -1;
	*partial = before == after;
	if (!*partial && bpf_l4_csum_replace(skb, p->l4 + 16, 1, 0, 2))
		return -1;
	return 0;
}

/* Bytes of the hello in the scratch buffer: masked offsets, checked against
 * the bytes loaded by the callers. */
static __always_inline __u32 hb8(const struct scratch *sc, __u32 off)
{
	return sc->hello[off & (HELLO_BUF - 1)];
}

static __always_inline __u32 hb16(const struct scratch *sc, __u32 off)
{
	return hb8(sc, off) << 8 | hb8(sc, off + 1);
}

/* bpf_loop's step over one extension of the hello. */
static long ext_step(__u32 i, void *ctx)
{
	__u32 zero = 0, type, len, nt, nl;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct ext_walk *w;

	(void)i;
	(void)ctx;
	if (!sc)
		return 1;
	w = &sc->w;
	if (w->off + 4 > w->end) {
		w->result = -1;
		return 1;
	}
	if (w->off >= w->avail) {
		w->result = -2;         /* the next extension starts in a later packet */
		return 1;
	}
	if (w->off + 4 > w->avail) {
		w->result = -3;         /* an extension header across two packets */
		return 1;
	}
	type = hb16(sc, w->off);
	len = hb16(sc, w->off + 2);
	if (type != 0) {
		w->off += 4 + len;
		return 0;
	}
	if (w->off + 9 > w->avail) {
		w->result = -3;
		return 1;
	}
	nt = hb8(sc, w->off + 6);
	nl = hb16(sc, w->off + 7);
	if (nt != 0 || nl == 0 || nl > 255 || w->off + 9 + nl > w->end) {
		w->result = -1;
		return 1;
	}
	w->sni_off = w->off + 9;
	w->sni_len = nl;
	w->result = w->off + 9 + nl > w->avail ? -3 : 0;
	return 1;
}

/* The server_name of the hello in the scratch buffer (avail bytes loaded).
 * 0: found (*sni_off from the record's start); -1: none; -2: the next
 * extension starts past avail (sc->w tells where: the walk can go on in a
 * later packet); -3: the hostname's extension (its headers or the name)
 * crosses the end of the packet (sc->w.off: where that extension starts);
 * -4: the hello's fields before the extensions cross it. */
static __always_inline int find_sni(struct scratch *sc, __u32 avail, __u32 *sni_off, __u32 *sni_len)
{
	__u32 off = 5 + 4 + 2 + 32;

	if (off + 1 > avail)
		return -4;
	off += 1 + hb8(sc, off);                        /* session id */
	if (off + 2 > avail)
		return -4;
	off += 2 + hb16(sc, off);                       /* cipher suites */
	if (off + 1 > avail)
		return -4;
	off += 1 + hb8(sc, off);                        /* compression methods */
	if (off + 2 > avail)
		return -4;
	sc->w.avail = avail;
	sc->w.result = -1;
	sc->w.sni_off = sc->w.sni_len = 0;
	sc->w.end = off + 2 + hb16(sc, off);            /* extensions */
	sc->w.off = off + 2;
	bpf_loop(64, ext_step, NULL, 0);
	*sni_off = sc->w.sni_off;
	*sni_len = sc->w.sni_len;
	return sc->w.result;
}

/* bpf_loop's step over hostname byte i: the verifier checks it once, not
 * once an iteration. */
static long dot_step(__u32 i, void *ctx)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct dots *d;

	(void)ctx;
	if (!sc)
		return 1;
	d = &sc->d;
	if (i >= d->end)
		return 1;
	if (hb8(sc, d->base + i) == '.') {
		d->start = d->last_dot;
		d->last_dot = i + 1;
		d->found++;
	}
	return 0;
}

/* Offset inside the hostname (len bytes at off in the scratch buffer) of the
 * middle of its second-level label; the same rule as split.c's midsld. */
static __always_inline __u32 midsld(struct scratch *sc, __u32 off, __u32 len)
{
	struct dots *d = &sc->d;

	if (len > 255 || len == 0)
		return 0;
	d->base = off;
	d->end = len;
	d->start = d->last_dot = d->found = 0;
	if (hb8(sc, off + len - 1) == '.')
		d->end--;                       /* a trailing dot is not a label */
	bpf_loop(255, dot_step, NULL, 0);
	if (!d->found)
		return d->end / 2;
	/* the label before the last one: [start, last_dot - 1) */
	if (d->found == 1)
		d->start = 0;
	if (d->last_dot < 1 + d->start)
		return 0;
	return d->start + (d->last_dot - 1 - d->start) / 2;
}

/* The cuts of a hello of window bytes into the flow: sorted, without
 * duplicates, inside (0, window); none left: 5, as split_plan does. The
 * candidates sort in the scratch map (the verifier does not track its
 * contents: few states). */
static __always_inline void plan(struct scratch *sc, struct flow *f, __u32 window, int have_sni, __u32 sni_off,
				 __u32 sni_len, __u32 mid)
{
	__u32 n = 0, k = 0, last = 0, i, j;

	for (i = 0; i < TC_MAX_POSITIONS; i++) {
		__u32 marker;
		__s64 at;

		if (i >= cfg.npos)
			break;
		marker = cfg.pos[i & (TC_MAX_POSITIONS - 1)].marker;
		if (marker == TC_POS_ABS) {
			at = cfg.pos[i & (TC_MAX_POSITIONS - 1)].delta;
		} else {
			if (!have_sni)
				continue;
			at = sni_off;
			if (marker == TC_POS_SNIEND)
				at += sni_len;
			else if (marker == TC_POS_MIDSLD)
				at += mid;
			at += cfg.pos[i & (TC_MAX_POSITIONS - 1)].delta;
		}
		if (at <= 0 || at >= window)
			continue;
		sc->lc[n & (TC_MAX_POSITIONS - 1)] = (__u32)at;
		n++;
	}
	for (i = 1; i < TC_MAX_POSITIONS; i++) {        /* insertion sort */
		if (i >= n)
			break;
		for (j = i; j > 0 && j < TC_MAX_POSITIONS; j--) {
			__u32 a = sc->lc[(j - 1) & (TC_MAX_POSITIONS - 1)], b = sc->lc[j & (TC_MAX_POSITIONS - 1)];

			if (a <= b)
				break;
			sc->lc[(j - 1) & (TC_MAX_POSITIONS - 1)] = b;
			sc->lc[j & (TC_MAX_POSITIONS - 1)] = a;
		}
	}
	for (i = 0; i < TC_MAX_POSITIONS; i++) {
		__u32 c;

		if (i >= n)
			break;
		c = sc->lc[i & (TC_MAX_POSITIONS - 1)];
		if (c == last)
			continue;
		f->cuts[k & (TC_MAX_POSITIONS - 1)] = c;
		last = c;
		k++;
	}
	if (k == 0 && 5 < window) {
		f->cuts[0] = 5;
		k = 1;
	}
	f->ncuts = k;
	f->window = window;
}

/* A flow line for -v; the name is taken from the walked bytes in scratch's
 * hello buffer (sni_off into it). */
static __always_inline void event(const struct scratch *sc, struct pkt *p, struct flow *f, __u8 outcome,
				  __u32 sni_off, __u32 sni_len)
{
	struct tc_event *ev;
	int i;

	if (!cfg.events)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev)
		return;
	__builtin_memcpy(ev->saddr, p->key.saddr, 16);
	__builtin_memcpy(ev->daddr, p->key.daddr, 16);
	ev->sport = p->key.sport;
	ev->dport = p->key.dport;
	ev->family = p->key.family;
	ev->outcome = outcome;
	ev->ncuts = f->ncuts;
	ev->window = f->window;
#pragma unroll
	for (i = 0; i < TC_MAX_POSITIONS; i++)
		ev->cuts[i] = f->cuts[i];
	ev->sni_len = 0;
	if (sni_len) {
		__u32 n = sni_len > TC_SNI_MAX - 1 ? TC_SNI_MAX - 1 : sni_len;

		OPAQUE(n);
		n &= TC_SNI_MAX - 1;

		__u32 off = sni_off;

		/* from the walked bytes: with a carry, the name may start in the
		 * packet before */
		OPAQUE(off);
		if (n >= 1 && off <= HELLO_BUF - TC_SNI_MAX) {
			__builtin_memcpy(ev->sni, sc->hello + off, TC_SNI_MAX);
			ev->sni_len = n;
		}
	}
	bpf_ringbuf_submit(ev, 0);
}

/* The packet trimmed to payload bytes [start, end): a global function,
 * verified once on its own (the verifier's work stays small). 0 or -1. */
__attribute__((noinline)) int hs_piece(struct __sk_buff *skb, __u32 nh, __u32 start, __u32 end, __u32 partial)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct pkt p;

	if (!skb || !sc || parse(skb, nh, &p, 0))
		return -1;
	return build_piece(skb, &p, start, end, partial, sc);
}

/* A clone made below, back in the program: trim it to its piece. */
static __always_inline int clone_pass(struct __sk_buff *skb, __u32 nh)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc || !sc->active)
		return TC_ACT_UNSPEC;   /* somebody else's packet with the bit: not ours */
	skb->mark = sc->mark;
	if (hs_piece(skb, nh, sc->start, sc->end, sc->partial)) {
		sc->failed = 1;
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/* Keeps payload bytes [off, off + len) of this packet for the walk in the
 * next one. 0, or -1 (no room: the name is missed). */
static __always_inline int save_carry(struct __sk_buff *skb, struct pkt *p, struct flow *f, struct scratch *sc,
				      __u32 off, __u32 len)
{
	struct carry *c;

	if (len < 1 || len > CARRY_MAX - 1)
		return -1;
	/* the value's bytes are written below: any buffer of its size will do */
	if (bpf_map_update_elem(&carries, &p->key, sc->buf, BPF_ANY))
		return -1;
	c = bpf_map_lookup_elem(&carries, &p->key);
	if (!c)
		return -1;
	OPAQUE(len);
	len &= CARRY_MAX - 1;
	if (len < 1 || bpf_skb_load_bytes(skb, p->pay + off, c->b, len))
		return -1;
	c->len = len;
	f->carry = len;
	return 0;
}

/* First payload of a tracked flow: is it a hello, and where does it get cut. */
static __always_inline int first_payload(struct __sk_buff *skb, struct pkt *p, struct flow *f, struct scratch *sc)
{
	__u32 window, avail, n, sni_off = 0, sni_len = 0, mid = 0;
	int have_sni = 0, r;

	if (cfg.immediate) {
		window = p->plen;
	} else {
		__u8 h[6];

		if (p->plen < 6 || bpf_skb_load_bytes(skb, p->pay, h, 6) || h[0] != 0x16 || h[1] != 0x03 ||
		    h[5] != 0x01) {
			f->state = FLOW_DONE;
			count(TC_C_NOT_TLS);
			event(sc, p, f, TC_EV_NOT_TLS, 0, 0);
			return -1;
		}
		window = 5 + ((__u32)h[3] << 8 | h[4]);
		avail = p->plen < window ? p->plen : window;
		n = avail > HELLO_BUF - 1 ? HELLO_BUF - 1 : avail;
		OPAQUE(n);
		n &= HELLO_BUF - 1;
		if (n >= 6 && !bpf_skb_load_bytes(skb, p->pay, sc->hello, n)) {
			r = find_sni(sc, n, &sni_off, &sni_len);
			if (r == 0) {
				mid = midsld(sc, sni_off, sni_len);
				have_sni = 1;
			} else if ((r == -2 && avail < window) ||
				   (r == -3 && avail < window && n == avail && sc->w.off < n &&
				    !save_carry(skb, p, f, sc, sc->w.off, n - sc->w.off))) {
				/* go on with the extensions in the packet that has them
				 * (-3: over this packet's tail, kept as a carry) */
				f->pending = 1;
				f->walk_off = sc->w.off;
				f->walk_end = sc->w.end;
				count(TC_C_SNI_LATER);
			} else if (r == -3 || r == -4) {
				count(TC_C_SNI_MISSED);
			}
		}
		if (!have_sni)
			sni_len = 0;
	}
	plan(sc, f, window, have_sni, sni_off, sni_len, mid);
	f->seen_end = p->plen;
	f->state = FLOW_SPLIT;
	count(TC_C_SPLIT);
	event(sc, p, f, TC_EV_SPLIT, sni_off, sni_len);
	return 0;
}

/* The first payload of the flow of this packet (a global function, like
 * hs_piece): 0 when its cuts are planned, -1 when it is passed. */
__attribute__((noinline)) int hs_first(struct __sk_buff *skb, __u32 nh)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct flow *f;
	struct pkt p;

	if (!skb || !sc || parse(skb, nh, &p, 0))
		return -1;
	f = bpf_map_lookup_elem(&flows, &p.key);
	if (!f)
		return -1;
	return first_payload(skb, &p, f, sc);
}

/* A later packet of a hello whose hostname was not in the first one (a
 * global function): the extension walk goes on from where it stopped, over
 * the previous packet's kept tail (a carry) and this packet; the name
 * found, the cuts are planned again with it. */
__attribute__((noinline)) int hs_more(struct __sk_buff *skb, __u32 nh, __u32 rel)
{
	__u32 zero = 0, n, mid, sni_off, sni_len, clen = 0, start = rel;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct flow *f;
	struct pkt p;
	int err;

	if (!skb || !sc || parse(skb, nh, &p, 0))
		return -1;
	f = bpf_map_lookup_elem(&flows, &p.key);
	if (!f || !f->pending || f->walk_end < f->walk_off)
		return -1;
	if (f->carry) {
		struct carry *c = bpf_map_lookup_elem(&carries, &p.key);

		clen = f->carry;
		f->carry = 0;
		if (!c || c->len != clen || clen > CARRY_MAX - 1 || f->walk_off + clen != rel) {
			f->pending = 0;
			count(TC_C_SNI_MISSED);
			return -1;
		}
		__builtin_memcpy(sc->hello, c->b, CARRY_MAX);
		bpf_map_delete_elem(&carries, &p.key);
		start = f->walk_off;
		n = p.plen > HELLO_BUF / 2 - 1 ? HELLO_BUF / 2 - 1 : p.plen;
		OPAQUE(n);
		n &= HELLO_BUF / 2 - 1;
		OPAQUE(clen);
		clen &= CARRY_MAX - 1;
		err = n < 1 || bpf_skb_load_bytes(skb, p.pay, sc->hello + clen, n);
	} else {
		if (f->walk_off < rel)
			return -1;
		n = p.plen > HELLO_BUF - 1 ? HELLO_BUF - 1 : p.plen;
		OPAQUE(n);
		n &= HELLO_BUF - 1;
		err = n < 1 || bpf_skb_load_bytes(skb, p.pay, sc->hello, n);
	}
	if (err) {
		f->pending = 0;
		return -1;
	}
	sc->w.avail = clen + n;
	sc->w.off = f->walk_off - start;
	sc->w.end = f->walk_end - start;
	sc->w.result = -1;
	sc->w.sni_off = sc->w.sni_len = 0;
	bpf_loop(64, ext_step, NULL, 0);
	if (sc->w.result == -2) {
		f->walk_off = sc->w.off + start;  /* still later */
		return 0;
	}
	if (sc->w.result == -3 && n == p.plen && sc->w.off >= clen && sc->w.off < clen + n &&
	    !save_carry(skb, &p, f, sc, sc->w.off - clen, clen + n - sc->w.off)) {
		f->walk_off = sc->w.off + start;  /* across into the next packet again */
		return 0;
	}
	f->pending = 0;
	if (sc->w.result != 0) {
		if (sc->w.result == -3)
			count(TC_C_SNI_MISSED);
		return -1;
	}
	sni_off = sc->w.sni_off;
	sni_len = sc->w.sni_len;
	mid = midsld(sc, sni_off, sni_len);
	plan(sc, f, f->window, 1, sni_off + start, sni_len, mid);
	event(sc, &p, f, TC_EV_SPLIT, sni_off, sni_len);
	return 0;
}

/* Cuts a packet of a split flow whose payload starts rel bytes into the
 * hello (a global function, like hs_piece): sends every piece but the last.
 * Returns 1 when the original must become the last piece (scratch's start,
 * end and partial), else the verdict. */
__attribute__((noinline)) int hs_cut(struct __sk_buff *skb, __u32 nh, __u32 rel)
{
	__u32 zero = 0, nl = 0, np = 0, prev, gso, i, k, sent = 0, ncuts;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	int partial = 0, ok = 1;
	struct flow *f;
	struct pkt p;

	if (!skb || !sc || parse(skb, nh, &p, 0))
		return TC_ACT_UNSPEC;
	f = bpf_map_lookup_elem(&flows, &p.key);
	if (!f)
		return TC_ACT_UNSPEC;
	/* the cuts inside this packet, relative to its payload */
	ncuts = f->ncuts;
	for (i = 0; i < TC_MAX_POSITIONS; i++) {
		__u32 c = f->cuts[i];

		if (i >= ncuts)
			break;
		if (c > rel && c - rel < p.plen)
			sc->lc[nl++ & (TC_MAX_POSITIONS - 1)] = c - rel;
	}
	if (!nl)
		return TC_ACT_UNSPEC;
	if (p.flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) {
		count(TC_C_FIN);
		return TC_ACT_UNSPEC;
	}
	/* pieces: the cuts, and no piece longer than the GSO size (bpf_skb_change_tail drops GSO) */
	gso = skb->gso_segs > 1 ? skb->gso_size : 0;
	prev = 0;
	k = 0;
	for (i = 0; i < TC_MAX_PIECES; i++) {
		__u32 next = k < nl ? sc->lc[k & (TC_MAX_POSITIONS - 1)] : p.plen;

		if (gso && next - prev > gso)
			next = prev + gso;
		else if (k < nl)
			k++;
		if (next <= prev || next - prev > TC_MAX_PIECE)
			break;
		sc->ends[i] = next;
		np++;
		prev = next;
		if (prev >= p.plen)
			break;
	}
	if (prev < p.plen || np < 2) {
		count(TC_C_TOO_BIG);
		f->state = FLOW_DONE;
		event(sc, &p, f, TC_EV_TOO_BIG, 0, 0);
		return TC_ACT_UNSPEC;
	}
	if (checksum_partial(skb, &p, &partial)) {
		count(TC_C_EMIT);
		return TC_ACT_UNSPEC;
	}
	sc->mark = skb->mark;
	sc->partial = partial;
	sc->failed = 0;
	sc->active = 1;
	skb->mark = sc->mark | cfg.clone_mark;
	prev = 0;
	for (i = 0; i < TC_MAX_PIECES - 1; i++) {
		if (i + 1 >= np)
			break;
		sc->start = prev;
		sc->end = sc->ends[i];
		if (bpf_clone_redirect(skb, skb->ifindex, 0) || sc->failed) {
			ok = 0;
			break;
		}
		sent++;
		prev = sc->end;
	}
	skb->mark = sc->mark;
	sc->active = 0;
	count_n(TC_C_SEGMENTS, sent);
	if (!ok) {
		/* the original leaves whole: the bytes of the pieces sent are the same */
		count(TC_C_EMIT);
		if (++f->fails >= cfg.max_fails)
			f->state = FLOW_DONE;
		event(sc, &p, f, TC_EV_EMIT, 0, 0);
		return TC_ACT_UNSPEC;
	}
	/* the original becomes the last piece: run() trims it (one call level
	 * less: the stack of three would not fit) */
	sc->start = prev;
	sc->end = p.plen;
	return 1;
}

static __always_inline int run(struct __sk_buff *skb, __u32 nh)
{
	struct scratch *sc;
	__u32 rel, zero = 0;
	struct flow *f;
	struct pkt p;

	if (cfg.clone_mark && (skb->mark & cfg.clone_mark))
		return clone_pass(skb, nh);
	if (parse(skb, nh, &p, 1))
		return TC_ACT_UNSPEC;
	if (p.flags & TCP_FLAG_SYN) {
		struct flow nf = {};

		if (p.flags & TCP_FLAG_ACK)
			return TC_ACT_UNSPEC;
		if (p.plen) {
			count(TC_C_TFO);
			bpf_map_delete_elem(&flows, &p.key);
			return TC_ACT_UNSPEC;
		}
		nf.base = p.seq + 1;
		nf.state = FLOW_NEW;
		bpf_map_update_elem(&flows, &p.key, &nf, BPF_ANY);
		count(TC_C_FLOWS);
		return TC_ACT_UNSPEC;
	}
	if (!p.plen)
		return TC_ACT_UNSPEC;
	f = bpf_map_lookup_elem(&flows, &p.key);
	if (!f || f->state == FLOW_DONE)
		return TC_ACT_UNSPEC;
	rel = p.seq - f->base;
	if (f->state == FLOW_NEW) {
		if (rel != 0) {
			f->state = FLOW_DONE;
			return TC_ACT_UNSPEC;
		}
		if (hs_first(skb, nh))
			return TC_ACT_UNSPEC;
	} else {
		if (rel >= f->window) {
			if (rel < 0x80000000u)
				f->state = FLOW_DONE;   /* past the hello: nothing more to cut */
			return TC_ACT_UNSPEC;
		}
		if (rel < f->seen_end)
			count(TC_C_RESPLIT);
		else
			f->seen_end = rel + p.plen;
		if (f->pending && (f->carry ? rel == f->walk_off + f->carry :
				   rel <= f->walk_off && f->walk_off - rel < p.plen))
			hs_more(skb, nh, rel);
	}
	if (cfg.observe || hs_cut(skb, nh, rel) != 1)
		return TC_ACT_UNSPEC;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc || hs_piece(skb, nh, sc->start, sc->end, sc->partial)) {
		/* half changed: drop it, TCP sends it again and it is cut again */
		count(TC_C_ERROR);
		if (++f->fails >= cfg.max_fails)
			f->state = FLOW_DONE;
		return TC_ACT_SHOT;
	}
	count(TC_C_SEGMENTS);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int hellosplit_l2(struct __sk_buff *skb)
{
	return run(skb, ETH_HLEN);
}

SEC("tc")
int hellosplit_l3(struct __sk_buff *skb)
{
	return run(skb, 0);
}
