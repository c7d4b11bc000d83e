/*
 * fake_windivert.c - a FAKE WinDivert.dll (WinDivert 2.2 user API) for
 * testing hellosplit.exe under wine, where no driver can run.
 *
 * It exports WinDivertOpen/Recv/RecvEx/Send/SendEx/Shutdown/Close/SetParam/
 * GetParam with the documented signatures (see src/windivert_api.h),
 * replays the IP packets of a pcap file as "diverted" packets, records what
 * the program injects, and checks the API contract the way the real
 * library/driver would, logging every violation.
 *
 * ENVIRONMENT (all optional; paths may be Windows paths or absolute unix
 * paths, "/x/y" is taken as "Z:\x\y", wine's default mapping of /):
 *
 *   FAKE_WINDIVERT_IN=file.pcap      classic pcap (not pcapng), linktypes
 *                                    0 NULL, 1 Ethernet (VLAN tags skipped),
 *                                    101 raw IP, 108 LOOP, 113 Linux SLL,
 *                                    228 IPv4, 229 IPv6, 276 Linux SLL2.
 *                                    Its IP packets become the packets that
 *                                    WinDivertRecv/RecvEx return (if they
 *                                    match the handle's filter), keeping
 *                                    the capture's inter-packet gaps.
 *                                    Unset: no packets, Recv just blocks.
 *   FAKE_WINDIVERT_SPEED=x           time scale (2 = twice as fast, 0 = no
 *                                    delays at all).  Default 1.
 *   FAKE_WINDIVERT_START_DELAY_MS=n  delay between the first successful
 *                                    WinDivertOpen and capture time 0.
 *                                    Default 0.
 *   FAKE_WINDIVERT_LOCAL=a[,a...]    local addresses: a packet whose source
 *                                    is one of them is outbound.  Default:
 *                                    the source of the first IPv4 packet
 *                                    and of the first IPv6 packet.
 *   FAKE_WINDIVERT_IFIDX=i[.s]       Network.IfIdx/SubIfIdx of replayed
 *                                    packets.  Default 7.0.
 *   FAKE_WINDIVERT_LOOPBACK_IFIDX=i[.s]  same for loopback packets
 *                                    (127.0.0.0/8, ::1).  Default 1.0.
 *   FAKE_WINDIVERT_CSUM_OFFLOAD=1    simulate checksum offload: outbound
 *                                    TCP/UDP packets are delivered with a
 *                                    zero transport (and IPv4 header)
 *                                    checksum and the *Checksum flags 0.
 *   FAKE_WINDIVERT_OUT=file.pcap     every packet passed to Send/SendEx is
 *                                    appended as a raw-IP (linktype 101)
 *                                    record, as it would leave the machine
 *                                    (checksums whose address flag is 0 are
 *                                    filled in, like WinDivert does); one
 *                                    line per packet goes to file.addr.txt:
 *                                    "n=1 handle=1 len=.. layer=0 event=0
 *                                    outbound=1 loopback=0 impostor=0 ipv6=0
 *                                    ifidx=7 subifidx=0 ipcsum=1 tcpcsum=1
 *                                    udpcsum=0 ipcsum_ok=1 tcpcsum_ok=1
 *                                    udpcsum_ok=- timestamp=..."
 *                                    (*_ok: were the program's checksums
 *                                    right; "-" = not applicable).
 *   FAKE_WINDIVERT_OUT_RAW=1         write the injected bytes unchanged.
 *   FAKE_WINDIVERT_LOG=file.txt      text log (appended).  Contract
 *                                    violations are lines containing
 *                                    " VIOLATION "; a good run has none.
 *                                    Other tags: INFO, DIVERT, RECV, SEND,
 *                                    DROP, PASS (verbose), SIM, CTRL, FAKE
 *                                    (fake limitation), CONFIG (bad setup),
 *                                    SUMMARY.
 *   FAKE_WINDIVERT_VERBOSE=1         also log packets no filter matched.
 *   FAKE_WINDIVERT_STDERR=1          mirror the log on stderr.
 *   FAKE_WINDIVERT_STRICT=1          "soft" violations (ones the real
 *                                    driver tolerates) also fail with
 *                                    ERROR_INVALID_PARAMETER.
 *   FAKE_WINDIVERT_OPEN_ERROR=n      WinDivertOpen fails with Win32 error n
 *                                    (after its argument checks, like the
 *                                    real driver-side errors 2, 5, 577,
 *                                    654, 1060, 1275, 1753 ...).
 *   FAKE_WINDIVERT_OPEN_ERROR_COUNT=k  ... only for the first k opens.
 *   FAKE_WINDIVERT_SEND_ERROR=n[@k]  Send/SendEx fail with error n (every
 *                                    call, or only the k-th, 1-based).
 *   FAKE_WINDIVERT_VERSION=M.m       what GetParam(VERSION_*) reports.
 *                                    Default 2.2.
 *   FAKE_WINDIVERT_EXIT_AFTER_MS=n   when the replay is over and the queues
 *                                    are drained (at most 5 s later), wait
 *                                    n ms and raise a console CTRL_C_EVENT
 *                                    in this process.
 *   FAKE_WINDIVERT_CTRL_EVENT=c|break  raise CTRL_C_EVENT (default) or
 *                                    CTRL_BREAK_EVENT.
 *   FAKE_WINDIVERT_CTRL_METHOD=routine|generate
 *                                    "routine" (default): run kernelbase's
 *                                    CtrlRoutine in a new thread of this
 *                                    process - the same path a real console
 *                                    Ctrl-C takes; works headless under
 *                                    wine.  "generate": GenerateConsoleCtrl
 *                                    Event(), which under wine needs a real
 *                                    console (a tty); falls back to routine.
 *   FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE=1  an overlapped RecvEx that finds a
 *                                    packet already queued completes at once
 *                                    (returns TRUE) instead of returning
 *                                    ERROR_IO_PENDING.  Default: always
 *                                    pending, completed by another thread.
 *   FAKE_WINDIVERT_FILTER_LENIENT=1  accept "not (...)" / "!(...)" which
 *                                    WinDivert 2.2 rejects (logged).
 *   FAKE_WINDIVERT_NO_HOOK=1         do not hook CancelIo/CancelIoEx/
 *                                    CloseHandle in the main executable.
 *
 * HANDLES: a handle returned by WinDivertOpen is a real (event) kernel
 * object, so GetOverlappedResult(handle, &ov, ...) from kernel32 works, also
 * with ov.hEvent == NULL.  Overlapped receives are completed from the
 * replay thread exactly like the kernel does it: OVERLAPPED.InternalHigh =
 * bytes, .Internal = NTSTATUS, then ov.hEvent (and the handle) signalled.
 * CancelIo/CancelIoEx/CloseHandle on a WinDivert handle are routed to the
 * fake by patching the import table of the main .exe (only the .exe).
 * I/O completion ports cannot be associated with these handles.
 *
 * This file is part of hellosplit's test suite; it was written from the
 * WinDivert 2.2 documentation and contains no WinDivert code.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00     /* GetSystemTimePreciseAsFileTime */
#endif
#include <windows.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windivert_api.h"

#define EXPORT __declspec(dllexport)

/* NTSTATUS values used to complete requests (as the real driver does). */
#define ST_SUCCESS            0x00000000UL
#define ST_PENDING            0x00000103UL
#define ST_INVALID_PARAMETER  0xC000000DUL
#define ST_BUFFER_TOO_SMALL   0xC0000023UL
#define ST_PIPE_EMPTY         0xC00000D9UL
#define ST_CANCELLED          0xC0000120UL

#define MAX_HANDLES 64
#define FILTER_MAX_OBJECTS 256      /* compiled tests, as WinDivert 2.2 */
#define FILTER_MAX_TOKENS 768
#define FILTER_TOKEN_MAXLEN 40
#define FILTER_MAX_DEPTH 1024

/* ======================================================================== */
/* small helpers                                                            */
/* ======================================================================== */

typedef struct { uint64_t hi, lo; } u128;

static u128 u128_make(uint64_t hi, uint64_t lo) { u128 r; r.hi = hi; r.lo = lo; return r; }
static int u128_cmp(u128 a, u128 b)
{
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}
/* signed compare: (neg_a, a) vs (neg_b, b); "-0" equals 0 */
static int s128_cmp(int neg_a, u128 a, int neg_b, u128 b)
{
    int za = (a.hi == 0 && a.lo == 0), zb = (b.hi == 0 && b.lo == 0);
    if (za) neg_a = 0;
    if (zb) neg_b = 0;
    if (neg_a != neg_b) return neg_a ? -1 : 1;
    return neg_a ? -u128_cmp(a, b) : u128_cmp(a, b);
}
static u128 v4_mapped(uint32_t a) { return u128_make(0, 0x0000FFFF00000000ULL | a); }

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static u128 rd128(const uint8_t *p)
{
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) hi = (hi << 8) | p[i];
    for (int i = 8; i < 16; i++) lo = (lo << 8) | p[i];
    return u128_make(hi, lo);
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static LONGLONG qpc_now(void)
{
    LARGE_INTEGER li;
    QueryPerformanceCounter(&li);
    return li.QuadPart;
}
static LONGLONG g_qpf = 1;

/* ======================================================================== */
/* global state                                                             */
/* ======================================================================== */

typedef struct qent
{
    struct qent *next;
    uint8_t *data;
    uint32_t len;
    uint32_t pktno;             /* 1-based record number in the input    */
    LONGLONG enq;               /* QPC when queued                        */
    WINDIVERT_ADDRESS addr;
} qent_t;

struct fhandle;

typedef struct req
{
    struct req *next;
    struct fhandle *fh;
    uint8_t *buf;
    uint32_t buflen;
    WINDIVERT_ADDRESS *addr;    /* may be NULL                            */
    uint32_t addrslots;         /* addresses that fit (>= 1)              */
    unsigned int *pAddrLen;     /* written at completion (may be NULL)    */
    OVERLAPPED *ov;             /* NULL: blocking request                 */
    HANDLE done_ev;             /* blocking: signalled at completion      */
    DWORD tid;                  /* issuing thread (CancelIo)              */
    volatile LONG done;
    ULONG status;
    uint32_t bytes;
} req_t;

typedef struct fhandle
{
    HANDLE h;                   /* the HANDLE value (an event object)     */
    int id;                     /* 1-based, in open order                 */
    int open;
    WINDIVERT_LAYER layer;
    int16_t priority;
    uint64_t flags;
    struct fnode *filter;
    char *filter_str;
    uint64_t qlen_max, qtime_max, qsize_max;
    int shut_recv, shut_send;
    qent_t *qhead, *qtail;
    uint32_t qcount;
    uint64_t qbytes;
    req_t *rhead, *rtail;
    uint64_t n_recv, n_sent, n_drop;
} fhandle_t;

typedef struct
{
    uint8_t *data;
    uint32_t len;
    uint32_t recno;             /* 1-based record number                  */
    double t;                   /* seconds since the first record         */
} inpkt_t;

static CRITICAL_SECTION g_lock;     /* everything below                  */
static CRITICAL_SECTION g_loglock;  /* innermost: the log file only      */
static volatile LONG g_inited;
static volatile LONG g_detaching;
static LONGLONG g_t_load;

static struct
{
    char in[MAX_PATH], out[MAX_PATH], log[MAX_PATH];
    double speed;
    DWORD start_delay_ms;
    int have_local;
    u128 local[16];
    int nlocal;
    uint32_t ifidx, subifidx, lo_ifidx, lo_subifidx;
    int csum_offload, out_raw, verbose, to_stderr, strict;
    DWORD open_error;
    long open_error_count;       /* -1 = always */
    DWORD send_error;
    long send_error_at;          /* 0 = always */
    uint32_t ver_major, ver_minor;
    long exit_after_ms;          /* -1 = off */
    int ctrl_break, ctrl_generate;
    int ov_immediate, lenient, no_hook;
} cfg;

static FILE *g_log;
static FILE *g_out, *g_outaddr;
static int g_out_ready;

static inpkt_t *g_pkts;
static uint32_t g_npkts;
static int g_config_error;          /* bad FAKE_* setup: Open fails      */
static char g_config_msg[512];

static fhandle_t *g_handles[MAX_HANDLES];
static int g_nhandles;
static long g_opens;                /* WinDivertOpen calls               */
static long g_sends;                /* Send/SendEx calls                 */
static long g_violations;
static uint64_t g_sent_pkts;
static LONGLONG g_last_ts;
static HANDLE g_replay_thread, g_stop_ev, g_wake_ev;
static LONGLONG g_replay_base;
static volatile LONG g_replay_done;

/* original functions of hooked imports */
static BOOL (WINAPI *real_CancelIoEx)(HANDLE, LPOVERLAPPED);
static BOOL (WINAPI *real_CancelIo)(HANDLE);
static BOOL (WINAPI *real_CloseHandle)(HANDLE);

/* ======================================================================== */
/* logging                                                                  */
/* ======================================================================== */

static void logv(const char *tag, const char *fmt, va_list ap)
{
    char line[2048];
    int n;
    double t = (double)(qpc_now() - g_t_load) / (double)g_qpf;
    n = snprintf(line, sizeof line, "[%9.3f] %-9s ", t, tag);
    if (n < 0) n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (g_detaching) { if (!TryEnterCriticalSection(&g_loglock)) return; }
    else EnterCriticalSection(&g_loglock);
    if (g_log) { fputs(line, g_log); fputc('\n', g_log); fflush(g_log); }
    if (cfg.to_stderr) { fprintf(stderr, "fake-windivert: %s\n", line); fflush(stderr); }
    LeaveCriticalSection(&g_loglock);
}

static void logf_(const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(tag, fmt, ap);
    va_end(ap);
}
#define LOG(tag, ...) logf_(tag, __VA_ARGS__)

static void violation(const char *fmt, ...)
{
    va_list ap;
    InterlockedIncrement(&g_violations);
    va_start(ap, fmt);
    logv("VIOLATION", fmt, ap);
    va_end(ap);
}

/* soft violation: the real driver tolerates it; we log, and fail only in
 * strict mode.  Returns nonzero if the call must fail. */
static int soft_violation(const char *fmt, ...)
{
    va_list ap;
    char msg[1024];
    InterlockedIncrement(&g_violations);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    LOG("VIOLATION", "%s%s", msg, cfg.strict ? " (strict: failing with 87)"
        : " (tolerated by the real driver; FAKE_WINDIVERT_STRICT=1 fails it)");
    return cfg.strict;
}

static BOOL fail(DWORD err)
{
    SetLastError(err);
    return FALSE;
}

/* ======================================================================== */
/* configuration                                                            */
/* ======================================================================== */

static int env(const char *name, char *buf, DWORD size)
{
    DWORD n = GetEnvironmentVariableA(name, buf, size);
    if (n == 0 || n >= size) { buf[0] = '\0'; return 0; }
    return 1;
}

static void env_path(const char *name, char *out)
{
    char v[MAX_PATH];
    out[0] = '\0';
    if (!env(name, v, sizeof v)) return;
    if (v[0] == '/')
    {
        /* unix absolute path: wine maps Z: to / */
        size_t n = strlen(v);
        if (n + 2 >= MAX_PATH) return;
        out[0] = 'Z'; out[1] = ':';
        for (size_t i = 0; i <= n; i++) out[2 + i] = (char)(v[i] == '/' ? '\\' : v[i]);
    }
    else
        strcpy(out, v);
}

static long env_long(const char *name, long dflt)
{
    char v[64], *end;
    long r;
    if (!env(name, v, sizeof v)) return dflt;
    r = strtol(v, &end, 0);
    if (end == v) return dflt;
    return r;
}

static void parse_ifidx(const char *name, uint32_t *ifi, uint32_t *sub)
{
    char v[64];
    unsigned long a = 0, b = 0;
    char *end;
    if (!env(name, v, sizeof v)) return;
    a = strtoul(v, &end, 10);
    if (*end == '.' || *end == ',' || *end == ':') b = strtoul(end + 1, &end, 10);
    *ifi = (uint32_t)a;
    *sub = (uint32_t)b;
}

static int parse_ipv4(const char *s, uint32_t *out);
static int parse_ipv6(const char *s, u128 *out);

static void config_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_config_msg, sizeof g_config_msg, fmt, ap);
    va_end(ap);
    g_config_error = 1;
    LOG("CONFIG", "%s", g_config_msg);
    fprintf(stderr, "fake-windivert: CONFIG ERROR: %s\n", g_config_msg);
}

/* ------------------------------------------------------------------------ */
/* pcap input                                                               */
/* ------------------------------------------------------------------------ */

static uint32_t rd32x(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    if (swap) v = ((v & 0xFFu) << 24) | ((v & 0xFF00u) << 8) | ((v >> 8) & 0xFF00u) | (v >> 24);
    return v;
}

