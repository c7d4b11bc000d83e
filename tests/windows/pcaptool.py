#!/usr/bin/python3
"""pcaptool.py - tiny pcap writer/reader for the fake-WinDivert tests.

Standard library only (no scapy needed).

  pcaptool.py gen DIR
      writes the selftest inputs into DIR:
        selftest.pcap        Ethernet (linktype 1), 13 IPv4/IPv6 packets
        selftest-raw.pcap    the same packets, raw IP (101)
        selftest-sll.pcap    Linux cooked (113)
        selftest-sll2.pcap   Linux cooked v2 (276)
        selftest-null.pcap   BSD loopback/NULL (0)
        selftest-v4.pcap     only the IPv4 packets, LINKTYPE_IPV4 (228)
        selftest-v6.pcap     only the IPv6 packets, LINKTYPE_IPV6 (229)
        timing.pcap          4 ClientHello-like packets with gaps 0/300/800/1000 ms
        packets.json         what each packet is (index = pcap record number)
  pcaptool.py dump FILE.pcap
      one line per IP packet (used when debugging)
  pcaptool.py check-relay DIR OUT.pcap MODE
      verifies what fake_selftest.exe "relay" re-injected (MODE: plain or split)
  pcaptool.py count FILE.pcap
      prints the number of records
"""
import json
import os
import struct
import sys

LOCAL4, REMOTE4 = "192.168.1.10", "93.184.216.34"
LOCAL6, REMOTE6 = "2001:db8::10", "2001:db8:1::443"


# --------------------------------------------------------------------------
# packet building
# --------------------------------------------------------------------------
def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    head, _, tail = a.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x] if "::" in a else []
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload, v6):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    seg = hdr + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = src + dst + struct.pack("!xBH", 6, len(seg))
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_dgram(src, dst, sport, dport, payload, v6):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 17)
    else:
        pseudo = src + dst + struct.pack("!xBH", 17, len(seg))
    c = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def ipv4_packet(src, dst, proto, l4, ident=1):
    s, d = ip4(src), ip4(dst)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0, s, d)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def ipv6_packet(src, dst, nh, l4):
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), nh, 64, ip6(src), ip6(dst)) + l4


def tcp4(src, dst, sport, dport, seq, ack, flags, payload=b"", ident=1):
    return ipv4_packet(src, dst, 6, tcp_seg(ip4(src), ip4(dst), sport, dport, seq, ack, flags, payload, False), ident)


def tcp6(src, dst, sport, dport, seq, ack, flags, payload=b""):
    return ipv6_packet(src, dst, 6, tcp_seg(ip6(src), ip6(dst), sport, dport, seq, ack, flags, payload, True))


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def client_hello(n):
    """Something shaped like a TLS record with a ClientHello (type 0x16)."""
    body = bytes((i * 7 + 3) & 0xFF for i in range(n - 5))
    return b"\x16\x03\x01" + struct.pack("!H", n - 5) + body


