/* file.h — file operations, random bytes and the clock: what differs between
 * platforms under the engine. One of file-posix.c or file-windows.c is
 * linked, chosen by the Makefile. */
#ifndef HELLOSPLIT_FILE_H
#define HELLOSPLIT_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Replaces path with a file holding len bytes of data, in one step: they go
 * into a new PATH.tmp (created afresh, never through a link: one left there
 * is removed first; on Windows, when it cannot be, a new PATH.tmp-PID-N),
 * mode 0644 on POSIX, which is then renamed over path. Returns 0 or -errno,
 * and sets errno. */
int file_replace(const char *path, const void *data, size_t len);
/* The same, readable by its owner only (mode 0600 on POSIX). */
int file_replace_private(const char *path, const void *data, size_t len);

/* Fills buf with len bytes from the system's secure random source, without
 * waiting for it at boot. Returns 0 or -errno. */
int random_seed(void *buf, size_t len);

/* Microseconds of a monotonic clock (CLOCK_MONOTONIC; on Windows
 * QueryPerformanceCounter): for intervals and deadlines, never a date. */
uint64_t monotonic_us(void);

/* The same clock in milliseconds: the engine's and the daemons' time. */
static inline uint64_t monotonic_ms(void)
{
	return monotonic_us() / 1000u;
}

#endif