/* Strip the link layer; returns offset of the IP header or -1 (skip). */
static long link_strip(uint32_t linktype, const uint8_t *p, uint32_t len)
{
    uint32_t off = 0;
    uint16_t et;
    switch (linktype)
    {
    case 101: case 228: case 229:
        return 0;
    case 1:
        if (len < 14) return -1;
        off = 12;
        et = rd16(p + off);
        while ((et == 0x8100 || et == 0x88A8 || et == 0x9100) && off + 6 <= len)
        {
            off += 4;
            et = rd16(p + off);
        }
        off += 2;
        if (et != 0x0800 && et != 0x86DD) return -1;
        return (long)off;
    case 113:
        if (len < 16) return -1;
        et = rd16(p + 14);
        if (et != 0x0800 && et != 0x86DD) return -1;
        return 16;
    case 276:
        if (len < 20) return -1;
        et = rd16(p);
        if (et != 0x0800 && et != 0x86DD) return -1;
        return 20;
    case 0:
    {
        uint32_t fam;
        if (len < 4) return -1;
        memcpy(&fam, p, 4);
        if (fam > 0xFFFF) fam = rd32x(p, 1);
        if (fam == 2 || fam == 24 || fam == 28 || fam == 30 || fam == 10) return 4;
        return -1;
    }
    case 108:
    {
        uint32_t fam;
        if (len < 4) return -1;
        fam = rd32(p);
        if (fam == 2 || fam == 24 || fam == 28 || fam == 30 || fam == 10) return 4;
        return -1;
    }
    default:
        return -1;
    }
}

static void load_pcap(void)
{
    FILE *f;
    uint8_t gh[24], rh[16];
    uint32_t magic, linktype, snap;
    int swap = 0, nsec = 0;
    uint32_t cap = 0, recno = 0, skipped = 0;
    double t0 = 0.0;

    if (!cfg.in[0]) return;
    f = fopen(cfg.in, "rb");
    if (!f) { config_error("cannot open FAKE_WINDIVERT_IN=%s", cfg.in); return; }
    if (fread(gh, 1, 24, f) != 24) { config_error("%s: short pcap header", cfg.in); fclose(f); return; }
    memcpy(&magic, gh, 4);
    switch (magic)
    {
    case 0xA1B2C3D4u: break;
    case 0xD4C3B2A1u: swap = 1; break;
    case 0xA1B23C4Du: nsec = 1; break;
    case 0x4D3CB2A1u: swap = 1; nsec = 1; break;
    case 0x0A0D0D0Au:
        config_error("%s is pcapng; convert it: editcap -F pcap in.pcapng out.pcap", cfg.in);
        fclose(f); return;
    default:
        config_error("%s: not a pcap file (magic %08lx)", cfg.in, (unsigned long)magic);
        fclose(f); return;
    }
    snap = rd32x(gh + 16, swap);
    (void)snap;
    linktype = rd32x(gh + 20, swap) & 0x0FFFFFFFu;
    if (linktype != 0 && linktype != 1 && linktype != 101 && linktype != 108 && linktype != 113 &&
        linktype != 228 && linktype != 229 && linktype != 276)
    {
        config_error("%s: unsupported linktype %lu", cfg.in, (unsigned long)linktype);
        fclose(f); return;
    }
    for (;;)
    {
        uint32_t sec, frac, incl, orig;
        uint8_t *buf;
        long off;
        double t;
        if (fread(rh, 1, 16, f) != 16) break;
        recno++;
        sec = rd32x(rh, swap); frac = rd32x(rh + 4, swap);
        incl = rd32x(rh + 8, swap); orig = rd32x(rh + 12, swap);
        if (incl > 262144) { config_error("%s: record %lu too large", cfg.in, (unsigned long)recno); break; }
        buf = (uint8_t *)malloc(incl ? incl : 1);
        if (!buf || fread(buf, 1, incl, f) != incl) { free(buf); LOG("CONFIG", "%s: truncated record %lu", cfg.in, (unsigned long)recno); break; }
        t = (double)sec + (double)frac / (nsec ? 1e9 : 1e6);
        if (recno == 1) t0 = t;
        if (incl < orig)
        {
            LOG("INFO", "input record %lu truncated by the capture (%lu of %lu bytes): skipped",
                (unsigned long)recno, (unsigned long)incl, (unsigned long)orig);
            free(buf); skipped++; continue;
        }
        off = link_strip(linktype, buf, incl);
        if (off < 0 || (uint32_t)off >= incl) { free(buf); skipped++; continue; }
        {
            const uint8_t *ip = buf + off;
            uint32_t iplen = incl - (uint32_t)off, declared;
            int ver = ip[0] >> 4;
            if (ver == 4 && iplen >= 20) declared = rd16(ip + 2);
            else if (ver == 6 && iplen >= 40) declared = 40u + rd16(ip + 4);
            else { free(buf); skipped++; continue; }
            if (declared > iplen || declared < 20)
            {
                LOG("INFO", "input record %lu: IP length %lu vs %lu captured bytes: skipped",
                    (unsigned long)recno, (unsigned long)declared, (unsigned long)iplen);
                free(buf); skipped++; continue;
            }
            if (g_npkts == cap)
            {
                uint32_t ncap = cap ? cap * 2 : 256;
                inpkt_t *np = (inpkt_t *)realloc(g_pkts, ncap * sizeof *np);
                if (!np) { free(buf); break; }
                g_pkts = np; cap = ncap;
            }
            g_pkts[g_npkts].data = (uint8_t *)malloc(declared);
            memcpy(g_pkts[g_npkts].data, ip, declared);
            g_pkts[g_npkts].len = declared;     /* link padding trimmed */
            g_pkts[g_npkts].recno = recno;
            g_pkts[g_npkts].t = t - t0 < 0 ? 0 : t - t0;
            g_npkts++;
        }
        free(buf);
    }
    fclose(f);
    LOG("INFO", "input %s: linktype %lu, %lu records, %lu IP packets, %lu skipped",
        cfg.in, (unsigned long)linktype, (unsigned long)recno, (unsigned long)g_npkts,
        (unsigned long)skipped);
}

static void out_open(void)
{
    char addrpath[MAX_PATH + 16];
    uint8_t gh[24];
    uint32_t v;
    if (g_out_ready || !cfg.out[0]) return;
    g_out_ready = 1;
    g_out = fopen(cfg.out, "wb");
    if (!g_out) { config_error("cannot create FAKE_WINDIVERT_OUT=%s", cfg.out); return; }
    v = 0xA1B2C3D4u; memcpy(gh, &v, 4);
    gh[4] = 2; gh[5] = 0; gh[6] = 4; gh[7] = 0;
    memset(gh + 8, 0, 8);
    v = 262144; memcpy(gh + 16, &v, 4);
    v = 101; memcpy(gh + 20, &v, 4);
    fwrite(gh, 1, 24, g_out);
    fflush(g_out);
    snprintf(addrpath, sizeof addrpath, "%s.addr.txt", cfg.out);
    g_outaddr = fopen(addrpath, "w");
    if (!g_outaddr) config_error("cannot create %s", addrpath);
}

static void cfg_load(void)
{
    char v[512];
    LARGE_INTEGER li;

    QueryPerformanceFrequency(&li);
    g_qpf = li.QuadPart ? li.QuadPart : 1;

    env_path("FAKE_WINDIVERT_IN", cfg.in);
    env_path("FAKE_WINDIVERT_OUT", cfg.out);
    env_path("FAKE_WINDIVERT_LOG", cfg.log);
    cfg.speed = 1.0;
    if (env("FAKE_WINDIVERT_SPEED", v, sizeof v)) cfg.speed = strtod(v, NULL);
    if (cfg.speed < 0) cfg.speed = 1.0;
    cfg.start_delay_ms = (DWORD)env_long("FAKE_WINDIVERT_START_DELAY_MS", 0);
    cfg.ifidx = 7; cfg.subifidx = 0; cfg.lo_ifidx = 1; cfg.lo_subifidx = 0;
    parse_ifidx("FAKE_WINDIVERT_IFIDX", &cfg.ifidx, &cfg.subifidx);
    parse_ifidx("FAKE_WINDIVERT_LOOPBACK_IFIDX", &cfg.lo_ifidx, &cfg.lo_subifidx);
    cfg.csum_offload = env_long("FAKE_WINDIVERT_CSUM_OFFLOAD", 0) != 0;
    cfg.out_raw = env_long("FAKE_WINDIVERT_OUT_RAW", 0) != 0;
    cfg.verbose = env_long("FAKE_WINDIVERT_VERBOSE", 0) != 0;
    cfg.to_stderr = env_long("FAKE_WINDIVERT_STDERR", 0) != 0;
    cfg.strict = env_long("FAKE_WINDIVERT_STRICT", 0) != 0;
    cfg.open_error = (DWORD)env_long("FAKE_WINDIVERT_OPEN_ERROR", 0);
    cfg.open_error_count = env_long("FAKE_WINDIVERT_OPEN_ERROR_COUNT", -1);
    cfg.send_error = 0; cfg.send_error_at = 0;
    if (env("FAKE_WINDIVERT_SEND_ERROR", v, sizeof v))
    {
        char *at = strchr(v, '@');
        cfg.send_error = (DWORD)strtoul(v, NULL, 0);
        if (at) cfg.send_error_at = strtol(at + 1, NULL, 10);
    }
    cfg.ver_major = 2; cfg.ver_minor = 2;
    if (env("FAKE_WINDIVERT_VERSION", v, sizeof v))
    {
        char *end;
        cfg.ver_major = (uint32_t)strtoul(v, &end, 10);
        cfg.ver_minor = (*end == '.') ? (uint32_t)strtoul(end + 1, NULL, 10) : 0;
    }
    cfg.exit_after_ms = env_long("FAKE_WINDIVERT_EXIT_AFTER_MS", -1);
    if (env("FAKE_WINDIVERT_CTRL_EVENT", v, sizeof v)) cfg.ctrl_break = (_stricmp(v, "break") == 0);
    if (env("FAKE_WINDIVERT_CTRL_METHOD", v, sizeof v)) cfg.ctrl_generate = (_stricmp(v, "generate") == 0);
    cfg.ov_immediate = env_long("FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE", 0) != 0;
    cfg.lenient = env_long("FAKE_WINDIVERT_FILTER_LENIENT", 0) != 0;
    cfg.no_hook = env_long("FAKE_WINDIVERT_NO_HOOK", 0) != 0;

    if (cfg.log[0]) g_log = fopen(cfg.log, "a");
    LOG("INFO", "=== fake WinDivert %lu.%lu loaded, pid %lu ===",
        (unsigned long)cfg.ver_major, (unsigned long)cfg.ver_minor,
        (unsigned long)GetCurrentProcessId());

    if (env("FAKE_WINDIVERT_LOCAL", v, sizeof v))
    {
        char *s = v, *tok;
        cfg.have_local = 1;
        while ((tok = strtok(s, ", ")) != NULL && cfg.nlocal < 16)
        {
            uint32_t a4;
            u128 a6;
            s = NULL;
            if (parse_ipv4(tok, &a4)) cfg.local[cfg.nlocal++] = v4_mapped(a4);
            else if (parse_ipv6(tok, &a6)) cfg.local[cfg.nlocal++] = a6;
            else config_error("FAKE_WINDIVERT_LOCAL: bad address '%s'", tok);
        }
    }
    load_pcap();
}

/* ======================================================================== */
/* packet parsing, checksums                                                */
/* ======================================================================== */

typedef struct
{
    const uint8_t *p;
    uint32_t len;           /* bytes available                         */
    int ok;                 /* an IPv4/IPv6 header could be parsed     */
    int v6;
    uint32_t iplen;         /* declared total length                   */
    uint32_t end;           /* min(iplen, len)                         */
    uint32_t ihl;           /* IPv4 header bytes / 40                  */
    uint8_t proto;          /* transport protocol after ext. headers   */
    uint8_t nexthdr;        /* IPv6 first next header / IPv4 protocol  */
    int fragment;           /* is a fragment                            */
    int l4;                 /* transport header present (offset 0)      */
    uint32_t l4off;
    u128 src, dst;
    int tcp, udp, icmp, icmp6;
    uint32_t tcp_hlen;
    uint32_t pl_off, pl_len;    /* TCP/UDP payload                       */
} pview_t;

static void pparse(pview_t *v, const uint8_t *p, uint32_t len)
{
    memset(v, 0, sizeof *v);
    v->p = p; v->len = len;
    if (len < 1) return;
    if ((p[0] >> 4) == 4)
    {
        uint16_t fo;
        if (len < 20) return;
        v->ihl = (uint32_t)(p[0] & 0x0F) * 4;
        v->iplen = rd16(p + 2);
        if (v->ihl < 20 || v->ihl > len) return;
        v->ok = 1;
        v->end = v->iplen < len ? v->iplen : len;
        if (v->end < v->ihl) v->end = v->ihl;
        v->proto = v->nexthdr = p[9];
        v->src = v4_mapped(rd32(p + 12));
        v->dst = v4_mapped(rd32(p + 16));
        fo = rd16(p + 6);
        v->fragment = (fo & 0x3FFF) != 0;
        v->l4 = (fo & 0x1FFF) == 0;
        v->l4off = v->ihl;
    }
    else if ((p[0] >> 4) == 6)
    {
        uint8_t nh;
        uint32_t off = 40;
        if (len < 40) return;
        v->v6 = 1; v->ok = 1;
        v->iplen = 40u + rd16(p + 4);
        v->end = v->iplen < len ? v->iplen : len;
        v->ihl = 40;
        v->src = rd128(p + 8);
        v->dst = rd128(p + 24);
        nh = v->nexthdr = p[6];
        v->l4 = 1;
        for (int guard = 0; guard < 16; guard++)
        {
            if (nh == 0 || nh == 43 || nh == 60 || nh == 135)
            {
                if (off + 8 > v->end) { v->l4 = 0; break; }
                nh = p[off];
                off += (uint32_t)(p[off + 1] + 1) * 8;
            }
            else if (nh == 51)
            {
                if (off + 8 > v->end) { v->l4 = 0; break; }
                nh = p[off];
                off += (uint32_t)(p[off + 1] + 2) * 4;
            }
            else if (nh == 44)
            {
                if (off + 8 > v->end) { v->l4 = 0; break; }
                v->fragment = 1;
                if ((rd16(p + off + 2) & 0xFFF8) != 0) v->l4 = 0;
                nh = p[off];
                off += 8;
            }
            else break;
        }
        v->proto = nh;
        v->l4off = off;
    }
    else return;

    if (!v->l4 || v->l4off > v->end) { v->l4 = 0; return; }
    {
        uint32_t room = v->end - v->l4off;
        const uint8_t *t = p + v->l4off;
        if (v->proto == 6 && room >= 20)
        {
            uint32_t hl = (uint32_t)(t[12] >> 4) * 4;
            if (hl >= 20 && hl <= room)
            {
                v->tcp = 1; v->tcp_hlen = hl;
                v->pl_off = v->l4off + hl;
                v->pl_len = v->end - v->pl_off;
            }
        }
        else if (v->proto == 17 && room >= 8)
        {
            v->udp = 1;
            v->pl_off = v->l4off + 8;
            v->pl_len = v->end - v->pl_off;
        }
        else if (v->proto == 1 && !v->v6 && room >= 8) v->icmp = 1;
        else if (v->proto == 58 && v->v6 && room >= 8) v->icmp6 = 1;
    }
}

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t s)
{
    for (uint32_t i = 0; i + 1 < n; i += 2) s += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (n & 1) s += (uint32_t)(p[n - 1] << 8);
    return s;
}
static uint16_t fold(uint32_t s)
{
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}
/* checksum over the pseudo header + transport segment, with the checksum
 * field at 'csum_at' (offset in the segment) taken as zero. */
static uint16_t l4_csum(const pview_t *v, uint32_t csum_at)
{
    uint32_t s = 0, seglen = v->end - v->l4off;
    uint8_t tmp[2];
    if (v->v6) { s = sum16(v->p + 8, 32, s); s += seglen >> 16; s += seglen & 0xFFFF; s += v->proto; }
    else { s = sum16(v->p + 12, 8, s); s += v->proto; s += seglen; }
    s = sum16(v->p + v->l4off, csum_at, s);
    tmp[0] = tmp[1] = 0;
    s = sum16(tmp, 2, s);
    s = sum16(v->p + v->l4off + csum_at + 2, seglen - csum_at - 2, s);
    return fold(s);
}
static uint16_t ip_csum(const pview_t *v)
{
    uint32_t s = sum16(v->p, 10, 0);
    s = sum16(v->p + 12, v->ihl - 12, s);
    return fold(s);
}
/* -1 = n/a, 0 = wrong, 1 = right */
static int ip_csum_ok(const pview_t *v)
{
    if (!v->ok || v->v6) return -1;
    return ip_csum(v) == rd16(v->p + 10);
}
static int tcp_csum_ok(const pview_t *v)
{
    if (!v->tcp) return -1;
    return l4_csum(v, 16) == rd16(v->p + v->l4off + 16);
}
static int udp_csum_ok(const pview_t *v)
{
    uint16_t c;
    if (!v->udp) return -1;
    c = rd16(v->p + v->l4off + 6);
    if (c == 0 && !v->v6) return 1;     /* IPv4: no checksum */
    {
        uint16_t want = l4_csum(v, 6);
        if (want == 0) want = 0xFFFF;
        return want == c;
    }
}
/* fill in checksums in a writable packet */
static void fix_csums(uint8_t *p, uint32_t len, int ip, int tcp, int udp)
{
    pview_t v;
    pparse(&v, p, len);
    if (!v.ok) return;
    if (ip && !v.v6) { wr16(p + 10, 0); wr16(p + 10, ip_csum(&v)); }
    if (tcp && v.tcp && v.end == v.iplen) wr16(p + v.l4off + 16, l4_csum(&v, 16));
    if (udp && v.udp && v.end == v.iplen)
    {
        uint16_t c = l4_csum(&v, 6);
        wr16(p + v.l4off + 6, c ? c : 0xFFFF);
    }
}

