/* divert.h — the packet I/O of the FreeBSD daemon: one small interface, so
 * the same loop (daemon-freebsd.c) runs on a real divert socket (divert.c:
 * FreeBSD, pfSense, OPNsense) and, in tests on Linux, on a socket whose far
 * end behaves like divert(4) (divert-sim.c, tests/divert/divert_standin.py).
 * The Makefile links one of the two. */
#ifndef HELLOSPLIT_DIVERT_H
#define HELLOSPLIT_DIVERT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The struct sockaddr_in divert(4) hands over with each packet (sin_addr: the
 * receiving interface's address for an inbound packet, INADDR_ANY for an
 * outbound one; sin_port: the rule cookie; sin_zero: the interface name),
 * kept as opaque bytes. It is the engine's meta: a packet, or a segment
 * carrying its bytes, goes back with exactly these bytes, so it continues
 * after the rule that diverted it, in the direction it came from. */
#define DIVERT_ADDR_MAX 16
struct divert_meta {
	uint32_t addr_len;
	uint8_t addr[DIVERT_ADDR_MAX];
};

/* Where packets come from and go back to: a divert socket or the stand-in. */
struct divert_io {
	int fd;   /* readable when a packet waits */
	/* Reads one packet: its length; -EAGAIN when none waits; -EPIPE when the
	 * far end is gone; another -errno on failure. */
	int (*recv)(struct divert_io *io, uint8_t *buf, size_t cap, struct divert_meta *meta);
	/* Sends one packet back into the kernel's path with meta's address: 0 or -errno. */
	int (*send)(struct divert_io *io, const uint8_t *pkt, size_t len, const struct divert_meta *meta);
};

/* Opens this build's I/O on --divert-port (the loop makes its fd
 * non-blocking): 0, or -errno with one line saying what failed and what to
 * do in err. */
int divert_io_open(struct divert_io *io, const struct config *cfg, char *err, size_t errlen);
/* Closes what divert_io_open opened (daemon-freebsd.c, for both). */
void divert_io_close(struct divert_io *io);

#endif
