#!/bin/bash
# tests/divert/run.sh -- the FreeBSD divert(4) adapter, proven on Linux.
#
# Usage: tests/divert/run.sh BINARY [REFERENCE]
#   BINARY     the divert stand-in build: make PLATFORM=freebsd-sim
#              (build/divert-sim/hellosplit), i.e. src/daemon-freebsd.c's real loop
#              with a socket pair in place of the divert socket
#   REFERENCE  the Linux build whose offline mode is the reference
#              (default: build/hellosplit)
#
# divert_standin.py plays the kernel: it feeds every capture (tests/captures/
# and tests/offline/pcaps/) packet by packet, in capture time, as a divert
# rule in dist/freebsd/ would divert it (ipfw.rules: client->server packets
# to 443 with payload or SYN/FIN/RST -- IPv6: all of them -- as outbound
# packets; pf.anchor: every packet of those connections, client->server ones
# inbound on the LAN interface, replies outbound), records what the daemon
# writes back and with which address, then stops it with SIGTERM. Each run
# must
#   * equal the offline output (REFERENCE --pcap-in X --pcap-out Y) filtered
#     the same way, link layer stripped (doc/design.md "What the same output
#     means"), packet for packet, byte for byte;
#   * give every packet back with the address of the packet whose bytes it
#     carries (checked by the stand-in);
#   * count the same splits, segments and fail-opens as the offline run.
# Also: collect timeouts, SIGTERM with a hello half received (held packets
# come back unchanged), SIGUSR1, SIGHUP and --stats-interval, --divert-port, the
# error without a socket, the real FreeBSD socket code syntax-checked by
# clang for FreeBSD 13 and 14, the rc.d script's logic (rcd_test.sh), and
# controls that must go red.
#
# Prints one line per case and 'N passed, N failed'; exits 1 on any failure.
set -u -o pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
    echo "usage: $0 BINARY [REFERENCE]   (BINARY: make PLATFORM=freebsd-sim -> build/divert-sim/hellosplit)" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(realpath "$1")
REF=$(realpath "${2:-$ROOT/build/hellosplit}")
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
STANDIN=("$PY" "$HERE/divert_standin.py")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-divert.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
START=$SECONDS

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

if [[ ! -x $REF ]]; then
    echo "FAIL: reference binary $REF missing (make build/hellosplit)"
    echo "0 passed, 1 failed"
    exit 1
fi
for src in $(make -s -n -B -C "$ROOT" STATIC= build/hellosplit 2>/dev/null | grep -o 'src/[a-z0-9_-]*\.[ch]'); do
    src=$ROOT/$src
    if [[ $src -nt $REF ]]; then
        echo "note: $REF is older than $(basename "$src"): rebuild it for a fair reference"
        break
    fi
done
# private copies: a rebuild or 'make clean' elsewhere must not change a run
cp "$BIN" "$TMP/hellosplit-divert" && cp "$REF" "$TMP/hellosplit-ref" || exit 1
BIN=$TMP/hellosplit-divert
REF=$TMP/hellosplit-ref

# counters both runs must agree on (the divert run sees fewer packets, so
# 'packets' and 'flows' may differ by design)
STATS_KEYS="flows_split segments_emitted resplit_retransmits failopen_not_tls failopen_timeout failopen_overflow failopen_held_limit failopen_error"

stat_of() {   # FILE KEY
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "missing"))' "$1" "$2"
}

