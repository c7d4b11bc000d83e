#!/usr/bin/python3
"""Check how the ClientHello of EVERY TLS connection in a capture was cut into
TCP segments (hello_layout.py shows one stream in detail; this one asserts
over all of them).  Debian /usr/bin/python3 + tshark.

    hello_segments.py FILE.pcap [--port 443] [--name NAME] [--first SPEC] [--cut-at SPEC]
                      [--segments N] [--max-payload N] [--some-over N] [--name-cut]
                      [--name-whole] [--checksums] [--partial-ok] [--no-partial] [--streams N]

For each TCP stream to --port whose client byte stream starts with a TLS
handshake record, the "window" is the first TLS record (5 + record length,
hellosplit's default --tls-complete record).  The "hello segments" are the
client segments, first transmissions in sequence order, that carry window
bytes.  One line per stream:

    stream 3 198.18.1.2:40702 -> 198.18.2.2:443 window=517 sni=153..171
        segs=5+512 retrans=0 csum_bad=0 csum_partial=0 hello_csum_not_ok=0
        max_payload=512 sni_whole_in=2

Checks (each failing stream prints "CHECK FAILED: ..."; exit 1):
  --first SPEC     the first hello segment has exactly SPEC bytes; SPEC is
                   N, or sni|sniend|midsld with an optional +N/-N, resolved
                   against this stream's hostname like hellosplit's
                   --split-at (midsld: middle of the label before the last)
  --cut-at SPEC    (same SPEC) some hello segment ends exactly there: the
                   cut exists even when the first segment had to be smaller
                   (a position beyond the MSS: the segment before it is cut
                   at the MSS too)
  --segments N     exactly N hello segments
  --max-payload N  no client segment of the stream has more payload than N
  --some-over N    some hello segment has more than N payload bytes (a GSO
                   super-packet seen on the sending host)
  --name-cut       no single client segment holds the whole hostname
  --name-whole     one client segment holds the whole hostname (the unsplit
                   control: proves --name-cut can fail)
  --checksums      every hello segment has a valid TCP (and, IPv4, header)
                   checksum, and every other client frame a valid one or an
                   offload-partial one (tx checksum offload on a veth: the
                   field holds only the pseudo-header sum the NIC would
                   complete; counted as "partial", not as "bad")
  --partial-ok     with --checksums: a hello segment may be offload-partial
                   too (the tc engine keeps the kernel's offload state, so
                   with tx checksum offload on its pieces leave for the NIC
                   to complete); a partial sum covers the pseudo-header with
                   the piece's length, so a wrong length still counts as bad
  --no-partial     no client frame has an offload-partial checksum (offloads
                   off: every frame must carry its final checksum)
  --name NAME      the SNI hostname is NAME
  --streams N      at least N such streams in the capture
Stream filters (the others are ignored): --only-name NAME (SNI is NAME),
  --min-window N / --max-window N (first record of at least / at most N
  bytes).
"""

import argparse
import re
import socket
import struct
import subprocess
import sys

FIELDS = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
          "tcp.len", "tcp.hdr_len", "tcp.checksum", "tcp.checksum.status", "ip.checksum.status", "ip.src", "ipv6.src",
          "ip.dst", "ipv6.dst", "tcp.payload"]


def rows_of(pcap):
    cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=f"] + sum((["-e", f] for f in FIELDS), [])
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if res.returncode != 0:
        sys.exit("tshark failed: %s" % res.stderr.strip())
    rows = []
    for line in res.stdout.splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        r = dict(zip(FIELDS, v))
        if not r["tcp.stream"]:
            continue
        for k in ("frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.len",
                  "tcp.hdr_len"):
            r[k] = int(r[k] or 0)
        r["src"] = r["ip.src"] or r["ipv6.src"]
        r["dst"] = r["ip.dst"] or r["ipv6.dst"]
        r["v4"] = bool(r["ip.src"])
        r["payload"] = bytes.fromhex(r["tcp.payload"].replace(":", ""))
        rows.append(r)
    return rows


