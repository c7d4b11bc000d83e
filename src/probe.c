/* probe.c — `hellosplit probe`: its command line, its host list, and one
 * probe after another. */
#include "probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "ladder.h"
#include "tls.h"

#define PROBE_MAX_HOSTS 1000
#define PROBE_LINE_MAX 1024


enum probe_option_id {
	OPT_IP, OPT_PORT, OPT_TIMEOUT, OPT_TRIES, OPT_POSITIONS, OPT_JSON, OPT_HOSTS, OPT_CONCURRENCY, OPT_NO_PQ,
	OPT_VERBOSE, OPT_HELP,
};

struct probe_option {
	const char *name;
	enum probe_option_id id;
	const char *metavar;         /* NULL: a switch */
	uint32_t min, max;           /* numbers */
	const char *help;
};

static const struct probe_option options[] = {
	{"ip", OPT_IP, "ADDR", 0, 0, "connect to ADDR instead of resolving HOST (for every HOST)"},
	{"port", OPT_PORT, "N", 1, 65535, "TCP port (default 443)"},
	{"timeout", OPT_TIMEOUT, "MS", 100, 60000, "wait MS for the connection, then MS for the answer (default 4000)"},
	{"tries", OPT_TRIES, "N", 1, PROBE_MAX_TRIES, "tries of each candidate (default 3)"},
	{"positions", OPT_POSITIONS, "LIST", 0, 0,
	 "candidates to try instead of the default ones: --split-at values separated by ';' or spaces"},
	{"concurrency", OPT_CONCURRENCY, "N", 1, 64, "tries at once (default 4)"},
	{"hosts", OPT_HOSTS, "FILE", 0, 0, "more hosts from FILE: one a line, '#' starts a comment"},
	{"no-pq", OPT_NO_PQ, NULL, 0, 0,
	 "send a 512-byte hello without the post-quantum key share (older browsers, most other clients)"},
	{"json", OPT_JSON, NULL, 0, 0, "print the results as one JSON object"},
	{"verbose", OPT_VERBOSE, NULL, 0, 0, "print every try on stderr"},
	{"help", OPT_HELP, NULL, 0, 0, "show this help and exit"},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *out)
{
	struct ladder ladder;
	size_t i;
	int r;

	fprintf(out,
		"Usage: hellosplit probe HOST... [OPTIONS]\n"
		"Find which --split-at value gets a TLS ClientHello for HOST past this network's DPI.\n"
		"Sends a browser-like ClientHello over ordinary TCP connections, unsplit and cut at\n"
		"each candidate position, a few times each; needs no daemon and no privileges.\n\n");
	for (i = 0; i < NOPTIONS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "%s--%s%s%s", options[i].id == OPT_VERBOSE ? "-v, " : options[i].id == OPT_HELP ? "-h, " : "",
			 options[i].name, options[i].metavar ? " " : "", options[i].metavar ? options[i].metavar : "");
		fprintf(out, "  %-22s %s\n", left, options[i].help);
	}
	fprintf(out, "\nDefault candidates, the ladder of src/ladder.c (simplest first):");
	if (ladder_build(&ladder, NULL) == 0)
		for (r = 0; r < ladder.count; r++)
			fprintf(out, " %s", ladder.rungs[r].text);
	fprintf(out,
		"\nThe unsplit hello is always tried too: when it gets through, no DPI is in the way.\n"
		"Exit status: 0 a split that always worked was found, or no DPI was seen;\n"
		"3 nothing works (address blocked, or a DPI that reassembles the stream);\n"
		"1 a HOST could not be probed (name did not resolve); 2 usage error.\n");
}

