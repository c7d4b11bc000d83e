/* tc-plan.c — the tc engine's pure decisions (tc-plan.h). */
#include "tc-plan.h"

#include <string.h>

const char *tc_plan_refusal(const struct config *cfg)
{
	if (cfg->hostlist)
		return "--hostlist";
	if (cfg->hostlist_exclude)
		return "--hostlist-exclude";
	if (cfg->engine.complete != TLS_COMPLETE_RECORD)
		return "--tls-complete handshake";
	if (cfg->engine.mss)
		return "--mss";
	if (cfg->rules == RULES_NONE)
		return "--rules none";
	if (cfg->pins)
		return "--pin";
	return NULL;
}

/* 1 when name is in the comma-separated list. */
static int in_list(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *s = list;

	while (*s) {
		size_t n = strcspn(s, ",");

		if (n == len && !strncmp(s, name, n))
			return 1;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

enum tc_iface_kind tc_plan_iface(const struct config *cfg, const char *name, unsigned type, unsigned flags)
{
	int loopback = (flags & TC_IFF_LOOPBACK) || type == TC_ARPHRD_LOOPBACK;

	if (cfg->iface[0] && !in_list(cfg->iface, name))
		return TC_IFACE_SKIP;
	if (cfg->exclude_iface[0] && in_list(cfg->exclude_iface, name))
		return TC_IFACE_SKIP;
	if (loopback)
		return cfg->exclude_loopback && !cfg->iface[0] ? TC_IFACE_SKIP : TC_IFACE_L2;
	switch (type) {
	case TC_ARPHRD_ETHER:
		return TC_IFACE_L2;
	case TC_ARPHRD_PPP:
	case TC_ARPHRD_RAWIP:
	case TC_ARPHRD_TUNNEL:
	case TC_ARPHRD_TUNNEL6:
	case TC_ARPHRD_SIT:
	case TC_ARPHRD_IPGRE:
	case TC_ARPHRD_NONE:
		return TC_IFACE_L3;
	default:
		return TC_IFACE_SKIP;
	}
}

const char *tc_plan_link_name(unsigned type)
{
	switch (type) {
	case TC_ARPHRD_ETHER:
		return "Ethernet";
	case TC_ARPHRD_PPP:
		return "PPP";
	case TC_ARPHRD_RAWIP:
		return "raw IP";
	case TC_ARPHRD_TUNNEL:
	case TC_ARPHRD_TUNNEL6:
	case TC_ARPHRD_SIT:
	case TC_ARPHRD_IPGRE:
		return "IP tunnel";
	case TC_ARPHRD_LOOPBACK:
		return "loopback";
	case TC_ARPHRD_NONE:
		return "none (tun, WireGuard)";
	default:
		return "other";
	}
}

void tc_plan_config(const struct config *cfg, struct tc_config *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	memcpy(out->ports, cfg->engine.ports, sizeof(out->ports));
	out->clone_mark = cfg->fwmark;
	for (i = 0; i < cfg->engine.positions.count && i < TC_MAX_POSITIONS; i++) {
		out->pos[i].marker = cfg->engine.positions.pos[i].marker;
		out->pos[i].delta = cfg->engine.positions.pos[i].delta;
	}
	out->npos = (uint32_t)i;
	out->immediate = cfg->engine.mode == SPLIT_MODE_IMMEDIATE;
	out->observe = !!cfg->engine.observe;
	out->events = cfg->verbose > 0;
	out->max_fails = 3;
}

void tc_plan_stats(const uint64_t c[TC_C_COUNT], struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->packets = c[TC_C_PACKETS];
	s->flows = c[TC_C_FLOWS];
	s->flows_split = c[TC_C_SPLIT];
	s->segments_emitted = c[TC_C_SEGMENTS];
	s->resplit_retransmits = c[TC_C_RESPLIT];
	s->failopen_not_tls = c[TC_C_NOT_TLS];
	s->failopen_error = c[TC_C_ERROR] + c[TC_C_FIN];
	s->failopen_emit = c[TC_C_EMIT];
	s->failopen_overflow = c[TC_C_TOO_BIG];
	s->pass_malformed = c[TC_C_MALFORMED];
	s->pass_fragment = c[TC_C_FRAGMENT];
	s->pass_ipv6_ext = c[TC_C_IPV6_EXT];
}
