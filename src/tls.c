/* tls.c — find where the first ClientHello ends and where its hostname is.
 * Every read is bounds-checked; a short buffer is NEED_MORE, a wrong value
 * is NOT_TLS (the flow then passes unsplit). */
#include "tls.h"
#include "packet.h"

#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_HANDSHAKE_CLIENT_HELLO 0x01
#define TLS_RECORD_MAX 16384
#define TLS_EXT_SERVER_NAME 0x0000

enum read_status { READ_OK = 0, READ_SHORT, READ_BAD };

/* A record's payload as stream offsets, clipped to the bytes available. */
struct chunk {
	uint32_t start, len;
};

/* Reads the handshake message as one logical byte string across chunks. */
struct reader {
	const uint8_t *buf;
	const struct chunk *chunks;
	int nchunks, i;
	uint32_t pos;    /* offset inside chunk i */
	uint32_t left;   /* bytes of the message not read yet */
};

static enum read_status read_skip(struct reader *r, uint32_t n, uint32_t *first_stream_off, int *contiguous)
{
	if (n > r->left)
		return READ_BAD;
	if (contiguous)
		*contiguous = 1;
	while (r->i < r->nchunks && r->pos == r->chunks[r->i].len) {
		r->i++;
		r->pos = 0;
	}
	if (first_stream_off && r->i < r->nchunks)
		*first_stream_off = r->chunks[r->i].start + r->pos;
	r->left -= n;
	while (n) {
		uint32_t take;

		if (r->i >= r->nchunks)
			return READ_SHORT;
		take = r->chunks[r->i].len - r->pos;
		if (take > n)
			take = n;
		n -= take;
		r->pos += take;
		if (n && r->pos == r->chunks[r->i].len) {
			r->i++;
			r->pos = 0;
			if (contiguous)
				*contiguous = 0;
		}
	}
	return READ_OK;
}

static enum read_status read_int(struct reader *r, int width, uint32_t *v)
{
	uint32_t x = 0;
	int k;

	for (k = 0; k < width; k++) {
		uint32_t off;
		enum read_status s = read_skip(r, 1, &off, NULL);

		if (s != READ_OK)
			return s;
		x = x << 8 | r->buf[off];
	}
	*v = x;
	return READ_OK;
}

#define TRY(expr) do { enum read_status s_ = (expr); if (s_ != READ_OK) return s_; } while (0)

static enum read_status read_server_name(struct reader *r, uint32_t ext_len, struct tls_result *res)
{
	uint32_t list_len, type, name_len, off;
	int contiguous;

	if (ext_len < 5)
		return READ_BAD;
	TRY(read_int(r, 2, &list_len));
	TRY(read_int(r, 1, &type));
	TRY(read_int(r, 2, &name_len));
	if (list_len + 2 != ext_len || name_len + 3 > list_len || type != 0 || name_len == 0)
		return READ_BAD;
	TRY(read_skip(r, name_len, &off, &contiguous));
	if (contiguous) { /* a name cut by a record header has no stream offset */
		res->sni_off = off;
		res->sni_len = name_len;
	}
	return read_skip(r, list_len - 3 - name_len, NULL, NULL);
}

/* Walks the ClientHello body; READ_SHORT when it runs out of available bytes. */
static enum read_status read_client_hello(struct reader *r, struct tls_result *res)
{
	uint32_t n, ext_total, type, len;

	TRY(read_skip(r, 2 + 32, NULL, NULL));              /* legacy_version, random */
	TRY(read_int(r, 1, &n));
	if (n > 32)
		return READ_BAD;
	TRY(read_skip(r, n, NULL, NULL));                   /* session id */
	TRY(read_int(r, 2, &n));
	if (n < 2 || n & 1)
		return READ_BAD;
	TRY(read_skip(r, n, NULL, NULL));                   /* cipher suites */
	TRY(read_int(r, 1, &n));
	if (n < 1)
		return READ_BAD;
	TRY(read_skip(r, n, NULL, NULL));                   /* compression methods */
	if (r->left == 0)
		return READ_OK;                             /* no extensions */
	TRY(read_int(r, 2, &ext_total));
	if (ext_total != r->left)
		return READ_BAD;
	while (r->left) {
		TRY(read_int(r, 2, &type));
		TRY(read_int(r, 2, &len));
		if (len > r->left)
			return READ_BAD;
		if (type == TLS_EXT_SERVER_NAME && res->sni_len == 0)
			TRY(read_server_name(r, len, res));
		else
			TRY(read_skip(r, len, NULL, NULL));
	}
	return READ_OK;
}

