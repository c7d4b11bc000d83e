/* fuzz_tc.c — the tc engine's BPF program on its real path: the object the
 * daemon embeds (build/tc.skel.h, the same bytes), loaded with libbpf, its
 * hellosplit_l2 egress program run through BPF_PROG_TEST_RUN on packets
 * built from the input.
 *
 * Where the clones go: a test-run skb belongs to the loopback device of the
 * caller's network namespace (skb->ifindex 1; ctx.ifindex is left 0), so
 * bpf_clone_redirect(skb, skb->ifindex, 0) sends each clone to lo's egress.
 * The harness runs in a network namespace of its own (unshare at start: only
 * lo exists, no address, no route, no forwarding), attaches the same program
 * to lo's clsact egress, so a clone re-enters it exactly as on a real
 * interface and is trimmed to its piece, and reads the pieces from a packet
 * socket on lo (PACKET_OUTGOING: what left the qdisc layer). lo hands them to
 * its own receive path, where IP drops them (no local address): nothing
 * leaves the namespace, which ends with the process.
 *
 * One input is a flow: a SYN, then the first bytes of the stream cut into
 * segments, optionally a retransmission, each a test run with the packet's
 * mark, and GSO size (ctx.gso_size/gso_segs). Input: an 8-byte header, then
 * the stream bytes (a hello from the corpus, mutated):
 *   h[0] bit 0 IPv6, 1 a port that is not a target, 2 IPv4 options / an
 *        IPv6 hop-by-hop header, 3 TCP options, 4 GSO, 5 a retransmission,
 *        6 FIN on the first data packet, 7 header damage (h[5], h[6])
 *   h[1..2] first segment's bytes (0: all), h[3..4] the others' (MSS or GSO size)
 *   h[5] damage kind, h[6] damage value / mark, h[7] retransmission start
 * Addresses: 198.18.1.2 -> 198.18.2.2, 2001:db8:1::2 -> 2001:db8:2::2.
 *
 * Invariants, every test run:
 *   - the verdict is TC_ACT_UNSPEC or TC_ACT_SHOT, and the mark is the input's;
 *   - every piece (each clone, then data_out) has the input's headers except
 *     the IP length, IPv4 header checksum, TCP sequence number and checksum;
 *     its payload is a non-empty contiguous slice of the input payload at the
 *     offset its sequence number says (not one byte changed), its IP total /
 *     IPv6 payload length matches its bytes, its IPv4 header and TCP
 *     checksums are valid (a test-run skb is CHECKSUM_NONE: the program
 *     computes both);
 *   - the clones tile the payload from its start in order; data_out is the
 *     input unchanged or the rest of the payload; with GSO no piece is over
 *     the GSO size; at most TC_MAX_PIECES pieces;
 *   - the program's SEGMENTS counter grows by the pieces seen;
 *   - a packet the program must not touch (not a target port, IPv6
 *     extension header, fragment, SYN with data, a flow it passes) leaves
 *     exactly as it came.
 * The program's counters that moved feed libFuzzer as extra coverage.
 * Needs root (a namespace, BPF); a failure to set up is fatal, never a skip.
 * FUZZ_TRACE=1 prints a line per test run. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fuzz.h"
#include "tc-abi.h"
#include "tc.skel.h"

#define CLONE_MARK 0x40000000u  /* hellosplit's default --fwmark */
#define PORT 443
#define MAX_FRAME 12000
#define MAX_STREAM 9000
#define MAX_RUNS 16             /* data packets of one input */
#define ISN 0x7ffffff0u         /* the sequence numbers wrap inside the hello */

static struct tc_bpf *skel;
static int prog_fd, psock = -1, ncpus, trace;
static uint64_t *percpu;

/* libFuzzer's extra coverage: which counters moved, how many pieces. */
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t extra[TC_C_COUNT * 4 + 64];

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_tc: %s failed: %s (run as root on a kernel with BPF, clsact and BTF)\n", what,
		strerror(err < 0 ? -err : err));
	exit(1);
}

static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		die("socket for SIOCSIFFLAGS", errno);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS lo", errno);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS lo up", errno);
	close(s);
}

