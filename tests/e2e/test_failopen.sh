#!/bin/bash
# tests/e2e/test_failopen.sh -- fail-open and a clean firewall, desktop case
# (cli(hellosplit) -- rtr(first-packet censor) -- srv).  The client namespace
# starts with an unrelated rule set of its own (a user chain and a user rule
# in mangle POSTROUTING, rules in filter, v4 and v6).
#   1. normal exit by SIGINT and by SIGTERM: exit 0, and afterwards the rules
#      and user chains of iptables-save and ip6tables-save are exactly as
#      before (fw_rules), the mangle table text is byte-identical (comments
#      and counters aside) and so is the whole save; while it ran, the
#      snapshot did differ (so the comparison can fail) and the user's rules
#      stayed in place.
#   2. kill -9 of the PARENT under load (python TLS clients, v4+v6, 4 in
#      parallel): the packet process stops by itself (parent-death signal),
#      the rules stay behind, yet every connection -- in flight or new --
#      succeeds (--queue-bypass); the blocked name now fails (passes
#      unsplit, not broken); `hellosplit --rules-remove` exits 0 and leaves
#      the rule set exactly as before.
#   3. kill -9 of the CHILD (pgrep -P) under load: the parent notices, says
#      so, removes the rules and exits 1; every connection succeeds;
#      `--rules-remove` then has nothing to do (exit 0); jumps left by runs
#      with other flags or by an older version are removed too.
# With E2E_ENGINE=tc (run.sh test_failopen@tc) the tc engine instead: it adds
# no firewall rule (the rule set is as before even while it runs), SIGINT and
# SIGTERM leave nothing at eth0's tcx hook and no qdisc, and kill -9 under
# load takes the program with the process: every fetch succeeds, the blocked
# name passes unsplit, --rules-remove exits 0 with the rule set as before.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools pgrep
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
LOAD_S=5          # seconds of load around each kill
KILL_AFTER=1.5    # seconds into the load

section() { printf '\n=== %s\n' "$*"; }

# The user's own rules in the client namespace, for both families.
user_rules() {
    local fam ipt
    for fam in 4 6; do
        if [[ $fam == 4 ]]; then ipt=iptables; else ipt=ip6tables; fi
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -N USER_QOS
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A USER_QOS -p udp --dport 5353 -j MARK --set-xmark 0x7/0xff
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A USER_QOS -p tcp --dport 8443 -j DSCP --set-dscp 10
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A POSTROUTING -o eth0 -j USER_QOS
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A POSTROUTING -p tcp --dport 443 -m comment --comment "user rule" -j RETURN
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A OUTPUT -p tcp --dport 25 -j MARK --set-mark 0x3
        nsx "$E2E_NS_CLI" "$ipt" -w -A OUTPUT -p tcp --dport 9 -j REJECT --reject-with tcp-reset
    done || e2e_die "installing the user's rule set failed"
}

snapshot() { # NAME
    fw_rules "$E2E_NS_CLI" >"$T/$1.rules"
    fw_save_plain "$E2E_NS_CLI" mangle >"$T/$1.mangle"
    fw_save_plain "$E2E_NS_CLI" >"$T/$1.all"
}

# same_as_before LABEL NAME: the snapshot NAME equals "before".
same_as_before() {
    local what
    for what in rules mangle all; do
        if cmp -s "$T/before.$what" "$T/$2.$what"; then
            e2e_pass "$1: $what identical to before"
        else
            e2e_fail "$1: $what identical to before"
            diff -u "$T/before.$what" "$T/$2.$what" | sed 's/^/      | /' | head -n 30
        fi
    done
}

# start_load NAME: python TLS fetches of NAME for LOAD_S s, v4+v6 alternating.
start_load() {
    # The censor black-holes the 4-tuple of every flow it reset for as long as
    # its conntrack entry lives; thousands of connects reuse client ports, so
    # forget those entries first (nothing is in flight now).
    nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1
    ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$1" --addr "$E2E_SRV4" \
        --addr "$E2E_SRV6" --duration "$LOAD_S" --parallel 4 --timeout 15 --events "$T/events" \
        >"$T/load.out" 2>&1 &
    LOAD_PID=$!
    _e2e_track_pid "$LOAD_PID"
}

# finish_load LABEL KILL_EPOCH: all fetches ok, some started after the kill.
finish_load() {
    local label=$1 t=$2 rc after after_ok
    wait "$LOAD_PID" && rc=0 || rc=$?
    _e2e_untrack_pid "$LOAD_PID"
    sed 's/^/      | /' "$T/load.out"
    after=$(awk -v t="$t" '$1 > t' "$T/events" | wc -l)
    after_ok=$(awk -v t="$t" '$1 > t && $3 == "ok"' "$T/events" | wc -l)
    inflight=$(awk -v t="$t" '$1 <= t && $2 > t' "$T/events" | wc -l)
    expect_eq "$label: every fetch under load succeeded ($inflight in flight at the kill)" 0 "$rc"
    if ((after >= 10 && after == after_ok)); then
        e2e_pass "$label: all $after fetches started after the kill succeeded"
    else
        e2e_fail "$label: >= 10 fetches started after the kill, all ok" "$after_ok of $after ok"
    fi
}

topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
user_rules
snapshot before
sed 's/^/      | /' "$T/before.rules"

# ------------------------------------------------------ the tc engine ---
# No firewall rule, no packet process: the rule set stays as it was even
# while it runs, and kill -9 takes the program with the process (tcx link).
if [[ $E2E_ENGINE == tc ]]; then
    for sig in INT TERM; do
        section "tc: normal exit by SIG$sig"
        hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
        expect_ok "tc SIG$sig run: curl $B v4 loads" fetch_curl "$B" 4
        expect_ok "tc SIG$sig run: python $B v6 loads" fetch_python "$B" 6
        expect_eq "tc SIG$sig run: hellosplit_l2 at eth0's tcx egress" hellosplit_l2 \
            "$(tcx_progs "$E2E_NS_CLI" eth0 | awk '{ print $1 }')"
        snapshot running
        same_as_before "tc SIG$sig run: the firewall untouched while it runs" running
        hs_stop "$sig"
        expect_eq "tc SIG$sig: exit status" 0 "$HS_RC"
        expect_eq "tc SIG$sig: nothing left at eth0's tcx egress" "" "$(tcx_progs "$E2E_NS_CLI" eth0)"
        expect_eq "tc SIG$sig: no qdisc or filter left on eth0" "qdisc noqueue" \
            "$(nsx "$E2E_NS_CLI" tc qdisc show dev eth0 | awk '{ print $1, $2 }')$(nsx "$E2E_NS_CLI" tc filter show dev eth0 egress)"
        snapshot "after-$sig"
        same_as_before "tc SIG$sig" "after-$sig"
        expect_blocked "tc SIG$sig: after the exit $B is blocked again" fetch_curl "$B" 4
    done

    section "tc: kill -9 under load"
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    expect_ok "tc kill: before, curl $B v4 loads (splitting)" fetch_curl "$B" 4
    start_load "${A[0]}"
    sleep "$KILL_AFTER"
    t_kill=$EPOCHREALTIME
    hs_stop KILL
    expect_eq "tc kill: the daemon died by SIGKILL" 137 "$HS_RC"
    expect_eq "tc kill: the kernel detached the program with the process" "" "$(tcx_progs "$E2E_NS_CLI" eth0)"
    finish_load "tc kill" "$t_kill"
    expect_ok "tc kill: new connection curl ${A[0]} v4" fetch_curl "${A[0]}" 4
    expect_ok "tc kill: new connection gnutls ${A[1]} v6" fetch_gnutls "${A[1]}" 6
    expect_blocked "tc kill: $B passes unsplit now (censor resets it)" fetch_curl "$B" 4
    hs_run "$E2E_NS_CLI" --rules-remove
    expect_eq "tc kill: --rules-remove exit status" 0 "$HS_RC"
    snapshot after-kill
    same_as_before "tc kill + --rules-remove" after-kill
    e2e_summary
    exit
fi

# ------------------------------------------------------------ normal exit ---
for sig in INT TERM; do
    section "normal exit by SIG$sig"
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    expect_ok "SIG$sig run: curl $B v4 loads" fetch_curl "$B" 4
    expect_ok "SIG$sig run: python $B v6 loads" fetch_python "$B" 6
    snapshot running
    if ! cmp -s "$T/before.rules" "$T/running.rules" && hs_rules_present "$E2E_NS_CLI"; then
        e2e_pass "SIG$sig run: the snapshot sees hellosplit's rules while it runs"
    else
        e2e_fail "SIG$sig run: the snapshot sees hellosplit's rules while it runs"
    fi
    # Every line of the user's rule set is still there, in order, while it runs.
    if grep -vxF -f "$T/running.rules" "$T/before.rules" >/dev/null; then
        e2e_fail "SIG$sig run: the user's rules stay in place" "$(grep -vxF -f "$T/running.rules" "$T/before.rules")"
    else
        e2e_pass "SIG$sig run: the user's rules stay in place"
    fi
    hs_stop "$sig"
    expect_eq "SIG$sig: exit status" 0 "$HS_RC"
    if grep -q 'rules removed' "$HS_LOG"; then e2e_pass "SIG$sig: says the rules were removed"; else
        e2e_fail "SIG$sig: says the rules were removed" "$(tail -n 3 "$HS_LOG")"; fi
    snapshot "after-$sig"
    same_as_before "SIG$sig" "after-$sig"
    expect_blocked "SIG$sig: after the exit $B is blocked again" fetch_curl "$B" 4
done

