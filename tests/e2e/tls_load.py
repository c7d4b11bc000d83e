#!/usr/bin/python3
"""Many HTTPS fetches in parallel, each a new TCP connection and a full TLS
handshake (Debian /usr/bin/python3, stdlib only): load for the e2e tests.

    tls_load.py --name NAME --addr ADDR [--addr ADDR2 ...] (--count N | --duration S)
                [--parallel P] [--timeout T] [--alpn-pad BYTES] [--events FILE]
                [--sport PORT] [--stall OFF:MS] [--plain-http] [--rate R]

Every fetch connects to the next --addr (round robin, so IPv4 and IPv6 can
alternate), sends "GET / HTTP/1.1" with Host NAME and Connection: close, and
counts as ok only when the body is exactly "hello from NAME" (the right vhost
answered through the whole path).  --count: exactly N fetches; --duration:
start new fetches until S seconds have passed.  --alpn-pad BYTES offers extra
made-up ALPN protocol names (plus http/1.1, which the server picks) so the
ClientHello grows by about BYTES: a hello larger than the MSS, written in one
send(), leaves a local stack with offloads on as one GSO super-packet.
--sport PORT binds every connection to that source port (SO_REUSEADDR): with
--parallel 1, consecutive fetches reuse the same TCP 4-tuple (the server
closes first, so the client keeps no TIME_WAIT).
--rate R paces the fetches: fetch i starts no earlier than i/R seconds after
the start (R per second in total, fewer when --parallel cannot keep up).
--stall OFF:MS writes the first OFF bytes of the ClientHello, sleeps MS
milliseconds, then the rest (TCP_NODELAY; the TLS engine runs over
ssl.MemoryBIO), like a client stalling mid-hello.
--plain-http sends a plain-text "GET / HTTP/1.1" to the port (no TLS: a
non-TLS protocol on 443); it counts as ok when the answer is nginx's
"400 The plain HTTP request was sent to HTTPS port" page, i.e. the request
reached the server intact and the answer came back.

stdout: one summary line
    tls_load: ok=N fail=M elapsed=S.SSS p50_ms=.. p99_ms=.. max_ms=.. hello_bytes=..
stderr: the first errors.  --events FILE: one line per fetch,
    "START_EPOCH END_EPOCH ok|ERRORKIND ADDR SOURCE_PORT", in completion order.
Exit status: 0 when every fetch succeeded (and at least one ran), 1 otherwise.
"""

import argparse
import errno
import socket
import ssl
import sys
import threading
import time

from tlsclient import make_context, start_hello


