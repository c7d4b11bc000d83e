/* log.c — one line per message on stderr (or log_file), prefixed with the program name. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

int log_verbosity;
FILE *log_file;

FILE *log_stream(void)
{
	return log_file ? log_file : stderr;
}

static void vlog(const char *fmt, va_list ap)
{
	FILE *out = log_file ? log_file : stderr;

	fputs("hellosplit: ", out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

/* IPv4 a.b.c.d:port, IPv6 [RFC 5952 text]:port (longest zero run as "::"). */
static void format_addr(char *out, size_t n, int family, const uint8_t *a, uint16_t port)
{
	int i, best = -1, best_len = 1, run = 0;
	size_t k = 0;

	if (family == 4) {
		snprintf(out, n, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
		return;
	}
	for (i = 0; i < 8; i++) {
		run = a[2 * i] | a[2 * i + 1] ? 0 : run + 1;
		if (run > best_len) {
			best_len = run;
			best = i - run + 1;
		}
	}
	k += (size_t)snprintf(out + k, n - k, "[");
	for (i = 0; i < 8 && k < n; i++) {
		if (i == best) {
			k += (size_t)snprintf(out + k, n - k, "::");
			i += best_len - 1;
			continue;
		}
		k += (size_t)snprintf(out + k, n - k, "%s%x", i && i != best + best_len ? ":" : "",
				      a[2 * i] << 8 | a[2 * i + 1]);
	}
	if (k < n)
		snprintf(out + k, n - k, "]:%u", port);
}

void log_flow_event(void *ctx, const struct engine_flow_event *ev)
{
	char src[64], dst[64], sni[256], cuts[128];
	size_t k = 0;
	int i;

	(void)ctx;
	if (log_verbosity < 1)
		return;
	format_addr(src, sizeof(src), ev->family, ev->src, ev->sport);
	format_addr(dst, sizeof(dst), ev->family, ev->dst, ev->dport);
	/* The hostname is untrusted bytes: print only what is safe on a terminal. */
	for (i = 0; ev->sni && i < (int)ev->sni_len && i < (int)sizeof(sni) - 1; i++)
		sni[i] = ev->sni[i] > 0x20 && ev->sni[i] < 0x7f ? (char)ev->sni[i] : '?';
	sni[ev->sni ? i : 0] = 0;
	cuts[0] = 0;
	for (i = 0; i < ev->ncuts && k < sizeof(cuts); i++)
		k += (size_t)snprintf(cuts + k, sizeof(cuts) - k, "%s%u", i ? "," : "", ev->cuts[i]);
	if (!strcmp(ev->outcome, "split"))
		fprintf(log_stream(), "hellosplit: %s -> %s sni=%s %s at %s (window %u)%s%s\n", src, dst,
			ev->sni ? sni : "-", ev->observe ? "would split" : "split", cuts, ev->window_len,
			ev->chosen_by ? ", " : "", ev->chosen_by ? ev->chosen_by : "");
	else if (!strcmp(ev->outcome, "pass_learned"))
		fprintf(log_stream(), "hellosplit: %s -> %s sni=%s passed unsplit (pass_learned: no split gets through, "
			"retried when it expires)\n", src, dst, ev->sni ? sni : "-");
	else
		fprintf(log_stream(), "hellosplit: %s -> %s sni=%s passed unsplit (%s)\n", src, dst, ev->sni ? sni : "-",
			ev->outcome);
}
