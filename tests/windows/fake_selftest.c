/*
 * fake_selftest.c - proves that the fake WinDivert.dll behaves like the
 * WinDivert 2.2 documentation says, from the point of view of a program that
 * loads it with LoadLibrary()/GetProcAddress() (exactly like hellosplit).
 *
 * usage: fake_selftest.exe SCENARIO [ARGS]
 *   api                      argument/contract checks and their error codes
 *   filter N FILTER          receive exactly N packets matching FILTER (and
 *                            no more); print one line per packet
 *   relay plain|split        hellosplit-like loop with the default filter:
 *                            blocking Recv, re-inject (split: as 2 segments
 *                            with one batched SendEx); stops when a console
 *                            Ctrl-C arrives (its handler calls Shutdown)
 *   overlapped N             overlapped RecvEx + event wait with timeout
 *                            (timer ticks), batching, GetOverlappedResult,
 *                            ERROR_IO_INCOMPLETE, CancelIoEx, Shutdown and
 *                            Close completing pending receives
 *   blocking                 Shutdown/Close unblock a blocking WinDivertRecv
 *   timing N                 print the gaps between N received packets
 *   late                     packets older than QUEUE_TIME are dropped
 *   badcsum ERR              a wrong TCP checksum with TCPChecksum=1 must give
 *                            ERR (0 = accepted like the driver, 87 = STRICT)
 *   openerr CODE [retry]     WinDivertOpen must fail with CODE (and with
 *                            "retry": a third open must then succeed)
 *   version                  print the version reported by GetParam
 * Prints "ok   - ..." / "FAIL - ..." lines; exit status = number of FAILs.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00     /* GetOverlappedResultEx */
#endif
#include <winsock2.h>
#include <windows.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windivert_api.h"

static struct
{
#define DECLARE_FN(name, type) type name;
    WINDIVERT_API_FUNCTIONS(DECLARE_FN)
#undef DECLARE_FN
} api;

static int failures;
static uint8_t g_buf[WINDIVERT_MTU_MAX * 8];