def _request(name):
    return ("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode()


def _check_body(data, name):
    """The test server answers "hello from NAME" for the vhost NAME."""
    head, _, body = data.partition(b"\r\n\r\n")
    if body.decode("utf-8", "replace").rstrip("\r\n") != "hello from " + name:
        raise ValueError("wrong body: %r" % data[:120])


def fetch(ctx, name, addr, port, timeout, info, sport=0):
    deadline = time.monotonic() + timeout
    sock = _connect(addr, port, timeout, info, sport)
    try:
        info["stage"] = "handshake"
        tls = ctx.wrap_socket(sock, server_hostname=name)
        tls.settimeout(max(deadline - time.monotonic(), 0.01))
        info["stage"] = "request"
        tls.sendall(_request(name))
        data = _read_all(tls.recv, deadline, tls.settimeout)
        try:
            tls.close()
        except OSError:
            pass
    finally:
        sock.close()
    _check_body(data, name)


def _read_all(sock_read, deadline, settimeout):
    data = b""
    while True:
        settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock_read(65536)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _connect(addr, port, timeout, info, sport):
    """A connected socket; with sport, from that source port. The previous
    connection on the port may still be closing (the server closed first and
    its last ACK is on the way): connect() then fails with EADDRNOTAVAIL for a
    moment, so it is tried again for up to a second."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for attempt in range(50):
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            if sport:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
            try:
                sock.connect((addr, port))
            finally:
                info["sport"] = sock.getsockname()[1]   # bound by connect, even a failed one
            return sock
        except OSError as e:
            sock.close()
            if not sport or e.errno not in (errno.EADDRNOTAVAIL, errno.EADDRINUSE) or attempt == 49:
                raise
            time.sleep(0.02)


def fetch_plain(name, addr, port, timeout, info, sport=0):
    """Plain HTTP to a TLS port: nginx answers 400 "plain HTTP ... HTTPS port"."""
    deadline = time.monotonic() + timeout
    sock = _connect(addr, port, timeout, info, sport)
    try:
        info["stage"] = "request"
        sock.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: hellosplit-e2e-plain\r\n"
                      "Connection: close\r\n\r\n" % name).encode())
        data = _read_all(sock.recv, deadline, sock.settimeout)
    finally:
        sock.close()
    if b"The plain HTTP request was sent to HTTPS port" not in data:
        raise ValueError("wrong answer: %r" % data[:120])


def fetch_stall(ctx, name, addr, port, timeout, info, sport, stall_off, stall_ms):
    """The hello in two writes with a pause between (MemoryBIO TLS)."""
    deadline = time.monotonic() + timeout
    tls, inb, outb, hello = start_hello(ctx, name)
    sock = _connect(addr, port, timeout, info, sport)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        info["stage"] = "hello"
        sock.sendall(hello[:stall_off])
        time.sleep(stall_ms / 1000)
        sock.sendall(hello[stall_off:])
        info["stage"] = "handshake"

        def pump():
            out = outb.read()
            if out:
                sock.sendall(out)

        def feed():
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            d = sock.recv(65536)
            if d:
                inb.write(d)
            else:
                inb.write_eof()
            return bool(d)

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
                if not feed():
                    raise ConnectionError("closed during the handshake")
        pump()
        info["stage"] = "request"
        tls.write(_request(name))
        pump()
        data, eof = b"", False
        while True:
            try:
                chunk = tls.read(65536)
                if not chunk:
                    break
                data += chunk
            except ssl.SSLWantReadError:
                pump()
                if eof:
                    break
                eof = not feed()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
    finally:
        sock.close()
    _check_body(data, name)


def kind_of(exc):
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ValueError):
        return "wrong-body"
    return "error"


def hello_size(ctx, name):
    """Length of the ClientHello record this context writes for name."""
    return len(start_hello(ctx, name)[3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--alpn-pad", type=int, default=0)
    ap.add_argument("--events", default=None)
    ap.add_argument("--sport", type=int, default=0)
    ap.add_argument("--stall", default=None, metavar="OFF:MS")
    ap.add_argument("--plain-http", action="store_true")
    ap.add_argument("--rate", type=float, default=0)
    args = ap.parse_args()
    if (args.count > 0) == (args.duration > 0):
        ap.error("give exactly one of --count and --duration")
    stall = None
    if args.stall:
        try:
            off, ms = args.stall.split(":")
            stall = (int(off), float(ms))
        except ValueError:
            ap.error("--stall wants OFF:MS, e.g. 100:500")
        if args.plain_http:
            ap.error("--stall and --plain-http exclude each other")

    ctx = make_context(args.alpn_pad)
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "fail": 0, "errors": [], "lat": [], "events": []}
    t0 = time.monotonic()

    def take():
        with lock:
            i = state["next"]
            if args.count and i >= args.count:
                return None
            if args.duration and time.monotonic() - t0 >= args.duration:
                return None
            if args.rate > 0 and args.duration and i / args.rate >= args.duration:
                return None
            state["next"] = i + 1
            return i

    def worker():
        while True:
            i = take()
            if i is None:
                return
            if args.rate > 0:
                wait = t0 + i / args.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            addr = args.addr[i % len(args.addr)]
            start_wall, start = time.time(), time.monotonic()
            info = {"sport": 0, "stage": "connect"}
            try:
                if args.plain_http:
                    fetch_plain(args.name, addr, args.port, args.timeout, info, args.sport)
                elif stall:
                    fetch_stall(ctx, args.name, addr, args.port, args.timeout, info, args.sport, *stall)
                else:
                    fetch(ctx, args.name, addr, args.port, args.timeout, info, args.sport)
                res = "ok"
            except Exception as e:  # every failure is counted, none is fatal
                res = kind_of(e)
                err = "%s port %d -> %s: %s in %s: %s: %s" % (
                    time.strftime("%H:%M:%S", time.localtime(start_wall)), info["sport"], addr, res,
                    info["stage"], type(e).__name__, e)
            ms = (time.monotonic() - start) * 1000
            with lock:
                state["lat"].append(ms)
                state["events"].append("%.6f %.6f %s %s %d" % (start_wall, time.time(), res, addr, info["sport"]))
                if res == "ok":
                    state["ok"] += 1
                else:
                    state["fail"] += 1
                    if len(state["errors"]) < 10:
                        state["errors"].append(err)

    threads = [threading.Thread(target=worker) for _ in range(max(args.parallel, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    lat = sorted(state["lat"]) or [0.0]

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))]

    for e in state["errors"]:
        print("tls_load: " + e, file=sys.stderr)
    if args.events:
        with open(args.events, "w") as f:
            f.write("\n".join(state["events"]) + "\n")
    print("tls_load: ok=%d fail=%d elapsed=%.3f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f hello_bytes=%d" % (
        state["ok"], state["fail"], elapsed, pct(0.5), pct(0.99), lat[-1], hello_size(ctx, args.name)))
    return 0 if state["fail"] == 0 and state["ok"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
