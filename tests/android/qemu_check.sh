#!/bin/bash
# tests/android/qemu_check.sh -- the static builds are the same program
# (doc/testing.md layer 5): `make android-check` builds them, then runs this.
#
#   1. build/android-arm64/hellosplit (aarch64), build/android-arm/hellosplit
#      (armv7 hard-float) and build/static/hellosplit (x86_64) are static ELF
#      files of the right machine, with no program interpreter;
#   2. the cross-built unit tests pass under qemu-user with as many checks as
#      this machine's build/unit/run;
#   3. offline mode over every capture of tests/captures/ and
#      tests/offline/pcaps/, with several --split-at specs and modes: each
#      static binary (arm64 and arm under qemu-user) writes the same
#      --pcap-out and --stats-json (minus uptime_s) as build/hellosplit, byte
#      for byte, with the same exit status;
#   4. as root: the aarch64 daemon starts under qemu in a private network
#      namespace (privilege check, /etc/passwd lookup, fork) and fails
#      cleanly where qemu-user stops it: NETLINK_NETFILTER is not emulated
#      (errno 93), so the one-line nfnetlink error and exit 1 are expected.
#
# Prints PASS/FAIL lines, the run times side by side, then 'N passed, N
# failed'; exits 1 on any failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
REF=build/hellosplit
STATIC=build/static/hellosplit
A64=build/android-arm64/hellosplit
A32=build/android-arm/hellosplit
QEMU64=qemu-aarch64-static
QEMU32=qemu-arm-static
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-qemu.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
now() { date +%s.%N; }

for f in "$REF" "$STATIC" "$A64" "$A32" build/unit/run build/android-arm64/unit build/android-arm/unit; do
    [[ -x $f ]] || { echo "FAIL: $f missing (run: make android-check)"; echo "0 passed, 1 failed"; exit 1; }
done
for t in "$QEMU64" "$QEMU32" readelf cmp; do
    command -v "$t" >/dev/null || { echo "FAIL: $t missing (apt-get install qemu-user-static binutils)"; exit 1; }
done

# ---------------------------------------------------------------- 1. ELF

elf_check() { # FILE MACHINE
    local f=$1 machine=$2 h
    h=$(readelf -h "$f" 2>/dev/null)
    if ! grep -q "Machine: *$machine\$" <<<"$h"; then
        fail "$f: not a $machine ELF file ($(sed -n 's/^ *Machine: *//p' <<<"$h"))"
    elif readelf -l "$f" | grep -q 'INTERP'; then
        fail "$f: has a program interpreter (dynamically linked)"
    elif readelf -d "$f" 2>/dev/null | grep -q 'NEEDED'; then
        fail "$f: needs shared libraries"
    else
        pass "$f: static $machine executable ($(stat -c %s "$f") bytes)"
    fi
}
elf_check "$A64" AArch64
elf_check "$A32" ARM
elf_check "$STATIC" 'Advanced Micro Devices X86-64'
# Android's armeabi-v7a passes floats in VFP registers only with hard-float;
# Debian's armhf is ARMv7-A + VFPv3-D16, which every armeabi-v7a CPU has.
if readelf -A "$A32" | grep -q 'Tag_ABI_VFP_args: VFP registers' &&
    readelf -A "$A32" | grep -q "Tag_CPU_arch: v7"; then
    pass "$A32: ARMv7, hard-float (VFP registers)"
else
    fail "$A32: not ARMv7 hard-float: $(readelf -A "$A32" | grep -E 'CPU_arch:|VFP_args' | tr -s ' \n' ' ')"
fi

# ---------------------------------------------------------------- 2. unit tests

want=$(build/unit/run 2>/dev/null | tail -n1)
for arch in arm64 arm; do
    q=$QEMU64
    [[ $arch == arm ]] && q=$QEMU32
    t0=$(now)
    got=$("$q" build/android-$arch/unit 2>"$TMP/unit-$arch.err" | tail -n1)
    t1=$(now)
    if [[ $got == "$want" && $got == *" passed, 0 failed" ]]; then
        pass "unit tests under $q: $got ($(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s)"
    else
        fail "unit tests under $q: '$got', this machine: '$want'"
        grep FAILED "$TMP/unit-$arch.err" | head -5 | sed 's/^/      | /'
    fi
done

# ---------------------------------------------------------------- 3. offline

# shellcheck disable=SC2054  # commas are part of the specs
SPECS=(5 1 sni midsld sniend-1 2,sni,sniend)
CASES=()     # "capture|args"
for cap in tests/captures/*.pcap; do
    for spec in "${SPECS[@]}"; do CASES+=("$cap|--split-at $spec"); done
    CASES+=("$cap|--split-at 1,midsld --tls-complete handshake")
done
for cap in tests/offline/pcaps/*.pcap; do
    CASES+=("$cap|--split-at 5" "$cap|--split-at 2,sni,sniend" "$cap|--split-mode immediate --split-at 3")
done

# run_all NAME RUNNER... -- every case with one binary; outputs under $TMP/NAME,
# the wall time of the whole set in $TMP/NAME.time
run_all() {
    local name=$1 i cap args rc t0 t1
    shift
    mkdir -p "$TMP/$name"
    t0=$(now)
    for i in "${!CASES[@]}"; do
        cap=${CASES[$i]%%|*}
        args=${CASES[$i]#*|}
        # shellcheck disable=SC2086  # args split into words on purpose
        timeout -s KILL 60 "$@" --pcap-in "$cap" --pcap-out "$TMP/$name/$i.pcap" \
            --stats-json "$TMP/$name/$i.json" $args >/dev/null 2>"$TMP/$name/$i.err"
        rc=$?
        echo "$rc" >"$TMP/$name/$i.rc"
        [[ -f $TMP/$name/$i.json ]] && sed -i 's/"uptime_s":[0-9.e+-]*//' "$TMP/$name/$i.json"
    done
    t1=$(now)
    echo "$t1 - $t0" | bc >"$TMP/$name.time"
}