static int is_loopback_addr(const pview_t *v)
{
    if (!v->ok) return 0;
    if (!v->v6)
        return ((v->src.lo >> 24) & 0xFF) == 127 || ((v->dst.lo >> 24) & 0xFF) == 127;
    return (v->src.hi == 0 && v->src.lo == 1) || (v->dst.hi == 0 && v->dst.lo == 1);
}

static void fmt_addr(char *out, size_t n, u128 a, int v6)
{
    if (!v6)
    {
        uint32_t x = (uint32_t)a.lo;
        snprintf(out, n, "%u.%u.%u.%u", (x >> 24) & 255, (x >> 16) & 255, (x >> 8) & 255, x & 255);
    }
    else
    {
        snprintf(out, n, "%x:%x:%x:%x:%x:%x:%x:%x",
            (unsigned)(a.hi >> 48) & 0xFFFF, (unsigned)(a.hi >> 32) & 0xFFFF,
            (unsigned)(a.hi >> 16) & 0xFFFF, (unsigned)a.hi & 0xFFFF,
            (unsigned)(a.lo >> 48) & 0xFFFF, (unsigned)(a.lo >> 32) & 0xFFFF,
            (unsigned)(a.lo >> 16) & 0xFFFF, (unsigned)a.lo & 0xFFFF);
    }
}

static void describe(char *out, size_t n, const pview_t *v)
{
    char s[64], d[64];
    if (!v->ok) { snprintf(out, n, "non-IP"); return; }
    fmt_addr(s, sizeof s, v->src, v->v6);
    fmt_addr(d, sizeof d, v->dst, v->v6);
    if (v->tcp)
    {
        const uint8_t *t = v->p + v->l4off;
        char fl[8];
        int k = 0;
        if (t[13] & 0x02) fl[k++] = 'S';
        if (t[13] & 0x10) fl[k++] = 'A';
        if (t[13] & 0x08) fl[k++] = 'P';
        if (t[13] & 0x01) fl[k++] = 'F';
        if (t[13] & 0x04) fl[k++] = 'R';
        fl[k] = '\0';
        snprintf(out, n, "%s %s:%u > %s:%u tcp [%s] seq=%lu payload=%lu",
            v->v6 ? "IPv6" : "IPv4", s, rd16(t), d, rd16(t + 2), fl,
            (unsigned long)rd32(t + 4), (unsigned long)v->pl_len);
    }
    else if (v->udp)
        snprintf(out, n, "%s %s:%u > %s:%u udp payload=%lu", v->v6 ? "IPv6" : "IPv4",
            s, rd16(v->p + v->l4off), d, rd16(v->p + v->l4off + 2), (unsigned long)v->pl_len);
    else
        snprintf(out, n, "%s %s > %s proto %u", v->v6 ? "IPv6" : "IPv4", s, d, v->proto);
}

/* ======================================================================== */
/* address literal parsing (filter language and FAKE_WINDIVERT_LOCAL)       */
/* ======================================================================== */

static int parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++)
    {
        uint32_t part = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9')
        {
            part = part * 10 + (uint32_t)(*s - '0');
            if (part > 255) return 0;
            s++; digits++;
        }
        if (!digits) return 0;
        a = (a << 8) | part;
        if (i < 3 && *s++ != '.') return 0;
    }
    if (*s) return 0;
    *out = a;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_ipv6(const char *s, u128 *out)
{
    uint16_t w[8] = {0};
    int n = 0, gap = -1;
    const char *p = s;
    if (p[0] == ':')
    {
        if (p[1] != ':') return 0;
        gap = 0; p += 2;
        if (*p == '\0') goto done;
    }
    while (*p)
    {
        const char *q = p;
        uint32_t v = 0;
        int digits = 0;
        uint32_t v4;
        /* dotted IPv4 tail */
        {
            const char *dot = p;
            while (*dot && *dot != ':' && *dot != '.') dot++;
            if (*dot == '.')
            {
                if (n > 6 || !parse_ipv4(p, &v4)) return 0;
                w[n++] = (uint16_t)(v4 >> 16);
                w[n++] = (uint16_t)v4;
                p += strlen(p);
                break;
            }
        }
        while (hexval(*q) >= 0 && digits < 5) { v = (v << 4) | (uint32_t)hexval(*q); q++; digits++; }
        if (digits == 0 || digits > 4 || n >= 8) return 0;
        w[n++] = (uint16_t)v;
        p = q;
        if (*p == '\0') break;
        if (*p != ':') return 0;
        p++;
        if (*p == ':')
        {
            if (gap >= 0) return 0;
            gap = n; p++;
            if (*p == '\0') break;
        }
        else if (*p == '\0') return 0;
    }
done:
    if (gap >= 0)
    {
        int tail = n - gap;
        if (n >= 8) return 0;
        memmove(w + 8 - tail, w + gap, (size_t)tail * sizeof w[0]);
        for (int i = gap; i < 8 - tail; i++) w[i] = 0;
    }
    else if (n != 8) return 0;
    out->hi = ((uint64_t)w[0] << 48) | ((uint64_t)w[1] << 32) | ((uint64_t)w[2] << 16) | w[3];
    out->lo = ((uint64_t)w[4] << 48) | ((uint64_t)w[5] << 32) | ((uint64_t)w[6] << 16) | w[7];
    return 1;
}

/* ======================================================================== */
/* filter language (the subset of WinDivert 2.2 a network-layer program     */
/* needs; grammar and rules as documented in section 7 of the manual)       */
/* ======================================================================== */

enum
{
    LN = 1 << WINDIVERT_LAYER_NETWORK, LF = 1 << WINDIVERT_LAYER_NETWORK_FORWARD,
    LW = 1 << WINDIVERT_LAYER_FLOW, LS = 1 << WINDIVERT_LAYER_SOCKET,
    LR = 1 << WINDIVERT_LAYER_REFLECT, LALL = LN | LF | LW | LS | LR
};

enum fld
{
    F_NONE, F_ZERO, F_TRUE, F_FALSE, F_TIMESTAMP, F_EVENT, F_OUTBOUND, F_INBOUND,
    F_IFIDX, F_SUBIFIDX, F_LOOPBACK, F_IMPOSTOR, F_FRAGMENT, F_LENGTH,
    F_IP, F_IPV6, F_ICMP, F_ICMPV6, F_TCP, F_UDP, F_PROTOCOL,
    F_LOCALADDR, F_REMOTEADDR, F_LOCALPORT, F_REMOTEPORT,
    F_RANDOM8, F_RANDOM16, F_RANDOM32, F_PACKET, F_PACKET16, F_PACKET32,
    F_IP_HDRLENGTH, F_IP_TOS, F_IP_LENGTH, F_IP_ID, F_IP_DF, F_IP_MF, F_IP_FRAGOFF,
    F_IP_TTL, F_IP_PROTOCOL, F_IP_CHECKSUM, F_IP_SRCADDR, F_IP_DSTADDR,
    F_IPV6_TRAFFICCLASS, F_IPV6_FLOWLABEL, F_IPV6_LENGTH, F_IPV6_NEXTHDR,
    F_IPV6_HOPLIMIT, F_IPV6_SRCADDR, F_IPV6_DSTADDR,
    F_ICMP_TYPE, F_ICMP_CODE, F_ICMP_CHECKSUM, F_ICMP_BODY,
    F_ICMPV6_TYPE, F_ICMPV6_CODE, F_ICMPV6_CHECKSUM, F_ICMPV6_BODY,
    F_TCP_SRCPORT, F_TCP_DSTPORT, F_TCP_SEQNUM, F_TCP_ACKNUM, F_TCP_HDRLENGTH,
    F_TCP_URG, F_TCP_ACK, F_TCP_PSH, F_TCP_RST, F_TCP_SYN, F_TCP_FIN, F_TCP_WINDOW,
    F_TCP_CHECKSUM, F_TCP_URGPTR, F_TCP_PAYLOADLENGTH, F_TCP_PAYLOAD, F_TCP_PAYLOAD16,
    F_TCP_PAYLOAD32,
    F_UDP_SRCPORT, F_UDP_DSTPORT, F_UDP_LENGTH, F_UDP_CHECKSUM, F_UDP_PAYLOADLENGTH,
    F_UDP_PAYLOAD, F_UDP_PAYLOAD16, F_UDP_PAYLOAD32,
    /* valid words that a network-layer handle can never use */
    F_PROCESSID, F_ENDPOINTID, F_PARENTENDPOINTID, F_LAYER, F_PRIORITY
};

/* value ranges, used for the compile-time folding WinDivert performs */
enum rng { R_BOOL, R_4BIT, R_8, R_13, R_16, R_20, R_32, R_LEN, R_V4ADDR, R_128, R_64, R_TS, R_PRIO, R_CONST0, R_CONST1, R_EVENT, R_LAYER };

typedef struct
{
    const char *name;
    int field;
    int layers;
    int rng;
    int array;          /* word size for packet[]-style fields, else 0 */
} fieldinfo_t;

static const fieldinfo_t g_fields[] =
{
    {"zero", F_ZERO, LALL, R_CONST0, 0},
    {"true", F_TRUE, LALL, R_CONST1, 0},
    {"false", F_FALSE, LALL, R_CONST0, 0},
    {"timestamp", F_TIMESTAMP, LALL, R_TS, 0},
    {"event", F_EVENT, LALL, R_EVENT, 0},
    {"outbound", F_OUTBOUND, LN | LW, R_BOOL, 0},
    {"inbound", F_INBOUND, LN | LW, R_BOOL, 0},
    {"fragment", F_FRAGMENT, LN | LF, R_BOOL, 0},
    {"ifIdx", F_IFIDX, LN | LF, R_32, 0},
    {"subIfIdx", F_SUBIFIDX, LN | LF, R_32, 0},
    {"loopback", F_LOOPBACK, LN | LW | LS, R_32, 0},
    {"impostor", F_IMPOSTOR, LN | LF, R_32, 0},
    {"length", F_LENGTH, LN | LF, R_LEN, 0},
    {"ip", F_IP, LN | LF | LW | LS, R_BOOL, 0},
    {"ipv6", F_IPV6, LN | LF | LW | LS, R_BOOL, 0},
    {"icmp", F_ICMP, LN | LF | LW | LS, R_BOOL, 0},
    {"icmpv6", F_ICMPV6, LN | LF | LW | LS, R_BOOL, 0},
    {"tcp", F_TCP, LN | LF | LW | LS, R_BOOL, 0},
    {"udp", F_UDP, LN | LF | LW | LS, R_BOOL, 0},
    {"protocol", F_PROTOCOL, LN | LW | LS, R_8, 0},
    {"localAddr", F_LOCALADDR, LN | LW | LS, R_128, 0},
    {"remoteAddr", F_REMOTEADDR, LN | LW | LS, R_128, 0},
    {"localPort", F_LOCALPORT, LN | LW | LS, R_16, 0},
    {"remotePort", F_REMOTEPORT, LN | LW | LS, R_16, 0},
    {"random8", F_RANDOM8, LN | LF, R_8, 0},
    {"random16", F_RANDOM16, LN | LF, R_16, 0},
    {"random32", F_RANDOM32, LN | LF, R_32, 0},
    {"packet", F_PACKET, LN | LF, R_8, 1},
    {"packet16", F_PACKET16, LN | LF, R_16, 2},
    {"packet32", F_PACKET32, LN | LF, R_32, 4},
    {"ip.HdrLength", F_IP_HDRLENGTH, LN | LF, R_4BIT, 0},
    {"ip.TOS", F_IP_TOS, LN | LF, R_16, 0},
    {"ip.Length", F_IP_LENGTH, LN | LF, R_16, 0},
    {"ip.Id", F_IP_ID, LN | LF, R_16, 0},
    {"ip.DF", F_IP_DF, LN | LF, R_BOOL, 0},
    {"ip.MF", F_IP_MF, LN | LF, R_BOOL, 0},
    {"ip.FragOff", F_IP_FRAGOFF, LN | LF, R_13, 0},
    {"ip.TTL", F_IP_TTL, LN | LF, R_8, 0},
    {"ip.Protocol", F_IP_PROTOCOL, LN | LF, R_8, 0},
    {"ip.Checksum", F_IP_CHECKSUM, LN | LF, R_16, 0},
    {"ip.SrcAddr", F_IP_SRCADDR, LN | LF, R_V4ADDR, 0},
    {"ip.DstAddr", F_IP_DSTADDR, LN | LF, R_V4ADDR, 0},
    {"ipv6.TrafficClass", F_IPV6_TRAFFICCLASS, LN | LF, R_8, 0},
    {"ipv6.FlowLabel", F_IPV6_FLOWLABEL, LN | LF, R_20, 0},
    {"ipv6.Length", F_IPV6_LENGTH, LN | LF, R_16, 0},
    {"ipv6.NextHdr", F_IPV6_NEXTHDR, LN | LF, R_8, 0},
    {"ipv6.HopLimit", F_IPV6_HOPLIMIT, LN | LF, R_8, 0},
    {"ipv6.SrcAddr", F_IPV6_SRCADDR, LN | LF, R_128, 0},
    {"ipv6.DstAddr", F_IPV6_DSTADDR, LN | LF, R_128, 0},
    {"icmp.Type", F_ICMP_TYPE, LN | LF, R_8, 0},
    {"icmp.Code", F_ICMP_CODE, LN | LF, R_8, 0},
    {"icmp.Checksum", F_ICMP_CHECKSUM, LN | LF, R_16, 0},
    {"icmp.Body", F_ICMP_BODY, LN | LF, R_32, 0},
    {"icmpv6.Type", F_ICMPV6_TYPE, LN | LF, R_8, 0},
    {"icmpv6.Code", F_ICMPV6_CODE, LN | LF, R_8, 0},
    {"icmpv6.Checksum", F_ICMPV6_CHECKSUM, LN | LF, R_16, 0},
    {"icmpv6.Body", F_ICMPV6_BODY, LN | LF, R_32, 0},
    {"tcp.SrcPort", F_TCP_SRCPORT, LN | LF, R_16, 0},
    {"tcp.DstPort", F_TCP_DSTPORT, LN | LF, R_16, 0},
    {"tcp.SeqNum", F_TCP_SEQNUM, LN | LF, R_32, 0},
    {"tcp.AckNum", F_TCP_ACKNUM, LN | LF, R_32, 0},
    {"tcp.HdrLength", F_TCP_HDRLENGTH, LN | LF, R_4BIT, 0},
    {"tcp.Urg", F_TCP_URG, LN | LF, R_BOOL, 0},
    {"tcp.Ack", F_TCP_ACK, LN | LF, R_BOOL, 0},
    {"tcp.Psh", F_TCP_PSH, LN | LF, R_BOOL, 0},
    {"tcp.Rst", F_TCP_RST, LN | LF, R_BOOL, 0},
    {"tcp.Syn", F_TCP_SYN, LN | LF, R_BOOL, 0},
    {"tcp.Fin", F_TCP_FIN, LN | LF, R_BOOL, 0},
    {"tcp.Window", F_TCP_WINDOW, LN | LF, R_16, 0},
    {"tcp.Checksum", F_TCP_CHECKSUM, LN | LF, R_16, 0},
    {"tcp.UrgPtr", F_TCP_URGPTR, LN | LF, R_16, 0},
    {"tcp.PayloadLength", F_TCP_PAYLOADLENGTH, LN | LF, R_16, 0},
    {"tcp.Payload", F_TCP_PAYLOAD, LN | LF, R_8, 1},
    {"tcp.Payload16", F_TCP_PAYLOAD16, LN | LF, R_16, 2},
    {"tcp.Payload32", F_TCP_PAYLOAD32, LN | LF, R_32, 4},
    {"udp.SrcPort", F_UDP_SRCPORT, LN | LF, R_16, 0},
    {"udp.DstPort", F_UDP_DSTPORT, LN | LF, R_16, 0},
    {"udp.Length", F_UDP_LENGTH, LN | LF, R_16, 0},
    {"udp.Checksum", F_UDP_CHECKSUM, LN | LF, R_16, 0},
    {"udp.PayloadLength", F_UDP_PAYLOADLENGTH, LN | LF, R_16, 0},
    {"udp.Payload", F_UDP_PAYLOAD, LN | LF, R_8, 1},
    {"udp.Payload16", F_UDP_PAYLOAD16, LN | LF, R_16, 2},
    {"udp.Payload32", F_UDP_PAYLOAD32, LN | LF, R_32, 4},
    {"processId", F_PROCESSID, LW | LS | LR, R_32, 0},
    {"endpointId", F_ENDPOINTID, LW | LS, R_64, 0},
    {"parentEndpointId", F_PARENTENDPOINTID, LW | LS, R_64, 0},
    {"layer", F_LAYER, LR, R_LAYER, 0},
    {"priority", F_PRIORITY, LR, R_PRIO, 0},
};

