#!/usr/bin/python3
"""HTTPS client whose ClientHello can be written to TCP in hand-made pieces.

Run with Debian's /usr/bin/python3 (stdlib only).  The TLS engine is Python's
own ssl module driven through ssl.MemoryBIO: it produces the real ClientHello
for --name, this script writes those bytes to a plain TCP socket (TCP_NODELAY)
in pieces cut at --cuts, sleeping --delay seconds between pieces so each piece
leaves as its own TCP segment, then completes the handshake over the same
socket, sends "GET --path HTTP/1.1" and checks the response body.

  --plain        no MemoryBIO, no cutting: the ordinary
                 SSLContext.wrap_socket() client (what an unmodified Python
                 application does).  Used by lib.sh's fetch_python.
  --cuts SPEC    comma-separated cut offsets into the ClientHello *record*
                 (offset 0 is the 0x16 of the TLS record header).  Items:
                   N          absolute offset, e.g. 5 = record header alone
                   sni        first byte of the hostname in the SNI extension
                   sni+K      / sni-K   relative to it
                   midlabel   middle of the hostname's middle label
                              (www.blo|cked.example); for two labels the
                              middle of the first one
                 Empty: the hello is written in one piece.
  --records SPEC re-frame the ClientHello into several TLS records, cut at
                 SPEC (same syntax and coordinates as --cuts: offsets into
                 the original record); each record gets its own 5-byte header
                 (0x16 + the original version bytes) and, unless --coalesce,
                 is written as its own piece.  Not combinable with --cuts.
  --coalesce     with --records: write all records in one piece
  --dump-hello F write the ClientHello record bytes to F (as produced by the
                 TLS library, before any re-framing)

Output: the response body on stdout; a line describing the hello and the
pieces on stderr.  Exit status: 0 body is exactly --expect (default
"hello from NAME"), 1 other failure / wrong body, 2 connection reset,
3 timeout, 4 connection refused.
"""

import argparse
import socket
import ssl
import sys
import time

from tlsclient import make_context, start_hello

EXIT_OK, EXIT_ERR, EXIT_RESET, EXIT_TIMEOUT, EXIT_REFUSED = 0, 1, 2, 3, 4


def log(msg):
    print("split_client: " + msg, file=sys.stderr, flush=True)


def request_bytes(name, path):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hellosplit-e2e\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n" % (path, name)).encode()


