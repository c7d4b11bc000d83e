/* test_tls.c — every prefix of real ClientHellos, bad bytes, both modes. */
#include <string.h>

#include "test.h"
#include "tls.h"
#include "vectors.h"

void test_tls(void);

/* Every prefix shorter than the window is NEED_MORE, the full one DONE. */
static void every_prefix(const uint8_t *h, size_t len, enum tls_complete mode, uint32_t sni_off,
			 uint32_t sni_len)
{
	struct tls_result r;
	size_t n;
	int bad = 0;

	for (n = 0; n < len; n++) {
		if (tls_inspect(h, n, mode, &r) != TLS_NEED_MORE || r.need <= n || r.need > len)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(tls_inspect(h, len, mode, &r), TLS_DONE);
	CHECK_EQ(r.window_len, len);
	CHECK_EQ(r.sni_off, sni_off);
	CHECK_EQ(r.sni_len, sni_len);
}

static void real_hellos(void)
{
	every_prefix(hello_blocked, sizeof(hello_blocked), TLS_COMPLETE_RECORD, HELLO_BLOCKED_SNI_OFF, 19);
	every_prefix(hello_blocked, sizeof(hello_blocked), TLS_COMPLETE_HANDSHAKE, HELLO_BLOCKED_SNI_OFF, 19);
	every_prefix(hello_alpn, sizeof(hello_alpn), TLS_COMPLETE_RECORD, HELLO_ALPN_SNI_OFF, 16);
	every_prefix(hello_nosni, sizeof(hello_nosni), TLS_COMPLETE_RECORD, 0, 0);
}

static void more_bytes_after_the_window(void)
{
	uint8_t b[sizeof(hello_blocked) + 50];
	struct tls_result r;

	memcpy(b, hello_blocked, sizeof(hello_blocked));
	memset(b + sizeof(hello_blocked), 0x17, 50);
	CHECK_EQ(tls_inspect(b, sizeof(b), TLS_COMPLETE_RECORD, &r), TLS_DONE);
	CHECK_EQ(r.window_len, sizeof(hello_blocked));
}

static void two_records(void)
{
	struct tls_result r;

	/* record mode: the window is the first record; the name is beyond it */
	CHECK_EQ(tls_inspect(hello_two_records, sizeof(hello_two_records), TLS_COMPLETE_RECORD, &r), TLS_DONE);
	CHECK_EQ(r.window_len, 105);
	CHECK_EQ(r.sni_len, 0);
	/* handshake mode: the whole hello, the name found behind the second header */
	every_prefix(hello_two_records, sizeof(hello_two_records), TLS_COMPLETE_HANDSHAKE, HELLO_BLOCKED_SNI_OFF + 5,
		     19);
	CHECK(!memcmp(hello_two_records + HELLO_BLOCKED_SNI_OFF + 5, "www.blocked.example", 19));
}

static void not_tls(void)
{
	uint8_t b[sizeof(hello_blocked)];
	struct tls_result r;

	CHECK_EQ(tls_inspect((const uint8_t *)"GET / HTTP/1.1\r\n", 16, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16", 1, TLS_COMPLETE_RECORD, &r), TLS_NEED_MORE);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x17", 1, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16\x02", 2, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16\x03\x05", 3, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16\x03\x01\x00\x00", 5, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16\x03\x01\x40\x01", 5, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	CHECK_EQ(tls_inspect((const uint8_t *)"\x16\x03\x01\x40\x00\x01", 6, TLS_COMPLETE_RECORD, &r), TLS_NEED_MORE);
	CHECK_EQ(r.need, 16389);
	/* a ServerHello (type 2) is not a ClientHello */
	memcpy(b, hello_blocked, sizeof(b));
	b[5] = 2;
	CHECK_EQ(tls_inspect(b, 6, TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	/* session id longer than 32 */
	memcpy(b, hello_blocked, sizeof(b));
	b[5 + 4 + 2 + 32] = 33;
	CHECK_EQ(tls_inspect(b, sizeof(b), TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	/* extensions length that disagrees with the hello length */
	memcpy(b, hello_blocked, sizeof(b));
	b[5 + 3] -= 1;                            /* hello one byte shorter than its parts */
	CHECK_EQ(tls_inspect(b, sizeof(b), TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
	/* a server name extension with a broken list length */
	memcpy(b, hello_blocked, sizeof(b));
	b[HELLO_BLOCKED_SNI_OFF - 4] ^= 0x40;
	CHECK_EQ(tls_inspect(b, sizeof(b), TLS_COMPLETE_RECORD, &r), TLS_NOT_TLS);
}

static void huge_lengths_need_more(void)
{
	uint8_t b[16];
	struct tls_result r;

	/* handshake mode: a hello claiming 16 MB wants at least that many bytes */
	memcpy(b, "\x16\x03\x01\x40\x00\x01\xff\xff\xff\x03\x03", 11);
	CHECK_EQ(tls_inspect(b, 11, TLS_COMPLETE_HANDSHAKE, &r), TLS_NEED_MORE);
	CHECK(r.need >= 0xffffff);
	CHECK_EQ(tls_inspect(b, 11, TLS_COMPLETE_RECORD, &r), TLS_NEED_MORE);
	CHECK_EQ(r.need, 16389);
}

static void every_byte_flipped_is_safe(void)
{
	uint8_t b[sizeof(hello_blocked)];
	struct tls_result r;
	size_t i;
	int v;

	/* No crash and a sane result for any single corrupted byte (ASan run). */
	for (i = 0; i < sizeof(b); i++)
		for (v = 0; v < 256; v += 51) {
			enum tls_status s;

			memcpy(b, hello_blocked, sizeof(b));
			b[i] = (uint8_t)v;
			s = tls_inspect(b, sizeof(b), TLS_COMPLETE_HANDSHAKE, &r);
			if (s == TLS_DONE)
				CHECK(r.window_len <= sizeof(b) && r.sni_off + r.sni_len <= r.window_len);
		}
}

void test_tls(void)
{
	real_hellos();
	more_bytes_after_the_window();
	two_records();
	not_tls();
	huge_lengths_need_more();
	every_byte_flipped_is_safe();
}
