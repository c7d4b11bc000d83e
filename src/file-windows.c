/* file-windows.c — file.h for Windows: msvcrt's rename() fails when the
 * target exists, MoveFileEx can replace it. */
#include "file.h"

#include <errno.h>
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