def resolve_cuts(spec, hello, name):
    """Turn the --cuts SPEC into sorted offsets strictly inside the hello."""
    if not spec:
        return []
    pos = hello.find(name.encode("ascii"))
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "midlabel" or item.startswith("sni"):
            if pos < 0:
                raise ValueError("hostname not found in the ClientHello")
        if item == "midlabel":
            labels = name.split(".")
            idx = len(labels) // 2 if len(labels) >= 3 else 0
            start = sum(len(l) + 1 for l in labels[:idx])
            off = pos + start + max(1, len(labels[idx]) // 2)
        elif item.startswith("sni"):
            rest = item[3:]
            off = pos + (int(rest) if rest else 0)
        else:
            off = int(item, 0)
        if not 0 < off < len(hello):
            raise ValueError("cut %r -> %d is outside 1..%d" % (item, off, len(hello) - 1))
        out.append(off)
    return sorted(set(out))


def parse_body(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, data
    status = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    return status, body


def run_plain(args):
    ctx = make_context()
    sock = socket.create_connection((args.addr, args.port), timeout=args.timeout)
    with ctx.wrap_socket(sock, server_hostname=args.name) as tls:
        log("plain: %s via %s" % (tls.version(), args.addr))
        tls.sendall(request_bytes(args.name, args.path))
        chunks = []
        while True:
            try:
                chunk = tls.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def run_split(args):
    deadline = time.monotonic() + args.timeout
    ctx = make_context()
    tls, inbio, outbio, hello = start_hello(ctx, args.name)
    if not hello or hello[0] != 0x16:
        raise RuntimeError("no TLS handshake record produced")
    if args.dump_hello:
        with open(args.dump_hello, "wb") as f:
            f.write(hello)
    pos = hello.find(args.name.encode("ascii"))
    if args.records:
        rcuts = [c for c in resolve_cuts(args.records, hello, args.name) if c > 5]
        bounds = [5] + rcuts + [len(hello)]
        records = [hello[:3] + (b - a).to_bytes(2, "big") + hello[a:b]
                   for a, b in zip(bounds, bounds[1:])]
        pieces = [b"".join(records)] if args.coalesce else records
        log("hello %d bytes, name at %d..%d, %d records %s, pieces %s" % (
            len(hello), pos, pos + len(args.name), len(records),
            "+".join(str(len(r)) for r in records),
            "+".join(str(len(p)) for p in pieces)))
    else:
        cuts = resolve_cuts(args.cuts, hello, args.name)
        bounds = [0] + cuts + [len(hello)]
        pieces = [hello[a:b] for a, b in zip(bounds, bounds[1:])]
        log("hello %d bytes, name at %d..%d, pieces %s" % (
            len(hello), pos, pos + len(args.name),
            "+".join(str(len(p)) for p in pieces)))

    sock = socket.create_connection((args.addr, args.port), timeout=args.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def left():
        t = deadline - time.monotonic()
        if t <= 0:
            raise socket.timeout("overall deadline")
        return t

    def flush():
        data = outbio.read()
        if data:
            sock.settimeout(left())
            sock.sendall(data)

    def feed():
        sock.settimeout(left())
        data = sock.recv(65536)
        if data:
            inbio.write(data)
        else:
            inbio.write_eof()
        return bool(data)

    try:
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(args.delay)
            sock.settimeout(left())
            sock.sendall(piece)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                if not feed():
                    raise ConnectionError("server closed during handshake")
        flush()
        log("handshake done: %s" % tls.version())
        tls.write(request_bytes(args.name, args.path))
        flush()
        chunks = []
        eof = False
        while True:
            try:
                chunk = tls.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            except ssl.SSLWantReadError:
                flush()
                if eof:
                    break
                eof = not feed()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        return b"".join(chunks)
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True, help="SNI / Host name")
    ap.add_argument("--addr", required=True, help="server address to connect to")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--plain", action="store_true", help="ordinary wrap_socket client")
    ap.add_argument("--cuts", default="", help="cut offsets into the ClientHello (see above)")
    ap.add_argument("--records", default="", help="re-frame into TLS records at these cuts")
    ap.add_argument("--coalesce", action="store_true", help="with --records: one piece")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds between pieces")
    ap.add_argument("--timeout", type=float, default=5.0, help="overall seconds")
    ap.add_argument("--path", default="/")
    ap.add_argument("--expect", default=None, help='body to expect (default "hello from NAME")')
    ap.add_argument("--dump-hello", default=None, metavar="FILE")
    args = ap.parse_args()
    expect = args.expect if args.expect is not None else "hello from " + args.name
    if args.records and (args.cuts or args.plain):
        ap.error("--records cannot be combined with --cuts or --plain")

    try:
        data = run_plain(args) if args.plain else run_split(args)
    except ValueError as e:
        log("bad arguments: %s" % e)
        return EXIT_ERR
    except ConnectionResetError as e:
        log("connection reset: %s" % e)
        return EXIT_RESET
    except ConnectionRefusedError as e:
        log("connection refused: %s" % e)
        return EXIT_REFUSED
    except (socket.timeout, TimeoutError) as e:
        log("timeout: %s" % e)
        return EXIT_TIMEOUT
    except (OSError, ssl.SSLError, RuntimeError, ConnectionError) as e:
        log("error: %s: %s" % (type(e).__name__, e))
        return EXIT_ERR

    status, body = parse_body(data)
    text = body.decode("utf-8", "replace")
    sys.stdout.write(text)
    sys.stdout.flush()
    if text.rstrip("\r\n") == expect:
        return EXIT_OK
    log("unexpected response: status %r, body %r" % (status, text[:200]))
    return EXIT_ERR


if __name__ == "__main__":
    sys.exit(main())
