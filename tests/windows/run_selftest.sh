#!/bin/bash
# run_selftest.sh - prove that the fake WinDivert.dll works, under wine.
#
#   tests/windows/run_selftest.sh [--no-build]
#
# Builds build/windows-test/{WinDivert.dll,fake_selftest.exe} (unless
# --no-build), generates the input pcaps, runs fake_selftest.exe scenarios
# under wine (headless, WINEDEBUG=-all, prefix build/windows-test/wineprefix,
# see wine_env.sh), compares outputs with tests/windows/expected/, checks the
# fake's log and output pcap, and always stops the wineserver at the end.
# Work files: build/windows-test/selftest-run/ (kept for inspection).
# Exit status: 0 if every check passed, 1 otherwise.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_STEP=1
for a in "$@"; do
    case $a in
    --no-build) BUILD_STEP=0 ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
    esac
done

. "$HERE/wine_env.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
EXE="$WT_BUILD/fake_selftest.exe"
RUN="$WT_BUILD/selftest-run"
DATA="$RUN/data"
EXP="$HERE/expected"
DEFAULT_FILTER="outbound and !loopback and (ip or ipv6) and tcp.DstPort == 443 and tcp.PayloadLength > 0"

PASS=0
FAILED=0
FAILED_NAMES=()
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); echo "FAIL  $1${2:+: $2}"; }

mkdir -p "$WT_BUILD"
if [ $BUILD_STEP = 1 ]; then
    "$HERE/build.sh" "$WT_BUILD" >/dev/null 2>"$WT_BUILD/build.log" || {
        cat "$WT_BUILD/build.log"; echo "FAIL  build"; exit 1; }
fi
[ -f "$WT_BUILD/WinDivert.dll" ] && [ -f "$EXE" ] || { echo "FAIL  not built: $WT_BUILD"; exit 1; }

rm -rf "$RUN"
mkdir -p "$RUN"
"$PY" "$HERE/pcaptool.py" gen "$DATA" || { echo "FAIL  pcap generation"; exit 1; }

# --- the header's plain-data part also compiles for Linux unit tests --------
cat >"$RUN/hdr_linux.c" <<'EOF'
#include "windivert_api.h"
#include <string.h>
int main(void)
{
    WINDIVERT_ADDRESS a;
    unsigned int w;
    memset(&a, 0, sizeof a);
    a.Outbound = 1; a.UDPChecksum = 1; a.Layer = 2;
    memcpy(&w, (char *)&a + WINDIVERT_ADDRESS_BITS_OFFSET, 4);
    return w == (2u | WINDIVERT_ADDRESS_BIT_OUTBOUND | WINDIVERT_ADDRESS_BIT_UDPCHECKSUM) ? 0 : 1;
}
EOF
if gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -I"$ROOT/src" -o "$RUN/hdr_linux" "$RUN/hdr_linux.c" 2>"$RUN/hdr_linux.err" &&
    "$RUN/hdr_linux"; then
    pass "windivert_api.h: plain-data part compiles and lays out WINDIVERT_ADDRESS right with Linux gcc"
else
    fail "windivert_api.h on Linux gcc" "$(cat "$RUN/hdr_linux.err")"
fi

wt_begin || { echo "FAIL  wine prefix"; exit 1; }

# run NAME TIMEOUT [args...] : run the selftest, output in $RUN/NAME.{out,err}
run() {
    local name=$1 t=$2
    shift 2
    wt_run "$t" "$RUN/$name.out" "$RUN/$name.err" "$EXE" "$@"
    local rc=$?
    # msvcrt writes text-mode CRLF; compare as unix text
    sed -i 's/\r$//' "$RUN/$name.out" "$RUN/$name.err"
    return $rc
}

# expect_output NAME : compare $RUN/NAME.out with expected/NAME.txt
expect_output() {
    if diff -u "$EXP/$1.txt" "$RUN/$1.out" >"$RUN/$1.diff"; then return 0; fi
    sed 's/^/      /' "$RUN/$1.diff" | head -40
    return 1
}

no_violations() {
    local n
    n=$(wt_violations "$1")
    [ "$n" = 0 ] || { grep ' VIOLATION ' "$1" | head -5 | sed 's/^/      /'; return 1; }
}

