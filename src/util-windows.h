/* util-windows.h — small Windows helpers shared by the WinDivert adapter,
 * doctor and the service: where the exe is, error texts, elevation. */
#ifndef HELLOSPLIT_UTIL_WINDOWS_H
#define HELLOSPLIT_UTIL_WINDOWS_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* The directory of hellosplit.exe, with a trailing backslash. Returns 0 or -1. */
int windows_exe_dir(wchar_t *dir, size_t n);
/* The full path of hellosplit.exe. Returns 0 or -1. */
int windows_exe_path(wchar_t *path, size_t n);

/* Windows' own text for a Win32 error code, one line without the final
 * period ("The system cannot find the file specified"). Returns buf. */
const char *windows_error_text(unsigned long code, char *buf, size_t n);

/* 1 when this process runs elevated (as Administrator), 0 when not. */
int windows_is_elevated(void);

/* UTF-16 to UTF-8, always NUL-terminated (cut when out is too small). */
void windows_utf8(const wchar_t *w, char *out, size_t n);

#endif