static int record_header_ok(const uint8_t *h, size_t avail)
{
	if (avail >= 1 && h[0] != TLS_RECORD_HANDSHAKE)
		return 0;
	if (avail >= 2 && h[1] != 0x03)
		return 0;
	if (avail >= 3 && h[2] > 0x04)
		return 0;
	if (avail >= 5 && (get_be16(h + 3) == 0 || get_be16(h + 3) > TLS_RECORD_MAX))
		return 0;
	return 1;
}

enum tls_status tls_inspect(const uint8_t *buf, size_t len, enum tls_complete mode,
			    struct tls_result *res)
{
	struct chunk chunks[TLS_MAX_RECORDS];
	uint8_t hs_header[4];
	uint32_t off = 0, have = 0, hello_len = 0, window = 0;
	int n = 0, k;
	struct reader r;
	enum read_status s;

	res->window_len = res->need = res->sni_off = res->sni_len = 0;
	/* Collect record payloads until the handshake message is complete (record
	 * mode: the first record only). */
	for (;;) {
		uint32_t rec_len, avail;

		if (!record_header_ok(buf + off, len - off < 5 ? len - off : 5))
			return TLS_NOT_TLS;
		if (len - off < 5) {          /* the next record header has not come yet */
			res->need = off + 5;
			if (mode == TLS_COMPLETE_HANDSHAKE && have >= 4)
				res->need += 4 + hello_len - have;
			break;                /* but what is there must still be a hello */
		}
		if (n == TLS_MAX_RECORDS)
			return TLS_NOT_TLS;
		rec_len = get_be16(buf + off + 3);
		avail = len - off - 5 < rec_len ? (uint32_t)(len - off - 5) : rec_len;
		chunks[n].start = off + 5;
		chunks[n].len = avail;
		for (k = 0; k < (int)avail && have < 4; k++)
			hs_header[have++] = buf[off + 5 + k];
		have += avail - k;
		n++;
		if (have >= 1 && hs_header[0] != TLS_HANDSHAKE_CLIENT_HELLO)
			return TLS_NOT_TLS;
		if (have >= 4) {
			hello_len = get_be24(hs_header + 1);
			if (hello_len < 2 + 32 + 1 + 4 + 2)
				return TLS_NOT_TLS;
		}
		if (avail < rec_len) {               /* this record is not complete yet */
			res->need = off + 5 + rec_len;
			/* hello bytes still missing once this record is complete */
			if (mode == TLS_COMPLETE_HANDSHAKE && have >= 4 && 4 + hello_len > have + (rec_len - avail))
				res->need += 4 + hello_len - have - (rec_len - avail);
			break;
		}
		off += 5 + rec_len;
		if (mode == TLS_COMPLETE_RECORD || (have >= 4 && have >= 4 + hello_len)) {
			window = off;
			break;
		}
	}
	/* Look for the hostname in what is there; a short hello is not an error
	 * (record mode may cut it, and more bytes may still come). */
	if (have >= 4) {
		r.buf = buf;
		r.chunks = chunks;
		r.nchunks = n;
		r.i = 0;
		r.pos = 0;
		r.left = 4 + hello_len;
		if (read_skip(&r, 4, NULL, NULL) == READ_OK) {
			s = read_client_hello(&r, res);
			if (s == READ_BAD)
				return TLS_NOT_TLS;
		}
	}
	if (!window) {
		if (res->need <= len)
			res->need = (uint32_t)len + 1;
		res->sni_off = res->sni_len = 0;
		return TLS_NEED_MORE;
	}
	res->window_len = window;
	if (res->sni_len && res->sni_off + res->sni_len > window)
		res->sni_off = res->sni_len = 0;
	return TLS_DONE;
}
