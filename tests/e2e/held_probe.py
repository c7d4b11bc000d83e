#!/usr/bin/python3
"""held_probe.py -- how long a held partial ClientHello takes to reach the
server (hellosplit's collect timeout, then fail-open).

    held_probe.py serve ADDR PORT     accept one connection; print the
                                      CLOCK_REALTIME seconds its first bytes
                                      arrived, then exit
    held_probe.py send ADDR PORT N GO connect, wait until the file GO exists,
                                      write the first N bytes of a real
                                      ClientHello (Python ssl), print the
                                      seconds just before the write, keep the
                                      connection 3 s
    held_probe.py flood ADDR PORT S N send 64-byte UDP datagrams to PORT for S
                                      seconds, as fast as N sockets take them:
                                      each socket's send buffer bounds what it
                                      has in flight, so a few keep a queue busy
                                      without filling it (a full one passes
                                      packets by itself)

Both namespaces share the clock, so the difference of the two lines is the
delay the client's bytes saw on the way.
"""
import os
import socket
import ssl
import sys
import time


def hello_bytes():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="www.blocked.example")
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def flood(family, addr, port, seconds, nsocks):
    socks = []
    for _ in range(nsocks):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((addr, port))
        socks.append(s)
    data = b"x" * 64
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in socks:
            for _ in range(16):
                try:
                    s.send(data)
                    sent += 1
                except (BlockingIOError, ConnectionRefusedError):
                    break
    print("sent %d datagrams" % sent, flush=True)


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if mode == "flood":
        flood(family, addr, port, float(sys.argv[4]), int(sys.argv[5]))
        return
    if mode == "serve":
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(1)
        srv.settimeout(30)
        conn, _ = srv.accept()
        conn.settimeout(30)
        if conn.recv(4096):
            print("%.6f" % time.time(), flush=True)
        return
    n, go = int(sys.argv[4]), sys.argv[5]
    data = hello_bytes()[:n]
    sock = socket.create_connection((addr, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while not os.path.exists(go):
        time.sleep(0.005)
    t = time.time()
    sock.sendall(data)
    print("%.6f" % t, flush=True)
    time.sleep(3)
    sock.close()


if __name__ == "__main__":
    main()
