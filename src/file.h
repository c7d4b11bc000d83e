/* file.h — file operations whose behaviour differs between platforms. One of
 * file-posix.c or file-windows.c is linked, chosen by the Makefile. */
#ifndef HELLOSPLIT_FILE_H
#define HELLOSPLIT_FILE_H

#include <stddef.h>

/* Moves from over to, replacing an existing to in one step (POSIX rename;
 * on Windows rename() refuses an existing target). Returns 0 or -errno. */
int file_replace(const char *from, const char *to);

/* Fills buf with len bytes from the system's secure random source, without
 * waiting for it at boot. Returns 0 or -errno. */
int random_seed(void *buf, size_t len);

#endif
