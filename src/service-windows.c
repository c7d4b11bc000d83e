/* service-windows.c — `hellosplit service install|uninstall|start|stop`:
 * hellosplit as a Windows service. install writes the options into a
 * --config file and registers a service whose command line is
 * `hellosplit.exe service run --config FILE`; under the service manager that
 * runs the same WinDivert loop as the console, logging to a file beside the
 * config, and a stop request releases every held packet before it ends. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "file.h"
#include "log.h"
#include "service.h"
#include "windivert.h"
#include "util-windows.h"

#define SERVICE_NAME L"hellosplit"
#define SERVICE_DISPLAY L"hellosplit (TLS ClientHello splitter)"
#define SERVICE_DESCRIPTION                                                                              \
	L"Splits the first TLS ClientHello of each outbound HTTPS connection into several TCP segments "  \
	L"(WinDivert). Options: %ProgramData%\\hellosplit\\hellosplit.conf"
#define LOG_ROTATE_BYTES (4 * 1024 * 1024)
#define WAIT_STATE_MS 15000
#define EXIT_FOLDER_UNSAFE 3    /* service exit code: folder_check refused the options folder */
#define BFE_WAIT_S 30           /* at boot the service may start before the Base Filtering Engine */

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static char service_config[MAX_PATH * 3];

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: hellosplit service install [OPTIONS]   register the service (starts with Windows) with\n"
		"                                              these options, written to\n"
		"                                              %%ProgramData%%\\hellosplit\\hellosplit.conf\n"
		"       hellosplit service start | stop        start or stop it now\n"
		"       hellosplit service uninstall           stop and remove it (keeps the config and the log)\n"
		"Run them in an Administrator prompt. The service logs to %%ProgramData%%\\hellosplit\\hellosplit.log.\n");
}

static const char *error_text(DWORD code)
{
	static char text[256];

	return windows_error_text(code, text, sizeof(text));
}

/* %ProgramData%\hellosplit\NAME (narrow, for fopen and config_parse). */
static int data_path(const char *name, char *out, size_t n)
{
	char base[MAX_PATH];
	DWORD len = GetEnvironmentVariableA("ProgramData", base, sizeof(base));

	if (len == 0 || len >= sizeof(base))
		snprintf(base, sizeof(base), "C:\\ProgramData");
	return snprintf(out, n, "%s\\hellosplit%s%s", base, *name ? "\\" : "", name) >= (int)n ? -1 : 0;
}

/* ---- the data folder: only SYSTEM and Administrators may change it
 *
 * The LocalSystem service takes its options from this folder and writes its
 * log and --stats-json there. %ProgramData% lets every user create folders
 * (and files in the folders created that way), so one an ordinary user made
 * first, or whose access list lets others write, would let them run the
 * service with their options. */

/* SYSTEM and Administrators: full control; Users: read; owner Administrators;
 * inherited by all in it, nothing inherited from %ProgramData%. */
#define DATA_DIR_SDDL L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FRFX;;;BU)"
#define DATA_DIR_ACL_TEXT "SYSTEM and Administrators: full control, Users: read"
/* Rights that change what is in the folder, or who may. */
#define WRITE_RIGHTS                                                                                        \
	(FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | FILE_DELETE_CHILD | DELETE | \
	 WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL)
#define TRUSTED_INSTALLER_SID L"S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

enum folder_state { FOLDER_SAFE, FOLDER_WIDE, FOLDER_FOREIGN, FOLDER_ERROR };

static int sid_is(PSID sid, WELL_KNOWN_SID_TYPE type)
{
	union {
		SID sid;
		BYTE bytes[SECURITY_MAX_SID_SIZE];
	} known;
	DWORD n = sizeof(known);

	return CreateWellKnownSid(type, NULL, &known.sid, &n) && EqualSid(sid, &known.sid);
}

