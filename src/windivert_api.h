/*
 * windivert_api.h - hellosplit's own declarations of the WinDivert 2.2
 * user-mode API, for programs that load WinDivert.dll at run time with
 * LoadLibrary()/GetProcAddress() (no import library, no windivert.h).
 *
 * Written from the WinDivert 2.2 documentation ("WinDivert 2.2: Windows
 * Packet Divert", https://reqrypt.org/windivert-doc.html, also shipped as
 * doc/windivert.html in the WinDivert 2.2 release), sections
 *   5.1 WINDIVERT_LAYER, 5.2 WINDIVERT_EVENT, 5.3 WINDIVERT_ADDRESS,
 *   5.4 WinDivertOpen ... 5.12 WinDivertGetParam, 7. Filter Language,
 * and the numeric values of the constants that the 2.2 release publishes
 * (flag bits, parameter ranges, priority range, batch/MTU limits).
 * Only facts (names, values, layouts, signatures) were taken from there;
 * the text below is our own.
 *
 * Calling convention: the 2.2 documentation and release header declare the
 * WinDivert* functions without WINAPI/__stdcall, i.e. with the compiler's
 * default convention (__cdecl).  On x86-64 there is only one convention,
 * but we still spell out __cdecl so that a 32-bit build would be right.
 *
 * Portability: the plain-data part (constants, enums, WINDIVERT_ADDRESS and
 * its layout checks) is pure C11 and compiles on Linux too (unit tests).
 * The function-pointer typedefs deliberately avoid <windows.h>: HANDLE is
 * "void *", BOOL is "int", UINT is "unsigned int", LPOVERLAPPED is
 * "struct _OVERLAPPED *" -- exactly the types <windows.h> uses, so values
 * from GetProcAddress() convert without casts between incompatible types,
 * and the header can be included before or after <winsock2.h>/<windows.h>.
 */
#ifndef HELLOSPLIT_WINDIVERT_API_H
#define HELLOSPLIT_WINDIVERT_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Layers (doc 5.1).  Values are the enum order of the documentation.       */
/* ------------------------------------------------------------------------ */
typedef enum
{
    WINDIVERT_LAYER_NETWORK         = 0, /* packets to/from this machine   */
    WINDIVERT_LAYER_NETWORK_FORWARD = 1, /* packets routed through it      */
    WINDIVERT_LAYER_FLOW            = 2, /* flow established/deleted       */
    WINDIVERT_LAYER_SOCKET          = 3, /* socket operations              */
    WINDIVERT_LAYER_REFLECT         = 4  /* WinDivert handle events        */
} WINDIVERT_LAYER;
#define WINDIVERT_LAYER_LAST WINDIVERT_LAYER_REFLECT   /* highest valid value */

/* ------------------------------------------------------------------------ */
/* Events (doc 5.2).  NETWORK layers only ever report NETWORK_PACKET.       */
/* ------------------------------------------------------------------------ */
typedef enum
{
    WINDIVERT_EVENT_NETWORK_PACKET   = 0,
    WINDIVERT_EVENT_FLOW_ESTABLISHED = 1,
    WINDIVERT_EVENT_FLOW_DELETED     = 2,
    WINDIVERT_EVENT_SOCKET_BIND      = 3,
    WINDIVERT_EVENT_SOCKET_CONNECT   = 4,
    WINDIVERT_EVENT_SOCKET_LISTEN    = 5,
    WINDIVERT_EVENT_SOCKET_ACCEPT    = 6,
    WINDIVERT_EVENT_SOCKET_CLOSE     = 7,
    WINDIVERT_EVENT_REFLECT_OPEN     = 8,
    WINDIVERT_EVENT_REFLECT_CLOSE    = 9
} WINDIVERT_EVENT;

