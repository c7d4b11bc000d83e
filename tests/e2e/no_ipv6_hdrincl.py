#!/usr/bin/python3
"""no_ipv6_hdrincl.py CMD [ARG...] -- run CMD where the kernel refuses
setsockopt(IPPROTO_IPV6, IPV6_HDRINCL) with ENOPROTOOPT, as kernels before
4.5 and some sandboxes do.  A seccomp filter (inherited by every child)
answers that one call; everything else runs as usual.  x86_64 and aarch64.
"""
import ctypes
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
ENOPROTOOPT = 92
IPPROTO_IPV6 = 41
IPV6_HDRINCL = 36
# BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
RET_K = 0x06
# (audit arch, setsockopt syscall number)
ARCHES = {"x86_64": (0xC000003E, 54), "aarch64": (0xC00000B7, 208)}


def insn(code, jt, jf, k):
    return struct.pack("=HBBI", code, jt, jf, k)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    arch, nr = ARCHES[platform.machine()]
    # seccomp_data: nr @0, arch @4, ip @8, args[i] @16 + 8 i (low half first)
    prog = b"".join([
        insn(LD_W_ABS, 0, 0, 4), insn(JEQ_K, 0, 7, arch),
        insn(LD_W_ABS, 0, 0, 0), insn(JEQ_K, 0, 5, nr),
        insn(LD_W_ABS, 0, 0, 24), insn(JEQ_K, 0, 3, IPPROTO_IPV6),
        insn(LD_W_ABS, 0, 0, 32), insn(JEQ_K, 0, 1, IPV6_HDRINCL),
        insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOPROTOOPT),
        insn(RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0):
        sys.exit("no_ipv6_hdrincl: installing the seccomp filter failed: %s" % os.strerror(ctypes.get_errno()))
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