/* This process's user: the Administrator running install, or SYSTEM. */
static int sid_is_self(PSID sid)
{
	union {
		TOKEN_USER user;
		BYTE bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
	} info;
	HANDLE token;
	DWORD n;
	int same = 0;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
		return 0;
	if (GetTokenInformation(token, TokenUser, &info, sizeof(info), &n))
		same = EqualSid(sid, info.user.User.Sid) != 0;
	CloseHandle(token);
	return same;
}

/* SYSTEM, Administrators, TrustedInstaller or this process's user. */
static int sid_is_trusted(PSID sid)
{
	PSID installer;
	int same = 0;

	if (sid_is(sid, WinLocalSystemSid) || sid_is(sid, WinBuiltinAdministratorsSid) || sid_is_self(sid))
		return 1;
	if (ConvertStringSidToSidW(TRUSTED_INSTALLER_SID, &installer)) {
		same = EqualSid(sid, installer) != 0;
		LocalFree(installer);
	}
	return same;
}

/* "BUILTIN\Users (S-1-5-32-545)" for messages. */
static void sid_text(PSID sid, char *out, size_t n)
{
	wchar_t name[128], domain[128], *string = NULL;
	DWORD name_len = 128, domain_len = 128;
	SID_NAME_USE use;
	char who[600] = "", id[200] = "";

	if (LookupAccountSidW(NULL, sid, name, &name_len, domain, &domain_len, &use)) {
		char name8[256], domain8[256];

		windows_utf8(name, name8, sizeof(name8));
		windows_utf8(domain, domain8, sizeof(domain8));
		snprintf(who, sizeof(who), "%s%s%s ", domain8, *domain8 ? "\\" : "", name8);
	}
	if (ConvertSidToStringSidW(sid, &string)) {
		windows_utf8(string, id, sizeof(id));
		LocalFree(string);
	}
	snprintf(out, n, "%s(%s)", who, id);
}

/* Whether dir may hold the service's options: why says what is wrong. */
static enum folder_state folder_check(const wchar_t *dir, char *why, size_t n)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	enum folder_state state = FOLDER_SAFE;
	DWORD attributes = GetFileAttributesW(dir), err, i;
	PSID owner = NULL;
	PACL dacl = NULL;
	char who[700];

	if (attributes == INVALID_FILE_ATTRIBUTES) {
		snprintf(why, n, "cannot read its attributes (error %lu: %s)", GetLastError(), error_text(GetLastError()));
		return FOLDER_ERROR;
	}
	if (!(attributes & FILE_ATTRIBUTE_DIRECTORY) || (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
		snprintf(why, n, "it is %s", attributes & FILE_ATTRIBUTE_DIRECTORY ? "a link to another folder" : "a file");
		return FOLDER_FOREIGN;
	}
	err = GetNamedSecurityInfoW(dir, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
				    NULL, &dacl, NULL, &sd);
	if (err != ERROR_SUCCESS) {
		snprintf(why, n, "cannot read its permissions (error %lu: %s)", err, error_text(err));
		return FOLDER_ERROR;
	}
	if (!sid_is_trusted(owner)) {
		sid_text(owner, who, sizeof(who));
		snprintf(why, n, "it belongs to %s, not to SYSTEM or the Administrators", who);
		state = FOLDER_FOREIGN;
	} else if (!dacl) {
		snprintf(why, n, "it has no access list: everyone may change it");
		state = FOLDER_WIDE;
	}
	for (i = 0; state == FOLDER_SAFE && dacl && i < dacl->AceCount; i++) {
		ACE_HEADER *ace;
		ACCESS_ALLOWED_ACE *allowed;

		if (!GetAce(dacl, i, (void **)&ace) || ace->AceType == ACCESS_DENIED_ACE_TYPE ||
		    ace->AceType == ACCESS_DENIED_OBJECT_ACE_TYPE || ace->AceType == ACCESS_DENIED_CALLBACK_ACE_TYPE ||
		    ace->AceType == ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE)
			continue;          /* denials only take rights away */
		if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE) {
			snprintf(why, n, "it has an access rule of type %u, which hellosplit does not check",
				 (unsigned)ace->AceType);
			state = FOLDER_WIDE;
			break;
		}
		allowed = (ACCESS_ALLOWED_ACE *)ace;
		/* CREATOR OWNER: whoever creates a file in it, which only the trusted can */
		if (!(allowed->Mask & WRITE_RIGHTS) || sid_is_trusted(&allowed->SidStart) ||
		    sid_is(&allowed->SidStart, WinCreatorOwnerSid))
			continue;
		sid_text(&allowed->SidStart, who, sizeof(who));
		snprintf(why, n, "it lets %s write in it (rights 0x%lx)", who, (unsigned long)allowed->Mask);
		state = FOLDER_WIDE;
	}
	LocalFree(sd);
	return state;
}