/* Host names as DNS has them (IDNs in their xn-- form); not an address. */
static int check_host(const char *h, char *why, size_t whylen)
{
	size_t n = strlen(h), i;
	int only_digits_dots = 1;

	for (i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == '_'))
			break;
		if (c != '.' && (c < '0' || c > '9'))
			only_digits_dots = 0;
	}
	if (n == 0 || n > CLIENTHELLO_NAME_MAX || i < n || h[0] == '.' || h[0] == '-' || strstr(h, "..")) {
		snprintf(why, whylen,
			 "'%.60s' is not a host name (1-253 of a-z 0-9 - . _; an IDN in its xn-- form; no URL)", h);
		return -1;
	}
	if (only_digits_dots) {
		snprintf(why, whylen, "'%.60s' is an address; the probe needs the name the DPI looks for: "
			 "give the name, and the address with --ip", h);
		return -1;
	}
	return 0;
}

static int add_host(struct probe_options *o, const char *h, const char *where, FILE *err)
{
	char why[256];
	const char **grown;
	int i;

	if (check_host(h, why, sizeof(why))) {
		fprintf(err, "hellosplit: %s%s.\n", where, why);
		return -1;
	}
	for (i = 0; i < o->nhosts; i++)
		if (!strcmp(o->hosts[i], h))
			return 0;                /* once is enough */
	if (o->nhosts == PROBE_MAX_HOSTS) {
		fprintf(err, "hellosplit: %smore than %d hosts.\n", where, PROBE_MAX_HOSTS);
		return -1;
	}
	grown = realloc(o->hosts, (size_t)(o->nhosts + 1) * sizeof(*o->hosts));
	if (!grown) {
		fprintf(err, "hellosplit: out of memory.\n");
		return -1;
	}
	o->hosts = grown;
	o->hosts[o->nhosts] = strdup(h);
	if (!o->hosts[o->nhosts]) {
		fprintf(err, "hellosplit: out of memory.\n");
		return -1;
	}
	o->nhosts++;
	return 0;
}

static int read_hosts(struct probe_options *o, const char *path, FILE *err)
{
	char line[PROBE_LINE_MAX], where[PROBE_LINE_MAX];
	FILE *f = fopen(path, "r");
	int lineno = 0, bad = 0;

	if (!f) {
		fprintf(err, "hellosplit: --hosts: cannot open '%s': %s.\n", path, strerror(errno));
		return -1;
	}
	while (!bad && fgets(line, sizeof(line), f)) {
		char *s = line, *hash = strchr(line, '#');

		lineno++;
		snprintf(where, sizeof(where), "--hosts: %.900s:%d: ", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(err, "hellosplit: %sline longer than %d characters.\n", where, PROBE_LINE_MAX - 2);
			bad = 1;
			break;
		}
		if (hash)
			*hash = 0;
		for (;;) {                       /* names separated by blanks */
			size_t n;
			char save;

			s += strspn(s, " \t\r\n");
			if (!*s)
				break;
			n = strcspn(s, " \t\r\n");
			save = s[n];
			s[n] = 0;
			if (add_host(o, s, where, err)) {
				bad = 1;
				break;
			}
			s[n] = save;
			s += n;
		}
	}
	fclose(f);
	return bad ? -1 : 0;
}

/* Adds one candidate ("unsplit" or a --split-at value); 0 or -1 with a reason. */
static int add_candidate(struct probe_options *o, const char *text, char *why, size_t whylen)
{
	struct probe_candidate c;
	char canonical[PROBE_TEXT_MAX];
	int i;

	memset(&c, 0, sizeof(c));
	if (!strcmp(text, "unsplit")) {
		c.unsplit = 1;
		snprintf(canonical, sizeof(canonical), "unsplit");
	} else {
		if (split_spec_parse(&c.spec, text, why, (int)whylen))
			return -1;
		split_spec_format(&c.spec, canonical, sizeof(canonical));
	}
	for (i = 0; i < o->ncandidates; i++)
		if (!strcmp(o->candidates[i].text, canonical))
			return 0;
	if (o->ncandidates == PROBE_MAX_CANDIDATES) {
		snprintf(why, whylen, "more than %d candidates", PROBE_MAX_CANDIDATES - 1);
		return -1;
	}
	memcpy(c.text, canonical, sizeof(c.text));
	/* Simplest first: fewer cuts, then the order given. */
	for (i = o->ncandidates; i > 0 && o->candidates[i - 1].spec.count > c.spec.count; i--)
		o->candidates[i] = o->candidates[i - 1];
	o->candidates[i] = c;
	o->ncandidates++;
	return 0;
}

