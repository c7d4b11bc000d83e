/* clienthello.c — the ClientHello of a current Chrome (BoringSSL), written
 * byte by byte: same cipher suites, extensions, sizes and GREASE, with the
 * server_name early in a fixed extension order (Chrome shuffles the order;
 * the probe needs the name at the same offset in every try, inside the
 * first TCP segment, so that "unsplit" is a fair control). */
#include "clienthello.h"

#include <string.h>

#include "packet.h"

#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_HANDSHAKE_CLIENT_HELLO 0x01
#define ECH_GREASE_ENC 32

struct writer {
	uint8_t *out;
	size_t cap, len;
	int overflow;
};

/* splitmix64: the bytes need to look random, not to be secret. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t *reserve(struct writer *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return NULL;
	}
	p = w->out + w->len;
	w->len += n;
	return p;
}

static void put8(struct writer *w, uint8_t v)
{
	uint8_t *p = reserve(w, 1);

	if (p)
		*p = v;
}

static void put16(struct writer *w, uint16_t v)
{
	uint8_t *p = reserve(w, 2);

	if (p)
		put_be16(p, v);
}

static void put_bytes(struct writer *w, const void *data, size_t n)
{
	uint8_t *p = reserve(w, n);

	if (p)
		memcpy(p, data, n);
}

static void put_random(struct writer *w, uint64_t *rng, size_t n)
{
	uint8_t *p = reserve(w, n);
	size_t i;

	for (i = 0; p && i < n; i++)
		p[i] = (uint8_t)next_random(rng);
}

/* A length field of width bytes, filled in by end_length. */
static size_t begin_length(struct writer *w, int width)
{
	size_t at = w->len;

	reserve(w, (size_t)width);
	return at;
}

static void end_length(struct writer *w, size_t at, int width)
{
	size_t n = w->len - at - (size_t)width;
	int k;

	if (w->overflow)
		return;
	for (k = 0; k < width; k++)
		w->out[at + (size_t)k] = (uint8_t)(n >> (8 * (width - 1 - k)));
}

static void put_u16_list(struct writer *w, const uint16_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put16(w, v[i]);
}

int clienthello_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static uint16_t grease(uint64_t *rng)
{
	return (uint16_t)(0x0a0a + 0x1010 * (next_random(rng) % 16));
}

static const uint16_t cipher_suites[] = {
	0x1301, 0x1302, 0x1303,                  /* TLS 1.3: AES-128-GCM, AES-256-GCM, CHACHA20 */
	0xc02b, 0xc02f, 0xc02c, 0xc030,          /* ECDHE-{ECDSA,RSA}-AES-{128,256}-GCM */
	0xcca9, 0xcca8,                          /* ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305 */
	0xc013, 0xc014,                          /* ECDHE-RSA-AES-{128,256}-CBC-SHA */
	0x009c, 0x009d, 0x002f, 0x0035,          /* RSA-AES-{128,256}-GCM, RSA-AES-{128,256}-CBC-SHA */
};

static const uint16_t signature_algorithms[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
};

struct hello_parts {
	uint16_t grease_cipher, grease_group, grease_version, grease_ext1, grease_ext2;
	enum clienthello_profile profile;
};

static void put_extension_header(struct writer *w, uint16_t type, uint16_t len)
{
	put16(w, type);
	put16(w, len);
}

static void put_server_name(struct writer *w, const char *name, size_t name_len)
{
	put_extension_header(w, CLIENTHELLO_EXT_SERVER_NAME, (uint16_t)(name_len + 5));
	put16(w, (uint16_t)(name_len + 3));      /* server_name_list */
	put8(w, 0);                              /* host_name */
	put16(w, (uint16_t)name_len);
	put_bytes(w, name, name_len);
}

static void put_supported_groups(struct writer *w, const struct hello_parts *h)
{
	size_t ext, list;

	put16(w, CLIENTHELLO_EXT_SUPPORTED_GROUPS);
	ext = begin_length(w, 2);
	list = begin_length(w, 2);
	put16(w, h->grease_group);
	if (h->profile == CLIENTHELLO_CHROME)
		put16(w, CLIENTHELLO_GROUP_X25519MLKEM768);
	put16(w, CLIENTHELLO_GROUP_X25519);
	put16(w, CLIENTHELLO_GROUP_SECP256R1);
	put16(w, 0x0018);                        /* secp384r1 */
	end_length(w, list, 2);
	end_length(w, ext, 2);
}

static void put_key_share(struct writer *w, const struct hello_parts *h, uint64_t *rng)
{
	size_t ext, list;

	put16(w, CLIENTHELLO_EXT_KEY_SHARE);
	ext = begin_length(w, 2);
	list = begin_length(w, 2);
	put16(w, h->grease_group);               /* GREASE share: one zero byte, as BoringSSL */
	put16(w, 1);
	put8(w, 0);
	if (h->profile == CLIENTHELLO_CHROME) {
		put16(w, CLIENTHELLO_GROUP_X25519MLKEM768);
		put16(w, CLIENTHELLO_X25519MLKEM768_SHARE);
		put_random(w, rng, CLIENTHELLO_X25519MLKEM768_SHARE);
	}
	put16(w, CLIENTHELLO_GROUP_X25519);
	put16(w, 32);
	put_random(w, rng, 32);
	end_length(w, list, 2);
	end_length(w, ext, 2);
}

/* An outer ECH extension with a random config id, key and payload: what
 * Chrome sends when the server has no ECH config (RFC 9849 "GREASE ECH"). */