typedef struct { const char *name; int layers; uint32_t value; } macroinfo_t;
static const macroinfo_t g_macros[] =
{
    {"TRUE", LALL, 1}, {"FALSE", LALL, 0}, {"TCP", LALL, 6}, {"UDP", LALL, 17},
    {"ICMP", LALL, 1}, {"ICMPV6", LALL, 58},
    {"PACKET", LN | LF, WINDIVERT_EVENT_NETWORK_PACKET},
    {"ESTABLISHED", LW, WINDIVERT_EVENT_FLOW_ESTABLISHED},
    {"DELETED", LW, WINDIVERT_EVENT_FLOW_DELETED},
    {"BIND", LS, WINDIVERT_EVENT_SOCKET_BIND},
    {"CONNECT", LS, WINDIVERT_EVENT_SOCKET_CONNECT},
    {"LISTEN", LS, WINDIVERT_EVENT_SOCKET_LISTEN},
    {"ACCEPT", LS, WINDIVERT_EVENT_SOCKET_ACCEPT},
    {"CLOSE", LS | LR, 0xFFFFFFFFu /* layer dependent */},
    {"OPEN", LR, WINDIVERT_EVENT_REFLECT_OPEN},
    {"NETWORK", LR, WINDIVERT_LAYER_NETWORK},
    {"NETWORK_FORWARD", LR, WINDIVERT_LAYER_NETWORK_FORWARD},
    {"FLOW", LR, WINDIVERT_LAYER_FLOW},
    {"SOCKET", LR, WINDIVERT_LAYER_SOCKET},
    {"REFLECT", LR, WINDIVERT_LAYER_REFLECT},
};

enum tk
{
    T_END, T_OPEN, T_CLOSE, T_SQ_OPEN, T_SQ_CLOSE, T_MINUS, T_BYTES, T_NOT, T_AND, T_OR,
    T_EQ, T_NEQ, T_LT, T_LEQ, T_GT, T_GEQ, T_COLON, T_QUESTION, T_NUMBER, T_FIELD
};

typedef struct { int kind; int pos; int field; u128 val; } token_t;

enum nk { N_CONST, N_TEST, N_AND, N_OR, N_IF };

typedef struct fnode
{
    int kind;
    int cval;                   /* N_CONST: 0/1                         */
    struct fnode *a, *b, *c;
    int field, op, neg;         /* N_TEST: field op (neg)val             */
    u128 val;
    int32_t idx;                /* array fields: signed byte offset      */
    int asize;
} fnode_t;

typedef struct
{
    const char *src;
    token_t *tk;
    int ntk, i;
    WINDIVERT_LAYER layer;
    int err;
    int errpos;
    char msg[256];
    int leaves;
    int lenient_used;
} fparse_t;

static void ferr(fparse_t *P, int pos, const char *fmt, ...)
{
    va_list ap;
    if (P->err) return;
    P->err = 1;
    P->errpos = pos;
    va_start(ap, fmt);
    vsnprintf(P->msg, sizeof P->msg, fmt, ap);
    va_end(ap);
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '.' || c == ':' || c == '_';
}

static int parse_dec128(const char *s, u128 *out, const char **end)
{
    uint32_t w[4] = {0, 0, 0, 0};       /* w[0] least significant */
    int digits = 0;
    while (*s >= '0' && *s <= '9')
    {
        uint64_t carry = (uint64_t)(*s - '0');
        for (int k = 0; k < 4; k++)
        {
            uint64_t x = (uint64_t)w[k] * 10 + carry;
            w[k] = (uint32_t)x;
            carry = x >> 32;
        }
        if (carry) return 0;            /* does not fit in 128 bits */
        s++; digits++;
    }
    if (!digits) return 0;
    out->hi = ((uint64_t)w[3] << 32) | w[2];
    out->lo = ((uint64_t)w[1] << 32) | w[0];
    *end = s;
    return 1;
}

static int parse_hex128(const char *s, u128 *out)
{
    u128 v = {0, 0};
    int digits = 0;
    while (*s)
    {
        int h = hexval(*s);
        if (h < 0) return 0;
        if (v.hi >> 60) return 0;
        v.hi = (v.hi << 4) | (v.lo >> 60);
        v.lo = (v.lo << 4) | (uint64_t)h;
        s++; digits++;
    }
    if (!digits) return 0;
    *out = v;
    return 1;
}

static int tokenize(fparse_t *P)
{
    const char *f = P->src;
    int i = 0, cap = 64;
    P->tk = (token_t *)malloc((size_t)cap * sizeof(token_t));
    P->ntk = 0;
    for (;;)
    {
        token_t t;
        char c;
        memset(&t, 0, sizeof t);
        if (P->ntk >= FILTER_MAX_TOKENS - 1)
        {
            ferr(P, i, "filter too long (more than %d tokens)", FILTER_MAX_TOKENS);
            return 0;
        }
        while (f[i] == ' ' || f[i] == '\t' || f[i] == '\n' || f[i] == '\r' || f[i] == '\f' || f[i] == '\v') i++;
        t.pos = i;
        c = f[i++];
        switch (c)
        {
        case '\0': t.kind = T_END; break;
        case '(': t.kind = T_OPEN; break;
        case ')': t.kind = T_CLOSE; break;
        case '[': t.kind = T_SQ_OPEN; break;
        case ']': t.kind = T_SQ_CLOSE; break;
        case '-': t.kind = T_MINUS; break;
        case '?': t.kind = T_QUESTION; break;
        case '!': if (f[i] == '=') { i++; t.kind = T_NEQ; } else t.kind = T_NOT; break;
        case '=': if (f[i] == '=') i++; t.kind = T_EQ; break;
        case '<': if (f[i] == '=') { i++; t.kind = T_LEQ; } else t.kind = T_LT; break;
        case '>': if (f[i] == '=') { i++; t.kind = T_GEQ; } else t.kind = T_GT; break;
        case '&':
            if (f[i] != '&') { ferr(P, i - 1, "bad token '&' (use && or and)"); return 0; }
            i++; t.kind = T_AND; break;
        case '|':
            if (f[i] != '|') { ferr(P, i - 1, "bad token '|' (use || or or)"); return 0; }
            i++; t.kind = T_OR; break;
        case ':':
            if (f[i] != ':') { t.kind = T_COLON; break; }
            /* "::..." starts an IPv6 literal */
            __attribute__((fallthrough));
        default:
        {
            char word[FILTER_TOKEN_MAXLEN];
            int j = 0, start = i - 1;
            const char *end;
            size_t k;
            if (!is_word_char(c)) { ferr(P, start, "bad character '%c'", c); return 0; }
            word[j++] = c;
            while (is_word_char(f[i]))
            {
                if (j >= FILTER_TOKEN_MAXLEN - 1) { ferr(P, start, "token too long (max %d characters)", FILTER_TOKEN_MAXLEN - 1); return 0; }
                word[j++] = f[i++];
            }
            word[j] = '\0';
            /* a single trailing ':' belongs to the ?: operator */
            if (j >= 1 && word[j - 1] == ':' && (j == 1 || word[j - 2] != ':'))
            {
                word[--j] = '\0';
                i--;
            }
            if (!strcmp(word, "and")) { t.kind = T_AND; break; }
            if (!strcmp(word, "or")) { t.kind = T_OR; break; }
            if (!strcmp(word, "not")) { t.kind = T_NOT; break; }
            for (k = 0; k < sizeof g_fields / sizeof g_fields[0]; k++)
                if (!strcmp(word, g_fields[k].name)) break;
            if (k < sizeof g_fields / sizeof g_fields[0])
            {
                if (!(g_fields[k].layers & (1 << P->layer)))
                { ferr(P, start, "field '%s' is not valid at this layer", word); return 0; }
                t.kind = T_FIELD; t.field = (int)k;
                break;
            }
            for (k = 0; k < sizeof g_macros / sizeof g_macros[0]; k++)
                if (!strcmp(word, g_macros[k].name)) break;
            if (k < sizeof g_macros / sizeof g_macros[0])
            {
                uint32_t v = g_macros[k].value;
                if (!(g_macros[k].layers & (1 << P->layer)))
                { ferr(P, start, "macro '%s' is not valid at this layer", word); return 0; }
                if (v == 0xFFFFFFFFu)
                    v = P->layer == WINDIVERT_LAYER_SOCKET ? WINDIVERT_EVENT_SOCKET_CLOSE : WINDIVERT_EVENT_REFLECT_CLOSE;
                t.kind = T_NUMBER; t.val = u128_make(0, v);
                break;
            }
            if (!strcmp(word, "b")) { t.kind = T_BYTES; break; }
            if (parse_dec128(word, &t.val, &end) && (*end == '\0' || (end[0] == 'b' && end[1] == '\0')))
            {
                t.kind = T_NUMBER;
                if (*end == 'b')
                {
                    /* "10b": number then a BYTES token */
                    if (P->ntk + 2 >= cap) { cap *= 2; P->tk = (token_t *)realloc(P->tk, (size_t)cap * sizeof(token_t)); }
                    P->tk[P->ntk++] = t;
                    memset(&t, 0, sizeof t);
                    t.kind = T_BYTES; t.pos = start;
                }
                break;
            }
            if (word[0] == '0' && word[1] == 'x' && parse_hex128(word + 2, &t.val)) { t.kind = T_NUMBER; break; }
            {
                uint32_t a4;
                if (parse_ipv4(word, &a4)) { t.kind = T_NUMBER; t.val = v4_mapped(a4); break; }
            }
            if (parse_ipv6(word, &t.val)) { t.kind = T_NUMBER; break; }
            ferr(P, start, "unknown field or bad value '%s' (names are case-sensitive)", word);
            return 0;
        }
        }
        if (P->ntk + 2 >= cap) { cap *= 2; P->tk = (token_t *)realloc(P->tk, (size_t)cap * sizeof(token_t)); }
        P->tk[P->ntk++] = t;
        if (t.kind == T_END) return 1;
    }
}

static fnode_t *node_new(int kind)
{
    fnode_t *n = (fnode_t *)calloc(1, sizeof *n);
    n->kind = kind;
    return n;
}

static void node_free(fnode_t *n)
{
    if (!n) return;
    node_free(n->a); node_free(n->b); node_free(n->c);
    free(n);
}

/* field range for compile-time folding; lb/ub with signs */
static void field_range(int rng, int *neg_lb, u128 *lb, u128 *ub, int *exact)
{
    *neg_lb = 0; *exact = 0;
    *lb = u128_make(0, 0);
    switch (rng)
    {
    case R_CONST0: *ub = u128_make(0, 0); *exact = 1; break;
    case R_CONST1: *lb = *ub = u128_make(0, 1); *exact = 1; break;
    case R_BOOL: *ub = u128_make(0, 1); break;
    case R_4BIT: *ub = u128_make(0, 0x0F); break;
    case R_8: *ub = u128_make(0, 0xFF); break;
    case R_13: *ub = u128_make(0, 0x1FFF); break;
    case R_16: *ub = u128_make(0, 0xFFFF); break;
    case R_20: *ub = u128_make(0, 0xFFFFF); break;
    case R_32: *ub = u128_make(0, 0xFFFFFFFFu); break;
    case R_EVENT: *ub = u128_make(0, WINDIVERT_EVENT_REFLECT_CLOSE); break;
    case R_LAYER: *ub = u128_make(0, WINDIVERT_LAYER_REFLECT); break;
    case R_LEN: *lb = u128_make(0, 20); *ub = u128_make(0, WINDIVERT_MTU_MAX); break;
    case R_V4ADDR: *lb = u128_make(0, 0x0000FFFF00000000ULL); *ub = u128_make(0, 0x0000FFFFFFFFFFFFULL); break;
    case R_64: *ub = u128_make(0, UINT64_MAX); break;
    case R_TS: *neg_lb = 1; *lb = u128_make(0, 0x8000000000000000ULL); *ub = u128_make(0, 0x7FFFFFFFFFFFFFFFULL); break;
    case R_PRIO: *neg_lb = 1; *lb = *ub = u128_make(0, WINDIVERT_PRIORITY_HIGHEST); break;
    default: *ub = u128_make(UINT64_MAX, UINT64_MAX); break;
    }
}

/* returns 1 and sets *res if the test's result is known at compile time */
static int fold_test(const fnode_t *t, int rng, int *res)
{
    int neg_lb, exact;
    u128 lb, ub;
    int clb, cub;
    field_range(rng, &neg_lb, &lb, &ub, &exact);
    clb = s128_cmp(t->neg, t->val, neg_lb, lb);
    cub = s128_cmp(t->neg, t->val, 0, ub);
    switch (t->op)
    {
    case T_EQ:
        if (clb < 0 || cub > 0) { *res = 0; return 1; }
        if (exact && clb == 0) { *res = 1; return 1; }
        return 0;
    case T_NEQ:
        if (clb < 0 || cub > 0) { *res = 1; return 1; }
        if (exact && clb == 0) { *res = 0; return 1; }
        return 0;
    case T_LT:
        if (cub > 0) { *res = 1; return 1; }
        if (clb <= 0) { *res = 0; return 1; }
        return 0;
    case T_LEQ:
        if (cub >= 0) { *res = 1; return 1; }
        if (clb < 0) { *res = 0; return 1; }
        return 0;
    case T_GT:
        if (cub >= 0) { *res = 0; return 1; }
        if (clb < 0) { *res = 1; return 1; }
        return 0;
    case T_GEQ:
        if (cub > 0) { *res = 0; return 1; }
        if (clb <= 0) { *res = 1; return 1; }
        return 0;
    }
    return 0;
}

static fnode_t *p_filter(fparse_t *P, int depth, int and_mode);

static token_t *cur(fparse_t *P) { return &P->tk[P->i]; }

static const char *tok_name(int k)
{
    static const char *names[] = {"end of filter", "'('", "')'", "'['", "']'", "'-'", "'b'",
        "'not'", "'and'", "'or'", "'=='", "'!='", "'<'", "'<='", "'>'", "'>='", "':'", "'?'",
        "number", "field"};
    return (k >= 0 && k < (int)(sizeof names / sizeof names[0])) ? names[k] : "?";
}

static fnode_t *p_test(fparse_t *P, int depth)
{
    int notc = 0;
    const fieldinfo_t *fi;
    fnode_t *n;
    while (cur(P)->kind == T_NOT) { notc = !notc; P->i++; }
    if (cur(P)->kind == T_OPEN && P->i > 0 && P->tk[P->i - 1].kind == T_NOT)
    {
        if (cfg.lenient)
        {
            /* non-standard: negated group, evaluated with De Morgan */
            fnode_t *g;
            P->lenient_used = 1;
            P->i++;
            g = p_filter(P, depth - 1, 0);
            if (!g) return NULL;
            if (cur(P)->kind != T_CLOSE) { ferr(P, cur(P)->pos, "expected ')', found %s", tok_name(cur(P)->kind)); node_free(g); return NULL; }
            P->i++;
            if (notc)
            {
                n = node_new(N_IF);             /* (g ? false : true) */
                n->a = g;
                n->b = node_new(N_CONST); n->b->cval = 0;
                n->c = node_new(N_CONST); n->c->cval = 1;
                return n;
            }
            return g;
        }
        ferr(P, cur(P)->pos,
            "unexpected '(' after not/!: WinDivert 2.2 allows not/! only directly before a "
            "field (write e.g. \"(ifIdx != N or subIfIdx != M)\" instead of "
            "\"not (ifIdx == N and subIfIdx == M)\")");
        return NULL;
    }
    if (cur(P)->kind != T_FIELD)
    {
        ferr(P, cur(P)->pos, "unexpected %s, expected a field", tok_name(cur(P)->kind));
        return NULL;
    }
    fi = &g_fields[cur(P)->field];
    P->i++;
    n = node_new(N_TEST);
    n->field = fi->field;
    n->asize = fi->array;
    if (fi->array)
    {
        int neg = 0;
        u128 v;
        uint64_t idx;
        if (cur(P)->kind != T_SQ_OPEN) { ferr(P, cur(P)->pos, "expected '[' after %s", fi->name); goto bad; }
        P->i++;
        if (cur(P)->kind == T_MINUS) { neg = 1; P->i++; }
        if (cur(P)->kind != T_NUMBER) { ferr(P, cur(P)->pos, "expected an index"); goto bad; }
        v = cur(P)->val;
        if (v.hi || v.lo > WINDIVERT_MTU_MAX) { ferr(P, cur(P)->pos, "index out of bounds"); goto bad; }
        idx = v.lo;
        P->i++;
        if (cur(P)->kind == T_BYTES) P->i++;
        else idx *= (uint64_t)fi->array;
        if ((!neg && idx > 0xFFFFu - (uint64_t)fi->array) || (neg && idx > 0xFFFFu) ||
            (neg && idx < (uint64_t)fi->array))
        { ferr(P, cur(P)->pos, "index out of bounds"); goto bad; }
        n->idx = neg ? -(int32_t)idx : (int32_t)idx;
        if (cur(P)->kind != T_SQ_CLOSE) { ferr(P, cur(P)->pos, "expected ']'"); goto bad; }
        P->i++;
    }
    switch (cur(P)->kind)
    {
    case T_EQ: case T_NEQ: case T_LT: case T_LEQ: case T_GT: case T_GEQ:
        n->op = cur(P)->kind;
        P->i++;
        break;
    default:
        n->op = notc ? T_EQ : T_NEQ;    /* "field" is "field != 0" */
        n->val = u128_make(0, 0);
        goto folded;
    }
    if (notc)
    {
        static const int flip[] = {[T_EQ] = T_NEQ, [T_NEQ] = T_EQ, [T_LT] = T_GEQ,
            [T_LEQ] = T_GT, [T_GT] = T_LEQ, [T_GEQ] = T_LT};
        n->op = flip[n->op];
    }
    if (cur(P)->kind == T_MINUS) { n->neg = 1; P->i++; }
    if (cur(P)->kind != T_NUMBER)
    {
        ferr(P, cur(P)->pos, "unexpected %s, expected a value", tok_name(cur(P)->kind));
        goto bad;
    }
    n->val = cur(P)->val;
    P->i++;
folded:
    {
        int res;
        if (fold_test(n, fi->rng, &res))
        {
            n->kind = N_CONST;
            n->cval = res;
        }
        else
            P->leaves++;
    }
    return n;
bad:
    node_free(n);
    return NULL;
}