__attribute__((format(printf, 2, 0))) static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct sockaddr_ll sll;
	struct tc_config *c;
	int r, one = 1;

	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_TRACE") != NULL;
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)", errno);
	if (if_nametoindex("lo") != 1)
		die("finding lo as ifindex 1 in the new namespace", ENODEV);
	lo_up();
	libbpf_set_print(quiet);
	skel = tc_bpf__open();
	if (!skel)
		die("opening the embedded tc program (tc_bpf__open)", errno);
	c = &skel->rodata->cfg;
	memset(c, 0, sizeof(*c));
	c->ports[PORT >> 3] |= 1u << (PORT & 7);
	c->clone_mark = CLONE_MARK;
	/* the daemon's default (midsld) and more: a cut at 1, after the name, deep in a later packet */
	c->pos[0] = (struct tc_position){TC_POS_ABS, 1};
	c->pos[1] = (struct tc_position){TC_POS_MIDSLD, 0};
	c->pos[2] = (struct tc_position){TC_POS_SNIEND, 1};
	c->pos[3] = (struct tc_position){TC_POS_ABS, 1700};
	c->npos = 4;
	c->max_fails = 3;
	if ((r = tc_bpf__load(skel)) != 0)
		die("loading the tc program (tc_bpf__load)", r);
	prog_fd = bpf_program__fd(skel->progs.hellosplit_l2);
	r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST)
		die("creating clsact on lo (bpf_tc_hook_create)", r);
	opts.prog_fd = prog_fd;
	if ((r = bpf_tc_attach(&hook, &opts)) != 0)
		die("attaching the program to lo egress (bpf_tc_attach)", r);
	psock = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (psock < 0)
		die("socket(AF_PACKET)", errno);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = 1;
	if (bind(psock, (struct sockaddr *)&sll, sizeof(sll)))
		die("binding the packet socket to lo", errno);
	if (setsockopt(psock, SOL_SOCKET, SO_RCVBUFFORCE, &(int){4 << 20}, sizeof(int)))
		(void)setsockopt(psock, SOL_SOCKET, SO_RCVBUF, &(int){4 << 20}, sizeof(int));
	(void)one;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 1)
		die("libbpf_num_possible_cpus", ncpus);
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		die("calloc", ENOMEM);
	return 0;
}

static void counters(uint64_t out[TC_C_COUNT])
{
	int fd = bpf_map__fd(skel->maps.counters);
	uint32_t i;
	int c;

	for (i = 0; i < TC_C_COUNT; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, percpu))
			die("reading the counters map", errno);
		for (c = 0; c < ncpus; c++)
			out[i] += percpu[c];
	}
}

/* ---- packets */

struct spec {
	int v6, opts_ip, opts_tcp, port;
	uint32_t mark;
};

struct frame {
	uint8_t b[MAX_FRAME];
	uint32_t len, nh, l4, pay, plen, seq;
	int v6;
};

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p) { return get16(p) << 16 | get16(p + 2); }
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

/* The TCP checksum over pseudo header + [l4, l4 + l4len) is right (1). */
static int tcp_sum_ok(const uint8_t *b, uint32_t nh, uint32_t l4, uint32_t l4len, int v6)
{
	uint32_t s = 0;

	if (v6) {
		s = sum16(b + nh + 8, 32, 0);
	} else {
		s = sum16(b + nh + 12, 8, 0);
	}
	s += 6 + l4len;
	s = sum16(b + l4, l4len, s);
	return fold(s) == 0xffff;
}

static void tcp_sum_set(uint8_t *b, uint32_t nh, uint32_t l4, uint32_t l4len, int v6)
{
	uint32_t s = v6 ? sum16(b + nh + 8, 32, 0) : sum16(b + nh + 12, 8, 0);

	put16(b + l4 + 16, 0);
	s += 6 + l4len;
	s = sum16(b + l4, l4len, s);
	put16(b + l4 + 16, (uint16_t)~fold(s));
}

static void ip_sum_set(uint8_t *b, uint32_t nh, uint32_t ihl)
{
	put16(b + nh + 10, 0);
	put16(b + nh + 10, (uint16_t)~fold(sum16(b + nh, ihl, 0)));
}

