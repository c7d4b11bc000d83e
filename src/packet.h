/* packet.h — IPv4/IPv6 + TCP views, checksums, segment building.
 * Byte-order conversions of wire data live here and nowhere else. */
#ifndef HELLOSPLIT_PACKET_H
#define HELLOSPLIT_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* Largest IP packet the engine builds or accepts (IPv4 total length is 16 bits;
 * IPv6 jumbograms are not handled). */
#define PACKET_MAX 65535

/* Opaque bytes an adapter attaches to each packet (WINDIVERT_ADDRESS is the
 * largest, 80 bytes) and gets back with every packet emitted for it. */
#define PACKET_META_SIZE 80

enum packet_result {
	PACKET_TCP = 0,       /* parsed: a TCP segment */
	PACKET_OTHER,         /* well-formed IP, not TCP: not ours */
	PACKET_FRAGMENT,      /* IPv4 fragment: never touched */
	PACKET_IPV6_EXT,      /* IPv6 extension header the engine does not walk */
	PACKET_MALFORMED,     /* lengths or versions do not add up */
};

/* A parsed view into a packet; every offset has been checked against len. */
struct packet {
	const uint8_t *data;
	uint32_t len;         /* IP total length (trailing link padding excluded) */
	uint8_t family;       /* 4 or 6 */
	uint8_t flags;        /* TCP flags */
	uint16_t ip_header_len;
	uint16_t tcp_header_len;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t payload_off, payload_len;
};

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Parses len bytes starting at an IP header. */
enum packet_result packet_parse(struct packet *p, const uint8_t *data, size_t len);

/* Source/destination address bytes (4 or 16) of a parsed packet. */
const uint8_t *packet_src(const struct packet *p);
const uint8_t *packet_dst(const struct packet *p);
static inline uint32_t packet_addr_len(const struct packet *p) { return p->family == 4 ? 4 : 16; }

/* Recomputes the IPv4 header checksum and the TCP checksum in place. */
void packet_set_checksums(uint8_t *data, uint32_t len);
/* 1 when the IPv4 header checksum (if any) and the TCP checksum are correct. */
int packet_checksums_ok(const uint8_t *data, uint32_t len);

/* Builds into out one segment that carries payload[0..n) at sequence seq,
 * with every header field of template t (ack, window, options, TTL, TOS, DF,
 * flow label...) except: lengths, seq, the given TCP flags, the IPv4 ID, and
 * fresh checksums. Returns the packet length, or 0 when it does not fit cap. */
uint32_t packet_build_segment(uint8_t *out, size_t cap, const struct packet *t, uint32_t seq,
			      const uint8_t *payload, uint32_t n, uint8_t flags, uint16_t ip_id);

/* Offset in p->data of the 8 bytes TSval, TSecr of its TCP timestamps
 * option, or 0 when it has none. */
uint32_t packet_timestamps_offset(const struct packet *p);

static inline uint16_t packet_urgent_pointer(const struct packet *p)
{
	return get_be16(p->data + p->ip_header_len + 18);
}

static inline uint16_t packet_ipv4_id(const struct packet *p)
{
	return p->family == 4 ? get_be16(p->data + 4) : 0;
}

#endif