/* Gives dir the owner and access list of DATA_DIR_SDDL. Returns 0 or 1. */
static int folder_repair(const wchar_t *dir, const char *dir8)
{
	PSECURITY_DESCRIPTOR sd;
	PSID owner = NULL;
	PACL dacl = NULL;
	BOOL present, defaulted;
	DWORD err;

	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(DATA_DIR_SDDL, SDDL_REVISION_1, &sd, NULL)) {
		log_error("cannot build the access list for '%s' (error %lu: %s).", dir8, GetLastError(),
			  error_text(GetLastError()));
		return 1;
	}
	GetSecurityDescriptorOwner(sd, &owner, &defaulted);
	GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
	err = SetNamedSecurityInfoW((wchar_t *)dir, SE_FILE_OBJECT,
				    OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
					    PROTECTED_DACL_SECURITY_INFORMATION,
				    owner, NULL, dacl, NULL);
	LocalFree(sd);
	if (err != ERROR_SUCCESS) {
		log_error("cannot set the permissions of '%s' (error %lu: %s). Set them by hand (%s), or delete the "
			  "folder, then run 'hellosplit service install' again.",
			  dir8, err, error_text(err), DATA_DIR_ACL_TEXT);
		return 1;
	}
	return 0;
}

/* The data folder, created with DATA_DIR_SDDL; an existing one is checked:
 * one that lets others write is repaired, one that belongs to someone else
 * (or is a link) refused. Returns 0 or 1. */
static int folder_prepare(const char *dir8)
{
	SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, FALSE};
	wchar_t dir[MAX_PATH];
	char why[900];
	enum folder_state state;

	if (!MultiByteToWideChar(CP_ACP, 0, dir8, -1, dir, MAX_PATH)) {
		log_error("the path '%s' is too long.", dir8);
		return 1;
	}
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(DATA_DIR_SDDL, SDDL_REVISION_1,
								  &sa.lpSecurityDescriptor, NULL)) {
		log_error("cannot build the access list for '%s' (error %lu: %s).", dir8, GetLastError(),
			  error_text(GetLastError()));
		return 1;
	}
	if (CreateDirectoryW(dir, &sa)) {
		LocalFree(sa.lpSecurityDescriptor);
		return 0;
	}
	LocalFree(sa.lpSecurityDescriptor);
	if (GetLastError() != ERROR_ALREADY_EXISTS) {
		log_error("cannot create '%s' (error %lu: %s).", dir8, GetLastError(), error_text(GetLastError()));
		return 1;
	}
	state = folder_check(dir, why, sizeof(why));
	if (state == FOLDER_WIDE) {
		if (folder_repair(dir, dir8))
			return 1;
		printf("hellosplit: '%s' was not safe for the service (%s); its permissions are now: %s.\n", dir8, why,
		       DATA_DIR_ACL_TEXT);
		state = folder_check(dir, why, sizeof(why));
	}
	if (state == FOLDER_SAFE)
		return 0;
	if (state == FOLDER_FOREIGN) {
		DWORD attributes = GetFileAttributesW(dir);
		/* rmdir without /s removes a link, never what it points to */
		const char *remove = !(attributes & FILE_ATTRIBUTE_DIRECTORY)       ? "del"
				     : attributes & FILE_ATTRIBUTE_REPARSE_POINT ? "rmdir"
										 : "rmdir /s";

		log_error("'%s' is not safe for the service, which runs as SYSTEM: %s. Someone may have made it to give "
			  "the service their options. Look at what is in it, delete it (%s \"%s\" in an Administrator "
			  "prompt), then run 'hellosplit service install' again.",
			  dir8, why, remove, dir8);
	} else {
		log_error("'%s': %s. Check the folder, then run 'hellosplit service install' again.", dir8, why);
	}
	return 1;
}

