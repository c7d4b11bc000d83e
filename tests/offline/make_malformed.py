#!/usr/bin/python3
"""Malformed and fuzzed inputs for tests/offline/run.sh, written to OUTDIR.

Usage: make_malformed.py OUTDIR GOOD.pcap [FUZZ_COUNT [SEED]]

Writes OUTDIR/cases.txt, one line per file:  FILE EXPECT [KEY=VALUE...]
  EXPECT  exit0  : must exit 0; pins are stats counters; the output must be
                   a valid pcap that passes the checker's model-free checks
          exit1  : must exit 1 with one clear error line (pins: a word the
                   message must contain, as msg=WORD)
          fuzz   : must exit 0 or 1, never a signal, a hang or a sanitizer
                   report; exit 0 outputs are checked like exit0
Everything is derived from GOOD.pcap and SEED: the same files every run.
"""
import os
import random
import struct
import sys


def rd(path):
    with open(path, "rb") as f:
        return f.read()


def records(data):
    """[(offset of the record header, caplen)] of a little-endian pcap."""
    out, off = [], 24
    while off + 16 <= len(data):
        n = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off, n))
        off += 16 + n
    return out


def header(linktype, nanos=False):
    return struct.pack("<IHHiIII", 0xa1b23c4d if nanos else 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype)


def rec(frame, sec=1700000000, usec=0, caplen=None):
    return struct.pack("<IIII", sec, usec, len(frame) if caplen is None else caplen, len(frame)) + frame


def ipv4_tcp(payload=b"", doff=5, total=None, ihl=5, dport=443):
    tcp = struct.pack("!HHIIBBHHH", 40000, dport, 1000, 2000, doff << 4, 0x18, 502, 0, 0) + payload
    tot = 20 + len(tcp) if total is None else total
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, 0x4000, 64, 6, 0, bytes([198, 18, 1, 2]),
                     bytes([198, 18, 2, 2]))
    return ip + tcp


ETH = bytes.fromhex("020000000202020000000102") + b"\x08\x00"


def pcapng():
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body))
    idb_body = struct.pack("<HHI", 1, 0, 262144)
    idb = struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))
    frame = ETH + ipv4_tcp(b"hello")
    pad = (-len(frame)) % 4
    epb_body = struct.pack("<IIIII", 0, 0, 0, len(frame), len(frame)) + frame + b"\0" * pad
    epb = struct.pack("<II", 6, 12 + len(epb_body)) + epb_body + struct.pack("<I", 12 + len(epb_body))
    return shb + idb + epb


def big_endian(data):
    """The same capture written big-endian (a capture from a big-endian host)."""
    magic, vmaj, vmin, tz, sig, snap, lt = struct.unpack_from("<IHHiIII", data)
    out = struct.pack(">IHHiIII", magic, vmaj, vmin, tz, sig, snap, lt)
    for off, n in records(data):
        out += struct.pack(">IIII", *struct.unpack_from("<IIII", data, off)) + data[off + 16:off + 16 + n]
    return out


def vlan(data):
    """Every Ethernet frame given an 802.1Q tag (VLAN 42)."""
    out = data[:24]
    for off, n in records(data):
        sec, frac, _, _ = struct.unpack_from("<IIII", data, off)
        f = data[off + 16:off + 16 + n]
        f = f[:12] + b"\x81\x00\x00\x2a" + f[12:]
        out += struct.pack("<IIII", sec, frac, len(f), len(f)) + f
    return out