def csum_class(r):
    """'ok', 'partial' (pseudo-header sum only: offloaded) or 'bad'."""
    if r["v4"] and r["ip.checksum.status"] != "1":
        return "bad"
    if r["tcp.checksum.status"] == "1":
        return "ok"
    fam = socket.AF_INET if r["v4"] else socket.AF_INET6
    src, dst = socket.inet_pton(fam, r["src"]), socket.inet_pton(fam, r["dst"])
    tcp_len = r["tcp.hdr_len"] + r["tcp.len"]
    if r["v4"]:
        pseudo = src + dst + struct.pack(">BBH", 0, 6, tcp_len)
    else:
        pseudo = src + dst + struct.pack(">IxxxB", tcp_len, 6)
    total = sum(struct.unpack(">%dH" % (len(pseudo) // 2), pseudo))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return "partial" if int(r["tcp.checksum"], 16) == total else "bad"


def sni_in_record(rec):
    """(name, offset of the name in the record) of a one-record ClientHello."""
    try:
        if rec[0] != 0x16 or rec[5] != 1:
            return None, None
        p = 5 + 4 + 2 + 32
        p += 1 + rec[p]
        p += 2 + struct.unpack(">H", rec[p:p + 2])[0]
        p += 1 + rec[p]
        end = p + 2 + struct.unpack(">H", rec[p:p + 2])[0]
        p += 2
        while p + 4 <= end:
            etype, elen = struct.unpack(">HH", rec[p:p + 4])
            if etype == 0 and rec[p + 6] == 0:
                nlen = struct.unpack(">H", rec[p + 7:p + 9])[0]
                return rec[p + 9:p + 9 + nlen].decode("ascii", "replace"), p + 9
            p += 4 + elen
    except (IndexError, struct.error):
        pass
    return None, None


def resolve(spec, name, off):
    """Stream offset of a --split-at style position for this hostname."""
    m = re.fullmatch(r"(\d+|sni|sniend|midsld)([+-]\d+)?", spec)
    if not m:
        sys.exit("bad --first %r" % spec)
    base, delta = m.group(1), int(m.group(2) or 0)
    if base.isdigit():
        return int(base) + delta
    if name is None:
        return None
    if base == "sni":
        return off + delta
    if base == "sniend":
        return off + len(name) + delta
    labels = name.split(".")
    if len(labels) == 1:
        return off + len(name) // 2 + delta
    start = off + sum(len(l) + 1 for l in labels[:-2])
    return start + len(labels[-2]) // 2 + delta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--name")
    ap.add_argument("--first")
    ap.add_argument("--cut-at")
    ap.add_argument("--segments", type=int)
    ap.add_argument("--max-payload", type=int)
    ap.add_argument("--some-over", type=int)
    ap.add_argument("--name-cut", action="store_true")
    ap.add_argument("--name-whole", action="store_true")
    ap.add_argument("--checksums", action="store_true")
    ap.add_argument("--partial-ok", action="store_true")
    ap.add_argument("--no-partial", action="store_true")
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--only-name")
    ap.add_argument("--min-window", type=int, default=0)
    ap.add_argument("--max-window", type=int, default=1 << 20)
    args = ap.parse_args()

    rows = [r for r in rows_of(args.pcap) if r["tcp.dstport"] == args.port]
    failed = []
    nstreams = 0
    for stream in sorted({r["tcp.stream"] for r in rows}):
        frames = [r for r in rows if r["tcp.stream"] == stream]
        data_frames = [r for r in frames if r["payload"]]
        if not data_frames:
            continue
        base = data_frames[0]["tcp.seq_raw"]
        segs, data, nxt, retrans = [], b"", 0, 0
        for r in data_frames:
            off = (r["tcp.seq_raw"] - base) & 0xffffffff
            if off != nxt:
                retrans += 1         # retransmission (or reordering): not a new segment
                continue
            segs.append((off, off + len(r["payload"])))
            data += r["payload"]
            nxt += len(r["payload"])
        if len(data) < 5 or data[0] != 0x16:
            continue
        window = 5 + struct.unpack(">H", data[3:5])[0]
        name, noff = sni_in_record(data[:window])
        if window < args.min_window or window > args.max_window or (args.only_name and name != args.only_name):
            continue
        nstreams += 1
        hello = [(a, b) for a, b in segs if a < window]
        classes = [csum_class(r) for r in frames]
        bad, partial = classes.count("bad"), classes.count("partial")
        hello_bad = 0
        for r in data_frames:
            off = (r["tcp.seq_raw"] - base) & 0xffffffff
            if off < window and csum_class(r) not in (("ok", "partial") if args.partial_ok else ("ok",)):
                hello_bad += 1
        maxpay = max(len(r["payload"]) for r in data_frames)
        whole_in = [i + 1 for i, (a, b) in enumerate(segs) if name and a <= noff and b >= noff + len(name)]
        f0 = data_frames[0]
        sizes = "+".join(str(min(b, window) - a) for a, b in hello)
        print("stream %d %s:%d -> %s:%d window=%d sni=%s segs=%s%s retrans=%d csum_bad=%d csum_partial=%d hello_csum_not_ok=%d max_payload=%d "
              "sni_whole_in=%s" % (
                  stream, f0["src"], f0["tcp.srcport"], f0["dst"], f0["tcp.dstport"], window,
                  "%d..%d" % (noff, noff + len(name) - 1) if name else "-", sizes,
                  "" if hello[-1][1] <= window else "(+%d beyond)" % (hello[-1][1] - window),
                  retrans, bad, partial, hello_bad, maxpay, ",".join(map(str, whole_in)) or "none"))

        def check(ok, what):
            if not ok:
                failed.append("stream %d: %s" % (stream, what))

        check(len(data) >= window, "the whole first record reached the server (%d of %d bytes)" % (len(data), window))
        if args.name:
            check(name == args.name, "SNI is %s (got %s)" % (args.name, name))
        if args.first:
            want = resolve(args.first, name, noff)
            check(want is not None and hello[0][1] - hello[0][0] == want,
                  "first hello segment has %s bytes (= %s), got %d" % (want, args.first, hello[0][1] - hello[0][0]))
        if args.cut_at:
            want = resolve(args.cut_at, name, noff)
            check(want is not None and any(b == want for a, b in hello),
                  "a hello segment ends at %s (= %s)" % (want, args.cut_at))
        if args.segments is not None:
            check(len(hello) == args.segments, "%d hello segments, got %d" % (args.segments, len(hello)))
        if args.max_payload is not None:
            check(maxpay <= args.max_payload, "no segment over %d payload bytes, got %d" % (args.max_payload, maxpay))
        if args.some_over is not None:
            check(any(b - a > args.some_over for a, b in hello),
                  "a hello segment over %d payload bytes" % args.some_over)
        if args.name_cut:
            check(name is not None and not whole_in, "no segment holds the whole hostname (segment %s does)" % whole_in)
        if args.name_whole:
            check(name is not None and bool(whole_in), "one segment holds the whole hostname")
        if args.checksums:
            check(hello_bad == 0, "every hello segment (incl. retransmissions) has a valid checksum (%d not)" % hello_bad)
            check(bad == 0, "no client frame has a wrong checksum (%d bad)" % bad)
        if args.no_partial:
            check(partial == 0, "no client frame has an offload-partial checksum (%d)" % partial)
    if nstreams < args.streams:
        failed.append("at least %d TLS streams to port %d, found %d" % (args.streams, args.port, nstreams))
    for what in failed:
        print("CHECK FAILED: " + what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
