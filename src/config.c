/* config.c — one table of options drives parsing, --config files and --help. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "learner.h"
#include "ports.h"

enum option_type {
	OPT_SWITCH,     /* --x sets 1, --no-x sets 0 (int) */
	OPT_U32,        /* number within [min, max] (uint32_t) */
	OPT_U64,        /* number within [min, max] (uint64_t) */
	OPT_MARK,       /* like OPT_U32, and 0x... hex as firewall marks are written */
	OPT_STRING,     /* kept as given (const char *) */
	OPT_LIST,       /* comma list of names/numbers, validated by the handler (char[]) */
	OPT_CHOICE,     /* one of the names in choices, stored as its index (an enum) */
	OPT_SPECIAL,    /* handled by a function */
};

struct option_def {
	const char *name;
	char short_name;
	enum option_type type;
	unsigned platforms;
	size_t offset;
	uint64_t min, max;
	int (*handle)(struct config *c, const char *value, char *err, size_t errlen);
	const char *metavar;
	const char *help;
	const char *const *choices;   /* OPT_CHOICE: the names, in enum order, NULL-terminated */
};

#define FIELD(f) offsetof(struct config, f)

static int set_split_at(struct config *c, const char *v, char *err, size_t errlen);
static int set_split_chunk(struct config *c, const char *v, char *err, size_t errlen);
static int set_ports(struct config *c, const char *v, char *err, size_t errlen);
static int set_verbose(struct config *c, const char *v, char *err, size_t errlen);
static int check_iface_list(struct config *c, const char *v, char *err, size_t errlen);
static int check_ifidx_list(struct config *c, const char *v, char *err, size_t errlen);
static int check_user(struct config *c, const char *v, char *err, size_t errlen);
static int check_name(struct config *c, const char *v, char *err, size_t errlen);
static int check_pins(struct config *c, const char *v, char *err, size_t errlen);

static const char *const split_modes[] = {"tls-hello", "immediate", NULL};       /* enum split_mode */
static const char *const tls_completes[] = {"record", "handshake", NULL};        /* enum tls_complete */
static const char *const rule_kinds[] = {"iptables", "nftables", "none", NULL};  /* enum rules_kind */
static const char *const engine_kinds[] = {"auto", "tc", "nfqueue", NULL};      /* enum engine_kind */
static const char *const tc_hooks[] = {"auto", "tcx", "clsact", NULL};          /* enum tc_hook */
_Static_assert(sizeof(enum split_mode) == sizeof(int) && sizeof(enum tls_complete) == sizeof(int) &&
		       sizeof(enum rules_kind) == sizeof(int) && sizeof(enum engine_kind) == sizeof(int) &&
		       sizeof(enum tc_hook) == sizeof(int), "choices are stored as int");

