/* nfqueue.c — receive queued packets over nfnetlink, answer a verdict for
 * each, inject emitted packets through raw sockets. The wire format is the
 * kernel's uapi (linux/netfilter/nfnetlink_queue.h); no libmnl needed, so the
 * static and Android builds use this same path. */
#include "nfqueue.h"

#include <errno.h>
#include <netinet/in.h>      /* before the linux/ headers, which defer to it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include "file.h"
#include "log.h"
#include "nlmsg.h"
#include "packet.h"

#define RX_SIZE (1024 * 1024)
/* Held packets wait in the kernel queue too and count against this: a queue
 * full of them passes new packets unqueued (FAIL_OPEN), as a busy one does. */
#define QUEUE_MAXLEN 4096
#define NLA_ALIGN4(n) (((n) + 3u) & ~3u)

_Static_assert(sizeof(struct nfqueue_meta) == PACKET_META_SIZE, "nfqueue meta is the engine's meta size");
/* nlmsg.c spells the uapi it walks; these are the kernel's */
_Static_assert(NLMSG_HEADER_SIZE == sizeof(struct nlmsghdr) && NLMSG_NFGEN_SIZE == sizeof(struct nfgenmsg) &&
		       NLATTR_HEADER_SIZE == NLA_HDRLEN && NLATTR_TYPE_MASK == (uint16_t)NLA_TYPE_MASK,
	       "netlink header sizes");
_Static_assert(NLMSG_NFQA_PACKET_HDR == NFQA_PACKET_HDR && NLMSG_NFQA_MARK == NFQA_MARK &&
		       NLMSG_NFQA_IFINDEX_OUTDEV == NFQA_IFINDEX_OUTDEV && NLMSG_NFQA_PAYLOAD == NFQA_PAYLOAD &&
		       NLMSG_NFQA_CAP_LEN == NFQA_CAP_LEN && NLMSG_NFQA_SKB_INFO == NFQA_SKB_INFO &&
		       NLMSG_NFQA_PACKET_HDR_SIZE == sizeof(struct nfqnl_msg_packet_hdr),
	       "nfnetlink_queue attribute numbers");

/* ---- building netlink messages */

struct msg {
	uint8_t *buf;
	size_t cap, len;
};

static struct nlmsghdr *msg_begin(struct msg *m, uint16_t type, uint16_t flags, uint32_t seq, uint16_t res_id,
				  uint8_t family)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(m->buf + m->len);
	struct nfgenmsg *g;

	memset(h, 0, NLMSG_LENGTH(sizeof(*g)));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*g));
	h->nlmsg_type = (uint16_t)(NFNL_SUBSYS_QUEUE << 8 | type);
	h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	h->nlmsg_seq = seq;
	g = NLMSG_DATA(h);
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(res_id);
	return h;
}

static void msg_attr(struct nlmsghdr *h, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	memset((uint8_t *)a + NLA_HDRLEN + len, 0, NLA_ALIGN4(len) - len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_HDRLEN + NLA_ALIGN4(len);
}

static void msg_end(struct msg *m, struct nlmsghdr *h)
{
	m->len += NLMSG_ALIGN(h->nlmsg_len);
}

/* Sends one config message and waits for the kernel's answer. */
static int config_request(struct nfqueue *q, struct msg *m)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	uint8_t answer[4096];
	ssize_t n;

	if (sendto(q->nl, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		size_t off = 0, at;
		uint32_t len;

		n = recv(q->nl, answer, sizeof(answer), 0);
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		for (at = off; (len = nlmsg_next(answer, (size_t)n, &off)) != 0; at = off) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)(answer + at);

			if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == q->seq &&
			    len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error;
			}
		}
	}
}

static int send_config(struct nfqueue *q, uint16_t attr, const void *data, uint16_t len, uint16_t attr2,
		       const void *data2, uint16_t len2)
{
	uint8_t buf[256];
	struct msg m = {buf, sizeof(buf), 0};
	struct nlmsghdr *h = msg_begin(&m, NFQNL_MSG_CONFIG, NLM_F_ACK, ++q->seq, q->queue_num, AF_UNSPEC);

	msg_attr(h, attr, data, len);
	if (attr2)
		msg_attr(h, attr2, data2, len2);
	msg_end(&m, h);
	return config_request(q, &m);
}

