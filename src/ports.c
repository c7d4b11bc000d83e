/* ports.c — the port bitmap: bit test, insertion, the walk over ranges. */
#include "ports.h"

int ports_has(const uint8_t ports[PORTS_BYTES], unsigned port)
{
	return port < 65536 && ports[port / 8] >> (port % 8) & 1;
}

void ports_add(uint8_t ports[PORTS_BYTES], unsigned port)
{
	if (port < 65536)
		ports[port / 8] |= (uint8_t)(1u << (port % 8));
}

int ports_next_range(const uint8_t ports[PORTS_BYTES], unsigned *from, unsigned *lo, unsigned *hi)
{
	unsigned p = *from;

	while (p < 65536 && !ports_has(ports, p))
		p++;
	if (p >= 65536) {
		*from = p;
		return 0;
	}
	*lo = p;
	while (p + 1 < 65536 && ports_has(ports, p + 1))
		p++;
	*hi = p;
	*from = p + 1;
	return 1;
}