static const struct option_def options[] = {
	/* splitting */
	{"split-at", 0, OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, set_split_at, "LIST",
	 "cut positions: N, sni, sniend, midsld, each with optional +N/-N (default 5)", NULL},
	{"split-chunk", 0, OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, set_split_chunk, "N",
	 "first segment size; the same as --split-at N (default 5)", NULL},
	{"split-mode", 0, OPT_CHOICE, PLATFORM_ALL, FIELD(engine.mode), 0, 0, NULL, "MODE",
	 "tls-hello (split the first ClientHello) or immediate (the first payload packet) (default tls-hello)",
	 split_modes},
	{"tls-complete", 0, OPT_CHOICE, PLATFORM_ALL, FIELD(engine.complete), 0, 0, NULL, "WHAT",
	 "record (the first TLS record) or handshake (the whole ClientHello) (default record)", tls_completes},
	{"ports", 0, OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, set_ports, "LIST",
	 "destination ports to work on, e.g. 443,8443,9000-9010 (default 443)", NULL},
	{"observe", 0, OPT_SWITCH, PLATFORM_ALL, FIELD(engine.observe), 0, 1, NULL, NULL,
	 "decide and log every split but change no packet", NULL},
	{"hostlist", 0, OPT_STRING, PLATFORM_ALL, FIELD(hostlist), 0, 0, NULL, "FILE",
	 "split only flows whose hostname is in FILE or below a domain in it", NULL},
	{"hostlist-exclude", 0, OPT_STRING, PLATFORM_ALL, FIELD(hostlist_exclude), 0, 0, NULL, "FILE",
	 "never split flows whose hostname is in FILE or below a domain in it", NULL},
	/* learning */
	{"learn", 0, OPT_SWITCH, PLATFORM_ALL, FIELD(learn), 0, 1, NULL, NULL,
	 "learn per site which rung of the ladder gets through (default on; off: always --split-at)", NULL},
	{"state", 0, OPT_STRING, PLATFORM_ALL, FIELD(state_path), 0, 0, NULL, "FILE",
	 "the file of what was learned (default /var/lib/hellosplit/learned)", NULL},
	{"pin", 0, OPT_STRING, PLATFORM_ALL, FIELD(pins), 0, 0, check_pins, "LIST",
	 "DOMAIN=SPLIT-AT entries separated by ';': these sites always get these cuts, never learned", NULL},
	/* limits */
	{"collect-timeout", 0, OPT_U32, PLATFORM_ALL, FIELD(engine.collect_timeout_ms), 1, 60000, NULL, "MS",
	 "pass a hello unsplit when it is not complete after MS milliseconds (default 250)", NULL},
	{"max-buffer", 0, OPT_U32, PLATFORM_ALL, FIELD(engine.max_buffer), 256, 1048576, NULL, "BYTES",
	 "largest hello collected per flow (default 65536)", NULL},
	{"max-held-pkts", 0, OPT_U32, PLATFORM_ALL, FIELD(engine.max_held_pkts), 1, 64, NULL, "N",
	 "most packets held per flow (default 32)", NULL},
	{"max-held-bytes", 0, OPT_U64, PLATFORM_ALL, FIELD(engine.max_held_bytes), 65536, 17179869184ull, NULL,
	 "BYTES", "memory for held packets in total (default 33554432)", NULL},
	{"max-flows", 0, OPT_U32, PLATFORM_ALL, FIELD(engine.max_flows), 16, 16777216, NULL, "N",
	 "flows tracked at once; more pass unsplit (default 65536)", NULL},
	{"mss", 0, OPT_U32, PLATFORM_ALL, FIELD(engine.mss), 64, 65000, NULL, "BYTES",
	 "largest segment payload when cutting GSO packets (default 1460 IPv4, 1440 IPv6)", NULL},
	/* output */
	{"stats-json", 0, OPT_STRING, PLATFORM_ALL, FIELD(stats_json), 0, 0, NULL, "FILE",
	 "write the counters as JSON to FILE at exit and every --stats-interval", NULL},
	{"stats-interval", 0, OPT_U32, PLATFORM_ALL, FIELD(stats_interval_s), 0, 86400, NULL, "SEC",
	 "print (and write) the counters every SEC seconds, 0 = only at exit (default 0)", NULL},
	{"verbose", 'v', OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, set_verbose, NULL,
	 "log one line per flow decision (-vv: more)", NULL},
	{"config", 0, OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, NULL, "FILE",
	 "read options from FILE: one per line, long name without --, then the value", NULL},
	/* offline */
	{"pcap-in", 0, OPT_STRING, PLATFORM_ALL, FIELD(pcap_in), 0, 0, NULL, "FILE",
	 "offline: read packets from a classic pcap file instead of the network", NULL},
	{"pcap-out", 0, OPT_STRING, PLATFORM_ALL, FIELD(pcap_out), 0, 0, NULL, "FILE",
	 "offline: write what would reach the wire to FILE", NULL},
	/* Linux */
	{"engine", 0, OPT_CHOICE, PLATFORM_LINUX, FIELD(engine_kind), 0, 0, NULL, "ENGINE",
	 "auto (tc where the build, kernel and options allow, else nfqueue), tc (cut in the kernel) or nfqueue "
	 "(default auto)", engine_kinds},
	{"tc-hook", 0, OPT_CHOICE, PLATFORM_LINUX, FIELD(tc_hook), 0, 0, NULL, "HOOK",
	 "where the tc engine attaches: auto (tcx where the kernel has it, Linux >= 6.6, else clsact), tcx or clsact "
	 "(default auto)", tc_hooks},
	{"queue-num", 0, OPT_U32, PLATFORM_LINUX, FIELD(queue_num), 0, 65535, NULL, "N",
	 "NFQUEUE number (default 200)", NULL},
	{"queue-bypass", 0, OPT_SWITCH, PLATFORM_LINUX, FIELD(queue_bypass), 0, 1, NULL, NULL,
	 "let packets through when hellosplit is not running (default on)", NULL},
	{"fwmark", 0, OPT_MARK, PLATFORM_LINUX, FIELD(fwmark), 1, 0xffffffffu, NULL, "MARK",
	 "mark bits of injected packets, skipped by the rules (default 0x40000000)", NULL},
	{"done-mark", 0, OPT_MARK, PLATFORM_LINUX, FIELD(done_mark), 1, 0xffffffffu, NULL, "MARK",
	 "connmark bits of flows that need hellosplit no more (default 0x20000000)", NULL},
	{"rules", 0, OPT_CHOICE, PLATFORM_LINUX, FIELD(rules), 0, 0, NULL, "KIND",
	 "iptables, nftables or none: firewall rules to install (default iptables)", rule_kinds},
	{"rules-remove", 0, OPT_SWITCH, PLATFORM_LINUX, FIELD(rules_remove), 0, 1, NULL, NULL,
	 "remove every rule hellosplit installs, then exit", NULL},
	{"print-rules", 0, OPT_SWITCH, PLATFORM_LINUX, FIELD(print_rules), 0, 1, NULL, NULL,
	 "print the rules --rules would install, then exit (to adapt them with --rules none)", NULL},
	{"exclude-loopback", 0, OPT_SWITCH, PLATFORM_LINUX | PLATFORM_WINDOWS, FIELD(exclude_loopback), 0, 1, NULL,
	 NULL, "leave loopback traffic alone (default on)", NULL},
	{"exclude-iface", 0, OPT_LIST, PLATFORM_LINUX, FIELD(exclude_iface), 0, 0, check_iface_list, "LIST",
	 "never touch packets leaving by these interfaces", NULL},
	{"iface", 0, OPT_LIST, PLATFORM_LINUX, FIELD(iface), 0, 0, check_iface_list, "LIST",
	 "touch only packets leaving by these interfaces (a router's WAN)", NULL},
	{"user", 0, OPT_STRING, PLATFORM_LINUX, FIELD(user), 0, 0, check_user, "USER",
	 "run the packet path as USER (name or uid:gid) with only CAP_NET_ADMIN and CAP_NET_RAW (default nobody)", NULL},
	/* Windows */
	{"queue-len", 0, OPT_U32, PLATFORM_WINDOWS, FIELD(queue_len), 32, 16384, NULL, "N",
	 "WinDivert queue length in packets (default 4096)", NULL},
	{"queue-time", 0, OPT_U32, PLATFORM_WINDOWS, FIELD(queue_time_ms), 100, 16000, NULL, "MS",
	 "WinDivert queue time (default 2000)", NULL},
	{"queue-size", 0, OPT_U64, PLATFORM_WINDOWS, FIELD(queue_size), 65536, 33554432, NULL, "BYTES",
	 "WinDivert queue size (default 33554432)", NULL},
	{"exclude-ifidx", 0, OPT_LIST, PLATFORM_WINDOWS, FIELD(exclude_ifidx), 0, 0, check_ifidx_list, "LIST",
	 "never touch these interfaces: IfIdx or IfIdx.SubIfIdx, comma separated", NULL},
	{"print-interfaces", 0, OPT_SWITCH, PLATFORM_WINDOWS, FIELD(print_interfaces), 0, 1, NULL, NULL,
	 "list interface indexes, names and addresses, then exit", NULL},
	{"filter-extra", 0, OPT_STRING, PLATFORM_WINDOWS, FIELD(filter_extra), 0, 0, NULL, "EXPR",
	 "WinDivert filter expression and-ed to the built-in filter (experts)", NULL},
	/* BSD */
	{"divert-port", 0, OPT_U32, PLATFORM_BSD, FIELD(divert_port), 1, 65535, NULL, "PORT",
	 "divert(4) port the pf or ipfw rules send packets to (default 8000)", NULL},
	{"pf-anchor", 0, OPT_STRING, PLATFORM_BSD, FIELD(pf_anchor), 0, 0, check_name, "NAME",
	 "pf anchor holding hellosplit's rules (default hellosplit)", NULL},
	/* general */
	{"help", 'h', OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, NULL, NULL, "show this help and exit", NULL},
	{"version", 'V', OPT_SPECIAL, PLATFORM_ALL, 0, 0, 0, NULL, NULL, "show the version and exit", NULL},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	engine_config_defaults(&c->engine);
	c->queue_num = 200;
	c->queue_bypass = 1;
	c->fwmark = 0x40000000u;
	c->done_mark = 0x20000000u;
	c->rules = RULES_IPTABLES;
	c->learn = 1;
	c->exclude_loopback = 1;
	c->queue_len = 4096;
	c->queue_time_ms = 2000;
	c->queue_size = 33554432;
	c->divert_port = 8000;
	c->pf_anchor = "hellosplit";
}

