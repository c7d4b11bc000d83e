/* nlmsg.c — the nfnetlink_queue message and attribute walk (nlmsg.h). */
#include "nlmsg.h"

#include <string.h>

#define ALIGN4(n) (((n) + 3u) & ~(size_t)3u)

static uint32_t host32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t nlmsg_next(const uint8_t *buf, size_t len, size_t *off)
{
	size_t left;
	uint32_t n;

	if (*off >= len)
		return 0;
	left = len - *off;
	if (left < NLMSG_HEADER_SIZE)
		return 0;
	n = host32(buf + *off);
	if (n < NLMSG_HEADER_SIZE || n > left) {
		*off = len;
		return 0;
	}
	*off += ALIGN4((size_t)n);
	return n;
}

uint16_t nlmsg_type(const uint8_t *msg)
{
	return host16(msg + 4);
}

void nlmsg_packet_parse(uint8_t *msg, uint32_t msglen, struct nlmsg_packet *p)
{
	size_t off = NLMSG_HEADER_SIZE + NLMSG_NFGEN_SIZE;

	memset(p, 0, sizeof(*p));
	while (off + NLATTR_HEADER_SIZE <= msglen) {
		uint16_t alen_all = host16(msg + off), type = host16(msg + off + 2) & NLATTR_TYPE_MASK;
		uint8_t *data = msg + off + NLATTR_HEADER_SIZE;
		uint32_t alen, v;

		if (alen_all < NLATTR_HEADER_SIZE || off + alen_all > msglen)
			break;
		alen = alen_all - NLATTR_HEADER_SIZE;
		switch (type) {
		case NLMSG_NFQA_PACKET_HDR:
			if (alen >= NLMSG_NFQA_PACKET_HDR_SIZE) {
				p->has_hdr = 1;
				p->packet_id = be32(data);
				p->hook = data[6];
			}
			break;
		case NLMSG_NFQA_PAYLOAD:
			p->payload = data;
			p->payload_len = alen;
			break;
		case NLMSG_NFQA_MARK:
		case NLMSG_NFQA_IFINDEX_OUTDEV:
		case NLMSG_NFQA_SKB_INFO:
		case NLMSG_NFQA_CAP_LEN:
			if (alen < 4)
				break;
			v = be32(data);
			if (type == NLMSG_NFQA_MARK)
				p->mark = v;
			else if (type == NLMSG_NFQA_IFINDEX_OUTDEV)
				p->outdev = v;
			else if (type == NLMSG_NFQA_SKB_INFO)
				p->skb_info = v;
			else
				p->cap_len = v;
			break;
		default:
			break;
		}
		off += ALIGN4((size_t)alen_all);
	}
}
