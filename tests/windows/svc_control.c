/* svc_control.c — `svc_control NAME paramchange`: sends
 * SERVICE_CONTROL_PARAMCHANGE to a service, what `sc control NAME
 * paramchange` does on Windows (wine's sc has no `control`). Exit 0 when the
 * service accepted it, 1 with the Win32 error otherwise. */
#include <windows.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS status;
	DWORD code = 0;

	if (argc != 3 || strcmp(argv[2], "paramchange")) {
		fprintf(stderr, "usage: svc_control NAME paramchange\n");
		return 2;
	}
	scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
	svc = scm ? OpenServiceA(scm, argv[1], SERVICE_PAUSE_CONTINUE) : NULL;
	if (!svc || !ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &status))
		code = GetLastError();
	if (svc)
		CloseServiceHandle(svc);
	if (scm)
		CloseServiceHandle(scm);
	if (code) {
		fprintf(stderr, "svc_control: %s paramchange failed (error %lu)\n", argv[1], code);
		return 1;
	}
	return 0;
}
