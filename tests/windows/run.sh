#!/bin/bash
# tests/windows/run.sh -- doc/testing.md layer 4: the Windows build under wine.
#
#   tests/windows/run.sh [--no-build]        (make windows-check runs it)
#
# 1. the unit tests, cross-built, under wine;
# 2. the real hellosplit.exe against the fake WinDivert.dll (fake_windivert.c)
#    for every capture in tests/captures/ and tests/offline/pcaps/ with
#    --split-at 5, sni, midsld and 5,midsld: what it sends must equal the
#    Linux build's --pcap-out for the same capture, reduced to what the
#    Windows filter diverts (parity.py), with correct checksums and address
#    flags, the same counters, and no contract violation in the fake's log;
# 3. cases: checksum offload, synchronous receives, send errors, hostlists,
#    --config, shutdown with a half-received hello held (fake Ctrl-C, SIGINT,
#    Ctrl-Break), the filters generated from the flags, every WinDivertOpen
#    error, missing files, not elevated (test build), bad flags, doctor,
#    --print-interfaces, --stats-json replacing its file;
# 4. the service under wine's service manager: its data folder (created
#    with an access list, repaired when others may write, refused when
#    someone else owns it or it is a link, no planted temporary file written
#    through), install, registry, start, parity of what the service sent,
#    stop releasing a held packet, a start refused in a folder others may
#    write, a failed start, uninstall;
# 5. the release zip built from a fake WinDivert release zip, and
#    install.cmd/uninstall.cmd under wine's cmd.
# Prints one line per check and 'N passed, N failed'; exits 1 on any failure.
# Missing wine, mingw-w64 or python3 is a failure, never a skip.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
PARITY=$HERE/parity.py
LINUX=$ROOT/build/hellosplit
EXE=$ROOT/build/windows/hellosplit.exe
UNIT=$ROOT/build/windows/unit.exe
HOOKS=$ROOT/build/windows-test/hellosplit-hooks.exe
FAKE=$ROOT/build/windows-test/WinDivert.dll
SVCCTL=$ROOT/build/windows-test/svc_control.exe
JOBS=2
START=$SECONDS
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
finish() {
    echo "$PASSED passed, $FAILED failed ($((SECONDS - START)) s)"
    [[ $FAILED -eq 0 ]]
    exit
}

missing=
for tool in x86_64-w64-mingw32-gcc wine wineserver unzip zip; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
[[ -x $PY ]] || missing="$missing /usr/bin/python3"
if [[ -n $missing ]]; then
    fail "missing:$missing (scripts/install-deps.sh test installs mingw-w64, wine, wine64, zip, unzip, python3)"
    finish
fi
if [[ ${1:-} != --no-build ]]; then
    make -s -C "$ROOT" build/windows/hellosplit.exe build/windows/unit.exe build/windows-test/hellosplit-hooks.exe \
        build/windows-test/WinDivert.dll build/windows-test/svc_control.exe build/hellosplit >/dev/null || { fail "build"; finish; }
