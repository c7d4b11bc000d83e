/* hostlist_bench.c — a 1 000 000-domain --hostlist: load time, memory and
 * lookups per second, side by side with reading the same file line by line
 * (the cost of the I/O alone).
 *   hostlist_bench [ENTRIES] [FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hostlist.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i, hits = 0, lines = 0;
	const char *path = argc > 2 ? argv[2] : "build/bench/hosts.txt";
	struct hostlist h;
	char name[128];
	double t0, t1, t2, t3, t4;
	long rss0, rss1;
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return 1;
	}
	fprintf(f, "# %ld generated domains\n", n);
	for (i = 0; i < n; i++)   /* realistic shapes: a label, a second-level name, a TLD */
		fprintf(f, "%s%ld-site.example%ld.%s\n", i % 3 ? "" : "www.", i, i % 1000, i % 2 ? "com" : "net");
	fclose(f);

	t0 = bench_seconds();
	f = fopen(path, "r");
	while (fgets(name, sizeof(name), f))
		lines++;
	fclose(f);
	t1 = bench_seconds();
	rss0 = bench_rss_kib();
	if (hostlist_load(&h, path, stderr))
		return 1;
	t2 = bench_seconds();
	rss1 = bench_rss_kib();
	for (i = 0; i < n; i++) {      /* a subdomain of every listed name: all match */
		int len = snprintf(name, sizeof(name), "cdn.%s%ld-site.example%ld.%s", i % 3 ? "" : "www.", i, i % 1000,
				   i % 2 ? "com" : "net");

		hits += hostlist_match(&h, (const uint8_t *)name, (size_t)len);
	}
	t3 = bench_seconds();
	for (i = 0; i < n; i++) {      /* unlisted names of the same shape: none match */
		int len = snprintf(name, sizeof(name), "www.%ld-other.example%ld.org", i, i % 1000);

		hits -= hostlist_match(&h, (const uint8_t *)name, (size_t)len);
	}
	t4 = bench_seconds();
	printf("entries %u (file %ld lines)\n", h.count, lines);
	printf("reading the file alone %.3f s; loading it %.3f s (ratio %.2f)\n", t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0));
	printf("memory: %ld KiB for the list (%.1f bytes per domain)\n", rss1 - rss0,
	       (double)(rss1 - rss0) * 1024 / (double)h.count);
	printf("lookups: %.0f/s listed (subdomains), %.0f/s unlisted; %ld wrong answers\n", (double)n / (t3 - t2),
	       (double)n / (t4 - t3), n - hits);
	hostlist_free(&h);
	remove(path);
	return hits == n ? 0 : 1;
}
