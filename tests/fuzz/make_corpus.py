#!/usr/bin/python3
"""Writes the seed inputs of the fuzz harnesses into tests/fuzz/corpus/<harness>/
from the real client captures (tests/captures/*.pcap) and the unit-test vectors
(tests/unit/vectors.h). Seeds are named seed-*; regression inputs (regress-*)
and inputs the fuzzers found are left alone. Standard library only.

Run: /usr/bin/python3 tests/fuzz/make_corpus.py   (from the repository root)
"""
import glob
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def read_pcap(path):
    """IP packets (link layer stripped) of a classic pcap file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off, packets = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:                      # Ethernet, maybe VLAN tagged
            eth_type, at = struct.unpack(">H", frame[12:14])[0], 14
            while eth_type in (0x8100, 0x88A8) and len(frame) >= at + 4:
                eth_type, at = struct.unpack(">H", frame[at + 2:at + 4])[0], at + 4
            if eth_type not in (0x0800, 0x86DD):
                continue
            ip = frame[at:]
        elif linktype == 113:                  # Linux cooked
            ip = frame[16:]
        elif linktype == 276:                  # Linux cooked v2
            ip = frame[20:]
        elif linktype in (12, 101, 228, 229):  # raw IP
            ip = frame
        else:
            raise SystemExit("%s: link type %d not handled" % (path, linktype))
        packets.append(ip)
    return packets


def tcp_view(ip):
    """(sport, dport, seq, flags, payload) of an IPv4/IPv6 TCP packet, or None."""
    if len(ip) >= 20 and ip[0] >> 4 == 4 and ip[9] == 6:
        hl, total = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
    elif len(ip) >= 40 and ip[0] >> 4 == 6 and ip[6] == 6:
        hl, total = 40, 40 + struct.unpack(">H", ip[4:6])[0]
    else:
        return None
    tcp = ip[hl:total]
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return sport, dport, seq, tcp[13], tcp[doff:]


def client_stream(packets):
    """The client's TCP byte stream (to port 443), first copy of each byte wins."""
    base, stream = None, {}
    for ip in packets:
        v = tcp_view(ip)
        if not v or v[1] != 443 or v[3] & 0x02:
            continue
        if not v[4]:
            continue
        if base is None:
            base = v[2]
        rel = (v[2] - base) & 0xFFFFFFFF
        for i, b in enumerate(v[4]):
            stream.setdefault(rel + i, b)
    out = bytearray()
    while len(out) in stream:
        out.append(stream[len(out)])
    return bytes(out)


def sni_of(hello):
    """(offset, length) of the host name in a one-record ClientHello, or (0, 0)."""
    try:
        at = 5 + 4 + 2 + 32
        at += 1 + hello[at]
        at += 2 + struct.unpack(">H", hello[at:at + 2])[0]
        at += 1 + hello[at]
        end = at + 2 + struct.unpack(">H", hello[at:at + 2])[0]
        at += 2
        while at + 4 <= end:
            etype, elen = struct.unpack(">HH", hello[at:at + 4])
            if etype == 0:
                return at + 4 + 5, struct.unpack(">H", hello[at + 7:at + 9])[0]
            at += 4 + elen
    except (IndexError, struct.error):
        pass
    return 0, 0


def vectors():
    """name -> bytes of every array in tests/unit/vectors.h."""
    text = open(os.path.join(ROOT, "tests", "unit", "vectors.h")).read()
    out = {}
    for name, body in re.findall(r"unsigned char (\w+)\[\d*\] = \{([^}]*)\}", text):
        out[name] = bytes(int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]{2}", body))
    return out


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz_engine input encoding (see tests/fuzz/fuzz_engine.c)

def engine_header(c0=0, c1=127, c2=255, c3=104, c4=0, c5=0, flows=None):
    """c1=127: 4 flows, 32 held packets, 250 ms; c2=255: 32 MB, 64 KB buffer, 120 s
    idle; c3=104: default MSS, packet cap 20, clock from 1 s; c4: --split-at table."""
    head = bytes([c0, c1, c2, c3, c4, c5])
    for b in (flows or [0, 0, 0, 0]):
        head += bytes([b]) + struct.pack(">I", 0x1000 + 7777 * b) + b"\x09"
    return head