static fnode_t *p_arg(fparse_t *P, int depth)
{
    fnode_t *a, *th, *el, *n;
    if (depth-- < 0) { ferr(P, cur(P)->pos, "filter nested too deeply"); return NULL; }
    if (cur(P)->kind != T_OPEN) return p_test(P, depth);
    P->i++;
    a = p_filter(P, depth, 0);
    if (!a) return NULL;
    if (cur(P)->kind == T_CLOSE) { P->i++; return a; }
    if (cur(P)->kind != T_QUESTION)
    {
        ferr(P, cur(P)->pos, "unexpected %s, expected ')'", tok_name(cur(P)->kind));
        node_free(a); return NULL;
    }
    P->i++;
    th = p_filter(P, depth, 0);
    if (!th) { node_free(a); return NULL; }
    if (cur(P)->kind != T_COLON)
    {
        ferr(P, cur(P)->pos, "unexpected %s, expected ':'", tok_name(cur(P)->kind));
        node_free(a); node_free(th); return NULL;
    }
    P->i++;
    el = p_filter(P, depth, 0);
    if (!el) { node_free(a); node_free(th); return NULL; }
    if (cur(P)->kind != T_CLOSE)
    {
        ferr(P, cur(P)->pos, "unexpected %s, expected ')'", tok_name(cur(P)->kind));
        node_free(a); node_free(th); node_free(el); return NULL;
    }
    P->i++;
    n = node_new(N_IF);
    n->a = a; n->b = th; n->c = el;
    return n;
}

/* same shape as the documented grammar: "and" binds tighter than "or" */
static fnode_t *p_filter(fparse_t *P, int depth, int and_mode)
{
    fnode_t *e, *arg, *n;
    if (depth-- < 0) { ferr(P, cur(P)->pos, "filter nested too deeply"); return NULL; }
    e = and_mode ? p_arg(P, depth) : p_filter(P, depth, 1);
    for (;;)
    {
        if (!e) return NULL;
        if (cur(P)->kind == T_AND)
        {
            P->i++;
            arg = p_arg(P, depth);
            if (!arg) { node_free(e); return NULL; }
            n = node_new(N_AND); n->a = e; n->b = arg; e = n;
        }
        else if (cur(P)->kind == T_OR)
        {
            P->i++;
            arg = p_filter(P, depth, 1);
            if (!arg) { node_free(e); return NULL; }
            n = node_new(N_OR); n->a = e; n->b = arg; e = n;
        }
        else
            return e;
    }
}

/* compile; returns NULL and fills P->msg on error */
static fnode_t *filter_compile(const char *filter, WINDIVERT_LAYER layer, fparse_t *P)
{
    fnode_t *root;
    memset(P, 0, sizeof *P);
    P->src = filter;
    P->layer = layer;
    if (!tokenize(P)) { free(P->tk); return NULL; }
    root = p_filter(P, FILTER_MAX_DEPTH, 0);
    if (root && cur(P)->kind != T_END)
    {
        ferr(P, cur(P)->pos, "unexpected %s after the end of the expression", tok_name(cur(P)->kind));
        node_free(root);
        root = NULL;
    }
    if (root && P->leaves > FILTER_MAX_OBJECTS)
    {
        ferr(P, 0, "filter too long (%d tests, at most %d)", P->leaves, FILTER_MAX_OBJECTS);
        node_free(root);
        root = NULL;
    }
    free(P->tk);
    P->tk = NULL;
    return root;
}

static int uses_field(const fnode_t *n, int f)
{
    if (!n) return 0;
    if (n->kind == N_TEST && n->field == f) return 1;
    return uses_field(n->a, f) || uses_field(n->b, f) || uses_field(n->c, f);
}

/* ---- evaluation ---------------------------------------------------------- */

typedef struct
{
    const pview_t *v;
    const WINDIVERT_ADDRESS *a;
} fctx_t;