static int add_positions(struct probe_options *o, const char *list, FILE *err)
{
	char item[PROBE_TEXT_MAX + 1], why[200];
	const char *s = list;
	int any = 0;

	for (;;) {
		size_t n;

		s += strspn(s, "; \t");
		n = strcspn(s, "; \t");
		if (!n)
			break;
		if (n >= sizeof(item)) {
			fprintf(err, "hellosplit: --positions: '%.40s...' is too long.\n", s);
			return -1;
		}
		memcpy(item, s, n);
		item[n] = 0;
		if (add_candidate(o, item, why, sizeof(why))) {
			fprintf(err, "hellosplit: --positions: %s.\n", why);
			return -1;
		}
		any = 1;
		s += n;
	}
	if (!any) {
		fprintf(err, "hellosplit: --positions: the list is empty (e.g. --positions '5;midsld;5,midsld').\n");
		return -1;
	}
	return 0;
}

static const struct probe_option *find_option(const char *arg, const char **value)
{
	size_t i, len;
	const char *eq;

	*value = NULL;
	if (!strcmp(arg, "-h"))
		arg = "--help";
	else if (!strcmp(arg, "-v"))
		arg = "--verbose";
	if (strncmp(arg, "--", 2))
		return NULL;
	arg += 2;
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	for (i = 0; i < NOPTIONS; i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, arg, len)) {
			if (eq)
				*value = eq + 1;
			return &options[i];
		}
	return NULL;
}

static int parse_number(const struct probe_option *opt, const char *v, uint32_t *out, FILE *err)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = (*v >= '0' && *v <= '9') ? strtoul(v, &end, 10) : 0;
	if (*v < '0' || *v > '9' || errno || *end || x < opt->min || x > opt->max) {
		fprintf(err, "hellosplit: --%s: '%s' is not a number in %u..%u.\n", opt->name, v, (unsigned)opt->min,
			(unsigned)opt->max);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

static int apply(struct probe_options *o, const struct probe_option *opt, const char *v, int *positions_given,
		 FILE *err)
{
	struct probe_address a;
	char why[200];
	uint32_t n;

	switch (opt->id) {
	case OPT_IP:
		if (probe_net_resolve(v, 1, 443, &a, 1, why, sizeof(why)) != 1) {
			fprintf(err, "hellosplit: --ip: '%s' is not an IPv4 or IPv6 address.\n", v);
			return -1;
		}
		o->ip = v;
		return 0;
	case OPT_PORT:
		if (parse_number(opt, v, &n, err))
			return -1;
		o->port = (uint16_t)n;
		return 0;
	case OPT_TIMEOUT:
		return parse_number(opt, v, &o->timeout_ms, err);
	case OPT_TRIES:
		return parse_number(opt, v, &o->tries, err);
	case OPT_CONCURRENCY:
		return parse_number(opt, v, &o->concurrency, err);
	case OPT_POSITIONS:
		if (!*positions_given) {         /* the first --positions replaces the defaults */
			o->ncandidates = 0;
			add_candidate(o, "unsplit", why, sizeof(why));
			*positions_given = 1;
		}
		return add_positions(o, v, err);
	case OPT_HOSTS:
		return read_hosts(o, v, err);
	case OPT_NO_PQ:
		o->profile = CLIENTHELLO_CLASSIC;
		return 0;
	case OPT_JSON:
		o->json = 1;
		return 0;
	case OPT_VERBOSE:
		o->verbose = 1;
		return 0;
	case OPT_HELP:
		return 0;
	}
	return -1;
}

enum probe_parse_result probe_parse(struct probe_options *o, int argc, char **argv, FILE *out, FILE *err)
{
	char why[200];
	struct ladder ladder;
	int i, k, positions_given = 0, only_hosts = 0;

	memset(o, 0, sizeof(*o));
	o->port = 443;
	o->timeout_ms = 4000;
	o->tries = 3;
	o->concurrency = 4;
	o->profile = CLIENTHELLO_CHROME;
	add_candidate(o, "unsplit", why, sizeof(why));
	if (ladder_build(&ladder, NULL)) {
		fprintf(err, "hellosplit: probe: the built-in ladder (src/ladder.c) does not parse; "
			     "this is a bug, please report it.\n");
		return PROBE_PARSE_USAGE;
	}
	for (k = 0; k < ladder.count; k++)
		add_candidate(o, ladder.rungs[k].text, why, sizeof(why));
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct probe_option *opt;

		if (only_hosts || arg[0] != '-') {
			if (add_host(o, arg, "probe: ", err))
				return PROBE_PARSE_USAGE;
			continue;
		}
		if (!strcmp(arg, "--")) {
			only_hosts = 1;
			continue;
		}
		opt = find_option(arg, &value);
		if (!opt) {
			fprintf(err, "hellosplit: probe: unknown option '%s'. Try 'hellosplit probe --help'.\n", arg);
			return PROBE_PARSE_USAGE;
		}
		if (opt->id == OPT_HELP) {
			usage(out);
			return PROBE_PARSE_EXIT_OK;
		}
		if (!opt->metavar && value) {
			fprintf(err, "hellosplit: --%s takes no value.\n", opt->name);
			return PROBE_PARSE_USAGE;
		}
		if (opt->metavar && !value) {
			if (i + 1 >= argc) {
				fprintf(err, "hellosplit: --%s needs a value (%s).\n", opt->name, opt->metavar);
				return PROBE_PARSE_USAGE;
			}
			value = argv[++i];
		}
		if (apply(o, opt, value, &positions_given, err))
			return PROBE_PARSE_USAGE;
	}
	if (o->nhosts == 0) {
		fprintf(err, "hellosplit: probe: no HOST given. Usage: hellosplit probe HOST... [OPTIONS] "
			     "(hellosplit probe --help).\n");
		return PROBE_PARSE_USAGE;
	}
	return PROBE_PARSE_RUN;
}

