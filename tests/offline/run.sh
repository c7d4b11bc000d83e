#!/bin/bash
# tests/offline/run.sh -- the offline proof of hellosplit (doc/testing.md layer 2).
#
# Usage: tests/offline/run.sh BINARY [ASAN_BINARY]
#        (or ASAN_BINARY in the environment as HELLOSPLIT_ASAN)
#
# 1. Runs BINARY --pcap-in/--pcap-out over every capture: the synthetic ones
#    in tests/offline/pcaps/ (make_synthetic.py) and the real client captures
#    in tests/captures/ when present, each with a set of --split-at specs
#    and modes, then checks every output with check_split.py (split
#    invariants of doc/design.md + stats counters against its model and the
#    facts pinned below).
# 2. Malformed and fuzzed inputs (make_malformed.py, fixed seed): a clear
#    error (exit 1) or a counted pass (exit 0), never a crash, a signal, a
#    hang (5 s) or a sanitizer report.
# 3. With ASAN_BINARY (a build of the same sources with
#    -fsanitize=address,undefined), a subset again under the sanitizers; its
#    outputs must equal BINARY's byte for byte.  Build one like:
#      cc -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=address,undefined \
#         -fno-sanitize-recover=all -fno-omit-frame-pointer \
#         -o build/asan/hellosplit src/*.c        (the Makefile's SRC list)
# 4. check_split.py --selftest: the checker itself must catch mutated outputs.
#
# Prints one line per case, then 'N passed, N failed'; exits 1 on any
# failure.  Needs /usr/bin/python3 with scapy (python3-scapy) and tshark.
set -u -o pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
    echo "usage: $0 BINARY [ASAN_BINARY]   (BINARY: an executable hellosplit)" >&2
    exit 2
