#!/usr/bin/python3
"""check_split.py -- the offline proof of hellosplit (doc/testing.md layer 2).

Given the capture hellosplit read (--pcap-in), the capture it wrote
(--pcap-out) and the options it ran with, verify every split invariant of
doc/design.md on the output.  Nothing here uses hellosplit's code: the
pcap reader, the IP/TCP parser, the checksums, the TLS ClientHello parser,
the --split-at resolver and the expectation model are written here from
doc/design.md.

How it works
  1. A model of doc/design.md replays the input and says, for every input
     packet, what must come out and when: PASS (the packet, byte for byte, at
     its place), SPLIT (the first ClientHello window of a flow, cut at the
     resolved positions, when the packet completing it arrives), RESPLIT (a
     retransmission of window bytes, cut the same way), RELEASE (held
     packets given back unchanged on fail-open, e.g. at --collect-timeout).
  2. The output is bucketed per TCP direction/connection and walked against
     that plan.  Emitted segments are checked field by field against the
     original packet that carried their bytes (first copy wins): seq = base
     + offset, payload, ack, window, options, urgent pointer, TTL/hop limit,
     TOS/traffic class, DF/fragment field, flow label, link header; the
     FIN/PSH/RST of the emitted packets only on the last segment, their CWR
     only on the first, URG only on the segment holding the urgent byte
     (pointer rebased); TCP timestamps option: the newest TSval among the
     packets whose bytes a split emits, on every segment of it; IPv4 ID =
     original ID + i; IPv4 and TCP checksums (computed here); size <= the
     original, <= --mss and <= the flow's largest packet within the MSS
     (after MSS clamping or on a PPPoE path it is all that is known to fit);
     cut exactly at the positions and the originals' boundaries (plus MSS
     pieces); pcap timestamps = the moment of emission.
  3. Model-free checks: each connection's client stream reassembled (first
     copy wins) from the output equals the one from the input, byte for byte
     and range for range (invariant 1); no output packet of a split flow
     straddles a cut (invariant 4); the output's global order follows the
     plan; stats JSON counters agree with the model and with --expect pins.

Usage
  check_split.py IN OUT [--split-at LIST] [--tls-complete record|handshake]
        [--split-mode tls-hello|immediate] [--ports LIST] [--collect-timeout MS]
        [--mss N] [--max-held-pkts N] [--max-buffer N] [--stats-json FILE]
        [--expect KEY=VALUE]... [--tshark] [--invariants-only] [-q]
  check_split.py --batch FILE      one case a line: NAME ARGS... (shell words)
  check_split.py --selftest IN OUT [options as above]
        OUT must pass; then it is mutated in many ways and each mutation must
        be caught.
Prints one line per flow (PASS/FAIL + reason), exits 1 on any failure,
2 on a usage error.
"""
import argparse
import json
import shlex
import struct
import subprocess
import sys

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
MOD = 1 << 32
HALF = 1 << 31
PACKET_CAP = 20          # DESIGN: payload packets after which a split flow is done
IDLE_TIMEOUT_S = 120
CLOSED_TIMEOUT_S = 10


class PcapError(Exception):
    pass


# =============================================================== pcap

class Rec:
    __slots__ = ("ts", "frame")

    def __init__(self, ts, frame):
        self.ts, self.frame = ts, frame


class Pcap:
    def __init__(self):
        self.nanos = False
        self.linktype = 0
        self.recs = []


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    return parse_pcap(data)


def parse_pcap(data):
    if len(data) < 24:
        raise PcapError("shorter than the 24-byte pcap header")
    magic = struct.unpack_from("<I", data)[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        e = ">"
    else:
        raise PcapError("bad magic 0x%08x" % magic)
    p = Pcap()
    p.nanos = struct.unpack_from(e + "I", data)[0] == 0xa1b23c4d
    p.linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0fffffff
    off = 24
    while off < len(data):
        if len(data) - off < 16:
            raise PcapError("truncated record header at byte %d" % off)
        sec, frac, incl, _orig = struct.unpack_from(e + "IIII", data, off)
        if off + 16 + incl > len(data):
            raise PcapError("truncated record at byte %d" % off)
        p.recs.append(Rec(sec * 1_000_000_000 + frac * (1 if p.nanos else 1000),
                          data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return p


def write_pcap(path, pcap):
    e = "<"
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", 0xa1b23c4d if pcap.nanos else 0xa1b2c3d4, 2, 4, 0, 0, 262144,
                            pcap.linktype))
        for r in pcap.recs:
            frac = r.ts % 1_000_000_000 if pcap.nanos else r.ts % 1_000_000_000 // 1000
            f.write(struct.pack(e + "IIII", r.ts // 1_000_000_000, frac, len(r.frame), len(r.frame)))
            f.write(r.frame)


# =============================================================== link + IP + TCP

def link_len(lt, f):
    """Bytes of link header before an IPv4/IPv6 packet, or -1 (not IP)."""
    if lt in (101, 228, 229):
        return 0
    if lt == 1:
        off = 12
        while True:
            if len(f) < off + 2:
                return -1
            proto = f[off] << 8 | f[off + 1]
            if proto not in (0x8100, 0x88a8):
                break
            off += 4
            if off > 20:
                return -1
        off += 2
    elif lt == 113:
        if len(f) < 16:
            return -1
        proto, off = f[14] << 8 | f[15], 16
    elif lt == 276:
        if len(f) < 20:
            return -1
        proto, off = f[0] << 8 | f[1], 20
    else:
        return -1
    return off if proto in (0x0800, 0x86dd) else -1


class Pkt:
    """One frame, parsed the way doc/design.md says the engine may look at it."""
    __slots__ = ("idx", "ts", "frame", "link", "kind", "ip", "fam", "hl", "thl", "src", "dst", "sport",
                 "dport", "seq", "ack", "flags", "payload", "key", "bucket")

    def tcp_off(self):
        return self.hl


IPV6_EXT = (0, 43, 44, 60, 51, 135)


def parse_frame(lt, idx, rec):
    p = Pkt()
    p.idx, p.ts, p.frame = idx, rec.ts, rec.frame
    p.kind, p.key, p.ip, p.payload = "nonip", None, b"", b""
    p.link = link_len(lt, rec.frame)
    if p.link < 0:
        return p
    d = rec.frame[p.link:][:65535]
    p.kind = "malformed"
    if not d:
        return p
    v = d[0] >> 4
    if v == 4:
        if len(d) < 20:
            return p
        hl = (d[0] & 15) * 4
        ip_len = d[2] << 8 | d[3]
        if hl < 20 or ip_len < hl or ip_len > len(d):
            return p
        if (d[6] << 8 | d[7]) & 0x3fff:
            p.kind = "frag"
            return p
        proto = d[9]
        p.fam, p.src, p.dst = 4, d[12:16], d[16:20]
    elif v == 6:
        if len(d) < 40:
            return p
        hl = 40
        ip_len = 40 + (d[4] << 8 | d[5])
        if ip_len > len(d):
            return p
        proto = d[6]
        p.fam, p.src, p.dst = 6, d[8:24], d[24:40]
        if proto in IPV6_EXT:
            p.kind = "ext"
            return p
    else:
        return p
    if proto != 6:
        p.kind = "other"
        p.ip = d[:ip_len]
        return p
    if ip_len < hl + 20:
        return p
    thl = (d[hl + 12] >> 4) * 4
    if thl < 20 or hl + thl > ip_len:
        return p
    p.kind = "tcp"
    p.ip = bytes(d[:ip_len])
    p.hl, p.thl = hl, thl
    p.sport, p.dport = struct.unpack_from("!HH", d, hl)
    p.seq, p.ack = struct.unpack_from("!II", d, hl + 4)
    p.flags = d[hl + 13]
    p.payload = p.ip[hl + thl:]
    p.key = (p.fam, bytes(p.src), bytes(p.dst), p.sport, p.dport)
    return p


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def checksums_ok(ip):
    """(ipv4 header ok, tcp ok) computed here from scratch."""
    if ip[0] >> 4 == 4:
        hl = (ip[0] & 15) * 4
        ok4 = csum(ip[:hl]) == 0xffff
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(ip) - hl)
    else:
        hl, ok4 = 40, True
        pseudo = ip[8:40] + struct.pack("!IxxxB", len(ip) - hl, 6)
    return ok4, csum(pseudo + ip[hl:]) == 0xffff


def fix_checksums(ip):
    """Returns ip with correct IPv4 header and TCP checksums (for the selftest)."""
    ip = bytearray(ip)
    if ip[0] >> 4 == 4:
        hl = (ip[0] & 15) * 4
        struct.pack_into("!H", ip, 2, len(ip))
        ip[10:12] = b"\0\0"
        struct.pack_into("!H", ip, 10, 0xffff - csum(bytes(ip[:hl])))
        pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(ip) - hl)
    else:
        hl = 40
        struct.pack_into("!H", ip, 4, len(ip) - 40)
        pseudo = bytes(ip[8:40]) + struct.pack("!IxxxB", len(ip) - hl, 6)
    ip[hl + 16:hl + 18] = b"\0\0"
    struct.pack_into("!H", ip, hl + 16, 0xffff - csum(pseudo + bytes(ip[hl:])))
    return bytes(ip)


def fmt_key(key):
    fam, src, dst, sp, dp = key
    if fam == 4:
        a, b = ".".join(map(str, src)), ".".join(map(str, dst))
    else:
        import ipaddress
        a, b = "[%s]" % ipaddress.IPv6Address(src), "[%s]" % ipaddress.IPv6Address(dst)
    return "%s:%d > %s:%d" % (a, sp, b, dp)


# =============================================================== TLS

def be16(b, o):
    return b[o] << 8 | b[o + 1]


def be32(b, o):
    return b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3]