def op_raw(ip):
    return b"\x06" + struct.pack(">H", len(ip)) + ip


def op_time(step_index):
    return bytes([4, step_index])


def op_packet(flow, shape, p_off, p_len, flags, extra=None, mutate=None):
    out = bytes([flow << 3 | shape << 5]) + struct.pack(">HHB", p_off, p_len, flags | (0x80 if extra is not None else 0))
    if shape & 4:
        out += struct.pack(">HBB", *mutate)
    if extra is not None:
        out += bytes([extra])
    return out


def op_data(flow, blob):
    return bytes([7 | flow << 3]) + struct.pack(">H", len(blob)) + blob


def main():
    vec = vectors()
    captures = sorted(glob.glob(os.path.join(ROOT, "tests", "captures", "*.pcap")))
    if not captures:
        sys.exit("no captures in tests/captures")
    hellos = {}
    for path in captures:
        name = os.path.basename(path)[:-5]
        packets = read_pcap(path)
        stream = client_stream(packets)
        hello_len = 5 + struct.unpack(">H", stream[3:5])[0] if len(stream) >= 5 else len(stream)
        hellos[name] = stream[:hello_len]
        # packet: every IP packet, and the hello packets with build parameters
        for i, ip in enumerate(packets):
            write("packet", "%s-%02d" % (name, i), ip)
            v = tcp_view(ip)
            if v and v[4]:
                params = struct.pack(">IHBHB", v[2] + 5, 300, 0x18, 4242, 2)
                write("packet", "%s-%02d-build" % (name, i), ip + params + v[4][:300])
        # tls: the client stream, the hello alone
        write("tls", name + "-stream", stream[:4096])
        write("tls", name + "-hello", hellos[name])
        # split: specs over the hello, with its host name
        off, n = sni_of(hellos[name])
        for k, spec in enumerate(["5", "sni", "midsld", "1,sni+1,sniend-1", "sni-2,midsld+1,5,600"]):
            params = struct.pack(">BHHHB", 0, len(hellos[name]), off, n, 40)
            write("split", "%s-%d" % (name, k), spec.encode() + b"\n" + params + hellos[name])
        # engine: the capture replayed packet by packet, in several configurations
        replay = b"".join(op_raw(ip) + op_time(1) for ip in packets)
        configs = {"record": {}, "sni": {"c4": 2}, "midsld": {"c4": 4}, "handshake": {"c0": 1},
                   "immediate": {"c0": 14}, "observe": {"c0": 0xF0}, "hostlist": {"c0": 0x10},
                   "smallmss": {"c3": 104 | 2}, "tight": {"c1": 0, "c2": 1 | 1 << 3}}
        for cname, kw in configs.items():
            write("engine", "%s-%s" % (name, cname), engine_header(**kw) + replay + op_time(7))
    # tls and split: the unit-test hellos
    for vname in ("hello_blocked", "hello_alpn", "hello_nosni", "hello_two_records"):
        write("tls", vname, vec[vname])
        off, n = sni_of(vec[vname])
        write("split", vname, b"sniend,midsld-1\n" + struct.pack(">BHHHB", 0, len(vec[vname]), off, n, 7) + vec[vname])
    # handshake mode: the hello re-cut into records of 8 bytes (64 records, the most
    # the inspector takes) and of 7 bytes (74: not a real client)
    body = vec["hello_blocked"][5:]
    for size in (8, 7):
        recs = b"".join(b"\x16\x03\x01" + struct.pack(">H", len(body[i:i + size])) + body[i:i + size]
                        for i in range(0, len(body), size))
        write("tls", "records-of-%d" % size, recs)
    write("split", "immediate", b"3,7,sni\n" + struct.pack(">BHHHB", 0x31, 1400, 0, 0, 3))
    for vname in ("packet_v4_hello", "packet_v6_hello", "packet_v4_odd"):
        write("packet", vname, vec[vname])
    # engine: built flows
    flags_psh = 0x01
    blocked = engine_header()
    write("engine", "built-one-packet",
          blocked + op_packet(0, 0, 0, 1, flags_psh) + op_time(6) + op_packet(0, 0, 0, 100, flags_psh, extra=2))
    write("engine", "built-two-segments",
          blocked + op_packet(0, 2, 0, 300, 0) + op_packet(0, 0, 0, 1, flags_psh) + op_time(3))
    write("engine", "built-retransmit",
          engine_header(c4=6) + op_packet(0, 0, 0, 1, flags_psh) + op_time(9) + b"\x03\x00" +
          op_packet(0, 1, 64, 1, flags_psh))
    write("engine", "built-overlap-different",
          blocked + op_packet(0, 2, 0, 200, 0) + op_packet(0, 7, 164, 500, flags_psh, mutate=(0, 50, 0x20)) +
          op_packet(0, 0, 0, 1, flags_psh))
    # a later packet overlapping an earlier one that lay beyond a gap: the earlier copy wins
    write("engine", "built-overlap-out-of-order",
          blocked + op_packet(0, 2, 0, 100, 0) + op_packet(0, 3, 150 + 64, 50, 0) +
          op_packet(0, 7, 50 + 64, 250, 0, mutate=(100, 50, 0x20)) + op_packet(0, 1, 300 + 64, 1, flags_psh))
    write("engine", "built-v6-handshake",
          engine_header(c0=1, c4=4, flows=[1 | 1 << 1, 0, 0, 0]) + op_packet(0, 0, 0, 1, flags_psh) + op_time(7))
    write("engine", "built-timeout-two-flows",
          engine_header(c2=2 | 3 << 3) + op_packet(0, 2, 0, 100, 0) + op_packet(1, 2, 0, 50, 0) + op_time(6) +
          op_packet(1, 0, 0, 1, flags_psh))
    write("engine", "built-syn-reset",
          blocked + op_packet(0, 2, 0, 100, 0) + op_packet(0, 0, 0, 0, 0x10) + op_packet(0, 0, 0, 1, flags_psh) +
          op_packet(0, 0, 0, 10, 0x0c))
    # flows with the timestamps option (TSval counting up per packet)
    stamped = engine_header(flows=[1 << 6, 0, 0, 0])
    # held [0,100) and [200,517), then [0,517) with FIN|PSH: FIN|PSH on the last
    # piece, timestamps never going back
    write("engine", "built-retransmit-covering-held",
          stamped + op_packet(0, 3, 64, 100, 0) + op_packet(0, 3, 264, 317, 0) + op_packet(0, 3, 64, 517, 0x03))
    # re-splits with CWR|ECE|PSH, then URG|RST|PSH (urgent byte inside the hello)
    write("engine", "built-flags-resplit",
          engine_header(c4=6, flows=[1 << 6, 0, 0, 0]) + op_packet(0, 3, 64, 517, flags_psh) +
          op_packet(0, 3, 64, 517, 0x29) + op_packet(0, 3, 64, 517, 0x2d))
    # a segment of 300 bytes, then a GSO packet of 3000: pieces of at most 300
    write("engine", "built-largest-segment",
          stamped + op_packet(0, 3, 64, 300, 0) + op_packet(0, 3, 364, 3000, flags_psh))
    chromium = hellos.get("chromium-v4")
    if chromium:
        write("engine", "built-chromium-blob",
              engine_header(c4=5, flows=[4 << 1, 0, 0, 0]) + op_data(0, chromium) +
              op_packet(0, 2, 0, 1448, 0) + op_packet(0, 0, 0, 1, flags_psh) + op_time(1))
        write("engine", "built-chromium-gso",
              engine_header(c4=2, flows=[4 << 1 | 1, 0, 0, 0]) + op_data(0, chromium) +
              op_packet(0, 0, 0, 1, flags_psh) + op_time(1))


if __name__ == "__main__":
    main()
