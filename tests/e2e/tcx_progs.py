#!/usr/bin/env python3
"""tcx_progs.py IFACE [egress|ingress] -- the BPF programs attached at
IFACE's tcx hook (Linux >= 6.6), one "NAME ID" line each, in run order.

Run it inside the namespace of IFACE (ip netns exec NS ...). Asks the kernel
itself (bpf(BPF_PROG_QUERY) on the interface, then each program's info), so
it does not depend on hellosplit nor on a bpftool that knows tcx (Debian
bookworm's does not).  Exit 0 (nothing printed: nothing attached), 1 when
the kernel cannot say (no tcx, no such interface).
"""

import ctypes
import os
import socket
import struct
import sys

SYS_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "i686": 357}
BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_QUERY = 13, 15, 16
TCX = {"ingress": 46, "egress": 47}   # BPF_TCX_INGRESS, BPF_TCX_EGRESS

libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    r = libc.syscall(SYS_BPF[os.uname().machine], cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r, buf.raw


def prog_name(prog_id):
    """The program's name (the first 15 characters of its function's)."""
    fd, _ = bpf(BPF_PROG_GET_FD_BY_ID, struct.pack("=III", prog_id, 0, 0))
    try:
        info = ctypes.create_string_buffer(80)
        bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("=IIQ", fd, 80, ctypes.addressof(info)))
        return info.raw[64:80].split(b"\0")[0].decode()
    finally:
        os.close(fd)


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in TCX):
        sys.exit("usage: tcx_progs.py IFACE [egress|ingress]")
    where = TCX[sys.argv[2] if len(sys.argv) == 3 else "egress"]
    try:
        ifindex = socket.if_nametoindex(sys.argv[1])
    except OSError:
        sys.exit("tcx_progs.py: no interface %s in this network namespace" % sys.argv[1])
    ids = (ctypes.c_uint32 * 64)()
    attr = struct.pack("=IIIIQI", ifindex, where, 0, 0, ctypes.addressof(ids), 64)
    try:
        _, out = bpf(BPF_PROG_QUERY, attr)
    except OSError as e:
        sys.exit("tcx_progs.py: querying %s's tcx %s failed: %s" % (sys.argv[1], sys.argv[2:] or "egress", e))
    count = struct.unpack_from("=I", out, 24)[0]
    for i in range(min(count, 64)):
        print(prog_name(ids[i]), ids[i])


if __name__ == "__main__":
    main()