fi
for f in "$LINUX" "$EXE" "$UNIT" "$HOOKS" "$FAKE" "$SVCCTL"; do
    [[ -f $f ]] || { fail "$f is missing (make windows-check builds it)"; finish; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-windows.XXXXXX") || exit 1
KEEP=$ROOT/build/windows/test-failures
rm -rf "$KEEP"
export WT_WINEPREFIX=$ROOT/build/windows/wineprefix
# shellcheck source=tests/windows/wine_env.sh
. "$HERE/wine_env.sh"
wt_begin || { fail "wine prefix $WT_WINEPREFIX"; finish; }
trap 'wt_stop; rm -rf "$TMP"' EXIT

# The directory a user would have: the exe with WinDivert.dll (fake) and a
# stand-in WinDivert64.sys; the hooks build in its own copy.
APP=$TMP/app
mkdir -p "$APP" "$TMP/hooks" "$TMP/nodll" "$TMP/nosys" "$TMP/cases" "$TMP/results"
cp "$EXE" "$FAKE" "$APP/" && echo "stand-in for the driver file" >"$APP/WinDivert64.sys"
cp "$HOOKS" "$TMP/hooks/hellosplit.exe" && cp "$FAKE" "$APP/WinDivert64.sys" "$TMP/hooks/"
cp "$EXE" "$TMP/nodll/" && cp "$EXE" "$FAKE" "$TMP/nosys/"

# Remove a service a failed earlier run left in this prefix.
wt_run 30 "$TMP/o" "$TMP/e" "$APP/hellosplit.exe" service uninstall

crlf() { tr -d '\r' <"$1"; }

# ---------------------------------------------------------------- 1. unit tests
wt_run 300 "$TMP/unit.out" "$TMP/unit.err" "$UNIT"
rc=$?
if [[ $rc -eq 0 ]] && crlf "$TMP/unit.out" | grep -Eq '^[0-9]+ passed, 0 failed$'; then
    pass "unit tests under wine: $(crlf "$TMP/unit.out" | tail -1)"
else
    fail "unit tests under wine (exit $rc): $(crlf "$TMP/unit.out" | tail -1)"
    crlf "$TMP/unit.err" | head -20
fi

# ---------------------------------------------------------------- 2. parity
# run_exe DIR OUTPUT_BASE ARGS... : the exe of DIR under the fake, as set up
# by the caller's FAKE_WINDIVERT_* variables; sets RC.
run_exe() {
    local dir=$1 base=$2
    shift 2
    wt_run 60 "$base.out" "$base.err" "$dir/hellosplit.exe" "$@"
    RC=$?
}

# Captures whose synthetic corner cases hinge on packets without payload
# (RST while a hello is held, a SYN reusing a held tuple, a 4-tuple reused
# after a FIN): the Windows filter (tcp.PayloadLength > 0) hides those from
# the engine, so its decisions differ from the Linux run over the whole
# capture. There the exe must equal the Linux run over the packets the
# filter diverts (the second reference); anywhere else, the first.
FILTER_DIFF=" edge "

# parity_case NAME PCAP "ARGS" ["FAKE_VAR=VALUE ..."] ["windows-only ARGS" "linux-only ARGS"] -> results/NAME
# ARGS go to both builds; the fake raises Ctrl-C 400 ms after the replay.
# The replay runs in real time: on a loaded machine a stall of a few hundred
# ms turns a split into a collect timeout. A failed case runs once more and
# says so; it passes only when the second run is exact.
parity_case() {
    local name=$1 pcap=$2 args=$3 fenv=${4:-} winargs=${5:-} linargs=${6:-} d=$TMP/cases/$1
    local local_addrs flagcheck=--checksum-flags attempt first=""
    mkdir -p "$d"
    local_addrs=$("$PY" "$PARITY" local "$pcap")
    "$PY" "$PARITY" filter "$pcap" "$d/in-filtered.pcap" --local "$local_addrs"
    # shellcheck disable=SC2086
    if ! "$LINUX" --pcap-in "$pcap" --pcap-out "$d/lin.pcap" --stats-json "$d/lin.json" $args $linargs 2>"$d/lin.err" ||
        ! "$LINUX" --pcap-in "$d/in-filtered.pcap" --pcap-out "$d/linf.pcap" --stats-json "$d/linf.json" $args $linargs \
            2>"$d/linf.err"; then
        echo "FAIL: $name: the Linux reference failed: $(tail -1 "$d/lin.err" "$d/linf.err")" >"$TMP/results/$name"
        return
    fi
    [[ $fenv == *CSUM_OFFLOAD* || $pcap == *offload* ]] && flagcheck=
    for attempt in 1 2; do
        parity_attempt
        [[ -z $problems ]] && break
        first=$problems
        mkdir -p "$KEEP/$name.attempt$attempt" && cp -r "$d/." "$KEEP/$name.attempt$attempt/"
    done
    if [[ -z $problems ]]; then
        echo "PASS: $name: $out${cnt:+; $cnt}$note${first:+ (on the second run; the first:$first)}" >"$TMP/results/$name"
    else
        echo "FAIL: $name:$problems" >"$TMP/results/$name"
    fi
}

# One run of the exe for parity_case (its variables); sets problems, out, cnt, note.
parity_attempt() {
    local ref=lin out2
    problems="" out="" cnt="" note=""
    rm -f "$d/win.pcap" "$d/win.json"
    (
        wt_fake_env "$pcap" "$d/win.pcap" "$d/fake.log"
        export FAKE_WINDIVERT_LOCAL=$local_addrs FAKE_WINDIVERT_EXIT_AFTER_MS=400
        # the bytes exactly as sent; with simulated offload the fake's finishing
        # of flag-0 checksums is what leaves the machine
        [[ $fenv == *CSUM_OFFLOAD* ]] || export FAKE_WINDIVERT_OUT_RAW=1
        for kv in $fenv; do export "${kv?}"; done
        # shellcheck disable=SC2086
        run_exe "$APP" "$d/exe" --stats-json "$(wt_winpath "$d/win.json")" $args $winargs
        exit $RC
    )
    RC=$?
    [[ $RC -eq 0 ]] || problems+=" exit $RC;"
    crlf "$d/exe.err" | grep -q '^hellosplit: stats after' || problems+=" no counters printed at exit (shutdown path not run);"
    [[ $(wt_violations "$d/fake.log") -eq 0 ]] || problems+=" $(grep -c ' VIOLATION ' "$d/fake.log") contract violations: $(grep -m1 ' VIOLATION ' "$d/fake.log");"
    grep -q 'WinDivertClose(h1)' "$d/fake.log" || problems+=" the handle was not closed;"
    grep -q 'SUMMARY .* dropped=0 ' "$d/fake.log" || problems+=" the fake dropped packets (queue time/length);"
    # shellcheck disable=SC2086
    if ! out=$("$PY" "$PARITY" compare "$d/lin.pcap" "$d/win.pcap" --local "$local_addrs" --addr "$d/win.pcap.addr.txt" $flagcheck 2>&1); then
        # shellcheck disable=SC2086
        if [[ $FILTER_DIFF == *" ${name%-*} "* ]] &&
            out2=$("$PY" "$PARITY" compare "$d/linf.pcap" "$d/win.pcap" --local "$local_addrs" --addr "$d/win.pcap.addr.txt" $flagcheck 2>&1); then
            ref=linf
            note=" (equal to Linux over the diverted packets; the whole capture's output differs, as expected here: $(head -1 <<<"$out"))"
            out=$out2
        else
            problems+=" $out;"
        fi
    fi
    if [[ $fenv != *CSUM_OFFLOAD* ]]; then
        [[ -f $d/win.json ]] && cnt=$("$PY" "$PARITY" stats "$d/$ref.json" "$d/win.json" 2>&1) || problems+=" ${cnt:-no --stats-json written};"
    fi
}

throttle() {
    while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do wait -n; done
}

CAPTURES=("$ROOT"/tests/captures/*.pcap "$ROOT"/tests/offline/pcaps/*.pcap)
[[ -e ${CAPTURES[0]} ]] || fail "no captures in tests/captures"
for pcap in "${CAPTURES[@]}"; do
    [[ -e $pcap ]] || continue
    for at in 5 sni midsld 5,midsld; do
        throttle
        parity_case "$(basename "$pcap" .pcap)-$at" "$pcap" "--split-at $at" &
    done
done
C=$ROOT/tests/captures
O=$ROOT/tests/offline/pcaps
printf 'www.blocked.example\n' >"$TMP/hosts.txt"
printf '# service-style options\nsplit-at midsld\ncollect-timeout 300\n' >"$TMP/options.conf"
throttle; parity_case offload-chromium "$C/chromium-v4.pcap" "--split-at midsld" \
    "FAKE_WINDIVERT_CSUM_OFFLOAD=1" &
throttle; parity_case offload-v6 "$C/curl-v6.pcap" "--split-at sni" "FAKE_WINDIVERT_CSUM_OFFLOAD=1" &
throttle; parity_case immediate-receive "$O/multiseg.pcap" "--split-at 5,midsld" "FAKE_WINDIVERT_OVERLAPPED_IMMEDIATE=1" &
throttle; parity_case handshake-mode "$O/multirecord.pcap" "--split-at sni --tls-complete handshake" &
throttle; parity_case split-mode-immediate "$C/gnutls-v4.pcap" "--split-mode immediate --split-at 3,100" &
throttle; parity_case timeout-150ms "$O/gap-timeout.pcap" "--collect-timeout 150" &
throttle; parity_case hostlist-match "$C/curl-v4.pcap" "--hostlist $TMP/hosts.txt --split-at midsld" &
throttle; parity_case hostlist-exclude "$C/python-v4.pcap" "--hostlist-exclude $TMP/hosts.txt" &
throttle; parity_case strict-fake "$C/chromium-v4-offload.pcap" "--split-at sni" "FAKE_WINDIVERT_STRICT=1" &
wait
# --config: the Windows run reads the options from a file, Linux gets them as flags
parity_case config-file "$C/chromium-v4.pcap" "" "" "--config $(wt_winpath "$TMP/options.conf")" \
    "--split-at midsld --collect-timeout 300" &
wait
for f in "$TMP"/results/*; do
    line=$(cat "$f")
    case $line in
    PASS:*) pass "${line#PASS: }" ;;
    *) fail "${line#FAIL: }" ;;
    esac
done
rm -f "$TMP"/results/*
# the counters the named cases exist for
json_stat() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "missing"))' "$1" "$2"; }
for check in "retrans-5 resplit_retransmits" "gap-timeout-5 failopen_timeout" "timeout-150ms failopen_timeout" \
    "hostlist-exclude pass_hostlist"; do
    set -- $check
    v=$(json_stat "$TMP/cases/$1/win.json" "$2" 2>/dev/null)
    [[ ${v:-0} =~ ^[1-9] ]] && pass "$1: the Windows run counted $2 = $v" || fail "$1: $2 = ${v:-none}, expected > 0"
done

# Every comparison must be able to fail: a Linux output with another split.
d=$TMP/cases/curl-v4-5
if [[ -f $d/win.pcap ]] && ! "$PY" "$PARITY" compare "$TMP/cases/curl-v4-midsld/lin.pcap" "$d/win.pcap" \
    --local "$("$PY" "$PARITY" local "$C/curl-v4.pcap")" >/dev/null; then
    pass "parity check goes red on a different split"
else
    fail "parity check did not notice a different split"
fi

# ---------------------------------------------------------------- 3. shutdown with held packets
"$PY" "$PARITY" half-hello "$C/chromium-v4.pcap" "$TMP/half.pcap"
HALF_LOCAL=$("$PY" "$PARITY" local "$TMP/half.pcap")
"$LINUX" --pcap-in "$TMP/half.pcap" --pcap-out "$TMP/half-linux.pcap" --collect-timeout 60000 2>/dev/null

# held_case NAME HOW : HOW = fake (the fake raises Ctrl-C), sigint (kill -INT
# from the shell), break (the fake raises Ctrl-Break)
held_case() {
    local name=$1 how=$2 d=$TMP/cases/$1 problems="" out
    mkdir -p "$d"
    (
        wt_fake_env "$TMP/half.pcap" "$d/win.pcap" "$d/fake.log"
        export FAKE_WINDIVERT_LOCAL=$HALF_LOCAL
        case $how in
        fake) export FAKE_WINDIVERT_EXIT_AFTER_MS=500 ;;
        break) export FAKE_WINDIVERT_EXIT_AFTER_MS=500 FAKE_WINDIVERT_CTRL_EVENT=break ;;
        esac
        if [[ $how == sigint ]]; then
            wt_run_bg "$d/exe.out" "$d/exe.err" "$APP/hellosplit.exe" --collect-timeout 60000 \
                --stats-json "$(wt_winpath "$d/win.json")"
            wt_wait_for "$d/fake.log" ' RECV ' 20
            sleep 0.5
            kill -INT "$WT_PID"
            wt_wait_pid "$WT_PID" 20
        else
            wt_run 60 "$d/exe.out" "$d/exe.err" "$APP/hellosplit.exe" --collect-timeout 60000 \
                --stats-json "$(wt_winpath "$d/win.json")"
        fi
    )
    RC=$?
    [[ $RC -eq 0 ]] || problems+=" exit $RC;"
    [[ $(json_stat "$d/win.json" failopen_shutdown 2>/dev/null) == 1 ]] || problems+=" failopen_shutdown is not 1;"
    [[ $(wt_violations "$d/fake.log") -eq 0 ]] || problems+=" contract violations;"
    grep -q 'WinDivertShutdown(h1, RECV)' "$d/fake.log" || problems+=" no WinDivertShutdown before the release;"
    out=$("$PY" "$PARITY" compare "$TMP/half-linux.pcap" "$d/win.pcap" --local "$HALF_LOCAL" \
        --addr "$d/win.pcap.addr.txt" 2>&1) || problems+=" $out;"
    [[ $("$PY" "$TMP/count.py" "$d/win.pcap" 2>/dev/null) == 1 ]] || problems+=" not exactly the one held packet sent;"
    if [[ -z $problems ]]; then
        pass "$name: the half-received hello held at $how was released unchanged before the handle closed ($out)"
    else
        fail "$name:$problems"
        mkdir -p "$KEEP" && cp -r "$d" "$KEEP/"
    fi
}
printf 'import sys\nsys.path.insert(0, "%s")\nimport parity\nprint(len(parity.ip_packets(sys.argv[1])))\n' "$HERE" \
    >"$TMP/count.py"
held_case held-ctrl-c fake
held_case held-sigint sigint
held_case held-ctrl-break break

# ---------------------------------------------------------------- 3. filters from the flags
# filter_case "FLAGS" "EXPECTED FILTER" [packets the fake should divert from curl-v4]
filter_case() {
    local flags=$1 want=$2 packets=${3:-} d=$TMP/filter got
    mkdir -p "$d"
    (
        wt_fake_env "$C/curl-v4.pcap" "$d/win.pcap" "$d/fake.log"
        export FAKE_WINDIVERT_EXIT_AFTER_MS=200
        # shellcheck disable=SC2086
        eval run_exe "$APP" "$d/exe" $flags
        exit $RC
    )
    RC=$?
    got=$(crlf "$d/exe.err" | sed -n 's/^hellosplit: running with filter "\(.*\)"\. Ctrl-C stops\.$/\1/p')
    if [[ $RC -eq 0 && $got == "$want" && $(wt_violations "$d/fake.log") -eq 0 ]] &&
        { [[ -z $packets ]] || grep -q "received=$packets sent=" "$d/fake.log"; }; then
        pass "filter for [${flags:-defaults}]: $got${packets:+ (diverted $packets)}"
    else
        fail "filter for [${flags:-defaults}]: exit $RC, got \"$got\", expected \"$want\"; $(grep -m1 'VIOLATION\|WinDivertOpen ->' "$d/fake.log")"
    fi
}
BASE='outbound and !loopback and (ip or ipv6)'
filter_case "" "$BASE and tcp.DstPort == 443 and tcp.PayloadLength > 0" 4
filter_case "--ports 443,8443,9000-9010" \
    "$BASE and (tcp.DstPort == 443 or tcp.DstPort == 8443 or (tcp.DstPort >= 9000 and tcp.DstPort <= 9010)) and tcp.PayloadLength > 0" 4
filter_case "--ports 8000-8999" "$BASE and (tcp.DstPort >= 8000 and tcp.DstPort <= 8999) and tcp.PayloadLength > 0" 0
filter_case "--no-exclude-loopback" "outbound and (ip or ipv6) and tcp.DstPort == 443 and tcp.PayloadLength > 0" 4
filter_case "--exclude-ifidx 7" "$BASE and tcp.DstPort == 443 and tcp.PayloadLength > 0 and ifIdx != 7" 0
filter_case "--exclude-ifidx 12,7.1" \
    "$BASE and tcp.DstPort == 443 and tcp.PayloadLength > 0 and ifIdx != 12 and (ifIdx != 7 or subIfIdx != 1)" 4
filter_case "--exclude-ifidx 7.0" \
    "$BASE and tcp.DstPort == 443 and tcp.PayloadLength > 0 and (ifIdx != 7 or subIfIdx != 0)" 0
filter_case "--filter-extra 'tcp.Payload[0] == 0x16'" \
    "$BASE and tcp.DstPort == 443 and tcp.PayloadLength > 0 and (tcp.Payload[0] == 0x16)" 1
filter_case "--ports 443,8443 --no-exclude-loopback --exclude-ifidx 3,4.2 --filter-extra 'ip.DstAddr != 10.0.0.1'" \
    "outbound and (ip or ipv6) and (tcp.DstPort == 443 or tcp.DstPort == 8443) and tcp.PayloadLength > 0 and ifIdx != 3 and (ifIdx != 4 or subIfIdx != 2) and (ip.DstAddr != 10.0.0.1)" 4

# ---------------------------------------------------------------- 3. errors
# expect_exit NAME CODE REGEX DIR ARGS... (FAKE_WINDIVERT_* from the caller's environment)
expect_exit() {
    local name=$1 code=$2 re=$3 dir=$4 d=$TMP/err
    shift 4
    mkdir -p "$d"
    run_exe "$dir" "$d/exe" "$@"
    if [[ $RC -eq $code ]] && cat "$d/exe.err" "$d/exe.out" | tr -d '\r' | grep -Eq -- "$re"; then
        pass "$name: exit $RC, $(cat "$d/exe.err" "$d/exe.out" | tr -d '\r' | grep -E -m1 -- "$re" | cut -c1-170)"
    else
        fail "$name: exit $RC (want $code), output: $(crlf "$d/exe.err" | head -3) $(crlf "$d/exe.out" | head -3)"
    fi
}
# each WinDivertOpen error: its number, Windows' text and what to do; exit 1
declare -A OPEN_HINT=(
    [2]="WinDivert64.sys"
    [5]="needs Administrator rights"
    [87]="rejected the filter"
    [577]="digital signature"
    [654]="another version of the WinDivert driver"
    [1060]="not installed"
    [1275]="blocked the WinDivert driver"
    [1753]="Base Filtering Engine"
)
mkdir -p "$TMP/err"
wt_fake_env "" "" ""
export FAKE_WINDIVERT_LOG=$TMP/err/fake.log       # appended by every case below
for code in 2 5 87 577 654 1060 1275 1753; do
    export FAKE_WINDIVERT_OPEN_ERROR=$code
    expect_exit "WinDivertOpen error $code" 1 "cannot open WinDivert \\(error $code: [^)]+\\): .*${OPEN_HINT[$code]}" "$APP"
done
export FAKE_WINDIVERT_OPEN_ERROR=2
expect_exit "error 2 with WinDivert64.sys present" 1 "Windows could not find the WinDivert driver although" "$APP"
expect_exit "error 2 with WinDivert64.sys absent" 1 "driver file WinDivert64.sys is not in Z:.*next to WinDivert.dll" "$TMP/nosys"
export FAKE_WINDIVERT_OPEN_ERROR=87
expect_exit "error 87 names --filter-extra" 1 "Check --filter-extra \"tcp.DstPort == 1\"" "$APP" --filter-extra "tcp.DstPort == 1"
unset FAKE_WINDIVERT_OPEN_ERROR
export FAKE_WINDIVERT_LOG=$TMP/err/not.log       # the fake logs the rejected filter as a violation
expect_exit "the fake's filter parser refuses 'not (...)' (WinDivert 2.2)" 1 "error 87: .*'not'" "$APP" \
    --filter-extra "not (ifIdx == 7 and subIfIdx == 0)"
grep -q "VIOLATION WinDivertOpen: invalid filter .* unexpected '(' after not" "$TMP/err/not.log" &&
    pass "the fake names the rejected 'not (' in its log" || fail "the fake did not reject 'not ('"
export FAKE_WINDIVERT_LOG=$TMP/err/fake.log
expect_exit "WinDivert.dll missing" 1 "WinDivert.dll is not in Z:.*loads it only from its own directory" "$TMP/nodll"
export FAKE_WINDIVERT_VERSION=1.4
expect_exit "driver version 1.4" 1 "driver is version 1.4; hellosplit needs 2.2" "$APP"
unset FAKE_WINDIVERT_VERSION
export HELLOSPLIT_TEST_NOT_ELEVATED=1
expect_exit "not elevated (test build)" 1 "needs Administrator rights .*Run as administrator" "$TMP/hooks"
expect_exit "not elevated: doctor" 1 "PROBLEM  not running as Administrator" "$TMP/hooks" doctor
expect_exit "not elevated: service install" 1 "service install' needs Administrator rights" "$TMP/hooks" service install
unset HELLOSPLIT_TEST_NOT_ELEVATED
if grep -aq HELLOSPLIT_TEST_NOT_ELEVATED "$EXE"; then
    fail "the shipped hellosplit.exe contains the test hook"
else
    pass "the shipped hellosplit.exe has no test hook (only build/windows-test/hellosplit-hooks.exe)"
fi

# bad flags: usage errors, exit 2, before anything is opened
expect_exit "bad flag" 2 "unknown option '--bogus'" "$APP" --bogus
expect_exit "Linux flag on Windows" 2 "--fwmark is a Linux option; this build is for Windows" "$APP" --fwmark 1
expect_exit "bad --queue-len" 2 "--queue-len: '10' is not a number in 32..16384" "$APP" --queue-len 10
expect_exit "bad --exclude-ifidx" 2 "not a list of IfIdx or IfIdx.SubIfIdx" "$APP" --exclude-ifidx 7.x
expect_exit "--ports too long for a WinDivert filter" 2 "--ports: the list needs 201 WinDivert filter tests" "$APP" \
    --ports "$(seq -s, 1 2 401)"
expect_exit "bad service command" 2 "Usage: hellosplit service" "$APP" service frobnicate
expect_exit "service install refuses --pcap-in" 2 "--pcap-in is not a service option" "$APP" service install --pcap-in x
expect_exit "service install: bad flag" 2 "unknown option '--bogus'" "$APP" service install --bogus
expect_exit "service install: '#' in a value" 2 "cannot go into the config file" "$APP" service install \
    --filter-extra "tcp.DstPort != 1 # no"
expect_exit "service run outside the service manager" 2 "started by the service manager" "$APP" service run --config x
expect_exit "doctor: bad flag" 2 "unknown option '--bogus'" "$APP" doctor --bogus
expect_exit "--version" 0 "^hellosplit [0-9]" "$APP" --version
expect_exit "--help lists the Windows options" 0 "--exclude-ifidx LIST" "$APP" --help
expect_exit "--print-interfaces" 0 "^IfIdx  Status  Name" "$APP" --print-interfaces
expect_exit "offline mode on Windows" 0 "stats after" "$APP" --pcap-in "$(wt_winpath "$C/curl-v4.pcap")" \
    --pcap-out "$(wt_winpath "$TMP/offline-win.pcap")"
cmp -s "$TMP/offline-win.pcap" "$TMP/cases/curl-v4-5/lin.pcap" && pass "--pcap-out on Windows equals Linux byte for byte" ||
    fail "--pcap-out on Windows differs from Linux"

# doctor
expect_exit "doctor, all good" 0 "ok       the WinDivert driver opens \\(version 2\\.2\\)" "$APP" doctor
expect_exit "doctor without WinDivert64.sys" 1 "PROBLEM  .*WinDivert64.sys is missing" "$TMP/nosys" doctor
expect_exit "doctor without WinDivert.dll" 1 "PROBLEM  .*WinDivert.dll is missing" "$TMP/nodll" doctor
export FAKE_WINDIVERT_OPEN_ERROR=1275
expect_exit "doctor, driver blocked" 1 "PROBLEM  the WinDivert driver does not open" "$APP" doctor
unset FAKE_WINDIVERT_OPEN_ERROR
grep -q 'WinDivertOpen(filter="false"' "$TMP/err/fake.log" && pass "doctor opens the driver with the filter \"false\"" ||
    fail "doctor did not test-open with \"false\""

[[ $(wt_violations "$TMP/err/fake.log") -eq 0 ]] && pass "no contract violation in the error, flag and doctor cases" ||
    fail "contract violations in the error cases: $(grep -m1 ' VIOLATION ' "$TMP/err/fake.log")"
wt_fake_env "" "" ""

# send errors: logged, counted, the run goes on
(
    wt_fake_env "$C/chromium-v4.pcap" "$TMP/senderr.pcap" "$TMP/senderr.log"
    export FAKE_WINDIVERT_SEND_ERROR=1232@1 FAKE_WINDIVERT_EXIT_AFTER_MS=300
    run_exe "$APP" "$TMP/senderr" --split-at sni
    exit $RC
)
RC=$?
if [[ $RC -eq 0 ]] && crlf "$TMP/senderr.err" | grep -q "sending [0-9]* packets failed (error 1232: " &&
    crlf "$TMP/senderr.err" | grep -q "packets could not be sent"; then
    pass "a failed WinDivertSendEx is reported and the run goes on"
else
    fail "send error: exit $RC; $(crlf "$TMP/senderr.err" | head -3)"
fi

# --stats-json replaces its file (msvcrt's rename() would refuse)
echo stale >"$TMP/stats.json"
(
    wt_fake_env "" "" "$TMP/err/fake.log"
    export FAKE_WINDIVERT_EXIT_AFTER_MS=100
    run_exe "$APP" "$TMP/statsrun" --stats-json "$(wt_winpath "$TMP/stats.json")"
    exit $RC
)
grep -q '"flows_split":0,' "$TMP/stats.json" && pass "--stats-json replaced an existing file" ||
    fail "--stats-json did not replace the file: $(head -c 80 "$TMP/stats.json")"

# ---------------------------------------------------------------- 4. the service under wine
REGENV='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
SVCKEY='HKLM\System\CurrentControlSet\Services\hellosplit'
DATA=$WINEPREFIX/drive_c/ProgramData/hellosplit
SVC=$TMP/svc
mkdir -p "$SVC"
# wine's services.exe builds a service's environment from the registry once:
# put the fake's settings there, then restart wine.
svc_env() {
    wine reg add "$REGENV" /v "$1" /d "$2" /f >/dev/null 2>&1
}
svc_env_clear() {
    local v
    for v in FAKE_WINDIVERT_IN FAKE_WINDIVERT_OUT FAKE_WINDIVERT_LOG FAKE_WINDIVERT_LOCAL FAKE_WINDIVERT_START_DELAY_MS \
        FAKE_WINDIVERT_OPEN_ERROR FAKE_WINDIVERT_OPEN_ERROR_COUNT; do
        wine reg delete "$REGENV" /v "$v" /f >/dev/null 2>&1
    done
}
wt_fake_env "" "" ""
svc_env FAKE_WINDIVERT_IN "$(wt_winpath "$TMP/half-svc.pcap")"
svc_env FAKE_WINDIVERT_OUT "$(wt_winpath "$SVC/out.pcap")"
svc_env FAKE_WINDIVERT_LOG "$(wt_winpath "$SVC/fake.log")"
svc_env FAKE_WINDIVERT_LOCAL "$HALF_LOCAL"
svc_env FAKE_WINDIVERT_START_DELAY_MS 300
# the Base Filtering Engine "not up yet" for the first two opens (as at boot)
svc_env FAKE_WINDIVERT_OPEN_ERROR 1753
svc_env FAKE_WINDIVERT_OPEN_ERROR_COUNT 2
# what the service replays: the whole chromium hello, then the half one
cp "$TMP/half.pcap" "$TMP/half-svc.pcap"
wt_stop
wt_begin
trap 'wt_stop; rm -rf "$TMP"' EXIT
# The data folder: made with an explicit access list; one that lets others
# write is repaired, one that someone else owns or a link is refused; a
# hellosplit.conf.tmp planted there is never written through. Under wine a
# folder's owner and access list come from its unix owner and mode (another
# uid reads as ANONYMOUS LOGON, mode o+w as Everyone: write), so these are
# what the checks see here.
folder_install() {
    wt_run 30 "$SVC/folder.out" "$SVC/folder.err" "$APP/hellosplit.exe" service install --split-at 5
    RC=$?
    FOLDER_TEXT=$(crlf "$SVC/folder.out"; crlf "$SVC/folder.err")
}
others_write() { [[ $((0$(stat -c %a "$DATA") & 2)) -ne 0 ]]; }
rm -rf "$DATA"
folder_install
if [[ $RC -eq 0 && -d $DATA ]] && ! others_write; then
    pass "service install creates C:\\ProgramData\\hellosplit that others cannot write (mode $(stat -c %a "$DATA") under wine)"
else
    fail "service install, new folder: exit $RC, mode $(stat -c %a "$DATA" 2>&1); $FOLDER_TEXT"
fi
rm -rf "$DATA" && mkdir -p "$DATA" && chmod 777 "$DATA"
folder_install
if [[ $RC -eq 0 ]] && grep -q "was not safe for the service (it lets Everyone (S-1-1-0) write in it" <<<"$FOLDER_TEXT" &&
    grep -q "permissions are now: SYSTEM and Administrators: full control, Users: read" <<<"$FOLDER_TEXT" && ! others_write; then
    pass "service install repairs a folder others may write: $(head -1 <<<"$FOLDER_TEXT" | cut -c1-150)"
else
    fail "service install, folder others may write: exit $RC, mode $(stat -c %a "$DATA"); $FOLDER_TEXT"
fi
rm -rf "$DATA" && mkdir -p "$DATA" && chown nobody "$DATA"
folder_install
if [[ $RC -eq 1 && ! -e $DATA/hellosplit.conf ]] &&
    grep -q "is not safe for the service, which runs as SYSTEM: it belongs to .*, not to SYSTEM or the Administrators.*rmdir /s" <<<"$FOLDER_TEXT"; then
    pass "service install refuses a folder someone else owns, writes nothing: $(cut -c1-170 <<<"$FOLDER_TEXT")"
else
    fail "service install, folder someone else owns: exit $RC; $FOLDER_TEXT"
fi
rm -rf "$DATA" "$SVC/elsewhere" && mkdir -p "$SVC/elsewhere" && ln -s "$SVC/elsewhere" "$DATA"
folder_install
if [[ $RC -eq 1 && -z $(ls -A "$SVC/elsewhere") ]] && grep -q "it is a link to another folder" <<<"$FOLDER_TEXT"; then
    pass "service install refuses a folder that is a link, writes nothing through it"
else
    fail "service install, folder that is a link: exit $RC; $(ls -A "$SVC/elsewhere") $FOLDER_TEXT"
fi
rm -f "$DATA"
folder_install
echo victim >"$SVC/victim"
ln "$SVC/victim" "$DATA/hellosplit.conf.tmp"
rm -f "$DATA/hellosplit.conf"
folder_install
if [[ $RC -eq 0 && $(cat "$SVC/victim") == victim && ! -e $DATA/hellosplit.conf.tmp ]] &&
    [[ $(crlf "$DATA/hellosplit.conf" | grep -v '^#') == "split-at 5" ]]; then
    pass "service install does not write through a hellosplit.conf.tmp linked to another file"
else
    fail "service install wrote through a planted hellosplit.conf.tmp: victim '$(cat "$SVC/victim")'; $FOLDER_TEXT"
fi
rm -f "$DATA/hellosplit.conf"
ln -s "$SVC/victim2" "$DATA/hellosplit.conf.tmp"
folder_install
# (wine can neither open nor delete a dangling unix symlink: the writer
# takes another new name and the link stays)
if [[ $RC -eq 0 && ! -e $SVC/victim2 ]] && [[ $(crlf "$DATA/hellosplit.conf" | grep -v '^#') == "split-at 5" ]]; then
    pass "service install does not follow a hellosplit.conf.tmp symlink"
else
    fail "service install followed a planted hellosplit.conf.tmp symlink: $(ls -l "$SVC/victim2" 2>&1); $FOLDER_TEXT"
fi
rm -f "$DATA"/hellosplit.conf.tmp*
rm -f "$DATA/hellosplit.log"
wt_run 30 "$SVC/install.out" "$SVC/install.err" "$APP/hellosplit.exe" service install --split-at midsld \
    --collect-timeout=60000 -v --hostlist "$TMP/hosts.txt"
RC=$?
conf=$(crlf "$DATA/hellosplit.conf" 2>/dev/null | grep -v '^#')
want_conf=$(printf 'split-at midsld\ncollect-timeout 60000\nverbose\nhostlist %s' "$(wt_winpath "$TMP/hosts.txt")")
[[ $RC -eq 0 && $conf == "$want_conf" ]] && pass "service install wrote the options: $(echo $conf)" ||
    fail "service install: exit $RC, conf: $conf; $(crlf "$SVC/install.err")"
wine reg query "$SVCKEY" 2>/dev/null | tr -d '\r' >"$SVC/reg.txt"
if grep -Eq 'ImagePath +REG_(EXPAND_)?SZ +"Z:.*\\hellosplit.exe" service run --config "C:\\ProgramData\\hellosplit\\hellosplit.conf"' "$SVC/reg.txt" &&
    grep -Eq 'Start +REG_DWORD +0x2$' "$SVC/reg.txt" && grep -Eq 'Type +REG_DWORD +0x10$' "$SVC/reg.txt" &&
    grep -Eq 'ObjectName +REG_SZ +LocalSystem' "$SVC/reg.txt"; then
    pass "registry: $SVCKEY (own process, automatic start, LocalSystem, ImagePath runs 'service run --config')"
else
    fail "registry $SVCKEY: $(cat "$SVC/reg.txt")"
fi
wine sc query hellosplit 2>/dev/null | tr -d '\r' >"$SVC/query1.txt"
grep -q 'STATE *: 1 *STOPPED' "$SVC/query1.txt" && pass "sc query: installed, stopped" || fail "sc query: $(cat "$SVC/query1.txt")"
wt_run 30 "$SVC/start.out" "$SVC/start.err" "$APP/hellosplit.exe" service start
RC=$?
wine sc query hellosplit 2>/dev/null | tr -d '\r' >"$SVC/query2.txt"
[[ $RC -eq 0 ]] && grep -q 'STATE *: 4 *RUNNING' "$SVC/query2.txt" && pass "service start: sc query says RUNNING" ||
    fail "service start: exit $RC $(crlf "$SVC/start.err") $(cat "$SVC/query2.txt")"
# services.exe took its environment at this first start; later console
# programs must not get the fake's settings from the registry
svc_env_clear
wt_wait_for "$SVC/fake.log" 'replay finished' 20
sleep 0.5
# SERVICE_CONTROL_PARAMCHANGE (sc control hellosplit paramchange) reads the host lists again
printf 'www.blocked.example\nreload.example\n' >"$TMP/hosts.txt"
wt_run 30 "$SVC/param.out" "$SVC/param.err" "$SVCCTL" hellosplit paramchange
RC=$?
if [[ $RC -eq 0 ]] && wt_wait_for "$DATA/hellosplit.log" 'host lists reloaded: 2 names to split, 0 never' 10; then
    pass "service paramchange: the host lists were read again (2 names now)"
else
    fail "service paramchange: exit $RC $(crlf "$SVC/param.err"); log: $(crlf "$DATA/hellosplit.log" | tail -3)"
fi
wt_run 30 "$SVC/stop.out" "$SVC/stop.err" "$APP/hellosplit.exe" service stop
RC=$?
wine sc query hellosplit 2>/dev/null | tr -d '\r' >"$SVC/query3.txt"
log=$(crlf "$DATA/hellosplit.log" 2>/dev/null)
if [[ $RC -eq 0 ]] && grep -q 'STATE *: 1 *STOPPED' "$SVC/query3.txt" &&
    grep -q 'service stopped at .* (exit code 0)' <<<"$log" && grep -Eq 'failopen_shutdown +1 ' <<<"$log"; then
    pass "service stop: the held packet was released, counters logged, STOPPED with exit code 0"
else
    fail "service stop: exit $RC; $(cat "$SVC/query3.txt"); log: $log"
fi
grep -q 'running with filter' <<<"$log" && grep -q 'service starting at' <<<"$log" &&
    pass "the service logged to C:\\ProgramData\\hellosplit\\hellosplit.log" || fail "service log: $log"
grep -q 'Base Filtering Engine is not running yet; trying again' <<<"$log" &&
    [[ $(grep -c 'WinDivertOpen -> ' "$SVC/fake.log") -ge 1 ]] &&
    pass "the service waited for the Base Filtering Engine (two opens failed with 1753) and then ran" ||
    fail "the service did not wait for the Base Filtering Engine: $log"
out=$("$PY" "$PARITY" compare "$TMP/half-linux.pcap" "$SVC/out.pcap" --local "$HALF_LOCAL" --addr "$SVC/out.pcap.addr.txt" 2>&1) &&
    [[ $(wt_violations "$SVC/fake.log") -eq 0 ]] && pass "what the service sent equals Linux ($out), no violation" ||
    fail "service parity: $out; $(grep -m1 ' VIOLATION ' "$SVC/fake.log")"
# a folder that others may write: the service refuses to start, before it
# opens its log there
chmod o+w "$DATA"
log_size=$(stat -c %s "$DATA/hellosplit.log")
wt_run 30 "$SVC/unsafe.out" "$SVC/unsafe.err" "$APP/hellosplit.exe" service start
RC=$?
[[ $RC -eq 1 && $(stat -c %s "$DATA/hellosplit.log") == "$log_size" ]] &&
    crlf "$SVC/unsafe.err" | grep -q "refused to start: .* is not safe for a service that runs as SYSTEM (it lets Everyone (S-1-1-0) write in it.*Run 'hellosplit service install' again" &&
    pass "service start with a folder others may write: refused, log untouched: $(crlf "$SVC/unsafe.err" | cut -c1-160)" ||
    fail "service start with a folder others may write: exit $RC; $(crlf "$SVC/unsafe.err")"
chmod o-w "$DATA"
# a start that fails: bad options in the config file
printf 'split-at nonsense\n' >>"$DATA/hellosplit.conf"
wt_run 30 "$SVC/bad.out" "$SVC/bad.err" "$APP/hellosplit.exe" service start
RC=$?
[[ $RC -eq 1 ]] && crlf "$SVC/bad.err" | grep -Eq "did not start \((error [0-9]+: [^;]*; )?state 1, exit code 2\)" &&
    crlf "$SVC/bad.err" | grep -q "bad position 'nonsense'" &&
    pass "service start with bad options: exit 1, the log's reason shown" ||
    fail "service start with bad options: exit $RC; $(crlf "$SVC/bad.err")"
wt_run 30 "$SVC/reinstall.out" "$SVC/reinstall.err" "$APP/hellosplit.exe" service install --split-at 5
RC=$?
[[ $RC -eq 0 ]] && crlf "$SVC/reinstall.out" | grep -q "service updated" &&
    [[ $(crlf "$DATA/hellosplit.conf" | grep -v '^#') == "split-at 5" ]] &&
    pass "service install again: updated, new options written" || fail "reinstall: exit $RC $(crlf "$SVC/reinstall.err")"
wt_run 30 "$SVC/uninstall.out" "$SVC/uninstall.err" "$APP/hellosplit.exe" service uninstall
RC=$?
if [[ $RC -eq 0 ]] && ! wine reg query "$SVCKEY" >/dev/null 2>&1 && ! wine sc query hellosplit >/dev/null 2>&1; then
    pass "service uninstall: registry key gone, sc query fails"
else
    fail "service uninstall: exit $RC; $(crlf "$SVC/uninstall.err")"
fi
expect_exit "service uninstall when not installed" 0 "not installed; nothing to remove" "$APP" service uninstall
expect_exit "service start when not installed" 1 "not installed: hellosplit service install" "$APP" service start

# ---------------------------------------------------------------- 5. the release zip
ZIPDIR=$TMP/zip
mkdir -p "$ZIPDIR/WinDivert-2.2.2-A/x64" "$ZIPDIR/WinDivert-2.2.2-A/x86"
cp "$FAKE" "$ZIPDIR/WinDivert-2.2.2-A/x64/WinDivert.dll"
echo "stand-in driver" >"$ZIPDIR/WinDivert-2.2.2-A/x64/WinDivert64.sys"
echo "x86 (not used)" >"$ZIPDIR/WinDivert-2.2.2-A/x86/WinDivert.dll"
echo "stand-in license text" >"$ZIPDIR/WinDivert-2.2.2-A/LICENSE"
(cd "$ZIPDIR" && zip -qr fake-windivert.zip WinDivert-2.2.2-A)
if make -s -C "$ROOT" PLATFORM=windows dist >"$TMP/dist0.out" 2>&1; then
    fail "make dist without WINDIVERT_ZIP succeeded"
else
    grep -q "WINDIVERT_ZIP=/path/to/WinDivert-2.2.2-A.zip" "$TMP/dist0.out" &&
        pass "make dist without WINDIVERT_ZIP fails and says what to download" || fail "dist message: $(cat "$TMP/dist0.out")"
fi
if make -s -C "$ROOT" PLATFORM=windows dist WINDIVERT_ZIP="$ZIPDIR/fake-windivert.zip" >"$TMP/dist.out" 2>&1 &&
    [[ -f $ROOT/build/hellosplit-windows.zip ]]; then
    list=$(unzip -Z1 "$ROOT/build/hellosplit-windows.zip" | tr '\n' ' ')
    want="hellosplit-windows/README-windows.txt hellosplit-windows/WinDivert-LICENSE.txt hellosplit-windows/WinDivert.dll hellosplit-windows/WinDivert64.sys hellosplit-windows/hellosplit.exe hellosplit-windows/install.cmd hellosplit-windows/uninstall.cmd "
    [[ $list == "$want" ]] && pass "build/hellosplit-windows.zip: $list" || fail "zip contents: $list"
    rm -rf "$TMP/unzipped" && mkdir -p "$TMP/unzipped" && unzip -q "$ROOT/build/hellosplit-windows.zip" -d "$TMP/unzipped"
    Z=$TMP/unzipped/hellosplit-windows
    cmp -s "$Z/WinDivert.dll" "$FAKE" && unzip -p "$ZIPDIR/fake-windivert.zip" WinDivert-2.2.2-A/x64/WinDivert64.sys |
        cmp -s - "$Z/WinDivert64.sys" && pass "the zip carries x64/WinDivert.dll and x64/WinDivert64.sys unchanged" ||
        fail "the WinDivert files in the zip differ from the release's x64 folder"
    grep -q $'\r$' "$Z/install.cmd" && grep -q $'\r$' "$Z/README-windows.txt" && pass "text files in the zip have CRLF line ends" ||
        fail "text files in the zip are not CRLF"
    expect_exit "the exe from the zip: doctor" 0 "All good" "$Z" doctor
    # install.cmd / uninstall.cmd under wine's cmd
    PF=$WINEPREFIX/drive_c/Program\ Files/hellosplit
    rm -rf "$PF"
    install_cmd() {
        (cd "$Z" && wt_run 60 "$TMP/inst.out" "$TMP/inst.err" cmd /c install.cmd --split-at sni)
        RC=$?
        if [[ $RC -eq 0 && -f $PF/hellosplit.exe && -f $PF/WinDivert.dll && -f $PF/WinDivert64.sys ]] &&
            crlf "$TMP/inst.out" | grep -q "is installed in" && wine sc query hellosplit 2>/dev/null | tr -d '\r' | grep -q RUNNING &&
            wine reg query "$SVCKEY" /v ImagePath 2>/dev/null | tr -d '\r' | grep -q 'C:\\Program Files\\hellosplit\\hellosplit.exe'; then
            pass "install.cmd under wine's cmd: files in C:\\Program Files\\hellosplit, service registered there and running"
        else
            fail "install.cmd: exit $RC; $(crlf "$TMP/inst.out" | tail -5) $(crlf "$TMP/inst.err" | tail -5)"
        fi
    }
    install_cmd
    # from the installed folder: uninstall.cmd goes on from a copy in %TEMP%
    wt_run 60 "$TMP/uninst.out" "$TMP/uninst.err" cmd /c "C:\\Program Files\\hellosplit\\uninstall.cmd"
    RC=$?
    if [[ $RC -eq 0 && -z $(ls -A "$PF" 2>/dev/null) ]] && ! wine reg query "$SVCKEY" >/dev/null 2>&1; then
        pass "uninstall.cmd run from C:\\Program Files\\hellosplit: service removed, files deleted$([[ -d $PF ]] &&
            echo " (the emptied folder stays under wine, whose cmd keeps the calling script open)")"
    else
        fail "uninstall.cmd from the installed folder: exit $RC; $(crlf "$TMP/uninst.out" | tail -5) $(crlf "$TMP/uninst.err" | tail -3)"
    fi
    rm -rf "$PF"
    install_cmd
    (cd "$Z" && wt_run 60 "$TMP/uninst.out" "$TMP/uninst.err" cmd /c uninstall.cmd)
    RC=$?
    if [[ $RC -eq 0 && ! -e $PF ]] && ! wine reg query "$SVCKEY" >/dev/null 2>&1; then
        pass "uninstall.cmd run from the unzipped folder: service removed, C:\\Program Files\\hellosplit deleted"
    else
        fail "uninstall.cmd from the zip folder: exit $RC; $(crlf "$TMP/uninst.out" | tail -5) $(crlf "$TMP/uninst.err" | tail -3)"
    fi
else
    fail "make dist WINDIVERT_ZIP=fake: $(tail -5 "$TMP/dist.out")"
fi
svc_env_clear
wt_run 30 "$TMP/o" "$TMP/e" "$APP/hellosplit.exe" service uninstall
finish
