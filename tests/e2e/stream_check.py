#!/usr/bin/python3
"""What one client->server TCP stream of a capture looked like on the wire:
segments in arrival order, the stream reassembled FIRST COPY WINS (the
first segment that carried a byte defines it, as a receiver that keeps what
it got first would), timings.  Debian /usr/bin/python3, stdlib only (reads
classic pcap: Ethernet, Linux cooked v1, raw IP).

    stream_check.py FILE.pcap [--port 443] [--conn N | --sport P]
                    [--hello FILE] [--pattern TEXT] [--time-of OFF]
                    [--client-bytes FILE]

The stream is the N-th connection (default 0) to --port, or the first one
from source port P.  Connections are told apart by the client's SYNs: a SYN
with a new initial sequence number on a known address and port starts a new
connection (a reused 4-tuple); a port seen without any SYN is one
connection.
Output, one "key=value" a line:
  conns         client connections to --port in the capture
  sport         source port of the chosen stream
  segs          client segments with payload (retransmissions included)
  layout        off+len of the first 60 segments in arrival order
  first_len     payload length of the first payload segment
  max_seg       largest payload of one segment
  in_order      1 when no segment started beyond the bytes received so far
                (no byte arrived before an earlier one), else 0
  first_gap_at  index of the first segment that did (-1: none)
  stream_len    contiguous bytes from offset 0 (first copy)
  retrans       segments carrying only bytes already received
  overlap_diff  bytes that a later segment carried DIFFERENTLY from the
                first copy (0 for an honest stream)
  window        TLS record length + 5 when the stream starts with 0x16, else 0
  hello_segs    segments (first transmissions) carrying window bytes
  hello_equal   1 when the first-copy stream starts with the --hello bytes
  hello_diff_at first differing offset (-1: none)
  client_equal  1 when the first-copy stream equals --client-bytes exactly
  pattern_segs  segments whose payload contains --pattern
  t_first_ms    first payload segment, ms after the client's handshake ACK
  t_last_ms     last payload segment, ms after the handshake ACK
  t_of_ms       first arrival of a segment carrying byte --time-of, ms
                after the handshake ACK (-1: never)
  s2c_bytes     payload bytes the server sent on this connection
  s2c_rst       1 when the server sent a reset
"""

import argparse
import socket
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            sys.exit("stream_check: %s is not a classic pcap" % path)
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            ts, frac, incl, _ = struct.unpack(end + "IIII", rec)
            data = f.read(incl)
            t = ts + frac / (1e9 if nano else 1e6)
            if linktype == 1:
                if len(data) < 14:
                    continue
                etype, off = struct.unpack("!H", data[12:14])[0], 14
                while etype == 0x8100 and len(data) >= off + 4:
                    etype, off = struct.unpack("!H", data[off + 2:off + 4])[0], off + 4
                ip = data[off:]
            elif linktype == 113:
                etype, ip = struct.unpack("!H", data[14:16])[0], data[16:]
            elif linktype in (101, 12, 228, 229):
                ip = data
                etype = 0x0800 if ip and ip[0] >> 4 == 4 else 0x86DD
            else:
                sys.exit("stream_check: link type %d not supported" % linktype)
            yield t, etype, ip


