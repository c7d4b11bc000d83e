/* hsclient.c — TLS handshakes one after another, alternating between two
 * ports of one server, so that both arms of a comparison are measured in the
 * same run, connection by connection: whatever the machine does meanwhile
 * hits both alike. Each connection: TCP connect, full TLS handshake (no
 * session reuse), close_notify, close -- what `openssl s_time -new` does.
 *
 *   hsclient ADDR SNI SECONDS PORT [PORT...]
 *
 * Prints one line per port:
 *   port=P handshakes=N failed=F per_s=R p50_ms=A p99_ms=B
 * where per_s is N divided by the time spent in that port's connections. */
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PORTS 4
#define MAX_SAMPLES (1 << 20)

struct arm {
	const char *port;
	struct addrinfo *ai;
	double *ms, busy;
	long n, failed;
};

/* One connection; its handshake time in ms, or -1. */
static double handshake(SSL_CTX *ctx, const struct addrinfo *ai, const char *sni, double *total_s)
{
	double t0 = bench_seconds(), hs = -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	SSL *ssl = NULL;

	if (fd < 0)
		goto out;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen))
		goto out;
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_tlsext_host_name(ssl, sni) || !SSL_set_fd(ssl, fd))
		goto out;
	if (SSL_connect(ssl) == 1) {
		hs = (bench_seconds() - t0) * 1e3;
		SSL_shutdown(ssl);
	}
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	*total_s += bench_seconds() - t0;
	return hs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct arm *a, double p)
{
	long i = (long)(p * (double)(a->n - 1) + 0.5);

	return a->n ? a->ms[i] : 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct arm arms[MAX_PORTS];
	int narms = argc - 4, i, round = 0;
	double end, seconds = argc > 3 ? strtod(argv[3], NULL) : 0;
	SSL_CTX *ctx;

	if (narms < 1 || narms > MAX_PORTS || !(seconds > 0)) {
		fprintf(stderr, "usage: hsclient ADDR SNI SECONDS PORT [PORT...] (at most %d ports)\n", MAX_PORTS);
		return 2;
	}
	memset(arms, 0, sizeof(arms));
	for (i = 0; i < narms; i++) {
		int r;

		arms[i].port = argv[4 + i];
		arms[i].ms = malloc(MAX_SAMPLES * sizeof(double));
		r = getaddrinfo(argv[1], arms[i].port, &hints, &arms[i].ai);
		if (r || !arms[i].ms) {
			fprintf(stderr, "hsclient: %s port %s: %s\n", argv[1], arms[i].port, r ? gai_strerror(r) : "no memory");
			return 2;
		}
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return 2;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	end = bench_seconds() + seconds;
	while (bench_seconds() < end) {
		/* ABBA...: neither arm always goes first after the other */
		for (i = 0; i < narms; i++) {
			struct arm *a = &arms[round % 2 ? narms - 1 - i : i];
			double ms = handshake(ctx, a->ai, argv[2], &a->busy);

			if (ms < 0)
				a->failed++;
			else if (a->n < MAX_SAMPLES)
				a->ms[a->n++] = ms;
		}
		round++;
	}
	for (i = 0; i < narms; i++) {
		struct arm *a = &arms[i];

		qsort(a->ms, (size_t)a->n, sizeof(double), cmp_double);
		printf("port=%s handshakes=%ld failed=%ld per_s=%.1f p50_ms=%.3f p99_ms=%.3f\n", a->port, a->n, a->failed,
		       a->busy > 0 ? (double)a->n / a->busy : 0, pct(a, 0.50), pct(a, 0.99));
		freeaddrinfo(a->ai);
		free(a->ms);
	}
	SSL_CTX_free(ctx);
	return 0;
}
