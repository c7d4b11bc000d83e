/* daemon-windows.c — `hellosplit` run from a console on Windows: Ctrl+C,
 * closing the window, logoff and shutdown stop windivert_run, which releases
 * every held packet before the process ends. (The service's way in is
 * service-windows.c; both run windivert.c's loop.) */
#include <windows.h>

#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "interfaces.h"
#include "log.h"
#include "windivert.h"

/* Set once windivert_run has returned: the console handler waits for it. */
static HANDLE done_event;

static BOOL WINAPI console_handler(DWORD type)
{
	windivert_stop();
	/* After these the process ends when the handler returns: finish first. */
	if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
		WaitForSingleObject(done_event, 4500);
	return TRUE;
}

int daemon_run(const struct config *cfg)
{
	int rc;

	if (cfg->print_interfaces)
		return interfaces_print(stdout);
	if (!done_event)
		done_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!done_event || windivert_stop_init()) {
		log_error("cannot create an event (error %lu): Windows is out of resources; restart it.",
			  GetLastError());
		return 1;
	}
	SetConsoleCtrlHandler(console_handler, TRUE);
	rc = windivert_run(cfg, 0, NULL, NULL);
	fflush(NULL);
	SetEvent(done_event);
	return rc;
}
