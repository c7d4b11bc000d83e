/* probe.h — `hellosplit probe HOST...`: find a --split-at value that gets a
 * ClientHello past this network's DPI, with ordinary TCP connections (no
 * daemon, no privileges). probe.c reads the command line and runs the
 * hosts, probe-run.c runs the tries, probe-report.c judges and prints. */
#ifndef HELLOSPLIT_PROBE_H
#define HELLOSPLIT_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "clienthello.h"
#include "probe-net.h"
#include "split.h"

#define PROBE_MAX_CANDIDATES 24
#define PROBE_MAX_TRIES 20
#define PROBE_MAX_ADDRESSES 8
#define PROBE_TEXT_MAX 64

/* The name of a ClientHello sent when nothing works, to tell a blocked
 * address from a blocked name. */
#define PROBE_CONTROL_NAME "www.example.com"
#define PROBE_CONTROL_NAME_ALT "www.example.org"

/* How one try ended. */
enum probe_outcome {
	PROBE_SERVER_HELLO = 0,  /* a ServerHello record */
	PROBE_HELLO_RETRY,       /* a HelloRetryRequest: a ServerHello asking for another key share */
	PROBE_ALERT,             /* a TLS alert: the server saw the hello */
	PROBE_OTHER_RECORD,      /* another TLS record */
	PROBE_RESET,             /* RST after the hello */
	PROBE_TIMEOUT,           /* no answer within --timeout */
	PROBE_CLOSED,            /* FIN without an answer */
	PROBE_NOT_TLS,           /* bytes that are no TLS record (a block page?) */
	PROBE_CONNECT_FAILED,    /* the TCP connection did not open */
	PROBE_OUTCOMES,
};

#define PROBE_OUTCOME_OK(o) ((o) <= PROBE_OTHER_RECORD)

struct probe_candidate {
	char text[PROBE_TEXT_MAX];   /* "unsplit" or a --split-at value */
	int unsplit;
	struct split_spec spec;
	int ncuts;                   /* resolved against the probe's own hello */
	uint32_t cuts[SPLIT_MAX_POSITIONS];
	/* results */
	int ok, failed, inconclusive;
	int outcomes[PROBE_OUTCOMES];
	uint32_t answer_us[PROBE_MAX_TRIES];   /* time to the answer of each ok try */
	int nanswers;
};

enum probe_verdict {
	PROBE_NO_DPI = 0,        /* the unsplit hello always got through */
	PROBE_SPLIT_WORKS,       /* blocked unsplit; a split always got through */
	PROBE_PARTLY,            /* blocked unsplit; splits got through only sometimes */
	PROBE_NAME_REASSEMBLED,  /* nothing gets through, a hello for another name does
				  * (before the control tries ran: nothing gets through) */
	PROBE_ADDRESS_BLOCKED,   /* nothing gets through, not even another name */
	PROBE_UNREACHABLE,       /* no TCP connection opens */
	PROBE_UNKNOWN,           /* every try was inconclusive */
	PROBE_ERROR,             /* not probed: the name did not resolve, ... */
};

struct probe_host {
	const char *name;
	struct probe_address address;
	char error[512];             /* resolve or connect failure */
	uint32_t hello_len, sni_off, sni_len;
	int ncandidates;
	struct probe_candidate candidates[PROBE_MAX_CANDIDATES];
	struct probe_candidate control;  /* unsplit hello for PROBE_CONTROL_NAME */
	int control_run;
	enum probe_verdict verdict;
	int recommended;             /* index into candidates, -1 none */
	int best;                    /* PROBE_PARTLY: the split that worked most */
};

struct probe_options {
	const char **hosts;
	int nhosts;
	const char *ip;
	uint16_t port;
	uint32_t timeout_ms, tries, concurrency;
	int json, verbose;
	enum clienthello_profile profile;
	int ncandidates;
	struct probe_candidate candidates[PROBE_MAX_CANDIDATES];  /* texts and specs, in preference order */
};

/* `hellosplit probe ...`: returns the process exit code. */
int probe_main(int argc, char **argv);

/* probe.c */
enum probe_parse_result { PROBE_PARSE_RUN = 0, PROBE_PARSE_EXIT_OK, PROBE_PARSE_USAGE };
/* argv[0] is "probe". Hosts are taken from argv (and --hosts FILE, read here;
 * free with probe_options_free). Errors: one line on err. */
enum probe_parse_result probe_parse(struct probe_options *o, int argc, char **argv, FILE *out, FILE *err);
void probe_options_free(struct probe_options *o);

/* probe-run.c: every try of every candidate of one host (resolved), in a
 * shuffled order, at most o->concurrency at once; fills in the results. */
int probe_run_host(const struct probe_options *o, struct probe_host *h, FILE *log);
/* The control tries of PROBE_CONTROL_NAME. */
int probe_run_control(const struct probe_options *o, struct probe_host *h, FILE *log);

/* probe-report.c */
const char *probe_outcome_name(enum probe_outcome o);
/* Sets verdict, recommended and best from the results. Simplest = fewest
 * cuts, then the earlier in the list. */
void probe_judge(struct probe_host *h);
/* Index of the first candidate (by simplicity) that always worked on every
 * host with DPI; -1 when there is none or no host needs one. */
int probe_recommend_all(const struct probe_host *hosts, int nhosts);
/* 0 no DPI or a split works everywhere, 3 nothing works somewhere, 1 a host
 * could not be probed. */
int probe_exit_code(const struct probe_host *hosts, int nhosts);
void probe_print_host(FILE *out, const struct probe_options *o, const struct probe_host *h);
void probe_print_summary(FILE *out, const struct probe_host *hosts, int nhosts);
void probe_print_json(FILE *out, const struct probe_options *o, const struct probe_host *hosts, int nhosts);

#endif
