/* probe-net.h — the few socket, clock and random calls `hellosplit probe`
 * needs. One file per platform implements them: probe-posix.c (Linux,
 * Android, BSD) and probe-windows.c (Winsock2). */
#ifndef HELLOSPLIT_PROBE_NET_H
#define HELLOSPLIT_PROBE_NET_H

#include <stddef.h>
#include <stdint.h>

/* A POSIX descriptor or a Winsock SOCKET, both fit. */
typedef intptr_t probe_socket;
#define PROBE_NO_SOCKET ((probe_socket)-1)

struct probe_address {
	int family;           /* 4 or 6 */
	uint8_t bytes[16];
	uint16_t port;
	char text[48];        /* numeric form, for people */
};

/* Why a socket call failed, as the probe reports it. */
enum probe_net_status {
	PROBE_NET_OK = 0,
	PROBE_NET_AGAIN,          /* would block: try later */
	PROBE_NET_RESET,          /* the peer (or someone in between) sent a RST */
	PROBE_NET_REFUSED,        /* RST answering the SYN */
	PROBE_NET_TIMEOUT,
	PROBE_NET_UNREACHABLE,    /* ICMP unreachable, no route */
	PROBE_NET_CLOSED,         /* orderly close (FIN) */
	PROBE_NET_ERROR,          /* anything else */
};

#define PROBE_NET_READ 1
#define PROBE_NET_WRITE 2
#define PROBE_NET_FAILED 4

struct probe_poll {
	probe_socket sock;
	int want;             /* PROBE_NET_READ | PROBE_NET_WRITE */
	int got;              /* filled in: PROBE_NET_READ | _WRITE | _FAILED */
};

/* What the kernel says about a connection's sent bytes. */
struct probe_tcp_state {
	int32_t unsent;       /* written, not yet sent; -1: this platform cannot tell */
	uint32_t unacked;     /* written, not yet acknowledged (unsent included) */
	uint32_t retransmits; /* grows with every retransmission */
};

/* Once per process: Winsock start-up, UTF-8 console; 0 or -1 with err. */
int probe_net_init(char *err, size_t errlen);
void probe_net_cleanup(void);

/* Resolves name (a numeric address only, when numeric) to at most max TCP
 * addresses in the system's preferred order. Returns how many, or -1 with
 * a reason in err. */
int probe_net_resolve(const char *name, int numeric, uint16_t port, struct probe_address *out, int max,
		      char *err, size_t errlen);

/* Starts a non-blocking connect with TCP_NODELAY; PROBE_NET_OK (in
 * progress or done) or why not. */
enum probe_net_status probe_net_connect(const struct probe_address *a, probe_socket *sock);
/* After the socket polled writable: did the connect succeed? */
enum probe_net_status probe_net_connect_result(probe_socket sock);
/* Writes at most n bytes: >= 0 bytes written, or -status. */
long probe_net_send(probe_socket sock, const uint8_t *buf, size_t n);
/* Reads at most n bytes: > 0 bytes read, or -status (CLOSED at end of stream). */
long probe_net_recv(probe_socket sock, uint8_t *buf, size_t n);
/* Closes with a RST (SO_LINGER 0): hundreds of tries leave no TIME_WAIT. */
void probe_net_close(probe_socket sock);
/* Waits up to timeout_ms for the wanted events; returns the number of
 * sockets with events, 0 on timeout, -1 on error. */
int probe_net_poll(struct probe_poll *p, int n, int timeout_ms);
/* 0 and the state, or -1 when this platform cannot tell. */
int probe_net_tcp_state(probe_socket sock, struct probe_tcp_state *st);

/* 64 bits from the system's random source. */
uint64_t probe_net_seed(void);
/* How a person starts the daemon here ("sudo hellosplit"). */
const char *probe_net_daemon_command(void);
/* What this platform does about merged retransmissions, for the report. */
const char *probe_net_merge_note(void);

#endif