static const char *platform_name(unsigned p)
{
	return p & PLATFORM_LINUX ? "Linux" : p & PLATFORM_WINDOWS ? "Windows" : "FreeBSD";
}

/* ---- value handlers */

/* A decimal number: a leading 0 is not octal and 0x is refused, so that
 * every count means what it reads as. With hex, 0x... too, as marks are written. */
static int parse_u64(const char *v, int hex, uint64_t *out)
{
	const char *digits = "0123456789";
	char *end;
	unsigned long long x;
	int base = 10;

	if (hex && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		v += 2;
		digits = "0123456789abcdefABCDEF";
		base = 16;
	}
	if (!*v || v[strspn(v, digits)])
		return -1;          /* strtoull would take a sign, spaces or a second 0x */
	errno = 0;
	x = strtoull(v, &end, base);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}

static int set_split_spec(struct config *c, const char *v, char *err, size_t errlen)
{
	char why[160];

	if (split_spec_parse(&c->engine.positions, v, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

static int set_split_at(struct config *c, const char *v, char *err, size_t errlen)
{
	c->split_at_given = 1;
	return set_split_spec(c, v, err, errlen);
}

static int set_split_chunk(struct config *c, const char *v, char *err, size_t errlen)
{
	char number[24];
	uint64_t n;

	if (parse_u64(v, 0, &n) || n < 1 || n > 1048576) {
		snprintf(err, errlen, "'%s' is not a number in 1..1048576", v);
		return -1;
	}
	c->split_chunk_given = 1;
	/* the value checked is the value used: the spec is made from n, not v */
	snprintf(number, sizeof(number), "%llu", (unsigned long long)n);
	return set_split_spec(c, number, err, errlen);
}

int config_parse_ports(uint8_t ports[65536 / 8], const char *text)
{
	const char *s = text;
	uint8_t set[65536 / 8];

	memset(set, 0, sizeof(set));
	for (;;) {
		char *end;
		unsigned long lo, hi;

		if (*s < '0' || *s > '9')
			return -1;
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -1;
			hi = strtoul(s, &end, 10);
		}
		if (lo < 1 || hi > 65535 || lo > hi)
			return -1;
		for (; lo <= hi; lo++)
			ports_add(set, (unsigned)lo);
		if (*end == 0)
			break;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
	memcpy(ports, set, sizeof(set));
	return 0;
}

static int set_ports(struct config *c, const char *v, char *err, size_t errlen)
{
	if (config_parse_ports(c->engine.ports, v)) {
		snprintf(err, errlen, "'%s' is not a list of ports or ranges in 1..65535 (e.g. 443,8443,9000-9010)", v);
		return -1;
	}
	return 0;
}

static int set_verbose(struct config *c, const char *v, char *err, size_t errlen)
{
	(void)v; (void)err; (void)errlen;
	c->verbose++;
	return 0;
}

/* Interface names as Linux allows them: 1..15 characters, no '/', no spaces. */
static int check_iface_list(struct config *c, const char *v, char *err, size_t errlen)
{
	const char *s = v;

	(void)c;
	for (;;) {
		size_t n = strcspn(s, ",");
		size_t i;

		for (i = 0; i < n; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
			      s[i] == '-' || s[i] == '_' || s[i] == '.' || s[i] == '@' || s[i] == ':'))
				break;
		if (n == 0 || n > 15 || i < n) {
			snprintf(err, errlen, "'%.*s' is not an interface name (1-15 of a-z A-Z 0-9 - _ . @ :)",
				 (int)(n > 40 ? 40 : n), s);
			return -1;
		}
		if (!s[n])
			return 0;
		s += n + 1;
	}
}

/* WinDivert interface indexes: IfIdx or IfIdx.SubIfIdx, decimal. */
static int check_ifidx_list(struct config *c, const char *v, char *err, size_t errlen)
{
	const char *s = v;

	(void)c;
	for (;;) {
		char *end;
		unsigned long long x;

		if (*s < '0' || *s > '9')
			break;
		errno = 0;
		x = strtoull(s, &end, 10);
		if (errno || x > 0xffffffffull)
			break;
		if (*end == '.') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				break;
			x = strtoull(s, &end, 10);
			if (errno || x > 0xffffffffull)
				break;
		}
		if (*end == 0)
			return 0;
		if (*end != ',')
			break;
		s = end + 1;
	}
	snprintf(err, errlen, "'%s' is not a list of IfIdx or IfIdx.SubIfIdx numbers (see --print-interfaces)", v);
	return -1;
}

static int check_pins(struct config *c, const char *v, char *err, size_t errlen)
{
	(void)c;
	return learn_parse_pins(v, NULL, err, errlen);
}

static int check_user(struct config *c, const char *v, char *err, size_t errlen)
{
	size_t i;

	(void)c;
	for (i = 0; v[i]; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
		      v[i] == '-' || v[i] == '_' || v[i] == '.' || v[i] == ':'))
			break;
	if (i == 0 || v[i] || i > 64) {
		snprintf(err, errlen, "'%s' is not a user name or uid:gid", v);
		return -1;
	}
	return 0;
}

