/* windivert-filter.c — the WinDivert filter string for the flags: outbound
 * TCP payload to the target ports, loopback and excluded interfaces left
 * out, --filter-extra and-ed on. Portable (no <windows.h>), so the unit
 * tests build it everywhere; windivert.c opens WinDivert with it. */
#include "windivert-filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

#define PORT_TESTS_MAX 200                  /* WinDivert 2.2 takes at most 256 tests */

static size_t append(char *out, size_t n, size_t k, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static size_t append(char *out, size_t n, size_t k, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (k >= n)
		return k;
	va_start(ap, fmt);
	r = vsnprintf(out + k, n - k, fmt, ap);
	va_end(ap);
	return r < 0 ? n : k + (size_t)r;
}

/* "tcp.DstPort == 443", or the ports and ranges of the bitmap or-ed in
 * parentheses. Returns the number of WinDivert tests, or -1 when none. */
static int port_test(const uint8_t *ports, char *out, size_t n, size_t *k)
{
	unsigned p = 1, terms = 0, lo, hi;
	int tests = 0;
	size_t start = *k;

	while (ports_next_range(ports, &p, &lo, &hi)) {
		*k = append(out, n, *k, "%s", terms ? " or " : "(");
		if (lo == hi) {
			*k = append(out, n, *k, "tcp.DstPort == %u", lo);
			tests++;
		} else {
			*k = append(out, n, *k, "(tcp.DstPort >= %u and tcp.DstPort <= %u)", lo, hi);
			tests += 2;
		}
		terms++;
	}
	if (!terms)
		return -1;
	if (terms == 1) {               /* no parentheses around a single test */
		memmove(out + start, out + start + 1, *k - start);
		(*k)--;
	} else {
		*k = append(out, n, *k, ")");
	}
	return tests;
}

int windivert_filter(const struct config *cfg, char *out, size_t n, char *err, size_t errlen)
{
	size_t k = 0;
	const char *s = cfg->exclude_ifidx;
	int tests;

	k = append(out, n, k, "outbound%s and (ip or ipv6) and ", cfg->exclude_loopback ? " and !loopback" : "");
	tests = port_test(cfg->engine.ports, out, n, &k);
	if (tests < 0) {
		snprintf(err, errlen, "--ports: no port given");
		return -1;
	}
	if (tests > PORT_TESTS_MAX) {
		snprintf(err, errlen,
			 "--ports: the list needs %d WinDivert filter tests, more than %d; WinDivert takes 256 in all. "
			 "Join ports into ranges (e.g. 8000-8100)",
			 tests, PORT_TESTS_MAX);
		return -1;
	}
	k = append(out, n, k, " and tcp.PayloadLength > 0");
	while (*s) {
		char *end;
		unsigned long idx = strtoul(s, &end, 10), sub;

		if (*end == '.') {
			sub = strtoul(end + 1, &end, 10);
			/* WinDivert 2.2 rejects "not (...)": the same test, written with != and or */
			k = append(out, n, k, " and (ifIdx != %lu or subIfIdx != %lu)", idx, sub);
		} else {
			k = append(out, n, k, " and ifIdx != %lu", idx);
		}
		s = *end == ',' ? end + 1 : end;
	}
	if (cfg->filter_extra)
		k = append(out, n, k, " and (%s)", cfg->filter_extra);
	if (k >= n) {
		snprintf(err, errlen, "the WinDivert filter is longer than %zu characters; shorten --filter-extra or --ports",
			 n - 1);
		return -1;
	}
	return 0;
}