/* For the service: the folder of its options file is safe (checked before
 * anything is read or written there). */
static int config_folder_safe(void)
{
	char dir8[MAX_PATH * 3], why[900], *slash;
	wchar_t dir[MAX_PATH];

	snprintf(dir8, sizeof(dir8), "%s", service_config);
	slash = strrchr(dir8, '\\');
	if (slash)
		*slash = 0;
	return MultiByteToWideChar(CP_ACP, 0, dir8, -1, dir, MAX_PATH) &&
	       folder_check(dir, why, sizeof(why)) == FOLDER_SAFE;
}

/* ---- install: the options as a --config file */

/* Appends printf-style text to the config being built; 0, or -1 when it no
 * longer fits. */
static int append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/* Writes one "name value" line per option of argv (already validated by
 * check_options), CRLF-ended for Notepad. Returns 0 or 1. */
static int write_config(const char *path, int argc, char **argv)
{
	char text[16384], full[MAX_PATH * 3];
	size_t used = 0;
	int i, err = 0;

	err |= append(text, sizeof(text), &used,
		      "# hellosplit service options, one a line (see hellosplit --help).\r\n"
		      "# Written by 'hellosplit service install'. After a change:\r\n"
		      "#   hellosplit service stop && hellosplit service start\r\n");
	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *metavar, *eq;
		char name[64];
		size_t len;
		int takes;

		if (arg[0] == '-' && arg[1] == 'v') {          /* -v, -vv */
			for (len = 1; arg[len] == 'v'; len++)
				err |= append(text, sizeof(text), &used, "verbose\r\n");
			continue;
		}
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), arg + 2);
		takes = config_option_info(name, &metavar);
		if (takes == 1)
			value = eq ? eq + 1 : argv[++i];
		/* The service runs in System32: relative file names would point there. */
		if (value && metavar && !strcmp(metavar, "FILE") && GetFullPathNameA(value, sizeof(full), full, NULL))
			value = full;
		err |= append(text, sizeof(text), &used, "%s%s%s\r\n", name, value ? " " : "", value ? value : "");
	}
	if (err) {
		log_error("service install: the options make more than %u bytes of config file; give fewer or shorter ones.",
			  (unsigned)sizeof(text) - 1);
		return 2;
	}
	if ((err = file_replace(path, text, used)) != 0) {
		log_error("cannot write '%s': %s.", path, strerror(-err));
		return 1;
	}
	return 0;
}

/* The options must make a valid daemon configuration; some make no sense for
 * a service. Returns 0 or 2. */