/* A TCP packet of the flow: flags, sequence number, payload. */
static void build(struct frame *f, const struct spec *sp, uint8_t flags, uint32_t seq, const uint8_t *pay,
		  uint32_t plen)
{
	static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2};
	static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2};
	uint8_t *b = f->b;
	uint32_t ihl, thl, ext = 0;

	memset(b, 0, 14 + 48 + 40 + 8);
	memcpy(b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	put16(b + 12, sp->v6 ? ETH_P_IPV6 : ETH_P_IP);
	f->nh = 14;
	f->v6 = sp->v6;
	thl = sp->opts_tcp ? 32 : 20;
	if (sp->v6) {
		ihl = 40;
		b[14] = 0x60;
		b[14 + 6] = sp->opts_ip ? 0 : 6;  /* next header: hop-by-hop or TCP */
		b[14 + 7] = 64;
		memcpy(b + 14 + 8, src6, 16);
		memcpy(b + 14 + 24, dst6, 16);
		if (sp->opts_ip) {
			ext = 8;
			b[14 + 40] = 6;   /* hop-by-hop: next TCP, length 0, PadN 4 */
			b[14 + 42] = 1;
			b[14 + 43] = 4;
		}
		put16(b + 14 + 4, ext + thl + plen);
	} else {
		ihl = sp->opts_ip ? 28 : 20;
		b[14] = (uint8_t)(0x40 | ihl / 4);
		put16(b + 14 + 2, ihl + thl + plen);
		put16(b + 14 + 4, 0x1234);
		put16(b + 14 + 6, 0x4000);
		b[14 + 8] = 64;
		b[14 + 9] = 6;
		memcpy(b + 14 + 12, "\xc6\x12\x01\x02\xc6\x12\x02\x02", 8);
		if (sp->opts_ip)
			memset(b + 14 + 20, 1, 7);        /* NOP x 7, EOL */
	}
	f->l4 = 14 + ihl + ext;
	put16(b + f->l4, 40000);
	put16(b + f->l4 + 2, (uint32_t)sp->port);
	put32(b + f->l4 + 4, seq);
	put32(b + f->l4 + 8, (flags & 0x10) ? 0x01020304u : 0);
	b[f->l4 + 12] = (uint8_t)(thl / 4 << 4);
	b[f->l4 + 13] = flags;
	put16(b + f->l4 + 14, 64240);
	if (sp->opts_tcp)
		memcpy(b + f->l4 + 20, "\x01\x01\x08\x0a\0\0\x12\x34\0\0\x56\x78", 12);
	f->pay = f->l4 + thl;
	f->plen = plen;
	f->seq = seq;
	if (plen)
		memcpy(b + f->pay, pay, plen);
	f->len = f->pay + plen;
	tcp_sum_set(b, 14, f->l4, thl + plen, sp->v6);
	if (!sp->v6)
		ip_sum_set(b, 14, ihl);
}

/* Header damage; the checksums are made right again (the program must cope
 * with the damage, not with a bad checksum it never checks). */
static void damage(struct frame *f, uint8_t kind, uint8_t val)
{
	uint8_t *b = f->b;
	uint32_t ihl = f->v6 ? 40 : (b[14] & 15u) * 4;

	switch (kind % 8) {
	case 0: /* IP length off by a signed amount */
		if (f->v6)
			put16(b + 18, get16(b + 18) + (uint32_t)(int8_t)val);
		else
			put16(b + 16, get16(b + 16) + (uint32_t)(int8_t)val);
		break;
	case 1: /* frame cut short */
		f->len = val < f->len ? f->len - val : 15;
		return;
	case 2: /* TCP data offset */
		b[f->l4 + 12] = (uint8_t)(val << 4);
		break;
	case 3: /* IPv4 fragment, or an IPv6 next header */
		if (f->v6)
			b[20] = val;
		else
			put16(b + 20, val | (val & 1 ? 0x2000u : 0));
		break;
	case 4: /* version / IHL byte */
		b[14] = val;
		break;
	case 5: /* trailing bytes beyond the IP length (Ethernet padding) */
		memset(b + f->len, val, val & 63);
		f->len += val & 63;
		return;
	case 6: /* TCP flags */
		b[f->l4 + 13] = val;
		break;
	default: /* the EtherType */
		put16(b + 12, val & 1 ? ETH_P_8021Q : ETH_P_ARP);
		return;
	}
	if (!f->v6 && ihl >= 20 && 14 + ihl <= f->len)
		ip_sum_set(b, 14, ihl);
	/* the offsets as the bytes now say (where they say anything sane; else
	 * the program must pass the packet whole, which needs none) */
	if (!f->v6 && (b[14] >> 4) == 4 && (b[14] & 15u) >= 5) {
		uint32_t l4 = 14 + (b[14] & 15u) * 4, tot = get16(b + 16);

		if (l4 + 20 <= f->len && 14 + tot <= f->len && tot >= l4 - 14 + (b[l4 + 12] >> 4) * 4u &&
		    (b[l4 + 12] >> 4) >= 5) {
			f->l4 = l4;
			f->pay = l4 + (b[l4 + 12] >> 4) * 4u;
			f->plen = 14 + tot - f->pay;
		}
	} else if (f->v6 && b[20] == 6) {
		uint32_t thl = (b[54 + 12] >> 4) * 4u, pl = get16(b + 18);

		if (54 + 20 <= f->len && 54 + pl <= f->len && thl >= 20 && pl >= thl) {
			f->l4 = 54;
			f->pay = 54 + thl;
			f->plen = pl - thl;
		}
	}
}

