#!/usr/bin/python3
"""Synthetic captures for the offline test (tests/offline/run.sh).

Every ClientHello is a REAL one: OpenSSL's, produced by Debian python3's
ssl module through a MemoryBIO for the given server_hostname.  Its random,
session id and key share are then overwritten with bytes from a seeded
generator so that the captures are reproducible (the structure, extension
order, lengths and SNI position stay exactly OpenSSL's).

Usage:  /usr/bin/python3 tests/offline/make_synthetic.py [OUTDIR]
        (default: tests/offline/pcaps next to this script).  The outputs are
        committed; run.sh does not regenerate them.

Each capture is described by CASES at the bottom; tests/offline/run.sh holds
the facts (counters) each one must produce.
"""
import os
import random
import zlib
import ssl
import struct
import sys

from scapy.layers.inet import IP, TCP, UDP, ICMP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.layers.l2 import Ether, ARP
from scapy.packet import Raw

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

T0 = 1_700_000_000_123_456_000          # ns; the clock of every capture starts here
MS = 1_000_000
US = 1_000

CLIENT4, SERVER4 = "198.18.1.2", "198.18.2.2"
CLIENT6, SERVER6 = "2001:db8:1::2", "2001:db8:2::2"
CMAC, SMAC = "02:00:00:00:01:02", "02:00:00:00:02:02"


# --------------------------------------------------------------- ClientHello

def _walk_exts(h, body_start):
    """(type, data_off, data_len) of each extension of a ClientHello whose
    handshake body starts at body_start in h."""
    p = body_start + 2 + 32
    p += 1 + h[p]
    p += 2 + struct.unpack_from("!H", h, p)[0]
    p += 1 + h[p]
    end = p + 2 + struct.unpack_from("!H", h, p)[0]
    p += 2
    out = []
    while p < end:
        t, n = struct.unpack_from("!HH", h, p)
        out.append((t, p + 4, n))
        p += 4 + n
    return out


