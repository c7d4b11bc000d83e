#!/usr/bin/python3
"""parity.py - is what hellosplit.exe sent under wine what the Linux build
writes for the same capture?  (doc/design.md, "What the same output means".)

  parity.py local IN.pcap
      prints the local addresses the fake WinDivert.dll treats as "outbound"
      sources by default (the source of the first IPv4 and of the first IPv6
      packet), comma separated, for FAKE_WINDIVERT_LOCAL.
  parity.py compare LINUX_OUT.pcap WINDOWS_OUT.pcap --local A[,B]
          [--ports LIST] [--no-exclude-loopback] [--addr WINDOWS_OUT.pcap.addr.txt]
      LINUX_OUT: `build/hellosplit --pcap-in IN --pcap-out LINUX_OUT ...`
      (the input's link type).  WINDOWS_OUT: the fake's FAKE_WINDIVERT_OUT
      (raw IP).  The Linux packets are reduced to what the Windows filter
      `outbound and !loopback and (ip or ipv6) and tcp.DstPort == PORTS and
      tcp.PayloadLength > 0` lets WinDivert divert (link layer and link
      padding stripped), then both lists must be equal byte for byte and in
      order; when only the interleaving of flows differs (timing), each
      flow's packets must be equal and in order, and the output says so.  --addr also checks every sent packet's address: outbound, the
      checksum flags set and the checksums right.
  parity.py filter IN.pcap OUT.pcap --local A[,B] [--ports LIST] [--no-exclude-loopback]
      writes the records of IN that the Windows filter diverts, unchanged
      (same link type and times): the input the Windows engine sees.  The
      Linux output for it is the second reference (see run.sh).
  parity.py half-hello IN.pcap OUT.pcap
      writes the records of IN up to and including the first payload packet
      to port 443 from a local address: for a ClientHello spanning two
      segments (Chromium), a capture whose hello stays half received.
  parity.py stats LINUX.json WINDOWS.json
      the counters both runs must agree on (not packets: Windows sees fewer).

Exit status 0 when equal, 1 with the first difference explained.
Standard library only.
"""
import ipaddress
import json
import struct
import sys