#define DEFAULT_FILTER \
    "outbound and !loopback and (ip or ipv6) and tcp.DstPort == 443 and tcp.PayloadLength > 0"

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void check(int cond, const char *fmt, ...)
{
    va_list ap;
    printf(cond ? "ok   - " : "FAIL - ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond) failures++;
}

/* r must be FALSE with GetLastError() == want */
static void expect_err(BOOL r, DWORD want, const char *what)
{
    DWORD e = GetLastError();
    check(!r && e == want, "%s -> FALSE, error %lu (got %s, error %lu)", what, (unsigned long)want,
        r ? "TRUE" : "FALSE", (unsigned long)e);
}

static void expect_ok(BOOL r, const char *what)
{
    DWORD e = GetLastError();
    check(r, "%s -> TRUE (error %lu)", what, r ? 0ul : (unsigned long)e);
}

static HMODULE dll;

static void load_api(void)
{
    dll = LoadLibraryA(WINDIVERT_DLL_NAME);
    if (!dll)
    {
        printf("FAIL - LoadLibrary(%s): error %lu\n", WINDIVERT_DLL_NAME, (unsigned long)GetLastError());
        exit(100);
    }
#define LOAD_FN(name, type)                                                  \
    api.name = WINDIVERT_FN_CAST(type, GetProcAddress(dll, #name));          \
    if (!api.name) { printf("FAIL - GetProcAddress(%s)\n", #name); exit(100); }
    WINDIVERT_API_FUNCTIONS(LOAD_FN)
#undef LOAD_FN
}

static HANDLE open_ok(const char *filter, WINDIVERT_LAYER layer, int16_t prio, uint64_t flags)
{
    HANDLE h = api.WinDivertOpen(filter, layer, prio, flags);
    if (h == INVALID_HANDLE_VALUE)
    {
        check(0, "WinDivertOpen(\"%s\", %d, %d, 0x%llx): error %lu", filter, (int)layer, (int)prio,
            (unsigned long long)flags, (unsigned long)GetLastError());
        return NULL;
    }
    return h;
}

static void expect_open_fail(const char *filter, WINDIVERT_LAYER layer, int16_t prio, uint64_t flags,
    DWORD want, const char *why)
{
    HANDLE h = api.WinDivertOpen(filter, layer, prio, flags);
    DWORD e = GetLastError();
    check(h == INVALID_HANDLE_VALUE && e == want, "WinDivertOpen %s -> INVALID_HANDLE_VALUE, error %lu (got %s, %lu)",
        why, (unsigned long)want, h == INVALID_HANDLE_VALUE ? "INVALID" : "a handle", (unsigned long)e);
    if (h != INVALID_HANDLE_VALUE) api.WinDivertClose(h);
}

/* ---------------------------------------------------------------------- */
/* packets                                                                */
/* ---------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
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

typedef struct
{
    int v6;
    uint32_t len, iphl, l4off, tcphl, ploff, pllen;
    int tcp, udp;
} pinfo_t;

static int pinfo(const uint8_t *p, uint32_t n, pinfo_t *o)
{
    memset(o, 0, sizeof *o);
    if (n < 20) return 0;
    if ((p[0] >> 4) == 4)
    {
        o->iphl = (uint32_t)(p[0] & 15) * 4;
        o->len = rd16(p + 2);
        o->l4off = o->iphl;
        o->tcp = p[9] == 6;
        o->udp = p[9] == 17;
    }
    else
    {
        if (n < 40) return 0;
        o->v6 = 1;
        o->iphl = 40;
        o->len = 40u + rd16(p + 4);
        o->l4off = 40;
        o->tcp = p[6] == 6;
        o->udp = p[6] == 17;
    }
    if (o->len > n) return 0;
    if (o->tcp)
    {
        o->tcphl = (uint32_t)(p[o->l4off + 12] >> 4) * 4;
        o->ploff = o->l4off + o->tcphl;
        o->pllen = o->len - o->ploff;
    }
    return 1;
}

static void fix_checksums(uint8_t *p)
{
    pinfo_t i;
    uint32_t s = 0, seg;
    pinfo(p, 65535, &i);
    seg = i.len - i.l4off;
    if (!i.v6)
    {
        wr16(p + 10, 0);
        wr16(p + 10, fold(sum16(p, i.iphl, 0)));
        s = sum16(p + 12, 8, 0) + 6 + seg;
    }
    else
        s = sum16(p + 8, 32, 0) + 6 + seg;
    wr16(p + i.l4off + 16, 0);
    wr16(p + i.l4off + 16, fold(sum16(p + i.l4off, seg, s)));
}

static void fmt_ip(char *out, size_t n, const uint8_t *a, int v6)
{
    if (!v6) snprintf(out, n, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    else
    {
        /* compact enough for tests: print the 8 groups, zeros as 0 */
        snprintf(out, n, "%x:%x:%x:%x:%x:%x:%x:%x", rd16(a), rd16(a + 2), rd16(a + 4), rd16(a + 6),
            rd16(a + 8), rd16(a + 10), rd16(a + 12), rd16(a + 14));
    }
}

static void print_packet(const char *tag, const uint8_t *p, uint32_t n, const WINDIVERT_ADDRESS *a)
{
    pinfo_t i;
    char s[64], d[64];
    if (!pinfo(p, n, &i)) { say("%s malformed packet (%lu bytes)\n", tag, (unsigned long)n); return; }
    fmt_ip(s, sizeof s, i.v6 ? p + 8 : p + 12, i.v6);
    fmt_ip(d, sizeof d, i.v6 ? p + 24 : p + 16, i.v6);
    if (i.tcp)
    {
        const uint8_t *t = p + i.l4off;
        say("%s %s %s %s:%u > %s:%u tcp flags=0x%02x payload=%lu len=%lu loopback=%u ifidx=%lu.%lu layer=%u event=%u sniffed=%u csum=%u%u%u\n",
            tag, i.v6 ? "v6" : "v4", a->Outbound ? "out" : "in ", s, rd16(t), d, rd16(t + 2), t[13],
            (unsigned long)i.pllen, (unsigned long)n, a->Loopback, (unsigned long)a->Network.IfIdx,
            (unsigned long)a->Network.SubIfIdx, a->Layer, a->Event, a->Sniffed, a->IPChecksum, a->TCPChecksum,
            a->UDPChecksum);
    }
    else
        say("%s %s %s %s > %s proto=%u len=%lu loopback=%u ifidx=%lu.%lu\n", tag, i.v6 ? "v6" : "v4",
            a->Outbound ? "out" : "in ", s, d, i.v6 ? p[6] : p[9], (unsigned long)n, a->Loopback,
            (unsigned long)a->Network.IfIdx, (unsigned long)a->Network.SubIfIdx);
}

/* a valid IPv4/TCP packet with payload, checksums right */
static uint32_t make_tcp4(uint8_t *p, uint32_t payload)
{
    uint32_t len = 40 + payload;
    memset(p, 0, len);
    p[0] = 0x45; wr16(p + 2, (uint16_t)len); wr16(p + 4, 7); p[6] = 0x40; p[8] = 64; p[9] = 6;
    p[12] = 192; p[13] = 168; p[14] = 1; p[15] = 10;
    p[16] = 93; p[17] = 184; p[18] = 216; p[19] = 34;
    wr16(p + 20, 50000); wr16(p + 22, 443); wr32(p + 24, 1000); wr32(p + 28, 1);
    p[32] = 0x50; p[33] = 0x18; wr16(p + 34, 64240);
    for (uint32_t k = 0; k < payload; k++) p[40 + k] = (uint8_t)k;
    fix_checksums(p);
    return len;
}

static void good_addr(WINDIVERT_ADDRESS *a, int v6)
{
    memset(a, 0, sizeof *a);
    a->Layer = WINDIVERT_LAYER_NETWORK;
    a->Outbound = 1;
    a->IPv6 = (uint32_t)v6;
    a->IPChecksum = 1;
    a->TCPChecksum = 1;
    a->Network.IfIdx = 7;
}

/* ---------------------------------------------------------------------- */
/* scenario: api                                                          */
/* ---------------------------------------------------------------------- */

static void scenario_api(void)
{
    HANDLE h, h2;
    uint64_t v = 0;
    UINT n = 0, al;
    WINDIVERT_ADDRESS addr[2];
    uint8_t pkt[256];
    uint32_t len;
    static char big[16384];
    HANDLE bogus = (HANDLE)(ULONG_PTR)0x12345678;

    /* the address layout the driver relies on */
    {
        WINDIVERT_ADDRESS a;
        uint32_t word;
        memset(&a, 0, sizeof a);
        a.Outbound = 1; a.IPv6 = 1; a.TCPChecksum = 1; a.Layer = 3; a.Event = 9;
        memcpy(&word, (uint8_t *)&a + WINDIVERT_ADDRESS_BITS_OFFSET, 4);
        check(word == (3u | (9u << 8) | WINDIVERT_ADDRESS_BIT_OUTBOUND | WINDIVERT_ADDRESS_BIT_IPV6 |
            WINDIVERT_ADDRESS_BIT_TCPCHECKSUM) && sizeof a == 80,
            "WINDIVERT_ADDRESS is 80 bytes and its bit-field word is laid out as documented (0x%08lx)",
            (unsigned long)word);
    }

    h = open_ok("true", WINDIVERT_LAYER_NETWORK, 0, 0);
    if (!h) return;
    check(h != NULL && h != INVALID_HANDLE_VALUE, "WinDivertOpen(\"true\") returns a handle");
    expect_ok(api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MAJOR, &v), "GetParam(VERSION_MAJOR)");
    check(v == 2, "VERSION_MAJOR == 2 (%llu)", (unsigned long long)v);
    expect_ok(api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MINOR, &v), "GetParam(VERSION_MINOR)");
    check(v == 2, "VERSION_MINOR == 2 (%llu)", (unsigned long long)v);
    api.WinDivertGetParam(h, WINDIVERT_PARAM_QUEUE_LENGTH, &v);
    check(v == WINDIVERT_PARAM_QUEUE_LENGTH_DEFAULT, "QUEUE_LENGTH default %llu", (unsigned long long)v);
    api.WinDivertGetParam(h, WINDIVERT_PARAM_QUEUE_TIME, &v);
    check(v == WINDIVERT_PARAM_QUEUE_TIME_DEFAULT, "QUEUE_TIME default %llu", (unsigned long long)v);
    api.WinDivertGetParam(h, WINDIVERT_PARAM_QUEUE_SIZE, &v);
    check(v == WINDIVERT_PARAM_QUEUE_SIZE_DEFAULT, "QUEUE_SIZE default %llu", (unsigned long long)v);

    /* parameter ranges */
    {
        struct { WINDIVERT_PARAM p; uint64_t lo, hi; const char *n; } r[] = {
            {WINDIVERT_PARAM_QUEUE_LENGTH, WINDIVERT_PARAM_QUEUE_LENGTH_MIN, WINDIVERT_PARAM_QUEUE_LENGTH_MAX, "QUEUE_LENGTH"},
            {WINDIVERT_PARAM_QUEUE_TIME, WINDIVERT_PARAM_QUEUE_TIME_MIN, WINDIVERT_PARAM_QUEUE_TIME_MAX, "QUEUE_TIME"},
            {WINDIVERT_PARAM_QUEUE_SIZE, WINDIVERT_PARAM_QUEUE_SIZE_MIN, WINDIVERT_PARAM_QUEUE_SIZE_MAX, "QUEUE_SIZE"},
        };
        char what[128];
        for (int k = 0; k < 3; k++)
        {
            snprintf(what, sizeof what, "SetParam(%s, min %llu)", r[k].n, (unsigned long long)r[k].lo);
            expect_ok(api.WinDivertSetParam(h, r[k].p, r[k].lo), what);
            snprintf(what, sizeof what, "SetParam(%s, max %llu)", r[k].n, (unsigned long long)r[k].hi);
            expect_ok(api.WinDivertSetParam(h, r[k].p, r[k].hi), what);
            api.WinDivertGetParam(h, r[k].p, &v);
            check(v == r[k].hi, "GetParam(%s) returns the value set", r[k].n);
            snprintf(what, sizeof what, "SetParam(%s, min-1)", r[k].n);
            expect_err(api.WinDivertSetParam(h, r[k].p, r[k].lo - 1), ERROR_INVALID_PARAMETER, what);
            snprintf(what, sizeof what, "SetParam(%s, max+1)", r[k].n);
            expect_err(api.WinDivertSetParam(h, r[k].p, r[k].hi + 1), ERROR_INVALID_PARAMETER, what);
        }
    }
    expect_err(api.WinDivertSetParam(h, WINDIVERT_PARAM_VERSION_MAJOR, 3), ERROR_INVALID_PARAMETER, "SetParam(VERSION_MAJOR) (read-only)");
    expect_err(api.WinDivertSetParam(h, (WINDIVERT_PARAM)5, 1), ERROR_INVALID_PARAMETER, "SetParam(undefined param 5)");
    expect_err(api.WinDivertGetParam(h, (WINDIVERT_PARAM)7, &v), ERROR_INVALID_PARAMETER, "GetParam(undefined param 7)");
    expect_err(api.WinDivertGetParam(h, WINDIVERT_PARAM_QUEUE_TIME, NULL), ERROR_INVALID_PARAMETER, "GetParam(pValue NULL)");

    /* open arguments */
    expect_open_fail("true", (WINDIVERT_LAYER)5, 0, 0, ERROR_INVALID_PARAMETER, "undefined layer 5");
    expect_open_fail("true", WINDIVERT_LAYER_NETWORK, 0, 0x40, ERROR_INVALID_PARAMETER, "undefined flag 0x40");
    expect_open_fail("true", WINDIVERT_LAYER_NETWORK, 0, WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_DROP,
        ERROR_INVALID_PARAMETER, "SNIFF|DROP");
    expect_open_fail("true", WINDIVERT_LAYER_NETWORK, 0, WINDIVERT_FLAG_RECV_ONLY | WINDIVERT_FLAG_SEND_ONLY,
        ERROR_INVALID_PARAMETER, "RECV_ONLY|SEND_ONLY");
    expect_open_fail("true", WINDIVERT_LAYER_NETWORK, WINDIVERT_PRIORITY_HIGHEST + 1, 0, ERROR_INVALID_PARAMETER, "priority 30001");
    expect_open_fail("true", WINDIVERT_LAYER_NETWORK, WINDIVERT_PRIORITY_LOWEST - 1, 0, ERROR_INVALID_PARAMETER, "priority -30001");
    expect_open_fail("true", WINDIVERT_LAYER_FLOW, 0, 0, ERROR_INVALID_PARAMETER, "FLOW layer without SNIFF|RECV_ONLY");
    expect_open_fail(NULL, WINDIVERT_LAYER_NETWORK, 0, 0, ERROR_INVALID_PARAMETER, "NULL filter");
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, WINDIVERT_PRIORITY_HIGHEST, WINDIVERT_FLAG_FRAGMENTS | WINDIVERT_FLAG_NO_INSTALL);
    check(h2 != NULL, "priority 30000 with FRAGMENTS|NO_INSTALL accepted");
    if (h2) api.WinDivertClose(h2);
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, WINDIVERT_PRIORITY_LOWEST, WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_RECV_ONLY);
    check(h2 != NULL, "priority -30000 with SNIFF|RECV_ONLY accepted");
    if (h2) api.WinDivertClose(h2);
    h2 = open_ok("true", WINDIVERT_LAYER_FLOW, 0, WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_RECV_ONLY);
    check(h2 != NULL, "FLOW layer with SNIFF|RECV_ONLY accepted");
    if (h2)
    {
        len = make_tcp4(pkt, 10);
        good_addr(&addr[0], 0);
        expect_err(api.WinDivertSend(h2, pkt, len, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Send on a FLOW-layer (RECV_ONLY) handle");
        api.WinDivertClose(h2);
    }

    /* filters the fake must accept (hellosplit's default and variants) */
    {
        static const char *good[] = {
            DEFAULT_FILTER,
            DEFAULT_FILTER " and ifIdx != 7",
            DEFAULT_FILTER " and (ifIdx != 7 or subIfIdx != 0)",
            DEFAULT_FILTER " and ifIdx != 3 and (ifIdx != 7 or subIfIdx != 1)",
            "outbound && !loopback && (ip || ipv6) && tcp.DstPort == 443 && tcp.PayloadLength > 0",
            "tcp.DstPort = 443", "not tcp.Syn", "!!loopback", "tcp.Payload[0] == 0x16",
            "tcp.Payload32[-1] != 0", "packet[-20b] == 0x45", "(tcp? tcp.DstPort == 443: udp.DstPort == 53)",
            "ip.DstAddr >= 10.0.0.0 and ip.DstAddr <= 10.255.255.255", "ipv6.DstAddr == ::1",
            "ipv6.SrcAddr == 2001:db8::10 or ipv6.SrcAddr == ::ffff:1.2.3.4", "event == PACKET",
            "protocol == TCP", "true", "false", "zero", "length > 0 and fragment == 0",
            "localPort == 50000 or remotePort == 443", "tcp.DstPort == 0x1bb", "impostor == FALSE",
        };
        for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        {
            h2 = api.WinDivertOpen(good[k], WINDIVERT_LAYER_NETWORK, 0, WINDIVERT_FLAG_SNIFF);
            check(h2 != INVALID_HANDLE_VALUE, "filter accepted: %s (error %lu)", good[k],
                h2 == INVALID_HANDLE_VALUE ? (unsigned long)GetLastError() : 0ul);
            if (h2 != INVALID_HANDLE_VALUE) api.WinDivertClose(h2);
        }
    }
    /* filters the real WinDivert 2.2 refuses with ERROR_INVALID_PARAMETER */
    {
        static const char *bad[] = {
            "", "tcp.DstPort ==", "tcp.DstPort == 443 and", "(tcp", "tcp)", "tcp.Foo == 1",
            "TCP.DstPort == 443", "tcp.dstport == 443", "tcp.DstPort == 443 & tcp", "tcp.DstPort | udp",
            "not (ifIdx == 7 and subIfIdx == 0)", "!(loopback)",
            DEFAULT_FILTER " and not (ifIdx == 7 and subIfIdx == 0)",
            "processId == 4", "layer == NETWORK", "ip.SrcAddr == 1.2.3", "ip.SrcAddr == 1.2.3.256",
            "tcp.DstPort == 443 tcp.SrcPort == 1", "tcp.Payload[] == 1", "tcp.DstPort == 999999999999999999999999999999999999999999",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", "tcp.Payload32[-1b] != 0", "(tcp ? ip)", "tcp.DstPort > -",
            "tcp.DstPort == 340282366920938463463374607431768211456", "ip.DstAddr == 1.2.3.4:", "ifIdx == 7 ifIdx",
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        {
            char what[512];
            snprintf(what, sizeof what, "with invalid filter \"%s\"", bad[k]);
            expect_open_fail(bad[k], WINDIVERT_LAYER_NETWORK, 0, 0, ERROR_INVALID_PARAMETER, what);
        }
        /* more than 256 tests after folding */
        strcpy(big, "tcp.DstPort == 1");
        for (int k = 2; k <= 300; k++)
        {
            char t[32];
            snprintf(t, sizeof t, " or tcp.DstPort == %d", k);
            strcat(big, t);
        }
        expect_open_fail(big, WINDIVERT_LAYER_NETWORK, 0, 0, ERROR_INVALID_PARAMETER, "with a filter of 1200 tokens");
        strcpy(big, "tcp.Syn");
        for (int k = 2; k <= 300; k++) strcat(big, " or tcp.Syn");
        expect_open_fail(big, WINDIVERT_LAYER_NETWORK, 0, 0, ERROR_INVALID_PARAMETER, "with a filter of 300 tests");
    }

    /* handles */
    expect_err(api.WinDivertRecv(bogus, g_buf, sizeof g_buf, &n, &addr[0]), ERROR_INVALID_HANDLE, "Recv(bogus handle)");
    expect_err(api.WinDivertSend(bogus, pkt, 40, &n, &addr[0]), ERROR_INVALID_HANDLE, "Send(bogus handle)");
    expect_err(api.WinDivertShutdown(bogus, WINDIVERT_SHUTDOWN_BOTH), ERROR_INVALID_HANDLE, "Shutdown(bogus handle)");
    expect_err(api.WinDivertSetParam(bogus, WINDIVERT_PARAM_QUEUE_TIME, 1000), ERROR_INVALID_HANDLE, "SetParam(bogus handle)");
    expect_err(api.WinDivertClose(bogus), ERROR_INVALID_HANDLE, "Close(bogus handle)");
    expect_err(api.WinDivertClose(INVALID_HANDLE_VALUE), ERROR_INVALID_HANDLE, "Close(INVALID_HANDLE_VALUE)");

    /* receive arguments */
    al = sizeof addr;
    expect_err(api.WinDivertRecvEx(h, g_buf, sizeof g_buf, &n, 1, addr, &al, NULL), ERROR_INVALID_PARAMETER, "RecvEx(flags=1)");
    al = sizeof(WINDIVERT_ADDRESS) - 1;
    expect_err(api.WinDivertRecvEx(h, g_buf, sizeof g_buf, &n, 0, addr, &al, NULL), ERROR_INVALID_PARAMETER, "RecvEx(*pAddrLen=79)");
    al = (WINDIVERT_BATCH_MAX + 1) * sizeof(WINDIVERT_ADDRESS);
    expect_err(api.WinDivertRecvEx(h, g_buf, sizeof g_buf, &n, 0, addr, &al, NULL), ERROR_INVALID_PARAMETER, "RecvEx(*pAddrLen=256 addresses)");
    al = sizeof(WINDIVERT_ADDRESS);
    expect_err(api.WinDivertRecvEx(h, g_buf, sizeof g_buf, &n, 0, NULL, &al, NULL), ERROR_INVALID_PARAMETER, "RecvEx(pAddr NULL with pAddrLen)");
    expect_err(api.WinDivertRecv(h, NULL, 1500, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Recv(pPacket NULL, packetLen 1500)");

    /* send arguments and packet checks */
    len = make_tcp4(pkt, 20);
    good_addr(&addr[0], 0);
    n = 0;
    expect_ok(api.WinDivertSend(h, pkt, len, &n, &addr[0]), "Send(valid IPv4/TCP packet)");
    check(n == len, "pSendLen == %lu (%u)", (unsigned long)len, n);
    expect_err(api.WinDivertSend(h, pkt, len, &n, NULL), ERROR_INVALID_PARAMETER, "Send(pAddr NULL)");
    expect_err(api.WinDivertSendEx(h, pkt, len, &n, 0, &addr[0], 0, NULL), ERROR_INVALID_PARAMETER, "SendEx(addrLen 0)");
    expect_err(api.WinDivertSendEx(h, pkt, len, &n, 0, &addr[0], (WINDIVERT_BATCH_MAX + 1) * sizeof(WINDIVERT_ADDRESS), NULL),
        ERROR_INVALID_PARAMETER, "SendEx(addrLen of 256 addresses)");
    expect_err(api.WinDivertSendEx(h, pkt, len, &n, 2, &addr[0], sizeof(WINDIVERT_ADDRESS), NULL), ERROR_INVALID_PARAMETER, "SendEx(flags=2)");
    expect_err(api.WinDivertSend(h, NULL, len, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Send(pPacket NULL)");
    expect_err(api.WinDivertSend(h, pkt, 10, &n, &addr[0]), ERROR_INSUFFICIENT_BUFFER, "Send(10-byte buffer)");
    expect_err(api.WinDivertSend(h, pkt, len - 5, &n, &addr[0]), ERROR_INSUFFICIENT_BUFFER, "Send(IPv4 length > buffer)");
    pkt[0] = 0x55;
    expect_err(api.WinDivertSend(h, pkt, len, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Send(IP version 5)");
    pkt[0] = 0x45;
    wr16(pkt + 2, 12);
    expect_err(api.WinDivertSend(h, pkt, len, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Send(IPv4 total length 12)");
    {
        uint8_t v6[60];
        memset(v6, 0, sizeof v6);
        v6[0] = 0x60; wr16(v6 + 4, 40); v6[6] = 59; v6[7] = 64;
        addr[0].IPv6 = 1;
        expect_err(api.WinDivertSend(h, v6, 60, &n, &addr[0]), ERROR_INSUFFICIENT_BUFFER, "Send(IPv6 payload length > buffer)");
        expect_err(api.WinDivertSend(h, v6, 30, &n, &addr[0]), ERROR_INSUFFICIENT_BUFFER, "Send(30 bytes of IPv6)");
        addr[0].IPv6 = 0;
    }
    /* a batch of two where the buffer holds only one packet */
    len = make_tcp4(pkt, 20);
    good_addr(&addr[1], 0);
    expect_err(api.WinDivertSendEx(h, pkt, len, &n, 0, addr, sizeof addr, NULL), ERROR_INSUFFICIENT_BUFFER,
        "SendEx(2 addresses, 1 packet)");
    /* soft violations: the real driver sends these; the fake logs them */
    pkt[40] ^= 0xFF;     /* payload changed, checksum now wrong */
    expect_ok(api.WinDivertSend(h, pkt, len, &n, &addr[0]), "Send(wrong TCP checksum, TCPChecksum=1) is accepted like the driver does (logged)");
    pkt[40] ^= 0xFF;
    addr[0].Layer = WINDIVERT_LAYER_SOCKET;
    expect_ok(api.WinDivertSend(h, pkt, len, &n, &addr[0]), "Send(address Layer SOCKET on a NETWORK handle) is accepted like the driver does (logged)");
    addr[0].Layer = WINDIVERT_LAYER_NETWORK;

    /* shutdown */
    expect_err(api.WinDivertShutdown(h, (WINDIVERT_SHUTDOWN)0), ERROR_INVALID_PARAMETER, "Shutdown(how=0)");
    expect_err(api.WinDivertShutdown(h, (WINDIVERT_SHUTDOWN)4), ERROR_INVALID_PARAMETER, "Shutdown(how=4)");
    expect_ok(api.WinDivertShutdown(h, WINDIVERT_SHUTDOWN_SEND), "Shutdown(SEND)");
    expect_err(api.WinDivertSend(h, pkt, len, &n, &addr[0]), ERROR_NO_DATA, "Send after Shutdown(SEND)");
    expect_ok(api.WinDivertShutdown(h, WINDIVERT_SHUTDOWN_RECV), "Shutdown(RECV)");
    /* the filter is "true": queued packets can still be read, then ERROR_NO_DATA */
    {
        int got = 0;
        BOOL r;
        while ((r = api.WinDivertRecv(h, g_buf, sizeof g_buf, &n, &addr[0])) && got < 100) got++;
        expect_err(r, ERROR_NO_DATA, "Recv after Shutdown(RECV), once the queue is drained");
        say("info - %d queued packet(s) were still readable after Shutdown(RECV)\n", got);
    }

    /* RECV_ONLY / SEND_ONLY handles */
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, WINDIVERT_FLAG_RECV_ONLY);
    if (h2)
    {
        expect_err(api.WinDivertSend(h2, pkt, len, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Send on a RECV_ONLY handle");
        api.WinDivertClose(h2);
    }
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, WINDIVERT_FLAG_SEND_ONLY);
    if (h2)
    {
        expect_err(api.WinDivertRecv(h2, g_buf, sizeof g_buf, &n, &addr[0]), ERROR_INVALID_PARAMETER, "Recv on a SEND_ONLY handle");
        expect_ok(api.WinDivertSend(h2, pkt, len, &n, &addr[0]), "Send on a SEND_ONLY handle");
        api.WinDivertClose(h2);
    }

    /* an OVERLAPPED in flight must not be reused; CloseHandle() is WinDivertClose() */
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, 0);
    if (h2)
    {
        OVERLAPPED ov;
        DWORD got = 0;
        BOOL r;
        memset(&ov, 0, sizeof ov);
        r = api.WinDivertRecvEx(h2, g_buf, sizeof g_buf, NULL, 0, NULL, NULL, &ov);
        check(!r && GetLastError() == ERROR_IO_PENDING, "RecvEx pending on a \"false\" handle");
        expect_err(api.WinDivertRecvEx(h2, g_buf, sizeof g_buf, NULL, 0, NULL, NULL, &ov), ERROR_INVALID_PARAMETER,
            "RecvEx reusing the pending OVERLAPPED");
        expect_ok(CloseHandle(h2), "CloseHandle(WinDivert handle), as WinDivertClose does");
        expect_err(GetOverlappedResult(h2, &ov, &got, TRUE), ERROR_OPERATION_ABORTED, "the pending receive was aborted by CloseHandle");
        expect_err(api.WinDivertClose(h2), ERROR_INVALID_HANDLE, "WinDivertClose after CloseHandle");
    }

    /* close */
    expect_ok(api.WinDivertClose(h), "Close");
    expect_err(api.WinDivertClose(h), ERROR_INVALID_HANDLE, "Close twice");
    expect_err(api.WinDivertRecv(h, g_buf, sizeof g_buf, &n, &addr[0]), ERROR_INVALID_HANDLE, "Recv on a closed handle");
    expect_err(api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MAJOR, &v), ERROR_INVALID_HANDLE, "GetParam on a closed handle");
}

/* ---------------------------------------------------------------------- */
/* scenario: filter N FILTER                                              */
/* ---------------------------------------------------------------------- */

static void scenario_filter(int want, const char *filter)
{
    HANDLE h = open_ok(filter, WINDIVERT_LAYER_NETWORK, 0, 0);
    HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    int got = 0;
    if (!h) return;
    for (;;)
    {
        OVERLAPPED ov;
        WINDIVERT_ADDRESS a;
        UINT al = sizeof a;
        DWORD n = 0, w;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = ev;
        if (!api.WinDivertRecvEx(h, g_buf, WINDIVERT_MTU_MAX, NULL, 0, &a, &al, &ov) &&
            GetLastError() != ERROR_IO_PENDING)
        {
            check(0, "RecvEx: error %lu", (unsigned long)GetLastError());
            break;
        }
        /* the capture lasts 0.11 s; after the expected packets wait 1 s more */
        w = WaitForSingleObject(ev, got < want ? 10000 : 1000);
        if (w == WAIT_TIMEOUT)
        {
            CancelIoEx(h, &ov);
            GetOverlappedResult(h, &ov, &n, TRUE);
            break;
        }
        if (!GetOverlappedResult(h, &ov, &n, FALSE))
        {
            check(0, "GetOverlappedResult: error %lu", (unsigned long)GetLastError());
            break;
        }
        got++;
        print_packet("pkt", g_buf, n, &a);
    }
    check(got == want, "filter \"%s\": %d packet(s), expected %d", filter, got, want);
    api.WinDivertClose(h);
}

/* ---------------------------------------------------------------------- */
/* scenario: relay (the good case, ended by a console Ctrl-C)             */
/* ---------------------------------------------------------------------- */

static HANDLE g_relay;
static volatile LONG g_ctrl_events;

static BOOL WINAPI on_ctrl(DWORD type)
{
    if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT)
    {
        InterlockedIncrement(&g_ctrl_events);
        api.WinDivertShutdown(g_relay, WINDIVERT_SHUTDOWN_RECV);
        return TRUE;
    }
    return FALSE;
}

static void scenario_relay(int split)
{
    int packets = 0;
    WINDIVERT_ADDRESS a;
    UINT n;
    g_relay = open_ok(DEFAULT_FILTER, WINDIVERT_LAYER_NETWORK, 0, 0);
    if (!g_relay) return;
    expect_ok(api.WinDivertSetParam(g_relay, WINDIVERT_PARAM_QUEUE_LENGTH, 8192), "SetParam(QUEUE_LENGTH, 8192)");
    expect_ok(api.WinDivertSetParam(g_relay, WINDIVERT_PARAM_QUEUE_TIME, 2000), "SetParam(QUEUE_TIME, 2000)");
    SetConsoleCtrlHandler(on_ctrl, TRUE);
    say("ready\n");
    for (;;)
    {
        if (!api.WinDivertRecv(g_relay, g_buf, WINDIVERT_MTU_MAX, &n, &a))
        {
            DWORD e = GetLastError();
            check(e == ERROR_NO_DATA, "receive loop ended by ERROR_NO_DATA after Shutdown(RECV) (error %lu)", (unsigned long)e);
            break;
        }
        packets++;
        print_packet("pkt", g_buf, n, &a);
        if (split)
        {
            pinfo_t i;
            uint8_t *two = g_buf + WINDIVERT_MTU_MAX;
            uint32_t h, l1, l2;
            UINT sent = 0;
            WINDIVERT_ADDRESS aa[2];
            pinfo(g_buf, n, &i);
            h = i.ploff;
            l1 = h + 1;
            l2 = h + i.pllen - 1;
            memcpy(two, g_buf, l1);
            memcpy(two + l1, g_buf, h);
            memcpy(two + l1 + h, g_buf + h + 1, i.pllen - 1);
            if (i.v6) { wr16(two + 4, (uint16_t)(l1 - 40)); wr16(two + l1 + 4, (uint16_t)(l2 - 40)); }
            else { wr16(two + 2, (uint16_t)l1); wr16(two + l1 + 2, (uint16_t)l2); wr16(two + l1 + 4, (uint16_t)(rd16(g_buf + 4) + 1)); }
            wr32(two + l1 + i.l4off + 4, rd32(g_buf + i.l4off + 4) + 1);
            fix_checksums(two);
            fix_checksums(two + l1);
            aa[0] = a; aa[1] = a;
            aa[0].IPChecksum = aa[1].IPChecksum = !i.v6;
            aa[0].TCPChecksum = aa[1].TCPChecksum = 1;
            if (!api.WinDivertSendEx(g_relay, two, l1 + l2, &sent, 0, aa, sizeof aa, NULL))
                check(0, "SendEx(2 segments): error %lu", (unsigned long)GetLastError());
            else if (sent != l1 + l2)
                check(0, "SendEx sent %u of %lu bytes", sent, (unsigned long)(l1 + l2));
        }
        else if (!api.WinDivertSend(g_relay, g_buf, n, NULL, &a))
            check(0, "Send: error %lu", (unsigned long)GetLastError());
    }
    check(g_ctrl_events >= 1, "console ctrl handler ran (%ld event(s)) and the shutdown path completed", g_ctrl_events);
    expect_ok(api.WinDivertClose(g_relay), "Close");
    say("relayed %d packet(s)\n", packets);
}

/* ---------------------------------------------------------------------- */
/* scenario: overlapped N                                                 */
/* ---------------------------------------------------------------------- */

typedef struct { HANDLE h; DWORD delay; int how; } later_t;   /* how: 0 shutdown recv, 1 close */

static DWORD WINAPI do_later(LPVOID p)
{
    later_t *l = (later_t *)p;
    Sleep(l->delay);
    if (l->how == 0) api.WinDivertShutdown(l->h, WINDIVERT_SHUTDOWN_RECV);
    else api.WinDivertClose(l->h);
    return 0;
}

static void scenario_overlapped(int want)
{
    HANDLE h, h2, ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    int got = 0, batches = 0, ticks = 0;
    WINDIVERT_ADDRESS addrs[8];
    OVERLAPPED ov;
    DWORD n, w;
    UINT al;
    BOOL r;

    h = open_ok("tcp", WINDIVERT_LAYER_NETWORK, 0, 0);
    if (!h) return;
    while (got < want)
    {
        /* the first 4 packets one by one, as they arrive (10 ms apart in the
         * capture); then let the rest queue up and take them in batches */
        if (got == 4) Sleep(300);
        memset(&ov, 0, sizeof ov);
        ov.hEvent = ev;
        al = got < 4 ? (UINT)sizeof(WINDIVERT_ADDRESS) : (UINT)sizeof addrs;
        r = api.WinDivertRecvEx(h, g_buf, sizeof g_buf, NULL, 0, addrs, &al, &ov);
        if (!r && GetLastError() != ERROR_IO_PENDING)
        {
            check(0, "overlapped RecvEx: error %lu", (unsigned long)GetLastError());
            break;
        }
        if (got < 4)
        {
            /* event loop style 1: GetOverlappedResultEx with a timeout */
            while (!GetOverlappedResultEx(h, &ov, &n, 2, FALSE))
            {
                if (GetLastError() != WAIT_TIMEOUT)
                {
                    check(0, "GetOverlappedResultEx: error %lu", (unsigned long)GetLastError());
                    goto done;
                }
                if (++ticks > 10000) { check(0, "no completion within 20 s"); goto done; }
            }
        }
        else
        {
            /* event loop style 2: wait on the event with a timeout, run timers */
            while ((w = WaitForSingleObject(ev, 2)) == WAIT_TIMEOUT)
            {
                ticks++;
                if (ticks > 10000) break;
            }
            if (w != WAIT_OBJECT_0) { check(0, "no completion within 20 s"); break; }
            if (!GetOverlappedResult(h, &ov, &n, FALSE))
            {
                check(0, "GetOverlappedResult: error %lu", (unsigned long)GetLastError());
                break;
            }
        }
        check(al % sizeof(WINDIVERT_ADDRESS) == 0 && al >= sizeof(WINDIVERT_ADDRESS),
            "completion wrote *pAddrLen=%u (%u address(es)) and %lu bytes", al,
            al / (unsigned)sizeof(WINDIVERT_ADDRESS), (unsigned long)n);
        {
            uint32_t off = 0, k = 0;
            while (off < n && k < al / sizeof(WINDIVERT_ADDRESS))
            {
                pinfo_t i;
                if (!pinfo(g_buf + off, n - off, &i)) break;
                print_packet("pkt", g_buf + off, i.len, &addrs[k]);
                off += i.len;
                k++;
            }
            check(off == n && k == al / sizeof(WINDIVERT_ADDRESS), "batch of %lu packet(s) packed back to back", (unsigned long)k);
            got += (int)k;
        }
        batches++;
        ResetEvent(ev);
    }
done:
    check(got == want, "received %d packet(s) with overlapped RecvEx, expected %d", got, want);
    check(batches < got, "batching: %d packets in %d completion(s)", got, batches);
    check(ticks > 0, "the wait loop timed out %d time(s) while receives were pending (timers can run)", ticks);

    /* pending receive, hEvent NULL: IO_INCOMPLETE, then CancelIoEx */
    memset(&ov, 0, sizeof ov);
    al = sizeof addrs;
    r = api.WinDivertRecvEx(h, g_buf, sizeof g_buf, NULL, 0, addrs, &al, &ov);
    check(!r && GetLastError() == ERROR_IO_PENDING, "RecvEx with no packet pending returns ERROR_IO_PENDING");
    check(!HasOverlappedIoCompleted(&ov), "HasOverlappedIoCompleted() is FALSE while pending");
    expect_err(GetOverlappedResult(h, &ov, &n, FALSE), ERROR_IO_INCOMPLETE, "GetOverlappedResult(bWait=FALSE) while pending");
    expect_ok(CancelIoEx(h, &ov), "CancelIoEx(handle, &ov)");
    expect_err(GetOverlappedResult(h, &ov, &n, TRUE), ERROR_OPERATION_ABORTED, "GetOverlappedResult(bWait=TRUE, hEvent NULL) after CancelIoEx");

    /* Shutdown(RECV) completes a pending overlapped receive with ERROR_NO_DATA */
    {
        later_t l = {h, 200, 0};
        HANDLE th;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = ev;
        ResetEvent(ev);
        al = sizeof addrs;
        r = api.WinDivertRecvEx(h, g_buf, sizeof g_buf, NULL, 0, addrs, &al, &ov);
        check(!r && GetLastError() == ERROR_IO_PENDING, "RecvEx pending before Shutdown");
        th = CreateThread(NULL, 0, do_later, &l, 0, NULL);
        w = WaitForSingleObject(ev, 5000);
        check(w == WAIT_OBJECT_0, "Shutdown(RECV) from another thread signals the pending receive");
        expect_err(GetOverlappedResult(h, &ov, &n, TRUE), ERROR_NO_DATA, "GetOverlappedResult after Shutdown(RECV)");
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
        memset(&ov, 0, sizeof ov);
        ov.hEvent = ev;
        al = sizeof addrs;
        r = api.WinDivertRecvEx(h, g_buf, sizeof g_buf, NULL, 0, addrs, &al, &ov);
        if (!r && GetLastError() == ERROR_IO_PENDING) r = GetOverlappedResult(h, &ov, &n, TRUE);
        expect_err(r, ERROR_NO_DATA, "a new overlapped RecvEx after Shutdown(RECV)");
    }
    api.WinDivertClose(h);

    /* Close completes a pending overlapped receive with ERROR_OPERATION_ABORTED */
    h2 = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, 0);
    if (h2)
    {
        later_t l = {h2, 200, 1};
        HANDLE th;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = ev;
        ResetEvent(ev);
        r = api.WinDivertRecvEx(h2, g_buf, sizeof g_buf, NULL, 0, NULL, NULL, &ov);
        check(!r && GetLastError() == ERROR_IO_PENDING, "RecvEx (no address buffer) pending before Close");
        th = CreateThread(NULL, 0, do_later, &l, 0, NULL);
        w = WaitForSingleObject(ev, 5000);
        check(w == WAIT_OBJECT_0, "Close from another thread signals the pending receive");
        expect_err(GetOverlappedResult(h2, &ov, &n, TRUE), ERROR_OPERATION_ABORTED, "GetOverlappedResult after Close");
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
    }
}

/* ---------------------------------------------------------------------- */
/* scenario: blocking                                                     */
/* ---------------------------------------------------------------------- */

typedef struct { HANDLE h; BOOL r; DWORD err; } blk_t;

static DWORD WINAPI blocking_recv(LPVOID p)
{
    blk_t *b = (blk_t *)p;
    WINDIVERT_ADDRESS a;
    UINT n;
    b->r = api.WinDivertRecv(b->h, g_buf, sizeof g_buf, &n, &a);
    b->err = GetLastError();
    return 0;
}

static void scenario_blocking(void)
{
    for (int how = 0; how < 2; how++)
    {
        blk_t b;
        HANDLE th;
        DWORD w;
        b.h = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, 0);
        if (!b.h) return;
        b.r = TRUE; b.err = 0;
        th = CreateThread(NULL, 0, blocking_recv, &b, 0, NULL);
        w = WaitForSingleObject(th, 300);
        check(w == WAIT_TIMEOUT, "WinDivertRecv blocks while no packet matches");
        if (how == 0) api.WinDivertShutdown(b.h, WINDIVERT_SHUTDOWN_RECV);
        else api.WinDivertClose(b.h);
        w = WaitForSingleObject(th, 5000);
        check(w == WAIT_OBJECT_0, "%s from another thread unblocks WinDivertRecv", how == 0 ? "Shutdown(RECV)" : "Close");
        check(!b.r && b.err == (how == 0 ? ERROR_NO_DATA : ERROR_OPERATION_ABORTED),
            "... which returns FALSE, error %lu (got %lu)", how == 0 ? 232ul : 995ul, (unsigned long)b.err);
        CloseHandle(th);
        if (how == 0)
        {
            expect_err(api.WinDivertRecv(b.h, g_buf, sizeof g_buf, NULL, NULL), ERROR_NO_DATA, "Recv again after Shutdown(RECV)");
            api.WinDivertClose(b.h);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* scenario: timing N                                                     */
/* ---------------------------------------------------------------------- */

static void scenario_timing(int want)
{
    HANDLE h = open_ok("outbound and tcp.PayloadLength > 0", WINDIVERT_LAYER_NETWORK, 0, 0);
    LARGE_INTEGER f, t, prev = {{0, 0}};
    INT64 prev_ts = 0;
    int mono = 1;
    if (!h) return;
    QueryPerformanceFrequency(&f);
    for (int k = 0; k < want; k++)
    {
        WINDIVERT_ADDRESS a;
        UINT n;
        if (!api.WinDivertRecv(h, g_buf, sizeof g_buf, &n, &a))
        {
            check(0, "Recv: error %lu", (unsigned long)GetLastError());
            break;
        }
        QueryPerformanceCounter(&t);
        if (k > 0)
        {
            say("gap_ms %ld\n", (long)((t.QuadPart - prev.QuadPart) * 1000 / f.QuadPart));
            if (a.Timestamp <= prev_ts) mono = 0;
        }
        prev = t;
        prev_ts = a.Timestamp;
    }
    check(mono, "WINDIVERT_ADDRESS.Timestamp strictly increasing");
    api.WinDivertClose(h);
}

/* ---------------------------------------------------------------------- */
/* scenario: late - packets wait longer than QUEUE_TIME and are dropped   */
/* ---------------------------------------------------------------------- */

static void scenario_late(void)
{
    HANDLE h = open_ok("true", WINDIVERT_LAYER_NETWORK, 0, 0);
    HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    OVERLAPPED ov;
    DWORD n, w;
    if (!h) return;
    expect_ok(api.WinDivertSetParam(h, WINDIVERT_PARAM_QUEUE_TIME, WINDIVERT_PARAM_QUEUE_TIME_MIN),
        "SetParam(QUEUE_TIME, 100)");
    Sleep(800);
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!api.WinDivertRecvEx(h, g_buf, sizeof g_buf, NULL, 0, NULL, NULL, &ov) && GetLastError() != ERROR_IO_PENDING)
        check(0, "RecvEx: error %lu", (unsigned long)GetLastError());
    w = WaitForSingleObject(ev, 500);
    check(w == WAIT_TIMEOUT, "packets queued longer than QUEUE_TIME were dropped (nothing to receive)");
    if (w == WAIT_TIMEOUT)
    {
        CancelIoEx(h, &ov);
        GetOverlappedResult(h, &ov, &n, TRUE);
    }
    api.WinDivertClose(h);
}

/* ---------------------------------------------------------------------- */
/* scenario: badcsum EXPECTED_ERROR - a send the real driver tolerates    */
/* ---------------------------------------------------------------------- */

static void scenario_badcsum(DWORD want)
{
    HANDLE h = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, 0);
    uint8_t pkt[128];
    uint32_t len = make_tcp4(pkt, 20);
    WINDIVERT_ADDRESS a;
    BOOL r;
    DWORD e;
    if (!h) return;
    good_addr(&a, 0);
    pkt[45] ^= 0x55;
    r = api.WinDivertSend(h, pkt, len, NULL, &a);
    e = r ? 0 : GetLastError();
    check(want ? (!r && e == want) : r, "Send(wrong TCP checksum with TCPChecksum=1) -> %s (got error %lu)",
        want ? "FALSE/87" : "TRUE", (unsigned long)e);
    api.WinDivertClose(h);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: fake_selftest SCENARIO [args] (see the source)\n");
        return 100;
    }
    load_api();
    if (!strcmp(argv[1], "api")) scenario_api();
    else if (!strcmp(argv[1], "filter") && argc >= 4) scenario_filter(atoi(argv[2]), argv[3]);
    else if (!strcmp(argv[1], "relay")) scenario_relay(argc >= 3 && !strcmp(argv[2], "split"));
    else if (!strcmp(argv[1], "overlapped") && argc >= 3) scenario_overlapped(atoi(argv[2]));
    else if (!strcmp(argv[1], "blocking")) scenario_blocking();
    else if (!strcmp(argv[1], "timing") && argc >= 3) scenario_timing(atoi(argv[2]));
    else if (!strcmp(argv[1], "late")) scenario_late();
    else if (!strcmp(argv[1], "badcsum") && argc >= 3) scenario_badcsum((DWORD)strtoul(argv[2], NULL, 0));
    else if (!strcmp(argv[1], "openerr") && argc >= 3)
    {
        DWORD want = (DWORD)strtoul(argv[2], NULL, 0);
        HANDLE h = api.WinDivertOpen(DEFAULT_FILTER, WINDIVERT_LAYER_NETWORK, 0, 0);
        DWORD e = GetLastError();
        check(h == INVALID_HANDLE_VALUE && e == want, "WinDivertOpen fails with the simulated error %lu (got %lu)",
            (unsigned long)want, (unsigned long)e);
        h = api.WinDivertOpen("tcp.Nope", WINDIVERT_LAYER_NETWORK, 0, 0);
        e = GetLastError();
        check(h == INVALID_HANDLE_VALUE && e == ERROR_INVALID_PARAMETER,
            "an invalid filter is still reported as 87 first (got %lu)", (unsigned long)e);
        if (argc >= 4 && !strcmp(argv[3], "retry"))
        {
            h = api.WinDivertOpen("false", WINDIVERT_LAYER_NETWORK, 0, 0);
            check(h != INVALID_HANDLE_VALUE, "a later WinDivertOpen succeeds (error %lu)",
                h == INVALID_HANDLE_VALUE ? (unsigned long)GetLastError() : 0ul);
            if (h != INVALID_HANDLE_VALUE) api.WinDivertClose(h);
        }
    }
    else if (!strcmp(argv[1], "version"))
    {
        HANDLE h = open_ok("false", WINDIVERT_LAYER_NETWORK, 0, 0);
        uint64_t ma = 0, mi = 0;
        if (h)
        {
            api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MAJOR, &ma);
            api.WinDivertGetParam(h, WINDIVERT_PARAM_VERSION_MINOR, &mi);
            say("version %llu.%llu\n", (unsigned long long)ma, (unsigned long long)mi);
            api.WinDivertClose(h);
        }
    }
    else
    {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 100;
    }
    FreeLibrary(dll);       /* must not crash the fake's replay thread */
    Sleep(100);
    say("failures: %d\n", failures);
    return failures;
}
