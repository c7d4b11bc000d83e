/* test_nlmsg.c — the nfnetlink_queue walk: messages of a buffer (the last
 * one unpadded, a bad length), a queued packet's attributes (every one read,
 * unknown and flagged types, truncated and malformed attributes). */
#include <stdint.h>
#include <string.h>

#include "nlmsg.h"
#include "test.h"

void test_nlmsg(void);

static uint8_t buf[1024];
static size_t used;

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Starts a message of type at used (aligned), header and nfgenmsg. */
static size_t msg_begin(uint16_t type)
{
	size_t at = (used + 3) & ~(size_t)3;

	memset(buf + at, 0, 20);
	put16(buf + at + 4, type);
	used = at + 20;
	return at;
}

/* Appends an attribute of len data bytes (padded to 4). */
static void attr(uint16_t type, const void *data, uint16_t len)
{
	put16(buf + used, (uint16_t)(4 + len));
	put16(buf + used + 2, type);
	memcpy(buf + used + 4, data, len);
	memset(buf + used + 4 + len, 0, ((len + 3u) & ~3u) - len);
	used += 4 + ((len + 3u) & ~3u);
}

static void attr32(uint16_t type, uint32_t v)
{
	uint8_t d[4];

	be32(d, v);
	attr(type, d, 4);
}

/* Ends the message at at: nlmsg_len unpadded by cut bytes of padding. */
static uint32_t msg_end(size_t at, size_t cut)
{
	uint32_t len = (uint32_t)(used - at - cut);

	put32(buf + at, len);
	return len;
}

static void hdr(uint32_t id, uint8_t hook)
{
	uint8_t h[7] = {0};

	be32(h, id);
	h[4] = 0x08;
	h[6] = hook;
	attr(NLMSG_NFQA_PACKET_HDR, h, 7);
}

static void packet_attributes(void)
{
	static const uint8_t payload[5] = {0x45, 1, 2, 3, 4};
	struct nlmsg_packet p;
	size_t at, off = 0;
	uint32_t len;

	used = 0;
	at = msg_begin(0x0300);
	hdr(0x01020304, 3);
	attr32(NLMSG_NFQA_MARK, 0x40000001);
	attr32(NLMSG_NFQA_IFINDEX_OUTDEV, 7);
	attr32(NLMSG_NFQA_SKB_INFO | 0x4000, 1);      /* NLA_F_NET_BYTEORDER: still the type */
	attr32(NLMSG_NFQA_CAP_LEN, 1500);
	attr32(999, 0xdeadbeef);                      /* unknown: skipped */
	attr(NLMSG_NFQA_PAYLOAD, payload, 5);         /* last, unpadded: 3 bytes cut */
	len = msg_end(at, 3);
	CHECK_EQ(nlmsg_next(buf, used - 3, &off), len);
	CHECK_EQ(nlmsg_type(buf), 0x0300);
	nlmsg_packet_parse(buf, len, &p);
	CHECK_EQ(p.has_hdr, 1);
	CHECK_EQ(p.packet_id, 0x01020304);
	CHECK_EQ(p.hook, 3);
	CHECK_EQ(p.mark, 0x40000001);
	CHECK_EQ(p.outdev, 7);
	CHECK_EQ(p.skb_info, 1);
	CHECK_EQ(p.cap_len, 1500);
	CHECK(p.payload == buf + len - 5);
	CHECK_EQ(p.payload_len, 5);

	/* a header of 6 bytes is not one; short numbers are ignored */
	used = 0;
	at = msg_begin(0x0300);
	attr(NLMSG_NFQA_PACKET_HDR, "\0\0\0\1\0\0", 6);
	attr(NLMSG_NFQA_MARK, "\1\2\3", 3);
	len = msg_end(at, 0);
	nlmsg_packet_parse(buf, len, &p);
	CHECK_EQ(p.has_hdr, 0);
	CHECK_EQ(p.mark, 0);

	/* an attribute longer than the message ends the walk; what came before
	 * it stays, nothing after it is read */
	used = 0;
	at = msg_begin(0x0300);
	hdr(9, 4);
	attr32(NLMSG_NFQA_MARK, 5);
	attr32(NLMSG_NFQA_CAP_LEN, 77);
	len = msg_end(at, 0);
	put16(buf + at + 20 + 12, 200);       /* the mark's nla_len */
	nlmsg_packet_parse(buf, len, &p);
	CHECK_EQ(p.has_hdr, 1);
	CHECK_EQ(p.packet_id, 9);
	CHECK_EQ(p.mark, 0);
	CHECK_EQ(p.cap_len, 0);
	/* nla_len below the header (0 would loop for ever) */
	put16(buf + at + 20 + 12, 3);
	nlmsg_packet_parse(buf, len, &p);
	CHECK_EQ(p.has_hdr, 1);
	CHECK_EQ(p.mark, 0);
	put16(buf + at + 20 + 12, 0);
	nlmsg_packet_parse(buf, len, &p);
	CHECK_EQ(p.mark, 0);
	/* a payload attribute cut by the message's end */
	used = 0;
	at = msg_begin(0x0300);
	hdr(1, 4);
	attr(NLMSG_NFQA_PAYLOAD, payload, 5);
	len = msg_end(at, 3);
	nlmsg_packet_parse(buf, len - 1, &p);
	CHECK(p.payload == NULL);
	CHECK_EQ(p.payload_len, 0);
	/* a message with only the headers, or shorter */
	nlmsg_packet_parse(buf, 20, &p);
	CHECK_EQ(p.has_hdr, 0);
	nlmsg_packet_parse(buf, 22, &p);
	CHECK_EQ(p.has_hdr, 0);
}

static void messages(void)
{
	size_t a, b, c, off;
	uint32_t la, lb, lc;

	used = 0;
	a = msg_begin(0x0300);
	hdr(1, 3);
	la = msg_end(a, 1);
	b = msg_begin(2);                 /* NLMSG_ERROR */
	lb = msg_end(b, 0);
	c = msg_begin(0x0300);
	hdr(3, 3);
	lc = msg_end(c, 1);
	off = 0;
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), la);
	CHECK_EQ(off, b);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), lb);
	CHECK_EQ(nlmsg_type(buf + b), 2);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), lc);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), 0);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), 0);

	/* the last message longer than the bytes read: not taken */
	off = 0;
	CHECK_EQ(nlmsg_next(buf, used - 2, &off), la);
	CHECK_EQ(nlmsg_next(buf, used - 2, &off), lb);
	CHECK_EQ(nlmsg_next(buf, used - 2, &off), 0);
	/* fewer bytes than a header; a length below the header's: the end */
	off = 0;
	CHECK_EQ(nlmsg_next(buf, 15, &off), 0);
	put32(buf + b, 15);
	off = 0;
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), la);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), 0);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), 0);
	put32(buf + b, 0);
	off = 0;
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), la);
	CHECK_EQ(nlmsg_next(buf, used - 1, &off), 0);
	/* nothing at all */
	off = 0;
	CHECK_EQ(nlmsg_next(buf, 0, &off), 0);
}

void test_nlmsg(void)
{
	packet_attributes();
	messages();
}
