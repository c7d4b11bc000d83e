/* clienthello.h — a browser-like TLS ClientHello, built without a TLS library.
 * The probe sends it to see whether a DPI lets it through; the handshake is
 * never finished (the key shares are random bytes), but a real server answers
 * it with a ServerHello or a HelloRetryRequest before it can notice. */
#ifndef HELLOSPLIT_CLIENTHELLO_H
#define HELLOSPLIT_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

#define CLIENTHELLO_NAME_MAX 253   /* longest DNS name */
#define CLIENTHELLO_MAX 2304       /* the largest hello built is 2059 bytes (tests measure it) */

enum clienthello_profile {
	/* Current Chrome: X25519MLKEM768 + X25519 key shares, ECH GREASE,
	 * about 1.8 KB, so two TCP segments on a 1500-byte path. */
	CLIENTHELLO_CHROME = 0,
	/* Chrome before 2023 (and what most non-browser clients look like): an
	 * X25519 share only, no ECH GREASE, padded to 512 bytes: one segment. */
	CLIENTHELLO_CLASSIC,
};

/* Extension code points the builder uses (the tests look for them). */
#define CLIENTHELLO_EXT_SERVER_NAME 0x0000
#define CLIENTHELLO_EXT_SUPPORTED_GROUPS 0x000a
#define CLIENTHELLO_EXT_ALPN 0x0010
#define CLIENTHELLO_EXT_PADDING 0x0015
#define CLIENTHELLO_EXT_KEY_SHARE 0x0033
#define CLIENTHELLO_EXT_SUPPORTED_VERSIONS 0x002b
#define CLIENTHELLO_EXT_ECH 0xfe0d
#define CLIENTHELLO_GROUP_X25519MLKEM768 0x11ec
#define CLIENTHELLO_GROUP_X25519 0x001d
#define CLIENTHELLO_GROUP_SECP256R1 0x0017
#define CLIENTHELLO_X25519MLKEM768_SHARE 1216   /* ML-KEM-768 key (1184) + X25519 (32) */

/* 1 when v is a GREASE value (RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA). */
int clienthello_is_grease(uint16_t v);

/* Writes the first TLS record (header included) of a ClientHello for name
 * (1..253 bytes) into out. Every random part (random, session id, GREASE
 * values, key shares, ECH GREASE) is drawn from seed, so one seed always
 * gives the same bytes. Returns the length, or -1 when the name length is
 * out of range or cap is too small. */
int clienthello_build(uint8_t *out, size_t cap, const char *name, size_t name_len,
		      enum clienthello_profile profile, uint64_t seed);

#endif