static int check_options(int argc, char **argv)
{
	static const char *const refused[] = {"--config", "--pcap-in", "--pcap-out", "--print-interfaces", "--help",
					      "--version", "-h", "-V"};
	struct config cfg;
	char **args = calloc((size_t)argc + 2, sizeof(char *)), filter[4096], err[512];
	int i, rc = 0;
	size_t r;

	if (!args)
		return 1;
	for (i = 0; i < argc; i++)
		if (strpbrk(argv[i], "#\r\n")) {     /* '#' starts a comment in the config file */
			log_error("service install: '%s': a value with '#' or a line break cannot go into the config file.",
				  argv[i]);
			free(args);
			return 2;
		}
	for (i = 0; i < argc; i++)
		for (r = 0; r < sizeof(refused) / sizeof(refused[0]); r++)
			if (!strncmp(argv[i], refused[r], strlen(refused[r])) &&
			    (argv[i][strlen(refused[r])] == 0 || argv[i][strlen(refused[r])] == '=')) {
				log_error("service install: %s is not a service option. Give the daemon's options "
					  "(e.g. --split-at 5,midsld); install writes them into the config file.",
					  refused[r]);
				free(args);
				return 2;
			}
	args[0] = "hellosplit";
	memcpy(args + 1, argv, (size_t)argc * sizeof(char *));
	config_defaults(&cfg);
	if (config_parse(&cfg, argc + 1, args, stdout, stderr) != CONFIG_RUN)
		rc = 2;
	else if (windivert_filter(&cfg, filter, sizeof(filter), err, sizeof(err))) {
		log_error("%s.", err);
		rc = 2;
	}
	free(args);
	return rc;
}

static int need_admin(const char *what)
{
	if (windows_is_elevated())
		return 0;
	log_error("'hellosplit service %s' needs Administrator rights: open a Command Prompt with "
		  "'Run as administrator' and run it there.",
		  what);
	return 1;
}

static SC_HANDLE open_manager(DWORD access)
{
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, access);

	if (!scm)
		log_error("cannot open the service manager (error %lu: %s).", GetLastError(), error_text(GetLastError()));
	return scm;
}

static int install(int argc, char **argv)
{
	wchar_t exe[MAX_PATH], command[MAX_PATH * 2 + 64], wconfig[MAX_PATH];
	SERVICE_DESCRIPTIONW description = {(wchar_t *)SERVICE_DESCRIPTION};
	char dir[MAX_PATH * 3], config[MAX_PATH * 3], log[MAX_PATH * 3], exe8[MAX_PATH * 3];
	SC_HANDLE scm, svc;
	int rc, updated = 0;

	if ((rc = check_options(argc, argv)) != 0)
		return rc;
	if (need_admin("install"))
		return 1;
	if (windows_exe_path(exe, MAX_PATH) || data_path("", dir, sizeof(dir)) ||
	    data_path("hellosplit.conf", config, sizeof(config)) || data_path("hellosplit.log", log, sizeof(log))) {
		log_error("the path of hellosplit.exe or of %%ProgramData%% is too long.");
		return 1;
	}
	if (folder_prepare(dir))
		return 1;
	if ((rc = write_config(config, argc, argv)) != 0)
		return rc;
	MultiByteToWideChar(CP_ACP, 0, config, -1, wconfig, MAX_PATH);
	_snwprintf(command, sizeof(command) / sizeof(command[0]), L"\"%ls\" service run --config \"%ls\"", exe, wconfig);
	command[sizeof(command) / sizeof(command[0]) - 1] = 0;
	scm = open_manager(SC_MANAGER_CREATE_SERVICE | SC_MANAGER_CONNECT);
	if (!scm)
		return 1;
	svc = CreateServiceW(scm, SERVICE_NAME, SERVICE_DISPLAY, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
			     SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command, NULL, NULL, NULL, NULL, NULL);
	if (!svc && GetLastError() == ERROR_SERVICE_EXISTS) {
		svc = OpenServiceW(scm, SERVICE_NAME, SERVICE_ALL_ACCESS);
		if (svc && !ChangeServiceConfigW(svc, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
						 command, NULL, NULL, NULL, NULL, NULL, SERVICE_DISPLAY)) {
			CloseServiceHandle(svc);
			svc = NULL;
		}
		updated = 1;
	}
	if (!svc) {
		log_error("cannot register the service (error %lu: %s).", GetLastError(), error_text(GetLastError()));
		CloseServiceHandle(scm);
		return 1;
	}
	ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &description);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	windows_utf8(exe, exe8, sizeof(exe8));
	printf("hellosplit: service %s: it runs %s at every Windows start (keep the file there).\n"
	       "  options: %s\n  log:     %s\n%s",
	       updated ? "updated" : "installed", exe8, config, log,
	       updated ? "Restart it for the new options: hellosplit service stop, then hellosplit service start\n"
		       : "Start it now: hellosplit service start\n");
	return 0;
}

