/* ports.h — a set of TCP ports (1..65535) as a bitmap, the form the engine
 * config keeps them in: the bit test and the walk over its ranges, for the
 * engine, the rule builders and the WinDivert filter. Portable, no I/O. */
#ifndef HELLOSPLIT_PORTS_H
#define HELLOSPLIT_PORTS_H

#include <stdint.h>

#define PORTS_BYTES (65536 / 8)

/* 1 when port is in the set. */
int ports_has(const uint8_t ports[PORTS_BYTES], unsigned port);
/* Adds port (0..65535) to the set. */
void ports_add(uint8_t ports[PORTS_BYTES], unsigned port);
/* The next range of consecutive ports in the set at or after *from (start
 * with 1): sets *lo and *hi (inclusive), moves *from past it and returns 1;
 * returns 0 when no port at or after *from is in the set. */
int ports_next_range(const uint8_t ports[PORTS_BYTES], unsigned *from, unsigned *lo, unsigned *hi);

#endif