# divert_case NAME CAPTURE RULE "HELLOSPLIT ARGS" [STANDIN OPTIONS...]
# Runs the daemon under the stand-in and the offline reference with the same
# args; compares packets, addresses and counters. Leaves $TMP/NAME.* behind.
divert_case() {
    local name=$1 cap=$2 rule=$3 args=$4 base diff key a b bad=""
    shift 4
    base=$TMP/$(echo "$name" | tr '/' '_')
    # shellcheck disable=SC2086
    if ! "${STANDIN[@]}" run --bin "$BIN" --pcap "$cap" --out "$base.div.pcap" --rule "$rule" \
        --stderr "$base.err" --summary "$base.sum.json" "$@" -- $args --stats-json "$base.div.json" \
        >"$base.standin" 2>&1; then
        fail "$name: $(head -3 "$base.standin" | tr '\n' ' ')"
        return 1
    fi
    # shellcheck disable=SC2086
    if ! timeout 20 "$REF" --pcap-in "$cap" --pcap-out "$base.ref-full.pcap" --stats-json "$base.ref.json" \
        $args 2>"$base.ref.err"; then
        fail "$name: the offline reference failed: $(head -1 "$base.ref.err")"
        return 1
    fi
    "${STANDIN[@]}" filter --rule "$rule" "$base.ref-full.pcap" "$base.ref.pcap"
    if ! diff=$("${STANDIN[@]}" compare "$base.ref.pcap" "$base.div.pcap"); then
        fail "$name: output differs from the offline output: $diff"
        return 1
    fi
    for key in ${CASE_KEYS:-$STATS_KEYS}; do
        a=$(stat_of "$base.ref.json" "$key")
        b=$(stat_of "$base.div.json" "$key")
        [[ $a == "$b" ]] || bad="$bad $key=$b(offline $a)"
    done
    if [[ -n $bad ]]; then
        fail "$name: counters differ:$bad"
        return 1
    fi
    pass "$name: $(stat_of "$base.sum.json" returned) packets back = offline, addresses right," \
        "flows_split=$(stat_of "$base.div.json" flows_split) failopen_timeout=$(stat_of "$base.div.json" failopen_timeout)"
}

# ---------------------------------------------------------------- 0. tools can go red

if "${STANDIN[@]}" selftest >"$TMP/selftest.txt" 2>&1; then
    pass "stand-in selftest: $(tail -1 "$TMP/selftest.txt" | sed 's/^selftest: //')"
else
    fail "stand-in selftest: $(grep -m3 'NOT CAUGHT\|Error' "$TMP/selftest.txt" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- 1. the FreeBSD socket code compiles

