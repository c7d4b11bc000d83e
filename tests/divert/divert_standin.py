#!/usr/bin/python3
"""divert_standin.py - plays divert(4) for the divert build of hellosplit.

The divert stand-in build (make PLATFORM=freebsd-sim -> build/divert-sim/
hellosplit) runs src/daemon-freebsd.c's real loop; only its packet I/O
(src/divert-sim.c) is a SOCK_SEQPACKET socket pair instead of a divert socket.  This program holds
the other end and behaves like the kernel would:

  * it delivers, in capture time, the packets a divert rule would divert, each
    with the 16-byte address divert(4) gives (FreeBSD struct sockaddr_in:
    sin_len, sin_family, sin_port = rule cookie, sin_addr = receiving
    interface address for an inbound packet or INADDR_ANY for an outbound
    one, sin_zero = interface name);
  * it records every packet written back, with its address;
  * it stops the daemon with SIGTERM and collects what comes after.

Rule models (what is diverted, as dist/freebsd/ rules would do it):
  ipfw  `divert 8000 tcp from LAN to any 443 out xmit WAN
        { tcpdatalen 1-65535 or tcpflags syn or tcpflags fin or tcpflags rst }`:
        client->server packets to port 443 carrying payload, SYN, FIN or RST
        (not bare ACKs; IPv6: all of them, as in ipfw.rules), as outbound
        packets (INADDR_ANY, sin_port = rule number 1000).
  pf    `pass in quick on LAN ... port 443 divert-to 127.0.0.1 port 8000`:
        every packet of those connections (pf diverts all packets matching
        the state): client->server ones arrive inbound on the LAN interface
        (sin_addr = 192.168.1.1, "igb1"), replies as outbound ones.

To check that each packet goes back with the address of the packet whose
bytes it carries, the stand-in writes the packet's index into the 3 spare
bytes of sin_zero after the interface name; the daemon treats the address
as opaque bytes, so any mix-up shows.

Standard library only.

  divert_standin.py run --bin B --pcap IN --out OUT.pcap [options] -- [hellosplit args]
  divert_standin.py filter --rule R IN.pcap OUT.pcap   diverted packets of IN, link layer stripped
  divert_standin.py head N IN.pcap OUT.pcap           first N records of IN
  divert_standin.py first-payload IN.pcap             record number of the first hello packet
  divert_standin.py compare A.pcap B.pcap             same IP packets in the same order?
  divert_standin.py selftest                          the checkers catch mutations
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

LINK_ETHERNET, LINK_RAW, LINK_SLL, LINK_SLL2, LINK_IPV4, LINK_IPV6 = 1, 101, 113, 276, 228, 229
PF_DIR_IN, PF_DIR_OUT = 1, 2          # pf's cookie: the packet's original direction
IPFW_RULE = 1000                      # the ipfw rule number in dist/freebsd/ipfw.rules
LAN_ADDR = bytes([192, 168, 1, 1])    # the LAN interface address pf divert reports inbound
SIM_FD_ENV = "HELLOSPLIT_DIVERT_SIM_FD"
TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04


# --------------------------------------------------------------------- pcap

def read_pcap(path):
    """-> (linktype, [(ts_ns, frame bytes)])"""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    else:
        raise ValueError("%s: not a classic pcap file (magic %08x)" % (path, magic))
    nanos = magic == 0xA1B23C4D
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        recs.append((sec * 1_000_000_000 + frac * (1 if nanos else 1000), data[off:off + caplen]))
        off += caplen
    return linktype, recs


def write_pcap(path, linktype, recs):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for ts, frame in recs:
            f.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, len(frame), len(frame)))
            f.write(frame)


def link_len(linktype, frame):
    """Bytes of link header before an IPv4/IPv6 packet, or None."""
    if linktype in (LINK_RAW, LINK_IPV4, LINK_IPV6):
        return 0
    if linktype == LINK_ETHERNET:
        off = 12
        while len(frame) >= off + 2 and frame[off:off + 2] in (b"\x81\x00", b"\x88\xa8") and off < 20:
            off += 4
        proto, off = frame[off:off + 2], off + 2
    elif linktype == LINK_SLL:
        proto, off = frame[14:16], 16
    elif linktype == LINK_SLL2:
        proto, off = frame[0:2], 20
    else:
        return None
    return off if proto in (b"\x08\x00", b"\x86\xdd") and len(frame) > off else None


def ip_trim(pkt):
    """The IP packet without trailing link padding (its own length field)."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        n = struct.unpack("!H", pkt[2:4])[0]
        return pkt[:n] if 20 <= n <= len(pkt) else pkt
    if len(pkt) >= 40 and pkt[0] >> 4 == 6:
        n = 40 + struct.unpack("!H", pkt[4:6])[0]
        return pkt[:n] if n <= len(pkt) else pkt
    return pkt