def client_hello(hostname, rng, alpn=None):
    """One real TLS ClientHello record (bytes) for hostname."""
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    obj = ctx.wrap_bio(inb, outb, server_hostname=hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    rec = bytearray(outb.read())
    assert rec[0] == 0x16 and rec[5] == 1, "not a ClientHello"
    assert len(rec) == 5 + struct.unpack_from("!H", rec, 3)[0], "more than one record"
    body = 5 + 4
    rec[body + 2:body + 34] = rng.randbytes(32)                    # random
    sid_len = rec[body + 34]
    rec[body + 35:body + 35 + sid_len] = rng.randbytes(sid_len)    # session id
    for t, off, n in _walk_exts(rec, body):
        if t == 0x0033:                                            # key_share
            p, end = off + 2, off + n
            while p < end:
                klen = struct.unpack_from("!H", rec, p + 2)[0]
                rec[p + 4:p + 4 + klen] = rng.randbytes(klen)
                p += 4 + klen
    assert bytes(rec).find(hostname.encode()) > 0
    return bytes(rec)


def big_hello(hostname, rng, size):
    """A real ClientHello made about `size` bytes long by a long ALPN list
    (OpenSSL sends what it is given: the length is real, not patched)."""
    names = []
    while True:
        hello = client_hello(hostname, rng, alpn=names or None)
        missing = size - len(hello)
        if missing < 8:
            return hello
        names.append(("h%03d-" % len(names) + "x" * 250)[:min(200, missing - 7)])


def reframe(record, sizes):
    """The handshake message of a one-record hello re-framed into several
    records carrying `sizes` handshake bytes each (the last takes the rest)."""
    hs = record[5:]
    out, p = b"", 0
    for n in sizes + [len(hs)]:
        n = min(n, len(hs) - p)
        if n <= 0:
            break
        out += bytes([0x16, 0x03, 0x01]) + struct.pack("!H", n) + hs[p:p + n]
        p += n
    assert p == len(hs)
    return out


# --------------------------------------------------------------- packets

class Capture:
    def __init__(self, linktype=LINKTYPE_ETHERNET, nanos=False):
        self.linktype = linktype
        self.nanos = nanos
        self.records = []                          # (t_ns, frame bytes)

    def add(self, t, ip_bytes, outgoing=True, pad_to=0, ethertype=None, raw_frame=None):
        if raw_frame is not None:
            self.records.append((t, raw_frame))
            return
        if ethertype is None:
            ethertype = 0x0800 if ip_bytes[0] >> 4 == 4 else 0x86dd
        if self.linktype == LINKTYPE_ETHERNET:
            src, dst = (CMAC, SMAC) if outgoing else (SMAC, CMAC)
            frame = bytes(Ether(src=src, dst=dst, type=ethertype)) + ip_bytes
            if len(frame) < pad_to:
                frame += b"\0" * (pad_to - len(frame))      # Ethernet padding
        elif self.linktype == LINKTYPE_LINUX_SLL:
            mac = bytes.fromhex((CMAC if outgoing else SMAC).replace(":", ""))
            frame = struct.pack("!HHH", 4 if outgoing else 0, 1, 6) + mac + b"\0\0" + \
                struct.pack("!H", ethertype) + ip_bytes
        elif self.linktype == LINKTYPE_LINUX_SLL2:
            mac = bytes.fromhex((CMAC if outgoing else SMAC).replace(":", ""))
            frame = struct.pack("!HHIHBB", ethertype, 0, 2, 1, 4 if outgoing else 0, 6) + mac + b"\0\0" + ip_bytes
        else:
            frame = ip_bytes
        self.records.append((t, frame))

    def write(self, path):
        magic = 0xa1b23c4d if self.nanos else 0xa1b2c3d4
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, self.linktype))
            for t, frame in self.records:
                frac = t % 1_000_000_000 if self.nanos else (t % 1_000_000_000) // 1000
                f.write(struct.pack("<IIII", t // 1_000_000_000, frac, len(frame), len(frame)))
                f.write(frame)


class Conn:
    """A TCP connection client -> server:port with Linux-like headers:
    timestamps on every segment, DF, IPv4 ID counting up, a flow label."""

    def __init__(self, cap, rng, family=4, cport=40000, sport=443, caddr=None, saddr=None):
        self.cap, self.rng, self.family = cap, rng, family
        self.caddr = caddr or (CLIENT4 if family == 4 else CLIENT6)
        self.saddr = saddr or (SERVER4 if family == 4 else SERVER6)
        self.cport, self.sport = cport, sport
        self.cisn, self.sisn = rng.getrandbits(32), rng.getrandbits(32)
        self.cid, self.sid = rng.getrandbits(16), 0
        self.cts, self.sts = rng.getrandbits(31), rng.getrandbits(31)
        self.cfl, self.sfl = rng.getrandbits(20), rng.getrandbits(20)
        self.snd = 0            # client stream bytes sent (relative to cisn + 1)
        self.rcv = 0            # server stream bytes sent

    def _ip(self, client, tcp, **kw):
        if self.family == 4:
            if client:
                self.cid = (self.cid + 1) & 0xffff
            ip = IP(src=self.caddr if client else self.saddr, dst=self.saddr if client else self.caddr,
                    ttl=kw.get("ttl", 64), tos=kw.get("tos", 0), flags=kw.get("ipflags", "DF"),
                    id=kw.get("id", self.cid if client else 0))
        else:
            ip = IPv6(src=self.caddr if client else self.saddr, dst=self.saddr if client else self.caddr,
                      hlim=kw.get("ttl", 64), tc=kw.get("tos", 0), fl=kw.get("fl", self.cfl if client else self.sfl))
        return bytes(ip / tcp)

    def _opts(self, client, syn=False):
        if client:
            self.cts += 1
        else:
            self.sts += 1
        ts = (self.cts, self.sts) if client else (self.sts, self.cts)
        if syn:
            return [("MSS", 1460 if self.family == 4 else 1440), ("SAckOK", b""), ("Timestamp", ts),
                    ("NOP", None), ("WScale", 10)]
        return [("NOP", None), ("NOP", None), ("Timestamp", ts)]

    def client(self, t, payload=b"", flags="A", off=None, ack=None, window=502, pad_to=0, **kw):
        """A client -> server segment carrying payload at stream offset off
        (default: the next byte); returns the frame's index in the capture."""
        if off is None:
            off = self.snd
        seq = (self.cisn + 1 + off) & 0xffffffff
        if ack is None:
            ack = (self.sisn + 1 + self.rcv) & 0xffffffff
        tcp = TCP(sport=self.cport, dport=self.sport, seq=seq, ack=ack, flags=flags, window=window,
                  options=self._opts(True))
        if payload:
            tcp = tcp / Raw(payload)
        self.snd = max(self.snd, off + len(payload) + (1 if "F" in flags else 0))
        self.cap.add(t, self._ip(True, tcp, **kw), True, pad_to=pad_to)
        return len(self.cap.records) - 1

    def server(self, t, payload=b"", flags="A", ack_off=None, **kw):
        seq = (self.sisn + 1 + self.rcv) & 0xffffffff
        ack = (self.cisn + 1 + (self.snd if ack_off is None else ack_off)) & 0xffffffff
        tcp = TCP(sport=self.sport, dport=self.cport, seq=seq, ack=ack, flags=flags, window=509,
                  options=self._opts(False))
        if payload:
            tcp = tcp / Raw(payload)
        self.rcv += len(payload) + (1 if "F" in flags else 0)
        self.cap.add(t, self._ip(False, tcp, **kw), False, pad_to=60)

    def handshake(self, t):
        """SYN, SYN-ACK, ACK; returns the time after it."""
        syn = TCP(sport=self.cport, dport=self.sport, seq=self.cisn, flags="S", window=64240,
                  options=self._opts(True, syn=True))
        self.cap.add(t, self._ip(True, syn), True)
        sa = TCP(sport=self.sport, dport=self.cport, seq=self.sisn, ack=(self.cisn + 1) & 0xffffffff,
                 flags="SA", window=65160, options=self._opts(False, syn=True))
        self.cap.add(t + 20 * MS, self._ip(False, sa), False)
        self.client(t + 20 * MS + 50 * US, pad_to=60)
        return t + 21 * MS

    def hello(self, t, data, cuts=(), order=None, gap=None, psh_last=True, step=200 * US, **kw):
        """Sends data cut at `cuts` (stream offsets relative to the current
        send position), in `order` (indexes), leaving out the piece `gap`."""
        start = self.snd
        bounds = [0] + list(cuts) + [len(data)]
        pieces = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        order = order if order is not None else range(len(pieces))
        for k, i in enumerate(order):
            if i == gap:
                continue
            a, b = pieces[i]
            last = b == len(data)
            self.client(t + k * step, data[a:b], flags="PA" if last and psh_last else "A", off=start + a, **kw)
        self.snd = max(self.snd, start + len(data))
        return t + len(pieces) * step

    def server_reply(self, t, n=1200):
        """The server's answer (a TLS-looking flight), the client's ACK and its
        next records: after this the engine is done with the flow."""
        flight = bytes([0x16, 0x03, 0x03]) + struct.pack("!H", n - 5) + self.rng.randbytes(n - 5)
        mss = 1448 if self.family == 4 else 1428
        for i in range(0, len(flight), mss):
            self.server(t + i // mss * 10 * US, flight[i:i + mss], flags="PA" if i + mss >= len(flight) else "A")
        self.client(t + 100 * US, pad_to=60)
        fin = bytes([0x14, 0x03, 0x03, 0, 1, 1]) + bytes([0x17, 0x03, 0x03, 0, 53]) + self.rng.randbytes(53)
        self.client(t + 5 * MS, fin, flags="PA")
        app = bytes([0x17, 0x03, 0x03, 0, 200]) + self.rng.randbytes(200)
        self.client(t + 5 * MS + 50 * US, app, flags="PA")
        resp = bytes([0x17, 0x03, 0x03, 1, 0]) + self.rng.randbytes(256)
        self.server(t + 25 * MS, resp, flags="PA")
        self.client(t + 25 * MS + 40 * US, pad_to=60)
        return t + 26 * MS

    def close(self, t):
        self.client(t, flags="FA", pad_to=60)
        self.server(t + 20 * MS, flags="FA")
        self.client(t + 20 * MS + 40 * US, pad_to=60)
        return t + 21 * MS


def full_flow(cap, rng, t, family, cport, host, cuts=(), order=None, sport=443, **kw):
    c = Conn(cap, rng, family, cport=cport, sport=sport)
    t = c.handshake(t)
    t = c.hello(t + 300 * US, client_hello(host, rng), cuts=cuts, order=order, **kw)
    t = c.server_reply(t + 20 * MS)
    return c.close(t + 30 * MS)


def other_traffic(cap, t, family=4):
    """Packets that are none of the engine's business."""
    if family == 4:
        dns = bytes(IP(src=CLIENT4, dst="198.18.2.53", id=7) / UDP(sport=53000, dport=53) /
                    Raw(bytes.fromhex("1234010000010000000000000377777707626c6f636b6564076578616d706c650000010001")))
        cap.add(t, dns, True)
        cap.add(t + 100 * US, bytes(IP(src=CLIENT4, dst=SERVER4, id=8) / ICMP(id=1, seq=1) / Raw(b"ping" * 8)), True)
        if cap.linktype == LINKTYPE_ETHERNET:
            cap.add(t + 200 * US, b"", raw_frame=bytes(Ether(src=CMAC, dst="ff:ff:ff:ff:ff:ff") /
                                                       ARP(psrc=CLIENT4, pdst=SERVER4, hwsrc=CMAC)))
            # an Ethernet frame with a type the engine does not know (LLDP)
            cap.add(t + 300 * US, b"", raw_frame=bytes(Ether(src=CMAC, dst="01:80:c2:00:00:0e", type=0x88cc)) +
                    bytes(46))
    else:
        cap.add(t, bytes(IPv6(src=CLIENT6, dst=SERVER6) / ICMPv6EchoRequest(id=1, seq=1, data=b"ping")), True)
        cap.add(t + 100 * US, bytes(IPv6(src=CLIENT6, dst="2001:db8:2::53") / UDP(sport=53001, dport=53) /
                                    Raw(bytes.fromhex("abcd01000001000000000000076578616d706c650000010001"))), True)
    return t + 1 * MS


# --------------------------------------------------------------- the cases

def case_basic(linktype, nanos=False):
    def build(rng):
        cap = Capture(linktype, nanos)
        t = other_traffic(cap, T0, 4)
        t = full_flow(cap, rng, t, 4, 40001, "www.example.com")
        t = other_traffic(cap, t + 1 * MS, 6)
        t = full_flow(cap, rng, t + 7 * US + 3, 6, 40002, "blocked.example.org")
        return cap
    return build


def case_ns(rng):
    cap = Capture(LINKTYPE_ETHERNET, nanos=True)
    t = T0 + 789                       # below-microsecond digits
    t = full_flow(cap, rng, t, 4, 40011, "www.example.com", cuts=(300,), step=333_333)
    full_flow(cap, rng, t + 1_234_567, 6, 40012, "localhost")     # a one-label name
    return cap


def case_multiseg(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    t = T0
    # two segments, three segments, a 3-byte first segment, a tiny padded last
    # one; each segment with its own window/TTL/TOS so copying can be checked
    t = full_flow(cap, rng, t, 4, 40021, "www.example.com", cuts=(300,)) + MS
    c = Conn(cap, rng, 6, cport=40022)
    t = c.handshake(t)
    h = client_hello("two.level.example.net", rng)
    for i, (a, b) in enumerate([(0, 200), (200, 400), (400, len(h))]):
        c.client(t + i * 300 * US, h[a:b], flags="PA" if b == len(h) else "A", window=500 + i, tos=i * 4, ttl=64 - i)
    t = c.server_reply(t + 20 * MS)
    t = c.close(t + 30 * MS) + MS
    c = Conn(cap, rng, 4, cport=40023)
    t = c.handshake(t)
    h = client_hello("www.example.com", rng)
    c.client(t, h[:3], flags="A", window=600)
    c.client(t + 100 * US, h[3:-10], flags="A", window=601, tos=0x10)
    c.client(t + 200 * US, h[-10:], flags="PA", window=602, pad_to=60)   # 10 bytes: padded frame
    t = c.server_reply(t + 20 * MS)
    t = c.close(t + 30 * MS) + MS
    # Chromium-like: a ~1.9 KB hello in two full-size segments (IPv6 MSS)
    c = Conn(cap, rng, 6, cport=40024)
    t = c.handshake(t)
    t = c.hello(t, big_hello("www.chromium-like.example", rng, 1900), cuts=(1428,))
    t = c.server_reply(t + 20 * MS)
    c.close(t + 30 * MS)
    return cap


def case_ooo(rng):
    cap = Capture(LINKTYPE_RAW)
    # the second of three segments comes last: collected, then split
    t = full_flow(cap, rng, T0, 4, 40031, "www.example.com", cuts=(150, 350), order=(0, 2, 1))
    full_flow(cap, rng, t + MS, 6, 40032, "blocked.example.org", cuts=(150, 350), order=(0, 2, 1))
    return cap


def case_ooo_first(rng):
    cap = Capture(LINKTYPE_RAW)
    # the second of two segments comes first: the engine sees no SYN-less way
    # to know where the stream starts (see the report)
    full_flow(cap, rng, T0, 4, 40041, "www.example.com", cuts=(300,), order=(1, 0))
    return cap


def case_retrans(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    # v4: one-segment hello; the server acks only 5 bytes, the client
    # retransmits the rest [5, 517), then everything [0, 517)
    c = Conn(cap, rng, 4, cport=40051)
    t = c.handshake(T0)
    h = client_hello("www.example.com", rng)
    c.hello(t, h)
    c.server(t + 20 * MS, ack_off=5)
    c.client(t + 220 * MS, h[5:], flags="PA", off=5)
    c.client(t + 620 * MS, h, flags="PA", off=0)
    t = c.server_reply(t + 640 * MS)
    t = c.close(t + 30 * MS) + MS
    # v6: two segments [0,300) [300,517); retransmissions: all of it coalesced,
    # then [300, 517) alone, then a partial overlap [200, 400)
    c = Conn(cap, rng, 6, cport=40052)
    t = c.handshake(t)
    h = client_hello("blocked.example.org", rng)
    c.hello(t, h, cuts=(300,))
    c.client(t + 200 * MS, h, flags="PA", off=0)
    c.client(t + 600 * MS, h[300:], flags="PA", off=300)
    c.client(t + 1000 * MS, h[200:400], flags="A", off=200)
    t = c.server_reply(t + 1100 * MS)
    c.close(t + 30 * MS)
    return cap


def case_overlap(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    # overlapping segments while collecting: first copy wins
    c = Conn(cap, rng, 4, cport=40061)
    t = c.handshake(T0)
    h = client_hello("www.example.com", rng)
    c.client(t, h[:300], off=0)
    c.client(t + 100 * US, h[200:], flags="PA", off=200)
    t = c.server_reply(t + 20 * MS)
    t = c.close(t + 30 * MS) + MS
    # a duplicate of the first segment before the second arrives
    c = Conn(cap, rng, 6, cport=40062)
    t = c.handshake(t)
    h = client_hello("blocked.example.org", rng)
    c.client(t, h[:250], off=0, window=700)
    c.client(t + 100 * MS, h[:250], off=0, window=701)
    c.client(t + 101 * MS, h[100:], flags="PA", off=100, window=702)
    t = c.server_reply(t + 120 * MS)
    c.close(t + 30 * MS)
    return cap


def case_gap(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    # flow A: hello in three segments, the middle one never sent
    a = Conn(cap, rng, 4, cport=40071)
    t = a.handshake(T0)
    h = client_hello("www.example.com", rng)
    ta = t + 345_678                                     # sub-ms: the timeout counts from its ms
    a.hello(ta, h, cuts=(150, 350), gap=1, step=1 * MS)
    a.server(ta + 21 * MS, ack_off=150)                  # duplicate acks for the hole
    a.server(ta + 22 * MS, ack_off=150)
    # flow B starts while A is held and finishes after A's timeout
    b = Conn(cap, rng, 6, cport=40072)
    tb = b.handshake(ta + 100 * MS)
    tb = b.hello(tb + 100 * MS, client_hello("blocked.example.org", rng), cuts=(200,), step=60 * MS)
    b.server_reply(tb + 20 * MS)
    # packets of A's own flow long after its timeout pass
    a.client(ta + 600 * MS, flags="A", pad_to=60)
    full_flow(cap, rng, ta + 700 * MS, 4, 40073, "www.example.com")
    cap.records.sort(key=lambda r: r[0])
    return cap


def case_gap_end(rng):
    cap = Capture(LINKTYPE_RAW)
    # the capture ends while a hello is held: released at its timeout
    a = Conn(cap, rng, 4, cport=40081)
    t = a.handshake(T0)
    h = client_hello("www.example.com", rng)
    a.client(t + 500 * US, h[:200], off=0)
    a.server(t + 20 * MS, ack_off=200)
    return cap


def case_http(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    c = Conn(cap, rng, 4, cport=40091)
    t = c.handshake(T0)
    c.client(t, b"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
             flags="PA")
    c.server(t + 20 * MS, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", flags="PA")
    c.client(t + 20 * MS + 40 * US, pad_to=60)
    c.close(t + 30 * MS)
    return cap


def case_port80(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    t = full_flow(cap, rng, T0, 4, 40101, "www.example.com", sport=80)
    c = Conn(cap, rng, 6, cport=40102, sport=80)
    t = c.handshake(t + MS)
    c.client(t, b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", flags="PA")
    c.server(t + 20 * MS, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", flags="PA")
    c.close(t + 30 * MS)
    return cap


def case_interleaved(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    hosts = ["www.example.com", "blocked.example.org", "a.b.c.d.example.net", "localhost", "x.io",
             "very-long-label-" + "z" * 40 + ".example.com"]
    for i in range(24):
        fam = 4 if i % 3 else 6
        start = T0 + rng.randrange(0, 200) * MS + rng.randrange(1000) * US
        h = client_hello(hosts[i % len(hosts)], rng)
        nseg = 1 + i % 3
        cuts = sorted(rng.sample(range(1, len(h)), nseg - 1))
        c = Conn(cap, rng, fam, cport=41000 + i)
        t = c.handshake(start)
        c.hello(t + rng.randrange(100, 900) * US, h, cuts=cuts, step=rng.randrange(50, 3000) * US)
        t = c.server_reply(t + 40 * MS)
        c.close(t + rng.randrange(1, 50) * MS)
    cap.records.sort(key=lambda r: r[0])                 # stable: a flow's own order is kept
    return cap


def case_multirecord(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    t = T0
    # 1: the handshake message in two records, the name in the second
    c = Conn(cap, rng, 4, cport=40111)
    t = c.handshake(t)
    h = reframe(client_hello("www.example.com", rng), [100])
    c.hello(t, h)
    t = c.server_reply(t + 20 * MS)
    t = c.close(t + 30 * MS) + MS
    # 2: three records, a record header inside the name
    c = Conn(cap, rng, 6, cport=40112)
    t = c.handshake(t)
    one = client_hello("blocked.example.org", rng)
    name_at = one.find(b"blocked.example.org") - 5
    h = reframe(one, [name_at + 4, 150])
    c.hello(t, h)
    t = c.server_reply(t + 20 * MS)
    t = c.close(t + 30 * MS) + MS
    # 3: two records in two TCP segments cut elsewhere than the record boundary
    c = Conn(cap, rng, 4, cport=40113)
    t = c.handshake(t)
    h = reframe(client_hello("www.example.com", rng), [300])
    c.hello(t, h, cuts=(50,))
    t = c.server_reply(t + 20 * MS)
    c.close(t + 30 * MS)
    return cap


def case_gso(rng):
    cap = Capture(LINKTYPE_ETHERNET)
    t = T0
    # a 4000-byte hello handed over as one super-packet, v4 and v6
    for fam, port in ((4, 40121), (6, 40122)):
        c = Conn(cap, rng, fam, cport=port)
        t = c.handshake(t)
        h = big_hello("www.example.com", rng, 4000)
        c.hello(t, h)
        t = c.server_reply(t + 20 * MS)
        # bulk data after the handshake in a super-packet: passes as it is
        c.client(t, bytes([0x17, 0x03, 0x03]) + struct.pack("!H", 5995) + rng.randbytes(5995), flags="PA")
        t = c.close(t + 30 * MS) + MS
    # a held super-packet released by the timeout is cut to the MSS too
    c = Conn(cap, rng, 4, cport=40123)
    t = c.handshake(t)
    h = big_hello("www.example.com", rng, 4000)
    c.client(t, h[:3000], flags="A")
    return cap


def case_edge(rng):
    """Corner cases of the flow state machine."""
    cap = Capture(LINKTYPE_ETHERNET)
    t = T0
    # 1: RST while the hello is held: the held segment goes out before the RST
    c = Conn(cap, rng, 4, cport=40131)
    t = c.handshake(t)
    h = client_hello("www.example.com", rng)
    c.client(t, h[:200])
    c.client(t + 5 * MS, flags="R", off=200, pad_to=60)
    t += 10 * MS
    # 2: FIN on the last hello segment: FIN only on the last emitted segment
    c = Conn(cap, rng, 6, cport=40132)
    t = c.handshake(t)
    h = client_hello("blocked.example.org", rng)
    c.client(t, h[:300])
    c.client(t + MS, h[300:], flags="FPA", off=300)
    c.server(t + 20 * MS, flags="FA")
    c.client(t + 21 * MS, pad_to=60)
    t += 30 * MS
    # 3: the same 4-tuple used twice: both connections split
    for k in range(2):
        c = Conn(cap, rng, 4, cport=40133)
        t = c.handshake(t)
        t = c.hello(t, client_hello("www.example.com", rng), cuts=(100,))
        t = c.server_reply(t + 20 * MS)
        t = c.close(t + 30 * MS) + MS
    # 4: a new SYN on the tuple while a hello is held: released first
    c = Conn(cap, rng, 4, cport=40134)
    t = c.handshake(t)
    c.client(t, client_hello("www.example.com", rng)[:100])
    c = Conn(cap, rng, 4, cport=40134)
    t = c.handshake(t + 30 * MS)
    t = c.hello(t, client_hello("www.example.com", rng))
    t = c.server_reply(t + 20 * MS) + MS
    # 5: URG on the hello: left alone
    c = Conn(cap, rng, 6, cport=40135)
    t = c.handshake(t)
    c.client(t, client_hello("www.example.com", rng), flags="PAU")
    t += 5 * MS
    # 6: the hello followed by more bytes in the same segment (early data)
    c = Conn(cap, rng, 4, cport=40136)
    t = c.handshake(t)
    t = c.hello(t, client_hello("www.example.com", rng) + bytes([0x17, 3, 3, 0, 40]) + rng.randbytes(40))
    t = c.server_reply(t + 20 * MS) + MS
    # 7: a hello in 20 small segments (split at every boundary), and one in
    # 40 (more than --max-held-pkts 32: passed unsplit)
    for port, n in ((40137, 20), (40138, 40)):
        c = Conn(cap, rng, 4 if n == 20 else 6, cport=port)
        t = c.handshake(t)
        h = client_hello("www.example.com", rng)
        step = -(-len(h) // n)
        t = c.hello(t, h, cuts=list(range(step, len(h), step)), step=100 * US)
        t = c.server_reply(t + 20 * MS) + MS
    # 8: no TCP options at all, no DF, a TTL of 1 and a TOS
    c = Conn(cap, rng, 4, cport=40139)
    t = c.handshake(t)
    c._opts = lambda client, syn=False: []
    t = c.hello(t, client_hello("www.example.com", rng), cuts=(250,), ipflags=0, ttl=1, tos=0xb8)
    t = c.server_reply(t + 20 * MS) + MS
    # 9: after the split, a keepalive (one byte below the stream start)
    c = Conn(cap, rng, 4, cport=40140)
    t = c.handshake(t)
    t = c.hello(t, client_hello("www.example.com", rng))
    c.client(t + 100 * MS, b"\0", off=-1)
    t = c.server_reply(t + 120 * MS)
    return cap


CASES = {
    "basic-eth.pcap": case_basic(LINKTYPE_ETHERNET),
    "basic-raw.pcap": case_basic(LINKTYPE_RAW),
    "basic-sll.pcap": case_basic(LINKTYPE_LINUX_SLL),
    "basic-sll2.pcap": case_basic(LINKTYPE_LINUX_SLL2),
    "edge.pcap": case_edge,
    "ns-magic.pcap": case_ns,
    "multiseg.pcap": case_multiseg,
    "ooo.pcap": case_ooo,
    "ooo-first.pcap": case_ooo_first,
    "retrans.pcap": case_retrans,
    "overlap.pcap": case_overlap,
    "gap-timeout.pcap": case_gap,
    "gap-end.pcap": case_gap_end,
    "http443.pcap": case_http,
    "port80.pcap": case_port80,
    "interleaved.pcap": case_interleaved,
    "multirecord.pcap": case_multirecord,
    "gso.pcap": case_gso,
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcaps")
    os.makedirs(out, exist_ok=True)
    for i, (name, build) in enumerate(sorted(CASES.items())):
        rng = random.Random(zlib.crc32(name.encode()))
        cap = build(rng)
        cap.write(os.path.join(out, name))
        print("%-20s %4d packets" % (name, len(cap.records)))


if __name__ == "__main__":
    main()