def ts_option_at(p):
    """Offset in p.ip of the TSval, TSecr bytes of the timestamps option (RFC 7323), or None."""
    i, end = p.hl + 20, p.hl + p.thl
    while i < end:
        kind = p.ip[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 2 > end or p.ip[i + 1] < 2 or i + p.ip[i + 1] > end:
            return None
        if kind == 8 and p.ip[i + 1] == 10:
            return i + 2
        i += p.ip[i + 1]
    return None


def ts_option(p):
    at = ts_option_at(p)
    return None if at is None else bytes(p.ip[at:at + 8])


def tls_inspect(buf, mode):
    """Own ClientHello inspector.  Returns ("need", lower_bound_of_window),
    ("not_tls", why) or ("done", window_len, sni_off, sni_len, sni_bytes);
    sni_len 0 when no hostname lies contiguously inside the window."""
    off, hs, hs_map = 0, bytearray(), []
    hello_len = None
    while True:
        left = len(buf) - off
        h = buf[off:off + 5]
        if len(h) >= 1 and h[0] != 0x16:
            return ("not_tls", "record type 0x%02x" % h[0])
        if len(h) >= 2 and h[1] != 3:
            return ("not_tls", "record version")
        if len(h) >= 3 and h[2] > 4:
            return ("not_tls", "record version")
        if len(h) >= 5 and not 1 <= be16(h, 3) <= 16384:
            return ("not_tls", "record length %d" % be16(h, 3))
        if left < 5:
            need = off + 5
            if mode == "handshake" and hello_len is not None:
                need += 4 + hello_len - len(hs)
            return ("need", need)
        rlen = be16(buf, off + 3)
        avail = min(rlen, left - 5)
        hs += buf[off + 5:off + 5 + avail]
        hs_map += range(off + 5, off + 5 + avail)
        if hs and hs[0] != 1:
            return ("not_tls", "handshake type %d" % hs[0])
        if len(hs) >= 4:
            hello_len = hs[1] << 16 | hs[2] << 8 | hs[3]
            if hello_len < 41:
                return ("not_tls", "ClientHello too short")
        if avail < rlen:
            need = off + 5 + rlen
            if mode == "handshake" and hello_len is not None and 4 + hello_len > len(hs) + rlen - avail:
                need += 4 + hello_len - len(hs) - (rlen - avail)
            return ("need", need)
        off += 5 + rlen
        if mode == "record" or (hello_len is not None and len(hs) >= 4 + hello_len):
            window = off
            break
    sni = find_sni(bytes(hs), hello_len)
    if sni == "bad":
        return ("not_tls", "malformed ClientHello")
    if sni:
        k, n = sni
        if k + n <= len(hs_map) and hs_map[k + n - 1] - hs_map[k] == n - 1 and hs_map[k + n - 1] < window:
            return ("done", window, hs_map[k], n, bytes(hs[k:k + n]))
    return ("done", window, 0, 0, b"")


def find_sni(hs, hello_len):
    """(index in hs, length) of the first host_name, None, or "bad".  hs may
    be cut short (record mode): what is missing is not an error."""
    if hello_len is None:
        return None
    end_all = 4 + hello_len
    avail = min(len(hs), end_all)

    class Short(Exception):
        pass

    def need(p, n):
        if p + n > end_all:
            raise ValueError
        if p + n > avail:
            raise Short

    try:
        p = 4 + 2 + 32
        need(p, 1)
        sid = hs[p]
        if sid > 32:
            return "bad"
        p += 1 + sid
        need(p, 2)
        n = be16(hs, p)
        if n < 2 or n & 1:
            return "bad"
        p += 2 + n
        need(p, 1)
        n = hs[p]
        if n < 1:
            return "bad"
        p += 1 + n
        if p == end_all:
            return None
        need(p, 2)
        total = be16(hs, p)
        p += 2
        if p + total != end_all:
            return "bad"
        while p < end_all:
            need(p, 4)
            t, n = be16(hs, p), be16(hs, p + 2)
            p += 4
            if p + n > end_all:
                return "bad"
            if t == 0:
                if n < 5:
                    return "bad"
                need(p, 5)
                lst, typ, nl = be16(hs, p), hs[p + 2], be16(hs, p + 3)
                if lst + 2 != n or typ != 0 or nl == 0 or nl + 3 > lst:
                    return "bad"
                need(p + 5, nl)
                return (p + 5, nl)
            p += n
        return None
    except Short:
        return None
    except ValueError:
        return "bad"


# =============================================================== --split-at

MARKERS = ("sni", "sniend", "midsld")


def parse_spec(text):
    out = []
    for item in text.split(","):
        name = ""
        while name.__len__() < len(item) and item[len(name)].isalpha():
            name += item[len(name)]
        rest = item[len(name):]
        if not name:
            if not rest.isdigit():
                raise ValueError("bad position %r" % item)
            out.append(("abs", int(rest)))
            continue
        if name not in MARKERS:
            raise ValueError("bad marker %r" % item)
        delta = 0
        if rest:
            if rest[0] not in "+-" or not rest[1:].isdigit():
                raise ValueError("bad position %r" % item)
            delta = int(rest[1:]) * (-1 if rest[0] == "-" else 1)
        out.append((name, delta))
    return out


def midsld(name):
    """Offset inside the hostname: middle of the label before the last one
    (exa|mple in www.example.com), or the middle of a one-label name."""
    labels = name.split(b".")
    if len(labels) > 1 and labels[-1] == b"":
        labels = labels[:-1]
    if len(labels) == 1:
        return len(labels[0]) // 2
    start = sum(len(l) + 1 for l in labels[:-2])
    return start + len(labels[-2]) // 2


def plan_cuts(spec, window, sni_off=0, sni_len=0, sni=b""):
    cuts = set()
    for marker, delta in spec:
        if marker == "abs":
            at = delta
        elif not sni_len:
            continue
        elif marker == "sni":
            at = sni_off + delta
        elif marker == "sniend":
            at = sni_off + sni_len + delta
        else:
            at = sni_off + midsld(sni) + delta
        if 0 < at < window:
            cuts.add(at)
    if not cuts and 5 < window:
        cuts.add(5)
    return sorted(cuts)


def parse_ports(text):
    ports = set()
    for item in text.split(","):
        lo, _, hi = item.partition("-")
        lo, hi = int(lo), int(hi or lo)
        if not 1 <= lo <= hi <= 65535:
            raise ValueError(item)
        ports.update(range(lo, hi + 1))
    return ports


# =============================================================== the model

class View:
    """A held (or the current) packet in a flow's window."""
    __slots__ = ("pkt", "off")

    def __init__(self, pkt, off):
        self.pkt, self.off = pkt, off

    @property
    def end(self):
        return self.off + len(self.pkt.payload)


class Flow:
    def __init__(self, key, bucket, base):
        self.key, self.bucket, self.base = key, bucket, base
        self.state = "new"
        self.held = []
        self.packets = 0
        self.hello_ack = 0
        self.window = 0
        self.cuts = []
        self.start_ms = 0
        self.last_seen_s = 0
        self.outcome = None
        self.sni = b""
        self.events = []        # slot ids
        self.done_reason = None
        self.largest = 0        # IP length of the largest payload packet within the MSS


class Slot:
    """One step of the expected output."""
    __slots__ = ("sid", "kind", "bucket", "ts", "pkt", "flow", "views", "start", "end", "owner_views", "why",
                 "outs", "largest")

    def __init__(self, kind, bucket, ts, **kw):
        self.kind, self.bucket, self.ts = kind, bucket, ts
        self.pkt = self.flow = self.views = self.owner_views = self.why = None
        self.start = self.end = 0
        self.outs = []
        self.largest = kw["flow"].largest if kw.get("flow") else 0
        for k, v in kw.items():
            setattr(self, k, v)


class Model:
    def __init__(self, opts, lt):
        self.o = opts
        self.lt = lt
        self.slots = []
        self.flows = {}
        self.all_flows = []
        self.collecting = []
        self.stats = dict.fromkeys(["packets", "flows", "flows_split", "resplit_retransmits", "failopen_not_tls",
                                    "failopen_timeout", "failopen_overflow", "failopen_held_limit",
                                    "failopen_table_full", "failopen_error", "failopen_shutdown",
                                    "pass_malformed", "pass_fragment", "pass_ipv6_ext"], 0)
        self.held_peak = 0
        self.clock = 0

    def limit(self, pkt):
        mss = self.o.mss or (1460 if pkt.fam == 4 else 1440)
        opt = pkt.thl - 20
        return mss - opt if mss > opt + 1 else 1

    def piece_limit(self, pkt, largest):
        """Largest piece cut from pkt's bytes: the MSS, and no longer than the
        flow's largest original within the MSS (largest: its IP length, 0 for none)."""
        lim, headers = self.limit(pkt), pkt.hl + pkt.thl
        if largest and largest < headers + lim:
            lim = largest - headers if largest > headers else 1
        return lim

    def add(self, kind, bucket, ts, **kw):
        if self.o.observe and kind != "pass":
            return None                    # --observe: decided and counted, nothing sent
        s = Slot(kind, bucket, ts, **kw)
        s.sid = len(self.slots)
        self.slots.append(s)
        if s.flow is not None:
            s.flow.events.append(s.sid)
        return s

    def held_bytes(self):
        return sum(len(v.pkt.ip) for f in self.collecting for v in f.held)

    # ---- fail-open and split

    def release(self, f, why, ts):
        self.stats["failopen_" + why] += 1
        if f.held:
            self.add("release", f.bucket, ts, flow=f, views=list(f.held), why=why)
        f.held = []
        if f in self.collecting:
            self.collecting.remove(f)
        f.state = "pass"
        f.outcome = f.outcome or "failopen_" + why

    def fire_timeouts(self, upto_ms, drain=False):
        while self.collecting:
            f = self.collecting[0]
            due = f.start_ms + self.o.collect_timeout
            if not drain and due > upto_ms:
                break
            self.clock = max(self.clock, due * 1_000_000)
            self.release(f, "timeout", due * 1_000_000)

    def split(self, f, views, contig, window, tls):
        f.window = window
        if tls:
            _, _, so, sl, sni = tls
            f.cuts = plan_cuts(self.o.spec, window, so, sl, sni)
            f.sni = sni
        else:
            f.cuts = plan_cuts([p for p in self.o.spec if p[0] == "abs"], window)
        if f in self.collecting:
            self.collecting.remove(f)
        f.state = "injected"
        f.outcome = "split"
        self.stats["flows_split"] += 1
        self.add("split", f.bucket, self.clock, flow=f, views=views, start=0, end=contig)
        f.held = []

    # ---- per state

    def collecting_packet(self, f, p):
        if p.flags & URG:
            self.release(f, "not_tls", self.clock)
            return "pass"
        views = f.held + [View(p, (p.seq - f.base) % MOD)]
        if any(v.off >= HALF for v in views):
            self.release(f, "error", self.clock)
            return "pass"
        stream = bytearray(self.o.max_buffer)
        have = bytearray(self.o.max_buffer)
        ranges = []
        for v in views:
            for i, b in enumerate(v.pkt.payload):
                at = v.off + i
                if at < self.o.max_buffer and not have[at]:
                    have[at], stream[at] = 1, b
            ranges.append((v.off, v.end))
        contig = 0
        for a, b in sorted(ranges):
            if a > contig:
                break
            contig = max(contig, b)
        held_payload = sum(len(v.pkt.payload) for v in views)
        if self.o.mode == "immediate":
            if f.state == "new":
                f.hello_ack = p.ack
            self.split(f, views, contig, len(p.payload), None)
            return "stolen"
        res = tls_inspect(bytes(stream[:min(contig, self.o.max_buffer)]), self.o.complete)
        if res[0] == "not_tls":
            f.why = res[1]
            self.release(f, "not_tls", self.clock)
            return "pass"
        if res[0] == "done":
            if f.state == "new":
                f.hello_ack = p.ack
            self.split(f, views, contig, res[1], res)
            return "stolen"
        if res[1] > self.o.max_buffer or held_payload > self.o.max_buffer:
            self.release(f, "overflow", self.clock)
            return "pass"
        if p.flags & (FIN | RST):
            self.release(f, "not_tls", self.clock)
            return "pass"
        if len(views) > self.o.max_held_pkts:
            self.release(f, "held_limit", self.clock)
            return "pass"
        if f.state == "new":
            f.state = "collecting"
            f.start_ms = p.ts // 1_000_000
            f.hello_ack = p.ack
            self.collecting.append(f)
        f.held.append(views[-1])
        self.held_peak = max(self.held_peak, self.held_bytes())
        return "stolen"

    def injected_packet(self, f, p):
        if p.flags & ACK and 0 < (p.ack - f.hello_ack) % MOD < HALF:
            f.state, f.done_reason = "pass", "client acked server data"
            return "pass"
        if f.packets >= PACKET_CAP:
            f.state, f.done_reason = "pass", "packet cap"
            return "pass"
        off = (p.seq - f.base) % MOD
        if off >= HALF or off >= f.window:
            return "pass"
        end = off + len(p.payload)
        if not any(off < c < end for c in f.cuts) and len(p.payload) <= self.piece_limit(p, f.largest):
            return "pass"
        self.stats["resplit_retransmits"] += 1
        self.add("resplit", f.bucket, self.clock, flow=f, pkt=p, start=off, end=end)
        return "stolen"

    # ---- the replay

    def run(self, pkts):
        for p in pkts:
            t = p.ts
            t_ms = t // 1_000_000
            if t >= self.clock:
                self.fire_timeouts(t_ms)
                self.clock = t
            else:
                self.fire_timeouts(self.clock // 1_000_000)
            verdict = self.packet(p)
            if verdict == "pass" or self.o.observe:
                self.add("pass", p.bucket, self.clock, pkt=p)
        self.fire_timeouts(0, drain=True)
        for f in list(self.collecting):
            self.release(f, "shutdown", self.clock)

    def packet(self, p):
        if p.kind == "nonip":
            return "pass"
        self.stats["packets"] += 1
        if p.kind != "tcp":
            if p.kind in ("malformed", "frag", "ext"):
                self.stats[{"malformed": "pass_malformed", "frag": "pass_fragment",
                            "ext": "pass_ipv6_ext"}[p.kind]] += 1
            return "pass"
        if p.dport not in self.o.ports:
            return "pass"
        f = self.flows.get(p.key)
        now_s = p.ts // 1_000_000_000
        if f and f.state not in ("collecting",) and (
                now_s - f.last_seen_s >= IDLE_TIMEOUT_S or
                (f.state == "closed" and now_s - f.last_seen_s >= CLOSED_TIMEOUT_S)):
            del self.flows[p.key]          # idle flow collected (approximately when the engine's GC does)
            f = None
        if p.flags & SYN:
            if f:
                if f.state == "collecting":
                    self.release(f, "error", self.clock)
                del self.flows[p.key]
            return "pass"
        if f is None:
            if not p.payload:
                return "pass"
            f = Flow(p.key, p.bucket, p.seq)
            self.flows[p.key] = f
            self.all_flows.append(f)
            self.stats["flows"] += 1
        f.last_seen_s = now_s
        verdict = "pass"
        if p.payload:
            f.packets += 1
            if len(p.ip) > f.largest and len(p.payload) <= self.limit(p):
                f.largest = len(p.ip)
            if f.state in ("new", "collecting"):
                verdict = self.collecting_packet(f, p)
            elif f.state == "injected":
                verdict = self.injected_packet(f, p)
        elif p.flags & RST and f.state == "collecting":
            self.release(f, "not_tls", self.clock)
        if p.flags & RST or (p.flags & FIN and f.state == "pass"):
            f.state = "closed"
        return verdict


# =============================================================== checking

class Result:
    def __init__(self):
        self.lines = []        # (ok, text)
        self.fail = 0

    def add(self, ok, text):
        self.lines.append((ok, text))
        if not ok:
            self.fail += 1


def bucketize(pkts):
    """Directional TCP key + connection number (counted at each SYN); other
    frames share one bucket (their order is checked as one sequence)."""
    conn = {}
    for p in pkts:
        if p.kind == "tcp":
            if p.flags & SYN:
                conn[p.key] = conn.get(p.key, 0) + 1
            p.bucket = (p.key, conn.get(p.key, 0))
        else:
            p.bucket = ("other",)


def same_res(a, b, nanos):
    return a == b if nanos else a // 1000 == b // 1000


def stream_map(pkts, base):
    """Offset -> byte (first copy wins) of the payloads, offsets from base."""
    m = {}
    for p in pkts:
        off = (p.seq - base) % MOD
        if off >= HALF:
            continue
        for i, b in enumerate(p.payload):
            m.setdefault(off + i, b)
    return m


def ranges_of(m):
    out, start, prev = [], None, None
    for k in sorted(m):
        if start is None:
            start = prev = k
        elif k == prev + 1:
            prev = k
        else:
            out.append((start, prev + 1))
            start = prev = k
    if start is not None:
        out.append((start, prev + 1))
    return out


class Checker:
    def __init__(self, opts, inp, out):
        self.o, self.inp, self.out = opts, inp, out
        self.res = Result()
        self.problems = {}           # bucket -> [reasons]
        self.seg_count = 0           # emitted segments of splits and resplits
        self.id_notes = {}
        self.emitted_idx = {}        # out index -> slot id

    def problem(self, bucket, text):
        self.problems.setdefault(bucket, []).append(text)

    def desc(self, p):
        if p.kind != "tcp":
            return "%s frame of %d bytes" % (p.kind, len(p.frame))
        return "%s seq+%d len %d flags 0x%02x" % (fmt_key(p.key), p.seq, len(p.payload), p.flags)

    def run(self):
        o = self.o
        if self.out.linktype != self.inp.linktype:
            self.res.add(False, "FAIL output link type %d, input %d" % (self.out.linktype, self.inp.linktype))
        if self.out.nanos != self.inp.nanos:
            self.res.add(False, "FAIL output time resolution differs from the input's (DESIGN: kept)")
        lt = self.inp.linktype
        self.ip = [parse_frame(lt, i, r) for i, r in enumerate(self.inp.recs)]
        self.op = [parse_frame(lt, i, r) for i, r in enumerate(self.out.recs)]
        bucketize(self.ip)
        bucketize(self.op)
        if o.invariants_only:
            self.model = None
            self.invariants_only()
            if o.stats_json:
                try:
                    with open(o.stats_json) as f:
                        got = json.load(f)
                except (OSError, ValueError) as e:
                    got = {}
                    self.res.add(False, "FAIL stats JSON %s: %s" % (o.stats_json, e))
                for pin in o.expect:
                    self.pin(got, pin)
        else:
            self.model = Model(o, lt)
            self.model.run(self.ip)
            self.walk()
            self.global_order()
            self.stats_check()
        self.stream_check()
        if o.tshark:
            self.tshark_check()
        self.report()
        return self.res

    # ---- the plan walk

    def walk(self):
        by_bucket = {}
        for s in self.model.slots:
            by_bucket.setdefault(s.bucket, []).append(s)
        outs = {}
        for p in self.op:
            outs.setdefault(p.bucket, []).append(p)
        self.slot_of = [None] * len(self.op)
        for b, slots in by_bucket.items():
            lst = outs.get(b, [])
            cur = 0
            for s in slots:
                try:
                    cur = getattr(self, "match_" + s.kind)(s, lst, cur)
                except CheckError as e:
                    self.problem(b, str(e))
                    break
                for q in s.outs:
                    self.slot_of[q.idx] = s.sid
            else:
                if cur < len(lst):
                    self.problem(b, "%d extra output packet(s), first: out#%d %s" % (
                        len(lst) - cur, lst[cur].idx, self.desc(lst[cur])))
        self.id_notes = {}
        for b, lst in outs.items():
            self.ipid_check(b, lst)
        for b, lst in outs.items():
            if b not in by_bucket:
                self.problem(b, "output packets of a connection the input does not have (out#%d)" % lst[0].idx)

    def ipid_check(self, b, lst):
        """IPv4 IDs: distinct inside each emission (checked with the segments);
        here, emitted IDs that another packet of the flow also uses.  DESIGN
        fixes segment i's ID to original ID + i, so with a stack that counts
        IDs per packet (Linux) the next packets reuse them: harmless with DF
        (never fragmented), noted; without DF it is reported as a note too,
        since no choice of the engine can avoid what the OS picks later."""
        seen = {}
        for q in lst:
            if q.kind == "tcp" and q.fam == 4:
                seen.setdefault(be16(q.ip, 4), []).append(q)
        dup_df = dup_nodf = 0
        for ident, qs in seen.items():
            if len(qs) > 1 and any(self.slot_of[q.idx] is not None and
                                   self.model.slots[self.slot_of[q.idx]].kind in ("split", "resplit") for q in qs):
                if all(q.ip[6] & 0x40 for q in qs):
                    dup_df += 1
                else:
                    dup_nodf += 1
        if dup_df or dup_nodf:
            self.id_notes[b] = "note: %d emitted IPv4 ID(s) reused by other packets of the flow%s" % (
                dup_df + dup_nodf, " (%d without DF: could mix fragments)" % dup_nodf if dup_nodf else " (all DF)")

    def take(self, s, lst, cur, what):
        if cur >= len(lst):
            raise CheckError("output ends where %s was expected" % what)
        q = lst[cur]
        s.outs.append(q)
        return q

    def check_ts(self, s, q):
        if not same_res(q.ts, s.ts, self.out.nanos):
            raise CheckError("out#%d has time %d.%09d, expected %d.%09d (the moment of emission)" % (
                q.idx, q.ts // 10**9, q.ts % 10**9, s.ts // 10**9, s.ts % 10**9))

    def match_pass(self, s, lst, cur):
        p = s.pkt
        q = self.take(s, lst, cur, "input #%d (%s) unchanged" % (p.idx, self.desc(p)))
        if q.frame != p.frame:
            raise CheckError("input #%d (%s) must pass unchanged; out#%d is %s" % (
                p.idx, self.desc(p), q.idx, self.desc(q) if q.frame[:len(p.frame)] != p.frame else "longer"))
        self.check_ts(s, q)
        return cur + 1

    def match_release(self, s, lst, cur):
        if s.why == "timeout":
            delay = s.ts - s.views[0].pkt.ts
            if not (self.o.collect_timeout - 1) * 1_000_000 < delay <= self.o.collect_timeout * 1_000_000:
                raise CheckError("model: release %.3f ms after the first held packet (--collect-timeout %d)" % (
                    delay / 1e6, self.o.collect_timeout))
            s.flow.release_delay = delay
        for v in s.views:
            cur = self.emit_original(s, v, lst, cur)
        return cur

    def emit_original(self, s, v, lst, cur):
        """A held packet given back unchanged (a GSO one cut to the MSS)."""
        p = v.pkt
        if len(p.payload) <= self.model.piece_limit(p, s.largest):
            q = self.take(s, lst, cur, "held input #%d released unchanged" % p.idx)
            link = p.frame[:p.link]
            if q.frame != p.frame and q.frame != link + p.ip:
                raise CheckError("held input #%d (%s) must be released unchanged; out#%d differs" % (
                    p.idx, self.desc(p), q.idx))
            self.check_ts(s, q)
            return cur + 1
        base = (p.seq - v.off) % MOD
        return self.segments(s, lst, cur, v.off, v.end, [v], [], base, p, count=False)

    def match_split(self, s, lst, cur):
        f = s.flow
        cur = self.segments(s, lst, cur, 0, s.end, s.views, f.cuts, f.base, None, count=True)
        for v in s.views:
            if v.off > s.end:
                cur = self.emit_original(s, v, lst, cur)
        return cur

    def match_resplit(self, s, lst, cur):
        f = s.flow
        v = View(s.pkt, s.start)
        return self.segments(s, lst, cur, s.start, s.end, [v], f.cuts, f.base, s.pkt, count=True)

    def segments(self, s, lst, cur, start, end, views, cuts, base, id_from, count):
        """Output packets lst[cur:] must carry stream bytes [start, end), in
        order, cut at `cuts` and at the boundaries of the bytes each original
        contributes (first copy wins), each field copied from that original."""
        what = "%s of %s" % (s.kind, fmt_key(s.flow.key)) if s.flow else s.kind

        def owner(pos):
            for v in views:
                if v.off <= pos < v.end:
                    return v
            raise CheckError("internal: no original carries offset %d" % pos)

        def payload_at(a, b):
            out = bytearray()
            for pos in range(a, b):
                v = owner(pos)
                out.append(v.pkt.payload[pos - v.off])
            return bytes(out)

        pos, segs = start, []
        while pos < end:
            q = self.take(s, lst, cur + len(segs), "%s: bytes [%d, %d)" % (what, pos, end))
            if q.kind != "tcp" or not q.payload:
                raise CheckError("%s: out#%d carries no payload where bytes [%d, %d) were expected" % (
                    what, q.idx, pos, end))
            off = (q.seq - base) % MOD
            if off != pos:
                raise CheckError("%s: out#%d starts at stream offset %d, expected %d (seq = base + offset; a "
                                 "segment missing, reordered or with a wrong seq)" % (what, q.idx, off if off < HALF
                                                                                     else off - MOD, pos))
            qend = pos + len(q.payload)
            if qend > end:
                raise CheckError("%s: out#%d runs past the end of the bytes to emit (%d > %d)" % (
                    what, q.idx, qend, end))
            v = owner(pos)
            if qend > v.end:
                raise CheckError("%s: out#%d [%d, %d) mixes bytes of two original packets (input #%d ends at %d)"
                                 % (what, q.idx, pos, qend, v.pkt.idx, v.end))
            if q.payload != payload_at(pos, qend):
                raise CheckError("%s: out#%d payload differs from the input stream at [%d, %d)" % (
                    what, q.idx, pos, qend))
            segs.append((q, v, pos, qend))
            pos = qend
        # cut positions: each cut inside [start, end) must be a boundary
        bounds = {a for _, _, a, _ in segs[1:]}
        for c in cuts:
            if start < c < end and c not in bounds:
                raise CheckError("%s: no segment boundary at cut %d (the censor would see bytes %d and %d "
                                 "together)" % (what, c, c - 1, c))
        # boundaries: cuts, the edges of the bytes each original contributes
        # (first copy wins), or MSS pieces of an original larger than the MSS
        structural = set(c for c in cuts if start < c < end)
        owners_bounds = set()
        prev = None
        for _, v, a, b in segs:
            if prev is not None and v is not prev:
                owners_bounds.add(a)
            prev = v
        structural |= owners_bounds
        pieces, cur_piece = [], []
        for seg in segs:
            q, v, a, b = seg
            if cur_piece and a in structural:
                pieces.append(cur_piece)
                cur_piece = []
            cur_piece.append(seg)
        if cur_piece:
            pieces.append(cur_piece)
        for piece in pieces:
            v = piece[0][1]
            lim = self.model.piece_limit(v.pkt, s.largest)
            total = sum(b - a for _, _, a, b in piece)
            need = -(-total // lim)
            if len(piece) != need:
                extra = [a for _, _, a, _ in piece[1:]]
                raise CheckError("%s: boundary at %s is neither a cut (%s) nor the edge of an original packet's "
                                 "bytes nor an MSS piece (%d bytes in %d segments, MSS payload %d)" % (
                                     what, ",".join(map(str, extra)), ",".join(map(str, cuts)) or "-", total,
                                     len(piece), lim))
        # first segment of a split: exactly the first position long
        if s.kind == "split" and segs:
            q, v, a, b = segs[0]
            want = min([c for c in cuts if c > 0] + [v.end, self.model.piece_limit(v.pkt, s.largest)])
            if b - a != want:
                raise CheckError("%s: first segment is %d bytes, expected %d (first cut %s, first original "
                                 "carries %d)" % (what, b - a, want, cuts[0] if cuts else "-", v.end))
        # every field; the flags and timestamps of the packets whose bytes go out
        inside = [v for v in views if v.off <= end]
        end_flags = first_flags = 0
        for v in inside:
            end_flags |= v.pkt.flags & (FIN | PSH | RST)
            first_flags |= v.pkt.flags & CWR
        newest = None
        for v in inside:
            t = ts_option(v.pkt)
            if t is not None and (newest is None or 0 < (be32(t, 0) - be32(newest, 0)) % MOD < HALF):
                newest = t
        first_id = None
        for i, (q, v, a, b) in enumerate(segs):
            o_ = v.pkt
            flags = o_.flags & ~(FIN | PSH | RST | CWR | URG) & 0xff
            if b == end:
                flags |= end_flags
            if a == start:
                flags |= first_flags
            urgent = None
            if o_.flags & URG:
                urp, u = be16(o_.ip, o_.hl + 18), v.off + be16(o_.ip, o_.hl + 18) - 1
                urgent = 0
                if urp and a <= u and (u < b or b == v.end):
                    urgent = u + 1 - a
                    flags |= URG
            self.check_ts(s, q)
            self.check_fields(what, q, o_, base + a, flags, urgent, newest)
            if o_.fam == 4:
                idq = be16(q.ip, 4)
                if first_id is None:
                    src = id_from if id_from is not None else segs[0][1].pkt
                    first_id = be16(src.ip, 4)
                if idq != (first_id + i) & 0xffff:
                    raise CheckError("%s: out#%d IPv4 ID %d, expected %d (original ID + %d)" % (
                        what, q.idx, idq, (first_id + i) & 0xffff, i))
            if len(q.payload) > len(o_.payload):
                raise CheckError("%s: out#%d (%d bytes) is larger than the original that carried them (%d)" % (
                    what, q.idx, len(q.payload), len(o_.payload)))
            if len(q.payload) > self.model.piece_limit(o_, s.largest):
                raise CheckError("%s: out#%d payload %d bytes is over the MSS or the flow's largest packet (%d)"
                                 % (what, q.idx, len(q.payload), self.model.piece_limit(o_, s.largest)))
        if count:
            self.seg_count += len(segs)
        return cur + len(segs)

    def check_fields(self, what, q, o_, seq, want, urgent, timestamps):
        """want: the flags; urgent: the urgent pointer (None: the original's);
        timestamps: the 8 bytes of the timestamps option (None: the original's)."""
        e = []
        qi, oi = q.ip, o_.ip
        if q.frame[:q.link] != o_.frame[:o_.link]:
            e.append("link header")
        if len(q.frame) != q.link + len(qi):
            e.append("trailing bytes after the IP packet")
        if q.fam != o_.fam or q.hl != o_.hl or q.thl != o_.thl:
            e.append("header lengths")
        elif q.fam == 4:
            for name, a, b in (("version/IHL", 0, 1), ("TOS", 1, 2), ("DF/fragment field", 6, 8), ("TTL", 8, 9),
                               ("protocol", 9, 10), ("addresses", 12, 20), ("IP options", 20, q.hl)):
                if qi[a:b] != oi[a:b]:
                    e.append(name)
        else:
            if qi[0:4] != oi[0:4]:
                e.append("traffic class/flow label")
            for name, a, b in (("next header", 6, 7), ("hop limit", 7, 8), ("addresses", 8, 40)):
                if qi[a:b] != oi[a:b]:
                    e.append(name)
        if not e:
            h = q.hl
            if qi[h:h + 4] != oi[h:h + 4]:
                e.append("ports")
            if q.seq != seq % MOD:
                e.append("seq %d != base + offset %d" % (q.seq, seq % MOD))
            if qi[h + 8:h + 12] != oi[h + 8:h + 12]:
                e.append("ack number")
            if qi[h + 12] != oi[h + 12]:
                e.append("data offset/reserved bits")
            if q.flags != want:
                e.append("flags 0x%02x, expected 0x%02x (PSH/FIN only on the last segment, CWR on the first, "
                         "URG where the urgent byte is)" % (q.flags, want))
            if qi[h + 14:h + 16] != oi[h + 14:h + 16]:
                e.append("TCP window")
            if (qi[h + 18:h + 20] != oi[h + 18:h + 20]) if urgent is None else be16(qi, h + 18) != urgent:
                e.append("urgent pointer")
            options = bytearray(oi[h + 20:h + o_.thl])
            at = ts_option_at(o_)
            if timestamps is not None and at is not None:
                options[at - h - 20:at - h - 12] = timestamps
            if qi[h + 20:h + q.thl] != options:
                e.append("TCP options")
        ok4, okt = checksums_ok(qi)
        if not ok4:
            e.append("IPv4 header checksum")
        if not okt:
            e.append("TCP checksum")
        if e:
            raise CheckError("%s: out#%d differs from input #%d that carried its bytes: %s" % (
                what, q.idx, o_.idx, ", ".join(e)))

    # ---- order, stats, streams

    def global_order(self):
        last, last_idx = -1, None
        for q in self.op:
            sid = self.slot_of[q.idx]
            if sid is None:
                continue
            if sid < last:
                s, t = self.model.slots[sid], self.model.slots[last]
                self.problem(s.bucket, "out#%d (%s) comes after out#%d (%s): not the order of the input/emission" % (
                    q.idx, s.kind, last_idx, t.kind))
                self.problem(t.bucket, "output order (see out#%d)" % q.idx)
                return
            last, last_idx = sid, q.idx

    def stats_check(self):
        o, m = self.o, self.model
        got = None
        if o.stats_json:
            try:
                with open(o.stats_json) as f:
                    got = json.load(f)
            except (OSError, ValueError) as e:
                self.res.add(False, "FAIL stats JSON %s: %s" % (o.stats_json, e))
                return
            want = dict(m.stats)
            if not self.problems and not o.observe:
                want["segments_emitted"] = self.seg_count
            bad = []
            for k, v in sorted(want.items()):
                if got.get(k) != v:
                    bad.append("%s=%s (model %s)" % (k, got.get(k), v))
            if got.get("held_bytes") != 0:
                bad.append("held_bytes=%s at exit (must be 0)" % got.get("held_bytes"))
            peak = got.get("held_bytes_peak")
            if not isinstance(peak, int) or peak < m.held_peak or (m.held_peak == 0) != (peak == 0):
                bad.append("held_bytes_peak=%s (held IP bytes at peak %d)" % (peak, m.held_peak))
            for k in ("packets", "flows", "flows_split", "segments_emitted", "resplit_retransmits",
                      "failopen_not_tls", "failopen_timeout", "failopen_overflow", "failopen_held_limit",
                      "failopen_table_full", "failopen_error", "held_bytes", "held_bytes_peak"):
                if k not in got:
                    bad.append("key %s missing" % k)
            self.res.add(not bad, ("PASS" if not bad else "FAIL") + " stats: " + (
                ", ".join(bad) if bad else "counters agree with the model (flows %d, split %d, segments %d, "
                "resplit %d)" % (m.stats["flows"], m.stats["flows_split"], self.seg_count,
                                 m.stats["resplit_retransmits"])))
        src = got if got is not None else dict(m.stats, segments_emitted=self.seg_count)
        for pin in o.expect:
            self.pin(src, pin)

    def pin(self, src, pin):
        """KEY=VALUE, KEY=@OTHER_KEY or KEY>=N against the counters."""
        if ">=" in pin:
            k, _, v = pin.partition(">=")
            ok = isinstance(src.get(k), int) and src.get(k) >= int(v)
        else:
            k, _, v = pin.partition("=")
            if v.startswith("@"):
                v = str(src.get(v[1:]))
            ok = str(src.get(k)) == v
        if not ok:
            self.res.add(False, "FAIL expected %s, got %s=%s" % (pin, k, src.get(k)))

    def stream_check(self):
        """Invariant 1, model-free: the client stream of every connection on a
        target port is the same, byte for byte and range for range."""
        ins, outs = {}, {}
        for p in self.ip:
            if p.kind == "tcp" and p.dport in self.o.ports:
                ins.setdefault(p.bucket, []).append(p)
        for p in self.op:
            if p.kind == "tcp" and p.dport in self.o.ports:
                outs.setdefault(p.bucket, []).append(p)
        self.stream_ok = {}
        for b in set(ins) | set(outs):
            a, z = ins.get(b, []), outs.get(b, [])
            syn = [p for p in a if p.flags & SYN]
            data = [p for p in a if p.payload]
            if not data and not any(p.payload for p in z):
                continue
            base = (syn[0].seq + 1) % MOD if syn else (data[0].seq if data else z[0].seq)
            mi, mo = stream_map(a, base), stream_map(z, base)
            if mi != mo:
                ri, ro = ranges_of(mi), ranges_of(mo)
                if ri != ro:
                    why = "covered ranges differ: input %s, output %s" % (ri[:4], ro[:4])
                else:
                    diff = min(k for k in mi if mi[k] != mo[k])
                    why = "byte at stream offset %d differs" % diff
                self.problem(b, "invariant 1: the output stream is not the input stream (%s)" % why)

    def invariants_only(self):
        """Model-free checks (used on fuzzed inputs): every frame that is not
        a payload packet of a target-port TCP flow passes unchanged and in
        order; every frame not found in the input is a valid target-port TCP
        segment (checksums) whose bytes are the input stream's."""
        def untouchable(p):
            return not (p.kind == "tcp" and p.dport in self.o.ports and p.payload)
        exp = [p for p in self.ip if untouchable(p)]
        inset = set()
        for p in self.ip:
            inset.add(p.frame)
            if p.kind == "tcp":
                inset.add(p.frame[:p.link] + p.ip)
        j = 0
        for q in self.op:
            if j < len(exp) and q.frame == exp[j].frame:
                j += 1
                continue
            if q.frame in inset:
                if untouchable(q):
                    self.problem(q.bucket, "out#%d: a frame that must pass is out of order or duplicated" % q.idx)
                    return
                continue
            if q.kind != "tcp" or q.dport not in self.o.ports or not q.payload:
                self.problem(q.bucket, "out#%d: a frame not in the input that is no target TCP segment" % q.idx)
                return
            ok4, okt = checksums_ok(q.ip)
            if not (ok4 and okt):
                self.problem(q.bucket, "out#%d: emitted segment with a bad checksum" % q.idx)
                return
        if j != len(exp):
            p = exp[j]
            self.problem(p.bucket, "input #%d (%s) must pass unchanged, in order: missing" % (p.idx, self.desc(p)))

    def tshark_check(self):
        """Cross-check with Wireshark's own dissectors: every checksum good,
        same frame count, and the SNI tshark finds is the one parsed here."""
        try:
            r = subprocess.run(["tshark", "-n", "-r", self.o.out, "-o", "ip.check_checksum:TRUE", "-o",
                                "tcp.check_checksum:TRUE", "-T", "fields", "-e", "frame.number", "-e",
                                "ip.checksum.status", "-e", "tcp.checksum.status"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.res.add(False, "FAIL tshark: %s" % e)
            return
        rows = [l.split("\t") for l in r.stdout.splitlines() if l.strip()]
        bad = [int(row[0]) - 1 for row in rows if "0" in ",".join(row[1:]).split(",")]
        # a frame passed unchanged keeps the input's checksum (a capture taken
        # before checksum offload has partial ones): only emitted packets count
        emitted = [i for i in bad if self.model is None or self.slot_of[i] is None or
                   self.model.slots[self.slot_of[i]].kind in ("split", "resplit")]
        if r.returncode or len(rows) != len(self.op) or emitted:
            self.res.add(False, "FAIL tshark: rc %d, %d frames (checker %d), bad checksums in emitted frames %s" % (
                r.returncode, len(rows), len(self.op), [i + 1 for i in emitted[:5]]))
        else:
            self.res.add(True, "PASS tshark: %d frames, every emitted segment's IP/TCP checksum good%s" % (
                len(rows), " (%d passed frames keep the input's bad/partial checksum)" % len(bad) if bad else ""))
        if self.model:
            # Wireshark's own TCP reassembly and TLS dissector find the same
            # hostnames in the output as in the input, and the checker's
            # parser found each of them
            names = []
            for path in (self.o.inp, self.o.out):
                r = subprocess.run(["tshark", "-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y",
                                    "tls.handshake.type == 1", "-T", "fields", "-e",
                                    "tls.handshake.extensions_server_name"],
                                   capture_output=True, text=True, timeout=60)
                names.append(set(x for x in r.stdout.split() if x))
            ours = set(f.sni.decode("ascii", "replace") for f in self.model.all_flows if f.sni)
            if names[0] != names[1] or not ours <= names[0]:
                self.res.add(False, "FAIL tshark SNI: input %s, output %s, checker %s" % (
                    sorted(names[0]), sorted(names[1]), sorted(ours)))
            else:
                self.res.add(True, "PASS tshark SNI: %s in input and output" % (sorted(names[0]) or "none"))

    def report(self):
        flows_by_bucket = {}
        if self.model:
            for f in self.model.all_flows:
                flows_by_bucket.setdefault(f.bucket, []).append(f)
        reported = set()
        for b, flows in flows_by_bucket.items():
            for f in flows:
                probs = self.problems.get(b)
                segs = sum(len(self.model.slots[s].outs) for s in f.events if self.model.slots[s].kind != "pass")
                if f.outcome == "split":
                    head = "%s split at %s (window %d%s)" % (fmt_key(f.key), ",".join(map(str, f.cuts)),
                                                               f.window, ", sni " + f.sni.decode("ascii", "replace")
                                                               if f.sni else "")
                    rs = sum(1 for s in f.events if self.model.slots[s].kind == "resplit")
                    if rs:
                        head += ", %d retransmission(s) re-split" % rs
                else:
                    head = "%s passed unsplit (%s%s)" % (fmt_key(f.key), f.outcome or "no hello",
                                                        ": " + f.why if getattr(f, "why", None) else "")
                if getattr(f, "release_delay", None):
                    head += ", released %.3f ms after its first packet" % (f.release_delay / 1e6)
                head += ", %d packets emitted" % segs
                if self.id_notes.get(b):
                    head += "; " + self.id_notes[b]
                if probs:
                    self.res.add(False, "FAIL %s: %s" % (head, "; ".join(probs[:3])))
                else:
                    self.res.add(True, "PASS %s" % head)
            reported.add(b)
        other = [b for b in self.problems if b not in reported]
        n_other = sum(1 for p in self.ip if p.bucket not in reported)
        if other:
            for b in other:
                name = "other traffic" if b == ("other",) else fmt_key(b[0])
                self.res.add(False, "FAIL %s: %s" % (name, "; ".join(self.problems[b][:3])))
        else:
            self.res.add(True, "PASS %d other packets (other directions, ports, protocols) unchanged, in order"
                         % n_other)


class CheckError(Exception):
    pass


# =============================================================== CLI

def build_parser():
    ap = argparse.ArgumentParser(prog="check_split.py", description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inp", metavar="IN")
    ap.add_argument("out", metavar="OUT")
    ap.add_argument("--split-at", default="5")
    ap.add_argument("--split-chunk")
    ap.add_argument("--tls-complete", dest="complete", choices=("record", "handshake"), default="record")
    ap.add_argument("--split-mode", dest="mode", choices=("tls-hello", "immediate"), default="tls-hello")
    ap.add_argument("--ports", default="443")
    ap.add_argument("--collect-timeout", type=int, default=250)
    ap.add_argument("--mss", type=int, default=0)
    ap.add_argument("--max-held-pkts", type=int, default=32)
    ap.add_argument("--max-buffer", type=int, default=65536)
    ap.add_argument("--observe", action="store_true", help="hellosplit ran with --observe: all must pass")
    ap.add_argument("--stats-json")
    ap.add_argument("--expect", action="append", default=[], metavar="KEY=VALUE",
                    help="pin a stats counter (from --stats-json, else the model)")
    ap.add_argument("--tshark", action="store_true", help="cross-check checksums and SNI with tshark")
    ap.add_argument("--invariants-only", action="store_true", help="model-free checks only (fuzzed inputs)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    ap.add_argument("--name", default="")
    return ap


def finish_opts(o):
    o.spec = parse_spec(o.split_chunk or o.split_at)
    o.ports = parse_ports(o.ports)
    return o


def check_files(o):
    try:
        inp = read_pcap(o.inp)
    except (OSError, PcapError) as e:
        r = Result()
        r.add(False, "FAIL input %s: %s" % (o.inp, e))
        return r
    try:
        out = read_pcap(o.out)
    except (OSError, PcapError) as e:
        r = Result()
        r.add(False, "FAIL output %s is not a valid pcap: %s" % (o.out, e))
        return r
    return Checker(o, inp, out).run()


def print_result(name, r, quiet):
    for ok, text in r.lines:
        if not quiet or not ok:
            print("%s%s" % (name + ": " if name else "", text))
    print("%s%s (%d checks, %d failed)" % (name + ": " if name else "", "OK" if not r.fail else "FAILED",
                                          len(r.lines), r.fail))
    sys.stdout.flush()


def batch(path):
    ap = build_parser()
    fails = total = 0
    with open(path) as f:
        lines = [l for l in f if l.strip() and not l.startswith("#")]
    for line in lines:
        words = shlex.split(line)
        name, args = words[0], words[1:]
        try:
            o = finish_opts(ap.parse_args(args))
        except (SystemExit, ValueError) as e:
            print("%s: FAIL bad arguments %r (%s)" % (name, args, e))
            fails += 1
            continue
        try:
            r = check_files(o)
        except Exception:                   # a checker bug must not hide the other cases
            import traceback
            r = Result()
            r.add(False, "FAIL checker crashed: " + traceback.format_exc().strip().splitlines()[-1])
            traceback.print_exc(file=sys.stdout)
        print_result(name, r, o.quiet)
        total += 1
        fails += r.fail > 0
    print("checker batch: %d cases, %d failed" % (total, fails))
    return 1 if fails else 0


# =============================================================== selftest

# what each mutation must be caught for (any of these words in a FAIL line)
REASONS = {
    "flip a payload byte (checksums fixed)": "payload differs",
    "drop a segment": "starts at stream offset|invariant 1",
    "swap two segments": "starts at stream offset",
    "wrong seq (checksums fixed)": "starts at stream offset",
    "bad TCP checksum": "TCP checksum",
    "bad IPv4 header checksum": "IPv4 header checksum",
    "PSH on the first segment": "PSH/FIN only on the last",
    "merge two segments": "no segment boundary at cut|first segment is",
    "first segment one byte too long": "no segment boundary at cut|first segment is",
    "TTL/hop limit changed": "TTL|hop limit",
    "ack changed": "ack number",
    "IPv4 ID off": "IPv4 ID",
    "TCP window changed": "TCP window",
    "TCP option byte changed": "TCP options",
    "hello left unsplit": "no segment boundary at cut|mixes bytes of two original packets",
    "segment time moved": "moment of emission",
    "passed packet's byte changed": "must pass unchanged",
    "passed packets reordered": "must pass unchanged|order",
    "passed packet dropped": "must pass unchanged|output ends",
    "link header changed": "link header",
    "segment duplicated": "starts at stream offset|extra output",
}


def selftest(o):
    """OUT must pass; then every mutation of it must be caught."""
    inp, out = read_pcap(o.inp), read_pcap(o.out)
    base = Checker(o, inp, out).run()
    if base.fail:
        print_result("selftest baseline", base, False)
        print("selftest: the unmutated output must pass first")
        return 1
    chk = Checker(o, inp, out)
    chk.run()
    lt = out.linktype
    split_slots = [s for s in chk.model.slots if s.kind == "split" and len(s.outs) >= 3]
    pass_tcp = [q.idx for q in chk.op if chk.slot_of[q.idx] is not None and
                chk.model.slots[chk.slot_of[q.idx]].kind == "pass" and q.kind == "tcp"]
    if not split_slots:
        print("selftest: needs an output with a split of at least 3 segments")
        return 1
    split_idx = [q.idx for q in split_slots[0].outs]
    whole = [s for s in chk.model.slots if s.kind == "split" and len(s.views) == 1 and len(s.outs) >= 2]
    unsplit_idx = [q.idx for q in (whole[0] if whole else split_slots[0]).outs]
    s0, s1 = split_idx[0], split_idx[1]

    def ipof(recs, i):
        p = parse_frame(lt, i, recs[i])
        return p

    def put(recs, i, ip, fix=True):
        p = ipof(recs, i)
        recs[i] = Rec(recs[i].ts, recs[i].frame[:p.link] + (fix_checksums(ip) if fix else ip))

    def set_tcp(recs, i, fn, fix=True):
        p = ipof(recs, i)
        ip = bytearray(p.ip)
        fn(ip, p.hl)
        put(recs, i, bytes(ip), fix)

    def m_flip(r):
        set_tcp(r, s1, lambda ip, h: ip.__setitem__(len(ip) - 1, ip[-1] ^ 0x20))

    def m_drop(r):
        del r[s1]

    def m_swap(r):
        r[s0], r[s1] = r[s1], r[s0]

    def m_seq(r):
        set_tcp(r, s1, lambda ip, h: struct.pack_into("!I", ip, h + 4, (struct.unpack_from("!I", ip, h + 4)[0] + 1)
                                                      % MOD))

    def m_csum(r):
        set_tcp(r, s1, lambda ip, h: struct.pack_into("!H", ip, h + 16, struct.unpack_from("!H", ip, h + 16)[0] ^ 1),
                fix=False)

    def m_ipcsum(r):
        p = ipof(r, s0)
        if p.fam != 4:
            return False
        set_tcp(r, s0, lambda ip, h: ip.__setitem__(10, ip[10] ^ 0x40), fix=False)

    def m_psh(r):
        set_tcp(r, s0, lambda ip, h: ip.__setitem__(h + 13, ip[h + 13] | PSH))

    def merge(r, a, b):
        pa, pb = ipof(r, a), ipof(r, b)
        put(r, a, pa.ip + pb.payload)
        del r[b]

    def m_merge(r):
        merge(r, s0, s1)

    def m_first(r):
        pa, pb = ipof(r, s0), ipof(r, s1)
        put(r, s0, pa.ip + pb.payload[:1])
        ip = bytearray(pb.ip[:pb.hl + pb.thl] + pb.payload[1:])
        struct.pack_into("!I", ip, pb.hl + 4, (pb.seq + 1) % MOD)
        put(r, s1, bytes(ip))

    def m_ttl(r):
        p = ipof(r, s1)
        set_tcp(r, s1, lambda ip, h: ip.__setitem__(8 if p.fam == 4 else 7, 1))

    def m_ack(r):
        set_tcp(r, s1, lambda ip, h: struct.pack_into("!I", ip, h + 8, (struct.unpack_from("!I", ip, h + 8)[0] + 1)
                                                      % MOD))

    def m_ipid(r):
        p = ipof(r, s1)
        if p.fam != 4:
            return False
        set_tcp(r, s1, lambda ip, h: struct.pack_into("!H", ip, 4, struct.unpack_from("!H", ip, 4)[0] + 7))

    def m_window(r):
        set_tcp(r, s1, lambda ip, h: struct.pack_into("!H", ip, h + 14, 1))

    def m_options(r):
        p = ipof(r, s1)
        if p.thl <= 20:
            return False
        set_tcp(r, s1, lambda ip, h: ip.__setitem__(h + p.thl - 1, ip[h + p.thl - 1] ^ 1))

    def m_unsplit(r):
        # the split replaced by one packet carrying all its bytes
        first = ipof(r, unsplit_idx[0])
        put(r, unsplit_idx[0], first.ip + b"".join(ipof(r, i).payload for i in unsplit_idx[1:]))
        for i in reversed(unsplit_idx[1:]):
            del r[i]

    def m_ts(r):
        r[s1] = Rec(r[s1].ts + 5_000_000, r[s1].frame)

    def m_pass_byte(r):
        i = pass_tcp[-1]
        f = bytearray(r[i].frame)
        f[-1] ^= 1
        r[i] = Rec(r[i].ts, bytes(f))

    def m_pass_order(r):
        i = pass_tcp[0]
        r[i], r[i + 1] = r[i + 1], r[i]

    def m_pass_drop(r):
        del r[pass_tcp[-1]]

    def m_link(r):
        p = ipof(r, s1)
        if p.link == 0:
            return False
        f = bytearray(r[s1].frame)
        f[0] ^= 1
        r[s1] = Rec(r[s1].ts, bytes(f))

    def m_dup(r):
        r.insert(s1, r[s1])

    muts = [("flip a payload byte (checksums fixed)", m_flip), ("drop a segment", m_drop),
            ("swap two segments", m_swap), ("wrong seq (checksums fixed)", m_seq), ("bad TCP checksum", m_csum),
            ("bad IPv4 header checksum", m_ipcsum), ("PSH on the first segment", m_psh),
            ("merge two segments", m_merge), ("first segment one byte too long", m_first),
            ("TTL/hop limit changed", m_ttl), ("ack changed", m_ack), ("IPv4 ID off", m_ipid),
            ("TCP window changed", m_window), ("TCP option byte changed", m_options),
            ("hello left unsplit", m_unsplit), ("segment time moved", m_ts),
            ("passed packet's byte changed", m_pass_byte), ("passed packets reordered", m_pass_order),
            ("passed packet dropped", m_pass_drop), ("link header changed", m_link),
            ("segment duplicated", m_dup)]
    bad = 0
    for name, fn in muts:
        m = Pcap()
        m.nanos, m.linktype = out.nanos, out.linktype
        m.recs = list(out.recs)
        if fn(m.recs) is False:
            print("selftest: %-40s skipped (not applicable to this capture)" % name)
            continue
        r = Checker(o, inp, m).run()
        whys = [t for ok, t in r.lines if not ok]
        want = REASONS[name]
        hit = [w for w in whys if any(k in w for k in want.split("|"))]
        if hit:
            why = hit[0]
            at = min([why.find(k) for k in want.split("|") if k in why])
            print("selftest: %-40s caught: ...%s" % (name, why[max(0, at - 40):at + 100]))
        elif whys:
            print("selftest: %-40s caught, but not for the expected reason (%s): %s" % (name, want, whys[0][:200]))
            bad += 1
        else:
            print("selftest: %-40s NOT CAUGHT" % name)
            bad += 1
    print("selftest: %d mutations, %d not caught" % (len(muts), bad))
    return 1 if bad else 0


def main(argv):
    if argv and argv[0] == "--batch":
        if len(argv) != 2:
            print("usage: check_split.py --batch FILE", file=sys.stderr)
            return 2
        return batch(argv[1])
    st = bool(argv) and argv[0] == "--selftest"
    if st:
        argv = argv[1:]
    ap = build_parser()
    o = ap.parse_args(argv)
    try:
        finish_opts(o)
    except ValueError as e:
        print("check_split.py: %s" % e, file=sys.stderr)
        return 2
    if st:
        return selftest(o)
    r = check_files(o)
    print_result(o.name, r, o.quiet)
    return 1 if r.fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
