/* file-windows.c — file.h for Windows: msvcrt's rename() fails when the
 * target exists, MoveFileEx can replace it; rand_s gives random bytes. */
/* _CRT_RAND_S declares rand_s() (RtlGenRandom): the C runtime's name for it */
#define _CRT_RAND_S /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include "file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

int file_replace(const char *from, const char *to)
{
	if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
		return 0;
	switch (GetLastError()) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		errno = ENOENT;
		break;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION:
		errno = EACCES;
		break;
	default:
		errno = EIO;
		break;
	}
	return -errno;        /* callers print strerror(errno), as after rename() */
}

int random_seed(void *buf, size_t len)
{
	unsigned char *out = buf;

	while (len) {
		unsigned int r;
		size_t n = len < sizeof(r) ? len : sizeof(r);
		errno_t e = rand_s(&r);

		if (e)
			return -e;
		memcpy(out, &r, n);
		out += n;
		len -= n;
	}
	return 0;
}