# --------------------------------------------------------------------------
# 1. API contract: arguments, ranges, handles, filters, packet checks
# --------------------------------------------------------------------------
wt_fake_env "$DATA/selftest.pcap" "$RUN/api.pcap" "$RUN/api.log"
run api 60 api
rc=$?
if [ $rc = 0 ] && ! grep -q '^FAIL' "$RUN/api.out"; then
    pass "api: $(grep -c '^ok' "$RUN/api.out") checks (open/params/filters/handles/recv/send/shutdown/close)"
else
    fail "api (exit $rc)" "$(grep '^FAIL' "$RUN/api.out" | head -5)"
fi
missing=""
while IFS= read -r pat; do
    [ -z "$pat" ] && continue
    grep -F -- "$pat" "$RUN/api.log" | grep -q ' VIOLATION ' || missing="$missing [$pat]"
done <<'EOF'
undefined layer 5 -> ERROR_INVALID_PARAMETER
undefined flag bits 0x40
SNIFF together with DROP
RECV_ONLY together with SEND_ONLY
priority 30001 outside [-30000, 30000]
priority -30001 outside
layer FLOW requires flags SNIFF|RECV_ONLY
filter is NULL
QUEUE_LENGTH, 31): value outside [32, 16384]
QUEUE_TIME, 16001): value outside [100, 16000]
QUEUE_SIZE, 65534): value outside [65535, 33554432]
(VERSION_*) is read-only
undefined parameter 5
pValue is NULL
unexpected '(' after not/!: WinDivert 2.2 allows not/! only directly before a field
unknown field or bad value 'TCP.DstPort' (names are case-sensitive)
field 'processId' is not valid at this layer
filter too long (300 tests, at most 256)
index out of bounds
token too long
was not returned by WinDivertOpen -> ERROR_INVALID_HANDLE
is already closed -> ERROR_INVALID_HANDLE
flags must be 0 (got 0x1)
*pAddrLen=79 outside [80, 20400]
pAddrLen given but pAddr is NULL
pPacket is NULL but packetLen=1500
addrLen=0 outside [80, 20400]
flags must be 0 (got 0x2)
not an IPv4/IPv6 packet (version nibble 5)
IPv4 total length 12 < 20
only 10 bytes left, less than an IPv4 header
IP length field says 60 bytes but only 55 are in the buffer
less than an IPv6 header
packet 2 of the batch: only 0 bytes left
TCP checksum is wrong but pAddr->TCPChecksum=1
pAddr[0].Layer=3 but the handle's layer is 0
how=0 is not RECV(1), SEND(2) or BOTH(3)
shut down for sending -> ERROR_NO_DATA
opened with WINDIVERT_FLAG_RECV_ONLY
opened with WINDIVERT_FLAG_SEND_ONLY
filter too long (more than 768 tokens)
is reused while a receive on it is still pending
EOF
if [ -z "$missing" ]; then
    pass "api: every contract violation was logged by the fake ($(wt_violations "$RUN/api.log") VIOLATION lines)"
else
    fail "api: violations not logged:$missing"
fi