# ------------------------------------------------------------ kill parent ---
section "kill -9 of the parent under load"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
child=$(hs_child)
[[ -n "$child" ]] || e2e_die "no packet process under $HS_PID"
expect_ok "kill parent: before, curl $B v4 loads (splitting)" fetch_curl "$B" 4
start_load "${A[0]}"
sleep "$KILL_AFTER"
t_kill=$EPOCHREALTIME
hs_stop KILL
expect_eq "kill parent: parent died by SIGKILL" 137 "$HS_RC"
for ((i = 0; i < 60; i++)); do pid_alive "$child" || break; sleep 0.05; done
if pid_alive "$child"; then
    e2e_fail "kill parent: the packet process stops by itself (parent-death signal)"
    kill -KILL "$child" 2>/dev/null
else
    e2e_pass "kill parent: the packet process stopped by itself within $((i * 50)) ms"
fi
if hs_rules_present "$E2E_NS_CLI"; then
    e2e_pass "kill parent: the rules are left behind (only --queue-bypass lets traffic through)"
else
    e2e_fail "kill parent: the rules are left behind"
fi
finish_load "kill parent" "$t_kill"
expect_ok "kill parent: new connection curl ${A[0]} v4" fetch_curl "${A[0]}" 4
expect_ok "kill parent: new connection curl ${A[1]} v6" fetch_curl "${A[1]}" 6
expect_ok "kill parent: new connection gnutls ${A[0]} v6" fetch_gnutls "${A[0]}" 6
expect_blocked "kill parent: $B passes unsplit now (censor resets it)" fetch_curl "$B" 4
hs_rules_present "$E2E_NS_CLI" || e2e_fail "kill parent: rules still there before --rules-remove"
hs_run "$E2E_NS_CLI" --rules-remove
expect_eq "kill parent: --rules-remove exit status" 0 "$HS_RC"
sed 's/^/      | /' "$HS_OUT"
if hs_rules_present "$E2E_NS_CLI"; then
    e2e_fail "kill parent: no HELLOSPLIT chain after --rules-remove"
else
    e2e_pass "kill parent: no HELLOSPLIT chain after --rules-remove"
fi
snapshot after-kill-parent
same_as_before "kill parent + --rules-remove" after-kill-parent

# ------------------------------------------------------------- kill child ---
section "kill -9 of the packet process (child) under load"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
child=$(hs_child)
[[ -n "$child" ]] || e2e_die "no packet process under $HS_PID"
expect_ok "kill child: before, curl $B v6 loads (splitting)" fetch_curl "$B" 6
start_load "${A[1]}"
sleep "$KILL_AFTER"
t_kill=$EPOCHREALTIME
kill -KILL "$child"
if hs_wait 10; then
    expect_eq "kill child: the parent exits with status 1" 1 "$HS_RC"
else
    e2e_fail "kill child: the parent exits by itself" "still running after 10 s"
    hs_stop KILL
fi
if grep -q 'packet process died (signal 9)' "$HS_LOG" && grep -q 'rules removed' "$HS_LOG"; then
    e2e_pass "kill child: the parent says the packet process died and removes the rules"
else
    e2e_fail "kill child: the parent says the packet process died and removes the rules" "$(tail -n 4 "$HS_LOG")"
fi
sed 's/^/      | /' "$HS_LOG" | tail -n 3
finish_load "kill child" "$t_kill"
expect_ok "kill child: new connection curl ${A[0]} v6" fetch_curl "${A[0]}" 6
expect_ok "kill child: new connection python ${A[1]} v4" fetch_python "${A[1]}" 4
expect_blocked "kill child: $B passes unsplit now (censor resets it)" fetch_curl "$B" 6
snapshot after-kill-child
same_as_before "kill child (parent cleaned up)" after-kill-child
hs_run "$E2E_NS_CLI" --rules-remove
expect_eq "kill child: --rules-remove with nothing installed: exit status" 0 "$HS_RC"
if grep -q 'no hellosplit rules were installed' "$HS_OUT"; then
    e2e_pass "kill child: --rules-remove says there was nothing to remove"
else
    e2e_fail "kill child: --rules-remove says there was nothing to remove" "$(cat "$HS_OUT")"
fi
snapshot after-remove
same_as_before "kill child + --rules-remove" after-remove

# ------------------------------------------------- leftovers of other runs ---
# A crash of a run with other flags (--done-mark, --ports) or of an older
# version (a plain jump) leaves jumps of other shapes: all of them go.
section "--rules-remove: jumps of other flags and versions"
for ipt in iptables ip6tables; do
    nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -N HELLOSPLIT
    nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A HELLOSPLIT -j RETURN
    nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -I POSTROUTING 1 -j HELLOSPLIT
    nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -A POSTROUTING -p tcp -m multiport --dports 443,8443 \
        -m connmark ! --mark 0x4/0x4 -j HELLOSPLIT
done
hs_run "$E2E_NS_CLI" --rules-remove
expect_eq "leftovers: --rules-remove exit status" 0 "$HS_RC"
snapshot after-leftovers
same_as_before "leftovers: --rules-remove restores the rule set" after-leftovers

e2e_summary
