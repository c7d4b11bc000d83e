#!/usr/bin/python3
"""Writes the seeds of fuzz_tc (tests/fuzz/corpus/tc/seed-*) from the hellos
of tests/fuzz/corpus/tls/ (real client captures and tests/unit/vectors.h,
written there by make_corpus.py), plus one large hello whose hostname comes
after 1.5 KB of padding (the walk into the next packet, a carry across it).
Each hello gets a few shapes of fuzz_tc's 8-byte header (see fuzz_tc.c):
IPv4/IPv6, options, GSO, a retransmission, the first packet ending just
before or inside the hostname's extension. Standard library only.

Run: /usr/bin/python3 tests/fuzz/fuzz_tc_seeds.py   (from the repository root)
"""
import glob
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "fuzz", "corpus", "tls")
DST = os.path.join(ROOT, "tests", "fuzz", "corpus", "tc")


def sni_off(rec):
    """Offset of the hostname extension's type field in a one-record hello, or None."""
    try:
        if rec[0] != 0x16 or rec[5] != 1:
            return None
        p = 5 + 4 + 2 + 32
        p += 1 + rec[p]
        p += 2 + struct.unpack(">H", rec[p:p + 2])[0]
        p += 1 + rec[p]
        end = p + 2 + struct.unpack(">H", rec[p:p + 2])[0]
        p += 2
        while p + 4 <= end:
            etype, elen = struct.unpack(">HH", rec[p:p + 4])
            if etype == 0:
                return p
            p += 4 + elen
    except (IndexError, struct.error):
        pass
    return None


def late_hello(name=b"www.blocked.example"):
    """A ClientHello with a 1500-byte padding extension before the hostname."""
    sni = struct.pack(">HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    pad = struct.pack(">HH", 21, 1500) + bytes(1500)
    exts = pad + sni
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def header(flags, first=0, mss=1448, kind=0, val=0, retrans=0):
    return struct.pack(">BHHBBB", flags, first, mss, kind, val, retrans)


def main():
    os.makedirs(DST, exist_ok=True)
    hellos = {}
    for path in sorted(glob.glob(os.path.join(SRC, "seed-*"))):
        data = open(path, "rb").read()
        if len(data) >= 64 and data[0] == 0x16:
            hellos[os.path.basename(path)[5:]] = data
    hellos["late-sni"] = late_hello()
    n = 0
    for name, data in hellos.items():
        shapes = {
            "v4": header(0x00),
            "v6-tcpopts": header(0x09),
            "v4-ipopts-gso": header(0x14, mss=600),
            "v4-retrans": header(0x20, mss=300, retrans=100),
        }
        off = sni_off(data)
        if off is not None:
            shapes["v4-ext-across"] = header(0x00, first=off + 2)
            shapes["v6-name-across"] = header(0x01, first=off + 11)
            shapes["v4-before-ext"] = header(0x08, first=max(off - 1, 1))
        for shape, h in shapes.items():
            with open(os.path.join(DST, "seed-%s-%s" % (name, shape)), "wb") as f:
                f.write(h + data)
            n += 1
    # header damage on the curl hello: each kind once
    base = hellos.get("curl-v4-stream") or next(iter(hellos.values()))
    for kind, val in ((0, 0xf0), (1, 7), (2, 6), (3, 1), (4, 0x46), (5, 9), (6, 0x12), (7, 0)):
        with open(os.path.join(DST, "seed-damage-%d" % kind), "wb") as f:
            f.write(header(0x80, kind=kind, val=val) + base)
        n += 1
    print("wrote %d seeds to %s" % (n, DST))


if __name__ == "__main__":
    main()