/* ---- opening */

/* A raw socket that sends whole IP packets. IP_TRANSPARENT lets a piece of a
 * forwarded flow name its client's address (not one of ours) as the source of
 * its route lookup, as the original's was; refused, such a send fails with
 * EINVAL and the flow fails open, never routed by a guess. */
static int open_raw(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), one = 1;

	if (fd >= 0 && family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one))) {
		close(fd);
		return -1;
	}
	if (fd >= 0 && (family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one))
					  : setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))))
		log_info("IP%s_TRANSPARENT refused on the raw socket (%s): pieces of forwarded IPv%c flows cannot "
			 "take their client's route; those flows pass unsplit.", family == AF_INET ? "" : "V6",
			 strerror(errno), family == AF_INET ? '4' : '6');
	return fd;
}

/* The netlink port that has bound queue_num in this network namespace, or
 * -1. The kernel refuses a second bind with EPERM, the same answer as for a
 * missing CAP_NET_ADMIN, so its own list of bound queues tells them apart. */
static long queue_owner(uint16_t queue_num)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	char line[256];
	unsigned num;
	long portid, owner = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %ld", &num, &portid) == 2 && num == queue_num) {
			owner = portid;
			break;
		}
	fclose(f);
	return owner;
}

int nfqueue_open(struct nfqueue *q, uint16_t queue_num, uint32_t fwmark, uint32_t done_mark, char *err,
		 size_t errlen)
{
	struct sockaddr_nl local = {.nl_family = AF_NETLINK};
	struct nfqnl_msg_config_cmd bind_cmd = {.command = NFQNL_CFG_CMD_BIND};
	struct nfqnl_msg_config_params params;
	uint32_t flags, mask, maxlen = htonl(QUEUE_MAXLEN);
	int one = 1, size = 8 * 1024 * 1024, r;

	memset(q, 0, sizeof(*q));
	q->raw4 = q->raw6 = -1;
	q->queue_num = queue_num;
	q->fwmark = fwmark;
	q->done_mark = done_mark;
	q->rx_size = RX_SIZE;
	q->rx = malloc(q->rx_size);
	q->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (!q->rx || q->nl < 0) {
		r = -errno;
		if (r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT)
			snprintf(err, errlen, "the kernel has no nfnetlink (NETLINK_NETFILTER: %s). "
				 "Load it: modprobe nfnetlink_queue (OpenWrt: kmod-nfnetlink-queue).", strerror(-r));
		else
			snprintf(err, errlen, "cannot open a netfilter netlink socket: %s.%s", strerror(-r),
				 r == -EPERM || r == -EACCES ? " Run as root (CAP_NET_ADMIN)." : "");
		nfqueue_close(q);
		return r;
	}
	if (setsockopt(q->nl, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(q->nl, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* A full socket buffer must not turn into an error: the kernel then
	 * passes packets itself (FAIL_OPEN below). */
	setsockopt(q->nl, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (bind(q->nl, (struct sockaddr *)&local, sizeof(local))) {
		r = -errno;
		snprintf(err, errlen, "cannot bind the netlink socket: %s.", strerror(-r));
		nfqueue_close(q);
		return r;
	}
	r = send_config(q, NFQA_CFG_CMD, &bind_cmd, sizeof(bind_cmd), 0, NULL, 0);
	if (r) {
		long owner = r == -EPERM ? queue_owner(queue_num) : -1;

		if (r == -EBUSY || owner >= 0)
			snprintf(err, errlen, "NFQUEUE %u is already used by another program (netlink port %ld, "
				 "usually its PID). Stop it, or choose another queue with --queue-num.", queue_num,
				 owner);
		else if (r == -EPERM)
			snprintf(err, errlen, "binding NFQUEUE %u was refused (%s). Run as root (CAP_NET_ADMIN).",
				 queue_num, strerror(-r));
		else
			snprintf(err, errlen, "the kernel refused NFQUEUE %u (%s): is nfnetlink_queue available? "
				 "modprobe nfnetlink_queue (OpenWrt: kmod-nfnetlink-queue).", queue_num, strerror(-r));
		nfqueue_close(q);
		return r;
	}
	memset(&params, 0, sizeof(params));
	params.copy_range = htonl(0xffff);
	params.copy_mode = NFQNL_COPY_PACKET;
	r = send_config(q, NFQA_CFG_PARAMS, &params, sizeof(params), 0, NULL, 0);
	if (!r)
		r = send_config(q, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof(maxlen), 0, NULL, 0);
	/* FAIL_OPEN: a full queue passes packets. No F_GSO: the kernel segments a
	 * GSO packet before queueing it, so the engine sees (and cuts no larger
	 * than) the segments that would go on the wire. */
	flags = htonl(NFQA_CFG_F_FAIL_OPEN);
	mask = htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO);
	if (!r)
		r = send_config(q, NFQA_CFG_FLAGS, &flags, sizeof(flags), NFQA_CFG_MASK, &mask, sizeof(mask));
	if (r) {
		snprintf(err, errlen, "configuring NFQUEUE %u failed: %s.", queue_num, strerror(-r));
		nfqueue_close(q);
		return r;
	}
	q->raw4 = open_raw(AF_INET);
	q->raw6 = open_raw(AF_INET6);
	if (q->raw4 < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open a raw IPv4 socket: %s.%s", strerror(-r),
			 r == -EPERM ? " Run as root (CAP_NET_RAW)." : "");
		nfqueue_close(q);
		return r;
	}
	if (q->raw6 < 0)
		log_info("IPv6 packets cannot be injected here (raw socket with IPV6_HDRINCL: %s; needs Linux 4.5 "
			 "or later): IPv6 is not queued and passes unsplit, IPv4 is split.", strerror(errno));
	return 0;
}

void nfqueue_close(struct nfqueue *q)
{
	if (q->deferred)
		log_error("%u held packets had no verdict when the queue closed; the kernel drops them and TCP "
			  "retransmits. Please report this.", q->deferred);
	if (q->nl >= 0 && q->rx) {
		struct nfqnl_msg_config_cmd unbind = {.command = NFQNL_CFG_CMD_UNBIND};
		uint8_t buf[128];
		struct msg m = {buf, sizeof(buf), 0};
		struct nlmsghdr *h = msg_begin(&m, NFQNL_MSG_CONFIG, 0, ++q->seq, q->queue_num, AF_UNSPEC);
		struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

		msg_attr(h, NFQA_CFG_CMD, &unbind, sizeof(unbind));
		msg_end(&m, h);
		sendto(q->nl, m.buf, m.len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	}
	if (q->nl >= 0)
		close(q->nl);
	if (q->raw4 >= 0)
		close(q->raw4);
	if (q->raw6 >= 0)
		close(q->raw6);
	free(q->rx);
	q->rx = NULL;
	q->nl = q->raw4 = q->raw6 = -1;
}

/* ---- verdicts */

void nfqueue_flush(struct nfqueue *q)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	if (q->tx_len && sendto(q->nl, q->tx, q->tx_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		log_error("sending verdicts failed: %s (the kernel passes those packets after a timeout).",
			  strerror(errno));
	q->tx_len = 0;
}

static void verdict(struct nfqueue *q, uint32_t id, int engine_verdict, uint32_t mark)
{
	struct nfqnl_msg_verdict_hdr v;
	struct msg m;
	struct nlmsghdr *h;

	if (q->tx_len + 64 > sizeof(q->tx))
		nfqueue_flush(q);
	m.buf = q->tx;
	m.cap = sizeof(q->tx);
	m.len = q->tx_len;
	h = msg_begin(&m, NFQNL_MSG_VERDICT, 0, 0, q->queue_num, AF_UNSPEC);
	v.id = htonl(id);
	if (engine_verdict & ENGINE_STOLEN) {
		v.verdict = htonl(NF_DROP);
		msg_attr(h, NFQA_VERDICT_HDR, &v, sizeof(v));
	} else {
		/* The packet goes through the mangle table again, marked: our chain
		 * lets it by (fwmark) or, when the flow is done, copies done_mark to
		 * the connection so its next packets skip the queue; either way the
		 * rules after our jump see the packet as if we were not there (a plain
		 * accept would skip them). */
		uint32_t new_mark = htonl(mark | (engine_verdict & ENGINE_DONE ? q->done_mark : q->fwmark));

		v.verdict = htonl(NF_REPEAT);
		msg_attr(h, NFQA_VERDICT_HDR, &v, sizeof(v));
		msg_attr(h, NFQA_MARK, &new_mark, sizeof(new_mark));
	}
	msg_end(&m, h);
	q->tx_len = m.len;
}

/* ---- injection */

/* Control data of one send: the original's source address and outgoing
 * interface, so the route lookup of the piece uses the keys the original's
 * did (source rules, VRF slaves, link-local scope) and leaves by its
 * interface. */
union raw_control {
	struct cmsghdr align;
	uint8_t v4[CMSG_SPACE(sizeof(struct in_pktinfo))];
	uint8_t v6[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/* Sends one IP packet the way its original went: the original's mark plus
 * fwmark (SO_MARK), source address and outgoing interface (IP_PKTINFO /
 * IPV6_PKTINFO). Returns 0 or -errno. */
static int raw_send(struct nfqueue *q, const uint8_t *pkt, uint32_t len, const struct nfqueue_meta *meta)
{
	uint32_t mark = meta->mark | q->fwmark, *current;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} to;
	union raw_control control;
	struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
	struct msghdr msg = {.msg_name = &to, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control};
	struct cmsghdr *c = &control.align;
	int fd;

	memset(&to, 0, sizeof(to));
	memset(&control, 0, sizeof(control));
	if ((pkt[0] >> 4) == 4) {
		struct in_pktinfo info = {.ipi_ifindex = (int)meta->outdev};

		to.v4.sin_family = AF_INET;
		memcpy(&to.v4.sin_addr, pkt + 16, 4);
		memcpy(&info.ipi_spec_dst, pkt + 12, 4);
		msg.msg_namelen = sizeof(to.v4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(c), &info, sizeof(info));
		msg.msg_controllen = sizeof(control.v4);
		fd = q->raw4;
		current = &q->raw4_mark;
	} else {
		struct in6_pktinfo info = {.ipi6_ifindex = meta->outdev};

		to.v6.sin6_family = AF_INET6;
		memcpy(&to.v6.sin6_addr, pkt + 24, 16);
		memcpy(&info.ipi6_addr, pkt + 8, 16);
		msg.msg_namelen = sizeof(to.v6);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(c), &info, sizeof(info));
		msg.msg_controllen = sizeof(control.v6);
		fd = q->raw6;
		current = &q->raw6_mark;
	}
	if (fd < 0) {
		q->inject_errors++;
		q->last_inject_errno = EAFNOSUPPORT;
		return -EAFNOSUPPORT;
	}
	if (*current != mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0)
		*current = mark;
	/* Without its mark a packet would be queued again and, on Android, routed
	 * by the wrong network's table: it is not sent at all. */
	if (*current != mark || sendmsg(fd, &msg, 0) < 0) {
		int err = errno;

		if (q->inject_errors++ == 0 || err != q->last_inject_errno)
			log_error("injecting a %u-byte packet failed: %s; its flow passes unsplit.", len, strerror(err));
		q->last_inject_errno = err;
		return -err;
	}
	return 0;
}

/* The verdict of a packet the engine answered ENGINE_STOLEN for: the
 * current one, or one kept queued since. */
static void decide_stolen(struct nfqueue *q, const struct nfqueue_meta *meta, int engine_verdict)
{
	if (q->in_engine && !q->current_decided && meta->packet_id == q->current_id)
		q->current_decided = 1;
	else if (q->deferred)
		q->deferred--;
	verdict(q, meta->packet_id, engine_verdict, meta->mark);
}

int nfqueue_emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta_bytes)
{
	struct nfqueue *q = ctx;
	const struct nfqueue_meta *meta = meta_bytes;

	if (kind == ENGINE_EMIT_PIECE)
		return raw_send(q, pkt, len, meta);
	decide_stolen(q, meta, ENGINE_PASS);    /* the queued packet itself, by verdict */
	return 0;
}

void nfqueue_discard(void *ctx, const void *meta)
{
	decide_stolen(ctx, meta, ENGINE_STOLEN);
}

/* ---- receiving */

/* Handles one NFQNL_MSG_PACKET. */
static void handle_packet(struct nfqueue *q, uint8_t *msg, uint32_t msglen, uint64_t now)
{
	struct nlmsg_packet a;
	struct nfqueue_meta meta;
	uint8_t *payload;
	uint32_t payload_len;
	int v = ENGINE_PASS;

	nlmsg_packet_parse(msg, msglen, &a);
	if (!a.has_hdr)
		return;
	memset(&meta, 0, sizeof(meta));
	meta.mark = a.mark;
	meta.outdev = a.outdev;
	meta.packet_id = a.packet_id;
	payload = a.payload;
	payload_len = a.payload_len;
	q->packets++;
	/* A packet cut by the copy range (a >64 KiB GSO packet) is passed whole. */
	if (payload && !(a.cap_len && a.cap_len > payload_len)) {
		/* Locally generated packets carry a partial checksum the NIC would
		 * finish: finish it in our copy, so whatever we re-send is complete. */
		if (a.skb_info & NFQA_SKB_CSUMNOTREADY)
			packet_set_checksums(payload, payload_len);
		/* the servers' first answers, queued for learning from INPUT and
		 * FORWARD: only observed, they pass whatever happens */
		if (a.hook == NF_INET_LOCAL_IN || a.hook == NF_INET_FORWARD) {
			verdict(q, meta.packet_id, engine_reply(q->engine, payload, payload_len, now) & ENGINE_DONE,
				meta.mark);
			return;
		}
		q->in_engine = 1;
		q->current_id = meta.packet_id;
		q->current_decided = 0;
		v = engine_packet(q->engine, payload, payload_len, &meta, now);
		q->in_engine = 0;
		if (q->current_decided)
			return;             /* its bytes left as pieces: dropped already */
		if (v & ENGINE_STOLEN) {
			q->deferred++;      /* held: queued until the engine lets it go */
			return;
		}
	}
	verdict(q, meta.packet_id, v, meta.mark);
}

int nfqueue_receive(struct nfqueue *q)
{
	int reads;

	for (reads = 0; reads < NFQUEUE_BATCH; reads++) {
		ssize_t n = recv(q->nl, q->rx, q->rx_size, MSG_DONTWAIT);
		uint64_t now;
		uint32_t len;
		size_t off = 0;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			if (errno == ENOBUFS)      /* lost some: the kernel passed them (FAIL_OPEN) */
				continue;
			return -errno;     /* no verdict pending: each read's went out after it */
		}
		now = monotonic_ms();
		for (;;) {
			size_t at = off;
			uint8_t *msg = q->rx + at;

			len = nlmsg_next(q->rx, (size_t)n, &off);
			if (!len)
				break;
			if (nlmsg_type(msg) == (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET))
				handle_packet(q, msg, len, now);
			else if (nlmsg_type(msg) == NLMSG_ERROR && len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				const struct nlmsgerr *e = NLMSG_DATA((struct nlmsghdr *)msg);

				if (e->error)
					log_error("the kernel rejected a verdict: %s.", strerror(-e->error));
			}
		}
		/* one send for the verdicts of what one read brought, before the
		 * next read: a passed packet does not wait for that syscall */
		nfqueue_flush(q);
	}
	return 0;
}