# --------------------------------------------------------------------------
# 2. filter evaluation: only matching packets, output compared
# --------------------------------------------------------------------------
filter_case() {    # NAME COUNT FILTER [extra env assignments...]
    local name=$1 count=$2 filter=$3
    shift 3
    wt_fake_env "$DATA/selftest.pcap" "" "$RUN/$name.log"
    local kv
    for kv in "$@"; do export "${kv?}"; done
    run "$name" 60 filter "$count" "$filter"
    local rc=$?
    if [ $rc = 0 ] && expect_output "$name" && no_violations "$RUN/$name.log"; then
        pass "$name: $count packet(s) for: $filter"
    else
        fail "$name (exit $rc)" "filter: $filter"
    fi
}
filter_case filter-default 3 "$DEFAULT_FILTER"
filter_case filter-exclude-if 0 "$DEFAULT_FILTER and ifIdx != 7"
filter_case filter-exclude-subif 0 "$DEFAULT_FILTER and (ifIdx != 7 or subIfIdx != 0)"
filter_case filter-exclude-other 3 "$DEFAULT_FILTER and ifIdx != 3 and (ifIdx != 7 or subIfIdx != 1)"
filter_case filter-exclude-ifidx-env 0 "$DEFAULT_FILTER and ifIdx != 12" FAKE_WINDIVERT_IFIDX=12.0
filter_case filter-port443 8 "tcp.DstPort == 443"
filter_case filter-inbound 3 "inbound"
filter_case filter-loopback 2 "loopback"
filter_case filter-dns 1 "udp.DstPort == 53 and ip.DstAddr == 8.8.8.8"
filter_case filter-v6syn 1 "ipv6.SrcAddr == 2001:db8::10 and tcp.Syn"
filter_case filter-tlsbyte 4 "tcp.Payload[0] == 0x16 and outbound"
filter_case filter-bare-ack 1 "not tcp.Syn and tcp.DstPort == 443 and tcp.PayloadLength == 0"
filter_case filter-ternary 7 "(ip? ip.TTL == 64: ipv6.HopLimit == 64) and tcp.Rst == 0 and length > 100 and remotePort == 443"
filter_case filter-false 0 "false"
filter_case filter-local-env 5 "outbound" FAKE_WINDIVERT_LOCAL=93.184.216.34,2001:db8:1::443
filter_case filter-lenient-not-group 2 "not (ifIdx == 7 and subIfIdx == 0)" FAKE_WINDIVERT_FILTER_LENIENT=1

# all link types give the same packets
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/lt-eth.log"
run lt-eth 60 filter 13 true
lt_ok=1
for lt in raw sll sll2 null; do
    wt_fake_env "$DATA/selftest-$lt.pcap" "" "$RUN/lt-$lt.log"
    run "lt-$lt" 60 filter 13 true
    cmp -s "$RUN/lt-eth.out" "$RUN/lt-$lt.out" || { lt_ok=0; echo "      linktype $lt differs"; }
done
for fam in v4:9 v6:4; do
    wt_fake_env "$DATA/selftest-${fam%:*}.pcap" "" "$RUN/lt-${fam%:*}.log"
    run "lt-${fam%:*}" 60 filter "${fam#*:}" true
    [ $? = 0 ] || { lt_ok=0; echo "      linktype ${fam%:*}: wrong count"; }
done
if [ $lt_ok = 1 ] && grep -q "ok   - filter \"true\": 13 packet" "$RUN/lt-eth.out"; then
    pass "linktypes 1/101/113/276/0 give identical packets (Ethernet padding trimmed); 228/229 too"
else
    fail "linktypes"
fi

# --------------------------------------------------------------------------
# 3. the good case: hellosplit-like relay, ended by a console Ctrl-C raised
#    by the fake after the replay; out pcap and addresses checked
# --------------------------------------------------------------------------
relay_case() {    # NAME MODE [env...]
    local name=$1 mode=$2
    shift 2
    wt_fake_env "$DATA/selftest.pcap" "$RUN/$name.pcap" "$RUN/$name.log"
    export FAKE_WINDIVERT_EXIT_AFTER_MS=200
    local kv
    for kv in "$@"; do export "${kv?}"; done
    run "$name" 60 relay "$mode"
    local rc=$?
    if [ $rc = 0 ] && ! grep -q '^FAIL' "$RUN/$name.out" && grep -q 'relayed 3 packet' "$RUN/$name.out" &&
        grep -q ' CTRL .*raised' "$RUN/$name.log" && no_violations "$RUN/$name.log" &&
        "$PY" "$HERE/pcaptool.py" check-relay "$DATA" "$RUN/$name.pcap" "$mode" >"$RUN/$name.check"; then
        pass "$name: $(cat "$RUN/$name.check" | sed 's/^ok   - //'); Ctrl-C handled; no violations"
    else
        fail "$name (exit $rc)" "$(cat "$RUN/$name.check" 2>/dev/null) $(grep '^FAIL' "$RUN/$name.out" | head -3)"
    fi
}
relay_case relay-plain plain
relay_case relay-split split
relay_case relay-split-strict split FAKE_WINDIVERT_STRICT=1
relay_case relay-offload plain FAKE_WINDIVERT_CSUM_OFFLOAD=1
if grep -q 'csum=000' "$RUN/relay-offload.out" && ! grep -q 'csum=11' "$RUN/relay-offload.out"; then
    pass "relay-offload: outbound packets arrived with zeroed checksums and *Checksum=0; the out pcap has them fixed"