static uint32_t fnv32(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

static int array_word(const uint8_t *base, uint32_t len, int32_t idx, int size, u128 *out)
{
    int64_t off = idx >= 0 ? idx : (int64_t)len + idx;
    uint64_t w = 0;
    if (off < 0 || off + size > (int64_t)len) return 0;
    for (int i = 0; i < size; i++) w = (w << 8) | base[off + i];
    *out = u128_make(0, w);
    return 1;
}

/* value of a field; 0 if the field is not present in this packet */
static int field_value(const fctx_t *C, const fnode_t *n, u128 *out)
{
    const pview_t *v = C->v;
    const uint8_t *p = v->p;
    const uint8_t *t = v->p + v->l4off;
    uint64_t x = 0;
    switch (n->field)
    {
    case F_ZERO: case F_FALSE: x = 0; break;
    case F_TRUE: x = 1; break;
    case F_TIMESTAMP: x = (uint64_t)C->a->Timestamp; break;
    case F_EVENT: x = C->a->Event; break;
    case F_OUTBOUND: x = C->a->Outbound; break;
    case F_INBOUND: x = !C->a->Outbound; break;
    case F_IFIDX: x = C->a->Network.IfIdx; break;
    case F_SUBIFIDX: x = C->a->Network.SubIfIdx; break;
    case F_LOOPBACK: x = C->a->Loopback; break;
    case F_IMPOSTOR: x = C->a->Impostor; break;
    case F_FRAGMENT: x = (uint64_t)v->fragment; break;
    case F_LENGTH: x = v->len; break;
    case F_IP: x = v->ok && !v->v6; break;
    case F_IPV6: x = v->ok && v->v6; break;
    case F_ICMP: x = (uint64_t)v->icmp; break;
    case F_ICMPV6: x = (uint64_t)v->icmp6; break;
    case F_TCP: x = (uint64_t)v->tcp; break;
    case F_UDP: x = (uint64_t)v->udp; break;
    case F_PROTOCOL: x = v->proto; break;
    case F_LOCALADDR: *out = C->a->Outbound ? v->src : v->dst; return v->ok;
    case F_REMOTEADDR: *out = C->a->Outbound ? v->dst : v->src; return v->ok;
    case F_LOCALPORT:
        if (!v->tcp && !v->udp) return 0;
        x = C->a->Outbound ? rd16(t) : rd16(t + 2); break;
    case F_REMOTEPORT:
        if (!v->tcp && !v->udp) return 0;
        x = C->a->Outbound ? rd16(t + 2) : rd16(t); break;
    case F_RANDOM8: x = fnv32(p, v->len) & 0xFF; break;
    case F_RANDOM16: x = fnv32(p, v->len) & 0xFFFF; break;
    case F_RANDOM32: x = fnv32(p, v->len); break;
    case F_PACKET: case F_PACKET16: case F_PACKET32:
        return array_word(p, v->len, n->idx, n->asize, out);
    case F_TCP_PAYLOAD: case F_TCP_PAYLOAD16: case F_TCP_PAYLOAD32:
        if (!v->tcp) return 0;
        return array_word(p + v->pl_off, v->pl_len, n->idx, n->asize, out);
    case F_UDP_PAYLOAD: case F_UDP_PAYLOAD16: case F_UDP_PAYLOAD32:
        if (!v->udp) return 0;
        return array_word(p + v->pl_off, v->pl_len, n->idx, n->asize, out);
    default:
        break;
    }
    switch (n->field)
    {
    case F_ZERO: case F_FALSE: case F_TRUE: case F_TIMESTAMP: case F_EVENT: case F_OUTBOUND:
    case F_INBOUND: case F_IFIDX: case F_SUBIFIDX: case F_LOOPBACK: case F_IMPOSTOR:
    case F_FRAGMENT: case F_LENGTH: case F_IP: case F_IPV6: case F_ICMP: case F_ICMPV6:
    case F_TCP: case F_UDP: case F_PROTOCOL: case F_LOCALPORT: case F_REMOTEPORT:
    case F_RANDOM8: case F_RANDOM16: case F_RANDOM32:
        *out = u128_make(0, x);
        return 1;
    }
    if (n->field >= F_IP_HDRLENGTH && n->field <= F_IP_DSTADDR)
    {
        if (!v->ok || v->v6) return 0;
        switch (n->field)
        {
        case F_IP_HDRLENGTH: x = p[0] & 0x0F; break;
        case F_IP_TOS: x = p[1]; break;
        case F_IP_LENGTH: x = rd16(p + 2); break;
        case F_IP_ID: x = rd16(p + 4); break;
        case F_IP_DF: x = (p[6] >> 6) & 1; break;
        case F_IP_MF: x = (p[6] >> 5) & 1; break;
        case F_IP_FRAGOFF: x = rd16(p + 6) & 0x1FFF; break;
        case F_IP_TTL: x = p[8]; break;
        case F_IP_PROTOCOL: x = p[9]; break;
        case F_IP_CHECKSUM: x = rd16(p + 10); break;
        case F_IP_SRCADDR: *out = v->src; return 1;
        case F_IP_DSTADDR: *out = v->dst; return 1;
        }
        *out = u128_make(0, x);
        return 1;
    }
    if (n->field >= F_IPV6_TRAFFICCLASS && n->field <= F_IPV6_DSTADDR)
    {
        if (!v->ok || !v->v6) return 0;
        switch (n->field)
        {
        case F_IPV6_TRAFFICCLASS: x = (rd16(p) >> 4) & 0xFF; break;
        case F_IPV6_FLOWLABEL: x = rd32(p) & 0xFFFFF; break;
        case F_IPV6_LENGTH: x = rd16(p + 4); break;
        case F_IPV6_NEXTHDR: x = p[6]; break;
        case F_IPV6_HOPLIMIT: x = p[7]; break;
        case F_IPV6_SRCADDR: *out = v->src; return 1;
        case F_IPV6_DSTADDR: *out = v->dst; return 1;
        }
        *out = u128_make(0, x);
        return 1;
    }
    if (n->field >= F_ICMP_TYPE && n->field <= F_ICMPV6_BODY)
    {
        int is6 = n->field >= F_ICMPV6_TYPE;
        if (is6 ? !v->icmp6 : !v->icmp) return 0;
        switch (n->field)
        {
        case F_ICMP_TYPE: case F_ICMPV6_TYPE: x = t[0]; break;
        case F_ICMP_CODE: case F_ICMPV6_CODE: x = t[1]; break;
        case F_ICMP_CHECKSUM: case F_ICMPV6_CHECKSUM: x = rd16(t + 2); break;
        default: x = rd32(t + 4); break;
        }
        *out = u128_make(0, x);
        return 1;
    }
    if (n->field >= F_TCP_SRCPORT && n->field <= F_TCP_PAYLOADLENGTH)
    {
        if (!v->tcp) return 0;
        switch (n->field)
        {
        case F_TCP_SRCPORT: x = rd16(t); break;
        case F_TCP_DSTPORT: x = rd16(t + 2); break;
        case F_TCP_SEQNUM: x = rd32(t + 4); break;
        case F_TCP_ACKNUM: x = rd32(t + 8); break;
        case F_TCP_HDRLENGTH: x = t[12] >> 4; break;
        case F_TCP_URG: x = (t[13] >> 5) & 1; break;
        case F_TCP_ACK: x = (t[13] >> 4) & 1; break;
        case F_TCP_PSH: x = (t[13] >> 3) & 1; break;
        case F_TCP_RST: x = (t[13] >> 2) & 1; break;
        case F_TCP_SYN: x = (t[13] >> 1) & 1; break;
        case F_TCP_FIN: x = t[13] & 1; break;
        case F_TCP_WINDOW: x = rd16(t + 14); break;
        case F_TCP_CHECKSUM: x = rd16(t + 16); break;
        case F_TCP_URGPTR: x = rd16(t + 18); break;
        case F_TCP_PAYLOADLENGTH: x = v->pl_len; break;
        }
        *out = u128_make(0, x);
        return 1;
    }
    if (n->field >= F_UDP_SRCPORT && n->field <= F_UDP_PAYLOADLENGTH)
    {
        if (!v->udp) return 0;
        switch (n->field)
        {
        case F_UDP_SRCPORT: x = rd16(t); break;
        case F_UDP_DSTPORT: x = rd16(t + 2); break;
        case F_UDP_LENGTH: x = rd16(t + 4); break;
        case F_UDP_CHECKSUM: x = rd16(t + 6); break;
        case F_UDP_PAYLOADLENGTH: x = v->pl_len; break;
        }
        *out = u128_make(0, x);
        return 1;
    }
    return 0;   /* fields of other layers: never present */
}

static int filter_eval(const fnode_t *n, const fctx_t *C)
{
    u128 x;
    int c;
    switch (n->kind)
    {
    case N_CONST: return n->cval;
    case N_AND: return filter_eval(n->a, C) && filter_eval(n->b, C);
    case N_OR: return filter_eval(n->a, C) || filter_eval(n->b, C);
    case N_IF: return filter_eval(n->a, C) ? filter_eval(n->b, C) : filter_eval(n->c, C);
    case N_TEST:
        if (!field_value(C, n, &x)) return 0;   /* absent field: test fails */
        c = s128_cmp(0, x, n->neg, n->val);
        switch (n->op)
        {
        case T_EQ: return c == 0;
        case T_NEQ: return c != 0;
        case T_LT: return c < 0;
        case T_LEQ: return c <= 0;
        case T_GT: return c > 0;
        case T_GEQ: return c >= 0;
        }
    }
    return 0;
}

/* ======================================================================== */
/* handles, queues, requests                                                */
/* ======================================================================== */

static fhandle_t *find_handle(HANDLE h)
{
    if (h == NULL || h == INVALID_HANDLE_VALUE) return NULL;
    for (int i = 0; i < g_nhandles; i++)
        if (g_handles[i]->h == h) return g_handles[i];
    return NULL;
}

/* look up an open handle for an API call; logs and sets the error */
static fhandle_t *use_handle(const char *fn, HANDLE h)
{
    fhandle_t *fh = find_handle(h);
    if (!fh)
    {
        violation("%s: handle %p was not returned by WinDivertOpen -> ERROR_INVALID_HANDLE", fn, h);
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    if (!fh->open)
    {
        violation("%s: handle %p (h%d) is already closed -> ERROR_INVALID_HANDLE", fn, h, fh->id);
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    return fh;
}

static DWORD nt_to_win32(ULONG st)
{
    switch (st)
    {
    case ST_SUCCESS: return ERROR_SUCCESS;
    case ST_BUFFER_TOO_SMALL: return ERROR_INSUFFICIENT_BUFFER;
    case ST_PIPE_EMPTY: return ERROR_NO_DATA;
    case ST_CANCELLED: return ERROR_OPERATION_ABORTED;
    case ST_INVALID_PARAMETER: return ERROR_INVALID_PARAMETER;
    default: return ERROR_GEN_FAILURE;
    }
}

static HANDLE ov_event(const OVERLAPPED *ov)
{
    return (HANDLE)((ULONG_PTR)ov->hEvent & ~(ULONG_PTR)1);
}

static void req_unlink(fhandle_t *fh, req_t *r)
{
    req_t **pp = &fh->rhead, *prev = NULL;
    while (*pp && *pp != r) { prev = *pp; pp = &(*pp)->next; }
    if (!*pp) return;
    *pp = r->next;
    if (fh->rtail == r) fh->rtail = prev;
    r->next = NULL;
}

/* complete a request (lock held); overlapped ones are freed here */
static void req_complete(req_t *r, ULONG status, uint32_t bytes)
{
    r->status = status;
    r->bytes = bytes;
    if (r->ov)
    {
        OVERLAPPED *ov = r->ov;
        HANDLE ev = ov_event(ov);
        ov->InternalHigh = bytes;
        MemoryBarrier();
        ov->Internal = status;
        MemoryBarrier();
        if (ev) SetEvent(ev);
        SetEvent(r->fh->h);      /* the "file object" is signalled too */
        free(r);
    }
    else
    {
        InterlockedExchange(&r->done, 1);
        SetEvent(r->done_ev);
    }
}

static void qent_free(qent_t *q)
{
    if (q) { free(q->data); free(q); }
}

static qent_t *q_pop(fhandle_t *fh)
{
    qent_t *q = fh->qhead;
    if (!q) return NULL;
    fh->qhead = q->next;
    if (!fh->qhead) fh->qtail = NULL;
    fh->qcount--;
    fh->qbytes -= q->len;
    q->next = NULL;
    return q;
}

/* fill a request from the queue (lock held, queue non-empty) */
static void req_fill(fhandle_t *fh, req_t *r)
{
    uint32_t off = 0, n = 0;
    ULONG status = ST_SUCCESS;
    for (;;)
    {
        qent_t *q = q_pop(fh);
        uint32_t take = q->len;
        char desc[256];
        pview_t v;
        if (take > r->buflen - off)
        {
            take = r->buflen - off;
            status = ST_BUFFER_TOO_SMALL;
        }
        if (take && r->buf) memcpy(r->buf + off, q->data, take);
        off += take;
        if (r->addr) r->addr[n] = q->addr;
        n++;
        fh->n_recv++;
        pparse(&v, q->data, q->len);
        describe(desc, sizeof desc, &v);
        if (status == ST_BUFFER_TOO_SMALL)
            violation("WinDivertRecv%s: h%d packet #%lu (%lu bytes) does not fit the %lu-byte buffer: truncated, ERROR_INSUFFICIENT_BUFFER",
                r->ov ? "Ex(overlapped)" : "", fh->id, (unsigned long)q->pktno, (unsigned long)q->len,
                (unsigned long)r->buflen);
        LOG("RECV", "h%d packet #%lu len=%lu out=%u if=%lu.%lu batch#%lu %s", fh->id,
            (unsigned long)q->pktno, (unsigned long)q->len, q->addr.Outbound,
            (unsigned long)q->addr.Network.IfIdx, (unsigned long)q->addr.Network.SubIfIdx,
            (unsigned long)n, desc);
        qent_free(q);
        if (status != ST_SUCCESS) break;
        if (n >= r->addrslots || n >= WINDIVERT_BATCH_MAX) break;
        if (!fh->qhead || fh->qhead->len > r->buflen - off) break;
    }
    if (r->pAddrLen) *r->pAddrLen = n * (unsigned int)sizeof(WINDIVERT_ADDRESS);
    req_complete(r, status, off);
}

/* serve pending requests as far as possible (lock held) */
static void service(fhandle_t *fh)
{
    while (fh->rhead && fh->qhead)
    {
        req_t *r = fh->rhead;
        req_unlink(fh, r);
        req_fill(fh, r);
    }
    if (fh->rhead && !fh->qhead && (fh->shut_recv || !fh->open))
    {
        ULONG st = fh->open ? ST_PIPE_EMPTY : ST_CANCELLED;
        while (fh->rhead)
        {
            req_t *r = fh->rhead;
            req_unlink(fh, r);
            LOG("RECV", "h%d pending receive completed with %s", fh->id,
                st == ST_PIPE_EMPTY ? "ERROR_NO_DATA (shut down, queue empty)" : "ERROR_OPERATION_ABORTED (handle closed)");
            req_complete(r, st, 0);
        }
    }
}

/* drop packets older than the queue time (lock held) */
static void expire(fhandle_t *fh, LONGLONG now)
{
    while (fh->qhead && !fh->rhead)
    {
        LONGLONG age_ms = (now - fh->qhead->enq) * 1000 / g_qpf;
        qent_t *q;
        if (age_ms <= (LONGLONG)fh->qtime_max) break;
        q = q_pop(fh);
        fh->n_drop++;
        LOG("DROP", "h%d packet #%lu dropped: queued %lld ms > WINDIVERT_PARAM_QUEUE_TIME %llu ms (program not receiving)",
            fh->id, (unsigned long)q->pktno, (long long)age_ms, (unsigned long long)fh->qtime_max);
        qent_free(q);
    }
}

static LONGLONG next_timestamp(void)
{
    LONGLONG t = qpc_now();
    if (t <= g_last_ts) t = g_last_ts + 1;
    g_last_ts = t;
    return t;
}

/* divert one input packet (lock held) */
static void dispatch(uint32_t i)
{
    inpkt_t *ip = &g_pkts[i];
    pview_t v;
    WINDIVERT_ADDRESS base;
    fhandle_t *order[MAX_HANDLES];
    int n = 0, taken = 0;
    char desc[256];
    int ipc, tcpc, udpc;

    pparse(&v, ip->data, ip->len);
    memset(&base, 0, sizeof base);
    base.Timestamp = next_timestamp();
    base.Layer = WINDIVERT_LAYER_NETWORK;
    base.Event = WINDIVERT_EVENT_NETWORK_PACKET;
    base.IPv6 = (unsigned)v.v6;
    base.Loopback = (unsigned)is_loopback_addr(&v);
    {
        int out = 0;
        for (int k = 0; k < cfg.nlocal; k++)
            if (u128_cmp(cfg.local[k], v.src) == 0) out = 1;
        base.Outbound = (unsigned)(out || base.Loopback);  /* loopback is outbound only */
    }
    base.Network.IfIdx = base.Loopback ? cfg.lo_ifidx : cfg.ifidx;
    base.Network.SubIfIdx = base.Loopback ? cfg.lo_subifidx : cfg.subifidx;
    ipc = ip_csum_ok(&v); tcpc = tcp_csum_ok(&v); udpc = udp_csum_ok(&v);
    base.IPChecksum = ipc != 0;     /* IPv6 has no header checksum: 1 */
    base.TCPChecksum = tcpc == 1;
    base.UDPChecksum = udpc == 1;
    describe(desc, sizeof desc, &v);

    /* priority order: higher first, then open order */
    for (int k = 0; k < g_nhandles; k++) order[n++] = g_handles[k];
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && order[b]->priority > order[b - 1]->priority; b--)
        { fhandle_t *t = order[b]; order[b] = order[b - 1]; order[b - 1] = t; }

    for (int k = 0; k < n; k++)
    {
        fhandle_t *fh = order[k];
        fctx_t C;
        WINDIVERT_ADDRESS a = base;
        qent_t *q;
        if (!fh->open || fh->shut_recv || fh->layer != WINDIVERT_LAYER_NETWORK ||
            (fh->flags & WINDIVERT_FLAG_SEND_ONLY))
            continue;
        a.Layer = fh->layer;
        a.Sniffed = (fh->flags & WINDIVERT_FLAG_SNIFF) ? 1 : 0;
        C.v = &v; C.a = &a;
        if (!filter_eval(fh->filter, &C)) continue;
        taken = 1;
        if (fh->flags & WINDIVERT_FLAG_DROP)
        {
            LOG("DIVERT", "packet #%lu matched h%d (DROP flag): dropped  %s", (unsigned long)ip->recno, fh->id, desc);
            break;
        }
        if (fh->qcount + 1 > fh->qlen_max || fh->qbytes + ip->len > fh->qsize_max)
        {
            fh->n_drop++;
            LOG("DROP", "h%d packet #%lu dropped: queue full (%lu packets, %llu bytes)", fh->id,
                (unsigned long)ip->recno, (unsigned long)fh->qcount, (unsigned long long)fh->qbytes);
            if (!a.Sniffed) break;
            continue;
        }
        q = (qent_t *)calloc(1, sizeof *q);
        q->data = (uint8_t *)malloc(ip->len);
        memcpy(q->data, ip->data, ip->len);
        q->len = ip->len;
        q->pktno = ip->recno;
        q->enq = qpc_now();
        if (cfg.csum_offload && a.Outbound && (v.tcp || v.udp))
        {
            pview_t w;
            pparse(&w, q->data, q->len);
            if (!w.v6) { wr16(q->data + 10, 0); a.IPChecksum = 0; }
            if (w.tcp) { wr16(q->data + w.l4off + 16, 0); a.TCPChecksum = 0; }
            if (w.udp) { wr16(q->data + w.l4off + 6, 0); a.UDPChecksum = 0; }
        }
        q->addr = a;
        if (fh->qtail) fh->qtail->next = q; else fh->qhead = q;
        fh->qtail = q;
        fh->qcount++;
        fh->qbytes += q->len;
        LOG("DIVERT", "packet #%lu -> h%d out=%u loop=%u if=%lu.%lu  %s", (unsigned long)ip->recno,
            fh->id, a.Outbound, a.Loopback, (unsigned long)a.Network.IfIdx,
            (unsigned long)a.Network.SubIfIdx, desc);
        service(fh);
        if (!a.Sniffed) break;
    }
    if (!taken && cfg.verbose)
        LOG("PASS", "packet #%lu matched no filter  %s", (unsigned long)ip->recno, desc);
}

/* ======================================================================== */
/* Ctrl-C                                                                   */
/* ======================================================================== */

static void raise_ctrl(void)
{
    DWORD ev = cfg.ctrl_break ? CTRL_BREAK_EVENT : CTRL_C_EVENT;
    const char *evname = cfg.ctrl_break ? "CTRL_BREAK_EVENT" : "CTRL_C_EVENT";
    FARPROC routine;
    HANDLE th;
    /* log before raising: the program may exit (and end this thread) at once */
    if (cfg.ctrl_generate)
    {
        LOG("CTRL", "%s raised with GenerateConsoleCtrlEvent", evname);
        if (GenerateConsoleCtrlEvent(ev, 0)) return;
        LOG("CTRL", "GenerateConsoleCtrlEvent failed (error %lu; under wine it needs a tty console): using CtrlRoutine",
            (unsigned long)GetLastError());
    }
    routine = GetProcAddress(GetModuleHandleA("kernelbase.dll"), "CtrlRoutine");
    if (!routine) routine = GetProcAddress(GetModuleHandleA("kernel32.dll"), "CtrlRoutine");
    if (!routine)
    {
        LOG("CTRL", "%s raised with GenerateConsoleCtrlEvent (no CtrlRoutine export)", evname);
        if (!GenerateConsoleCtrlEvent(ev, 0))
            LOG("CTRL", "could not raise %s (error %lu)", evname, (unsigned long)GetLastError());
        return;
    }
    LOG("CTRL", "%s raised (CtrlRoutine thread, as a console Ctrl-C would)", evname);
    th = CreateThread(NULL, 0, (LPTHREAD_START_ROUTINE)(void (*)(void))routine,
        (LPVOID)(ULONG_PTR)ev, 0, NULL);
    if (th)
        CloseHandle(th);
    else
        LOG("CTRL", "CreateThread(CtrlRoutine) failed: %lu", (unsigned long)GetLastError());
}

/* ======================================================================== */
/* replay thread                                                            */
/* ======================================================================== */

static void service_all(void)
{
    EnterCriticalSection(&g_lock);
    for (int k = 0; k < g_nhandles; k++)
        service(g_handles[k]);
    LeaveCriticalSection(&g_lock);
}

static void tick_expiry(void)
{
    LONGLONG now = qpc_now();
    EnterCriticalSection(&g_lock);
    for (int k = 0; k < g_nhandles; k++)
        if (g_handles[k]->open) expire(g_handles[k], now);
    LeaveCriticalSection(&g_lock);
}

/* wait until QPC time 'due' (or forever if due < 0), serving wake-ups
 * (overlapped receives issued while packets were queued) and expiring old
 * packets meanwhile; returns 0 if told to stop */
static int wait_until(LONGLONG due)
{
    HANDLE hs[2];
    hs[0] = g_stop_ev;
    hs[1] = g_wake_ev;
    for (;;)
    {
        LONGLONG now = qpc_now();
        DWORD ms, w;
        if (due >= 0 && now >= due) return 1;
        ms = 50;
        if (due >= 0)
        {
            LONGLONG left = (due - now) * 1000 / g_qpf;
            if (left < (LONGLONG)ms) ms = (DWORD)(left > 0 ? left : 0);
        }
        w = WaitForMultipleObjects(2, hs, FALSE, ms);
        if (w == WAIT_OBJECT_0) return 0;
        if (w == WAIT_OBJECT_0 + 1) service_all();
        tick_expiry();
    }
}

static int queues_drained(void)
{
    int drained = 1;
    EnterCriticalSection(&g_lock);
    for (int k = 0; k < g_nhandles; k++)
        if (g_handles[k]->open && g_handles[k]->qhead) drained = 0;
    LeaveCriticalSection(&g_lock);
    return drained;
}

static DWORD WINAPI replay_main(LPVOID arg)
{
    (void)arg;
    for (uint32_t i = 0; i < g_npkts; i++)
    {
        LONGLONG due = g_replay_base;
        if (cfg.speed > 0)
            due += (LONGLONG)(g_pkts[i].t / cfg.speed * (double)g_qpf);
        if (!wait_until(due)) return 0;
        EnterCriticalSection(&g_lock);
        dispatch(i);
        LeaveCriticalSection(&g_lock);
    }
    InterlockedExchange(&g_replay_done, 1);
    LOG("INFO", "replay finished: %lu packets", (unsigned long)g_npkts);
    if (cfg.exit_after_ms >= 0)
    {
        LONGLONG give_up = qpc_now() + 5 * g_qpf;
        while (!queues_drained() && qpc_now() < give_up)
            if (!wait_until(qpc_now() + g_qpf / 50)) return 0;
        if (!queues_drained())
            LOG("CTRL", "queues not drained 5 s after the replay (program not receiving?)");
        if (!wait_until(qpc_now() + (LONGLONG)cfg.exit_after_ms * g_qpf / 1000)) return 0;
        raise_ctrl();
    }
    wait_until(-1);
    return 0;
}

static void replay_start(void)
{
    DWORD tid;
    HMODULE self;
    if (g_replay_thread) return;
    /* the replay thread lives until the process ends: keep the DLL mapped
     * even if the program calls FreeLibrary() */
    GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
        (LPCSTR)(void *)replay_start, &self);
    g_replay_base = qpc_now() + (LONGLONG)cfg.start_delay_ms * g_qpf / 1000;
    g_replay_thread = CreateThread(NULL, 0, replay_main, NULL, 0, &tid);
    LOG("INFO", "replay started (%lu packets, speed %g, start delay %lu ms)", (unsigned long)g_npkts,
        cfg.speed, (unsigned long)cfg.start_delay_ms);
}

/* ======================================================================== */
/* import hooks in the main executable                                      */
/* ======================================================================== */

static int cancel_requests(fhandle_t *fh, OVERLAPPED *ov, int this_thread_only)
{
    int n = 0;
    req_t *r = fh->rhead;
    while (r)
    {
        req_t *next = r->next;
        if ((ov == NULL || r->ov == ov) && (!this_thread_only || r->tid == GetCurrentThreadId()))
        {
            req_unlink(fh, r);
            req_complete(r, ST_CANCELLED, 0);
            n++;
        }
        r = next;
    }
    return n;
}

static BOOL WINAPI hook_CancelIoEx(HANDLE h, LPOVERLAPPED ov)
{
    fhandle_t *fh;
    int n;
    EnterCriticalSection(&g_lock);
    fh = find_handle(h);
    if (!fh)
    {
        LeaveCriticalSection(&g_lock);
        return real_CancelIoEx ? real_CancelIoEx(h, ov) : fail(ERROR_INVALID_HANDLE);
    }
    n = cancel_requests(fh, ov, 0);
    LOG("INFO", "CancelIoEx(h%d, %p): %d request(s) cancelled", fh->id, (void *)ov, n);
    LeaveCriticalSection(&g_lock);
    if (!n) return fail(ERROR_NOT_FOUND);
    return TRUE;
}

static BOOL WINAPI hook_CancelIo(HANDLE h)
{
    fhandle_t *fh;
    int n;
    EnterCriticalSection(&g_lock);
    fh = find_handle(h);
    if (!fh)
    {
        LeaveCriticalSection(&g_lock);
        return real_CancelIo ? real_CancelIo(h) : fail(ERROR_INVALID_HANDLE);
    }
    n = cancel_requests(fh, NULL, 1);
    LOG("INFO", "CancelIo(h%d): %d request(s) of this thread cancelled", fh->id, n);
    LeaveCriticalSection(&g_lock);
    return TRUE;
}

EXPORT BOOL WinDivertClose(HANDLE handle);

static BOOL WINAPI hook_CloseHandle(HANDLE h)
{
    fhandle_t *fh;
    EnterCriticalSection(&g_lock);
    fh = find_handle(h);
    LeaveCriticalSection(&g_lock);
    if (fh)
    {
        LOG("INFO", "CloseHandle() on WinDivert handle h%d: treated as WinDivertClose", fh->id);
        return WinDivertClose(h);
    }
    return real_CloseHandle(h);
}

static void patch_iat(void)
{
    HMODULE exe = GetModuleHandleA(NULL);
    const uint8_t *base = (const uint8_t *)exe;
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt;
    const IMAGE_DATA_DIRECTORY *dir;
    const IMAGE_IMPORT_DESCRIPTOR *imp;
    int patched = 0;
    if (!exe || dos->e_magic != IMAGE_DOS_SIGNATURE) return;
    nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    dir = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (!dir->VirtualAddress) return;
    real_CancelIoEx = (BOOL (WINAPI *)(HANDLE, LPOVERLAPPED))(void (*)(void))
        GetProcAddress(GetModuleHandleA("kernel32.dll"), "CancelIoEx");
    real_CancelIo = (BOOL (WINAPI *)(HANDLE))(void (*)(void))
        GetProcAddress(GetModuleHandleA("kernel32.dll"), "CancelIo");
    for (imp = (const IMAGE_IMPORT_DESCRIPTOR *)(base + dir->VirtualAddress); imp->Name; imp++)
    {
        IMAGE_THUNK_DATA *iat = (IMAGE_THUNK_DATA *)(base + imp->FirstThunk);
        const IMAGE_THUNK_DATA *names = imp->OriginalFirstThunk
            ? (const IMAGE_THUNK_DATA *)(base + imp->OriginalFirstThunk) : NULL;
        for (; iat->u1.Function; iat++)
        {
            const char *fn = NULL;
            void *repl = NULL;
            if (names)
            {
                if (!IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal))
                    fn = (const char *)((const IMAGE_IMPORT_BY_NAME *)(base + names->u1.AddressOfData))->Name;
                names++;
            }
            if (!fn) continue;
            if (!strcmp(fn, "CancelIoEx")) repl = (void *)hook_CancelIoEx;
            else if (!strcmp(fn, "CancelIo")) repl = (void *)hook_CancelIo;
            else if (!strcmp(fn, "CloseHandle")) repl = (void *)hook_CloseHandle;
            if (repl)
            {
                DWORD old;
                if (VirtualProtect(&iat->u1.Function, sizeof iat->u1.Function, PAGE_READWRITE, &old))
                {
                    if (!strcmp(fn, "CloseHandle"))
                        real_CloseHandle = (BOOL (WINAPI *)(HANDLE))(void (*)(void))(ULONG_PTR)iat->u1.Function;
                    else if (!strcmp(fn, "CancelIoEx"))
                        real_CancelIoEx = (BOOL (WINAPI *)(HANDLE, LPOVERLAPPED))(void (*)(void))(ULONG_PTR)iat->u1.Function;
                    else
                        real_CancelIo = (BOOL (WINAPI *)(HANDLE))(void (*)(void))(ULONG_PTR)iat->u1.Function;
                    iat->u1.Function = (ULONG_PTR)repl;
                    VirtualProtect(&iat->u1.Function, sizeof iat->u1.Function, old, &old);
                    patched++;
                }
            }
        }
    }
    LOG("INFO", "hooked %d import(s) of the main executable (CancelIo/CancelIoEx/CloseHandle)", patched);
}

