/* windivert.c — the Windows packet path: WinDivert 2.2 diverts the outbound
 * packets the filter names; each goes through the engine and is sent back
 * (PASS) or kept (STOLEN); the engine's packets are sent with the address of
 * the packet whose bytes they carry. Receives are overlapped and batched, so
 * the loop also wakes for collect timeouts and for stop requests. The
 * console (daemon-windows.c) and the service (service-windows.c) run it. */
#include "windivert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "engine.h"
#include "file.h"
#include "hostlist.h"
#include "log.h"
#include "packet.h"
#include "util-windows.h"

#define RX_BATCH 64                         /* packets per receive */
#define RX_SIZE (1024 * 1024)
#define TX_BATCH WINDIVERT_BATCH_MAX        /* packets per send */
#define TX_SIZE (512 * 1024)
#define STOP_DRAIN_MS 2000                  /* after Shutdown(RECV), time to read what was queued */

_Static_assert(sizeof(WINDIVERT_ADDRESS) == PACKET_META_SIZE, "a WINDIVERT_ADDRESS is the engine's meta");

struct windivert {
	struct windivert_api api;
	HANDLE handle;
	struct engine *engine;
	OVERLAPPED ov;
	int receiving;                          /* an overlapped receive is pending */
	UINT addr_len;                          /* written by WinDivert when the receive completes */
	WINDIVERT_ADDRESS rx_addr[RX_BATCH];
	WINDIVERT_ADDRESS tx_addr[TX_BATCH];
	uint32_t tx_len, tx_count;
	uint64_t send_errors;
	DWORD last_send_error;
	int stopping;                           /* shut down for receiving: draining what was queued */
	uint64_t stop_deadline;
	const struct config *cfg;
	const char *filter;
	unsigned open_retry_s;
	void (*ready)(void *ctx);
	void *ready_ctx;
	uint8_t rx[RX_SIZE];
	uint8_t tx[TX_SIZE];
};

static HANDLE stop_event, reload_event;

/* ---- loading WinDivert.dll */