else
    fail "relay-offload: checksum flags"
fi
relay_case relay-immediate split FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE=1
relay_case relay-ctrl-break plain FAKE_WINDIVERT_CTRL_EVENT=break

# SIGINT sent to the wine process arrives as CTRL_C_EVENT
wt_fake_env "$DATA/selftest.pcap" "$RUN/relay-sigint.pcap" "$RUN/relay-sigint.log"
wt_run_bg "$RUN/relay-sigint.out" "$RUN/relay-sigint.err" "$EXE" relay plain
if wt_wait_for "$RUN/relay-sigint.out" '^ready' 30; then
    sleep 0.5
    kill -INT "$WT_PID"
fi
wt_wait_pid "$WT_PID" 30
rc=$?
sed -i 's/\r$//' "$RUN/relay-sigint.out"
if [ $rc = 0 ] && grep -q 'relayed 3 packet' "$RUN/relay-sigint.out" &&
    "$PY" "$HERE/pcaptool.py" check-relay "$DATA" "$RUN/relay-sigint.pcap" plain >/dev/null; then
    pass "relay-sigint: kill -INT <wine pid> reached the console ctrl handler as CTRL_C_EVENT"
else
    fail "relay-sigint (exit $rc)"
fi

# simulated send failure
wt_fake_env "$DATA/selftest.pcap" "$RUN/send-error.pcap" "$RUN/send-error.log"
export FAKE_WINDIVERT_EXIT_AFTER_MS=200 FAKE_WINDIVERT_SEND_ERROR=1232@2
run send-error 60 relay plain
rc=$?
if [ $rc = 1 ] && grep -q 'FAIL - Send: error 1232' "$RUN/send-error.out" &&
    [ "$("$PY" "$HERE/pcaptool.py" count "$RUN/send-error.pcap")" = 2 ]; then
    pass "send-error: FAKE_WINDIVERT_SEND_ERROR=1232@2 failed exactly the 2nd send with 1232"
else
    fail "send-error (exit $rc)"
fi

# --------------------------------------------------------------------------
# 4. overlapped I/O, blocking I/O, shutdown/close/cancel
# --------------------------------------------------------------------------
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/overlapped.log"
run overlapped 60 overlapped 12
rc=$?
if [ $rc = 0 ] && no_violations "$RUN/overlapped.log"; then
    pass "overlapped: RecvEx + timed waits (GetOverlappedResultEx, WaitForSingleObject), batching, GetOverlappedResult, IO_INCOMPLETE, CancelIoEx, Shutdown->232, Close->995"
else
    fail "overlapped (exit $rc)" "$(grep '^FAIL' "$RUN/overlapped.out" | head -3)"
fi
wt_fake_env "" "" "$RUN/badcsum.log"
run badcsum 60 badcsum 0
rc1=$?
wt_fake_env "" "" "$RUN/badcsum-strict.log"
export FAKE_WINDIVERT_STRICT=1
run badcsum-strict 60 badcsum 87
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && grep -q 'TCP checksum is wrong' "$RUN/badcsum.log" &&
    grep -q 'strict: failing with 87' "$RUN/badcsum-strict.log"; then
    pass "soft violations: logged and accepted by default, ERROR_INVALID_PARAMETER with FAKE_WINDIVERT_STRICT=1"
else
    fail "badcsum/strict ($rc1/$rc2)"
fi
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/overlapped-imm.log"
export FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE=1
run overlapped-imm 60 overlapped 12
rc=$?
if [ $rc = 0 ] && no_violations "$RUN/overlapped-imm.log"; then
    pass "overlapped with FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE=1 (synchronous completions)"
else
    fail "overlapped-imm (exit $rc)" "$(grep '^FAIL' "$RUN/overlapped-imm.out" | head -3)"