/* The program's flow key (struct flow_key of tc.bpf.c): addresses as on the
 * wire, ports in host order. */
struct flow_key {
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t family;
};

/* A carry left by the last input under this key would be walked by this one. */
static void forget_carry(const struct spec *sp)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	if (sp->v6) {
		memcpy(k.saddr, "\x20\x01\x0d\xb8\0\x01\0\0\0\0\0\0\0\0\0\x02", 16);
		memcpy(k.daddr, "\x20\x01\x0d\xb8\0\x02\0\0\0\0\0\0\0\0\0\x02", 16);
	} else {
		memcpy(k.saddr, "\xc6\x12\x01\x02", 4);
		memcpy(k.daddr, "\xc6\x12\x02\x02", 4);
	}
	k.sport = 40000;
	k.dport = (uint16_t)sp->port;
	k.family = sp->v6 ? 6 : 4;
	bpf_map_delete_elem(bpf_map__fd(skel->maps.carries), &k);
}

/* ---- one test run and its checks */

struct piece {
	uint8_t b[MAX_FRAME];
	uint32_t len;
};

static struct piece clones[TC_MAX_PIECES + 4];
static struct frame out;

static void drain(void)
{
	uint8_t tmp[64];

	while (recv(psock, tmp, sizeof(tmp), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		;
}

static int read_clones(void)
{
	struct sockaddr_ll from;
	socklen_t fl;
	int n = 0;
	ssize_t r;

	for (;;) {
		struct piece *p = &clones[n < TC_MAX_PIECES + 3 ? n : TC_MAX_PIECES + 3];

		fl = sizeof(from);
		r = recvfrom(psock, p->b, sizeof(p->b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (r < 0)
			break;
		if (from.sll_pkttype != PACKET_OUTGOING)
			continue;
		p->len = (uint32_t)r;
		n++;
	}
	return n;
}

/* A piece against its input: headers, slice, lengths, checksums. Returns the
 * piece's payload range [*a, *b) in the input payload. */
static void check_piece(const struct frame *in, const uint8_t *pb, uint32_t plen_frame, uint32_t *a, uint32_t *e,
			const char *what)
{
	uint32_t hl = in->pay, len, off;

	FUZZ_ASSERT(plen_frame > hl, "%s: %u bytes, headers alone are %u", what, plen_frame, hl);
	len = plen_frame - hl;
	/* the headers but length, checksums and sequence number */
	for (uint32_t i = 0; i < hl; i++) {
		int variable = (!in->v6 && (i == 16 || i == 17 || i == 24 || i == 25)) ||
			       (in->v6 && (i == 18 || i == 19)) ||
			       (i >= in->l4 + 4 && i < in->l4 + 8) || i == in->l4 + 16 || i == in->l4 + 17;
		FUZZ_ASSERT(variable || pb[i] == in->b[i], "%s: header byte %u is 0x%02x, was 0x%02x", what, i, pb[i],
			    in->b[i]);
	}
	if (in->v6)
		FUZZ_ASSERT(get16(pb + 18) == plen_frame - 54, "%s: IPv6 payload length %u for %u bytes", what,
			    get16(pb + 18), plen_frame - 54);
	else
		FUZZ_ASSERT(get16(pb + 16) == plen_frame - 14, "%s: IP total length %u for %u bytes", what,
			    get16(pb + 16), plen_frame - 14);
	if (!in->v6)
		FUZZ_ASSERT(fold(sum16(pb + 14, in->l4 - 14, 0)) == 0xffff, "%s: IPv4 header checksum wrong", what);
	FUZZ_ASSERT(tcp_sum_ok(pb, 14, in->l4, plen_frame - in->l4, in->v6), "%s: TCP checksum wrong (%u payload bytes)",
		    what, len);
	off = get32(pb + in->l4 + 4) - in->seq;
	FUZZ_ASSERT(off < in->plen && len <= in->plen - off, "%s: bytes %u+%u outside the payload of %u", what, off, len,
		    in->plen);
	FUZZ_ASSERT(!memcmp(pb + hl, in->b + in->pay + off, len), "%s: payload bytes %u+%u changed", what, off, len);
	*a = off;
	*e = off + len;
}

static int is_input(const struct frame *in, const uint8_t *b, uint32_t len)
{
	return len == in->len && !memcmp(b, in->b, len);
}

/* Runs one packet; checks. touchable: the program may cut it. */
static void run_one(struct frame *in, const struct spec *sp, uint32_t gso, int touchable)
{
	struct __sk_buff ctx_in, ctx_out;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, t);
	uint64_t before[TC_C_COUNT], after[TC_C_COUNT];
	uint32_t i, a, e, pos = 0, pieces = 0;
	int n, r, whole;

	memset(&ctx_in, 0, sizeof(ctx_in));
	memset(&ctx_out, 0, sizeof(ctx_out));
	ctx_in.mark = sp->mark;
	if (gso && in->plen > gso) {
		ctx_in.gso_size = gso;
		ctx_in.gso_segs = (in->plen + gso - 1) / gso;
	}
	t.data_in = in->b;
	t.data_size_in = in->len;
	t.data_out = out.b;
	t.data_size_out = sizeof(out.b);
	t.ctx_in = &ctx_in;
	t.ctx_size_in = sizeof(ctx_in);
	t.ctx_out = &ctx_out;
	t.ctx_size_out = sizeof(ctx_out);
	t.repeat = 1;
	counters(before);
	drain();
	r = bpf_prog_test_run_opts(prog_fd, &t);
	if (r == -EINVAL && in->len < 14u + (in->v6 ? 40u : 20u))
		return;   /* the kernel refuses a frame shorter than its IP header (a damaged one) */
	FUZZ_ASSERT(r == 0, "bpf_prog_test_run_opts: %s (frame of %u bytes)", strerror(-r), in->len);
	n = read_clones();
	counters(after);
	for (i = 0; i < TC_C_COUNT; i++)
		if (after[i] > before[i])
			extra[i * 4 + (after[i] - before[i] > 3 ? 3 : after[i] - before[i])]++;
	extra[TC_C_COUNT * 4 + (n & 31)]++;
	extra[TC_C_COUNT * 4 + 32 + (t.retval == TC_ACT_SHOT)]++;

	if (trace)
		fprintf(stderr, "fuzz_tc: %u-byte frame, payload %u at seq +%u, gso %u: verdict %d, %d clones, data_out %u bytes%s\n",
			in->len, in->plen, in->seq - ISN, ctx_in.gso_size, (int)t.retval, n, t.data_size_out,
			is_input(in, out.b, t.data_size_out) ? " (the input)" : "");
	for (i = 0; trace && i < TC_C_COUNT; i++)
		if (after[i] != before[i])
			fprintf(stderr, "fuzz_tc:   counter %u +%llu\n", i, (unsigned long long)(after[i] - before[i]));
	FUZZ_ASSERT(t.retval == (uint32_t)TC_ACT_UNSPEC || t.retval == TC_ACT_SHOT, "verdict %d", (int)t.retval);
	FUZZ_ASSERT(n <= TC_MAX_PIECES - 1, "%d clones, at most %d", n, TC_MAX_PIECES - 1);
	FUZZ_ASSERT(ctx_out.mark == sp->mark, "mark 0x%x after the run, was 0x%x", ctx_out.mark, sp->mark);
	whole = is_input(in, out.b, t.data_size_out);
	if (!touchable) {
		FUZZ_ASSERT(n == 0 && whole && t.retval == (uint32_t)TC_ACT_UNSPEC,
			    "a packet to leave alone: %d clones, %s, verdict %d", n, whole ? "whole" : "changed",
			    (int)t.retval);
		return;
	}
	for (int k = 0; k < n; k++) {
		char what[32];

		snprintf(what, sizeof(what), "clone %d of %d", k + 1, n);
		check_piece(in, clones[k].b, clones[k].len, &a, &e, what);
		FUZZ_ASSERT(a == pos, "%s starts at payload byte %u, the one before ended at %u", what, a, pos);
		FUZZ_ASSERT(!ctx_in.gso_size || e - a <= gso, "%s: %u bytes over the GSO size %u", what, e - a, gso);
		pos = e;
		pieces++;
	}
	FUZZ_ASSERT(n == 0 || pos < in->plen, "the clones carry the whole payload (%u bytes)", pos);
	if (t.retval == TC_ACT_SHOT) {
		FUZZ_ASSERT(after[TC_C_ERROR] > before[TC_C_ERROR], "a drop without the error counter");
		return;
	}
	if (whole) {
		/* passed whole: no clone, or clones and then the failed one (EMIT) */
		FUZZ_ASSERT(n == 0 || after[TC_C_EMIT] > before[TC_C_EMIT], "%d clones and the original whole, no EMIT", n);
	} else {
		check_piece(in, out.b, t.data_size_out, &a, &e, "data_out");
		FUZZ_ASSERT(a == pos && e == in->plen, "data_out is payload bytes %u..%u, expected %u..%u", a, e, pos,
			    in->plen);
		FUZZ_ASSERT(n >= 1, "the original trimmed without a clone before it");
		FUZZ_ASSERT(!ctx_in.gso_size || e - a <= gso, "data_out: %u bytes over the GSO size %u", e - a, gso);
		pieces++;
	}
	FUZZ_ASSERT(after[TC_C_SEGMENTS] - before[TC_C_SEGMENTS] == pieces, "SEGMENTS grew by %llu, %u pieces seen",
		    (unsigned long long)(after[TC_C_SEGMENTS] - before[TC_C_SEGMENTS]), pieces);
}

static struct frame pkt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *h = data, *s = data + 8;
	uint32_t slen, first, mss, gso, off, runs = 0;
	struct spec sp;
	int dmg;

	if (size < 8 + 1)
		return 0;
	slen = (uint32_t)(size - 8);
	if (slen > MAX_STREAM)
		slen = MAX_STREAM;
	memset(&sp, 0, sizeof(sp));
	sp.v6 = h[0] & 1;
	sp.port = h[0] & 2 ? 80 : PORT;
	sp.opts_ip = !!(h[0] & 4);
	sp.opts_tcp = !!(h[0] & 8);
	dmg = !!(h[0] & 0x80);
	sp.mark = dmg ? 0 : (uint32_t)h[6] << 24;
	first = get16(h + 1);
	mss = get16(h + 3) % 9000;
	if (mss < 1)
		mss = 1;
	if (mss < 200 && !(h[0] & 0x10))
		mss += 200;     /* keep the runs per input few */
	gso = (h[0] & 0x10) ? mss : 0;
	if (!first || first > slen)
		first = slen;

	forget_carry(&sp);
	/* the SYN: the flow is tracked (replaces the last input's entry) */
	build(&pkt, &sp, 0x02, ISN - 1, NULL, 0);
	run_one(&pkt, &sp, 0, 0);
	/* the stream in segments; a gso skb when asked */
	off = 0;
	while (off < slen && runs < MAX_RUNS) {
		uint32_t n = runs == 0 ? first : (slen - off < (gso ? 3 * mss : mss) ? slen - off : (gso ? 3 * mss : mss));
		uint8_t fl = 0x18;
		int touch;

		if (runs == 0 && (h[0] & 0x40))
			fl |= 0x01;
		build(&pkt, &sp, fl, ISN + off, s + off, n);
		touch = sp.port == PORT && !(sp.v6 && sp.opts_ip);
		if (runs == 0 && dmg) {
			damage(&pkt, h[5], h[6]);
			touch = 1;   /* whatever it became: the invariants of a piece hold */
		}
		run_one(&pkt, &sp, gso, touch);
		off += n;
		runs++;
	}
	/* a retransmission from inside the stream (a partial ACK) */
	if ((h[0] & 0x20) && slen > 1) {
		uint32_t from = h[7] * slen / 256, n = slen - from < mss ? slen - from : mss;

		build(&pkt, &sp, 0x18, ISN + from, s + from, n);
		run_one(&pkt, &sp, 0, sp.port == PORT && !(sp.v6 && sp.opts_ip));
	}
	return 0;
}