compare() { # NAME LABEL
    local name=$1 label=$2 i bad=0 first=""
    for i in "${!CASES[@]}"; do
        if ! cmp -s "$TMP/ref/$i.rc" "$TMP/$name/$i.rc" ||
            ! cmp -s "$TMP/ref/$i.pcap" "$TMP/$name/$i.pcap" ||
            ! cmp -s "$TMP/ref/$i.json" "$TMP/$name/$i.json"; then
            bad=$((bad + 1))
            [[ -n $first ]] || first="${CASES[$i]} (exit $(cat "$TMP/ref/$i.rc") vs $(cat "$TMP/$name/$i.rc"))"
        fi
    done
    if [[ $bad -eq 0 ]]; then
        pass "$label: ${#CASES[@]} offline runs, pcap-out and stats equal to $REF byte for byte"
    else
        fail "$label: $bad of ${#CASES[@]} offline runs differ from $REF, first: $first"
    fi
}

run_all ref "$REF"
run_all static "$STATIC"
run_all arm64 "$QEMU64" "$A64"
run_all arm "$QEMU32" "$A32"
# The comparison means something only if the runs did work: outputs exist,
# most cases exit 0 and some packets were split.
ok=0
split=0
for i in "${!CASES[@]}"; do
    [[ $(cat "$TMP/ref/$i.rc") == 0 && -s $TMP/ref/$i.pcap ]] && ok=$((ok + 1))
    grep -q '"flows_split":[1-9]' "$TMP/ref/$i.json" 2>/dev/null && split=$((split + 1))
done
if [[ $ok -ge $((${#CASES[@]} * 9 / 10)) && $split -ge $((${#CASES[@]} / 2)) ]]; then
    pass "reference runs: $ok of ${#CASES[@]} exit 0 with an output, $split split flows"
else
    fail "reference runs: only $ok of ${#CASES[@]} exit 0 with an output, $split split flows"
fi
# ... and only if cmp sees a difference where there is one: the same
# capture split at 5 and at 1 must give different outputs.
diffs=0
for i in "${!CASES[@]}"; do
    [[ ${CASES[$i]} == *"|--split-at 5" ]] || continue
    j=$((i + 1))
    [[ ${CASES[$j]:-} == "${CASES[$i]%%|*}|--split-at 1" ]] || continue
    cmp -s "$TMP/ref/$i.pcap" "$TMP/ref/$j.pcap" || diffs=$((diffs + 1))
done
if [[ $diffs -ge 6 ]]; then
    pass "control: --split-at 5 and --split-at 1 give different outputs for $diffs real captures"
else
    fail "control: only $diffs captures differ between --split-at 5 and --split-at 1"
fi
compare static "$STATIC (x86_64 static)"
compare arm64 "$A64 under $QEMU64"
compare arm "$A32 under $QEMU32"
printf 'times for the %d offline runs: %s %.2f s, %s %.2f s, %s %.2f s (%.1fx), %s %.2f s (%.1fx)\n' \
    "${#CASES[@]}" "$REF" "$(cat "$TMP/ref.time")" "$STATIC" "$(cat "$TMP/static.time")" \
    "arm64/qemu" "$(cat "$TMP/arm64.time")" "$(echo "$(cat "$TMP/arm64.time") / $(cat "$TMP/ref.time")" | bc -l)" \
    "arm/qemu" "$(cat "$TMP/arm.time")" "$(echo "$(cat "$TMP/arm.time") / $(cat "$TMP/ref.time")" | bc -l)"

# ---------------------------------------------------------------- 4. daemon start

if [[ $(id -u) -ne 0 ]]; then
    echo "note: not root: the daemon start-up under qemu is skipped"
else
    # A private network namespace: --rules none touches no firewall, and
    # nothing can reach the queue.
    unshare -n timeout -s KILL 20 "$QEMU64" "$A64" --rules none >"$TMP/daemon.out" 2>&1
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q 'no nfnetlink (NETLINK_NETFILTER: Protocol not supported)' "$TMP/daemon.out"; then
        pass "$A64 under $QEMU64: daemon start-up runs, stops cleanly at qemu's missing NETLINK_NETFILTER (exit 1)"
    else
        fail "$A64 under $QEMU64: daemon start-up: exit $rc: $(head -3 "$TMP/daemon.out" | tr '\n' ' ')"
    fi
    # Natively the static program binds the queue; SIGTERM stops it with 0.
    unshare -n timeout --preserve-status -s TERM 2 "$STATIC" --rules none >"$TMP/daemon.out" 2>&1
    rc=$?
    if [[ $rc -eq 0 ]] && grep -q 'running on queue' "$TMP/daemon.out"; then
        pass "$STATIC: the daemon binds the queue as a static program and stops on SIGTERM (exit 0)"
    else
        fail "$STATIC: daemon: exit $rc: $(head -3 "$TMP/daemon.out" | tr '\n' ' ')"
    fi
fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