fi
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/blocking.log"
run blocking 60 blocking
rc=$?
if [ $rc = 0 ] && expect_output blocking && no_violations "$RUN/blocking.log"; then
    pass "blocking: Shutdown(RECV) -> 232 and Close -> 995 unblock a blocking WinDivertRecv"
else
    fail "blocking (exit $rc)"
fi
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/late.log"
run late 60 late
rc=$?
if [ $rc = 0 ] && [ "$(grep -c ' DROP .*QUEUE_TIME' "$RUN/late.log")" = 13 ]; then
    pass "late: 13 packets dropped after QUEUE_TIME=100 ms (logged as DROP)"
else
    fail "late (exit $rc)"
fi

# --------------------------------------------------------------------------
# 5. timing: the capture's gaps are kept (300/500/200 ms), SPEED scales
# --------------------------------------------------------------------------
timing_case() {   # SPEED EXPECTED_GAPS...
    local speed=$1
    shift
    wt_fake_env "$DATA/timing.pcap" "" "$RUN/timing-$speed.log"
    export FAKE_WINDIVERT_SPEED=$speed
    run "timing-$speed" 60 timing 4
    local rc=$? gaps ok=1 i=0 g
    gaps=($(awk '/^gap_ms/ {print $2}' "$RUN/timing-$speed.out"))
    [ ${#gaps[@]} = $# ] || ok=0
    for g in "$@"; do
        local m=${gaps[$i]:-99999}
        [ $((m - g)) -le 60 ] && [ $((g - m)) -le 15 ] || ok=0
        i=$((i + 1))
    done
    if [ $rc = 0 ] && [ $ok = 1 ]; then
        pass "timing SPEED=$speed: gaps ${gaps[*]} ms (expected $* ms, -15/+60 ms)"
    else
        fail "timing SPEED=$speed" "gaps ${gaps[*]:-none}, expected $*"
    fi
}
timing_case 1 300 500 200
timing_case 2 150 250 100
timing_case 0 0 0 0

# --------------------------------------------------------------------------
# 6. simulated WinDivertOpen failures, version, misconfiguration
# --------------------------------------------------------------------------
oe_ok=1
for code in 2 5 87 577 654 1060 1275 1753; do
    wt_fake_env "$DATA/selftest.pcap" "" "$RUN/openerr-$code.log"
    export FAKE_WINDIVERT_OPEN_ERROR=$code
    run "openerr-$code" 60 openerr "$code" || { oe_ok=0; echo "      code $code"; }
done
[ $oe_ok = 1 ] && pass "openerr: WinDivertOpen fails with 2 5 87 577 654 1060 1275 1753 as configured" ||
    fail "openerr"
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/openerr-count.log"
export FAKE_WINDIVERT_OPEN_ERROR=5 FAKE_WINDIVERT_OPEN_ERROR_COUNT=1
run openerr-count 60 openerr 5 retry && pass "openerr-count: FAKE_WINDIVERT_OPEN_ERROR_COUNT=1 fails only the first open" ||
    fail "openerr-count"
wt_fake_env "$DATA/selftest.pcap" "" "$RUN/version.log"
export FAKE_WINDIVERT_VERSION=2.1
run version 60 version
grep -q '^version 2.1$' "$RUN/version.out" && pass "version: FAKE_WINDIVERT_VERSION=2.1 reported by GetParam" ||
    fail "version"
wt_fake_env "$RUN/does-not-exist.pcap" "" "$RUN/config.log"
run config 60 openerr 31
rc=$?
if [ $rc = 0 ] && grep -q ' CONFIG ' "$RUN/config.log"; then
    pass "config: a missing FAKE_WINDIVERT_IN makes WinDivertOpen fail with 31 and is logged as CONFIG"
else
    fail "config (exit $rc)"
fi

# --------------------------------------------------------------------------
echo
echo "selftest: $PASS passed, $FAILED failed   (work files: $RUN)"
if [ $FAILED -gt 0 ]; then
    printf '  failed: %s\n' "${FAILED_NAMES[@]}"
    exit 1
fi
exit 0