def tcp_segments(path):
    for t, etype, ip in packets(path):
        if etype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            src, dst, tcp = socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20]), ip[ihl:total]
        elif etype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
            plen = struct.unpack("!H", ip[4:6])[0]
            src, dst, tcp = socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
        yield t, src, dst, sport, dport, seq, ack, flags, tcp[(off >> 4) * 4:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--conn", type=int, default=0)
    ap.add_argument("--sport", type=int, default=0)
    ap.add_argument("--hello", default=None)
    ap.add_argument("--client-bytes", default=None)
    ap.add_argument("--pattern", default=None)
    ap.add_argument("--time-of", type=int, default=-1)
    args = ap.parse_args()

    segs = list(tcp_segments(args.pcap))
    # Connections: (src, sport, isn or None) in order of appearance; every
    # segment is tagged with the connection current for its address and port.
    conns, current, tags = [], {}, []
    for t, src, dst, sport, dport, seq, ack, flags, pl in segs:
        tag = None
        if dport == args.port:
            key = (src, sport)
            if flags & 0x02 and not flags & 0x10:
                cur = current.get(key)
                if cur is None or conns[cur][2] != seq:
                    conns.append((src, sport, seq))
                    current[key] = len(conns) - 1
            elif key not in current:
                conns.append((src, sport, None))
                current[key] = len(conns) - 1
            tag = current[key]
        elif sport == args.port and (dst, dport) in current:
            tag = current[(dst, dport)]
        tags.append(tag)
    out = {"conns": len(conns)}
    if args.sport:
        pick = [i for i, c in enumerate(conns) if c[1] == args.sport][:1]
    else:
        pick = [args.conn] if 0 <= args.conn < len(conns) else []
    if not pick:
        out["sport"] = -1
        for k, v in out.items():
            print("%s=%s" % (k, v))
        return 1
    cid = pick[0]
    csrc, cport = conns[cid][0], conns[cid][1]
    out["sport"] = cport
    base = None
    t_ack = None
    syn_seen = False
    received = {}       # offset -> byte (first copy)
    contig = 0
    rows = []
    in_order, first_gap, retrans, overlap_diff, max_seg = 1, -1, 0, 0, 0
    pattern = args.pattern.encode() if args.pattern else None
    pattern_segs = 0
    s2c_bytes, s2c_rst = 0, 0
    t_of = None
    for (t, src, dst, sport, dport, seq, ack, flags, pl), tag in zip(segs, tags):
        if tag != cid:
            continue
        if src == csrc and sport == cport and dport == args.port:
            if flags & 0x02:
                base = (seq + 1) & 0xFFFFFFFF
                syn_seen = True
                continue
            if base is None:
                base = seq
            if t_ack is None and not pl and flags & 0x10:
                t_ack = t
            if not pl:
                continue
            if t_ack is None:
                t_ack = t
            o = (seq - base) & 0xFFFFFFFF
            n = len(pl)
            max_seg = max(max_seg, n)
            if pattern and pattern in pl:
                pattern_segs += 1
            if o > contig:
                if in_order:
                    first_gap = len(rows)
                in_order = 0
            new = 0
            for i in range(n):
                b = received.get(o + i)
                if b is None:
                    received[o + i] = pl[i]
                    new += 1
                elif b != pl[i]:
                    overlap_diff += 1
            if not new:
                retrans += 1
            while contig in received:
                contig += 1
            if t_of is None and args.time_of >= 0 and o <= args.time_of < o + n:
                t_of = t
            rows.append((t, o, n, new))
        elif dst == csrc and dport == cport and sport == args.port:
            s2c_bytes += len(pl)
            if flags & 0x04:
                s2c_rst = 1
    stream = bytes(received.get(i, 0) for i in range(contig))
    out["segs"] = len(rows)
    out["layout"] = " ".join("%d+%d" % (o, n) for _, o, n, _ in rows[:60]) + (" ..." if len(rows) > 60 else "")
    out["first_len"] = rows[0][2] if rows else 0
    out["max_seg"] = max_seg
    out["in_order"] = in_order
    out["first_gap_at"] = first_gap
    out["stream_len"] = contig
    out["retrans"] = retrans
    out["overlap_diff"] = overlap_diff
    window = 0
    if len(stream) >= 5 and stream[0] == 0x16:
        window = 5 + struct.unpack("!H", stream[3:5])[0]
    out["window"] = window
    out["hello_segs"] = sum(1 for _, o, n, new in rows if new and o < window)
    if args.hello:
        with open(args.hello, "rb") as f:
            hello = f.read()
        diff = next((i for i in range(min(len(hello), len(stream))) if hello[i] != stream[i]), -1)
        if diff < 0 and len(stream) < len(hello):
            diff = len(stream)
        out["hello_equal"] = 1 if diff < 0 else 0
        out["hello_diff_at"] = diff
    if args.client_bytes:
        with open(args.client_bytes, "rb") as f:
            want = f.read()
        out["client_equal"] = 1 if stream == want else 0
    out["pattern_segs"] = pattern_segs
    ref = t_ack if t_ack is not None else (rows[0][0] if rows else 0)
    out["t_first_ms"] = "%.1f" % ((rows[0][0] - ref) * 1000) if rows else -1
    out["t_last_ms"] = "%.1f" % ((rows[-1][0] - ref) * 1000) if rows else -1
    out["t_of_ms"] = "%.1f" % ((t_of - ref) * 1000) if t_of is not None else -1
    out["s2c_bytes"] = s2c_bytes
    out["s2c_rst"] = s2c_rst
    out["syn_seen"] = 1 if syn_seen else 0
    for k, v in out.items():
        print("%s=%s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
