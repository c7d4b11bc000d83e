#!/usr/bin/python3
"""HTTPS client with its own tiny TCP over raw sockets, so that the TCP
segments of its ClientHello are exactly the ones asked for -- sizes, order,
overlaps with different bytes, no congestion window -- and the connection
still completes a real TLS handshake and an HTTP request (Debian
/usr/bin/python3, stdlib only; needs CAP_NET_RAW).

    raw_client.py --src ADDR --dst ADDR --sport PORT --name NAME --plan PLAN
                  [--dport 443] [--gap-ms MS] [--alpn-pad N] [--evil TEXT]
                  [--timeout S] [--dump-hello FILE] [--isn N] [--close fin|rst]

Why not the kernel's TCP: a kernel client cannot be made to send what these
tests need.  It never sends two different copies of the same bytes, and its
congestion window (10 segments at the start) stops it after ~10 unacknowledged
segments, so a hello held by hellosplit can never reach 32 held packets or
arrive in 12 segments at once.  This client sends the PLAN's segments back to
back without waiting for acknowledgements.

The kernel of the client namespace knows nothing about this connection and
answers the server's SYN-ACK and data with resets: the caller must drop
those, e.g. `iptables -A OUTPUT -p tcp --sport PORT --tcp-flags RST RST -j DROP`
(the tests use a source port range outside the ephemeral range).

TLS: Python's ssl module over ssl.MemoryBIO produces the real ClientHello for
--name (--alpn-pad N offers made-up ALPN names to grow it by about N bytes,
as tls_load.py does); after the PLAN the client completes the handshake,
sends "GET / HTTP/1.1" and checks that the body is "hello from NAME".

PLAN, comma-separated items, executed in order (offsets into the hello
record, 0 = the 0x16 of the record header; an empty end means the end):
    A:B        one segment carrying hello[A:B]
    A:B^K      the same, but its first K bytes replaced by --evil repeated
               (a retransmission with DIFFERENT bytes)
    bytes      every byte of the hello not yet sent as its own segment
    bytes:N    the next N bytes, one segment each
    chunks:N   the rest of the hello in N-byte segments
    sleep:MS   pause
--gap-ms MS pauses between any two segments (default 0.5).

--isn N sets the initial sequence number (default random), e.g. to reuse a
4-tuple with an ISN behind the previous connection's; --close rst ends the
connection with a reset instead of a FIN (the server then keeps no
TIME_WAIT state, so the 4-tuple can be reused at once with any ISN).

The receive side is minimal but real: in-order data is taken, out-of-order
data is kept until the gap fills, every data segment is acknowledged, and
unacknowledged data is retransmitted (from the true bytes) after --rto-ms.

stderr: one "raw_client: ..." line per step, and a final line
    raw_client: result=ok hello=N segs=K hello_acked_ms=T retrans=R
stdout: the response body.
Exit status: 0 body is "hello from NAME", 1 other failure, 2 connection
reset, 3 timeout.
"""

import argparse
import random
import select
import socket
import ssl
import struct
import sys
import time

from tlsclient import make_context, start_hello

EXIT_OK, EXIT_ERR, EXIT_RESET, EXIT_TIMEOUT = 0, 1, 2, 3
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS = 1400


def log(msg):
    print("raw_client: " + msg, file=sys.stderr, flush=True)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def seq_lt(a, b):
    return ((a - b) & 0xFFFFFFFF) > 0x7FFFFFFF