/* ---- start, stop, uninstall */

static SC_HANDLE open_service(SC_HANDLE *scm, DWORD access, int *missing)
{
	SC_HANDLE svc;

	*missing = 0;
	*scm = open_manager(SC_MANAGER_CONNECT);
	if (!*scm)
		return NULL;
	svc = OpenServiceW(*scm, SERVICE_NAME, access);
	if (!svc) {
		*missing = GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST;
		if (!*missing)
			log_error("cannot open the hellosplit service (error %lu: %s).", GetLastError(),
				  error_text(GetLastError()));
		CloseServiceHandle(*scm);
	}
	return svc;
}

/* Waits until the service leaves pending states; returns the last state. */
static DWORD wait_state(SC_HANDLE svc, DWORD pending, SERVICE_STATUS *s)
{
	DWORD waited;

	for (waited = 0; waited < WAIT_STATE_MS; waited += 100) {
		if (!QueryServiceStatus(svc, s))
			return 0;
		if (s->dwCurrentState != pending)
			break;
		Sleep(100);
	}
	return s->dwCurrentState;
}

/* The last lines of the service log, to show why it stopped. */
static void print_log_tail(const char *path)
{
	char buf[2048];
	FILE *f = fopen(path, "rb");
	long size, n;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET);
	n = (long)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = 0;
	fprintf(stderr, "--- end of %s ---\n%s", path, buf);
}

/* What folder_check finds wrong with the data folder, for start's message. */
static void folder_why(char *why, size_t n)
{
	char dir8[MAX_PATH * 3];
	wchar_t dir[MAX_PATH];

	snprintf(why, n, "unknown");
	if (!data_path("", dir8, sizeof(dir8)) && MultiByteToWideChar(CP_ACP, 0, dir8, -1, dir, MAX_PATH))
		folder_check(dir, why, n);
}

static int start(void)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS s;
	char log[MAX_PATH * 3], why[300] = "";
	int missing;

	if (need_admin("start"))
		return 1;
	data_path("hellosplit.log", log, sizeof(log));
	svc = open_service(&scm, SERVICE_START | SERVICE_QUERY_STATUS, &missing);
	if (!svc) {
		if (missing)
			log_error("the hellosplit service is not installed: hellosplit service install [OPTIONS].");
		return 1;
	}
	if (!StartServiceW(svc, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
		snprintf(why, sizeof(why), "error %lu: %s; ", GetLastError(), error_text(GetLastError()));
	memset(&s, 0, sizeof(s));
	wait_state(svc, SERVICE_START_PENDING, &s);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (s.dwCurrentState == SERVICE_RUNNING) {
		printf("hellosplit: the service is running. Its log: %s\n", log);
		return 0;
	}
	if (s.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR && s.dwServiceSpecificExitCode == EXIT_FOLDER_UNSAFE) {
		char reason[900];

		folder_why(reason, sizeof(reason));
		log_error("the hellosplit service refused to start: the folder of its options, %%ProgramData%%\\hellosplit, "
			  "is not safe for a service that runs as SYSTEM (%s). Run 'hellosplit service install' again: it "
			  "repairs the permissions, or says what to do.",
			  reason);
		return 1;
	}
	/* A service that stops at once may make StartService itself fail. */
	log_error("the hellosplit service did not start (%sstate %lu, exit code %lu). Its log: %s", why,
		  s.dwCurrentState,
		  s.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR ? s.dwServiceSpecificExitCode : s.dwWin32ExitCode, log);
	print_log_tail(log);
	return 1;
}

/* Returns 0 when the service is stopped (or was not running) and its
 * process has ended: until then hellosplit.exe and WinDivert.dll are in use. */
static int stop_service(SC_HANDLE svc)
{
	SERVICE_STATUS_PROCESS sp;
	SERVICE_STATUS s;
	HANDLE process = NULL;
	DWORD got;

	if (QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&sp, sizeof(sp), &got) && sp.dwProcessId)
		process = OpenProcess(SYNCHRONIZE, FALSE, sp.dwProcessId);
	if (!ControlService(svc, SERVICE_CONTROL_STOP, &s)) {
		if (process)
			CloseHandle(process);
		if (GetLastError() == ERROR_SERVICE_NOT_ACTIVE)
			return 0;
		log_error("cannot stop the hellosplit service (error %lu: %s).", GetLastError(), error_text(GetLastError()));
		return 1;
	}
	if (wait_state(svc, SERVICE_STOP_PENDING, &s) != SERVICE_STOPPED) {
		log_error("the hellosplit service did not stop within %u s.", WAIT_STATE_MS / 1000);
		if (process)
			CloseHandle(process);
		return 1;
	}
	if (process) {
		WaitForSingleObject(process, WAIT_STATE_MS);
		CloseHandle(process);
	}
	return 0;
}

