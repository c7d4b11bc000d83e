/* windivert.h — the Windows adapter: WinDivert 2.2 loaded at run time, the
 * filter built from the flags, the receive/send loop. Used by daemon_run,
 * `hellosplit doctor` and the Windows service. */
#ifndef HELLOSPLIT_WINDIVERT_H
#define HELLOSPLIT_WINDIVERT_H

#include <windows.h>

#include "config.h"
#include "windivert-filter.h"
#include "windivert_api.h"

#define WINDIVERT_SYS_NAME "WinDivert64.sys"

/* WinDivert.dll's entry points, resolved with GetProcAddress. */
struct windivert_api {
	HMODULE dll;
#define WINDIVERT_API_FIELD(name, type) type name;
	WINDIVERT_API_FUNCTIONS(WINDIVERT_API_FIELD)
#undef WINDIVERT_API_FIELD
	wchar_t dir[MAX_PATH];      /* hellosplit.exe's directory, where both files must be */
};

/* Loads WinDivert.dll from hellosplit.exe's directory only (never from the
 * current directory or PATH). Returns 0, or -1 with what to do in err. */
int windivert_load(struct windivert_api *api, char *err, size_t errlen);
void windivert_unload(struct windivert_api *api);

/* One line for a failed WinDivertOpen: the error, Windows' text for it, and
 * what to do. extra: the --filter-extra given, or NULL. */
void windivert_open_error(const struct windivert_api *api, unsigned long code, const char *filter,
			  const char *extra, char *out, size_t n);

/* Creates the stop and reload events; call once before windivert_run, windivert_stop or windivert_reload. */
int windivert_stop_init(void);
/* Asks a running windivert_run to stop (any thread: console handler, service). */
void windivert_stop(void);
/* Asks a running windivert_run to read the host lists again (the service's
 * SERVICE_CONTROL_PARAMCHANGE: sc control hellosplit paramchange). */
void windivert_reload(void);

/* Opens WinDivert with the flags' filter and runs until windivert_stop():
 * then stops receiving, releases every held packet, prints the counters and
 * closes. open_retry_s: how long to wait for the Base Filtering Engine when
 * it is not up yet (error 1753; a service may start before it at boot).
 * ready(ctx) is called once the handle is open (may be NULL).
 * Returns the exit code: 0, or 1 with the reason printed. */
int windivert_run(const struct config *cfg, unsigned open_retry_s, void (*ready)(void *ctx), void *ctx);

#endif