/* pf anchor names: letters, digits, '_', '-', '/', at most 63. */
static int check_name(struct config *c, const char *v, char *err, size_t errlen)
{
	size_t i;

	(void)c;
	for (i = 0; v[i]; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
		      v[i] == '-' || v[i] == '_' || v[i] == '/'))
			break;
	if (i == 0 || v[i] || i > 63) {
		snprintf(err, errlen, "'%s' is not a name of 1-63 letters, digits, '_', '-' or '/'", v);
		return -1;
	}
	return 0;
}

/* ---- option lookup and application */

static const struct option_def *find_long(const char *name, size_t len, int *negated)
{
	size_t i;

	*negated = 0;
	if (len > 3 && !strncmp(name, "no-", 3)) {
		for (i = 0; i < NOPTIONS; i++)
			if (options[i].type == OPT_SWITCH && strlen(options[i].name) == len - 3 &&
			    !strncmp(options[i].name, name + 3, len - 3)) {
				*negated = 1;
				return &options[i];
			}
	}
	for (i = 0; i < NOPTIONS; i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
			return &options[i];
	return NULL;
}

static int takes_value(const struct option_def *o)
{
	return o->type != OPT_SWITCH && o->metavar != NULL;
}

int config_option_info(const char *name, const char **metavar)
{
	int negated;
	const struct option_def *o = find_long(name, strlen(name), &negated);

	*metavar = o ? o->metavar : NULL;
	return o ? takes_value(o) : -1;
}

/* Applies one option; where is "" for the command line or "FILE:LINE: ". */
static int apply(struct config *c, const struct option_def *o, int negated, const char *value,
		 const char *where, FILE *err)
{
	char why[512];
	uint64_t n;

	why[0] = 0;
	if (!(o->platforms & PLATFORM_THIS)) {
		fprintf(err, "hellosplit: %s--%s is a %s option; this build is for %s.\n", where, o->name,
			platform_name(o->platforms), platform_name(PLATFORM_THIS));
		return -1;
	}
	switch (o->type) {
	case OPT_SWITCH:
		*(int *)((char *)c + o->offset) = !negated;
		return 0;
	case OPT_MARK:
		if (parse_u64(value, 1, &n) || n < o->min || n > o->max) {
			fprintf(err, "hellosplit: %s--%s: '%s' is not a mark in 0x%llx..0x%llx (hex with 0x, or decimal).\n",
				where, o->name, value, (unsigned long long)o->min, (unsigned long long)o->max);
			return -1;
		}
		*(uint32_t *)((char *)c + o->offset) = (uint32_t)n;
		return 0;
	case OPT_U32:
	case OPT_U64:
		if (parse_u64(value, 0, &n) || n < o->min || n > o->max) {
			fprintf(err, "hellosplit: %s--%s: '%s' is not a number in %llu..%llu%s%s.\n", where, o->name, value,
				(unsigned long long)o->min, (unsigned long long)o->max,
				o->metavar && strcmp(o->metavar, "N") ? " " : "",
				o->metavar && strcmp(o->metavar, "N") ? o->metavar : "");
			return -1;
		}
		if (o->type == OPT_U32)
			*(uint32_t *)((char *)c + o->offset) = (uint32_t)n;
		else
			*(uint64_t *)((char *)c + o->offset) = n;
		return 0;
	case OPT_STRING:
		if (!*value) {
			fprintf(err, "hellosplit: %s--%s: the value is empty.\n", where, o->name);
			return -1;
		}
		if (o->handle && o->handle(c, value, why, sizeof(why))) {
			fprintf(err, "hellosplit: %s--%s: %s.\n", where, o->name, why);
			return -1;
		}
		*(const char **)((char *)c + o->offset) = value;
		return 0;
	case OPT_LIST:
		if (strlen(value) >= CONFIG_LIST_MAX) {
			fprintf(err, "hellosplit: %s--%s: the list is longer than %d characters.\n", where, o->name,
				CONFIG_LIST_MAX - 1);
			return -1;
		}
		if (o->handle(c, value, why, sizeof(why))) {
			fprintf(err, "hellosplit: %s--%s: %s.\n", where, o->name, why);
			return -1;
		}
		strcpy((char *)c + o->offset, value);
		return 0;
	case OPT_CHOICE: {
		int k, used = 0;

		for (k = 0; o->choices[k]; k++)
			if (!strcmp(value, o->choices[k])) {
				*(int *)((char *)c + o->offset) = k;
				return 0;
			}
		for (k = 0; o->choices[k] && used < (int)sizeof(why); k++)
			used += snprintf(why + used, sizeof(why) - (size_t)used, "%s%s", k ? ", " : "", o->choices[k]);
		fprintf(err, "hellosplit: %s--%s: '%s' is not one of: %s.\n", where, o->name, value, why);
		return -1;
	}
	case OPT_SPECIAL:
		if (o->handle && o->handle(c, value, why, sizeof(why))) {
			fprintf(err, "hellosplit: %s--%s: %s.\n", where, o->name, why);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* ---- --config FILE */

#define CONFIG_LINE_MAX 4096

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = 0;
	return s;
}

static int load_file(struct config *c, const char *path, FILE *err)
{
	char line[CONFIG_LINE_MAX], where[600];
	FILE *f = fopen(path, "r");
	int lineno = 0, bad = 0;

	if (!f) {
		fprintf(err, "hellosplit: --config: cannot open '%s': %s.\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *value, *hash;
		const struct option_def *o;
		size_t name_len;
		int negated;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(err, "hellosplit: %sline longer than %d characters.\n", where, CONFIG_LINE_MAX - 2);
			bad = 1;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		s = trim(line);
		if (!*s)
			continue;
		name_len = strcspn(s, " \t");
		value = trim(s + name_len);
		o = find_long(s, name_len, &negated);
		if (!o || o->short_name == 'h' || o->short_name == 'V' || !strcmp(o->name, "config")) {
			fprintf(err, "hellosplit: %sunknown option '%.*s'.\n", where, (int)name_len, s);
			bad = 1;
			continue;
		}
		if (takes_value(o) && !*value) {
			fprintf(err, "hellosplit: %s%s needs a value.\n", where, o->name);
			bad = 1;
			continue;
		}
		if (!takes_value(o) && *value && o->type == OPT_SWITCH) {
			fprintf(err, "hellosplit: %s%s takes no value.\n", where, o->name);
			bad = 1;
			continue;
		}
		/* Values from the file live as long as the config. */
		if (takes_value(o)) {
			size_t n = strlen(value) + 1;

			if (n > sizeof(c->file_values) - c->file_values_used) {
				fprintf(err, "hellosplit: %smore than %zu bytes of values in config files.\n", where,
					sizeof(c->file_values));
				bad = 1;
				break;
			}
			value = memcpy(c->file_values + c->file_values_used, value, n);
			c->file_values_used += n;
		}
		if (apply(c, o, negated, value, where, err))
			bad = 1;
	}
	fclose(f);
	return bad ? -1 : 0;
}

/* ---- command line */

static int check_combinations(struct config *c, FILE *err)
{
	if (c->split_at_given && c->split_chunk_given) {
		fprintf(err, "hellosplit: --split-chunk and --split-at both given; --split-chunk N is --split-at N, use one.\n");
		return -1;
	}
	if (!c->pcap_in != !c->pcap_out) {
		fprintf(err, "hellosplit: --pcap-in and --pcap-out go together.\n");
		return -1;
	}
	if (c->fwmark & c->done_mark) {
		fprintf(err, "hellosplit: --fwmark 0x%x and --done-mark 0x%x share bits; choose separate bits.\n",
			c->fwmark, c->done_mark);
		return -1;
	}
	if ((c->hostlist || c->hostlist_exclude) && c->engine.mode == SPLIT_MODE_IMMEDIATE) {
		fprintf(err, "hellosplit: --hostlist and --hostlist-exclude need the hostname of the hello; "
			     "they do not work with --split-mode immediate.\n");
		return -1;
	}
	if (c->iface[0] && c->exclude_iface[0]) {
		fprintf(err, "hellosplit: --iface and --exclude-iface both given; use one.\n");
		return -1;
	}
	if (c->tc_hook != TC_HOOK_AUTO && c->engine_kind == ENGINE_KIND_NFQUEUE) {
		fprintf(err, "hellosplit: --tc-hook is where the tc engine attaches; --engine nfqueue has no use for it.\n");
		return -1;
	}
	return 0;
}

/* A secret key for the flow table's hash, new at every start, so that no one
 * can choose tuples that collide in it. Without one it still works, with a
 * key an attacker could know. */
static void seed_flow_hash(struct config *c, FILE *err)
{
	int rc = random_seed(c->engine.hash_key, sizeof(c->engine.hash_key));

	if (rc)
		fprintf(err, "hellosplit: warning: no random key for the flow table (%s); crafted connections could "
			     "slow the packet path. Check that the system's random source (getrandom, /dev/urandom) "
			     "works.\n", strerror(-rc));
}

enum config_result config_parse(struct config *c, int argc, char **argv, FILE *out, FILE *err)
{
	int i, bad = 0;

	/* The file first, so that the command line wins. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strncmp(argv[i], "--config=", 9) || (!strcmp(argv[i], "--config") && i + 1 < argc)) {
			const char *path = argv[i][8] == '=' ? argv[i] + 9 : argv[++i];

			if (load_file(c, path, err))
				return CONFIG_USAGE;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct option_def *o = NULL;
		int negated = 0;
		if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
			const char *eq = strchr(arg + 2, '=');

			o = find_long(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2), &negated);
			if (o && eq) {
				if (!takes_value(o)) {
					fprintf(err, "hellosplit: --%s takes no value.\n", o->name);
					return CONFIG_USAGE;
				}
				value = eq + 1;
			}
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "-V")) {
			o = find_long(arg[1] == 'h' ? "help" : "version", arg[1] == 'h' ? 4 : 7, &negated);
		} else if (arg[0] == '-' && arg[1] == 'v' && strspn(arg + 1, "v") == strlen(arg + 1)) {
			c->verbose += (int)strlen(arg + 1);     /* -v, -vv */
			continue;
		}
		if (!o) {
			fprintf(err, "hellosplit: unknown %s '%s'. Try 'hellosplit --help'.\n",
				arg[0] == '-' ? "option" : "argument", arg);
			return CONFIG_USAGE;
		}
		if (o->short_name == 'h') {
			config_usage(out);
			return CONFIG_EXIT_OK;
		}
		if (o->short_name == 'V') {
			fprintf(out, "hellosplit %s\n", HELLOSPLIT_VERSION);
			return CONFIG_EXIT_OK;
		}
		if (!strcmp(o->name, "config")) {
			if (!value)
				i++;     /* loaded above */
			if (i >= argc) {
				fprintf(err, "hellosplit: --config needs a value (FILE).\n");
				return CONFIG_USAGE;
			}
			continue;
		}
		if (takes_value(o) && !value) {
			if (i + 1 >= argc) {
				fprintf(err, "hellosplit: --%s needs a value (%s).\n", o->name, o->metavar);
				return CONFIG_USAGE;
			}
			value = argv[++i];
		}
		if (apply(c, o, negated, value ? value : "", "", err))
			bad = 1;
	}
	if (bad || check_combinations(c, err))
		return CONFIG_USAGE;
	seed_flow_hash(c, err);
	return CONFIG_RUN;
}

int config_load(struct config *c, int argc, char **argv)
{
	config_defaults(c);
	switch (config_parse(c, argc, argv, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_USAGE:
		return 2;
	case CONFIG_RUN:
		break;
	}
	return -1;
}

void config_usage(FILE *out)
{
	static const char *const sections[] = {"split-at", "collect-timeout", "stats-json", "pcap-in", "help"};
	static const char *const titles[] = {"Splitting", "Limits", "Output", "Offline", "General"};
	const char *title = NULL, *shown = NULL;
	size_t i, s = 0;

	fprintf(out,
		"Usage: hellosplit [OPTIONS]                 split the first TLS ClientHello of each new\n"
		"                                            connection into several TCP segments\n"
		"       hellosplit --pcap-in IN --pcap-out OUT [OPTIONS]   the same, offline, on a capture\n"
#if defined(__linux__) && !defined(HELLOSPLIT_DIVERT)
		"       hellosplit --rules-remove            remove hellosplit's firewall rules\n"
		"       hellosplit --print-rules [OPTIONS]   print the firewall rules it would install\n"
#endif
		"       hellosplit probe HOST...             find which --split-at gets past this network's DPI\n"
		"       hellosplit doctor                    check this machine and print fixes\n"
		"       hellosplit learned [list | forget NAME | clear]   see or forget the sites it learned\n"
#ifdef _WIN32
		"       hellosplit service install|uninstall|start|stop [OPTIONS]\n"
#endif
		"\nOptions (--name=value and --name value both work; --no-NAME turns a switch off):\n");
	for (i = 0; i < NOPTIONS; i++) {
		const struct option_def *o = &options[i];
		char head[64];

		if (s < sizeof(sections) / sizeof(sections[0]) && !strcmp(o->name, sections[s]))
			title = titles[s++];
		if (!(o->platforms & PLATFORM_THIS))
			continue;
		/* Options of some platforms only: this build's platform heading. */
		if (o->platforms != PLATFORM_ALL)
			title = PLATFORM_THIS == PLATFORM_LINUX     ? "Linux (NFQUEUE)"
				: PLATFORM_THIS == PLATFORM_WINDOWS ? "Windows (WinDivert)"
								    : "FreeBSD (divert)";
		if (title != shown) {     /* a heading only above options this build has */
			fprintf(out, "\n %s:\n", title);
			shown = title;
		}
		if (o->short_name)
			snprintf(head, sizeof(head), "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		else
			snprintf(head, sizeof(head), "    --%s%s%s", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		fprintf(out, "  %-30s %s\n", head, o->help);
	}
	fprintf(out, "\nExit codes: 0 success, 1 runtime failure, 2 usage error. See hellosplit(8).\n");
}