def ip_packets(path):
    """-> [(ts_ns, ip packet)] for every IPv4/IPv6 record of a capture."""
    linktype, recs = read_pcap(path)
    out = []
    for ts, frame in recs:
        n = link_len(linktype, frame)
        if n is not None:
            out.append((ts, ip_trim(frame[n:])))
    return out


def tcp_view(pkt):
    """-> dict(src, dst, sport, dport, seq, payload_len) for an unfragmented TCP packet, else None."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 15) * 4
        frag = struct.unpack("!H", pkt[6:8])[0]
        if pkt[9] != 6 or frag & 0x3FFF or len(pkt) < ihl + 20:
            return None
        src, dst, off = pkt[12:16], pkt[16:20], ihl
    elif len(pkt) >= 60 and pkt[0] >> 4 == 6:
        if pkt[6] != 6:
            return None
        src, dst, off = pkt[8:24], pkt[24:40], 40
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", pkt[off:off + 8])
    doff = (pkt[off + 12] >> 4) * 4
    if doff < 20 or off + doff > len(pkt):
        return None
    return dict(src=src, dst=dst, sport=sport, dport=dport, seq=seq, flags=pkt[off + 13], v6=len(src) == 16,
                payload=len(pkt) - off - doff)


# --------------------------------------------------------------------- the rules

def diverted(rule, pkt, ports=(443,)):
    """None when the rule does not divert pkt, else 'in' or 'out' (client->server) / 'reply'."""
    t = tcp_view(pkt)
    if t is None:
        return None
    if rule == "ipfw":
        # IPv6: every client packet (ipfw's tcpdatalen is unusable there, see ipfw.rules)
        wanted = t["v6"] or t["payload"] > 0 or t["flags"] & (TCP_SYN | TCP_FIN | TCP_RST)
        return "out" if t["dport"] in ports and wanted else None
    if rule == "pf":
        if t["dport"] in ports:
            return "in"
        if t["sport"] in ports:
            return "reply"
        return None
    raise ValueError("unknown rule %r" % rule)


def address(rule, kind, index):
    """The 16-byte sockaddr_in divert(4) would give, with index in sin_zero's spare bytes."""
    token = struct.pack("!I", index)[1:]
    if rule == "ipfw":                                   # outbound, forwarded from the LAN
        port, addr, ifname = IPFW_RULE, bytes(4), b"igb1"
    elif kind == "in":                                   # inbound on the LAN interface
        port, addr, ifname = PF_DIR_IN, LAN_ADDR, b"igb1"
    else:                                                # a reply, outbound on the LAN
        port, addr, ifname = PF_DIR_OUT, bytes(4), b"igb0"
    return bytes([16, 2]) + struct.pack("!H", port) + addr + ifname + b"\0" + token


def address_index(addr):
    return struct.unpack("!I", b"\0" + addr[13:16])[0] if len(addr) == 16 else None


# --------------------------------------------------------------------- checks

def check_addresses(sent, returned):
    """Every returned packet carries the address of the packet whose bytes it
    carries: the very packet, or (a split segment) a packet of the same flow
    whose sequence range its payload overlaps. -> list of problems."""
    problems = []
    by_addr = {a: (i, p) for i, (a, p) in enumerate(sent)}
    for k, (addr, pkt) in enumerate(returned):
        if addr not in by_addr:
            problems.append("returned packet %d has an address the stand-in never gave: %s" % (k, addr.hex()))
            continue
        i, orig = by_addr[addr]
        if pkt == orig:
            continue
        t, o = tcp_view(pkt), tcp_view(orig)
        same_flow = t and o and all(t[f] == o[f] for f in ("src", "dst", "sport", "dport"))
        if not same_flow:
            problems.append("returned packet %d carries the address of packet %d of another flow" % (k, i))
            continue
        lo, hi = o["seq"], (o["seq"] + max(o["payload"], 1)) & 0xFFFFFFFF
        start = t["seq"]
        end = (start + max(t["payload"], 1)) & 0xFFFFFFFF
        overlap = ((start - lo) & 0xFFFFFFFF) < ((hi - lo) & 0xFFFFFFFF) or \
            ((lo - start) & 0xFFFFFFFF) < ((end - start) & 0xFFFFFFFF)
        if not overlap:
            problems.append("returned segment %d (seq %u, %u bytes) carries the address of packet %d "
                            "(seq %u, %u bytes): not its bytes" % (k, start, t["payload"], i, lo, o["payload"]))
    return problems