void probe_options_free(struct probe_options *o)
{
	int i;

	for (i = 0; i < o->nhosts; i++)
		free((void *)o->hosts[i]);
	free(o->hosts);
	o->hosts = NULL;
	o->nhosts = 0;
}

/* Opens (and closes) one TCP connection to the first address that answers:
 * the tries then all go there, and an address that never connects is told
 * apart from a hello that is blocked. */
static int pick_address(const struct probe_options *o, const struct probe_address *addrs, int n,
			struct probe_host *h)
{
	static const char *const why[] = {
		[PROBE_NET_RESET] = "connection reset", [PROBE_NET_REFUSED] = "connection refused",
		[PROBE_NET_TIMEOUT] = "connection timed out", [PROBE_NET_UNREACHABLE] = "network unreachable",
		[PROBE_NET_ERROR] = "socket error", [PROBE_NET_CLOSED] = "closed", [PROBE_NET_AGAIN] = "timed out",
		[PROBE_NET_OK] = "",
	};
	int i;

	for (i = 0; i < n; i++) {
		struct probe_poll p;
		probe_socket s;
		enum probe_net_status st = probe_net_connect(&addrs[i], &s);
		uint64_t deadline = monotonic_us() + (uint64_t)o->timeout_ms * 1000u;

		if (st == PROBE_NET_OK) {
			st = PROBE_NET_AGAIN;
			while (st == PROBE_NET_AGAIN && monotonic_us() < deadline) {
				p.sock = s;
				p.want = PROBE_NET_WRITE;
				if (probe_net_poll(&p, 1, (int)((deadline - monotonic_us()) / 1000 + 1)) > 0)
					st = probe_net_connect_result(s);
			}
			probe_net_close(s);
		}
		if (st == PROBE_NET_OK) {
			h->address = addrs[i];
			return 0;
		}
		snprintf(h->error + strlen(h->error), sizeof(h->error) - strlen(h->error), "%s%s port %u: %s",
			 h->error[0] ? "; " : "", addrs[i].text, (unsigned)o->port, why[st]);
	}
	h->address = addrs[0];
	return -1;
}

