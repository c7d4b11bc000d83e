/* ref_packet.h — an independent, plain reading of IPv4/IPv6 + TCP headers and
 * of the RFC 1071 checksums, to judge packet.c and what the engine emits. */
#ifndef HELLOSPLIT_REF_PACKET_H
#define HELLOSPLIT_REF_PACKET_H

#include <stdint.h>
#include <string.h>

#include "packet.h"

static inline uint32_t ref_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t ref_be32(const uint8_t *p) { return ref_be16(p) << 16 | ref_be16(p + 2); }

/* One's-complement sum of a byte string, as if appended to sum at an even offset. */
static inline uint32_t ref_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sum += i & 1 ? b[i] : (uint32_t)b[i] << 8;
	return sum;
}

static inline uint16_t ref_fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of the TCP pseudo-header for a TCP segment of tcp_len bytes. */
static inline uint32_t ref_pseudo_sum(const uint8_t *d, int family, uint32_t tcp_len)
{
	uint8_t pseudo[12];

	if (family == 6)
		return ref_sum(0, d + 8, 32) + (tcp_len >> 16) + (tcp_len & 0xffff) + 6;
	memcpy(pseudo, d + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = (uint8_t)(tcp_len >> 8);
	pseudo[11] = (uint8_t)tcp_len;
	return ref_sum(0, pseudo, 12);
}

/* 1 when the IPv4 header sum (if any) and the TCP sum verify for a packet of
 * total length len with IP header length hl. */
static inline int ref_checksums_ok(const uint8_t *d, uint32_t len, uint32_t hl, int family)
{
	if (family == 4 && ref_fold(ref_sum(0, d, hl)) != 0xffff)
		return 0;
	return ref_fold(ref_sum(ref_pseudo_sum(d, family, len - hl), d + hl, len - hl)) == 0xffff;
}

/* Fills both checksum fields of a well-formed packet. */
static inline void ref_set_checksums(uint8_t *d, uint32_t len, uint32_t hl, int family)
{
	uint16_t s;

	if (family == 4) {
		d[10] = d[11] = 0;
		s = (uint16_t)~ref_fold(ref_sum(0, d, hl));
		d[10] = (uint8_t)(s >> 8);
		d[11] = (uint8_t)s;
	}
	d[hl + 16] = d[hl + 17] = 0;
	s = (uint16_t)~ref_fold(ref_sum(ref_pseudo_sum(d, family, len - hl), d + hl, len - hl));
	d[hl + 16] = (uint8_t)(s >> 8);
	d[hl + 17] = (uint8_t)s;
}

struct ref_view {
	int result;           /* an enum packet_result value */
	uint32_t len, hl, tcp_hl;
	int family;
};

/* doc/design.md's reading of an IP packet, written out plainly. */
static inline void ref_parse(struct ref_view *v, const uint8_t *d, size_t size)
{
	uint32_t proto;

	memset(v, 0, sizeof(*v));
	v->result = PACKET_MALFORMED;
	if (size > PACKET_MAX)
		size = PACKET_MAX;
	if (size < 1)
		return;
	if (d[0] >> 4 == 4) {
		if (size < 20)
			return;
		v->hl = (d[0] & 15u) * 4;
		v->len = ref_be16(d + 2);
		if (v->hl < 20 || v->len < v->hl || v->len > size)
			return;
		if (ref_be16(d + 6) & 0x3fff) {
			v->result = PACKET_FRAGMENT;
			return;
		}
		proto = d[9];
		v->family = 4;
	} else if (d[0] >> 4 == 6) {
		if (size < 40)
			return;
		v->hl = 40;
		v->len = 40 + ref_be16(d + 4);
		if (v->len > size)
			return;
		proto = d[6];
		v->family = 6;
		if (proto == 0 || proto == 43 || proto == 44 || proto == 60 || proto == 51 || proto == 135) {
			v->result = PACKET_IPV6_EXT;
			return;
		}
	} else {
		return;
	}
	if (proto != 6) {
		v->result = PACKET_OTHER;
		return;
	}
	if (v->len < v->hl + 20)
		return;
	v->tcp_hl = (uint32_t)(d[v->hl + 12] >> 4) * 4;
	if (v->tcp_hl < 20 || v->hl + v->tcp_hl > v->len)
		return;
	v->result = PACKET_TCP;
}

/* Offset in d of the TSval, TSecr bytes of a TCP timestamps option (kind 8,
 * length 10) among the options of the TCP header at hl, or 0 for none. */
static inline uint32_t ref_timestamps_at(const uint8_t *d, uint32_t hl, uint32_t tcp_hl)
{
	uint32_t i = hl + 20, end = hl + tcp_hl;

	while (i < end && d[i] != 0) {
		if (d[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= end || d[i + 1] < 2 || d[i + 1] > end - i)
			return 0;
		if (d[i] == 8 && d[i + 1] == 10)
			return i + 2;
		i += d[i + 1];
	}
	return 0;
}

#endif