static int stop(void)
{
	SC_HANDLE scm, svc;
	int missing, rc;

	if (need_admin("stop"))
		return 1;
	svc = open_service(&scm, SERVICE_STOP | SERVICE_QUERY_STATUS, &missing);
	if (!svc) {
		if (missing)
			log_error("the hellosplit service is not installed.");
		return 1;
	}
	rc = stop_service(svc);
	if (rc == 0)
		printf("hellosplit: the service is stopped.\n");
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return rc;
}

static int uninstall(void)
{
	SC_HANDLE scm, svc;
	char dir[MAX_PATH * 3];
	int missing, rc = 0;

	if (need_admin("uninstall"))
		return 1;
	data_path("", dir, sizeof(dir));
	svc = open_service(&scm, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &missing);
	if (!svc) {
		if (missing)
			printf("hellosplit: the service is not installed; nothing to remove.\n");
		return missing ? 0 : 1;
	}
	if (stop_service(svc))
		rc = 1;
	else if (!DeleteService(svc)) {
		log_error("cannot remove the hellosplit service (error %lu: %s).", GetLastError(), error_text(GetLastError()));
		rc = 1;
	} else {
		printf("hellosplit: service removed. Kept its options and log in %s (delete them if you wish).\n", dir);
	}
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return rc;
}

/* ---- run: under the service manager */

static void report(DWORD state, DWORD exit_code, DWORD wait_hint)
{
	status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	status.dwCurrentState = state;
	status.dwControlsAccepted =
		state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE : 0;
	status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
	status.dwServiceSpecificExitCode = exit_code;
	status.dwWaitHint = wait_hint;
	if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)
		status.dwCheckPoint++;
	else
		status.dwCheckPoint = 0;
	SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, void *data, void *ctx)
{
	(void)type;
	(void)data;
	(void)ctx;
	switch (control) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		report(SERVICE_STOP_PENDING, 0, 5000);
		windivert_stop();              /* the loop releases the held packets, then ends */
		return NO_ERROR;
	case SERVICE_CONTROL_PARAMCHANGE:   /* sc control hellosplit paramchange */
		windivert_reload();            /* the host lists are read again; flows in progress are kept */
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	default:
		return ERROR_CALL_NOT_IMPLEMENTED;
	}
}

static void running(void *ctx)
{
	(void)ctx;
	report(SERVICE_RUNNING, 0, 0);
}

/* The log beside the config (a big one is moved aside first). A service has
 * no stderr: everything goes through log_file. */
