/* util-windows.c — see util-windows.h. */
#include "util-windows.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int windows_exe_path(wchar_t *path, size_t n)
{
	DWORD len = GetModuleFileNameW(NULL, path, (DWORD)n);

	return len == 0 || len >= n ? -1 : 0;
}

int windows_exe_dir(wchar_t *dir, size_t n)
{
	wchar_t *slash;

	if (windows_exe_path(dir, n))
		return -1;
	slash = wcsrchr(dir, L'\\');
	if (!slash)
		return -1;
	slash[1] = 0;
	return 0;
}

const char *windows_error_text(unsigned long code, char *buf, size_t n)
{
	DWORD len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code,
				   MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), buf, (DWORD)n, NULL);

	if (len == 0)
		len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, buf,
				     (DWORD)n, NULL);
	if (len == 0 || len >= n) {
		snprintf(buf, n, "no description");
		return buf;
	}
	/* one line: the texts end in ".\r\n" and some span lines */
	for (char *p = buf; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '.'))
		buf[--len] = 0;
	return buf;
}

int windows_is_elevated(void)
{
	HANDLE token;
	TOKEN_ELEVATION elevation;
	DWORD got = 0;
	int elevated = 0;

#ifdef HELLOSPLIT_TEST_HOOKS
	/* Test builds only (build/windows-test): wine always runs elevated. */
	if (getenv("HELLOSPLIT_TEST_NOT_ELEVATED"))
		return 0;
#endif
	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
		return 0;
	if (GetTokenInformation(token, TokenElevation, &elevation, sizeof(elevation), &got))
		elevated = elevation.TokenIsElevated != 0;
	CloseHandle(token);
	return elevated;
}

void windows_utf8(const wchar_t *w, char *out, size_t n)
{
	if (!n)
		return;
	if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)n, NULL, NULL))
		out[0] = 0;
	out[n - 1] = 0;
}
