#!/usr/bin/python3
"""Show how the first TLS ClientHello of a capture is laid out in TCP segments.

    hello_layout.py FILE.pcap [--name NAME] [--min-segments N] [--max-segments N]
                              [--stream N] [--port 443] [--summary]

Reads the capture with tshark (fields only, no TLS reassembly needed): takes
the client->server payload of one TCP stream (default: the stream of the
first payload packet sent to --port) in sequence order, walks the TLS
records from byte 0 and collects the handshake bytes until the whole
ClientHello message is there (it may span several TCP segments and several
TLS records).  Prints the record/segment layout, where the SNI hostname lies
in the client byte stream, which segments carry it, checksum status and the
largest frame.

Checks (exit 1 when one fails, with "CHECK FAILED" lines):
  * the first client payload byte pair is 0x16 0x03 (TLS handshake record),
  * the handshake message is a ClientHello (type 1) and complete,
  * --name: our own parse of the server_name extension and tshark's
    dissection (tls.handshake.extensions_server_name) both equal NAME,
  * --min-segments / --max-segments: number of TCP segments that carry
    ClientHello bytes.
--summary adds tshark's one-line summary of every frame.
Run with Debian's /usr/bin/python3; needs tshark.
"""

import argparse
import struct
import subprocess
import sys

FIELDS = ["frame.number", "frame.len", "tcp.stream", "tcp.srcport",
          "tcp.dstport", "tcp.seq", "tcp.len", "tcp.checksum.status",
          "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.payload"]


def tshark(pcap, *args):
    cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.check_checksum:TRUE"] + list(args)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True)
    if res.returncode != 0:
        sys.exit("tshark failed: %s" % res.stderr.strip())
    return res.stdout


def pcap_header(pcap):
    with open(pcap, "rb") as f:
        head = f.read(24)
    if len(head) < 24:
        return "not a capture file"
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    else:
        return "unknown format"
    snaplen, linktype = struct.unpack(endian + "II", head[16:24])
    names = {1: "Ethernet", 113: "Linux cooked (SLL)", 276: "Linux cooked v2 (SLL2)"}
    return "classic pcap, snaplen %d, link type %d (%s)" % (
        snaplen, linktype, names.get(linktype, "?"))


def rows_of(pcap):
    out = tshark(pcap, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f",
                 *sum((["-e", f] for f in FIELDS), []))
    rows = []
    for line in out.splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        r = dict(zip(FIELDS, v))
        if not r["tcp.stream"]:
            continue
        for k in ("frame.number", "frame.len", "tcp.stream", "tcp.srcport",
                  "tcp.dstport", "tcp.seq", "tcp.len"):
            r[k] = int(r[k] or 0)
        r["src"] = r["ip.src"] or r["ipv6.src"]
        r["dst"] = r["ip.dst"] or r["ipv6.dst"]
        r["payload"] = bytes.fromhex(r["tcp.payload"].replace(":", ""))
        rows.append(r)
    return rows


def client_stream(rows, stream):
    """(segments, stream bytes): in-order client payload, retransmissions skipped."""
    segs, data, nxt = [], b"", None
    for r in rows:
        if r["tcp.stream"] != stream or not r["payload"]:
            continue
        if nxt is None:
            nxt = r["tcp.seq"]
        if r["tcp.seq"] != nxt:  # retransmission or out of order: ignore
            continue
        segs.append((r, len(data), len(data) + len(r["payload"])))
        data += r["payload"]
        nxt += len(r["payload"])
    return segs, data


def parse_hello(data):
    """Walk TLS records; return (records, handshake bytes, map hs-offset->stream-offset)."""
    records, hs, pos_map, off = [], b"", [], 0
    need = None
    while off + 5 <= len(data):
        ctype, ver, ln = data[off], data[off + 1:off + 3], struct.unpack(">H", data[off + 3:off + 5])[0]
        if ctype != 0x16:
            break
        body = data[off + 5:off + 5 + ln]
        records.append((off, ln, ver))
        for i in range(len(body)):
            pos_map.append(off + 5 + i)
        hs += body
        off += 5 + ln
        if need is None and len(hs) >= 4:
            need = 4 + int.from_bytes(hs[1:4], "big")
        if need is not None and len(hs) >= need:
            break
    return records, hs[:need] if need else hs, need, pos_map


