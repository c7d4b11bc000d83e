#!/bin/bash
# tests/divert/rcd_test.sh -- the rc.d script's own logic, on Linux.
#
# Usage: tests/divert/rcd_test.sh
#
# Runs a copy of dist/freebsd/hellosplit whose absolute paths point at stubs:
# /etc/rc.subr (load_rc_config, run_rc_command, err, warn, wait_for_pids),
# daemon(8), pfctl, ipfw and hellosplit itself, each recording what it was
# asked to do. Checks the order the script promises: the options checked
# (doctor) before anything, the rules loaded only after the daemon runs and
# removed before it is stopped, the ipfw file read one rule a line without
# comments, nothing loaded when doctor fails. FreeBSD's real rc.subr and
# daemon(8) are not exercised. Prints PASS/FAIL lines; exits 1 on a failure.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-rcd.XXXXXX") || exit 1
trap 'stop_leftovers; rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

export EVENTS=$TMP/events LOG=$TMP/daemon.log
STUBS=$TMP/stubs
mkdir -p "$STUBS"

cat >"$STUBS/rc.subr" <<'EOF'
load_rc_config() { :; }
err() { shift; echo "err: $*" >>"$EVENTS"; exit 1; }
warn() { echo "warn: $*" >>"$EVENTS"; }
wait_for_pids() { for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done; }
run_rc_command() {
	case $1 in
	start) $start_cmd ;;
	stop) $stop_cmd ;;
	status) $status_cmd ;;
	rules) $rules_cmd ;;
	*) echo "unknown command $1"; return 1 ;;
	esac
}
EOF
# daemon(8): runs the program in the background, its pid in the -P file
cat >"$STUBS/daemon" <<'EOF'
#!/bin/sh
while getopts rR:ST:P: o; do
	case $o in P) pidfile=$OPTARG ;; *) ;; esac
done
shift $((OPTIND - 1))
echo "daemon $*" >>"$EVENTS"
"$@" >>"$LOG" 2>&1 </dev/null &
echo $! >"$pidfile"
EOF
cat >"$STUBS/hellosplit" <<'EOF'
#!/bin/sh
echo "hellosplit $*" >>"$EVENTS"
[ "$1" = doctor ] && exit "${DOCTOR_RC:-0}"
trap 'echo "hellosplit got TERM" >>"$EVENTS"; exit 0' TERM
while :; do sleep 0.05; done
EOF
for tool in pfctl ipfw; do
    # shellcheck disable=SC2016 # $* and $EVENTS belong to the stub
    printf '#!/bin/sh\necho "%s $*" >>"$EVENTS"\n' "$tool" >"$STUBS/$tool"
done
chmod +x "$STUBS"/*
sed -e "s|/etc/rc.subr|$STUBS/rc.subr|" -e "s|/usr/sbin/daemon|$STUBS/daemon|" \
    -e "s|/usr/local/sbin/hellosplit|$STUBS/hellosplit|" -e "s|/var/run/|$TMP/|" \
    "$ROOT/dist/freebsd/hellosplit" >"$TMP/rc.hellosplit"
export PATH="$STUBS:$PATH"
CONF=$ROOT/dist/freebsd/hellosplit.conf

stop_leftovers() {
    local pid
    [[ -r $TMP/hellosplit.pid ]] && read -r pid <"$TMP/hellosplit.pid" && kill "$pid" 2>/dev/null
}

rc() { env "$@" sh "$TMP/rc.hellosplit" "${RC_CMD:-start}" >>"$TMP/out" 2>&1; }

# line number of the first event matching a pattern (0: none)
at() { grep -n -m1 -- "$1" "$EVENTS" | cut -d: -f1 || echo 0; }

# ---- pf: start, status, rules, stop
: >"$EVENTS"
if rc hellosplit_config="$CONF" && RC_CMD=status rc hellosplit_config="$CONF"; then
    d=$(at "^hellosplit doctor --config $CONF --pf-anchor=hellosplit")
    s=$(at "^daemon $STUBS/hellosplit --config $CONF --pf-anchor=hellosplit")
    l=$(at "^pfctl -q -a hellosplit -f /usr/local/etc/hellosplit/pf.anchor")
    if [[ $d -gt 0 && $s -gt $d && $l -gt $s ]]; then
        pass "pf start: doctor (line $d), then the daemon ($s), then the anchor loaded ($l)"
    else
        fail "pf start order: doctor=$d daemon=$s pfctl=$l: $(tr '\n' '|' <"$EVENTS")"
    fi
else
    fail "pf start/status failed: $(tail -3 "$TMP/out" | tr '\n' ' ')"
fi
RC_CMD=rules rc hellosplit_config="$CONF"
if [[ $(grep -c -- '-a hellosplit -f' "$EVENTS") -eq 2 ]]; then
    pass "'rules' loads the anchor again"
else
    fail "'rules' did not reload the anchor"
fi
RC_CMD=stop rc hellosplit_config="$CONF"
f=$(at "^pfctl -q -a hellosplit -F rules")
t=$(at "^hellosplit got TERM")
if [[ $f -gt 0 && $t -gt $f ]]; then
    pass "pf stop: the anchor flushed (line $f) before the daemon got SIGTERM ($t)"
else
    fail "pf stop order: flush=$f TERM=$t: $(tr '\n' '|' <"$EVENTS")"
fi
if ! RC_CMD=status rc hellosplit_config="$CONF"; then pass "status after stop: not running"; else fail "status after stop"; fi

# ---- ipfw: one rule a line, comments dropped, set 7 deleted at stop
: >"$EVENTS"
rc hellosplit_config="$CONF" hellosplit_pf_anchor="" hellosplit_ipfw_rules="$ROOT/dist/freebsd/ipfw.rules"
RC_CMD=stop rc hellosplit_config="$CONF" hellosplit_pf_anchor="" \
    hellosplit_ipfw_rules="$ROOT/dist/freebsd/ipfw.rules"
adds=$(grep -c '^ipfw -q add 1000 set 7 divert 8000 tcp from ' "$EVENTS")
want=$(grep -c '^add ' "$ROOT/dist/freebsd/ipfw.rules")
del=$(grep -n '^ipfw -q delete set 7' "$EVENTS" | tail -1 | cut -d: -f1)
t=$(at "^hellosplit got TERM")
if [[ $adds -eq $want && $want -ge 1 ]] && ! grep -q '#' "$EVENTS" && ! grep -q '^pfctl' "$EVENTS" &&
    grep -q 'ipfw -q add 1000 set 7 divert 8000 tcp from 192.168.1.0/24 to any 443 out xmit igb0 { tcpdatalen' "$EVENTS" &&
    [[ ${del:-0} -gt 0 && $t -gt $del ]]; then
    pass "ipfw: $adds rules added one per line without comments, pf left alone, set 7 deleted before SIGTERM"
else
    fail "ipfw: adds=$adds/$want delete=$del TERM=$t: $(tr '\n' '|' <"$EVENTS")"
fi

# ---- fail early: doctor fails, or no options file: no daemon, no rule
for case in doctor config; do
    : >"$EVENTS"
    if [[ $case == doctor ]]; then
        DOCTOR_RC=1 rc hellosplit_config="$CONF"
    else
        rc hellosplit_config="$TMP/missing.conf"
    fi
    rcode=$?
    if [[ $rcode -ne 0 ]] && ! grep -q '^daemon\|^pfctl\|^ipfw' "$EVENTS"; then
        pass "start with a failing $case: exit $rcode, no daemon, no rule loaded"
    else
        fail "start with a failing $case: exit $rcode: $(tr '\n' '|' <"$EVENTS")"
    fi
done

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
