/* file-posix.c — file.h for POSIX systems: open(2) with O_EXCL|O_NOFOLLOW,
 * then rename(2), which replaces its target atomically; getrandom(2) or
 * /dev/urandom give random bytes; clock_gettime(2) the monotonic clock. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMP_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* PATH.tmp as a new file. One that exists (a crash's leftover, or a link
 * someone planted to make root write elsewhere) is unlinked, never opened. */
static int create_temp(const char *tmp, mode_t mode)
{
	int fd = open(tmp, TEMP_FLAGS, mode);

	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, TEMP_FLAGS, mode);
	return fd;
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -ENAMETOOLONG;
	}
	fd = create_temp(tmp, mode);
	if (fd < 0)
		return -errno;
	/* the mode whatever the umask */
	err = write_all(fd, data, len);
	if (!err && (fchmod(fd, mode) || fsync(fd)))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		errno = -err;
	}
	return err;
}

/* 0644: the counters are read by other users' tools */
int file_replace(const char *path, const void *data, size_t len)
{
	return replace(path, data, len, 0644);
}

int file_replace_private(const char *path, const void *data, size_t len)
{
	return replace(path, data, len, 0600);
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

uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
