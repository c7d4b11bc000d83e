/* daemon.h — the one daemon loop every platform runs, and the adapter each
 * platform plugs into it. The loop owns the engine, the logger, the host
 * lists, the stats timer, reloads and the release at the end; the adapter
 * owns the packet source and the operating system's events. No OS header
 * here: the loop runs in the unit tests with a fake adapter and a fake clock.
 *
 * Adapters: daemon-linux.c (NFQUEUE, through nfqueue.c), tc.c (the tc engine), windivert.c (WinDivert),
 * divert.c (FreeBSD divert(4) and its Linux stand-in). Each also defines
 * daemon_run, which main.c calls. */
#ifndef HELLOSPLIT_DAEMON_H
#define HELLOSPLIT_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "stats.h"

/* Longest wait between two ticks: the engine's idle-flow GC runs about once a second. */
#define DAEMON_TICK_MS 1000

/* What the adapter's wait saw: bits. */
#define DAEMON_PACKETS 1u          /* packets are waiting: the loop calls receive */
#define DAEMON_STOP 2u             /* stop: release the held packets, report, return */
#define DAEMON_STOP_QUIET 4u       /* stop without printing the final counters (still saved) */
#define DAEMON_PRINT_STATS 8u      /* print the counters now */
#define DAEMON_RELOAD 16u          /* read the host lists again; flows in progress are kept */

/* The time in milliseconds from a monotonic clock. */
struct daemon_clock {
	uint64_t (*now_ms)(void *ctx);
	void *ctx;
};

/* A platform's packet source. Every function gets ctx. Errors are printed by
 * the adapter (it knows the OS error text) and returned as -errno. */
struct daemon_adapter {
	void *ctx;
	/* The engine's emit callback and the context it is called with. */
	engine_emit_fn emit;
	void *emit_ctx;
	/* The engine is ready: open the packet source. Returns 0, 1 when a stop
	 * came before it could open (exit 0), or -errno. */
	int (*start)(void *ctx, struct engine *engine);
	/* Waits for packets or an event, at most timeout_ms. Returns DAEMON_*
	 * bits (0: the time passed), or -errno. */
	int (*wait)(void *ctx, uint32_t timeout_ms);
	/* Reads the packets waiting into the engine. Returns 0, 1 when the source
	 * ended cleanly (exit 0), or -errno. */
	int (*receive)(void *ctx, uint64_t now_ms);
	/* Sends what the engine and receive left queued (may be NULL: nothing is queued). */
	void (*flush)(void *ctx);
	/* Before the held packets are released: stop receiving (may be NULL). */
	void (*stop_receiving)(void *ctx);
	/* After the release: say what could not be sent (may be NULL). */
	void (*report_errors)(void *ctx);
	/* Where the counters go besides the log (may be NULL: --stats-json). */
	void (*save_stats)(void *ctx, const struct stats *stats, double uptime_s);
	/* Closes what start opened, also after a failed start (may be NULL). */
	void (*close)(void *ctx);
	/* 1 when receive hands the engine the servers' answers (engine_reply):
	 * learning needs them; 0: the daemon runs with learning off, said once. */
	int observes_replies;
	/* Where the learned state text goes (may be NULL: the loop writes the
	 * --state file itself). 0 or -errno, said by the callee. */
	int (*save_learned)(void *ctx, const char *text, size_t len);
	/* The counters to report when the packets are counted elsewhere (the tc
	 * engine's maps); may be NULL: the engine's. */
	const struct stats *(*stats)(void *ctx);
};

/* Loads the host lists, creates the engine, starts the adapter and runs it
 * until a stop; then releases every held packet and reports the counters.
 * Returns the exit code: 0, or 1 with the reason printed. */
int daemon_loop(const struct config *cfg, const struct daemon_adapter *adapter, const struct daemon_clock *clock);

/* The system's monotonic clock (monotonic_ms, file.h): every daemon's. */
extern const struct daemon_clock daemon_monotonic_clock;

/* Runs until a stop signal; returns the exit code (0, or 1 with the reason printed). */
int daemon_run(const struct config *cfg);

#endif
