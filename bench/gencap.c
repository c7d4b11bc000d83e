/* gencap.c — writes a synthetic capture for the offline benchmark: short TLS
 * flows (handshake, a ClientHello of 517 bytes, a reply, a few data packets,
 * FIN) and bulk flows (a hello, then many 1448-byte packets), interleaved.
 *   gencap OUT.pcap PACKETS HELLO_PERCENT
 * HELLO_PERCENT: share of flows that are short TLS flows (the rest bulk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"

static FILE *out;
static uint64_t written, limit;
static uint64_t ts_us;

static void put(const uint8_t *pkt, uint32_t len)
{
	uint32_t hdr[4] = {1700000000u + (uint32_t)(ts_us / 1000000u), (uint32_t)(ts_us % 1000000u), len, len};

	fwrite(hdr, sizeof(hdr), 1, out);
	fwrite(pkt, len, 1, out);
	written++;
	ts_us += 100;   /* 10 000 packets/s: flows end and are collected as in real life */
}

/* An IPv4 TCP packet between 198.18.x.y and 198.19.0.1. */
static void tcp(uint32_t flow, int to_server, uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *data,
		uint32_t n)
{
	static uint8_t tmpl[40], pkt[2048];
	struct packet t;
	uint8_t *src = tmpl + 12, *dst = tmpl + 16;

	if (written >= limit)
		return;
	memset(tmpl, 0, sizeof(tmpl));
	tmpl[0] = 0x45;
	tmpl[3] = 40;
	tmpl[6] = 0x40;
	tmpl[8] = 64;
	tmpl[9] = 6;
	if (!to_server) {
		src = tmpl + 16;
		dst = tmpl + 12;
	}
	src[0] = 198; src[1] = 18; src[2] = (uint8_t)(flow >> 8); src[3] = (uint8_t)flow;
	dst[0] = 198; dst[1] = 19; dst[2] = 0; dst[3] = 1;
	put_be16(tmpl + 20 + (to_server ? 0 : 2), (uint16_t)(10000 + flow % 50000));
	put_be16(tmpl + 20 + (to_server ? 2 : 0), 443);
	tmpl[32] = 5 << 4;
	put_be16(tmpl + 34, 65535);
	packet_parse(&t, tmpl, 40);
	t.data = tmpl;
	put_be32(tmpl + 28, ack);
	put(pkt, packet_build_segment(pkt, sizeof(pkt), &t, seq, data, n, flags, (uint16_t)seq));
}

int main(int argc, char **argv)
{
	static uint8_t hello[517], data[1448];
	uint32_t hdr[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 101};
	unsigned hello_percent, flow = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: gencap OUT.pcap PACKETS HELLO_PERCENT\n");
		return 2;
	}
	out = fopen(argv[1], "wb");
	limit = strtoull(argv[2], NULL, 10);
	hello_percent = (unsigned)atoi(argv[3]);
	if (!out)
		return 1;
	fwrite(hdr, sizeof(hdr), 1, out);
	/* a realistic record: 16 03 01 02 00 01 00 01 fc 03 03 ..., SNI-less but valid */
	memcpy(hello, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	memcpy(hello + 43, "\x00\x00\x02\x13\x01\x01\x00\x01\xd1\x00\x15\x01\xcd", 13);
	memset(data, 0x17, sizeof(data));
	srand(1);
	while (written < limit) {
		uint32_t c = 1000, s = 5000, i, bulk = (unsigned)(rand() % 100) >= hello_percent;

		flow++;
		tcp(flow, 1, c - 1, 0, TCP_SYN, NULL, 0);
		tcp(flow, 0, s - 1, c, TCP_SYN | TCP_ACK, NULL, 0);
		tcp(flow, 1, c, s, TCP_ACK, NULL, 0);
		tcp(flow, 1, c, s, TCP_ACK | TCP_PSH, hello, sizeof(hello));
		c += sizeof(hello);
		tcp(flow, 0, s, c, TCP_ACK | TCP_PSH, data, 1200);
		s += 1200;
		for (i = 0; i < (bulk ? 400u : 4u); i++) {
			tcp(flow, 1, c, s, TCP_ACK, data, sizeof(data));
			c += sizeof(data);
			if (i % 2)
				tcp(flow, 0, s, c, TCP_ACK, NULL, 0);
		}
		tcp(flow, 1, c, s, TCP_ACK | TCP_FIN, NULL, 0);
		tcp(flow, 0, s, c + 1, TCP_ACK | TCP_FIN, NULL, 0);
	}
	return fclose(out) ? 1 : 0;
}
