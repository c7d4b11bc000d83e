/* file-posix.c — file.h where rename(2) replaces its target atomically and
 * getrandom(2) or /dev/urandom give random bytes. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

int file_replace(const char *from, const char *to)
{
	return rename(from, to) ? -errno : 0;
}

/* getrandom(2); /dev/urandom where it is missing (ENOSYS: Linux before 3.17)
 * or would block (EAGAIN: the pool is not ready yet, early at boot). */
int random_seed(void *buf, size_t len)
{
	ssize_t n = getrandom(buf, len, GRND_NONBLOCK);
	int fd, rc = 0;

	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		errno = EIO;
	if (n >= 0 || (errno != ENOSYS && errno != EAGAIN && errno != EINTR))
		return -errno;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n != (ssize_t)len)
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}