def selftest_packets():
    """(time, bytes, description) - the record number is index + 1."""
    L4, R4, L6, R6 = LOCAL4, REMOTE4, LOCAL6, REMOTE6
    ch = client_hello(517)
    return [
        (0.000, tcp4(L4, R4, 50000, 443, 1000, 0, SYN), "v4 out SYN to 443"),
        (0.010, tcp4(R4, L4, 443, 50000, 9000, 1001, SYN | ACK), "v4 in SYN-ACK from 443"),
        (0.011, tcp4(L4, R4, 50000, 443, 1001, 9001, ACK), "v4 out ACK to 443 (no payload; padded frame)"),
        (0.020, tcp4(L4, R4, 50000, 443, 1001, 9001, PSH | ACK, ch, ident=2), "v4 out ClientHello to 443"),
        (0.030, tcp4(R4, L4, 443, 50000, 9001, 1518, PSH | ACK, b"\x16\x03\x03" + bytes(997)), "v4 in ServerHello"),
        (0.040, tcp4(L4, R4, 50002, 80, 5000, 7000, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n"), "v4 out HTTP to 80"),
        (0.050, tcp6(L6, R6, 50010, 443, 3000, 0, SYN), "v6 out SYN to 443"),
        (0.060, tcp6(L6, R6, 50010, 443, 3001, 8001, PSH | ACK, client_hello(300)), "v6 out ClientHello to 443"),
        (0.070, tcp6(R6, L6, 443, 50010, 8001, 3301, PSH | ACK, bytes(400)), "v6 in data from 443"),
        (0.080, tcp4("127.0.0.1", "127.0.0.1", 50020, 443, 100, 200, PSH | ACK, client_hello(200)), "v4 loopback ClientHello"),
        (0.090, ipv4_packet(L4, "8.8.8.8", 17, udp_dgram(ip4(L4), ip4("8.8.8.8"), 53000, 53, b"\x12\x34" + bytes(30), False)), "v4 out DNS"),
        (0.100, tcp4(L4, R4, 50000, 443, 1518, 10001, PSH | ACK, bytes(range(100)), ident=3), "v4 out data to 443"),
        (0.110, tcp6("::1", "::1", 50030, 443, 1, 1, PSH | ACK, client_hello(64)), "v6 loopback ClientHello"),
    ]


def timing_packets():
    L4, R4 = LOCAL4, REMOTE4
    return [
        (0.000, tcp4(L4, R4, 51000, 443, 1, 1, PSH | ACK, client_hello(120)), "t0"),
        (0.300, tcp4(L4, R4, 51001, 443, 1, 1, PSH | ACK, client_hello(120)), "t300"),
        (0.800, tcp4(L4, R4, 51002, 443, 1, 1, PSH | ACK, client_hello(120)), "t800"),
        (1.000, tcp4(L4, R4, 51003, 443, 1, 1, PSH | ACK, client_hello(120)), "t1000"),
    ]


# --------------------------------------------------------------------------
# pcap files
# --------------------------------------------------------------------------
T0 = 1700000000.0


def link_frame(linktype, pkt):
    v6 = (pkt[0] >> 4) == 6
    et = 0x86DD if v6 else 0x0800
    if linktype == 1:
        frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", et) + pkt
        if len(frame) < 60:
            frame += b"\xEE" * (60 - len(frame))      # Ethernet padding
        return frame
    if linktype == 113:
        return struct.pack("!HHH8sH", 4, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", et) + pkt
    if linktype == 276:
        return struct.pack("!HHIHBB8s", et, 0, 2, 1, 4, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + pkt
    if linktype == 0:
        return struct.pack("<I", 30 if v6 else 2) + pkt
    return pkt                                           # 101, 228, 229


def write_pcap(path, linktype, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for t, pkt, _ in packets:
            frame = link_frame(linktype, pkt)
            ts = T0 + t
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def read_pcap(path):
    """[(time, linktype, frame)]"""
    out = []
    with open(path, "rb") as f:
        gh = f.read(24)
        magic = struct.unpack("<I", gh[:4])[0]
        e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        linktype = struct.unpack(e + "I", gh[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            sec, frac, incl, _ = struct.unpack(e + "IIII", rh)
            out.append((sec + frac / 1e6, linktype, f.read(incl)))
    return out


# --------------------------------------------------------------------------
# parsing / checks
# --------------------------------------------------------------------------
def parse(pkt):
    v = pkt[0] >> 4
    if v == 4:
        ihl = (pkt[0] & 15) * 4
        tot = struct.unpack("!H", pkt[2:4])[0]
        proto, src, dst, l4 = pkt[9], pkt[12:16], pkt[16:20], pkt[ihl:tot]
        ok_ip = csum(pkt[:ihl]) == 0
    else:
        tot = 40 + struct.unpack("!H", pkt[4:6])[0]
        proto, src, dst, l4 = pkt[6], pkt[8:24], pkt[24:40], pkt[40:tot]
        ok_ip = True
    d = {"v": v, "proto": proto, "len": tot, "src": src, "dst": dst, "ip_ok": ok_ip}
    if proto == 6:
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", l4[:14])
        hl = (off >> 4) * 4
        if v == 6:
            pseudo = src + dst + struct.pack("!IxxxB", len(l4), 6)
        else:
            pseudo = src + dst + struct.pack("!xBH", 6, len(l4))
        d.update(sport=sport, dport=dport, seq=seq, flags=flags, payload=l4[hl:],
                 tcp_ok=csum(pseudo + l4) == 0)
    return d


def fail(msg):
    print("FAIL - " + msg)
    sys.exit(1)


def check_relay(d, outpcap, mode):
    """The relay scenario re-sends every received packet (filter: the hellosplit
    default) - unchanged in 'plain' mode; in 'split' mode each one is cut after
    its first payload byte into two TCP segments sent with one SendEx."""
    meta = json.load(open(os.path.join(d, "packets.json")))
    expected = [m for m in meta if m["default_filter"]]
    src = read_pcap(os.path.join(d, "selftest.pcap"))
    originals = {}
    for i, (_, lt, frame) in enumerate(src, 1):
        off = 14
        pkt = frame[off:]
        p = parse(pkt)
        originals[i] = pkt[:p["len"]]
    out = read_pcap(outpcap)
    if out and out[0][1] != 101:
        fail("out pcap linktype %d, want 101" % out[0][1])
    pkts = [f for _, _, f in out]
    addr_lines = open(outpcap + ".addr.txt").read().split("\n")
    addr_lines = [dict(kv.split("=", 1) for kv in l.split()) for l in addr_lines if l.strip()]
    if len(addr_lines) != len(pkts):
        fail("%d packets but %d address lines" % (len(pkts), len(addr_lines)))
    want_n = len(expected) * (2 if mode == "split" else 1)
    if len(pkts) != want_n:
        fail("out pcap has %d packets, want %d" % (len(pkts), want_n))
    k = 0
    for m in expected:
        orig = originals[m["record"]]
        po = parse(orig)
        if mode == "plain":
            got = pkts[k]
            if got != orig:
                fail("record %d re-sent differently (%d vs %d bytes)" % (m["record"], len(got), len(orig)))
            segs = [got]
        else:
            a, b = parse(pkts[k]), parse(pkts[k + 1])
            if a["payload"] + b["payload"] != po["payload"]:
                fail("record %d: split payloads do not add up" % m["record"])
            if len(a["payload"]) != 1 or a["seq"] != po["seq"] or b["seq"] != (po["seq"] + 1) & 0xFFFFFFFF:
                fail("record %d: split at the wrong place / wrong seq" % m["record"])
            segs = [pkts[k], pkts[k + 1]]
        for j, seg in enumerate(segs):
            p = parse(seg)
            if not p["ip_ok"] or not p["tcp_ok"]:
                fail("record %d segment %d: bad checksum on the wire" % (m["record"], j))
            al = addr_lines[k + j]
            if al["outbound"] != "1" or al["ifidx"] != "7" or al["subifidx"] != "0" or al["layer"] != "0":
                fail("record %d: re-sent with address %s" % (m["record"], al))
            if al["ipv6"] != ("1" if p["v"] == 6 else "0"):
                fail("record %d: IPv6 bit %s" % (m["record"], al["ipv6"]))
        k += len(segs)
    print("ok   - relay/%s: %d packet(s) re-injected correctly, addresses preserved" % (mode, len(pkts)))


def cmd_gen(d):
    os.makedirs(d, exist_ok=True)
    pk = selftest_packets()
    write_pcap(os.path.join(d, "selftest.pcap"), 1, pk)
    write_pcap(os.path.join(d, "selftest-raw.pcap"), 101, pk)
    write_pcap(os.path.join(d, "selftest-sll.pcap"), 113, pk)
    write_pcap(os.path.join(d, "selftest-sll2.pcap"), 276, pk)
    write_pcap(os.path.join(d, "selftest-null.pcap"), 0, pk)
    write_pcap(os.path.join(d, "selftest-v4.pcap"), 228, [p for p in pk if p[1][0] >> 4 == 4])
    write_pcap(os.path.join(d, "selftest-v6.pcap"), 229, [p for p in pk if p[1][0] >> 4 == 6])
    write_pcap(os.path.join(d, "timing.pcap"), 101, timing_packets())
    meta = []
    for i, (t, pkt, desc) in enumerate(pk, 1):
        p = parse(pkt)
        loop = p["src"] in (ip4("127.0.0.1"), ip6("::1"))
        out = p["src"] in (ip4(LOCAL4), ip6(LOCAL6)) or loop
        dflt = (out and not loop and p["proto"] == 6 and p.get("dport") == 443 and len(p.get("payload", b"")) > 0)
        meta.append({"record": i, "time": t, "desc": desc, "len": len(pkt), "default_filter": dflt})
    json.dump(meta, open(os.path.join(d, "packets.json"), "w"), indent=1)


def cmd_dump(path):
    for i, (t, lt, frame) in enumerate(read_pcap(path), 1):
        off = {1: 14, 113: 16, 276: 20, 0: 4}.get(lt, 0)
        p = parse(frame[off:])
        print(i, "%.6f" % t, "v%d" % p["v"], "len=%d" % p["len"], "proto=%d" % p["proto"],
              "ports=%s>%s" % (p.get("sport"), p.get("dport")), "payload=%d" % len(p.get("payload", b"")),
              "ip_ok=%s tcp_ok=%s" % (p["ip_ok"], p.get("tcp_ok")))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        cmd_gen(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "dump":
        cmd_dump(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "count":
        print(len(read_pcap(sys.argv[2])))
    elif len(sys.argv) >= 5 and sys.argv[1] == "check-relay":
        check_relay(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)