# clang targeting FreeBSD compiles the real divert-socket code, src/divert.c,
# which only a FreeBSD build links, and the daemon and doctor around it
# (against this machine's libc headers; the two FreeBSD-only constants are
# given on the command line).
if command -v clang >/dev/null; then
    for target in x86_64-unknown-freebsd13.2 x86_64-unknown-freebsd14.1; do
        defs=(-DIPPROTO_DIVERT=258)
        [[ $target == *freebsd14* ]] && defs+=(-DPF_DIVERT=44)
        if clang --target="$target" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -fsyntax-only \
            -isystem /usr/include/x86_64-linux-gnu -isystem /usr/include "${defs[@]}" \
            "$ROOT/src/divert.c" "$ROOT/src/daemon-freebsd.c" "$ROOT/src/doctor-freebsd.c" 2>"$TMP/clang.err" &&
            clang --target="$target" -D_GNU_SOURCE -E -isystem /usr/include/x86_64-linux-gnu \
                -isystem /usr/include "${defs[@]}" "$ROOT/src/divert.c" >"$TMP/clang.i" 2>/dev/null &&
            grep -q 'socket_recv' "$TMP/clang.i"; then
            pass "FreeBSD divert-socket code and daemon syntax-checked (clang --target=$target -Werror)"
        else
            fail "FreeBSD divert-socket code for $target: $(head -3 "$TMP/clang.err" | tr '\n' ' ')"
        fi
    done
    # the rest of what a FreeBSD build compiles (make PLATFORM=freebsd), errors only
    bad=""
    for src in $(make -s -n -B -C "$ROOT" PLATFORM=freebsd build/hellosplit 2>/dev/null | grep -o 'src/[a-z0-9_-]*\.c'); do
        [[ $src == src/divert.c || $src == src/*-freebsd.c ]] && continue
        clang --target=x86_64-unknown-freebsd14.1 -std=c11 -D_GNU_SOURCE -fsyntax-only -w \
            -isystem /usr/include/x86_64-linux-gnu -isystem /usr/include "$ROOT/$src" 2>>"$TMP/clang-all.err" ||
            bad="$bad $src"
    done
    if [[ -z $bad ]]; then
        pass "the other sources of the FreeBSD build (make PLATFORM=freebsd) pass clang --target=freebsd14.1 -fsyntax-only"
    else
        fail "FreeBSD build sources that do not compile for freebsd14.1:$bad"
    fi
else
    echo "note: no clang: the FreeBSD socket code was not syntax-checked"
fi

# ---------------------------------------------------------------- 2. parity over every capture

CAPS=()
for cap in "$ROOT"/tests/captures/*.pcap "$ROOT"/tests/offline/pcaps/*.pcap; do
    [[ -f $cap ]] && CAPS+=("$cap")
done
[[ ${#CAPS[@]} -gt 0 ]] || fail "no captures found under tests/captures or tests/offline/pcaps"
for cap in "${CAPS[@]}"; do
    base=$(basename "$cap" .pcap)
    for rule in ipfw pf; do
        divert_case "$rule/$base" "$cap" "$rule" ""
    done
done
# another split spec on the real clients and the multi-packet synthetic cases
for cap in "${CAPS[@]}"; do
    base=$(basename "$cap" .pcap)
    case $base in
    curl-* | gnutls-* | python-* | chromium-* | multiseg | retrans | gso | interleaved | ooo | overlap | multirecord)
        divert_case "ipfw/$base/2,sni,sniend" "$cap" ipfw "--split-at 2,sni,sniend" ;;
    esac
done

# ---------------------------------------------------------------- 3. timeouts

P=$ROOT/tests/offline/pcaps
if [[ -f $P/gap-timeout.pcap ]]; then
    divert_case "timeout/gap-timeout-100ms" "$P/gap-timeout.pcap" ipfw "--collect-timeout 100"
    # the hello is incomplete when the capture ends: the timeout fires while
    # the daemon idles (linger 600 ms > 250 ms), not at shutdown
    divert_case "timeout/gap-end" "$P/gap-end.pcap" pf "" --linger-ms 600 &&
        if [[ $(stat_of "$TMP/timeout_gap-end.div.json" failopen_timeout) == 1 &&
            $(stat_of "$TMP/timeout_gap-end.div.json" failopen_shutdown) == 0 ]]; then
            pass "timeout/gap-end: released by the collect timeout while idle (failopen_timeout=1, shutdown=0)"
        else
            fail "timeout/gap-end: expected failopen_timeout=1 failopen_shutdown=0"
        fi
fi

# ---------------------------------------------------------------- 4. SIGTERM with a hello half received

# Cut the capture right after the first hello packet; a long collect timeout
# keeps it held, SIGTERM must send it back unchanged (fail-open), after the
# signal, counted as failopen_shutdown, and equal the offline output of the
# same cut capture.
shutdown_case() {   # NAME CAPTURE RULE
    local name=$1 cap=$2 rule=$3 n cut base
    n=$("${STANDIN[@]}" first-payload "$cap") || { fail "$name: no hello packet in $cap"; return; }
    cut=$TMP/$(basename "$cap" .pcap)-cut$n.pcap
    "${STANDIN[@]}" head "$n" "$cap" "$cut"
    # the offline run releases the same packets at its end by the timeout
    CASE_KEYS=${STATS_KEYS/failopen_timeout/} divert_case "$name" "$cut" "$rule" "--collect-timeout 10000" \
        --linger-ms 300 || return
    base=$TMP/$(echo "$name" | tr '/' '_')
    if [[ $(stat_of "$base.div.json" failopen_shutdown) == 1 && $(stat_of "$base.ref.json" failopen_timeout) == 1 &&
        $(stat_of "$base.sum.json" last_after_sigterm) == True &&
        $(stat_of "$base.sum.json" after_sigterm_unchanged) == True &&
        $(stat_of "$base.sum.json" returned_after_sigterm) -ge 1 ]]; then
        pass "$name: the held hello packet came back after SIGTERM, unchanged ($(stat_of "$base.sum.json" returned_after_sigterm) after the signal, failopen_shutdown=1)"
    else
        fail "$name: failopen_shutdown=$(stat_of "$base.div.json" failopen_shutdown)" \
            "returned_after_sigterm=$(stat_of "$base.sum.json" returned_after_sigterm)"
    fi
}
[[ -f $P/multiseg.pcap ]] && shutdown_case "shutdown/multiseg" "$P/multiseg.pcap" ipfw
[[ -f $P/multiseg.pcap ]] && shutdown_case "shutdown/multiseg-pf" "$P/multiseg.pcap" pf
[[ -f $ROOT/tests/captures/chromium-v4.pcap ]] && shutdown_case "shutdown/chromium-v4" "$ROOT/tests/captures/chromium-v4.pcap" ipfw

# ---------------------------------------------------------------- 5. signals, stats, port, errors

if [[ -f $P/basic-eth.pcap ]]; then
    json=$TMP/interval.json
    if "${STANDIN[@]}" run --bin "$BIN" --pcap "$P/basic-eth.pcap" --out "$TMP/sig.pcap" --stderr "$TMP/sig.err" \
        --usr1 --linger-ms 1400 --probe-file "$json" -- --stats-json "$json" --stats-interval 1 >"$TMP/sig.txt" 2>&1; then
        n=$(grep -c 'stats after' "$TMP/sig.err")
        if [[ $n -ge 3 ]] && grep -q '"flows_split":2' "$json"; then
            pass "signals: SIGUSR1 and --stats-interval 1 print stats ($n reports), --stats-json written while running and at exit"
        else
            fail "signals: $n stats reports (3 expected), json: $(head -c 200 "$json")"
        fi
    else
        fail "signals: $(head -3 "$TMP/sig.txt" | tr '\n' ' ')"
    fi
    printf 'www.example.com\n' >"$TMP/hosts.txt"
    if "${STANDIN[@]}" run --bin "$BIN" --pcap "$P/basic-eth.pcap" --out "$TMP/hup.pcap" --stderr "$TMP/hup.err" \
        --hup -- --hostlist "$TMP/hosts.txt" >"$TMP/hup.txt" 2>&1 &&
        grep -q 'host lists reloaded: 1 names to split, 0 never' "$TMP/hup.err"; then
        pass "signals: SIGHUP reads the host lists again"
    else
        fail "signals: SIGHUP: $(head -3 "$TMP/hup.txt" "$TMP/hup.err" | tr '\n' ' ')"
    fi
    if "${STANDIN[@]}" run --bin "$BIN" --pcap "$P/basic-eth.pcap" --out "$TMP/port.pcap" --port 8123 \
        -- --divert-port 8123 >"$TMP/port.txt" 2>&1; then
        pass "--divert-port 8123: the daemon binds the port it was given"
    else
        fail "--divert-port 8123: $(head -2 "$TMP/port.txt" | tr '\n' ' ')"
    fi
fi
# the sample options file of dist/freebsd/ is valid for this build
if "${STANDIN[@]}" run --bin "$BIN" --pcap "$P/basic-eth.pcap" --out "$TMP/conf.pcap" --stderr "$TMP/conf.err" \
    -- --config "$ROOT/dist/freebsd/hellosplit.conf" --stats-json "$TMP/conf.json" >"$TMP/conf.txt" 2>&1; then
    pass "dist/freebsd/hellosplit.conf is accepted by the divert build"
else
    fail "dist/freebsd/hellosplit.conf: $(head -2 "$TMP/conf.txt" | tr '\n' ' ') $(head -2 "$TMP/conf.err" | tr '\n' ' ')"
fi
env -u HELLOSPLIT_DIVERT_SIM_FD "$BIN" doctor >"$TMP/doctor.out" 2>&1
rc=$?
if [[ $rc -eq 1 ]] && grep -q 'PROBLEM' "$TMP/doctor.out"; then
    pass "doctor without a divert socket: exit 1, the problem listed"
else
    fail "doctor without a divert socket: exit $rc: $(head -3 "$TMP/doctor.out" | tr '\n' ' ')"
fi
env -u HELLOSPLIT_DIVERT_SIM_FD "$BIN" </dev/null >/dev/null 2>"$TMP/nosock.err"
rc=$?
if [[ $rc -eq 1 ]] && grep -q 'stand-in build' "$TMP/nosock.err"; then
    pass "no divert socket: exit 1, '$(head -1 "$TMP/nosock.err")'"
else
    fail "no divert socket: exit $rc: $(head -1 "$TMP/nosock.err")"
fi
"$BIN" --queue-num 3 >/dev/null 2>"$TMP/usage.err"
rc=$?
if [[ $rc -eq 2 ]]; then pass "a Linux-only flag is a usage error here (exit 2)"; else fail "--queue-num: exit $rc, 2 expected"; fi

# ---------------------------------------------------------------- 6. controls that must go red

# a daemon that does not split (--observe passes everything) must not match
# the splitting reference, and a different split must not match either
if [[ -f $P/basic-eth.pcap ]]; then
    if ! "${STANDIN[@]}" run --bin "$BIN" --pcap "$P/basic-eth.pcap" --out "$TMP/observe.pcap" -- --observe \
        >"$TMP/observe.txt" 2>&1 || ! "$REF" --pcap-in "$P/basic-eth.pcap" --pcap-out "$TMP/red-ref-full.pcap" \
        2>/dev/null || ! "$REF" --pcap-in "$P/basic-eth.pcap" --pcap-out "$TMP/red7-full.pcap" --split-at 7 \
        2>/dev/null; then
        fail "red controls could not run: $(head -2 "$TMP/observe.txt" | tr '\n' ' ')"
    fi
    "${STANDIN[@]}" filter --rule ipfw "$TMP/red-ref-full.pcap" "$TMP/red-ref.pcap"
    "${STANDIN[@]}" filter --rule ipfw "$TMP/red7-full.pcap" "$TMP/red7.pcap"
    if diff=$("${STANDIN[@]}" compare "$TMP/red-ref.pcap" "$TMP/observe.pcap"); then
        fail "red control: an unsplit divert output matched the split reference"
    else
        pass "red control: unsplit divert output caught ($diff)"
    fi
    if diff=$("${STANDIN[@]}" compare "$TMP/red7.pcap" "$TMP/ipfw_basic-eth.div.pcap"); then
        fail "red control: --split-at 5 output matched a --split-at 7 reference"
    else
        pass "red control: a different split caught ($diff)"
    fi
fi

# ---------------------------------------------------------------- 7. scripts

# the rc.d script's own logic, with stubs for rc.subr, daemon(8), pfctl, ipfw
if timeout -s KILL 60 "$HERE/rcd_test.sh" >"$TMP/rcd.txt" 2>&1; then
    pass "rc.d script: $(tail -1 "$TMP/rcd.txt") (tests/divert/rcd_test.sh)"
else
    fail "rc.d script: $(grep -m2 '^FAIL' "$TMP/rcd.txt" | tr '\n' ' ')"
fi

# run.sh and rcd_test.sh are bash; the rc.d script is /bin/sh (FreeBSD's sh has 'local')
for script in "$HERE/run.sh" "$HERE/rcd_test.sh" "$ROOT/dist/freebsd/hellosplit"; do
    [[ -f $script ]] || { fail "$script missing"; continue; }
    shell="sh"
    head -1 "$script" | grep -q bash && shell=bash
    if $shell -n "$script" 2>"$TMP/shn.err"; then
        pass "$shell -n $(basename "$script")"
    else
        fail "$shell -n $(basename "$script"): $(head -2 "$TMP/shn.err" | tr '\n' ' ')"
    fi
    if command -v shellcheck >/dev/null; then
        if shellcheck "$script" >"$TMP/sc.txt" 2>&1; then
            pass "shellcheck $(basename "$script")"
        else
            fail "shellcheck $(basename "$script"): $(grep -m2 'SC[0-9]' "$TMP/sc.txt" | tr '\n' ' ')"
        fi
    fi
done

echo "divert: $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