def compare_lists(a, b, name_a="reference", name_b="divert"):
    """-> None when equal, else a one-line description of the first difference."""
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            ta, tb = tcp_view(a[i]), tcp_view(b[i])
            desc = lambda t: "seq %u len %u" % (t["seq"], t["payload"]) if t else "non-TCP"
            return "packet %d differs: %s %s (%d bytes), %s %s (%d bytes)" % (
                i, name_a, desc(ta), len(a[i]), name_b, desc(tb), len(b[i]))
    if len(a) != len(b):
        return "%s has %d packets, %s %d" % (name_a, len(a), name_b, len(b))
    return None


# --------------------------------------------------------------------- run

class Collector(threading.Thread):
    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.port, self.got, self.error = sock, None, [], None

    def run(self):
        try:
            while True:
                msg = self.sock.recv(70000)
                if not msg:
                    return
                if self.port is None and len(msg) == 2:
                    self.port = struct.unpack("!H", msg)[0]
                elif len(msg) <= 16:
                    self.error = "a %d-byte message from the daemon (address + packet expected)" % len(msg)
                else:
                    self.got.append((time.monotonic(), msg[:16], msg[16:]))
        except OSError as e:
            self.error = str(e)


def cmd_run(a):
    packets = [(ts, p) for ts, p in ip_packets(a.pcap)]
    feed = []
    for index, (ts, p) in enumerate(packets):
        kind = diverted(a.rule, p)
        if kind:
            feed.append((ts, address(a.rule, kind, index), p))
    if a.stop_after is not None:
        feed = feed[:a.stop_after]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env = dict(os.environ, **{SIM_FD_ENV: str(theirs.fileno())})
    args = [a.bin] + a.args
    with open(a.stderr, "w") as err:
        child = subprocess.Popen(args, env=env, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                 stdout=err, stderr=err)
    theirs.close()
    col = Collector(ours)
    col.start()
    problems = []
    t0, ts0 = time.monotonic() + 0.05, feed[0][0] if feed else 0
    for ts, addr, p in feed:
        delay = t0 + (ts - ts0) / 1e9 * a.slow - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ours.send(addr + p)
    if a.usr1:
        time.sleep(0.1)
        child.send_signal(signal.SIGUSR1)
    if a.hup:
        time.sleep(0.1)
        child.send_signal(signal.SIGHUP)
    time.sleep(a.linger_ms / 1000)
    if a.probe_file and not os.path.exists(a.probe_file):
        problems.append("%s was not written while the daemon ran (--stats-interval)" % a.probe_file)
    returned_before_stop = len(col.got)
    stop_time = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        rc = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        rc = child.wait()
        problems.append("the daemon did not stop within 10 s of SIGTERM")
    col.join(timeout=5)
    ours.close()
    if rc != 0:
        problems.append("the daemon exited %d (0 expected after SIGTERM); see %s" % (rc, a.stderr))
    if col.error:
        problems.append("stand-in socket: " + col.error)
    if col.port != a.port:
        problems.append("the daemon bound divert port %s, %d expected" % (col.port, a.port))
    returned = [(addr, p) for _, addr, p in col.got]
    problems += check_addresses([(addr, p) for _, addr, p in feed], returned)
    write_pcap(a.out, LINK_RAW, [(int(t * 1e9), p) for t, _, p in col.got])
    fed = {p for _, _, p in feed}
    after = col.got[returned_before_stop:]
    summary = dict(fed=len(feed), returned=len(returned), returned_after_sigterm=len(after),
                   last_after_sigterm=bool(col.got) and col.got[-1][0] > stop_time,
                   after_sigterm_unchanged=all(p in fed for _, _, p in after), exit=rc)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f)
    for p in problems:
        print("standin: " + p)
    return 1 if problems else 0


def cmd_filter(a):
    recs = [(ts, p) for ts, p in ip_packets(a.input) if diverted(a.rule, p)]
    write_pcap(a.output, LINK_RAW, recs)
    return 0


def cmd_head(a):
    linktype, recs = read_pcap(a.input)
    write_pcap(a.output, linktype, recs[:a.count])
    return 0


