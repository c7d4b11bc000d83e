/* probe-report.c — what the tries of `hellosplit probe` mean, for a person
 * (one line per candidate, a verdict, the command to run) and for scripts
 * (--json). */
#include "probe.h"

#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[PROBE_OUTCOMES] = {
	[PROBE_SERVER_HELLO] = "server-hello", [PROBE_HELLO_RETRY] = "hello-retry", [PROBE_ALERT] = "alert",     [PROBE_OTHER_RECORD] = "other-record",
	[PROBE_RESET] = "reset",               [PROBE_TIMEOUT] = "timeout", [PROBE_CLOSED] = "closed",
	[PROBE_NOT_TLS] = "not-tls",           [PROBE_CONNECT_FAILED] = "no-connection",
};

static const char *const verdict_names[] = {
	[PROBE_NO_DPI] = "no-dpi",
	[PROBE_SPLIT_WORKS] = "split-works",
	[PROBE_PARTLY] = "partly",
	[PROBE_NAME_REASSEMBLED] = "name-blocked-reassembled",
	[PROBE_ADDRESS_BLOCKED] = "address-blocked",
	[PROBE_UNREACHABLE] = "unreachable",
	[PROBE_UNKNOWN] = "inconclusive",
	[PROBE_ERROR] = "error",
};

static const char *const verdict_short[] = {
	[PROBE_NO_DPI] = "no DPI",
	[PROBE_SPLIT_WORKS] = "DPI, split works",
	[PROBE_PARTLY] = "DPI, splits flaky",
	[PROBE_NAME_REASSEMBLED] = "DPI reassembles",
	[PROBE_ADDRESS_BLOCKED] = "address blocked",
	[PROBE_UNREACHABLE] = "unreachable",
	[PROBE_UNKNOWN] = "inconclusive",
	[PROBE_ERROR] = "not probed",
};

const char *probe_outcome_name(enum probe_outcome o)
{
	return o < PROBE_OUTCOMES ? outcome_names[o] : "?";
}

static int always_worked(const struct probe_candidate *c)
{
	return c->ok > 0 && c->failed == 0;
}

static const struct probe_candidate *unsplit_of(const struct probe_host *h)
{
	int i;

	for (i = 0; i < h->ncandidates; i++)
		if (h->candidates[i].unsplit)
			return &h->candidates[i];
	return NULL;
}

void probe_judge(struct probe_host *h)
{
	const struct probe_candidate *unsplit = unsplit_of(h);
	int i, ok = 0, failed = 0, connect_failed = 0;

	if (h->verdict == PROBE_ERROR || h->verdict == PROBE_UNREACHABLE)
		return;
	h->recommended = h->best = -1;
	for (i = 0; i < h->ncandidates; i++) {
		const struct probe_candidate *c = &h->candidates[i];

		ok += c->ok;
		failed += c->failed;
		connect_failed += c->outcomes[PROBE_CONNECT_FAILED];
		if (c->unsplit)
			continue;
		if (h->recommended < 0 && always_worked(c))
			h->recommended = i;
		if (c->ok && (h->best < 0 || c->ok * (h->candidates[h->best].ok + h->candidates[h->best].failed) >
						      h->candidates[h->best].ok * (c->ok + c->failed)))
			h->best = i;         /* the highest share of ok tries, the simplest on a tie */
	}
	if (unsplit && always_worked(unsplit)) {
		h->verdict = PROBE_NO_DPI;
		h->recommended = -1;             /* nothing to recommend */
	}
	else if (h->recommended >= 0)
		h->verdict = PROBE_SPLIT_WORKS;
	else if (ok)
		h->verdict = PROBE_PARTLY;
	else if (!failed)
		h->verdict = PROBE_UNKNOWN;
	else if (connect_failed == failed)
		h->verdict = PROBE_UNREACHABLE;
	else if (!h->control_run || h->control.ok)
		h->verdict = PROBE_NAME_REASSEMBLED;
	else
		h->verdict = PROBE_ADDRESS_BLOCKED;
	if (h->verdict == PROBE_UNREACHABLE && !h->error[0])
		snprintf(h->error, sizeof(h->error), "%s port %u: every connection failed", h->address.text,
			 (unsigned)h->address.port);
}

int probe_recommend_all(const struct probe_host *hosts, int nhosts)
{
	int i, k, need = 0;

	for (k = 0; k < nhosts; k++)
		need |= hosts[k].verdict == PROBE_SPLIT_WORKS;
	if (!need || nhosts == 0)
		return -1;
	for (i = 0; i < hosts[0].ncandidates; i++) {
		for (k = 0; k < nhosts; k++) {
			const struct probe_host *h = &hosts[k];

			if (h->verdict == PROBE_SPLIT_WORKS &&
			    (i >= h->ncandidates || h->candidates[i].unsplit || !always_worked(&h->candidates[i])))
				break;
		}
		if (k == nhosts)
			return i;
	}
	return -1;
}