def sni_of(hs):
    """(name, offset of the name within the handshake message) or (None, None)."""
    try:
        p = 4 + 2 + 32
        p += 1 + hs[p]                                        # session id
        p += 2 + struct.unpack(">H", hs[p:p + 2])[0]          # cipher suites
        p += 1 + hs[p]                                        # compression
        end = p + 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 2
        while p + 4 <= end:
            etype, elen = struct.unpack(">HH", hs[p:p + 4])
            if etype == 0:
                q = p + 4 + 2                                 # list length
                if hs[q] == 0:
                    nlen = struct.unpack(">H", hs[q + 1:q + 3])[0]
                    return hs[q + 3:q + 3 + nlen].decode("ascii", "replace"), q + 3
            p += 4 + elen
    except (IndexError, struct.error):
        pass
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--name")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--stream", type=int, default=None)
    ap.add_argument("--min-segments", type=int, default=None)
    ap.add_argument("--max-segments", type=int, default=None)
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()

    failed = []

    def check(ok, what):
        if not ok:
            failed.append(what)

    rows = rows_of(args.pcap)
    to_srv = [r for r in rows if r["tcp.dstport"] == args.port]
    first = next((r for r in to_srv if r["payload"]), None)
    out = ["file: %s (%s, %d frames)" % (args.pcap.rsplit("/", 1)[-1], pcap_header(args.pcap), len(rows))]
    if first is None:
        print("\n".join(out))
        print("CHECK FAILED: no client payload to port %d" % args.port)
        return 1
    stream = args.stream if args.stream is not None else first["tcp.stream"]
    mine = [r for r in to_srv if r["tcp.stream"] == stream]
    segs, data = client_stream(mine, stream)
    f0 = segs[0][0]
    out.append("stream %d: %s:%d -> %s:%d" % (stream, f0["src"], f0["tcp.srcport"], f0["dst"], f0["tcp.dstport"]))
    out.append("first client payload bytes: %s" % data[:5].hex(" "))
    check(data[:2] == b"\x16\x03", "first client payload starts with 16 03")

    records, hs, need, pos_map = parse_hello(data)
    complete = need is not None and len(hs) == need
    check(complete, "complete handshake message in the client stream")
    check(hs[:1] == b"\x01", "handshake type 1 (ClientHello)")
    hello_end = pos_map[len(hs) - 1] + 1 if hs else 0
    out.append("ClientHello: handshake message %d bytes (4 + %d), %d TLS record(s) [%s], "
               "%d bytes of client stream incl. record headers" % (
                   len(hs), len(hs) - 4, len(records),
                   ", ".join("%d" % (ln + 5) for _, ln, _ in records), hello_end))

    name, noff = sni_of(hs) if complete else (None, None)
    sni_lo = sni_hi = None
    if name is not None:
        sni_lo, sni_hi = pos_map[noff], pos_map[noff + len(name) - 1]
        contiguous = sni_hi - sni_lo == len(name) - 1
        out.append("SNI: %s at client stream bytes %d..%d%s" % (
            name, sni_lo, sni_hi, "" if contiguous else " (cut by a record header)"))
    else:
        out.append("SNI: none found")
    ts_names = sorted(set(filter(None, tshark(
        args.pcap, "-Y", "tls.handshake.type == 1 && tcp.stream == %d" % stream,
        "-T", "fields", "-e", "tls.handshake.extensions_server_name").split())))
    out.append("tshark tls.handshake.extensions_server_name: %s" % (", ".join(ts_names) or "-"))
    if args.name:
        check(name == args.name, "own SNI parse == %s (got %s)" % (args.name, name))
        check(ts_names == [args.name], "tshark SNI == %s (got %s)" % (args.name, ts_names))

    out.append("client segments carrying the ClientHello:")
    nseg = 0
    for r, lo, hi in segs:
        if lo >= hello_end:
            break
        nseg += 1
        notes = []
        if sni_lo is not None and lo <= sni_hi and hi > sni_lo:
            notes.append("whole SNI" if lo <= sni_lo and hi > sni_hi else "part of SNI")
        if any(lo <= roff < hi for roff, _, _ in records):
            notes.append("record header at " + ",".join(str(roff) for roff, _, _ in records if lo <= roff < hi))
        cs = {"0": "BAD checksum", "1": "checksum ok", "2": "checksum unverified"}.get(r["tcp.checksum.status"], "")
        out.append("  frame %d: %d-byte frame, TCP payload %d = stream bytes %d..%d; %s%s" % (
            r["frame.number"], r["frame.len"], hi - lo, lo, hi - 1, cs,
            ("; " + "; ".join(notes)) if notes else ""))
    out.append("ClientHello spans %d TCP segment(s)" % nseg)
    if args.min_segments is not None:
        check(nseg >= args.min_segments, "at least %d segments (got %d)" % (args.min_segments, nseg))
    if args.max_segments is not None:
        check(nseg <= args.max_segments, "at most %d segments (got %d)" % (args.max_segments, nseg))

    client_all = [r for r in rows if r["tcp.stream"] == stream and r["tcp.dstport"] == args.port]
    bad = sum(1 for r in client_all if r["tcp.checksum.status"] == "0")
    out.append("client frames with a bad TCP checksum: %d of %d" % (bad, len(client_all)))
    out.append("largest frame: %d bytes" % max(r["frame.len"] for r in rows))
    print("\n".join(out))
    if args.summary:
        print("tshark summary:")
        sys.stdout.write(tshark(args.pcap))
    for what in failed:
        print("CHECK FAILED: " + what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
