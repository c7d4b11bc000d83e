/* fuzz_packet.c — packet.c against hostile bytes: the parser's verdict and
 * view must agree with a straightforward reference reading of the headers,
 * checksums must agree with an independent RFC 1071 sum, and a segment built
 * from any parsed template must parse back with the asked-for fields.
 *
 * Input: an IP packet; bytes after its IP total length (link padding) are the
 * build parameters: seq(4) payload_len(2) flags(1) ip_id(2) cap_delta(1),
 * then the payload bytes. */
#include <string.h>

#include "fuzz.h"
#include "packet.h"
#include "ref_packet.h"

static void check_view(const struct packet *p, const struct ref_view *r, const uint8_t *d)
{
	FUZZ_ASSERT(p->data == d, "view does not point at the packet");
	FUZZ_ASSERT(p->len == r->len && p->family == r->family, "len %u family %d, expected %u %d", p->len,
		    p->family, r->len, r->family);
	FUZZ_ASSERT(p->ip_header_len == r->hl && p->tcp_header_len == r->tcp_hl, "header lengths %u+%u, expected %u+%u",
		    p->ip_header_len, p->tcp_header_len, r->hl, r->tcp_hl);
	FUZZ_ASSERT(p->payload_off == r->hl + r->tcp_hl && p->payload_off + p->payload_len == p->len,
		    "payload %u+%u in %u", p->payload_off, p->payload_len, p->len);
	FUZZ_ASSERT(p->sport == ref_be16(d + r->hl) && p->dport == ref_be16(d + r->hl + 2), "ports");
	FUZZ_ASSERT(p->seq == ref_be32(d + r->hl + 4) && p->ack == ref_be32(d + r->hl + 8), "seq/ack");
	FUZZ_ASSERT(p->flags == d[r->hl + 13], "flags");
	FUZZ_ASSERT(packet_src(p) == d + (r->family == 4 ? 12 : 8) && packet_dst(p) == d + (r->family == 4 ? 16 : 24) &&
			    packet_addr_len(p) == (r->family == 4 ? 4u : 16u),
		    "addresses");
}

/* Every byte but the checksum fields stays; the sums then verify. */
static void check_set_checksums(const struct packet *p, const uint8_t *d)
{
	static uint8_t buf[PACKET_MAX];
	uint32_t i, hl = p->ip_header_len;

	memcpy(buf, d, p->len);
	packet_set_checksums(buf, p->len);
	for (i = 0; i < p->len; i++) {
		int is_sum = (p->family == 4 && (i == 10 || i == 11)) || i == hl + 16 || i == hl + 17;

		FUZZ_ASSERT(is_sum || buf[i] == d[i], "byte %u changed by packet_set_checksums", i);
	}
	FUZZ_ASSERT(ref_checksums_ok(buf, p->len, hl, p->family), "recomputed checksums do not verify");
	FUZZ_ASSERT(packet_checksums_ok(buf, p->len) == 1, "packet_checksums_ok rejects fresh checksums");
}

static void check_build(const struct packet *t, const uint8_t *params, size_t nparams)
{
	static uint8_t out[PACKET_MAX + 16];
	uint8_t pbuf[10];
	uint32_t seq, n, headers = t->ip_header_len + t->tcp_header_len, total, cap, got, i, hl = t->ip_header_len;
	const uint8_t *payload;
	size_t avail;
	uint16_t id;
	uint8_t flags;
	struct packet q;

	memset(pbuf, 0, sizeof(pbuf));
	memcpy(pbuf, params, nparams < sizeof(pbuf) ? nparams : sizeof(pbuf));
	payload = params + (nparams < sizeof(pbuf) ? nparams : sizeof(pbuf));
	avail = nparams < sizeof(pbuf) ? 0 : nparams - sizeof(pbuf);
	seq = ref_be32(pbuf);
	n = ref_be16(pbuf + 4);
	n = avail ? n % (uint32_t)(avail + 1) : 0;
	flags = pbuf[6];
	id = (uint16_t)ref_be16(pbuf + 7);
	total = headers + n;
	cap = total + (uint32_t)(pbuf[9] % 5) - 2;     /* one side of the fit or the other */
	if (cap > sizeof(out))
		cap = sizeof(out);
	got = packet_build_segment(out, cap, t, seq, payload, n, flags, id);
	if (total > cap || total > PACKET_MAX) {
		FUZZ_ASSERT(got == 0, "built %u bytes into %u", got, cap);
		return;
	}
	FUZZ_ASSERT(got == total, "built %u bytes, expected %u", got, total);
	FUZZ_ASSERT(packet_parse(&q, out, got) == PACKET_TCP, "built segment does not parse");
	FUZZ_ASSERT(q.len == total && q.payload_len == n && q.seq == seq && q.flags == flags && q.ack == t->ack &&
			    q.sport == t->sport && q.dport == t->dport && q.ip_header_len == hl &&
			    q.tcp_header_len == t->tcp_header_len,
		    "built segment fields");
	FUZZ_ASSERT(n == 0 || memcmp(out + headers, payload, n) == 0, "built payload differs");
	FUZZ_ASSERT(ref_checksums_ok(out, got, hl, t->family), "built segment checksums");
	FUZZ_ASSERT(packet_checksums_ok(out, got) == 1, "packet_checksums_ok rejects a built segment");
	if (t->family == 4)
		FUZZ_ASSERT(ref_be16(out + 4) == id, "IPv4 ID");
	/* Every header byte is the template's except lengths, ID, checksums, seq, flags. */
	for (i = 0; i < headers; i++) {
		int changed = i == hl + 4 || i == hl + 5 || i == hl + 6 || i == hl + 7 || i == hl + 13 ||
			      i == hl + 16 || i == hl + 17;

		if (t->family == 4)
			changed |= i == 2 || i == 3 || i == 4 || i == 5 || i == 10 || i == 11;
		else
			changed |= i == 4 || i == 5;
		FUZZ_ASSERT(changed || out[i] == t->data[i], "header byte %u not copied from the template", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet p;
	struct ref_view r;
	enum packet_result res = packet_parse(&p, data, size);

	ref_parse(&r, data, size);
	FUZZ_ASSERT((int)res == r.result, "packet_parse says %d, the reference %d", (int)res, r.result);
	if (res != PACKET_TCP) {
		FUZZ_ASSERT(packet_checksums_ok(data, (uint32_t)(size > PACKET_MAX ? PACKET_MAX : size)) == 0,
			    "checksums 'ok' on a packet that is not TCP");
		return 0;
	}
	check_view(&p, &r, data);
	FUZZ_ASSERT(packet_checksums_ok(data, p.len) == ref_checksums_ok(data, p.len, r.hl, r.family),
		    "packet_checksums_ok disagrees with the reference");
	check_set_checksums(&p, data);
	check_build(&p, data + p.len, size - p.len);
	return 0;
}
