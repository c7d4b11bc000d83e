/* pcapio.c — classic pcap in, classic pcap out. The capture's timestamps are
 * the engine's clock; the output holds every packet the engine passed and
 * every packet it emitted, when it emitted it. */
#include "pcapio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_LINUX_SLL2 276
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_MAGIC 0x0a0d0d0au
#define PCAP_RECORD_MAX 262144

/* What pcapio attaches to each packet: its link-layer header. The engine
 * copies PACKET_META_SIZE bytes, so the struct is padded to exactly that. */
struct pcap_meta {
	uint32_t link_len;
	uint8_t link[32];
	uint8_t unused[PACKET_META_SIZE - 36];
};
_Static_assert(sizeof(struct pcap_meta) == PACKET_META_SIZE, "pcap meta is the engine's meta size");

struct pcap_run {
	FILE *in, *out;
	const char *in_path, *out_path;
	int swapped, nanos;
	uint32_t linktype;
	uint64_t now_ns;             /* the clock: time of the packet being handled */
	uint64_t written;
	int write_failed;
	uint8_t frame[PCAP_RECORD_MAX + sizeof(struct pcap_meta)];
};

static uint32_t rd32(const uint8_t *p, int swapped)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

static void write_record(struct pcap_run *r, const uint8_t *link, uint32_t link_len, const uint8_t *pkt,
			 uint32_t len)
{
	uint32_t hdr[4], div = r->nanos ? 1 : 1000;

	hdr[0] = (uint32_t)(r->now_ns / 1000000000u);
	hdr[1] = (uint32_t)(r->now_ns % 1000000000u / div);
	hdr[2] = hdr[3] = link_len + len;
	if (fwrite(hdr, sizeof(hdr), 1, r->out) != 1 || (link_len && fwrite(link, link_len, 1, r->out) != 1) ||
	    (len && fwrite(pkt, len, 1, r->out) != 1))
		r->write_failed = 1;
	r->written++;
}

/* engine_emit_fn: pieces and released originals alike are written out. */
static int emit_to_pcap(void *ctx, enum engine_emit_kind kind, const uint8_t *pkt, uint32_t len, const void *meta)
{
	struct pcap_run *r = ctx;
	const struct pcap_meta *m = meta;

	(void)kind;
	write_record(r, m->link, m->link_len, pkt, len);
	return r->write_failed ? -EIO : 0;
}

/* Length of the link header before the IP packet, or -1 when this frame
 * does not carry IPv4/IPv6 (it then passes as it is). */
static int link_header_len(uint32_t linktype, const uint8_t *f, uint32_t len)
{
	uint32_t off, proto;

	switch (linktype) {
	case LINKTYPE_RAW:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
		return 0;
	case LINKTYPE_ETHERNET:
		off = 12;
		for (;;) {                 /* skip 802.1Q / 802.1ad tags */
			if (len < off + 2)
				return -1;
			proto = (uint32_t)f[off] << 8 | f[off + 1];
			if (proto != 0x8100 && proto != 0x88a8)
				break;
			off += 4;
			if (off > 20)
				return -1;
		}
		off += 2;
		break;
	case LINKTYPE_LINUX_SLL:
		if (len < 16)
			return -1;
		proto = (uint32_t)f[14] << 8 | f[15];
		off = 16;
		break;
	case LINKTYPE_LINUX_SLL2:
		if (len < 20)
			return -1;
		proto = (uint32_t)f[0] << 8 | f[1];
		off = 20;
		break;
	default:
		return -1;
	}
	return proto == 0x0800 || proto == 0x86dd ? (int)off : -1;
}

static int read_header(struct pcap_run *r)
{
	uint8_t h[24];
	uint32_t magic;

	if (fread(h, 1, sizeof(h), r->in) != sizeof(h)) {
		log_error("%s: not a pcap file (shorter than its 24-byte header).", r->in_path);
		return -1;
	}
	memcpy(&magic, h, 4);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		r->swapped = 0;
	} else if (__builtin_bswap32(magic) == PCAP_MAGIC_US || __builtin_bswap32(magic) == PCAP_MAGIC_NS) {
		r->swapped = 1;
	} else if (magic == PCAPNG_MAGIC) {
		log_error("%s is pcapng; hellosplit reads classic pcap. Convert it: editcap -F pcap '%s' out.pcap",
			  r->in_path, r->in_path);
		return -1;
	} else {
		log_error("%s: not a pcap file (magic 0x%08x).", r->in_path, magic);
		return -1;
	}
	r->nanos = rd32(h, r->swapped) == PCAP_MAGIC_NS;
	r->linktype = rd32(h + 20, r->swapped) & 0x0fffffff;
	if (r->linktype != LINKTYPE_ETHERNET && r->linktype != LINKTYPE_RAW && r->linktype != LINKTYPE_LINUX_SLL &&
	    r->linktype != LINKTYPE_LINUX_SLL2 && r->linktype != LINKTYPE_IPV4 && r->linktype != LINKTYPE_IPV6) {
		log_error("%s: link type %u is not supported (Ethernet 1, raw IP 101, Linux cooked 113/276, 228, 229).",
			  r->in_path, r->linktype);
		return -1;
	}
	/* The output keeps the input's link type and time resolution. */
	{
		uint32_t out[6] = {r->nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, 0x00040002u, 0, 0, PCAP_RECORD_MAX,
				   r->linktype};

		if (fwrite(out, sizeof(out), 1, r->out) != 1)
			r->write_failed = 1;
	}
	return 0;
}

