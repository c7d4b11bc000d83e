/* rules.h — the Linux firewall rules that send the first packets of new
 * flows to the queue, built as argv arrays (rules.c, portable, unit-tested)
 * and run without a shell (rules-linux.c). */
#ifndef HELLOSPLIT_RULES_H
#define HELLOSPLIT_RULES_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define RULES_CHAIN "HELLOSPLIT"
/* With learning: the servers' first answers, from mangle INPUT and FORWARD. */
#define RULES_CHAIN_IN "HELLOSPLIT-IN"
/* Reply packets of a connection whose resets, FINs and payload are queued
 * for learning: the SYN-ACK is 1; the answer to the hello (or the censor's
 * reset) comes within the next few. */
#define RULES_REPLY_WINDOW "2:4"
#define RULES_NFT_TABLE "hellosplit"
#define RULES_MAX_ARGS 40
#define RULES_MAX_CMDS 96

struct rules_cmd {
	int argc;
	const char *argv[RULES_MAX_ARGS + 1];
};

struct rules_list {
	int count;
	struct rules_cmd cmd[RULES_MAX_CMDS];
	char text[16384];      /* storage of the numbers and names in argv */
	size_t used;
	int overflow;
};

/* Matches the queue rules use where the kernel has them. */
#define RULES_CONNBYTES 1   /* only the first packets of a connection */
#define RULES_U32       2   /* only packets that carry payload */
#define RULES_ANSWERED  4   /* local flows the server answered skip the queue */

/* The iptables (or ip6tables: family 6) argument lists that install the
 * chain, in order, the jump from mangle POSTROUTING last. tool is argv[0];
 * matches is a set of RULES_CONNBYTES, RULES_U32 and RULES_ANSWERED (which
 * needs connbytes too). */
void rules_iptables_build(struct rules_list *l, const char *tool, int family, const struct config *cfg,
			  int matches);
/* The nftables ruleset text. Returns its length, or -1 when it does not fit. */
int rules_nft_build(const struct config *cfg, char *out, size_t n);

/* Turns nft's error output (an error line, the offending rule, a caret
 * line) into the one line of the error, in place. */
void rules_nft_error_line(char *err);
/* Splits one line of `iptables -S` into words in place: spaces separate
 * them, double quotes hold a word with spaces (a comment), a backslash in
 * quotes escapes the next character. Returns the number of words, or -1
 * when there are more than max. */
int rules_split_words(char *line, const char *words[], int max);

/* ---- rules-linux.c: running them */

/* Families rules_install queues: only those whose packets can be injected. */
#define RULES_IPV4 1
#define RULES_IPV6 2

/* Installs the rules of cfg->rules for families (RULES_IPV4 and/or
 * RULES_IPV6); on failure prints why, removes what was installed and
 * returns -1. */
int rules_install(const struct config *cfg, int families);
/* Prints the rules cfg->rules installs (iptables and ip6tables commands,
 * also for none; or the nftables ruleset), the best variant. */
int rules_print(const struct config *cfg, FILE *out);
/* Removes everything hellosplit ever installs (both families, iptables and
 * nftables). Returns 0 when the firewall is clean afterwards. */
int rules_remove(int verbose);

/* Full path of a firewall tool, or NULL when none is installed. */
const char *rules_find_tool(const char *name, char *buf, size_t n);
/* Runs argv (argv[0] a full path) without a shell, stdin from input (may be
 * NULL); the tool's stderr goes to err. Returns the exit status, or -1. */
int rules_run(const char *const argv[], const char *input, char *err, size_t errlen);

#endif