/* ------------------------------------------------------------------------ */
/* WinDivertOpen() flags (doc 5.4).  Invalid: any undefined bit, SNIFF      */
/* together with DROP, RECV_ONLY together with SEND_ONLY.  FLOW and REFLECT */
/* layers require SNIFF|RECV_ONLY, SOCKET requires RECV_ONLY.               */
/* ------------------------------------------------------------------------ */
#define WINDIVERT_FLAG_SNIFF        0x0001ULL
#define WINDIVERT_FLAG_DROP         0x0002ULL
#define WINDIVERT_FLAG_RECV_ONLY    0x0004ULL
#define WINDIVERT_FLAG_READ_ONLY    WINDIVERT_FLAG_RECV_ONLY   /* alias */
#define WINDIVERT_FLAG_SEND_ONLY    0x0008ULL
#define WINDIVERT_FLAG_WRITE_ONLY   WINDIVERT_FLAG_SEND_ONLY   /* alias */
#define WINDIVERT_FLAG_NO_INSTALL   0x0010ULL
#define WINDIVERT_FLAG_FRAGMENTS    0x0020ULL                  /* new in 2.2 */
#define WINDIVERT_FLAGS_DEFINED                                             \
    (WINDIVERT_FLAG_SNIFF | WINDIVERT_FLAG_DROP | WINDIVERT_FLAG_RECV_ONLY | \
     WINDIVERT_FLAG_SEND_ONLY | WINDIVERT_FLAG_NO_INSTALL |                 \
     WINDIVERT_FLAG_FRAGMENTS)

/* Priority range (doc 5.4): higher value = higher priority, 0 = default. */
#define WINDIVERT_PRIORITY_HIGHEST  30000
#define WINDIVERT_PRIORITY_LOWEST   (-WINDIVERT_PRIORITY_HIGHEST)
#define WINDIVERT_PRIORITY_DEFAULT  0

/* ------------------------------------------------------------------------ */
/* Parameters (doc 5.11 / 5.12).  VERSION_* are read-only.                  */
/* ------------------------------------------------------------------------ */
typedef enum
{
    WINDIVERT_PARAM_QUEUE_LENGTH  = 0,  /* packets in the receive queue   */
    WINDIVERT_PARAM_QUEUE_TIME    = 1,  /* ms a packet may stay queued    */
    WINDIVERT_PARAM_QUEUE_SIZE    = 2,  /* bytes in the receive queue     */
    WINDIVERT_PARAM_VERSION_MAJOR = 3,  /* driver major version (get)     */
    WINDIVERT_PARAM_VERSION_MINOR = 4   /* driver minor version (get)     */
} WINDIVERT_PARAM;
#define WINDIVERT_PARAM_LAST WINDIVERT_PARAM_VERSION_MINOR

#define WINDIVERT_PARAM_QUEUE_LENGTH_DEFAULT 4096ULL
#define WINDIVERT_PARAM_QUEUE_LENGTH_MIN     32ULL
#define WINDIVERT_PARAM_QUEUE_LENGTH_MAX     16384ULL
#define WINDIVERT_PARAM_QUEUE_TIME_DEFAULT   2000ULL     /* 2 s   */
#define WINDIVERT_PARAM_QUEUE_TIME_MIN       100ULL      /* 0.1 s */
#define WINDIVERT_PARAM_QUEUE_TIME_MAX       16000ULL    /* 16 s  */
#define WINDIVERT_PARAM_QUEUE_SIZE_DEFAULT   4194304ULL  /* 4 MiB */
#define WINDIVERT_PARAM_QUEUE_SIZE_MIN       65535ULL    /* 64 KiB - 1 */
#define WINDIVERT_PARAM_QUEUE_SIZE_MAX       33554432ULL /* 32 MiB */

/* ------------------------------------------------------------------------ */
/* WinDivertShutdown() "how" (doc 5.9).                                     */
/* ------------------------------------------------------------------------ */
typedef enum
{
    WINDIVERT_SHUTDOWN_RECV = 0x1,  /* stop queueing new packets           */
    WINDIVERT_SHUTDOWN_SEND = 0x2,  /* stop injection                      */
    WINDIVERT_SHUTDOWN_BOTH = 0x3   /* RECV | SEND                         */
} WINDIVERT_SHUTDOWN;

