/* doctor-windows.c — `hellosplit doctor` on Windows: elevation, the WinDivert
 * files, a test open of the driver, its version, the service. One line per
 * check, with a fix for each problem. */
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "doctor.h"
#include "windivert.h"
#include "util-windows.h"

static int file_present(const wchar_t *dir, const wchar_t *name, char *path, size_t n)
{
	wchar_t full[MAX_PATH + 32];

	_snwprintf(full, sizeof(full) / sizeof(full[0]), L"%ls%ls", dir, name);
	full[sizeof(full) / sizeof(full[0]) - 1] = 0;
	windows_utf8(full, path, n);
	return GetFileAttributesW(full) != INVALID_FILE_ATTRIBUTES;
}

static void check_files(struct doctor *d, const wchar_t *dir)
{
	char path[MAX_PATH * 3], line[MAX_PATH * 3 + 64];

	if (file_present(dir, L"WinDivert.dll", path, sizeof(path))) {
		snprintf(line, sizeof(line), "%s present", path);
		doctor_ok(line);
	} else {
		snprintf(line, sizeof(line), "%s is missing", path);
		doctor_problem(d, line, "copy WinDivert.dll from the x64 folder of the WinDivert 2.2 release next to hellosplit.exe");
	}
	if (file_present(dir, L"" WINDIVERT_SYS_NAME, path, sizeof(path))) {
		snprintf(line, sizeof(line), "%s present", path);
		doctor_ok(line);
	} else {
		snprintf(line, sizeof(line), "%s is missing", path);
		doctor_problem(d, line, "copy " WINDIVERT_SYS_NAME " from the x64 folder of the WinDivert 2.2 release next to "
				 "hellosplit.exe");
	}
}

/* Opens the driver with a filter that matches nothing, reads its version. */
static void check_driver(struct doctor *d)
{
	struct windivert_api api;
	char err[2048], line[256];
	uint64_t major = 0, minor = 0;
	HANDLE h;

	if (windivert_load(&api, err, sizeof(err))) {
		doctor_problem(d, "WinDivert.dll does not load", err);
		return;
	}
	doctor_ok("WinDivert.dll loads and has every WinDivert 2.2 function");
	h = api.WinDivertOpen("false", WINDIVERT_LAYER_NETWORK, 0, 0);
	if (h == INVALID_HANDLE_VALUE) {
		windivert_open_error(&api, GetLastError(), "false", NULL, err, sizeof(err));
		doctor_problem(d, "the WinDivert driver does not open", err);
		windivert_unload(&api);
		return;
	}
	if (api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MAJOR, &major) &&
	    api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MINOR, &minor) && major == 2) {
		snprintf(line, sizeof(line), "the WinDivert driver opens (version %llu.%llu)", (unsigned long long)major,
			 (unsigned long long)minor);
		doctor_ok(line);
	} else {
		snprintf(line, sizeof(line), "the WinDivert driver opens but reports version %llu.%llu",
			 (unsigned long long)major, (unsigned long long)minor);
		doctor_problem(d, line, "use the WinDivert 2.2 release; stop programs that load another WinDivert version");
	}
	api.WinDivertClose(h);
	windivert_unload(&api);
}

static void check_service(void)
{
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT), svc;
	SERVICE_STATUS status;

	if (!scm)
		return;
	svc = OpenServiceW(scm, L"hellosplit", SERVICE_QUERY_STATUS);
	if (!svc)
		doctor_note("the hellosplit service is not installed (hellosplit service install)");
	else if (QueryServiceStatus(svc, &status) && status.dwCurrentState == SERVICE_RUNNING)
		doctor_note("the hellosplit service is running: do not start a second hellosplit beside it");
	else
		doctor_note("the hellosplit service is installed, not running (hellosplit service start)");
	if (svc)
		CloseServiceHandle(svc);
	CloseServiceHandle(scm);
}

int doctor_main(int argc, char **argv)
{
	struct doctor d = {0};
	struct config cfg;
	wchar_t dir[MAX_PATH];
	int rc;

	if ((rc = config_load(&cfg, argc, argv)) >= 0)
		return rc;
	printf("hellosplit %s doctor\n", HELLOSPLIT_VERSION);
	if (windows_is_elevated())
		doctor_ok("running as Administrator");
	else
		doctor_problem(&d, "not running as Administrator: loading the WinDivert driver needs it",
			"open a Command Prompt with 'Run as administrator' and run hellosplit doctor there");
	if (windows_exe_dir(dir, MAX_PATH) == 0)
		check_files(&d, dir);
	if (windows_is_elevated())
		check_driver(&d);
	check_service();
	if (d.problems)
		printf("\n%d problem(s) found.\n", d.problems);
	else
		printf("\nAll good: run hellosplit in this Administrator prompt, or: hellosplit service install\n");
	return d.problems ? 1 : 0;
}
