/* tls.h — incremental ClientHello inspector (picohttpparser style: give it
 * the contiguous stream bytes seen so far, it never copies or allocates). */
#ifndef HELLOSPLIT_TLS_H
#define HELLOSPLIT_TLS_H

#include <stddef.h>
#include <stdint.h>

enum tls_complete {
	TLS_COMPLETE_RECORD = 0,    /* window = first record: 5 + record length */
	TLS_COMPLETE_HANDSHAKE,     /* window = whole ClientHello across records */
};

enum tls_status {
	TLS_NEED_MORE = 0,
	TLS_NOT_TLS,
	TLS_DONE,
};

/* Records a ClientHello may span in handshake mode; more is not a real client. */
#define TLS_MAX_RECORDS 64

struct tls_result {
	uint32_t window_len;  /* DONE: stream bytes the window covers */
	uint32_t need;        /* NEED_MORE: a lower bound of the window length */
	uint32_t sni_off;     /* stream offset of the first hostname byte */
	uint32_t sni_len;     /* 0: no SNI found inside the window */
};

enum tls_status tls_inspect(const uint8_t *buf, size_t len, enum tls_complete mode,
			    struct tls_result *res);

#endif