def read_pcap(path):
    """-> (linktype, [frame bytes])"""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit("%s: not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise SystemExit("%s: not a classic pcap file (magic %08x)" % (path, magic))
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(data):
        incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        frames.append((frame, incl < orig))
    return linktype, frames


def link_strip(linktype, f):
    """offset of the IP header in frame f, or None"""
    if linktype in (101, 228, 229):
        return 0
    if linktype == 0:       # BSD NULL/loopback, host order family
        return 4 if len(f) >= 4 else None
    if linktype == 108:
        return 4 if len(f) >= 4 else None
    if linktype == 1:
        off = 12
        while True:
            if len(f) < off + 2:
                return None
            proto = f[off] << 8 | f[off + 1]
            if proto not in (0x8100, 0x88A8):
                break
            off += 4
        return off + 2 if proto in (0x0800, 0x86DD) else None
    if linktype == 113:
        if len(f) < 16:
            return None
        return 16 if (f[14] << 8 | f[15]) in (0x0800, 0x86DD) else None
    if linktype == 276:
        if len(f) < 20:
            return None
        return 20 if (f[0] << 8 | f[1]) in (0x0800, 0x86DD) else None
    return None


def ip_packets(path):
    """The IP packets of a capture as the fake replays them: link layer and
    padding stripped; truncated or inconsistent records skipped."""
    linktype, frames = read_pcap(path)
    out = []
    for frame, truncated in frames:
        if truncated:
            continue
        off = link_strip(linktype, frame)
        if off is None or off >= len(frame):
            continue
        ip = ip_packets_of(frame[off:])
        if ip:
            out.append(ip)
    return out


class View:
    """What the WinDivert filter fields of a packet are (as the fake parses)."""

    def __init__(self, p):
        self.v6 = p[0] >> 4 == 6
        p = p[:40 + (p[4] << 8 | p[5])] if self.v6 else p[:p[2] << 8 | p[3]]   # no link padding
        self.tcp = False
        self.dport = self.sport = self.payload = self.seq = 0
        self.flags = 0
        if not self.v6:
            ihl = (p[0] & 15) * 4
            self.src, self.dst = ipaddress.ip_address(p[12:16]), ipaddress.ip_address(p[16:20])
            fo = p[6] << 8 | p[7]
            l4 = (fo & 0x1FFF) == 0
            proto, off = p[9], ihl
        else:
            self.src, self.dst = ipaddress.ip_address(p[8:24]), ipaddress.ip_address(p[24:40])
            nh, off, l4 = p[6], 40, True
            for _ in range(16):
                if nh in (0, 43, 60, 135):
                    if off + 8 > len(p):
                        l4 = False
                        break
                    nh, off = p[off], off + (p[off + 1] + 1) * 8
                elif nh == 51:
                    if off + 8 > len(p):
                        l4 = False
                        break
                    nh, off = p[off], off + (p[off + 1] + 2) * 4
                elif nh == 44:
                    if off + 8 > len(p):
                        l4 = False
                        break
                    if (p[off + 2] << 8 | p[off + 3]) & 0xFFF8:
                        l4 = False
                    nh, off = p[off], off + 8
                else:
                    break
            proto = nh
        self.loopback = self.src.is_loopback or self.dst.is_loopback
        if l4 and proto == 6 and off <= len(p) and len(p) - off >= 20:
            hl = (p[off + 12] >> 4) * 4
            if 20 <= hl <= len(p) - off:
                self.tcp = True
                self.sport, self.dport = struct.unpack("!HH", p[off:off + 4])
                self.seq = struct.unpack("!I", p[off + 4:off + 8])[0]
                self.flags = p[off + 13]
                self.payload = len(p) - off - hl

    def __str__(self):
        if not self.tcp:
            return "%s > %s (not TCP)" % (self.src, self.dst)
        return "%s:%d > %s:%d seq=%d flags=0x%02x payload=%d" % (
            self.src, self.sport, self.dst, self.dport, self.seq, self.flags, self.payload)


def parse_ports(text):
    ports = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return ports


def local_addresses(path):
    first4 = first6 = None
    for p in ip_packets(path):
        v = View(p)
        if v.v6 and first6 is None:
            first6 = v.src
        if not v.v6 and first4 is None:
            first4 = v.src
    return [str(a) for a in (first4, first6) if a is not None]


def diverted(p, local, ports, exclude_loopback):
    v = View(p)
    outbound = v.src in local or v.loopback
    return (outbound and not (exclude_loopback and v.loopback) and v.tcp and v.dport in ports
            and v.payload > 0)


def check_addr(path, count, want_flags):
    """Every sent address: NETWORK layer, outbound; a checksum flag set only
    over a right checksum (WinDivertSend's rule); with want_flags, set."""
    problems = []
    with open(path) as f:
        lines = [dict(kv.split("=", 1) for kv in line.split()) for line in f if line.strip()]
    if len(lines) != count:
        problems.append("%s has %d lines for %d packets" % (path, len(lines), count))
    for a in lines:
        if a.get("outbound") != "1" or a.get("layer") != "0":
            problems.append("packet %s: outbound=%s layer=%s" % (a.get("n"), a.get("outbound"), a.get("layer")))
        for flag in ("tcpcsum",) + (("ipcsum",) if a.get("ipv6") == "0" else ()):
            if (a.get(flag) == "1" and a.get(flag + "_ok") != "1") or (want_flags and a.get(flag) != "1"):
                problems.append("packet %s: %s=%s %s_ok=%s" % (a.get("n"), flag, a.get(flag), flag, a.get(flag + "_ok")))
    return problems


def options(argv, names):
    opts = dict(names)
    opts["exclude_loopback"] = True
    opts["checksum_flags"] = False
    i = 0
    while i < len(argv):
        if argv[i] == "--no-exclude-loopback":
            opts["exclude_loopback"] = False
            i += 1
        elif argv[i] == "--checksum-flags":
            opts["checksum_flags"] = True
            i += 1
        elif argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            raise SystemExit("parity.py: unknown argument %r" % argv[i])
    opts["local"] = {ipaddress.ip_address(a) for a in opts["--local"].split(",") if a}
    opts["ports"] = parse_ports(opts["--ports"])
    return opts


def filter_capture(argv):
    src, dst = argv[0], argv[1]
    o = options(argv[2:], {"--local": "", "--ports": "443"})
    with open(src, "rb") as f:
        data = f.read()
    e = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [data[:24]], 24
    while off + 16 <= len(data):
        incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
        record = data[off:off + 16 + incl]
        frame = record[16:]
        off += 16 + incl
        ip_off = link_strip(linktype, frame)
        if incl < orig or ip_off is None:
            continue
        ip = ip_packets_of(frame[ip_off:])
        if ip and diverted(ip, o["local"], o["ports"], o["exclude_loopback"]):
            out.append(record)
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return 0


def ip_packets_of(ip):
    """One captured IP packet as the fake takes it (padding cut), or None."""
    ver = ip[0] >> 4 if ip else 0
    if ver == 4 and len(ip) >= 20:
        declared = ip[2] << 8 | ip[3]
    elif ver == 6 and len(ip) >= 40:
        declared = 40 + (ip[4] << 8 | ip[5])
    else:
        return None
    return bytes(ip[:declared]) if 20 <= declared <= len(ip) else None


def compare(argv):
    linux_out, win_out = argv[0], argv[1]
    opts = options(argv[2:], {"--local": "", "--ports": "443", "--addr": None})
    local, ports, exclude_loopback = opts["local"], opts["ports"], opts["exclude_loopback"]
    want = [p for p in ip_packets(linux_out) if diverted(p, local, ports, exclude_loopback)]
    got = ip_packets(win_out)
    problems = []
    in_order = want == got
    if not in_order:
        # Each flow's packets must be equal and in order; how flows interleave
        # depends on timing, which wine reproduces only to a few ms.
        flows_want, flows_got = by_flow(want), by_flow(got)
        for key in sorted(set(flows_want) | set(flows_got), key=str):
            w_list, g_list = flows_want.get(key, []), flows_got.get(key, [])
            for k in range(max(len(w_list), len(g_list))):
                w = w_list[k] if k < len(w_list) else None
                g = g_list[k] if k < len(g_list) else None
                if w != g:
                    problems.append("flow %s, packet %d of %d/%d differs:\n  linux:   %s\n  windows: %s" % (
                        key, k + 1, len(w_list), len(g_list),
                        "%s len=%d" % (View(w), len(w)) if w else "(none)",
                        "%s len=%d" % (View(g), len(g)) if g else "(none)"))
                    break
            if problems:
                break
    if opts["--addr"]:
        problems += check_addr(opts["--addr"], len(got), opts["checksum_flags"])
    if problems:
        print("\n".join(problems))
        return 1
    print("%d packets equal%s" % (len(got), "" if in_order else
                                  " flow by flow (the flows interleave differently: timing)"))
    return 0


def by_flow(packets):
    flows = {}
    for p in packets:
        v = View(p)
        flows.setdefault("%s:%d>%s:%d" % (v.src, v.sport, v.dst, v.dport), []).append(p)
    return flows


# Counters both runs must agree on; 'packets' differs by design (Windows
# sees only payload packets to the target ports), and 'flows' too when a
# capture has flows without a diverted packet.
STATS_KEYS = ["flows_split", "segments_emitted", "resplit_retransmits", "failopen_not_tls",
              "failopen_timeout", "failopen_overflow", "failopen_held_limit", "failopen_table_full",
              "failopen_error", "pass_hostlist"]


def stats(argv):
    a, b = (json.load(open(p)) for p in argv[:2])
    diff = ["%s: linux %s, windows %s" % (k, a.get(k), b.get(k)) for k in STATS_KEYS if a.get(k) != b.get(k)]
    if diff:
        print("counters differ: " + "; ".join(diff))
        return 1
    print("counters equal: " + " ".join("%s=%s" % (k, a[k]) for k in STATS_KEYS if a[k]))
    return 0


def half_hello(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    e = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    local = {ipaddress.ip_address(a) for a in local_addresses(src)}
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip_off = link_strip(linktype, frame)
        if ip_off is not None and len(frame) - ip_off >= 20:
            v = View(frame[ip_off:])
            if v.tcp and v.src in local and v.dport == 443 and v.payload > 0:
                break
    with open(dst, "wb") as f:
        f.write(data[:off])
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "local":
        print(",".join(local_addresses(sys.argv[2])))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2:])
    if len(sys.argv) >= 4 and sys.argv[1] == "filter":
        return filter_capture(sys.argv[2:])
    if len(sys.argv) == 4 and sys.argv[1] == "half-hello":
        return half_hello(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "stats":
        return stats(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
