/* packet.c — parse IPv4/IPv6 + TCP without trusting any length field,
 * compute checksums, build a segment from a template packet. */
#include "packet.h"

#include <string.h>

enum packet_result packet_parse(struct packet *p, const uint8_t *d, size_t len)
{
	uint32_t ip_len, hl, proto;

	memset(p, 0, sizeof(*p));
	if (len < 1)
		return PACKET_MALFORMED;
	if (len > PACKET_MAX)
		len = PACKET_MAX;
	switch (d[0] >> 4) {
	case 4:
		if (len < 20)
			return PACKET_MALFORMED;
		hl = (uint32_t)(d[0] & 0x0f) * 4;
		ip_len = get_be16(d + 2);
		if (hl < 20 || ip_len < hl || ip_len > len)
			return PACKET_MALFORMED;
		if (get_be16(d + 6) & 0x3fff) /* MF or fragment offset */
			return PACKET_FRAGMENT;
		proto = d[9];
		p->family = 4;
		break;
	case 6:
		if (len < 40)
			return PACKET_MALFORMED;
		hl = 40;
		ip_len = 40u + get_be16(d + 4);
		if (ip_len > len)
			return PACKET_MALFORMED;
		proto = d[6];
		p->family = 6;
		if (proto == 0 || proto == 43 || proto == 44 || proto == 60 || proto == 51 || proto == 135)
			return PACKET_IPV6_EXT;
		break;
	default:
		return PACKET_MALFORMED;
	}
	if (proto != 6)
		return PACKET_OTHER;
	if (ip_len < hl + 20)
		return PACKET_MALFORMED;
	p->data = d;
	p->len = ip_len;
	p->ip_header_len = (uint16_t)hl;
	p->tcp_header_len = (uint16_t)((d[hl + 12] >> 4) * 4);
	if (p->tcp_header_len < 20 || hl + p->tcp_header_len > ip_len)
		return PACKET_MALFORMED;
	p->sport = get_be16(d + hl);
	p->dport = get_be16(d + hl + 2);
	p->seq = get_be32(d + hl + 4);
	p->ack = get_be32(d + hl + 8);
	p->flags = d[hl + 13];
	p->payload_off = hl + p->tcp_header_len;
	p->payload_len = ip_len - p->payload_off;
	return PACKET_TCP;
}

const uint8_t *packet_src(const struct packet *p)
{
	return p->data + (p->family == 4 ? 12 : 8);
}

const uint8_t *packet_dst(const struct packet *p)
{
	return p->data + (p->family == 4 ? 16 : 24);
}

uint32_t packet_timestamps_offset(const struct packet *p)
{
	uint32_t i = p->ip_header_len + 20u, end = p->payload_off;

	while (i < end) {
		const uint8_t *o = p->data + i;

		if (o[0] == 0)                   /* end of options */
			return 0;
		if (o[0] == 1) {                 /* no-operation */
			i++;
			continue;
		}
		if (i + 2 > end || o[1] < 2 || i + o[1] > end)
			return 0;
		if (o[0] == 8 && o[1] == 10)
			return i + 2;
		i += o[1];
	}
	return 0;
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Checksum over the pseudo-header and TCP segment, with the checksum field
 * counted as it currently is (0 when computing, the stored value when verifying). */
static uint16_t tcp_checksum(const uint8_t *d, uint32_t hl, uint32_t len, int family)
{
	uint32_t sum = 0, tcp_len = len - hl;

	if (family == 4)
		sum = sum_bytes(sum, d + 12, 8);
	else
		sum = sum_bytes(sum, d + 8, 32);
	sum += 6 + (tcp_len & 0xffff) + (tcp_len >> 16);
	sum = sum_bytes(sum, d + hl, tcp_len);
	return fold(sum);
}

void packet_set_checksums(uint8_t *d, uint32_t len)
{
	struct packet p;
	uint32_t hl;

	if (packet_parse(&p, d, len) != PACKET_TCP)
		return;
	hl = p.ip_header_len;
	if (p.family == 4) {
		put_be16(d + 10, 0);
		put_be16(d + 10, fold(sum_bytes(0, d, hl)));
	}
	put_be16(d + hl + 16, 0);
	put_be16(d + hl + 16, tcp_checksum(d, hl, p.len, p.family));
}

int packet_checksums_ok(const uint8_t *d, uint32_t len)
{
	struct packet p;

	if (packet_parse(&p, d, len) != PACKET_TCP)
		return 0;
	if (p.family == 4 && fold(sum_bytes(0, d, p.ip_header_len)) != 0)
		return 0;
	return tcp_checksum(d, p.ip_header_len, p.len, p.family) == 0;
}

uint32_t packet_build_segment(uint8_t *out, size_t cap, const struct packet *t, uint32_t seq,
			      const uint8_t *payload, uint32_t n, uint8_t flags, uint16_t ip_id)
{
	uint32_t hl = t->ip_header_len, headers = hl + t->tcp_header_len, total = headers + n;

	if (total > cap || total > PACKET_MAX)
		return 0;
	memcpy(out, t->data, headers);
	if (n)
		memcpy(out + headers, payload, n);
	if (t->family == 4) {
		put_be16(out + 2, (uint16_t)total);
		put_be16(out + 4, ip_id);
	} else {
		put_be16(out + 4, (uint16_t)(total - 40));
	}
	put_be32(out + hl + 4, seq);
	out[hl + 13] = flags;
	packet_set_checksums(out, total);
	return total;
}