/* ======================================================================== */
/* initialisation                                                           */
/* ======================================================================== */

static void init_once(void)
{
    if (g_inited) return;
    EnterCriticalSection(&g_lock);
    if (!g_inited)
    {
        cfg_load();
        real_CloseHandle = CloseHandle;
        if (!cfg.no_hook) patch_iat();
        g_stop_ev = CreateEventA(NULL, TRUE, FALSE, NULL);
        g_wake_ev = CreateEventA(NULL, FALSE, FALSE, NULL);
        InterlockedExchange(&g_inited, 1);
    }
    LeaveCriticalSection(&g_lock);
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    if (reason == DLL_PROCESS_ATTACH)
    {
        LARGE_INTEGER li;
        InitializeCriticalSection(&g_lock);
        InitializeCriticalSection(&g_loglock);
        QueryPerformanceFrequency(&li);
        g_qpf = li.QuadPart ? li.QuadPart : 1;
        g_t_load = qpc_now();
        DisableThreadLibraryCalls(inst);
    }
    else if (reason == DLL_PROCESS_DETACH && g_inited)
    {
        int open = 0;
        g_detaching = 1;
        uint64_t recv = 0, drop = 0, queued = 0;
        for (int k = 0; k < g_nhandles; k++)
        {
            fhandle_t *fh = g_handles[k];
            recv += fh->n_recv; drop += fh->n_drop; queued += fh->qcount;
            if (fh->open) open++;
        }
        if (open)
            LOG("INFO", "%d handle(s) still open at process exit (not closed with WinDivertClose)", open);
        LOG("SUMMARY", "opens=%ld handles=%d received=%llu sent=%llu dropped=%llu unread=%llu violations=%ld%s",
            g_opens, g_nhandles, (unsigned long long)recv, (unsigned long long)g_sent_pkts,
            (unsigned long long)drop, (unsigned long long)queued, g_violations,
            reserved ? " (process exit)" : "");
        if (TryEnterCriticalSection(&g_loglock))
        {
            if (g_log) { fflush(g_log); if (!reserved) fclose(g_log); }
            LeaveCriticalSection(&g_loglock);
        }
        if (g_out) fflush(g_out);
        if (g_outaddr) fflush(g_outaddr);
    }
    return TRUE;
}

/* ======================================================================== */
/* API                                                                      */
/* ======================================================================== */

static const char *layer_name(unsigned layer)
{
    static const char *n[] = {"NETWORK", "NETWORK_FORWARD", "FLOW", "SOCKET", "REFLECT"};
    return layer < 5 ? n[layer] : "?";
}

EXPORT HANDLE WinDivertOpen(const char *filter, WINDIVERT_LAYER layer, INT16 priority, UINT64 flags)
{
    fparse_t P;
    fnode_t *root;
    fhandle_t *fh;
    long nth;
    unsigned ul = (unsigned)layer;

    init_once();
    EnterCriticalSection(&g_lock);
    nth = ++g_opens;
    LOG("INFO", "WinDivertOpen(filter=\"%s\", layer=%u, priority=%d, flags=0x%llx)",
        filter ? filter : "(null)", ul, (int)priority, (unsigned long long)flags);

    if (ul > WINDIVERT_LAYER_REFLECT)
    {
        violation("WinDivertOpen: undefined layer %u -> ERROR_INVALID_PARAMETER", ul);
        goto inval;
    }
    if ((flags & ~WINDIVERT_FLAGS_DEFINED) != 0)
    {
        violation("WinDivertOpen: undefined flag bits 0x%llx -> ERROR_INVALID_PARAMETER",
            (unsigned long long)(flags & ~WINDIVERT_FLAGS_DEFINED));
        goto inval;
    }
    if ((flags & (WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_DROP)) == (WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_DROP))
    {
        violation("WinDivertOpen: SNIFF together with DROP -> ERROR_INVALID_PARAMETER");
        goto inval;
    }
    if ((flags & (WINDIVERT_FLAG_RECV_ONLY | WINDIVERT_FLAG_SEND_ONLY)) == (WINDIVERT_FLAG_RECV_ONLY | WINDIVERT_FLAG_SEND_ONLY))
    {
        violation("WinDivertOpen: RECV_ONLY together with SEND_ONLY -> ERROR_INVALID_PARAMETER");
        goto inval;
    }
    if (priority < WINDIVERT_PRIORITY_LOWEST || priority > WINDIVERT_PRIORITY_HIGHEST)
    {
        violation("WinDivertOpen: priority %d outside [%d, %d] -> ERROR_INVALID_PARAMETER",
            (int)priority, WINDIVERT_PRIORITY_LOWEST, WINDIVERT_PRIORITY_HIGHEST);
        goto inval;
    }
    if (filter == NULL)
    {
        violation("WinDivertOpen: filter is NULL -> ERROR_INVALID_PARAMETER");
        goto inval;
    }
    if (filter[0] == '@')
    {
        LOG("FAKE", "WinDivertOpen: compiled filter objects ('@...') are not supported by the fake -> ERROR_INVALID_PARAMETER");
        goto inval;
    }
    root = filter_compile(filter, layer, &P);
    if (!root)
    {
        violation("WinDivertOpen: invalid filter at position %d: %s\n"
                  "                     filter: %s\n"
                  "                     here:   %*s^", P.errpos, P.msg, filter, P.errpos, "");
        goto inval;
    }
    if (P.lenient_used)
        LOG("FAKE", "WinDivertOpen: filter uses not/! before '(' - accepted only because FAKE_WINDIVERT_FILTER_LENIENT=1; the real WinDivert 2.2 refuses it");
    if (uses_field(root, F_RANDOM8) || uses_field(root, F_RANDOM16) || uses_field(root, F_RANDOM32))
        LOG("FAKE", "random8/16/32: the fake uses its own hash, not WinDivertHelperHashPacket's");
    {
        uint64_t need = 0;
        const char *why = NULL;
        if (layer == WINDIVERT_LAYER_FLOW || layer == WINDIVERT_LAYER_REFLECT)
        { need = WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_RECV_ONLY; why = "SNIFF|RECV_ONLY"; }
        else if (layer == WINDIVERT_LAYER_SOCKET)
        { need = WINDIVERT_FLAG_RECV_ONLY; why = "RECV_ONLY"; }
        if ((flags & need) != need)
        {
            node_free(root);
            violation("WinDivertOpen: layer %s requires flags %s -> ERROR_INVALID_PARAMETER", layer_name(ul), why);
            goto inval;
        }
    }
    if (g_config_error)
    {
        node_free(root);
        LOG("CONFIG", "WinDivertOpen fails with ERROR_GEN_FAILURE because the fake is misconfigured: %s", g_config_msg);
        LeaveCriticalSection(&g_lock);
        SetLastError(ERROR_GEN_FAILURE);
        return INVALID_HANDLE_VALUE;
    }
    if (cfg.open_error && (cfg.open_error_count < 0 || nth <= cfg.open_error_count))
    {
        node_free(root);
        LOG("SIM", "WinDivertOpen: simulated failure, error %lu (FAKE_WINDIVERT_OPEN_ERROR)", (unsigned long)cfg.open_error);
        LeaveCriticalSection(&g_lock);
        SetLastError(cfg.open_error);
        return INVALID_HANDLE_VALUE;
    }
    if (g_nhandles >= MAX_HANDLES)
    {
        node_free(root);
        LOG("FAKE", "WinDivertOpen: more than %d handles opened in one process", MAX_HANDLES);
        LeaveCriticalSection(&g_lock);
        SetLastError(ERROR_TOO_MANY_OPEN_FILES);
        return INVALID_HANDLE_VALUE;
    }
    fh = (fhandle_t *)calloc(1, sizeof *fh);
    fh->h = CreateEventA(NULL, TRUE, FALSE, NULL);   /* never closed: values are not reused */
    fh->id = g_nhandles + 1;
    fh->open = 1;
    fh->layer = layer;
    fh->priority = priority;
    fh->flags = flags;
    fh->filter = root;
    fh->filter_str = _strdup(filter);
    fh->qlen_max = WINDIVERT_PARAM_QUEUE_LENGTH_DEFAULT;
    fh->qtime_max = WINDIVERT_PARAM_QUEUE_TIME_DEFAULT;
    fh->qsize_max = WINDIVERT_PARAM_QUEUE_SIZE_DEFAULT;
    g_handles[g_nhandles++] = fh;
    if (layer != WINDIVERT_LAYER_NETWORK)
        LOG("FAKE", "h%d: layer %s accepted, but the fake only replays NETWORK-layer packets", fh->id, layer_name(ul));
    if (flags & WINDIVERT_FLAG_DROP)
        LOG("INFO", "h%d: DROP flag - matching packets are discarded, WinDivertRecv must not be used", fh->id);
    if (!cfg.nlocal && !cfg.have_local)
    {
        /* default local addresses: source of the first IPv4 and IPv6 packet */
        int have4 = 0, have6 = 0;
        for (uint32_t i = 0; i < g_npkts && !(have4 && have6); i++)
        {
            pview_t v;
            pparse(&v, g_pkts[i].data, g_pkts[i].len);
            if (!v.ok) continue;
            if (!v.v6 && !have4) { cfg.local[cfg.nlocal++] = v.src; have4 = 1; }
            if (v.v6 && !have6) { cfg.local[cfg.nlocal++] = v.src; have6 = 1; }
        }
        cfg.have_local = 1;
        for (int k = 0; k < cfg.nlocal; k++)
        {
            char s[64];
            fmt_addr(s, sizeof s, cfg.local[k], (cfg.local[k].hi != 0 || (cfg.local[k].lo >> 32) != 0xFFFF));
            LOG("INFO", "local address (outbound source): %s", s);
        }
    }
    out_open();
    LOG("INFO", "WinDivertOpen -> h%d = %p (%d filter tests)", fh->id, fh->h, P.leaves);
    replay_start();
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return fh->h;

inval:
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
}