static void put_ech_grease(struct writer *w, uint64_t *rng)
{
	size_t ext, payload_len = 144 + 32 * (size_t)(next_random(rng) % 4);

	put16(w, CLIENTHELLO_EXT_ECH);
	ext = begin_length(w, 2);
	put8(w, 0);                              /* outer */
	put16(w, 0x0001);                        /* HKDF-SHA256 */
	put16(w, 0x0001);                        /* AES-128-GCM */
	put_random(w, rng, 1);                   /* config_id */
	put16(w, ECH_GREASE_ENC);
	put_random(w, rng, ECH_GREASE_ENC);
	put16(w, (uint16_t)payload_len);
	put_random(w, rng, payload_len);
	end_length(w, ext, 2);
}

static void put_extensions(struct writer *w, const struct hello_parts *h, const char *name, size_t name_len,
			   uint64_t *rng)
{
	static const uint8_t alpn[] = {0x00, 0x0c, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
	static const uint8_t alps[] = {0x00, 0x03, 2, 'h', '2'};
	static const uint8_t status_request[] = {0x01, 0x00, 0x00, 0x00, 0x00};

	put_extension_header(w, h->grease_ext1, 0);
	put_server_name(w, name, name_len);
	put_extension_header(w, 0x0017, 0);      /* extended_master_secret */
	put_extension_header(w, 0xff01, 1);      /* renegotiation_info: empty */
	put8(w, 0);
	put_supported_groups(w, h);
	put_extension_header(w, 0x000b, 2);      /* ec_point_formats: uncompressed */
	put8(w, 1);
	put8(w, 0);
	put_extension_header(w, 0x0023, 0);      /* session_ticket: none yet */
	put_extension_header(w, CLIENTHELLO_EXT_ALPN, sizeof(alpn));
	put_bytes(w, alpn, sizeof(alpn));
	put_extension_header(w, 0x0005, sizeof(status_request));
	put_bytes(w, status_request, sizeof(status_request));
	put16(w, 0x000d);                        /* signature_algorithms */
	put16(w, (uint16_t)(2 + sizeof(signature_algorithms)));
	put16(w, (uint16_t)sizeof(signature_algorithms));
	put_u16_list(w, signature_algorithms, sizeof(signature_algorithms) / 2);
	put_extension_header(w, 0x0012, 0);      /* signed_certificate_timestamp */
	put_key_share(w, h, rng);
	put_extension_header(w, 0x002d, 2);      /* psk_key_exchange_modes: psk_dhe_ke */
	put8(w, 1);
	put8(w, 1);
	put_extension_header(w, CLIENTHELLO_EXT_SUPPORTED_VERSIONS, 7);
	put8(w, 6);
	put16(w, h->grease_version);
	put16(w, 0x0304);
	put16(w, 0x0303);
	put_extension_header(w, 0x001b, 3);      /* compress_certificate: brotli */
	put8(w, 2);
	put16(w, 0x0002);
	if (h->profile == CLIENTHELLO_CHROME) {
		put_extension_header(w, 0x44cd, sizeof(alps));   /* application_settings */
		put_bytes(w, alps, sizeof(alps));
		put_ech_grease(w, rng);
	}
	put_extension_header(w, h->grease_ext2, 1);
	put8(w, 0);
}

/* BoringSSL's rule: a hello whose handshake message is 256..511 bytes long
 * is padded to 512 (some servers hang on that range), and the padding
 * extension always carries at least one byte. hs_start: offset of the
 * handshake header in w. */
static void put_padding(struct writer *w, size_t hs_start)
{
	size_t unpadded = w->len - hs_start, pad;
	uint8_t *p;

	if (w->overflow || unpadded <= 0xff || unpadded >= 0x200)
		return;
	pad = 0x200 - unpadded;
	pad = pad >= 4 + 1 ? pad - 4 : 1;
	put_extension_header(w, CLIENTHELLO_EXT_PADDING, (uint16_t)pad);
	p = reserve(w, pad);
	if (p)
		memset(p, 0, pad);
}

int clienthello_build(uint8_t *out, size_t cap, const char *name, size_t name_len,
		      enum clienthello_profile profile, uint64_t seed)
{
	struct writer w = {out, cap, 0, 0};
	struct hello_parts h;
	uint64_t rng = seed;
	size_t record, hs, extensions;

	if (name_len == 0 || name_len > CLIENTHELLO_NAME_MAX)
		return -1;
	h.profile = profile;
	h.grease_cipher = grease(&rng);
	h.grease_group = grease(&rng);
	h.grease_version = grease(&rng);
	h.grease_ext1 = grease(&rng);
	h.grease_ext2 = grease(&rng);
	if (h.grease_ext2 == h.grease_ext1)     /* two extensions of one type are illegal */
		h.grease_ext2 ^= 0x1010;

	put8(&w, TLS_RECORD_HANDSHAKE);
	put16(&w, 0x0301);                       /* record version, as browsers send it */
	record = begin_length(&w, 2);
	hs = w.len;
	put8(&w, TLS_HANDSHAKE_CLIENT_HELLO);
	begin_length(&w, 3);
	put16(&w, 0x0303);                       /* legacy_version: TLS 1.2 */
	put_random(&w, &rng, 32);
	put8(&w, 32);                            /* session id: random, for middlebox compatibility */
	put_random(&w, &rng, 32);
	put16(&w, (uint16_t)(2 + sizeof(cipher_suites)));
	put16(&w, h.grease_cipher);
	put_u16_list(&w, cipher_suites, sizeof(cipher_suites) / 2);
	put8(&w, 1);                             /* compression: null only */
	put8(&w, 0);
	extensions = begin_length(&w, 2);
	put_extensions(&w, &h, name, name_len, &rng);
	end_length(&w, extensions, 2);
	put_padding(&w, hs);
	end_length(&w, extensions, 2);
	end_length(&w, hs + 1, 3);
	end_length(&w, record, 2);
	return w.overflow ? -1 : (int)w.len;
}