int probe_exit_code(const struct probe_host *hosts, int nhosts)
{
	int k, rc = 0;

	for (k = 0; k < nhosts; k++) {
		if (hosts[k].verdict == PROBE_ERROR)
			return 1;
		if (hosts[k].verdict != PROBE_NO_DPI && hosts[k].verdict != PROBE_SPLIT_WORKS)
			rc = 3;
	}
	return rc;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Median time to the answer in ms; -1 without ok tries. */
static double median_ms(const struct probe_candidate *c)
{
	uint32_t v[PROBE_MAX_TRIES];
	int n = c->nanswers;

	if (n == 0)
		return -1;
	memcpy(v, c->answer_us, (size_t)n * sizeof(v[0]));
	qsort(v, (size_t)n, sizeof(v[0]), compare_u32);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1000.0;
}

static void format_cuts(const struct probe_candidate *c, char *out, size_t len)
{
	size_t n = 0;
	int i;

	out[0] = 0;
	if (c->unsplit || c->ncuts == 0) {
		snprintf(out, len, "-");
		return;
	}
	for (i = 0; i < c->ncuts && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "", (unsigned)c->cuts[i]);
}

/* "reset 3, timeout 1": how the tries ended, leaving out plain ServerHellos. */
static void format_outcomes(const struct probe_candidate *c, char *out, size_t len)
{
	size_t n = 0;
	int k;

	out[0] = 0;
	for (k = PROBE_HELLO_RETRY; k < PROBE_OUTCOMES && n < len; k++)
		if (c->outcomes[k])
			n += (size_t)snprintf(out + n, len - n, "%s%s %d", n ? ", " : "", outcome_names[k],
					      c->outcomes[k]);
}

static void print_candidate(FILE *out, const struct probe_candidate *c, int recommended)
{
	char cuts[64], outcomes[160], median[24];
	double ms = median_ms(c);

	format_cuts(c, cuts, sizeof(cuts));
	format_outcomes(c, outcomes, sizeof(outcomes));
	if (ms < 0)
		snprintf(median, sizeof(median), "-");
	else
		snprintf(median, sizeof(median), "%.1f ms", ms);
	fprintf(out, "  %-22s %-14s \u2713%-2d \u2717%-2d", c->text, cuts, c->ok, c->failed);
	if (c->inconclusive)
		fprintf(out, " ?%-2d", c->inconclusive);
	else
		fprintf(out, "    ");
	fprintf(out, " %9s", median);
	if (*outcomes)
		fprintf(out, "  %s", outcomes);
	fprintf(out, "%s\n", recommended ? "  <- recommended" : "");
}

static void print_verdict(FILE *out, const struct probe_options *o, const struct probe_host *h)
{
	const struct probe_candidate *u = unsplit_of(h);
	char outcomes[160];
	int tries = u ? u->ok + u->failed + u->inconclusive : 0;

	outcomes[0] = 0;
	if (u)
		format_outcomes(u, outcomes, sizeof(outcomes));
	switch (h->verdict) {
	case PROBE_NO_DPI:
		fprintf(out, "No DPI seen: the unsplit ClientHello was answered %d time%s of %d.\n"
			     "hellosplit is not needed for %s on this network.\n", u->ok, u->ok == 1 ? "" : "s", tries,
			h->name);
		break;
	case PROBE_SPLIT_WORKS:
		fprintf(out, "DPI seen: the unsplit ClientHello was blocked %d time%s of %d (%s).\n", u ? u->failed : 0,
			u && u->failed == 1 ? "" : "s", tries, outcomes);
		fprintf(out, "Recommended: --split-at %s (the simplest that always worked)\n",
			h->candidates[h->recommended].text);
		fprintf(out, "Run the daemon with it: %s --split-at %s\n", probe_net_daemon_command(),
			h->candidates[h->recommended].text);
		break;
	case PROBE_PARTLY:
		if (h->best < 0) {
			fprintf(out, "The unsplit ClientHello got through %d time%s of %d, a split one never did: the network\n"
				     "may drop split hellos, or lose packets. Probe again with more --tries.\n",
				u ? u->ok : 0, u && u->ok == 1 ? "" : "s", tries);
			break;
		}
		fprintf(out, "DPI seen, but no split worked every time: the best, --split-at %s, worked %d of %d tries.\n"
			     "The path may lose packets, or the DPI may catch split hellos some of the time;\n"
			     "probe again with more --tries before relying on it.\n",
			h->candidates[h->best].text, h->candidates[h->best].ok,
			h->candidates[h->best].ok + h->candidates[h->best].failed);
		break;
	case PROBE_NAME_REASSEMBLED:
		fprintf(out, "Nothing works: every ClientHello for %s was blocked, split or not, while one for %s\n"
			     "to the same address was answered. The DPI reassembles the TCP stream before it\n"
			     "looks for the name: splitting the hello cannot beat it.\n",
			h->name, strcmp(h->name, PROBE_CONTROL_NAME) ? PROBE_CONTROL_NAME : PROBE_CONTROL_NAME_ALT);
		break;
	case PROBE_ADDRESS_BLOCKED:
		fprintf(out, "Nothing works: every ClientHello was blocked, even one for %s: the address %s\n"
			     "itself is blocked (or the server does not speak TLS on port %u). Splitting cannot help.%s\n",
			strcmp(h->name, PROBE_CONTROL_NAME) ? PROBE_CONTROL_NAME : PROBE_CONTROL_NAME_ALT,
			h->address.text, (unsigned)h->address.port,
			o->ip ? "" : "\nIf the censor forges DNS answers, give the real address with --ip.");
		break;
	case PROBE_UNREACHABLE:
		fprintf(out, "Nothing works: no TCP connection opens (%s).\n"
			     "The address is blocked or the server is down; splitting cannot help.%s\n",
			h->error, o->ip ? "" : "\nIf the censor forges DNS answers, give the real address with --ip.");
		break;
	case PROBE_UNKNOWN:
		fprintf(out, "No result: every try was inconclusive (the kernel merged the pieces when it resent\n"
			     "them: the path loses packets). Probe again, perhaps with more --tries.\n");
		break;
	case PROBE_ERROR:
		break;
	}
}

void probe_print_host(FILE *out, const struct probe_options *o, const struct probe_host *h)
{
	const char *note = probe_net_merge_note();
	int i;

	if (h->verdict == PROBE_ERROR) {
		fprintf(stderr, "hellosplit: probe: %s.\n", h->error);
		return;
	}
	fprintf(out, "%s: %s port %u\n", h->name, h->address.text, (unsigned)h->address.port);
	if (h->verdict != PROBE_UNREACHABLE) {
		fprintf(out, "  ClientHello %u bytes (%s), name at bytes %u..%u; %u %s each, shuffled\n\n",
			(unsigned)h->hello_len,
			o->profile == CLIENTHELLO_CHROME ? "like Chrome, post-quantum key share" : "classic, 512 bytes",
			(unsigned)h->sni_off, (unsigned)(h->sni_off + h->sni_len - 1), (unsigned)o->tries,
			o->tries == 1 ? "try" : "tries");
		fprintf(out, "  %-22s %-14s %-11s %9s\n", "split-at", "cuts at", "tries", "answer");
		for (i = 0; i < h->ncandidates; i++)
			print_candidate(out, &h->candidates[i], i == h->recommended);
		if (h->control_run)
			fprintf(out, "  %-22s %-14s \u2713%-2d \u2717%d\n",
				strcmp(h->name, PROBE_CONTROL_NAME) ? "(" PROBE_CONTROL_NAME ")" : "(" PROBE_CONTROL_NAME_ALT ")",
				"-", h->control.ok, h->control.failed);
		fprintf(out, "\n");
	}
	print_verdict(out, o, h);
	if (note)
		fprintf(out, "Note: %s.\n", note);
	fprintf(out, "\n");
}

void probe_print_summary(FILE *out, const struct probe_host *hosts, int nhosts)
{
	int k, all = probe_recommend_all(hosts, nhosts), name_width = 4, address_width = 7;

	for (k = 0; k < nhosts; k++) {
		if ((int)strlen(hosts[k].name) > name_width)
			name_width = (int)strlen(hosts[k].name);
		if ((int)strlen(hosts[k].address.text) > address_width)
			address_width = (int)strlen(hosts[k].address.text);
	}
	fprintf(out, "Summary\n  %-*s  %-*s  %-18s %s\n", name_width, "host", address_width, "address", "result",
		"recommended");
	for (k = 0; k < nhosts; k++) {
		const struct probe_host *h = &hosts[k];

		fprintf(out, "  %-*s  %-*s  %-18s %s\n", name_width, h->name, address_width,
			h->verdict == PROBE_ERROR ? "-" : h->address.text, verdict_short[h->verdict],
			h->recommended >= 0 ? h->candidates[h->recommended].text : "-");
	}
	for (k = 0; k < nhosts && hosts[k].verdict == PROBE_NO_DPI; k++)
		;
	if (k == nhosts)
		fprintf(out, "No DPI seen for any host: hellosplit is not needed for them on this network.\n");
	if (all >= 0) {
		fprintf(out, "Recommended for every host: --split-at %s\n", hosts[0].candidates[all].text);
		fprintf(out, "Run the daemon with it: %s --split-at %s\n", probe_net_daemon_command(),
			hosts[0].candidates[all].text);
	} else {
		for (k = 0; k < nhosts && hosts[k].verdict != PROBE_SPLIT_WORKS; k++)
			;
		if (k < nhosts)
			fprintf(out, "No single --split-at value always worked for every host with DPI; "
				     "see each host's recommendation above.\n");
	}
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_candidate(FILE *out, const struct probe_candidate *c, const char *name)
{
	double ms = median_ms(c);
	int i, k;

	fprintf(out, "{");
	if (name) {                              /* the control tries: an unsplit hello for another name */
		fprintf(out, "\"name\":");
		json_string(out, name);
		fprintf(out, ",");
	}
	fprintf(out, "\"split_at\":");
	json_string(out, c->text);
	fprintf(out, ",\"cuts\":[");
	for (i = 0; !c->unsplit && i < c->ncuts; i++)
		fprintf(out, "%s%u", i ? "," : "", (unsigned)c->cuts[i]);
	fprintf(out, "],\"ok\":%d,\"failed\":%d,\"inconclusive\":%d,\"median_ms\":", c->ok, c->failed,
		c->inconclusive);
	if (ms < 0)
		fprintf(out, "null");
	else
		fprintf(out, "%.3f", ms);
	fprintf(out, ",\"outcomes\":{");
	for (k = 0; k < PROBE_OUTCOMES; k++)
		fprintf(out, "%s\"%s\":%d", k ? "," : "", outcome_names[k], c->outcomes[k]);
	fprintf(out, "}}");
}

void probe_print_json(FILE *out, const struct probe_options *o, const struct probe_host *hosts, int nhosts)
{
	int k, i, all = probe_recommend_all(hosts, nhosts);
	char command[160];

	fprintf(out, "{\"hosts\":[");
	for (k = 0; k < nhosts; k++) {
		const struct probe_host *h = &hosts[k];

		fprintf(out, "%s\n{\"host\":", k ? "," : "");
		json_string(out, h->name);
		fprintf(out, ",\"address\":");
		if (h->verdict == PROBE_ERROR)
			fprintf(out, "null");
		else
			json_string(out, h->address.text);
		fprintf(out, ",\"port\":%u,\"verdict\":\"%s\",\"recommended\":", (unsigned)o->port,
			verdict_names[h->verdict]);
		if (h->recommended >= 0)
			json_string(out, h->candidates[h->recommended].text);
		else
			fprintf(out, "null");
		fprintf(out, ",\"error\":");
		if (h->error[0])
			json_string(out, h->error);
		else
			fprintf(out, "null");
		fprintf(out, ",\"hello_bytes\":%u,\"sni_offset\":%u,\"sni_length\":%u,\"tries\":%u,\"candidates\":[",
			(unsigned)h->hello_len, (unsigned)h->sni_off, (unsigned)h->sni_len, (unsigned)o->tries);
		for (i = 0; h->verdict != PROBE_ERROR && h->verdict != PROBE_UNREACHABLE && i < h->ncandidates; i++) {
			fprintf(out, "%s\n ", i ? "," : "");
			json_candidate(out, &h->candidates[i], NULL);
		}
		fprintf(out, "],\"control\":");
		if (h->control_run)
			json_candidate(out, &h->control,
				       strcmp(h->name, PROBE_CONTROL_NAME) ? PROBE_CONTROL_NAME : PROBE_CONTROL_NAME_ALT);
		else
			fprintf(out, "null");
		fprintf(out, "}");
	}
	fprintf(out, "],\n\"recommended\":");
	if (all >= 0) {
		json_string(out, hosts[0].candidates[all].text);
		snprintf(command, sizeof(command), "%s --split-at %s", probe_net_daemon_command(),
			 hosts[0].candidates[all].text);
		fprintf(out, ",\"command\":");
		json_string(out, command);
	} else {
		fprintf(out, "null,\"command\":null");
	}
	fprintf(out, ",\"exit_code\":%d}\n", probe_exit_code(hosts, nhosts));
}