/* Advances the clock to t, running every collect timeout due before it at
 * its own time, so released packets carry the time they would have left. */
static void advance_clock(struct engine *e, struct pcap_run *r, uint64_t t_ns)
{
	uint64_t now_ms = r->now_ns / 1000000u, t_ms = t_ns / 1000000u;
	uint32_t step;

	if (t_ns < r->now_ns) {              /* a capture going back in time: keep order, not time */
		engine_tick(e, now_ms);
		return;
	}
	while ((step = engine_next_timeout(e, now_ms)) != UINT32_MAX && now_ms + step <= t_ms) {
		now_ms += step;
		r->now_ns = now_ms * 1000000u;
		engine_tick(e, now_ms);
	}
	r->now_ns = t_ns;
	engine_tick(e, t_ms);
}

/* The capture ended: pending timeouts run, as time would have gone on. */
static void drain(struct engine *e, struct pcap_run *r)
{
	uint64_t now_ms = r->now_ns / 1000000u;
	uint32_t step;

	while ((step = engine_next_timeout(e, now_ms)) != UINT32_MAX) {
		now_ms += step;
		r->now_ns = now_ms * 1000000u;
		engine_tick(e, now_ms);
	}
}

static int replay(struct pcap_run *r, struct engine *e)
{
	uint8_t rec[16];
	struct pcap_meta meta;
	uint64_t frames = 0;
	size_t got;

	while ((got = fread(rec, 1, sizeof(rec), r->in)) == sizeof(rec)) {
		uint32_t caplen = rd32(rec + 8, r->swapped), sec = rd32(rec, r->swapped), frac = rd32(rec + 4, r->swapped);
		uint64_t t = (uint64_t)sec * 1000000000u + (uint64_t)frac * (r->nanos ? 1 : 1000);
		int link;

		frames++;
		if (caplen > PCAP_RECORD_MAX) {
			log_error("%s: record %llu is corrupt (length %u, at most %u).", r->in_path,
				  (unsigned long long)frames, caplen, PCAP_RECORD_MAX);
			return -1;
		}
		if (frac >= (r->nanos ? 1000000000u : 1000000u)) {
			log_error("%s: record %llu is corrupt (time fraction %u is a second or more).", r->in_path,
				  (unsigned long long)frames, frac);
			return -1;
		}
		if (fread(r->frame, 1, caplen, r->in) != caplen) {
			log_error("%s: record %llu is truncated.", r->in_path, (unsigned long long)frames);
			return -1;
		}
		advance_clock(e, r, t);
		link = link_header_len(r->linktype, r->frame, caplen);
		if (link < 0 || (uint32_t)link > sizeof(meta.link)) {
			write_record(r, NULL, 0, r->frame, caplen);
			continue;
		}
		memset(&meta, 0, sizeof(meta));
		meta.link_len = (uint32_t)link;
		memcpy(meta.link, r->frame, (size_t)link);
		if (!(engine_packet(e, r->frame + link, caplen - (uint32_t)link, &meta, t / 1000000u) & ENGINE_STOLEN))
			write_record(r, NULL, 0, r->frame, caplen);
	}
	if (got != 0) {
		log_error("%s: the last record header is truncated.", r->in_path);
		return -1;
	}
	if (ferror(r->in)) {
		log_error("%s: read error: %s.", r->in_path, strerror(errno));
		return -1;
	}
	drain(e, r);
	engine_release_all(e);
	return 0;
}

int pcapio_run(const struct config *cfg)
{
	struct pcap_run *r = calloc(1, sizeof(*r));
	struct engine *e = NULL;
	struct hostlists lists;
	int rc = 1;

	if (!r) {
		log_error("out of memory.");
		return 1;
	}
	memset(&lists, 0, sizeof(lists));
	r->in_path = cfg->pcap_in;
	r->out_path = cfg->pcap_out;
	r->in = fopen(cfg->pcap_in, "rb");
	if (!r->in) {
		log_error("cannot open '%s': %s.", cfg->pcap_in, strerror(errno));
		goto out;
	}
	r->out = fopen(cfg->pcap_out, "wb");
	if (!r->out) {
		log_error("cannot create '%s': %s.", cfg->pcap_out, strerror(errno));
		goto out;
	}
	e = engine_create(&cfg->engine, emit_to_pcap, r);
	if (!e) {
		log_error("out of memory creating the engine (--max-flows %u, --max-buffer %u).", cfg->engine.max_flows,
			  cfg->engine.max_buffer);
		goto out;
	}
	engine_set_logger(e, log_flow_event, NULL);
	if (hostlists_load(&lists, cfg->hostlist, cfg->hostlist_exclude, stderr))
		goto out;
	engine_use_hostlists(e, &lists);
	if (read_header(r) || replay(r, e))
		goto out;
	if (fflush(r->out) || r->write_failed) {
		log_error("cannot write '%s': %s.", cfg->pcap_out, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (e) {
		stats_print(stderr, engine_stats(e), 0);
		if (cfg->stats_json && stats_save_json(cfg->stats_json, engine_stats(e), 0)) {
			log_error("cannot write '%s': %s.", cfg->stats_json, strerror(errno));
			rc = 1;
		}
		engine_destroy(e);
	}
	hostlists_free(&lists);
	if (r->in)
		fclose(r->in);
	if (r->out && fclose(r->out))
		rc = 1;
	free(r);
	return rc;
}