def fuzz(data, rng):
    """One random mutation of a capture (never of the global header's magic,
    so that the records get read)."""
    b = bytearray(data)
    recs = records(data)
    kind = rng.randrange(9)
    if kind == 0:                                  # flip bytes anywhere after the header
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(24, len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:                                # bytes of one record's IP/TCP headers
        off, n = rng.choice(recs)
        for _ in range(rng.randint(1, 6)):
            b[off + 16 + rng.randrange(min(n, 14 + 60))] = rng.randrange(256)
    elif kind == 2:                                # truncated anywhere
        del b[rng.randrange(24, len(b)):]
    elif kind == 3:                                # a record's caplen
        off, n = rng.choice(recs)
        v = rng.choice([0, 1, n - 1, n + 1, 0xffffffff, 262144, 262145, 65535 + 14, rng.getrandbits(32)])
        struct.pack_into("<I", b, off + 8, v & 0xffffffff)
    elif kind == 4:                                # garbage inserted
        at = rng.randrange(24, len(b))
        b[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == 5:                                # records duplicated / reordered
        i, j = sorted(rng.sample(range(len(recs)), 2))
        ri = data[recs[i][0]:recs[i][0] + 16 + recs[i][1]]
        rj = data[recs[j][0]:recs[j][0] + 16 + recs[j][1]]
        body = data[24:]
        body = body.replace(rj, ri if rng.random() < 0.5 else ri + rj, 1)
        b = bytearray(data[:24] + body)
    elif kind == 6:                                # bytes of the payloads (TLS) changed
        off, n = max(recs, key=lambda r: r[1] * rng.random())
        for _ in range(rng.randint(1, 8)):
            b[off + 16 + rng.randrange(n)] = rng.randrange(256)
    elif kind == 7:                                # IP/TCP length fields
        off, n = rng.choice(recs)
        f = off + 16 + 14
        field = rng.choice([(f + 0, 1), (f + 2, 2), (f + 20 + 12, 1), (f + 4, 2), (f + 40 + 12, 1)])
        if field[0] + field[1] <= off + 16 + n:
            b[field[0]:field[0] + field[1]] = rng.randbytes(field[1])
    else:                                          # time going backwards / random
        off, n = rng.choice(recs)
        struct.pack_into("<I", b, off, rng.getrandbits(32))
        struct.pack_into("<I", b, off + 4, rng.randrange(1000000))
    return bytes(b)


def main():
    out, good = sys.argv[1], rd(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20241125
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    lt = struct.unpack_from("<I", good, 20)[0]
    cases = []

    def put(name, data, expect, *pins):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        cases.append(" ".join((name, expect) + pins))

    first = records(good)
    put("pcapng.pcapng", pcapng(), "exit1", "msg=pcapng")
    put("trunc-global-header.pcap", good[:10], "exit1", "msg=header")
    put("magic-garbage.pcap", b"\x01\x02\x03\x04" + good[4:], "exit1", "msg=magic")
    r1 = first[1][0]
    put("trunc-record-header.pcap", good[:r1 + 7], "exit1", "msg=truncated")
    put("trunc-record-data.pcap", good[:r1 + 16 + first[1][1] // 2], "exit1", "msg=truncated")
    put("caplen-ffffffff.pcap", header(1) + rec(ETH + ipv4_tcp(b"x"), caplen=0xffffffff), "exit1", "msg=corrupt")
    put("caplen-over-max.pcap", header(1) + rec(b"\0" * 16, caplen=262145), "exit1", "msg=corrupt")
    put("usec-over-second.pcap", header(1) + rec(ETH + ipv4_tcp(b"x"), usec=1000000), "exit1", "msg=corrupt")
    put("linktype-105.pcap", header(105) + rec(b"\0" * 40), "exit1", "msg=link type")
    put("linktype-0.pcap", header(0) + rec(b"\0" * 40), "exit1", "msg=link type")
    put("empty.pcap", header(lt), "exit0", "packets=0")
    put("empty-ns-raw.pcap", header(101, nanos=True), "exit0", "packets=0")
    put("caplen-zero.pcap", header(1) + rec(b""), "exit0", "packets=0")
    put("raw-shorter-than-ip.pcap", header(101) + rec(ipv4_tcp(b"abc")[:10]), "exit0", "pass_malformed=1")
    put("raw-one-byte.pcap", header(101) + rec(b"\x45"), "exit0", "pass_malformed=1")
    put("eth-shorter-than-ip.pcap", header(1) + rec(ETH + ipv4_tcp(b"abc")[:19]), "exit0", "pass_malformed=1")
    put("ipv4-totlen-over-frame.pcap", header(1) + rec(ETH + ipv4_tcp(b"\x16\x03\x01" + b"a" * 60, total=1500)),
        "exit0", "pass_malformed=1", "flows=0")
    put("ipv4-ihl-under-20.pcap", header(1) + rec(ETH + ipv4_tcp(b"abc", ihl=3)), "exit0", "pass_malformed=1")
    put("ipv4-ihl-past-packet.pcap", header(101) + rec(ipv4_tcp(b"", ihl=15)[:44]), "exit0", "pass_malformed=1")
    put("tcp-doff-past-packet.pcap", header(1) + rec(ETH + ipv4_tcp(b"\x16\x03\x01\x00\x05", doff=15)), "exit0",
        "pass_malformed=1", "flows=0")
    put("tcp-doff-under-20.pcap", header(101) + rec(ipv4_tcp(b"\x16\x03\x01", doff=2)), "exit0",
        "pass_malformed=1")
    put("ipv6-plen-over-frame.pcap", header(101) + rec(bytes([0x60, 0, 0, 0, 0x05, 0xdc, 6, 64]) + b"\x20" * 32 +
                                                       b"\0" * 20), "exit0", "pass_malformed=1")
    put("eth-garbage-ipv4.pcap", header(1) + rec(ETH + rng.randbytes(300)) + rec(ETH + b"\x45" + rng.randbytes(80)),
        "exit0")
    put("eth-garbage-ipv6.pcap", header(1) + rec(ETH[:12] + b"\x86\xdd" + rng.randbytes(300)), "exit0")
    put("eth-runt.pcap", header(1) + rec(b"\x02\x00\x00") + rec(ETH[:13]) + rec(ETH), "exit0")
    put("sll-runt.pcap", header(113) + rec(b"\0" * 15) + rec(b"\0" * 14 + b"\x08\x00"), "exit0")
    put("tls-record-len-huge.pcap", header(101) + rec(ipv4_tcp(b"\x16\x03\x01\xff\xff" + b"\x01" * 100)), "exit0",
        "failopen_not_tls=1", "flows_split=0")
    hello_bogus = b"\x16\x03\x01\x00\x30" + b"\x01\xff\xff\xff" + b"\x03\x03" + b"\0" * 42
    put("tls-hello-len-huge.pcap", header(101) + rec(ipv4_tcp(hello_bogus)), "exit0", "flows=1")
    # pcaps that are fine but unusual: must work like any other (checked fully by run.sh)
    put("big-endian.pcap", big_endian(good), "exit0", "full")
    if lt == 1:
        put("vlan.pcap", vlan(good), "exit0", "full")
    # a clock going back 2 s in the middle of a capture: order is kept
    back = bytearray(good)
    off = first[len(first) // 2][0]
    struct.pack_into("<I", back, off, struct.unpack_from("<I", back, off)[0] - 2)
    put("time-backwards.pcap", bytes(back), "exit0", "full")
    for i in range(count):
        put("fuzz-%03d.pcap" % i, fuzz(good, rng), "fuzz")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