fi
BIN=$(realpath "$1")
ASAN_BIN=${2:-${HELLOSPLIT_ASAN:-}}
[[ -n $ASAN_BIN ]] && ASAN_BIN=$(realpath "$ASAN_BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CHECK=("$PY" "$HERE/check_split.py")
PCAPS=$HERE/pcaps
CAPTURES=$(cd "$HERE/.." && pwd)/captures
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-offline.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
# private copies: a rebuild of the binaries during the run must not race it
cp "$BIN" "$TMP/hellosplit" && BIN=$TMP/hellosplit || exit 1
if [[ -n $ASAN_BIN ]]; then cp "$ASAN_BIN" "$TMP/hellosplit-asan" && ASAN_BIN=$TMP/hellosplit-asan || exit 1; fi
START=$SECONDS
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

if ! "$PY" -c 'import scapy' 2>/dev/null; then
    echo "FAIL: $PY has no scapy (apt-get install python3-scapy)"
    echo "0 passed, 1 failed"
    exit 1
fi
HAVE_TSHARK=1
command -v tshark >/dev/null || { HAVE_TSHARK=0; echo "note: no tshark (apt-get install tshark): cross-checks skipped"; }

# ---------------------------------------------------------------- 1. captures

# shellcheck disable=SC2054  # commas are part of the specs
SPECS=(5 1 sni sni+1 midsld sniend-1 5,midsld 2,sni,sniend)
ZERO="failopen_error=0 failopen_overflow=0 failopen_held_limit=0 failopen_table_full=0 failopen_shutdown=0"

# Facts of each synthetic capture, whatever the split spec (the checker
# also compares every counter with its own model of the capture).
declare -A FACTS=(
    [basic-eth]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [basic-raw]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [basic-sll]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [basic-sll2]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [edge]="flows=12 flows_split=8 failopen_not_tls=2 failopen_error=1 failopen_held_limit=1 failopen_timeout=0 failopen_overflow=0 failopen_table_full=0"
    [ns-magic]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [multiseg]="flows=4 flows_split=4 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [ooo]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [ooo-first]="flows=1 flows_split=0 failopen_not_tls=1 failopen_timeout=0 $ZERO"
    [retrans]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [overlap]="flows=2 flows_split=2 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [gap-timeout]="flows=3 flows_split=2 failopen_not_tls=0 failopen_timeout=1 $ZERO"
    [gap-end]="flows=1 flows_split=0 failopen_not_tls=0 failopen_timeout=1 $ZERO"
    [http443]="flows=1 flows_split=0 failopen_not_tls=1 failopen_timeout=0 segments_emitted=0 $ZERO"
    [port80]="packets=21 flows=0 flows_split=0 segments_emitted=0 held_bytes_peak=0"
    [interleaved]="flows=24 flows_split=24 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [multirecord]="flows=3 flows_split=3 failopen_not_tls=0 failopen_timeout=0 $ZERO"
    [gso]="flows=3 flows_split=2 failopen_not_tls=0 failopen_timeout=1 $ZERO"
)
# Real client captures: one TLS connection each, all of it split.
REAL_FACTS="flows>=1 flows_split=@flows failopen_not_tls=0 failopen_timeout=0 $ZERO"

BATCH=$TMP/batch.txt
: >"$BATCH"
declare -a ORDER=()

# run_case NAME CAPTURE "HELLOSPLIT ARGS" "PINS" [CHECKER EXTRA ARGS...]
run_case() {
    local name=$1 cap=$2 args=$3 pins=$4 out json rc pin exp=()
    shift 4
    out="$TMP/out/$name.pcap"
    json="$TMP/out/$name.json"
    mkdir -p "$(dirname "$out")"
    # shellcheck disable=SC2086
    timeout -s KILL 10 "$BIN" --pcap-in "$cap" --pcap-out "$out" --stats-json "$json" $args \
        2>"$TMP/out/$name.err"
    rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "$name: hellosplit exited $rc: $(grep -v '^  ' "$TMP/out/$name.err" | head -3 | tr '\n' ' ')"
        return
    fi
    for pin in $pins; do exp+=(--expect "$pin"); done
    # shellcheck disable=SC2086  # ARGS split into words on purpose
    printf '%q ' "$name" "$cap" "$out" $args --stats-json "$json" "${exp[@]}" -q "$@" >>"$BATCH"
    echo >>"$BATCH"
    ORDER+=("$name")
}

for cap in "$PCAPS"/*.pcap; do
    base=$(basename "$cap" .pcap)
    facts=${FACTS[$base]-}
    [[ -n $facts ]] || { fail "$base: no facts pinned in run.sh for this capture"; continue; }
    for spec in "${SPECS[@]}"; do
        extra=()
        [[ $spec == 2,sni,sniend && $HAVE_TSHARK == 1 ]] && extra=(--tshark)
        run_case "$base/$spec" "$cap" "--split-at $spec" "$facts" "${extra[@]}"
    done
done

# the same captures in other modes and with other limits
P=$PCAPS
for spec in "${SPECS[@]}"; do
    run_case "multirecord/handshake/$spec" "$P/multirecord.pcap" "--split-at $spec --tls-complete handshake" \
        "${FACTS[multirecord]}"
done
run_case "basic-eth/handshake" "$P/basic-eth.pcap" "--split-at 2,sni,sniend --tls-complete handshake" \
    "${FACTS[basic-eth]}"
run_case "retrans/resplit-count" "$P/retrans.pcap" "--split-at 2,sni,sniend" \
    "${FACTS[retrans]} resplit_retransmits=3"
run_case "http443/immediate" "$P/http443.pcap" "--split-mode immediate" \
    "flows=1 flows_split=1 failopen_not_tls=0 segments_emitted=2"
run_case "http443/immediate-markers" "$P/http443.pcap" "--split-mode immediate --split-at 2,sni,20" \
    "flows=1 flows_split=1 failopen_not_tls=0 segments_emitted=3"
run_case "port80/ports-80" "$P/port80.pcap" "--ports 80,443 --split-at sni" \
    "flows=2 flows_split=1 failopen_not_tls=1"
run_case "basic-eth/max-buffer-256" "$P/basic-eth.pcap" "--max-buffer 256" \
    "flows=2 flows_split=0 failopen_overflow=2 segments_emitted=0"
run_case "multiseg/max-held-pkts-1" "$P/multiseg.pcap" "--max-held-pkts 1 --split-at sni" \
    "flows=4 flows_split=2 failopen_held_limit=2"
run_case "gso/mss-536" "$P/gso.pcap" "--mss 536 --split-at sni" "${FACTS[gso]}"
run_case "gap-timeout/timeout-100" "$P/gap-timeout.pcap" "--collect-timeout 100" "${FACTS[gap-timeout]}"
run_case "gap-timeout/timeout-50" "$P/gap-timeout.pcap" "--collect-timeout 50" \
    "flows=3 flows_split=1 failopen_timeout=2"
run_case "interleaved/observe" "$P/interleaved.pcap" "--observe --split-at sni" \
    "flows=24 flows_split=24" --observe
run_case "gap-timeout/observe" "$P/gap-timeout.pcap" "--observe" "flows_split=2 failopen_timeout=1" --observe

# real client captures (tests/captures/), converted if pcapng
if compgen -G "$CAPTURES/*.pcap*" >/dev/null; then
    for cap in "$CAPTURES"/*.pcap*; do
        base=real-$(basename "$cap" | sed 's/\.pcap.*$//')
        if [[ $(head -c4 "$cap" | od -An -tx1 | tr -d ' ') == 0a0d0d0a ]]; then
            if command -v editcap >/dev/null && editcap -F pcap "$cap" "$TMP/$base.pcap" 2>/dev/null; then
                cap=$TMP/$base.pcap
            else
                fail "$base: pcapng and no editcap to convert it"
                continue
            fi
        fi
        for spec in "${SPECS[@]}"; do
            extra=()
            [[ $spec == 2,sni,sniend && $HAVE_TSHARK == 1 ]] && extra=(--tshark)
            run_case "$base/$spec" "$cap" "--split-at $spec" "$REAL_FACTS" "${extra[@]}"
            run_case "$base/handshake/$spec" "$cap" "--split-at $spec --tls-complete handshake" "$REAL_FACTS"
        done
        run_case "$base/mss-536" "$cap" "--split-at sni --mss 536" "$REAL_FACTS"
    done
else
    echo "note: no real captures in $CAPTURES (tests/e2e/make_captures.sh records them)"
fi

# ---------------------------------------------------------------- 2. malformed input

MAL=$TMP/mal
GOOD=$PCAPS/multiseg.pcap
"$PY" "$HERE/make_malformed.py" "$MAL" "$GOOD" 200 20241125 >/dev/null || fail "make_malformed.py failed"

sanitizer_report() {   # a sanitizer's words anywhere in stderr
    grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$1"
}

# mal_run BINARY FILE -> sets RC; output FILE.out, FILE.json, FILE.err
mal_run() {
    local bin=$1 f=$2 limit=${3:-5}
    timeout -s KILL "$limit" "$bin" --pcap-in "$f" --pcap-out "$f.out" --stats-json "$f.json" 2>"$f.err" </dev/null
    RC=$?
}

FUZZ_TOTAL=0
FUZZ_BAD=0
declare -A FUZZ_RC=()
while read -r file expect pins; do
    f=$MAL/$file
    mal_run "$BIN" "$f"
    rc=$RC
    last=$(tail -1 "$f.err")
    if [[ $rc -eq 137 ]]; then
        fail "malformed/$file: hang (killed after 5 s)"
        continue
    elif [[ $rc -gt 128 ]]; then
        fail "malformed/$file: killed by signal $((rc - 128))"
        continue
    elif sanitizer_report "$f.err"; then
        fail "malformed/$file: sanitizer report: $last"
        continue
    fi
    case $expect in
    exit1)
        word=${pins#msg=}
        msg=$(grep '^hellosplit: ' "$f.err" | grep -v 'stats after' | head -1)
        if [[ $rc -eq 1 ]] && grep -qi -- "$word" <<<"$msg"; then
            pass "malformed/$file: exit 1: ${msg#hellosplit: }"
        else
            fail "malformed/$file: expected exit 1 with an error about '$word', got exit $rc: $msg"
        fi
        ;;
    exit0)
        if [[ $rc -ne 0 ]]; then
            fail "malformed/$file: expected exit 0 (a counted pass), got $rc: $(head -1 "$f.err")"
            continue
        fi
        if [[ $pins == full* ]]; then
            printf '%q ' "malformed/$file" "$f" "$f.out" --stats-json "$f.json" -q --expect flows_split=@flows \
                --expect "flows>=1" >>"$BATCH"
        else
            exp=()
            for pin in $pins; do exp+=(--expect "$pin"); done
            printf '%q ' "malformed/$file" "$f" "$f.out" --stats-json "$f.json" --invariants-only -q "${exp[@]}" \
                >>"$BATCH"
        fi
        echo >>"$BATCH"
        ORDER+=("malformed/$file")
        ;;
    fuzz)
        FUZZ_TOTAL=$((FUZZ_TOTAL + 1))
        FUZZ_RC[$file]=$rc
        if [[ $rc -ne 0 && $rc -ne 1 ]]; then
            fail "malformed/$file: exit $rc (only 0 or 1 allowed): $last"
            FUZZ_BAD=$((FUZZ_BAD + 1))
        elif [[ $rc -eq 1 ]] && ! grep '^hellosplit: ' "$f.err" | grep -vq 'stats after'; then
            fail "malformed/$file: exit 1 without an error message"
            FUZZ_BAD=$((FUZZ_BAD + 1))
        elif [[ $rc -eq 0 ]]; then
            printf '%q ' "fuzz/$file" "$f" "$f.out" --invariants-only -q >>"$BATCH"
            echo >>"$BATCH"
        fi
        ;;
    esac
done <"$MAL/cases.txt"
fuzz0=0
for v in "${FUZZ_RC[@]}"; do [[ $v == 0 ]] && fuzz0=$((fuzz0 + 1)); done
if [[ $FUZZ_BAD -eq 0 ]]; then
    pass "fuzz: $FUZZ_TOTAL mutated captures, no crash/signal/hang/sanitizer report ($fuzz0 exit 0, $((FUZZ_TOTAL - fuzz0)) exit 1 with a message)"
fi

# ---------------------------------------------------------------- 3. sanitizers

if [[ -n $ASAN_BIN ]]; then
    export ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    asan_bad=0
    asan_n=0
    asan_one() {   # FILE [ARGS] : same exit code and output as BIN, no report
        local f=$1 r1 r2
        shift
        timeout -s KILL 5 "$BIN" --pcap-in "$f" --pcap-out "$TMP/asan-ref.pcap" "$@" 2>/dev/null </dev/null
        r1=$?
        timeout -s KILL 60 "$ASAN_BIN" --pcap-in "$f" --pcap-out "$TMP/asan-out.pcap" "$@" 2>"$TMP/asan.err" </dev/null
        r2=$?
        asan_n=$((asan_n + 1))
        if [[ $r2 -ne $r1 ]] || sanitizer_report "$TMP/asan.err" ||
            { [[ $r1 -eq 0 ]] && ! cmp -s "$TMP/asan-ref.pcap" "$TMP/asan-out.pcap"; }; then
            asan_bad=$((asan_bad + 1))
            if [[ $asan_bad -le 3 ]]; then
                echo "    asan/$(basename "$f") $*: exit $r2 (plain build $r1):"
                grep -E 'ERROR: |runtime error|#[0-9] .* in [a-z_]+ src/|SUMMARY' "$TMP/asan.err" | head -6 | sed 's/^/      /'
            fi
        fi
    }
    while read -r file expect _; do
        [[ $expect == fuzz && ${file#fuzz-} > 049.pcap ]] && continue
        asan_one "$MAL/$file"
    done <"$MAL/cases.txt"
    for cap in "$P/multiseg.pcap" "$P/retrans.pcap" "$P/gap-timeout.pcap" "$P/gso.pcap" "$P/overlap.pcap" \
        "$P/edge.pcap"; do
        asan_one "$cap" --split-at 2,sni,sniend
        asan_one "$cap" --split-at midsld --tls-complete handshake
    done
    if [[ $asan_bad -eq 0 ]]; then
        pass "asan: $asan_n runs under -fsanitize=address,undefined: no report, same outputs as the plain build"
    else
        fail "asan: $asan_bad of $asan_n runs under -fsanitize=address,undefined failed (first ones above)"
    fi
else
    echo "note: no ASAN_BINARY given: sanitizer runs skipped (see the header of this script)"
fi

# ---------------------------------------------------------------- checker batch

# Two halves in parallel (2 cores); each prints 'NAME: OK|FAILED ...' per case.
n=$(wc -l <"$BATCH")
head -n $(((n + 1) / 2)) "$BATCH" >"$TMP/b1.txt"
tail -n +$(((n + 1) / 2 + 1)) "$BATCH" >"$TMP/b2.txt"
"${CHECK[@]}" --batch "$TMP/b1.txt" >"$TMP/r1.txt" 2>&1 &
pid=$!
"${CHECK[@]}" --batch "$TMP/b2.txt" >"$TMP/r2.txt" 2>&1
wait "$pid"
cat "$TMP/r1.txt" "$TMP/r2.txt" >"$TMP/results.txt"
while IFS= read -r line; do
    case $line in
    "checker batch:"*) ;;
    *": OK ("*) pass "${line%% (*}" ;;
    *": FAILED ("*) fail "${line%% (*}" ;;
    *) echo "    $line" ;;
    esac
done <"$TMP/results.txt"
checked=$(grep -cE ': (OK|FAILED) \(' "$TMP/results.txt")
if [[ $checked -ne $n ]]; then
    fail "checker: $n cases queued, $checked reported (checker crashed?)"
    grep -E 'Traceback|Error' "$TMP/results.txt" | head -5
fi

# ---------------------------------------------------------------- misc

# determinism: the same input twice gives the same output byte for byte
"$BIN" --pcap-in "$P/interleaved.pcap" --pcap-out "$TMP/d1.pcap" --split-at 2,sni,sniend 2>/dev/null
"$BIN" --pcap-in "$P/interleaved.pcap" --pcap-out "$TMP/d2.pcap" --split-at 2,sni,sniend 2>/dev/null
if cmp -s "$TMP/d1.pcap" "$TMP/d2.pcap"; then pass "determinism: two runs, identical outputs"; else fail "determinism: two runs differ"; fi
# --split-chunk N is --split-at N; both together is a usage error
"$BIN" --pcap-in "$P/multiseg.pcap" --pcap-out "$TMP/c1.pcap" --split-chunk 7 2>/dev/null
"$BIN" --pcap-in "$P/multiseg.pcap" --pcap-out "$TMP/c2.pcap" --split-at 7 2>/dev/null
if cmp -s "$TMP/c1.pcap" "$TMP/c2.pcap"; then pass "--split-chunk 7 = --split-at 7"; else fail "--split-chunk 7 differs from --split-at 7"; fi
"$BIN" --pcap-in "$P/multiseg.pcap" --pcap-out "$TMP/c3.pcap" --split-chunk 7 --split-at 7 2>/dev/null
rc=$?
if [[ $rc -eq 2 ]]; then pass "--split-chunk with --split-at: usage error (2)"; else fail "--split-chunk with --split-at: exit $rc, expected 2"; fi
"$BIN" --pcap-in "$TMP/does-not-exist.pcap" --pcap-out "$TMP/x.pcap" 2>"$TMP/x.err"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "cannot open" "$TMP/x.err"; then pass "missing input: exit 1, '$(head -1 "$TMP/x.err")'"; else fail "missing input: exit $rc"; fi

# ---------------------------------------------------------------- 4. the checker can go red

selftest() {   # NAME CAPTURE ARGS...
    local name=$1 cap=$2
    shift 2
    if ! "$BIN" --pcap-in "$cap" --pcap-out "$TMP/st.pcap" "$@" 2>/dev/null; then
        fail "selftest/$name: hellosplit failed"
        return
    fi
    if "${CHECK[@]}" --selftest "$cap" "$TMP/st.pcap" "$@" >"$TMP/st.txt" 2>&1; then
        pass "selftest/$name: $(tail -1 "$TMP/st.txt" | sed 's/^selftest: //')"
    else
        fail "selftest/$name: $(tail -1 "$TMP/st.txt")"
        grep -E 'NOT CAUGHT|not for the expected|baseline|must pass' "$TMP/st.txt" | head -8 | sed 's/^/    /'
    fi
}
selftest multiseg "$P/multiseg.pcap" --split-at 2,sni,sniend
selftest retrans "$P/retrans.pcap" --split-at 2,sni,sniend
selftest basic-sll "$P/basic-sll.pcap" --split-at 1,midsld,sniend
for cap in "$CAPTURES"/curl-v4.pcap "$CAPTURES"/chromium-v4.pcap; do
    [[ -f $cap ]] && selftest "real-$(basename "$cap" .pcap)" "$cap" --split-at 2,sni,sniend
done

echo "offline: $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