/* Batch and size limits. */
#define WINDIVERT_BATCH_MAX 255u               /* packets per Ex call       */
#define WINDIVERT_MTU_MAX   (40u + 0xFFFFu)    /* largest packet: 65575 B   */

/* ------------------------------------------------------------------------ */
/* WINDIVERT_ADDRESS (doc 5.3): 80 bytes.                                   */
/*   offset  0  int64   Timestamp (QueryPerformanceCounter() clock)         */
/*   offset  8  uint32  bit-field word, bit 0 = least significant:          */
/*                        0-7 Layer, 8-15 Event, 16 Sniffed, 17 Outbound,   */
/*                        18 Loopback, 19 Impostor, 20 IPv6,                */
/*                        21 IPChecksum, 22 TCPChecksum, 23 UDPChecksum,    */
/*                        24-31 reserved                                    */
/*   offset 12  uint32  reserved                                            */
/*   offset 16  64-byte union of the per-layer data                         */
/* ------------------------------------------------------------------------ */
typedef struct
{
    uint32_t IfIdx;      /* interface the packet arrived on / leaves by */
    uint32_t SubIfIdx;   /* sub-interface of IfIdx                       */
} WINDIVERT_DATA_NETWORK;

typedef struct
{
    uint64_t EndpointId;
    uint64_t ParentEndpointId;
    uint32_t ProcessId;
    uint32_t LocalAddr[4];   /* IPv4 as ::ffff:a.b.c.d                  */
    uint32_t RemoteAddr[4];
    uint16_t LocalPort;
    uint16_t RemotePort;
    uint8_t  Protocol;
} WINDIVERT_DATA_FLOW;

typedef struct
{
    uint64_t EndpointId;
    uint64_t ParentEndpointId;
    uint32_t ProcessId;
    uint32_t LocalAddr[4];
    uint32_t RemoteAddr[4];
    uint16_t LocalPort;
    uint16_t RemotePort;
    uint8_t  Protocol;
} WINDIVERT_DATA_SOCKET;

typedef struct
{
    int64_t         Timestamp;   /* when the handle was opened           */
    uint32_t        ProcessId;   /* process that opened it               */
    WINDIVERT_LAYER Layer;       /* its WinDivertOpen() arguments        */
    uint64_t        Flags;
    int16_t         Priority;
} WINDIVERT_DATA_REFLECT;

typedef struct
{
    int64_t  Timestamp;
    uint32_t Layer       : 8;   /* WINDIVERT_LAYER of the handle          */
    uint32_t Event       : 8;   /* WINDIVERT_EVENT                        */
    uint32_t Sniffed     : 1;   /* copied, not diverted                   */
    uint32_t Outbound    : 1;   /* 1 = outbound; send: injection path     */
    uint32_t Loopback    : 1;   /* loopback packet (always outbound)      */
    uint32_t Impostor    : 1;   /* injected by another driver             */
    uint32_t IPv6        : 1;   /* 1 = IPv6, 0 = IPv4                     */
    uint32_t IPChecksum  : 1;   /* IPv4 header checksum valid             */
    uint32_t TCPChecksum : 1;   /* TCP checksum valid                     */
    uint32_t UDPChecksum : 1;   /* UDP checksum valid                     */
    uint32_t Reserved1   : 8;
    uint32_t Reserved2;
    union
    {
        WINDIVERT_DATA_NETWORK Network;   /* NETWORK, NETWORK_FORWARD   */
        WINDIVERT_DATA_FLOW    Flow;      /* FLOW                       */
        WINDIVERT_DATA_SOCKET  Socket;    /* SOCKET                     */
        WINDIVERT_DATA_REFLECT Reflect;   /* REFLECT                    */
        uint8_t                Reserved3[64];
    };
} WINDIVERT_ADDRESS;

