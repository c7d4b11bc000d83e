/* file-windows.c — file.h for Windows: CreateFile with CREATE_NEW (it fails
 * on any existing name, a link included), then MoveFileEx, which can replace
 * its target where msvcrt's rename() refuses to; rand_s gives random bytes;
 * QueryPerformanceCounter the monotonic clock. */
/* _CRT_RAND_S declares rand_s() (RtlGenRandom): the C runtime's name for it */
#define _CRT_RAND_S /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

static int errno_of(DWORD code)
{
	switch (code) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		return ENOENT;
	case ERROR_FILE_EXISTS:
	case ERROR_ALREADY_EXISTS:
		return EEXIST;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION:
		return EACCES;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL:
		return ENOSPC;
	case ERROR_FILENAME_EXCED_RANGE:
		return ENAMETOOLONG;
	default:
		return EIO;
	}
}

static HANDLE create_new(const char *name)
{
	return CreateFileA(name, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
}

/* A new temporary file beside path, its name in tmp: PATH.tmp, or when one
 * exists (a crash's leftover, or a file someone else put there) and cannot be
 * deleted, PATH.tmp-PID-N. Existing files are never opened: DeleteFile
 * removes a link itself, not what it points to. */
static HANDLE create_temp(const char *path, char *tmp, size_t n)
{
	HANDLE h;
	unsigned i;

	if (snprintf(tmp, n, "%s.tmp", path) >= (int)n) {
		SetLastError(ERROR_FILENAME_EXCED_RANGE);
		return INVALID_HANDLE_VALUE;
	}
	h = create_new(tmp);
	if (h != INVALID_HANDLE_VALUE || GetLastError() != ERROR_FILE_EXISTS)
		return h;
	if (DeleteFileA(tmp) && (h = create_new(tmp)) != INVALID_HANDLE_VALUE)
		return h;
	for (i = 0; i < 100; i++) {
		if (snprintf(tmp, n, "%s.tmp-%lu-%u", path, GetCurrentProcessId(), i) >= (int)n) {
			SetLastError(ERROR_FILENAME_EXCED_RANGE);
			return INVALID_HANDLE_VALUE;
		}
		h = create_new(tmp);
		if (h != INVALID_HANDLE_VALUE || GetLastError() != ERROR_FILE_EXISTS)
			return h;
	}
	return INVALID_HANDLE_VALUE;
}

int file_replace(const char *path, const void *data, size_t len)
{
	const char *p = data;
	char tmp[MAX_PATH * 3 + 32];
	HANDLE h;
	DWORD done, code = 0;

	h = create_temp(path, tmp, sizeof(tmp));
	if (h == INVALID_HANDLE_VALUE) {
		errno = errno_of(GetLastError());
		return -errno;
	}
	while (len > 0) {
		DWORD chunk = len > 0x40000000u ? 0x40000000u : (DWORD)len;

		if (!WriteFile(h, p, chunk, &done, NULL))
			code = GetLastError();
		else if (done == 0)
			code = ERROR_WRITE_FAULT;
		if (code)
			break;
		p += done;
		len -= done;
	}
	if (!code && !FlushFileBuffers(h))
		code = GetLastError();
	CloseHandle(h);
	if (!code && !MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
		code = GetLastError();
	if (!code)
		return 0;
	DeleteFileA(tmp);
	errno = errno_of(code);
	return -errno;      /* callers print strerror(errno), as after rename() */
}

/* The folder's ACL decides who reads it (service-windows.c sets it). */
int file_replace_private(const char *path, const void *data, size_t len)
{
	return file_replace(path, data, len);
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

uint64_t monotonic_us(void)
{
	static LARGE_INTEGER frequency;
	LARGE_INTEGER now;

	if (!frequency.QuadPart)
		QueryPerformanceFrequency(&frequency);
	QueryPerformanceCounter(&now);
	return (uint64_t)(now.QuadPart / frequency.QuadPart) * 1000000u +
	       (uint64_t)(now.QuadPart % frequency.QuadPart) * 1000000u / (uint64_t)frequency.QuadPart;
}