int windivert_load(struct windivert_api *api, char *err, size_t errlen)
{
	wchar_t path[MAX_PATH + 32];
	char dir[MAX_PATH * 3], why[256];

	memset(api, 0, sizeof(*api));
	if (windows_exe_dir(api->dir, MAX_PATH)) {
		snprintf(err, errlen, "cannot find the directory of hellosplit.exe (error %lu)", GetLastError());
		return -1;
	}
	windows_utf8(api->dir, dir, sizeof(dir));
	_snwprintf(path, sizeof(path) / sizeof(path[0]), L"%lsWinDivert.dll", api->dir);
	path[sizeof(path) / sizeof(path[0]) - 1] = 0;
	if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES) {
		snprintf(err, errlen,
			 "WinDivert.dll is not in %s (hellosplit loads it only from its own directory). "
			 "Put WinDivert.dll and " WINDIVERT_SYS_NAME " from the x64 folder of the WinDivert 2.2 "
			 "release next to hellosplit.exe",
			 dir);
		return -1;
	}
	/* The full path, and its dependencies from System32 only: no DLL planting. */
	api->dll = LoadLibraryExW(path, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (!api->dll) {
		DWORD code = GetLastError();

		snprintf(err, errlen,
			 "cannot load %sWinDivert.dll (error %lu: %s). Use the x64 WinDivert.dll of the WinDivert 2.2 "
			 "release (hellosplit.exe is 64-bit)",
			 dir, code, windows_error_text(code, why, sizeof(why)));
		return -1;
	}
#define WINDIVERT_API_LOAD(name, type)                                                                  \
	api->name = WINDIVERT_FN_CAST(type, GetProcAddress(api->dll, #name));                            \
	if (!api->name) {                                                                                  \
		snprintf(err, errlen, "%sWinDivert.dll has no %s: it is not WinDivert 2.2. Use the DLL of the " \
			 "WinDivert 2.2 release", dir, #name);                                              \
		windivert_unload(api);                                                                     \
		return -1;                                                                                 \
	}
	WINDIVERT_API_FUNCTIONS(WINDIVERT_API_LOAD)
#undef WINDIVERT_API_LOAD
	return 0;
}

void windivert_unload(struct windivert_api *api)
{
	if (api->dll)
		FreeLibrary(api->dll);
	api->dll = NULL;
}

/* ---- explaining WinDivertOpen errors */

static int sys_present(const struct windivert_api *api)
{
	wchar_t path[MAX_PATH + 32];

	_snwprintf(path, sizeof(path) / sizeof(path[0]), L"%ls" WINDIVERT_SYS_NAME, api->dir);
	path[sizeof(path) / sizeof(path[0]) - 1] = 0;
	return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

void windivert_open_error(const struct windivert_api *api, unsigned long code, const char *filter,
			  const char *extra, char *out, size_t n)
{
	char text[256], dir[MAX_PATH * 3], what[1400];

	windows_utf8(api->dir, dir, sizeof(dir));
	switch (code) {
	case ERROR_FILE_NOT_FOUND:
		if (!sys_present(api))
			snprintf(what, sizeof(what),
				 "the driver file " WINDIVERT_SYS_NAME " is not in %s, next to WinDivert.dll. Put "
				 WINDIVERT_SYS_NAME " from the x64 folder of the same WinDivert 2.2 release there",
				 dir);
		else
			snprintf(what, sizeof(what),
				 "Windows could not find the WinDivert driver although %s" WINDIVERT_SYS_NAME
				 " exists. Copy WinDivert.dll and " WINDIVERT_SYS_NAME
				 " again from the WinDivert 2.2 release, to a local disk (not a network share)",
				 dir);
		break;
	case ERROR_ACCESS_DENIED:
		snprintf(what, sizeof(what),
			 "loading the WinDivert driver needs Administrator rights. Run hellosplit from a Command "
			 "Prompt opened with 'Run as administrator', or install it as a service "
			 "(hellosplit service install). If it already runs as Administrator, security software "
			 "is denying the driver: allow " WINDIVERT_SYS_NAME " there");
		break;
	case ERROR_INVALID_PARAMETER:
		if (extra)
			snprintf(what, sizeof(what),
				 "WinDivert rejected the filter \"%s\". Check --filter-extra \"%s\": WinDivert 2.2 "
				 "filter language, and 'not'/'!' only in front of a single field or test, never "
				 "in front of '(' (write 'not (a == 1 and b == 2)' as '(a != 1 or b != 2)')",
				 filter, extra);
		else
			snprintf(what, sizeof(what),
				 "WinDivert rejected the filter \"%s\" or the open parameters. This WinDivert.dll "
				 "may not be version 2.2: use the files of the WinDivert 2.2 release",
				 filter);
		break;
	case ERROR_INVALID_IMAGE_HASH:
		snprintf(what, sizeof(what),
			 "Windows rejected the digital signature of %s" WINDIVERT_SYS_NAME ". Use the unmodified "
			 "files of the official WinDivert 2.2 release (a driver built or changed by anyone else "
			 "will not load); on Windows 7 install the SHA-2 code signing update (KB4474419)",
			 dir);
		break;
	case ERROR_DRIVER_FAILED_PRIOR_UNLOAD:
		snprintf(what, sizeof(what),
			 "another version of the WinDivert driver is loaded, started by another program that "
			 "uses WinDivert. Close that program (or stop its service), then in an Administrator "
			 "prompt run 'sc stop WinDivert' (or restart Windows) and start hellosplit again");
		break;
	case ERROR_SERVICE_DOES_NOT_EXIST:
		snprintf(what, sizeof(what),
			 "the WinDivert driver is not installed and was not installed now. It is installed on first "
			 "use from %s" WINDIVERT_SYS_NAME ": check that the file is there and run hellosplit as "
			 "Administrator",
			 dir);
		break;
	case ERROR_DRIVER_BLOCKED:
		snprintf(what, sizeof(what),
			 "Windows blocked the WinDivert driver. Security software (an antivirus, or Windows' "
			 "Memory integrity / vulnerable driver blocklist) may block it: allow " WINDIVERT_SYS_NAME
			 " there. Some virtual machines and sandboxes allow no drivers at all: run hellosplit on "
			 "the host instead");
		break;
	case EPT_S_NOT_REGISTERED:
		snprintf(what, sizeof(what),
			 "the Base Filtering Engine service (BFE), which WinDivert needs, is not running. In an "
			 "Administrator prompt run 'sc config BFE start= auto' and 'sc start BFE' (or start "
			 "'Base Filtering Engine' in services.msc), then start hellosplit again");
		break;
	default:
		snprintf(what, sizeof(what), "see the WinDivert 2.2 documentation for WinDivertOpen; the filter was \"%s\"",
			 filter);
		break;
	}
	snprintf(out, n, "cannot open WinDivert (error %lu: %s): %s.", code, windows_error_text(code, text, sizeof(text)),
		 what);
}

/* ---- stop requests */

int windivert_stop_init(void)
{
	if (!stop_event)
		stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!reload_event)
		reload_event = CreateEventW(NULL, FALSE, FALSE, NULL);   /* auto-reset: one reload per request */
	return stop_event && reload_event ? 0 : -1;
}

void windivert_stop(void)
{
	if (stop_event)
		SetEvent(stop_event);
}

void windivert_reload(void)
{
	if (reload_event)
		SetEvent(reload_event);
}

/* ---- sending */

static void flush(void *ctx)
{
	struct windivert *w = ctx;

	if (!w->tx_count)
		return;
	if (!w->api.WinDivertSendEx(w->handle, w->tx, w->tx_len, NULL, 0, w->tx_addr,
				    w->tx_count * (UINT)sizeof(WINDIVERT_ADDRESS), NULL)) {
		DWORD code = GetLastError();
		char text[256];

		/* Lost packets are retransmitted by TCP; say so once per kind of error. */
		if (w->send_errors == 0 || code != w->last_send_error)
			log_error("sending %u packets failed (error %lu: %s); TCP will retransmit them.", w->tx_count,
				  code, windows_error_text(code, text, sizeof(text)));
		w->send_errors += w->tx_count;
		w->last_send_error = code;
	}
	w->tx_len = 0;
	w->tx_count = 0;
}

/* Queues a packet for the next batch; 0, or -EMSGSIZE when it cannot fit one.
 * A batch that fails is reported by flush: TCP retransmits it. */
static int send_packet(struct windivert *w, const uint8_t *pkt, uint32_t len, const WINDIVERT_ADDRESS *addr)
{
	if (w->tx_count == TX_BATCH || w->tx_len + len > TX_SIZE)
		flush(w);
	if (len > TX_SIZE)
		return -EMSGSIZE;
	memcpy(w->tx + w->tx_len, pkt, len);
	w->tx_addr[w->tx_count++] = *addr;
	w->tx_len += len;
	return 0;
}

/* engine_emit_fn: meta is the address of the packet that carried the bytes;
 * pieces and released originals alike are sent as copies. */
static int emit(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	struct windivert *w = ctx;
	WINDIVERT_ADDRESS addr;

	memcpy(&addr, meta, sizeof(addr));
	/* WinDivert sends a packet as it is when its checksum flags are set, and
	 * must then find the checksums right; a flag left at 0 has them finished
	 * on the way out. The engine's segments carry checksums it computed; an
	 * original it releases unchanged keeps its own, unfinished under
	 * checksum offload, and then the flags it was captured with (0). */
	if (packet_checksums_ok(pkt, len)) {
		if (!addr.IPv6)
			addr.IPChecksum = 1;
		addr.TCPChecksum = 1;
	}
	(void)kind;
	return send_packet(w, pkt, len, &addr);
}

/* ---- receiving */

/* Length of the IP packet at p (a batch packs them back to back), 0 when
 * the bytes are not one. */
static uint32_t ip_length(const uint8_t *p, uint32_t left)
{
	uint32_t len;

	if (left >= 20 && p[0] >> 4 == 4)
		len = get_be16(p + 2);
	else if (left >= 40 && p[0] >> 4 == 6)
		len = 40u + get_be16(p + 4);
	else
		return 0;
	return len >= 20 && len <= left ? len : 0;
}

static void handle_batch(struct windivert *w, DWORD bytes, uint64_t now)
{
	uint32_t count = w->addr_len / (UINT)sizeof(WINDIVERT_ADDRESS), off = 0, i;

	for (i = 0; i < count && off < bytes; i++) {
		uint8_t *pkt = w->rx + off;
		uint32_t len = ip_length(pkt, bytes - off);
		WINDIVERT_ADDRESS *addr = &w->rx_addr[i];

		if (!len) {
			log_error("WinDivert returned %lu bytes for %u packets that are not IP packets back to back "
				  "(at byte %u); %u packets lost.",
				  bytes, count, off, count - i);
			return;
		}
		if (!(engine_packet(w->engine, pkt, len, addr, now) & ENGINE_STOLEN))
			send_packet(w, pkt, len, addr);
		off += len;
	}
}

/* Starts an overlapped receive. Returns 0 (pending or done: the event is
 * set either way), or the Win32 error. */
static DWORD start_receive(struct windivert *w)
{
	w->addr_len = sizeof(w->rx_addr);
	if (w->api.WinDivertRecvEx(w->handle, w->rx, sizeof(w->rx), NULL, 0, w->rx_addr, &w->addr_len, &w->ov) ||
	    GetLastError() == ERROR_IO_PENDING) {
		w->receiving = 1;
		return 0;
	}
	return GetLastError();
}

/* Before the held packets are released: the pending receive is cancelled
 * and waited for. */
static void abandon_receive(void *ctx)
{
	struct windivert *w = ctx;
	DWORD n;

	if (!w->receiving)
		return;
	CancelIoEx(w->handle, &w->ov);
	GetOverlappedResult(w->handle, &w->ov, &n, TRUE);
	w->receiving = 0;
}

/* ---- the adapter of daemon_loop */

static void log_win32(const char *what, DWORD code)
{
	char text[256];

	log_error("%s failed (error %lu: %s).", what, code, windows_error_text(code, text, sizeof(text)));
}

/* The pending receive ended: its packets go through the engine. Returns 0,
 * 1 when shut down and drained, -EIO on an error (printed). */
static int adapter_receive(void *ctx, uint64_t now)
{
	struct windivert *w = ctx;
	DWORD bytes, code;

	if (GetOverlappedResult(w->handle, &w->ov, &bytes, FALSE)) {
		w->receiving = 0;
		handle_batch(w, bytes, now);
		return 0;
	}
	code = GetLastError();
	if (code == ERROR_IO_INCOMPLETE)
		return 0;
	w->receiving = 0;
	if (code == ERROR_NO_DATA && w->stopping)
		return 1;
	if (code == ERROR_INSUFFICIENT_BUFFER) {   /* cannot happen below WINDIVERT_MTU_MAX; TCP retransmits */
		log_error("a packet larger than the %u-byte receive buffer was dropped.", RX_SIZE);
		return 0;
	}
	log_win32("receiving from WinDivert", code);
	return -EIO;
}

/* A stop shuts the handle down for receiving; the packets already queued
 * still come, then ERROR_NO_DATA ends the loop (or STOP_DRAIN_MS does). */
static int adapter_wait(void *ctx, uint32_t timeout_ms)
{
	struct windivert *w = ctx;
	HANDLE events[3] = {w->ov.hEvent, stop_event, reload_event};
	uint64_t now;
	DWORD code, woke;

	if (!w->receiving && (code = start_receive(w)) != 0) {
		if (code == ERROR_NO_DATA && w->stopping)
			return DAEMON_STOP;               /* shut down and drained */
		log_win32("receiving from WinDivert", code);
		return -EIO;
	}
	now = monotonic_ms();
	if (w->stopping) {
		if (now >= w->stop_deadline) {
			log_error("WinDivert did not end the receive within %u ms of the shutdown; closing.",
				  STOP_DRAIN_MS);
			return DAEMON_STOP;
		}
		if (timeout_ms > w->stop_deadline - now)
			timeout_ms = (uint32_t)(w->stop_deadline - now);
	}
	woke = WaitForMultipleObjects(w->stopping ? 1 : 3, events, FALSE, timeout_ms);
	if (woke == WAIT_OBJECT_0)
		return DAEMON_PACKETS;
	if (woke == WAIT_OBJECT_0 + 1) {
		w->stopping = 1;
		w->stop_deadline = now + STOP_DRAIN_MS;
		if (!w->api.WinDivertShutdown(w->handle, WINDIVERT_SHUTDOWN_RECV)) {
			log_win32("WinDivertShutdown", GetLastError());
			return DAEMON_STOP;
		}
		return 0;
	}
	if (woke == WAIT_OBJECT_0 + 2)
		return DAEMON_RELOAD;
	if (woke == WAIT_FAILED) {
		log_win32("waiting for packets", GetLastError());
		return -EIO;
	}
	return 0;
}

static void adapter_report_errors(void *ctx)
{
	struct windivert *w = ctx;

	if (w->send_errors)
		log_error("%llu packets could not be sent.", (unsigned long long)w->send_errors);
}

static int check_version(struct windivert *w)
{
	uint64_t major = 0, minor = 0;

	if (!w->api.WinDivertGetParam(w->handle, WINDIVERT_PARAM_VERSION_MAJOR, &major) ||
	    !w->api.WinDivertGetParam(w->handle, WINDIVERT_PARAM_VERSION_MINOR, &minor)) {
		log_error("cannot read the WinDivert driver version (error %lu).", GetLastError());
		return -1;
	}
	if (major != 2) {
		log_error("the WinDivert driver is version %llu.%llu; hellosplit needs 2.2. Use the WinDivert 2.2 "
			  "release, and stop other programs that load another WinDivert version.",
			  (unsigned long long)major, (unsigned long long)minor);
		return -1;
	}
	log_debug("WinDivert driver %llu.%llu", (unsigned long long)major, (unsigned long long)minor);
	return 0;
}

static int set_queue(struct windivert *w, const struct config *cfg)
{
	static const char *const names[] = {"--queue-len", "--queue-time", "--queue-size"};
	const uint64_t values[] = {cfg->queue_len, cfg->queue_time_ms, cfg->queue_size};
	const WINDIVERT_PARAM params[] = {WINDIVERT_PARAM_QUEUE_LENGTH, WINDIVERT_PARAM_QUEUE_TIME,
					  WINDIVERT_PARAM_QUEUE_SIZE};
	char text[256];
	int i;

	for (i = 0; i < 3; i++) {
		if (!w->api.WinDivertSetParam(w->handle, params[i], values[i])) {
			DWORD code = GetLastError();

			log_error("WinDivert refused %s %llu (error %lu: %s).", names[i], (unsigned long long)values[i],
				  code, windows_error_text(code, text, sizeof(text)));
			return -1;
		}
	}
	return 0;
}

/* WinDivertOpen; while the Base Filtering Engine is not up yet (a service
 * started at boot) it tries again every second for retry_s seconds. Returns
 * 0 (the handle, or none when a stop came first) or -1 with GetLastError(). */
static int open_handle(struct windivert *w, const char *filter, unsigned retry_s)
{
	unsigned waited;

	for (waited = 0;; waited++) {
		w->handle = w->api.WinDivertOpen(filter, WINDIVERT_LAYER_NETWORK, 0, 0);
		if (w->handle != INVALID_HANDLE_VALUE)
			return 0;
		if (GetLastError() != EPT_S_NOT_REGISTERED || waited >= retry_s)
			return -1;
		if (waited == 0)
			log_info("the Base Filtering Engine is not running yet; trying again for %u s.", retry_s);
		if (WaitForSingleObject(stop_event, 1000) == WAIT_OBJECT_0)
			return 0;
	}
}

/* Loads WinDivert.dll and opens the handle. Returns 0, 1 when a stop came
 * while waiting for the Base Filtering Engine, or -EIO (printed). */
static int adapter_start(void *ctx, struct engine *e)
{
	struct windivert *w = ctx;
	char err[2048];

	w->engine = e;
	w->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!w->ov.hEvent) {
		log_win32("creating an event", GetLastError());
		return -EIO;
	}
	if (windivert_load(&w->api, err, sizeof(err))) {
		log_error("%s.", err);
		return -EIO;
	}
	if (open_handle(w, w->filter, w->open_retry_s)) {
		windivert_open_error(&w->api, GetLastError(), w->filter, w->cfg->filter_extra, err, sizeof(err));
		log_error("%s", err);
		return -EIO;
	}
	if (w->handle == INVALID_HANDLE_VALUE)         /* stopped while waiting */
		return 1;
	if (check_version(w) || set_queue(w, w->cfg))
		return -EIO;
	log_info("running with filter \"%s\". Ctrl-C stops.", w->filter);
	if (w->ready)
		w->ready(w->ready_ctx);
	return 0;
}

static void adapter_close(void *ctx)
{
	struct windivert *w = ctx;

	if (w->handle != INVALID_HANDLE_VALUE)
		w->api.WinDivertClose(w->handle);
	w->handle = INVALID_HANDLE_VALUE;
	if (w->ov.hEvent)
		CloseHandle(w->ov.hEvent);
	w->ov.hEvent = NULL;
	windivert_unload(&w->api);         /* last: nothing of WinDivert.dll is used after it */
}

int windivert_run(const struct config *cfg, unsigned open_retry_s, void (*ready)(void *ctx), void *ctx)
{
	struct windivert *w = calloc(1, sizeof(*w));
	char filter[4096], err[2048];
	struct daemon_adapter adapter = {
		.ctx = w,
		.emit = emit,
		.emit_ctx = w,
		.start = adapter_start,
		.wait = adapter_wait,
		.receive = adapter_receive,
		.flush = flush,
		.stop_receiving = abandon_receive,
		.report_errors = adapter_report_errors,
		.close = adapter_close,
	};
	int rc;

	if (!w || windivert_stop_init()) {
		log_error("out of memory.");
		free(w);
		return 1;
	}
	w->handle = INVALID_HANDLE_VALUE;
	if (windivert_filter(cfg, filter, sizeof(filter), err, sizeof(err))) {
		log_error("%s.", err);
		free(w);
		return 2;
	}
	if (!windows_is_elevated()) {
		log_error("needs Administrator rights to load the WinDivert driver. Open a Command Prompt with "
			  "'Run as administrator' and start hellosplit there, or install it as a service "
			  "(hellosplit service install).");
		free(w);
		return 1;
	}
	w->cfg = cfg;
	w->filter = filter;
	w->open_retry_s = open_retry_s;
	w->ready = ready;
	w->ready_ctx = ctx;
	rc = daemon_loop(cfg, &adapter, &daemon_monotonic_clock);
	free(w);
	return rc;
}