/* common receive path */
static BOOL do_recv(const char *fn, HANDLE handle, void *pPacket, UINT packetLen, UINT *pRecvLen,
    UINT64 flags, WINDIVERT_ADDRESS *pAddr, UINT *pAddrLen, LPOVERLAPPED ov, int ex)
{
    fhandle_t *fh;
    req_t *r;
    uint32_t slots = 1;
    BOOL ok;

    init_once();
    EnterCriticalSection(&g_lock);
    fh = use_handle(fn, handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    if (ex && flags != 0)
    {
        violation("%s(h%d): flags must be 0 (got 0x%llx) -> ERROR_INVALID_PARAMETER", fn, fh->id, (unsigned long long)flags);
        goto inval;
    }
    if (pAddrLen)
    {
        UINT al = *pAddrLen;
        if (al < sizeof(WINDIVERT_ADDRESS) || al > WINDIVERT_BATCH_MAX * sizeof(WINDIVERT_ADDRESS))
        {
            violation("%s(h%d): *pAddrLen=%u outside [%u, %u] -> ERROR_INVALID_PARAMETER", fn, fh->id, al,
                (unsigned)sizeof(WINDIVERT_ADDRESS), (unsigned)(WINDIVERT_BATCH_MAX * sizeof(WINDIVERT_ADDRESS)));
            goto inval;
        }
        if (!pAddr)
        {
            violation("%s(h%d): pAddrLen given but pAddr is NULL -> ERROR_INVALID_PARAMETER", fn, fh->id);
            goto inval;
        }
        if (al % sizeof(WINDIVERT_ADDRESS))
            if (soft_violation("%s(h%d): *pAddrLen=%u is not a multiple of sizeof(WINDIVERT_ADDRESS)=%u", fn,
                    fh->id, al, (unsigned)sizeof(WINDIVERT_ADDRESS)))
                goto inval;
        slots = al / (uint32_t)sizeof(WINDIVERT_ADDRESS);
    }
    if (fh->flags & WINDIVERT_FLAG_SEND_ONLY)
    {
        violation("%s(h%d): handle was opened with WINDIVERT_FLAG_SEND_ONLY -> ERROR_INVALID_PARAMETER", fn, fh->id);
        goto inval;
    }
    if (fh->flags & WINDIVERT_FLAG_DROP)
        violation("%s(h%d): receiving on a handle opened with WINDIVERT_FLAG_DROP (documented: must not be done); it will block", fn, fh->id);
    if (pPacket == NULL && packetLen != 0)
    {
        violation("%s(h%d): pPacket is NULL but packetLen=%u -> ERROR_INVALID_PARAMETER", fn, fh->id, packetLen);
        goto inval;
    }
    if (pPacket == NULL || packetLen == 0)
        violation("%s(h%d): no packet buffer at the NETWORK layer: the packet will be lost (ERROR_INSUFFICIENT_BUFFER)", fn, fh->id);
    else if (packetLen < WINDIVERT_MTU_MAX && packetLen < 1500)
        LOG("INFO", "%s(h%d): small receive buffer (%u bytes; WINDIVERT_MTU_MAX is %u)", fn, fh->id, packetLen,
            (unsigned)WINDIVERT_MTU_MAX);

    r = (req_t *)calloc(1, sizeof *r);
    r->fh = fh;
    r->buf = (uint8_t *)pPacket;
    r->buflen = pPacket ? packetLen : 0;
    r->addr = pAddr;
    r->addrslots = slots;
    r->pAddrLen = pAddrLen;
    r->tid = GetCurrentThreadId();

    if (ov)
    {
        HANDLE ev = ov_event(ov);
        for (req_t *p = fh->rhead; p; p = p->next)
            if (p->ov == ov)
            {
                violation("%s(h%d): OVERLAPPED %p is reused while a receive on it is still pending (-> ERROR_INVALID_PARAMETER here; undefined with the real driver)",
                    fn, fh->id, (void *)ov);
                free(r);
                goto inval;
            }
        r->ov = ov;
        if (fh->qhead && cfg.ov_immediate)
        {
            /* completes synchronously: the caller sees TRUE and *pRecvLen */
            ov->Internal = ST_PENDING;
            req_fill(fh, r);          /* frees r; sets Internal/InternalHigh, signals */
            ok = (ov->Internal == ST_SUCCESS);
            if (pRecvLen) *pRecvLen = (UINT)ov->InternalHigh;
            LeaveCriticalSection(&g_lock);
            if (!ok) return fail(nt_to_win32((ULONG)ov->Internal));
            SetLastError(ERROR_SUCCESS);
            return TRUE;
        }
        ov->Internal = ST_PENDING;
        ov->InternalHigh = 0;
        if (ev) ResetEvent(ev);
        ResetEvent(fh->h);
        if (fh->rtail) fh->rtail->next = r; else fh->rhead = r;
        fh->rtail = r;
        /* never complete in the caller's thread: if packets are already
         * queued (or the handle is shut down), the replay thread completes
         * the request right after we return ERROR_IO_PENDING */
        if (fh->qhead || fh->shut_recv) SetEvent(g_wake_ev);
        LeaveCriticalSection(&g_lock);
        SetLastError(ERROR_IO_PENDING);
        return FALSE;
    }

    /* blocking */
    r->done_ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (fh->rtail) fh->rtail->next = r; else fh->rhead = r;
    fh->rtail = r;
    service(fh);
    LeaveCriticalSection(&g_lock);
    WaitForSingleObject(r->done_ev, INFINITE);
    CloseHandle(r->done_ev);
    {
        ULONG st = r->status;
        uint32_t bytes = r->bytes;
        free(r);
        if (st == ST_SUCCESS || st == ST_BUFFER_TOO_SMALL)
            if (pRecvLen) *pRecvLen = bytes;
        if (st != ST_SUCCESS) return fail(nt_to_win32(st));
    }
    SetLastError(ERROR_SUCCESS);
    return TRUE;

inval:
    LeaveCriticalSection(&g_lock);
    return fail(ERROR_INVALID_PARAMETER);
}

EXPORT BOOL WinDivertRecv(HANDLE handle, VOID *pPacket, UINT packetLen, UINT *pRecvLen, WINDIVERT_ADDRESS *pAddr)
{
    return do_recv("WinDivertRecv", handle, pPacket, packetLen, pRecvLen, 0, pAddr, NULL, NULL, 0);
}

EXPORT BOOL WinDivertRecvEx(HANDLE handle, VOID *pPacket, UINT packetLen, UINT *pRecvLen, UINT64 flags,
    WINDIVERT_ADDRESS *pAddr, UINT *pAddrLen, LPOVERLAPPED lpOverlapped)
{
    return do_recv("WinDivertRecvEx", handle, pPacket, packetLen, pRecvLen, flags, pAddr, pAddrLen,
        lpOverlapped, 1);
}

static void out_write(fhandle_t *fh, const uint8_t *pkt, uint32_t len, const WINDIVERT_ADDRESS *a,
    int ipok, int tcpok, int udpok)
{
    uint8_t rh[16];
    uint32_t v;
    FILETIME ft;
    ULARGE_INTEGER u;
    uint64_t us;
    uint8_t *copy;
    if (!g_out) return;
    GetSystemTimePreciseAsFileTime(&ft);
    u.LowPart = ft.dwLowDateTime; u.HighPart = ft.dwHighDateTime;
    us = (u.QuadPart - 116444736000000000ULL) / 10;
    v = (uint32_t)(us / 1000000); memcpy(rh, &v, 4);
    v = (uint32_t)(us % 1000000); memcpy(rh + 4, &v, 4);
    memcpy(rh + 8, &len, 4);
    memcpy(rh + 12, &len, 4);
    copy = (uint8_t *)malloc(len ? len : 1);
    memcpy(copy, pkt, len);
    if (!cfg.out_raw)
        fix_csums(copy, len, !a->IPChecksum, !a->TCPChecksum, !a->UDPChecksum);
    fwrite(rh, 1, 16, g_out);
    fwrite(copy, 1, len, g_out);
    fflush(g_out);
    free(copy);
    if (g_outaddr)
    {
        fprintf(g_outaddr,
            "n=%llu handle=%d len=%lu layer=%u event=%u outbound=%u loopback=%u impostor=%u ipv6=%u "
            "ifidx=%lu subifidx=%lu ipcsum=%u tcpcsum=%u udpcsum=%u ipcsum_ok=%s tcpcsum_ok=%s "
            "udpcsum_ok=%s timestamp=%lld\n",
            (unsigned long long)g_sent_pkts, fh->id, (unsigned long)len, a->Layer, a->Event, a->Outbound,
            a->Loopback, a->Impostor, a->IPv6, (unsigned long)a->Network.IfIdx,
            (unsigned long)a->Network.SubIfIdx, a->IPChecksum, a->TCPChecksum, a->UDPChecksum,
            ipok < 0 ? "-" : ipok ? "1" : "0", tcpok < 0 ? "-" : tcpok ? "1" : "0",
            udpok < 0 ? "-" : udpok ? "1" : "0", (long long)a->Timestamp);
        fflush(g_outaddr);
    }
}

static BOOL do_send(const char *fn, HANDLE handle, const VOID *pPacket, UINT packetLen, UINT *pSendLen,
    UINT64 flags, const WINDIVERT_ADDRESS *pAddr, UINT addrLen, LPOVERLAPPED ov, int ex)
{
    fhandle_t *fh;
    const uint8_t *data = (const uint8_t *)pPacket;
    uint32_t left = packetLen, injected = 0, i, naddr;
    long nth;
    DWORD err = ERROR_SUCCESS;

    init_once();
    EnterCriticalSection(&g_lock);
    nth = ++g_sends;
    fh = use_handle(fn, handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    if (ex && flags != 0)
    {
        violation("%s(h%d): flags must be 0 (got 0x%llx) -> ERROR_INVALID_PARAMETER", fn, fh->id, (unsigned long long)flags);
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (addrLen < sizeof(WINDIVERT_ADDRESS) || addrLen > WINDIVERT_BATCH_MAX * sizeof(WINDIVERT_ADDRESS))
    {
        violation("%s(h%d): addrLen=%u outside [%u, %u] -> ERROR_INVALID_PARAMETER", fn, fh->id, addrLen,
            (unsigned)sizeof(WINDIVERT_ADDRESS), (unsigned)(WINDIVERT_BATCH_MAX * sizeof(WINDIVERT_ADDRESS)));
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (pAddr == NULL)
    {
        violation("%s(h%d): pAddr is NULL -> ERROR_INVALID_PARAMETER", fn, fh->id);
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (addrLen % sizeof(WINDIVERT_ADDRESS) &&
        soft_violation("%s(h%d): addrLen=%u is not a multiple of sizeof(WINDIVERT_ADDRESS)", fn, fh->id, addrLen))
    { err = ERROR_INVALID_PARAMETER; goto out; }
    if (fh->shut_send)
    {
        violation("%s(h%d): handle was shut down for sending -> ERROR_NO_DATA", fn, fh->id);
        err = ERROR_NO_DATA; goto out;
    }
    if (fh->flags & WINDIVERT_FLAG_RECV_ONLY)
    {
        violation("%s(h%d): handle was opened with WINDIVERT_FLAG_RECV_ONLY -> ERROR_INVALID_PARAMETER", fn, fh->id);
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (fh->layer != WINDIVERT_LAYER_NETWORK && fh->layer != WINDIVERT_LAYER_NETWORK_FORWARD)
    {
        violation("%s(h%d): layer %s cannot inject -> ERROR_INVALID_PARAMETER", fn, fh->id, layer_name(fh->layer));
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (pPacket == NULL)
    {
        violation("%s(h%d): pPacket is NULL -> ERROR_INVALID_PARAMETER", fn, fh->id);
        err = ERROR_INVALID_PARAMETER; goto out;
    }
    if (cfg.send_error && (cfg.send_error_at == 0 || cfg.send_error_at == nth))
    {
        LOG("SIM", "%s(h%d): simulated failure, error %lu (FAKE_WINDIVERT_SEND_ERROR), call #%ld", fn, fh->id,
            (unsigned long)cfg.send_error, nth);
        err = cfg.send_error; goto out;
    }

    naddr = addrLen / (uint32_t)sizeof(WINDIVERT_ADDRESS);
    for (i = 0; i < naddr; i++)
    {
        const WINDIVERT_ADDRESS *a = &pAddr[i];
        uint32_t plen;
        pview_t v;
        char desc[256];
        int ipok, tcpok, udpok, soft = 0;
        if (left < 20)
        {
            violation("%s(h%d): packet %lu of the batch: only %lu bytes left, less than an IPv4 header -> ERROR_INSUFFICIENT_BUFFER",
                fn, fh->id, (unsigned long)i + 1, (unsigned long)left);
            err = ERROR_INSUFFICIENT_BUFFER; goto out;
        }
        if ((data[0] >> 4) == 4)
        {
            plen = rd16(data + 2);
            if (plen < 20)
            {
                violation("%s(h%d): IPv4 total length %lu < 20 -> ERROR_INVALID_PARAMETER", fn, fh->id, (unsigned long)plen);
                err = ERROR_INVALID_PARAMETER; goto out;
            }
        }
        else if ((data[0] >> 4) == 6)
        {
            if (left < 40)
            {
                violation("%s(h%d): %lu bytes, less than an IPv6 header -> ERROR_INSUFFICIENT_BUFFER", fn, fh->id, (unsigned long)left);
                err = ERROR_INSUFFICIENT_BUFFER; goto out;
            }
            plen = 40u + rd16(data + 4);
        }
        else
        {
            violation("%s(h%d): not an IPv4/IPv6 packet (version nibble %u) -> ERROR_INVALID_PARAMETER", fn, fh->id, data[0] >> 4);
            err = ERROR_INVALID_PARAMETER; goto out;
        }
        if (plen > left)
        {
            violation("%s(h%d): IP length field says %lu bytes but only %lu are in the buffer -> ERROR_INSUFFICIENT_BUFFER",
                fn, fh->id, (unsigned long)plen, (unsigned long)left);
            err = ERROR_INSUFFICIENT_BUFFER; goto out;
        }
        pparse(&v, data, plen);
        describe(desc, sizeof desc, &v);
        /* soft checks: what the driver lets through but is still wrong */
        if (!v.ok)
            soft |= soft_violation("%s(h%d): malformed IP header (IPv4 IHL %u)", fn, fh->id, data[0] & 0x0F);
        if (v.ok && (v.proto == 6) && v.l4 && !v.tcp)
            soft |= soft_violation("%s(h%d): protocol TCP but no valid TCP header (data offset vs length)", fn, fh->id);
        if (a->Layer != fh->layer)
            soft |= soft_violation("%s(h%d): pAddr[%lu].Layer=%u but the handle's layer is %u", fn, fh->id,
                (unsigned long)i, a->Layer, (unsigned)fh->layer);
        if (a->IPv6 != (unsigned)v.v6)
            soft |= soft_violation("%s(h%d): pAddr[%lu].IPv6=%u but the packet is %s", fn, fh->id,
                (unsigned long)i, a->IPv6, v.v6 ? "IPv6" : "IPv4");
        ipok = ip_csum_ok(&v); tcpok = tcp_csum_ok(&v); udpok = udp_csum_ok(&v);
        if (a->IPChecksum && ipok == 0)
            soft |= soft_violation("%s(h%d): IPv4 header checksum is wrong but pAddr->IPChecksum=1 (the packet would leave with a bad checksum)", fn, fh->id);
        if (a->TCPChecksum && tcpok == 0)
            soft |= soft_violation("%s(h%d): TCP checksum is wrong but pAddr->TCPChecksum=1 (the packet would leave with a bad checksum)", fn, fh->id);
        if (a->UDPChecksum && udpok == 0)
            soft |= soft_violation("%s(h%d): UDP checksum is wrong but pAddr->UDPChecksum=1", fn, fh->id);
        if (a->Impostor && ((!v.v6 && data[8] <= 1) || (v.v6 && data[7] <= 1)))
        {
            LOG("SEND", "%s(h%d): impostor packet with TTL/HopLimit <= 1 -> ERROR_HOST_UNREACHABLE", fn, fh->id);
            err = ERROR_HOST_UNREACHABLE; goto out;
        }
        if (soft) { err = ERROR_INVALID_PARAMETER; goto out; }
        g_sent_pkts++;
        fh->n_sent++;
        out_write(fh, data, plen, a, ipok, tcpok, udpok);
        LOG("SEND", "h%d #%llu len=%lu out=%u if=%lu.%lu csum(ip=%u tcp=%u udp=%u) %s", fh->id,
            (unsigned long long)g_sent_pkts, (unsigned long)plen, a->Outbound,
            (unsigned long)a->Network.IfIdx, (unsigned long)a->Network.SubIfIdx, a->IPChecksum,
            a->TCPChecksum, a->UDPChecksum, desc);
        injected += plen;
        data += plen;
        left -= plen;
    }
    if (left)
        if (soft_violation("%s(h%d): %lu trailing byte(s) after the last packet were ignored (packetLen=%u)", fn,
                fh->id, (unsigned long)left, packetLen))
        { err = ERROR_INVALID_PARAMETER; goto out; }

out:
    LeaveCriticalSection(&g_lock);
    if (err != ERROR_SUCCESS)
    {
        /* partial batches: the driver injected the packets before the bad one */
        return fail(err);
    }
    if (ov)
    {
        HANDLE ev = ov_event(ov);
        ov->InternalHigh = injected;
        MemoryBarrier();
        ov->Internal = ST_SUCCESS;
        if (ev) SetEvent(ev);
        SetEvent(fh->h);
        if (!cfg.ov_immediate)
        {
            SetLastError(ERROR_IO_PENDING);
            return FALSE;
        }
    }
    if (pSendLen) *pSendLen = injected;
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

EXPORT BOOL WinDivertSend(HANDLE handle, const VOID *pPacket, UINT packetLen, UINT *pSendLen,
    const WINDIVERT_ADDRESS *pAddr)
{
    return do_send("WinDivertSend", handle, pPacket, packetLen, pSendLen, 0, pAddr,
        (UINT)sizeof(WINDIVERT_ADDRESS), NULL, 0);
}

EXPORT BOOL WinDivertSendEx(HANDLE handle, const VOID *pPacket, UINT packetLen, UINT *pSendLen, UINT64 flags,
    const WINDIVERT_ADDRESS *pAddr, UINT addrLen, LPOVERLAPPED lpOverlapped)
{
    return do_send("WinDivertSendEx", handle, pPacket, packetLen, pSendLen, flags, pAddr, addrLen,
        lpOverlapped, 1);
}

EXPORT BOOL WinDivertShutdown(HANDLE handle, WINDIVERT_SHUTDOWN how)
{
    fhandle_t *fh;
    init_once();
    EnterCriticalSection(&g_lock);
    fh = use_handle("WinDivertShutdown", handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    if ((unsigned)how < WINDIVERT_SHUTDOWN_RECV || (unsigned)how > WINDIVERT_SHUTDOWN_BOTH)
    {
        violation("WinDivertShutdown(h%d): how=%u is not RECV(1), SEND(2) or BOTH(3) -> ERROR_INVALID_PARAMETER",
            fh->id, (unsigned)how);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (how & WINDIVERT_SHUTDOWN_RECV) fh->shut_recv = 1;
    if (how & WINDIVERT_SHUTDOWN_SEND) fh->shut_send = 1;
    LOG("INFO", "WinDivertShutdown(h%d, %s): %lu packet(s) still queued", fh->id,
        how == WINDIVERT_SHUTDOWN_BOTH ? "BOTH" : how == WINDIVERT_SHUTDOWN_RECV ? "RECV" : "SEND",
        (unsigned long)fh->qcount);
    service(fh);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

EXPORT BOOL WinDivertClose(HANDLE handle)
{
    fhandle_t *fh;
    uint32_t dropped = 0;
    init_once();
    EnterCriticalSection(&g_lock);
    fh = use_handle("WinDivertClose", handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    fh->open = 0;
    while (fh->qhead) { qent_free(q_pop(fh)); dropped++; }
    service(fh);     /* pending receives: ERROR_OPERATION_ABORTED */
    SetEvent(fh->h);
    LOG("INFO", "WinDivertClose(h%d): received=%llu sent=%llu dropped=%llu, %lu unread packet(s) released (the driver reinjects them unmodified)",
        fh->id, (unsigned long long)fh->n_recv, (unsigned long long)fh->n_sent,
        (unsigned long long)fh->n_drop, (unsigned long)dropped);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

EXPORT BOOL WinDivertSetParam(HANDLE handle, WINDIVERT_PARAM param, UINT64 value)
{
    fhandle_t *fh;
    uint64_t lo = 0, hi = 0, *dst = NULL;
    const char *name = NULL;
    init_once();
    EnterCriticalSection(&g_lock);
    fh = use_handle("WinDivertSetParam", handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    switch (param)
    {
    case WINDIVERT_PARAM_QUEUE_LENGTH:
        lo = WINDIVERT_PARAM_QUEUE_LENGTH_MIN; hi = WINDIVERT_PARAM_QUEUE_LENGTH_MAX;
        dst = &fh->qlen_max; name = "QUEUE_LENGTH"; break;
    case WINDIVERT_PARAM_QUEUE_TIME:
        lo = WINDIVERT_PARAM_QUEUE_TIME_MIN; hi = WINDIVERT_PARAM_QUEUE_TIME_MAX;
        dst = &fh->qtime_max; name = "QUEUE_TIME"; break;
    case WINDIVERT_PARAM_QUEUE_SIZE:
        lo = WINDIVERT_PARAM_QUEUE_SIZE_MIN; hi = WINDIVERT_PARAM_QUEUE_SIZE_MAX;
        dst = &fh->qsize_max; name = "QUEUE_SIZE"; break;
    case WINDIVERT_PARAM_VERSION_MAJOR:
    case WINDIVERT_PARAM_VERSION_MINOR:
        violation("WinDivertSetParam(h%d): parameter %u (VERSION_*) is read-only -> ERROR_INVALID_PARAMETER", fh->id, (unsigned)param);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    default:
        violation("WinDivertSetParam(h%d): undefined parameter %u -> ERROR_INVALID_PARAMETER", fh->id, (unsigned)param);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (value < lo || value > hi)
    {
        violation("WinDivertSetParam(h%d, %s, %llu): value outside [%llu, %llu] -> ERROR_INVALID_PARAMETER", fh->id,
            name, (unsigned long long)value, (unsigned long long)lo, (unsigned long long)hi);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    }
    *dst = value;
    LOG("INFO", "WinDivertSetParam(h%d, %s, %llu)", fh->id, name, (unsigned long long)value);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

EXPORT BOOL WinDivertGetParam(HANDLE handle, WINDIVERT_PARAM param, UINT64 *pValue)
{
    fhandle_t *fh;
    uint64_t v;
    init_once();
    EnterCriticalSection(&g_lock);
    fh = use_handle("WinDivertGetParam", handle);
    if (!fh) { LeaveCriticalSection(&g_lock); return FALSE; }
    switch (param)
    {
    case WINDIVERT_PARAM_QUEUE_LENGTH: v = fh->qlen_max; break;
    case WINDIVERT_PARAM_QUEUE_TIME: v = fh->qtime_max; break;
    case WINDIVERT_PARAM_QUEUE_SIZE: v = fh->qsize_max; break;
    case WINDIVERT_PARAM_VERSION_MAJOR: v = cfg.ver_major; break;
    case WINDIVERT_PARAM_VERSION_MINOR: v = cfg.ver_minor; break;
    default:
        violation("WinDivertGetParam(h%d): undefined parameter %u -> ERROR_INVALID_PARAMETER", fh->id, (unsigned)param);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (pValue == NULL)
    {
        violation("WinDivertGetParam(h%d): pValue is NULL -> ERROR_INVALID_PARAMETER", fh->id);
        LeaveCriticalSection(&g_lock);
        return fail(ERROR_INVALID_PARAMETER);
    }
    *pValue = v;
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}