/* Masks of the bit-field word at offset 8 (for code that reads it raw). */
#define WINDIVERT_ADDRESS_BITS_OFFSET    8u
#define WINDIVERT_ADDRESS_BIT_SNIFFED     (1u << 16)
#define WINDIVERT_ADDRESS_BIT_OUTBOUND    (1u << 17)
#define WINDIVERT_ADDRESS_BIT_LOOPBACK    (1u << 18)
#define WINDIVERT_ADDRESS_BIT_IMPOSTOR    (1u << 19)
#define WINDIVERT_ADDRESS_BIT_IPV6        (1u << 20)
#define WINDIVERT_ADDRESS_BIT_IPCHECKSUM  (1u << 21)
#define WINDIVERT_ADDRESS_BIT_TCPCHECKSUM (1u << 22)
#define WINDIVERT_ADDRESS_BIT_UDPCHECKSUM (1u << 23)

_Static_assert(sizeof(WINDIVERT_DATA_NETWORK) == 8, "DATA_NETWORK size");
_Static_assert(sizeof(WINDIVERT_DATA_FLOW) == 64, "DATA_FLOW size");
_Static_assert(offsetof(WINDIVERT_DATA_FLOW, Protocol) == 56,
    "DATA_FLOW.Protocol offset");
_Static_assert(sizeof(WINDIVERT_DATA_SOCKET) == 64, "DATA_SOCKET size");
_Static_assert(offsetof(WINDIVERT_DATA_SOCKET, Protocol) == 56,
    "DATA_SOCKET.Protocol offset");
_Static_assert(offsetof(WINDIVERT_DATA_REFLECT, Priority) == 24,
    "DATA_REFLECT.Priority offset");
_Static_assert(sizeof(WINDIVERT_ADDRESS) == 80, "WINDIVERT_ADDRESS must be 80 bytes");
_Static_assert(offsetof(WINDIVERT_ADDRESS, Timestamp) == 0, "Timestamp offset");
_Static_assert(offsetof(WINDIVERT_ADDRESS, Reserved2) == 12, "Reserved2 offset");
_Static_assert(offsetof(WINDIVERT_ADDRESS, Network) == 16, "Network offset");
_Static_assert(offsetof(WINDIVERT_ADDRESS, Reserved3) == 16, "union offset");
_Static_assert(offsetof(WINDIVERT_ADDRESS, Network.SubIfIdx) == 20,
    "Network.SubIfIdx offset");

/* ------------------------------------------------------------------------ */
/* Functions exported by WinDivert.dll (doc 5.4 - 5.12).                    */
/* ------------------------------------------------------------------------ */
#if defined(_WIN32)
#define WINDIVERT_API_CALL __cdecl
#else
#define WINDIVERT_API_CALL
#endif

#define WINDIVERT_DLL_NAME "WinDivert.dll"

struct _OVERLAPPED;   /* <windows.h>'s OVERLAPPED; LPOVERLAPPED is a pointer to it */

/* Returns INVALID_HANDLE_VALUE ((void *)-1) on failure, see GetLastError():
 * 2 driver file missing, 5 not administrator, 87 bad filter/layer/priority/
 * flags, 577 bad driver signature, 654 incompatible driver loaded,
 * 1060 NO_INSTALL and driver absent, 1275 driver blocked, 1753 BFE disabled. */
typedef void *(WINDIVERT_API_CALL *PFN_WinDivertOpen)(
    const char *filter, WINDIVERT_LAYER layer, int16_t priority,
    uint64_t flags);

/* FALSE + 122 (ERROR_INSUFFICIENT_BUFFER): packet larger than the buffer,
 * truncated; FALSE + 232 (ERROR_NO_DATA): shut down and queue empty. */
typedef int (WINDIVERT_API_CALL *PFN_WinDivertRecv)(
    void *handle, void *pPacket, unsigned int packetLen,
    unsigned int *pRecvLen, WINDIVERT_ADDRESS *pAddr);

