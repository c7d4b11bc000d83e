/* fuzz_nlmsg.c — nlmsg.c against hostile bytes: the input is one received
 * netlink buffer. Every message the walk returns lies inside the buffer,
 * past the previous one, and is at least a header long; every attribute the
 * packet parser reports (payload, numbers) equals what a plain reference
 * walk of the same message finds, and the payload lies inside its message.
 * ASan catches any read outside. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nlmsg.h"

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rdbe32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The reference: attributes one by one, the last of each type wins. */
static void reference(uint8_t *m, uint32_t len, struct nlmsg_packet *r)
{
	uint32_t off = NLMSG_HEADER_SIZE + NLMSG_NFGEN_SIZE;

	memset(r, 0, sizeof(*r));
	while (len >= NLATTR_HEADER_SIZE && off <= len - NLATTR_HEADER_SIZE) {
		uint32_t alen = rd16(m + off), type = rd16(m + off + 2) & 0x3fffu, dlen;
		uint8_t *d = m + off + 4;

		if (alen < 4 || alen > len - off)
			return;
		dlen = alen - 4;
		if (type == NLMSG_NFQA_PACKET_HDR && dlen >= 7) {
			r->has_hdr = 1;
			r->packet_id = rdbe32(d);
			r->hook = d[6];
		} else if (type == NLMSG_NFQA_PAYLOAD) {
			r->payload = d;
			r->payload_len = dlen;
		} else if (dlen >= 4 && type == NLMSG_NFQA_MARK) {
			r->mark = rdbe32(d);
		} else if (dlen >= 4 && type == NLMSG_NFQA_IFINDEX_OUTDEV) {
			r->outdev = rdbe32(d);
		} else if (dlen >= 4 && type == NLMSG_NFQA_SKB_INFO) {
			r->skb_info = rdbe32(d);
		} else if (dlen >= 4 && type == NLMSG_NFQA_CAP_LEN) {
			r->cap_len = rdbe32(d);
		}
		off += (alen + 3u) & ~3u;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan flags a read one byte past the buffer */
	uint8_t *buf = malloc(size ? size : 1);
	size_t off = 0, prev_end = 0;
	uint32_t len;
	int n = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (;;) {
		size_t at = off;
		struct nlmsg_packet p, r;

		len = nlmsg_next(buf, size, &off);
		if (!len)
			break;
		FUZZ_ASSERT(len >= NLMSG_HEADER_SIZE && at + len <= size, "message %u at %zu of %zu", len, at, size);
		FUZZ_ASSERT(at >= prev_end && off > at, "walk did not move on: at %zu, next %zu", at, off);
		prev_end = at + len;
		FUZZ_ASSERT(++n <= (int)(size / NLMSG_HEADER_SIZE), "more messages than the buffer holds");
		nlmsg_packet_parse(buf + at, len, &p);
		reference(buf + at, len, &r);
		FUZZ_ASSERT(p.has_hdr == r.has_hdr && (!p.has_hdr || (p.packet_id == r.packet_id && p.hook == r.hook)),
			    "packet header differs from the reference");
		FUZZ_ASSERT(p.payload == r.payload && p.payload_len == r.payload_len, "payload differs");
		FUZZ_ASSERT(p.mark == r.mark && p.outdev == r.outdev && p.skb_info == r.skb_info && p.cap_len == r.cap_len,
			    "numbers differ");
		FUZZ_ASSERT(!p.payload || (p.payload >= buf + at + 24 && p.payload + p.payload_len <= buf + at + len),
			    "payload outside its message");
	}
	free(buf);
	return 0;
}