def cmd_first_payload(a):
    """Prints the 1-based record number of the first client->server packet with payload."""
    linktype, recs = read_pcap(a.input)
    for n, (_, frame) in enumerate(recs, 1):
        off = link_len(linktype, frame)
        t = tcp_view(ip_trim(frame[off:])) if off is not None else None
        if t and t["dport"] == 443 and t["payload"] > 0:
            print(n)
            return 0
    return 1


def cmd_compare(a):
    diff = compare_lists([p for _, p in ip_packets(a.a)], [p for _, p in ip_packets(a.b)], a.name_a, a.name_b)
    if diff:
        print(diff)
        return 1
    return 0


def cmd_selftest(_a):
    """The checkers must catch every mutation; -> exit 1 when one is missed."""
    def tcp4(seq, payload, sport=40001):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 1, 0x4000, 64, 6, 0,
                         bytes([198, 18, 1, 2]), bytes([198, 18, 2, 2]))
        return ip + struct.pack("!HHIIBBHHH", sport, 443, seq, 1, 0x50, 0x18, 502, 0, 0) + payload

    hello = tcp4(1000, b"\x16\x03\x01" + bytes(200))
    other = tcp4(5000, bytes(50), sport=40002)
    seg1, seg2 = tcp4(1000, hello[40:45]), tcp4(1005, hello[45:])
    a_hello, a_other = address("ipfw", "out", 0), address("ipfw", "out", 1)
    sent = [(a_hello, hello), (a_other, other)]
    good = [(a_hello, seg1), (a_hello, seg2), (a_other, other)]
    missed = []
    if check_addresses(sent, good):
        missed.append("a correct run was flagged: %s" % check_addresses(sent, good))
    mutations = {
        "segment with the other flow's address": [(a_other, seg1), (a_hello, seg2), (a_other, other)],
        "address never given": [(address("ipfw", "out", 7), seg1), (a_hello, seg2), (a_other, other)],
        "segment outside its packet's bytes": [(a_hello, tcp4(9000, bytes(5))), (a_hello, seg2), (a_other, other)],
    }
    for name, returned in mutations.items():
        if not check_addresses(sent, returned):
            missed.append(name)
    ref = [seg1, seg2, other]
    flipped = bytearray(seg2)
    flipped[60] ^= 1
    for name, out in {"byte flipped": [seg1, bytes(flipped), other], "packet dropped": [seg1, other],
                      "reordered": [seg2, seg1, other], "extra packet": ref + [other],
                      "unsplit hello": [hello, other]}.items():
        if compare_lists(ref, out) is None:
            missed.append("compare: " + name)
    if compare_lists(ref, list(ref)) is not None:
        missed.append("compare flagged equal lists")
    for m in missed:
        print("selftest: NOT CAUGHT: " + m)
    print("selftest: %d address mutations and 5 compare mutations, %d missed" % (len(mutations), len(missed)))
    return 1 if missed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--pcap", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--rule", choices=("ipfw", "pf"), default="ipfw")
    r.add_argument("--port", type=int, default=8000, help="divert port the daemon must bind")
    r.add_argument("--stop-after", type=int, help="deliver only the first N diverted packets")
    r.add_argument("--linger-ms", type=int, default=600, help="wait after the last packet, then SIGTERM")
    r.add_argument("--slow", type=float, default=1.0, help="stretch the capture's time by this factor")
    r.add_argument("--usr1", action="store_true", help="send SIGUSR1 once after the last packet")
    r.add_argument("--hup", action="store_true", help="send SIGHUP once after the last packet")
    r.add_argument("--probe-file", help="must exist before SIGTERM")
    r.add_argument("--summary", help="write counts as JSON here")
    r.add_argument("--stderr", default="/dev/null")
    r.add_argument("args", nargs="*")
    f = sub.add_parser("filter")
    f.add_argument("--rule", choices=("ipfw", "pf"), default="ipfw")
    f.add_argument("input")
    f.add_argument("output")
    h = sub.add_parser("head")
    h.add_argument("count", type=int)
    h.add_argument("input")
    h.add_argument("output")
    fp = sub.add_parser("first-payload")
    fp.add_argument("input")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--name-a", default="reference")
    c.add_argument("--name-b", default="divert")
    sub.add_parser("selftest")
    a = ap.parse_args()
    return {"run": cmd_run, "filter": cmd_filter, "head": cmd_head, "first-payload": cmd_first_payload,
            "compare": cmd_compare,
            "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
