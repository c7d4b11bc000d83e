/* config.h — every flag, its default and its validation, for all platforms. */
#ifndef HELLOSPLIT_CONFIG_H
#define HELLOSPLIT_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"

#define HELLOSPLIT_VERSION "0.1.0"

enum rules_kind { RULES_IPTABLES = 0, RULES_NFTABLES, RULES_NONE };
/* --engine: Linux's packet path (tc.h). */
enum engine_kind { ENGINE_KIND_AUTO = 0, ENGINE_KIND_TC, ENGINE_KIND_NFQUEUE };
/* --tc-hook: where the tc engine attaches (tc.c). */
enum tc_hook { TC_HOOK_AUTO = 0, TC_HOOK_TCX, TC_HOOK_CLSACT };

/* Which builds accept an option. */
#define PLATFORM_LINUX   1u
#define PLATFORM_WINDOWS 2u
#define PLATFORM_BSD     4u
#define PLATFORM_ALL     7u

#if defined(_WIN32)
#define PLATFORM_THIS PLATFORM_WINDOWS
#elif defined(__FreeBSD__) || defined(HELLOSPLIT_DIVERT)
#define PLATFORM_THIS PLATFORM_BSD
#else
#define PLATFORM_THIS PLATFORM_LINUX
#endif

#define CONFIG_LIST_MAX 256   /* characters of an interface or index list */

struct config {
	struct engine_config engine;
	const char *pcap_in, *pcap_out;
	const char *stats_json;
	uint32_t stats_interval_s;
	int verbose;
	int split_at_given, split_chunk_given;
	const char *hostlist, *hostlist_exclude;
	/* learning (learner.c) */
	int learn;
	const char *state_path;           /* NULL: learned_default_path() */
	const char *pins;                 /* --pin: "DOMAIN=SPLIT-AT;..." */
	/* Linux */
	uint32_t queue_num;
	int queue_bypass;
	uint32_t fwmark, done_mark;
	enum rules_kind rules;
	enum engine_kind engine_kind;
	enum tc_hook tc_hook;
	int rules_remove;
	int print_rules;
	int exclude_loopback;
	char exclude_iface[CONFIG_LIST_MAX];
	char iface[CONFIG_LIST_MAX];
	const char *user;
	/* Windows */
	uint32_t queue_len, queue_time_ms;
	uint64_t queue_size;
	char exclude_ifidx[CONFIG_LIST_MAX];
	int print_interfaces;
	const char *filter_extra;
	/* BSD */
	uint32_t divert_port;
	const char *pf_anchor;
	/* values read from --config files are kept here */
	char file_values[16384];
	size_t file_values_used;
};

enum config_result {
	CONFIG_RUN = 0,     /* options valid: run */
	CONFIG_EXIT_OK,     /* --help or --version printed */
	CONFIG_USAGE,       /* an error was printed: exit 2 */
};

void config_defaults(struct config *c);
/* Parses --config FILE first, then the command line (which wins).
 * Errors go to err as one line each. */
enum config_result config_parse(struct config *c, int argc, char **argv, FILE *out, FILE *err);
void config_usage(FILE *out);
/* config_defaults, then config_parse of a command's argv with messages on
 * stdout/stderr: -1 when the command should run, else its exit code (0 after
 * --help or --version, 2 after a usage error). */
int config_load(struct config *c, int argc, char **argv);

/* For tools that write --config files (`service install`): 1 when --name
 * (without the dashes; no-NAME for a switch turned off) takes a value, 0 when
 * it does not, -1 when there is no such option. *metavar: "FILE", "N"... */
int config_option_info(const char *name, const char **metavar);

/* Port list "443,8443,10000-10100" into a bitmap. Returns 0 or -1. */
int config_parse_ports(uint8_t ports[65536 / 8], const char *text);

#endif