class RawTCP:
    def __init__(self, src, dst, sport, dport, rto, isn=None):
        self.v6 = ":" in dst
        fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.sock.bind((src, 0))
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.srcb = socket.inet_pton(fam, src)
        self.dstb = socket.inet_pton(fam, dst)
        self.isn = random.randrange(1 << 32) if isn is None else isn & 0xFFFFFFFF
        self.rto = rto
        self.rcv_nxt = 0
        self.snd_una = 0          # stream offsets (0 = first payload byte)
        self.snd_max = 0
        self.buf = bytearray()    # every stream byte sent, the true copy
        self.last_progress = time.monotonic()
        self.retrans = 0
        self.segs = 0
        self.fin_rcvd = False
        self.ooo = {}
        self.rx = bytearray()

    def pseudo(self, length):
        if self.v6:
            return self.srcb + self.dstb + struct.pack("!I3xB", length, socket.IPPROTO_TCP)
        return self.srcb + self.dstb + struct.pack("!xBH", socket.IPPROTO_TCP, length)

    def send(self, seq, ack, flags, payload=b"", options=b""):
        hlen = 20 + len(options)
        hdr = struct.pack("!HHIIBBHHH", self.sport, self.dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          (hlen // 4) << 4, flags, 65535, 0, 0) + options
        c = csum(self.pseudo(hlen + len(payload)) + hdr + payload)
        seg = hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload
        self.sock.sendto(seg, (self.dst, 0))

    def recv(self, timeout):
        """One TCP segment of this connection, or None on timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            data, addr = self.sock.recvfrom(70000)
            if not self.v6:
                if addr[0] != self.dst:
                    continue
                data = data[(data[0] & 0x0F) * 4:]
            elif addr[0] != self.dst:
                continue
            if len(data) < 20:
                continue
            sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", data[:14])
            if sport != self.dport or dport != self.sport:
                continue
            return seq, ack, flags, data[(off >> 4) * 4:]

    def connect(self, timeout):
        mss = struct.pack("!BBH", 2, 4, 1440 if self.v6 else 1460)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send(self.isn, 0, SYN, options=mss)
            t_end = time.monotonic() + 1.0
            while time.monotonic() < t_end:
                seg = self.recv(t_end - time.monotonic())
                if not seg:
                    break
                seq, ack, flags, _ = seg
                if flags & RST:
                    raise ConnectionRefusedError("reset in answer to SYN")
                if flags & SYN and flags & ACK and ack == (self.isn + 1) & 0xFFFFFFFF:
                    self.irs = seq
                    self.rcv_nxt = (seq + 1) & 0xFFFFFFFF
                    self.send(self.isn + 1, self.rcv_nxt, ACK)
                    return
        raise socket.timeout("no SYN-ACK")

    def seq_of(self, off):
        return (self.isn + 1 + off) & 0xFFFFFFFF

    def send_data(self, off, data, true_data=None):
        """Send stream bytes [off, off+len) (data may differ from the truth)."""
        true_data = data if true_data is None else true_data
        end = off + len(data)
        if end > len(self.buf):
            self.buf.extend(b"\0" * (end - len(self.buf)))
        self.buf[off:end] = true_data
        self.send(self.seq_of(off), self.rcv_nxt, PSH | ACK, bytes(data))
        self.segs += 1
        if end > self.snd_max:
            self.snd_max = end

    def write(self, data):
        for i in range(0, len(data), MSS):
            self.send_data(self.snd_max, data[i:i + MSS])

    def poll(self, timeout):
        """Receive what is there (up to timeout for the first segment);
        acknowledge; retransmit when nothing was acknowledged for rto."""
        seg = self.recv(timeout)
        need_ack = False
        while seg:
            seq, ack, flags, payload = seg
            if flags & RST:
                raise ConnectionResetError("reset by the server")
            if flags & ACK:
                acked = (ack - self.isn - 1) & 0xFFFFFFFF
                if acked <= self.snd_max and acked > self.snd_una:
                    self.snd_una = acked
                    self.last_progress = time.monotonic()
            if payload or flags & FIN:
                need_ack = True
                if payload:
                    self.ooo.setdefault(seq, payload)
                if flags & FIN:
                    self.fin_seq = (seq + len(payload)) & 0xFFFFFFFF
                while self.rcv_nxt in self.ooo:
                    p = self.ooo.pop(self.rcv_nxt)
                    self.rx += p
                    self.rcv_nxt = (self.rcv_nxt + len(p)) & 0xFFFFFFFF
                for s in [s for s in self.ooo if seq_lt(s, self.rcv_nxt)]:
                    p = self.ooo.pop(s)       # partly old: keep the new tail
                    skip = (self.rcv_nxt - s) & 0xFFFFFFFF
                    if skip < len(p):
                        self.ooo.setdefault(self.rcv_nxt, p[skip:])
                while self.rcv_nxt in self.ooo:
                    p = self.ooo.pop(self.rcv_nxt)
                    self.rx += p
                    self.rcv_nxt = (self.rcv_nxt + len(p)) & 0xFFFFFFFF
                if getattr(self, "fin_seq", None) == self.rcv_nxt and not self.fin_rcvd:
                    self.fin_rcvd = True
                    self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
            seg = self.recv(0.002)
        if need_ack:
            self.send(self.seq_of(self.snd_max), self.rcv_nxt, ACK)
        if self.snd_una < self.snd_max and time.monotonic() - self.last_progress > self.rto:
            log("retransmitting [%d, %d)" % (self.snd_una, self.snd_max))
            for o in range(self.snd_una, self.snd_max, MSS):
                chunk = bytes(self.buf[o:min(o + MSS, self.snd_max)])
                self.send(self.seq_of(o), self.rcv_nxt, PSH | ACK, chunk)
                self.retrans += 1
            self.last_progress = time.monotonic()
        data = bytes(self.rx)
        self.rx.clear()
        return data

    def close(self, how="fin"):
        try:
            if how == "rst":
                self.send(self.seq_of(self.snd_max), self.rcv_nxt, RST | ACK)
            else:
                self.send(self.seq_of(self.snd_max), self.rcv_nxt, FIN | ACK)
        except OSError:
            pass
        self.sock.close()


def parse_plan(spec, hello, evil):
    """List of ("seg", off, bytes_sent) / ("sleep", seconds)."""
    out, nxt = [], 0
    for item in [i.strip() for i in spec.split(",") if i.strip()]:
        if item.startswith("sleep:"):
            out.append(("sleep", float(item[6:]) / 1000))
        elif item == "bytes" or item.startswith("bytes:"):
            n = int(item[6:]) if item.startswith("bytes:") else len(hello) - nxt
            for o in range(nxt, min(nxt + n, len(hello))):
                out.append(("seg", o, hello[o:o + 1]))
            nxt = min(nxt + n, len(hello))
        elif item.startswith("chunks:"):
            n = int(item[7:])
            for o in range(nxt, len(hello), n):
                out.append(("seg", o, hello[o:o + n]))
            nxt = len(hello)
        else:
            rng, _, k = item.partition("^")
            a, _, b = rng.partition(":")
            a, b = int(a), int(b) if b else len(hello)
            if not 0 <= a < b <= len(hello):
                raise ValueError("plan item %r outside the %d-byte hello" % (item, len(hello)))
            data = bytearray(hello[a:b])
            if k:
                k = min(int(k), len(data))
                bad = (evil * (k // len(evil) + 1))[:k]
                data[:k] = bad
            out.append(("seg", a, bytes(data)))
            nxt = max(nxt, b)
    return out


def run(args):
    deadline = time.monotonic() + args.timeout
    ctx = make_context(args.alpn_pad)
    tls, inbio, outbio, hello = start_hello(ctx, args.name)
    if not hello or hello[0] != 0x16:
        raise RuntimeError("no TLS handshake record produced")
    if args.dump_hello:
        with open(args.dump_hello, "wb") as f:
            f.write(hello)
    plan = parse_plan(args.plan, hello, args.evil.encode())
    tcp = RawTCP(args.src, args.dst, args.sport, args.dport, args.rto_ms / 1000, args.isn)
    try:
        tcp.connect(args.timeout)
        log("connected %s:%d -> %s:%d (isn %d), hello %d bytes, name at %d, %d plan segments" % (
            args.src, args.sport, args.dst, args.dport, tcp.isn, len(hello), hello.find(args.name.encode()),
            sum(1 for p in plan if p[0] == "seg")))
        t0 = time.monotonic()
        first = True
        for step in plan:
            if step[0] == "sleep":
                time.sleep(step[1])
                continue
            if not first and args.gap_ms > 0:
                time.sleep(args.gap_ms / 1000)
            first = False
            off, data = step[1], step[2]
            tcp.send_data(off, data, hello[off:off + len(data)])
        if tcp.snd_max < len(hello):                 # the plan left a tail: send it
            tcp.send_data(tcp.snd_max, hello[tcp.snd_max:])
        t_sent = time.monotonic()
        log("plan sent in %.1f ms (%d segments)" % ((t_sent - t0) * 1000, tcp.segs))
        hello_acked = None
        done_hs = False
        body = b""
        eof = False
        while True:
            if time.monotonic() > deadline:
                raise socket.timeout("overall deadline")
            data = tcp.poll(0.05)
            if hello_acked is None and tcp.snd_una >= len(hello):
                hello_acked = (time.monotonic() - t0) * 1000
                log("hello acknowledged after %.1f ms" % hello_acked)
            if data:
                inbio.write(data)
            if tcp.fin_rcvd and not eof:
                inbio.write_eof()
                eof = True
            if not done_hs:
                try:
                    tls.do_handshake()
                    done_hs = True
                    log("handshake done: %s" % tls.version())
                    tls.write(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % args.name).encode())
                except ssl.SSLWantReadError:
                    pass
            if done_hs:
                while True:
                    try:
                        chunk = tls.read(65536)
                    except ssl.SSLWantReadError:
                        break
                    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                        eof = True
                        break
                    if not chunk:
                        eof = True
                        break
                    body += chunk
            out = outbio.read()
            if out:
                tcp.write(out)
            if eof and (done_hs or tcp.fin_rcvd):
                if not done_hs:
                    raise ConnectionError("server closed during the handshake")
                break
        log("result=ok hello=%d segs=%d hello_acked_ms=%s retrans=%d" % (
            len(hello), tcp.segs, "%.1f" % hello_acked if hello_acked is not None else "-", tcp.retrans))
        return body
    finally:
        tcp.close(args.close)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--sport", type=int, required=True)
    ap.add_argument("--dport", type=int, default=443)
    ap.add_argument("--name", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--gap-ms", type=float, default=0.5)
    ap.add_argument("--alpn-pad", type=int, default=0)
    ap.add_argument("--evil", default="EVIL")
    ap.add_argument("--rto-ms", type=float, default=1000)
    ap.add_argument("--timeout", type=float, default=8)
    ap.add_argument("--dump-hello", default=None)
    ap.add_argument("--isn", type=lambda v: int(v, 0), default=None)
    ap.add_argument("--close", choices=("fin", "rst"), default="fin")
    args = ap.parse_args()
    try:
        data = run(args)
    except ValueError as e:
        log("bad arguments: %s" % e)
        return EXIT_ERR
    except ConnectionResetError as e:
        log("result=reset: %s" % e)
        return EXIT_RESET
    except (socket.timeout, TimeoutError) as e:
        log("result=timeout: %s" % e)
        return EXIT_TIMEOUT
    except (OSError, ssl.SSLError, RuntimeError, ConnectionError) as e:
        log("result=error: %s: %s" % (type(e).__name__, e))
        return EXIT_ERR
    head, _, body = data.partition(b"\r\n\r\n")
    text = body.decode("utf-8", "replace")
    sys.stdout.write(text)
    if text.rstrip("\r\n") == "hello from " + args.name:
        return EXIT_OK
    log("unexpected response: %r" % data[:200])
    return EXIT_ERR


if __name__ == "__main__":
    sys.exit(main())