static FILE *open_log(void)
{
	char path[MAX_PATH * 3 + 8], old[MAX_PATH * 3 + 8], *slash;
	WIN32_FILE_ATTRIBUTE_DATA info;
	FILE *f;

	snprintf(path, sizeof(path), "%s", service_config);
	slash = strrchr(path, '\\');
	snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0), "hellosplit.log");
	if (GetFileAttributesExA(path, GetFileExInfoStandard, &info) &&
	    (info.nFileSizeHigh || info.nFileSizeLow > LOG_ROTATE_BYTES)) {
		snprintf(old, sizeof(old), "%s.old", path);
		MoveFileExA(path, old, MOVEFILE_REPLACE_EXISTING);
	}
	f = fopen(path, "a");
	if (f)
		setvbuf(f, NULL, _IONBF, 0);
	return f;
}

static void log_stamp(const char *what, int rc)
{
	char stamp[64];
	time_t now = time(NULL);

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (rc < 0)
		fprintf(log_stream(), "hellosplit: service %s at %s (hellosplit %s, options from %s)\n", what, stamp,
			HELLOSPLIT_VERSION, service_config);
	else
		fprintf(log_stream(), "hellosplit: service %s at %s (exit code %d)\n", what, stamp, rc);
}

static void WINAPI service_entry(DWORD argc, wchar_t **argv)
{
	char *args[] = {"hellosplit", "--config", service_config, NULL};
	struct config cfg;
	int rc;

	(void)argc;
	(void)argv;
	status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control_handler, NULL);
	if (!status_handle)
		return;
	report(SERVICE_START_PENDING, 0, (BFE_WAIT_S + 5) * 1000);
	if (!config_folder_safe()) {          /* not even the log: it could be a link planted there */
		report(SERVICE_STOPPED, EXIT_FOLDER_UNSAFE, 0);
		return;
	}
	log_file = open_log();
	log_stamp("starting", -1);
	if (windivert_stop_init()) {
		log_error("cannot create an event (error %lu).", GetLastError());
		report(SERVICE_STOPPED, 1, 0);
		return;
	}
	config_defaults(&cfg);
	if (config_parse(&cfg, 3, args, log_stream(), log_stream()) != CONFIG_RUN) {
		log_error("the options in %s are not valid; fix them, then: hellosplit service start.", service_config);
		log_stamp("stopped", 2);
		report(SERVICE_STOPPED, 2, 0);
		return;
	}
	log_verbosity = cfg.verbose;
	rc = windivert_run(&cfg, BFE_WAIT_S, running, NULL);
	log_stamp("stopped", rc);
	report(SERVICE_STOPPED, (DWORD)rc, 0);
}

static int run(int argc, char **argv)
{
	SERVICE_TABLE_ENTRYW table[] = {{SERVICE_NAME, service_entry}, {NULL, NULL}};

	if (argc != 3 || strcmp(argv[1], "--config")) {
		log_error("usage: hellosplit service run --config FILE (what the service manager starts).");
		return 2;
	}
	snprintf(service_config, sizeof(service_config), "%s", argv[2]);
	if (!StartServiceCtrlDispatcherW(table)) {
		if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			log_error("'hellosplit service run' is started by the service manager. Use 'hellosplit service "
				  "start', or run hellosplit with your options directly.");
			return 2;
		}
		log_error("cannot connect to the service manager (error %lu: %s).", GetLastError(),
			  error_text(GetLastError()));
		return 1;
	}
	return (int)status.dwServiceSpecificExitCode;
}

int service_command(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "install"))
		return install(argc - 2, argv + 2);
	if (argc == 2 && !strcmp(what, "uninstall"))
		return uninstall();
	if (argc == 2 && !strcmp(what, "start"))
		return start();
	if (argc == 2 && !strcmp(what, "stop"))
		return stop();
	if (!strcmp(what, "run"))
		return run(argc - 1, argv + 1);
	if (argc == 2 && (!strcmp(what, "--help") || !strcmp(what, "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
