/* file-posix.c — file.h where rename(2) replaces its target atomically. */
#include "file.h"

#include <errno.h>
#include <stdio.h>

int file_replace(const char *from, const char *to)
{
	return rename(from, to) ? -errno : 0;
}