/* Where the name lies in the probe's hello, and each candidate's cuts in it. */
static int plan_candidates(const struct probe_options *o, struct probe_host *h)
{
	uint8_t hello[CLIENTHELLO_MAX];
	struct tls_result tls;
	int n, i;

	n = clienthello_build(hello, sizeof(hello), h->name, strlen(h->name), o->profile, 1);
	if (n < 0 || tls_inspect(hello, (size_t)n, TLS_COMPLETE_RECORD, &tls) != TLS_DONE)
		return -1;
	h->hello_len = (uint32_t)n;
	h->sni_off = tls.sni_off;
	h->sni_len = tls.sni_len;
	h->ncandidates = o->ncandidates;
	for (i = 0; i < o->ncandidates; i++) {
		struct probe_candidate *c = &h->candidates[i];

		*c = o->candidates[i];
		if (!c->unsplit)
			c->ncuts = split_plan(&c->spec, tls.window_len, &tls, hello, c->cuts);
	}
	return 0;
}

static void probe_one(const struct probe_options *o, struct probe_host *h, FILE *log)
{
	struct probe_address addrs[PROBE_MAX_ADDRESSES];
	char why[160];
	int n;

	h->recommended = h->best = -1;
	n = probe_net_resolve(o->ip ? o->ip : h->name, o->ip != NULL, o->port, addrs, PROBE_MAX_ADDRESSES, why,
			      sizeof(why));
	if (n < 0) {
		snprintf(h->error, sizeof(h->error), "cannot resolve %.253s (%.160s): check the name, or give its address with --ip",
			 h->name, why);
		h->verdict = PROBE_ERROR;
		return;
	}
	if (plan_candidates(o, h)) {
		snprintf(h->error, sizeof(h->error), "cannot build a ClientHello for %s", h->name);
		h->verdict = PROBE_ERROR;
		return;
	}
	if (pick_address(o, addrs, n, h)) {
		h->verdict = PROBE_UNREACHABLE;
		return;
	}
	if (probe_run_host(o, h, log))
		goto failed;
	probe_judge(h);
	if (h->verdict == PROBE_NAME_REASSEMBLED) {  /* nothing got through: the name or the address? */
		if (probe_run_control(o, h, log))
			goto failed;
		probe_judge(h);
	}
	return;
failed:
	snprintf(h->error, sizeof(h->error), "the tries for %s failed to run (out of memory or poll error)", h->name);
	h->verdict = PROBE_ERROR;
}

int probe_main(int argc, char **argv)
{
	struct probe_options *o;
	struct probe_host *hosts;
	char why[200];
	int i, rc;

	if (probe_net_init(why, sizeof(why))) {
		fprintf(stderr, "hellosplit: probe: %s.\n", why);
		return 1;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		fprintf(stderr, "hellosplit: out of memory.\n");
		return 1;
	}
	switch (probe_parse(o, argc, argv, stdout, stderr)) {
	case PROBE_PARSE_EXIT_OK:
		rc = 0;
		goto out;
	case PROBE_PARSE_USAGE:
		rc = 2;
		goto out;
	case PROBE_PARSE_RUN:
		break;
	}
	hosts = calloc((size_t)o->nhosts, sizeof(*hosts));
	if (!hosts) {
		fprintf(stderr, "hellosplit: out of memory.\n");
		rc = 1;
		goto out;
	}
	for (i = 0; i < o->nhosts; i++) {
		hosts[i].name = o->hosts[i];
		probe_one(o, &hosts[i], o->verbose ? stderr : NULL);
		if (!o->json) {
			probe_print_host(stdout, o, &hosts[i]);
			fflush(stdout);
		}
	}
	if (o->json)
		probe_print_json(stdout, o, hosts, o->nhosts);
	else if (o->nhosts > 1)
		probe_print_summary(stdout, hosts, o->nhosts);
	rc = probe_exit_code(hosts, o->nhosts);
	free(hosts);
out:
	probe_options_free(o);
	free(o);
	probe_net_cleanup();
	return rc;
}