/* flags must be 0.  *pAddrLen: in = bytes of pAddr (a multiple of
 * sizeof(WINDIVERT_ADDRESS), at most WINDIVERT_BATCH_MAX of them), out =
 * bytes written; NULL means one address.  With lpOverlapped: FALSE +
 * ERROR_IO_PENDING (997) means started; the byte count then comes from
 * GetOverlappedResult(), *pRecvLen is not written. */
typedef int (WINDIVERT_API_CALL *PFN_WinDivertRecvEx)(
    void *handle, void *pPacket, unsigned int packetLen,
    unsigned int *pRecvLen, uint64_t flags, WINDIVERT_ADDRESS *pAddr,
    unsigned int *pAddrLen, struct _OVERLAPPED *lpOverlapped);

/* Uses from pAddr only Outbound, Impostor, the *Checksum bits and
 * Network.IfIdx/SubIfIdx.  FALSE + 1232 (ERROR_HOST_UNREACHABLE) when an
 * impostor packet's TTL/HopLimit reaches 0. */
typedef int (WINDIVERT_API_CALL *PFN_WinDivertSend)(
    void *handle, const void *pPacket, unsigned int packetLen,
    unsigned int *pSendLen, const WINDIVERT_ADDRESS *pAddr);

/* flags must be 0; addrLen = bytes of pAddr (N addresses for N packets
 * packed back to back in pPacket). */
typedef int (WINDIVERT_API_CALL *PFN_WinDivertSendEx)(
    void *handle, const void *pPacket, unsigned int packetLen,
    unsigned int *pSendLen, uint64_t flags, const WINDIVERT_ADDRESS *pAddr,
    unsigned int addrLen, struct _OVERLAPPED *lpOverlapped);

typedef int (WINDIVERT_API_CALL *PFN_WinDivertShutdown)(
    void *handle, WINDIVERT_SHUTDOWN how);

typedef int (WINDIVERT_API_CALL *PFN_WinDivertClose)(void *handle);

typedef int (WINDIVERT_API_CALL *PFN_WinDivertSetParam)(
    void *handle, WINDIVERT_PARAM param, uint64_t value);

typedef int (WINDIVERT_API_CALL *PFN_WinDivertGetParam)(
    void *handle, WINDIVERT_PARAM param, uint64_t *pValue);

/* Converting GetProcAddress()'s FARPROC: a direct cast trips GCC's
 * -Wcast-function-type (part of -Wextra); going through the generic
 * "void (*)(void)" is the documented way to say the cast is intended. */
#define WINDIVERT_FN_CAST(type, farproc) ((type)(void (*)(void))(farproc))

/* X-macro over the entry points: X(name, pointer type).  Example:
 *   #define LOAD(n, t) api.n = WINDIVERT_FN_CAST(t, GetProcAddress(dll, #n));
 *   WINDIVERT_API_FUNCTIONS(LOAD)                                       */
#define WINDIVERT_API_FUNCTIONS(X)                     \
    X(WinDivertOpen,     PFN_WinDivertOpen)            \
    X(WinDivertRecv,     PFN_WinDivertRecv)            \
    X(WinDivertRecvEx,   PFN_WinDivertRecvEx)          \
    X(WinDivertSend,     PFN_WinDivertSend)            \
    X(WinDivertSendEx,   PFN_WinDivertSendEx)          \
    X(WinDivertShutdown, PFN_WinDivertShutdown)        \
    X(WinDivertClose,    PFN_WinDivertClose)           \
    X(WinDivertSetParam, PFN_WinDivertSetParam)        \
    X(WinDivertGetParam, PFN_WinDivertGetParam)

/* Win32 error codes documented for WinDivertOpen() that older MinGW
 * <winerror.h> lacks (only defined when not already present). */
#ifdef _WIN32
#ifndef ERROR_INVALID_IMAGE_HASH
#define ERROR_INVALID_IMAGE_HASH 577L
#endif
#ifndef ERROR_DRIVER_FAILED_PRIOR_UNLOAD
#define ERROR_DRIVER_FAILED_PRIOR_UNLOAD 654L
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* HELLOSPLIT_WINDIVERT_API_H */
