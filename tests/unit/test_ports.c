/* test_ports.c — the port bitmap: bit test, insertion, the walk over its
 * ranges (the ends 1 and 65535, single ports, adjacent bytes). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ports.h"
#include "test.h"

void test_ports(void);

/* The ranges of set as "lo-hi,lo,..." (a single port without -hi). */
static const char *walk(const uint8_t set[PORTS_BYTES])
{
	static char out[4096];
	unsigned from = 1, lo, hi;
	size_t k = 0;

	out[0] = 0;
	while (ports_next_range(set, &from, &lo, &hi) && k < sizeof(out))
		k += (size_t)snprintf(out + k, sizeof(out) - k, lo == hi ? "%s%u" : "%s%u-%u", k ? "," : "", lo, hi);
	return out;
}

static void bits(void)
{
	uint8_t set[PORTS_BYTES];
	unsigned p;
	int n = 0;

	memset(set, 0, sizeof(set));
	CHECK_EQ(ports_has(set, 443), 0);
	ports_add(set, 443);
	ports_add(set, 65535);
	ports_add(set, 0);
	ports_add(set, 65536);         /* out of range: ignored */
	CHECK_EQ(ports_has(set, 443), 1);
	CHECK_EQ(ports_has(set, 442), 0);
	CHECK_EQ(ports_has(set, 444), 0);
	CHECK_EQ(ports_has(set, 65535), 1);
	CHECK_EQ(ports_has(set, 0), 1);
	CHECK_EQ(ports_has(set, 65536), 0);
	CHECK_EQ(ports_has(set, 0xffffffffu), 0);
	for (p = 0; p < 65536; p++)
		n += ports_has(set, p);
	CHECK_EQ(n, 3);
}

static void ranges(void)
{
	uint8_t set[PORTS_BYTES];
	unsigned from, lo, hi;

	memset(set, 0, sizeof(set));
	CHECK(!strcmp(walk(set), ""));
	from = 1;
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 0);

	/* ranges across byte boundaries (7|8, 15|16), a single port, the ends */
	CHECK_EQ(config_parse_ports(set, "1,7-16,443,9000-9002,65534-65535"), 0);
	CHECK(!strcmp(walk(set), "1,7-16,443,9000-9002,65534-65535"));
	/* the walk resumes after each range */
	from = 1;
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 1);
	CHECK_EQ(lo, 1);
	CHECK_EQ(hi, 1);
	CHECK_EQ(from, 2);
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 1);
	CHECK_EQ(lo, 7);
	CHECK_EQ(hi, 16);
	from = 9001;                    /* mid-range: the rest of it */
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 1);
	CHECK_EQ(lo, 9001);
	CHECK_EQ(hi, 9002);
	from = 65535;
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 1);
	CHECK_EQ(lo, 65535);
	CHECK_EQ(hi, 65535);
	CHECK_EQ(from, 65536);
	CHECK_EQ(ports_next_range(set, &from, &lo, &hi), 0);

	CHECK_EQ(config_parse_ports(set, "1-65535"), 0);
	CHECK(!strcmp(walk(set), "1-65535"));
	CHECK_EQ(config_parse_ports(set, "2,4,6"), 0);
	CHECK(!strcmp(walk(set), "2,4,6"));
	/* the default set: 443 alone */
	{
		struct config c;

		config_defaults(&c);
		CHECK(!strcmp(walk(c.engine.ports), "443"));
	}
}

void test_ports(void)
{
	bits();
	ranges();
}
