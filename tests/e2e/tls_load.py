#!/usr/bin/python3
"""Many HTTPS fetches in parallel, each a new TCP connection and a full TLS
handshake (Debian /usr/bin/python3, stdlib only): load for the e2e tests.

    tls_load.py --name NAME --addr ADDR [--addr ADDR2 ...] (--count N | --duration S)
                [--parallel P] [--timeout T] [--alpn-pad BYTES] [--events FILE]
                [--sport PORT]

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

stdout: one summary line
    tls_load: ok=N fail=M elapsed=S.SSS p50_ms=.. p99_ms=.. max_ms=.. hello_bytes=..
stderr: the first errors.  --events FILE: one line per fetch,
    "START_EPOCH END_EPOCH ok|ERRORKIND ADDR SOURCE_PORT", in completion order.
Exit status: 0 when every fetch succeeded (and at least one ran), 1 otherwise.
"""

import argparse
import socket
import ssl
import sys
import threading
import time


def make_context(alpn_pad):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Self-signed test server: what is tested is the path of the hello.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn_pad > 0:
        protos, left, i = [], alpn_pad, 0
        while left > 0:
            n = min(200, max(left - 1, 1))
            protos.append(("x%d-" % i + "p" * n)[:n])
            left -= n + 1
            i += 1
        ctx.set_alpn_protocols(protos + ["http/1.1"])
    return ctx


def fetch(ctx, name, addr, port, timeout, info, sport=0):
    deadline = time.monotonic() + timeout
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if sport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        try:
            sock.connect((addr, port))
        finally:
            info["sport"] = sock.getsockname()[1]   # bound by connect, even a failed one
        info["stage"] = "handshake"
        tls = ctx.wrap_socket(sock, server_hostname=name)
        tls.settimeout(max(deadline - time.monotonic(), 0.01))
        info["stage"] = "request"
        tls.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode())
        data = b""
        while True:
            tls.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = tls.recv(65536)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not chunk:
                break
            data += chunk
        try:
            tls.close()
        except OSError:
            pass
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if body.decode("utf-8", "replace").rstrip("\r\n") != "hello from " + name:
        raise ValueError("wrong body: %r" % data[:120])


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
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return len(outb.read())


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
    args = ap.parse_args()
    if (args.count > 0) == (args.duration > 0):
        ap.error("give exactly one of --count and --duration")

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
            state["next"] = i + 1
            return i

    def worker():
        while True:
            i = take()
            if i is None:
                return
            addr = args.addr[i % len(args.addr)]
            start_wall, start = time.time(), time.monotonic()
            info = {"sport": 0, "stage": "connect"}
            try:
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
