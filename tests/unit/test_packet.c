/* test_packet.c — parsing, checksums and segment building against scapy's bytes. */
#include <string.h>

#include "packet.h"
#include "test.h"
#include "vectors.h"

void test_packet(void);

static void parse_v4(void)
{
	struct packet p;

	CHECK_EQ(packet_parse(&p, packet_v4_hello, sizeof(packet_v4_hello)), PACKET_TCP);
	CHECK_EQ(p.family, 4);
	CHECK_EQ(p.ip_header_len, 20);
	CHECK_EQ(p.tcp_header_len, 32);
	CHECK_EQ(p.sport, 40000);
	CHECK_EQ(p.dport, 443);
	CHECK_EQ(p.seq, 1000);
	CHECK_EQ(p.ack, 2000);
	CHECK_EQ(p.flags, TCP_PSH | TCP_ACK);
	CHECK_EQ(p.payload_len, sizeof(hello_blocked));
	CHECK(!memcmp(p.data + p.payload_off, hello_blocked, sizeof(hello_blocked)));
	CHECK_EQ(packet_ipv4_id(&p), 0x1234);
	CHECK(packet_checksums_ok(packet_v4_hello, sizeof(packet_v4_hello)));
	CHECK(packet_checksums_ok(packet_v4_odd, sizeof(packet_v4_odd)));
}

static void parse_v6(void)
{
	struct packet p;

	CHECK_EQ(packet_parse(&p, packet_v6_hello, sizeof(packet_v6_hello)), PACKET_TCP);
	CHECK_EQ(p.family, 6);
	CHECK_EQ(p.ip_header_len, 40);
	CHECK_EQ(p.seq, 0xfffffff0u);
	CHECK_EQ(p.payload_len, sizeof(hello_blocked));
	CHECK(packet_checksums_ok(packet_v6_hello, sizeof(packet_v6_hello)));
}

static void checksums_recomputed_match_scapy(void)
{
	uint8_t b[sizeof(packet_v4_hello)];
	uint8_t c[sizeof(packet_v6_hello)];
	uint8_t d[sizeof(packet_v4_odd)];

	memcpy(b, packet_v4_hello, sizeof(b));
	b[10] = b[11] = 0;
	b[20 + 16] ^= 0x55;
	CHECK(!packet_checksums_ok(b, sizeof(b)));
	packet_set_checksums(b, sizeof(b));
	CHECK(!memcmp(b, packet_v4_hello, sizeof(b)));
	memcpy(c, packet_v6_hello, sizeof(c));
	c[40 + 16] = c[40 + 17] = 0;
	packet_set_checksums(c, sizeof(c));
	CHECK(!memcmp(c, packet_v6_hello, sizeof(c)));
	memcpy(d, packet_v4_odd, sizeof(d));
	d[sizeof(d) - 1] ^= 1;                 /* one payload bit flipped */
	CHECK(!packet_checksums_ok(d, sizeof(d)));
}

static void malformed(void)
{
	uint8_t b[sizeof(packet_v4_hello) + 8];
	struct packet p;
	size_t n;

	/* every truncation of a good packet is refused or reads within bounds */
	for (n = 0; n < sizeof(packet_v4_hello); n++)
		CHECK(packet_parse(&p, packet_v4_hello, n) == PACKET_MALFORMED);
	for (n = 0; n < sizeof(packet_v6_hello); n++)
		CHECK(packet_parse(&p, packet_v6_hello, n) == PACKET_MALFORMED);
	/* link padding after the IP packet is not payload */
	memset(b, 0xee, sizeof(b));
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	CHECK_EQ(packet_parse(&p, b, sizeof(b)), PACKET_TCP);
	CHECK_EQ(p.payload_len, sizeof(hello_blocked));
	/* bad header lengths */
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	b[0] = 0x44;
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_MALFORMED);
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	b[20 + 12] = 0xf0;                     /* doff 60 is fine */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_TCP);
	b[20 + 12] = 0x40;                     /* doff 16 < 20 */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_MALFORMED);
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	b[2] = 0xff;                           /* total length beyond the buffer */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_MALFORMED);
	b[0] = 0x75;
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_MALFORMED);
	/* fragments, other protocols, IPv6 extension headers */
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	b[6] = 0x20;                           /* MF */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_FRAGMENT);
	memcpy(b, packet_v4_hello, sizeof(packet_v4_hello));
	b[9] = 17;
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v4_hello)), PACKET_OTHER);
	memcpy(b, packet_v6_hello, sizeof(packet_v6_hello));
	b[6] = 0;                              /* hop-by-hop */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v6_hello)), PACKET_IPV6_EXT);
	b[6] = 44;                             /* fragment */
	CHECK_EQ(packet_parse(&p, b, sizeof(packet_v6_hello)), PACKET_IPV6_EXT);
}

static void build_segment(void)
{
	struct packet t, s;
	uint8_t out[PACKET_MAX];
	uint32_t len;

	packet_parse(&t, packet_v4_hello, sizeof(packet_v4_hello));
	len = packet_build_segment(out, sizeof(out), &t, 1005, hello_blocked + 5, 100, TCP_ACK, 0x1235);
	CHECK_EQ(len, 20 + 32 + 100);
	CHECK_EQ(packet_parse(&s, out, len), PACKET_TCP);
	CHECK_EQ(s.seq, 1005);
	CHECK_EQ(s.ack, t.ack);
	CHECK_EQ(s.flags, TCP_ACK);
	CHECK_EQ(packet_ipv4_id(&s), 0x1235);
	CHECK(!memcmp(out + 20 + 20, packet_v4_hello + 20 + 20, 12));    /* options */
	CHECK_EQ(out[8], packet_v4_hello[8]);                            /* TTL */
	CHECK_EQ(out[6] & 0x40, 0x40);                                   /* DF */
	CHECK(packet_checksums_ok(out, len));
	CHECK(!memcmp(s.data + s.payload_off, hello_blocked + 5, 100));
	CHECK_EQ(packet_build_segment(out, 60, &t, 1, hello_blocked, 100, TCP_ACK, 0), 0);
	packet_parse(&t, packet_v6_hello, sizeof(packet_v6_hello));
	len = packet_build_segment(out, sizeof(out), &t, 0xfffffff5u, hello_blocked + 5, 17, TCP_ACK | TCP_PSH, 0);
	CHECK_EQ(len, 40 + 20 + 17);
	CHECK_EQ(packet_parse(&s, out, len), PACKET_TCP);
	CHECK(!memcmp(out, packet_v6_hello, 4));                         /* version, class, flow label */
	CHECK_EQ(s.payload_len, 17);
	CHECK(packet_checksums_ok(out, len));
}

void test_packet(void)
{
	parse_v4();
	parse_v6();
	checksums_recomputed_match_scapy();
	malformed();
	build_segment();
}
