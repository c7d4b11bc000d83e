#!/bin/bash
# tests/e2e/test_learn.sh -- the daemon learns, per site, the split that gets
# through (issue 18), with default flags (learning on; --state only moves the
# file into this run's temp dir):
#   1. each censor model (first-packet, record-start, any-packet and the
#      dropping any-packet-drop) on the desktop topology: the blocked name
#      loads within ATTEMPTS connections (curl), and from then on every
#      connection loads at the first attempt (curl v4 and v6, python, and
#      Chromium once); an allowed name never gets an entry; a sibling name
#      (static.blocked.example) loads at its first attempt; -v shows the rung
#      and each learn event; after a restart the first connection loads (the
#      state file).
#   2. a censor no split beats (model reassembling): the ladder runs out,
#      "no split gets through" is logged once, its connections pass unsplit
#      (reset by the censor as without hellosplit, fast), allowed names load.
#   3. --observe learns nothing; --pin wins over learning; --no-learn never
#      moves; the rules of learning as printed and installed, gone at stop;
#      the router topology (masqueraded) learns from forwarded IPv6 flows.
# With E2E_ENGINE=tc (run.sh's test_learn@tc) the same checks run on the tc
# engine: the kernel picks each hello's rung from the learned map (so the -v
# line "rung 1 (midsld): learned for its site" proves the kernel's name hash
# matches user space's), an ingress program reports the answers; instead of
# the NFQUEUE rules, the egress and ingress filters are checked, there while
# it runs, gone at stop.
# Needs root.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools chromium
hs_require

HS_LEARN=1
B=$E2E_BLOCKED
S=static.blocked.example
A=("${E2E_ALLOWED[@]}")
STATE="$(e2e_tmpdir)/learned"
HS_STATE=$STATE
# Connections a blocked name may need before one loads, by censor model: the
# ladder's rung 0 (--split-at 5) beats first-packet and record-start, rung 1
# (midsld) beats any-packet: one failure, then the next connection loads.
declare -A ATTEMPTS=([first-packet]=1 [record-start]=1 [any-packet]=2 [any-packet-drop]=2)
# The dropping censor leaves the first connection hanging: it fails by the
# client's timeout, and hellosplit judges it after 3 unanswered retransmissions
# of the hello (about 1.4 s).
E2E_FETCH_TIMEOUT=4

section() { printf '\n=== %s\n' "$*"; }

# The learned rung of KIND NAME in the state file ("-": no entry).
learned() { # KIND NAME
    awk -v k="$1" -v n="$2" '$1 == k && $2 == n { r = $3 " " $4 } END { print r ? r : "-" }' "$STATE" 2>/dev/null ||
        echo "-"
}

# Fetches until one loads, at most MAX; GOT = the attempts it took (0: none
# loaded). Not in a $(...) subshell: the fetch helpers number their log files
# in a global counter.
attempts_until_ok() { # MAX FETCH ARGS...
    local max=$1 i
    shift
    GOT=0
    for ((i = 1; i <= max; i++)); do
        if "$@" >/dev/null 2>&1; then
            GOT=$i
            return 0
        fi
        sleep 0.2
    done
}

topo_desktop_up
srv_nginx_start "$B" "$S" "${A[@]}"

section "the rules of learning"
T=$(e2e_tmpdir)
if [[ $E2E_ENGINE == tc ]]; then
    # tc: no firewall rule; the egress program and, for the answers, an
    # ingress one on the same interface; all gone at stop
    # (tcx links on this kernel; clsact filters where it has no tcx)
    tc_hooks() { for d in egress ingress; do { tcx_progs "$E2E_NS_CLI" eth0 $d 2>/dev/null | awk '{ print $1 }'
        nsx "$E2E_NS_CLI" tc filter show dev eth0 $d 2>/dev/null | sed -n 's/.* \(hellosplit_[a-z0-9_]*\).*/\1/p'; } |
        sed "s/^/$d /"; done | sort -u | tr '\n' ' '; }
    fw_rules "$E2E_NS_CLI" >"$T/before.rules"
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    expect_eq "tc: egress cuts, ingress sees the answers" "egress hellosplit_l2 ingress hellosplit_inl2 " "$(tc_hooks)"
    grep -q "tc: learning on: 6 rungs" "$HS_LOG" && e2e_pass "tc: says learning is on" ||
        e2e_fail "tc: says learning is on" "$(grep 'tc:' "$HS_LOG")"
    hs_stop INT
    expect_eq "tc: both filters gone at stop" "" "$(tc_hooks)"
    fw_rules "$E2E_NS_CLI" >"$T/after.rules"
    cmp -s "$T/before.rules" "$T/after.rules" && e2e_pass "tc: the firewall is left exactly as found" ||
        e2e_fail "tc: the firewall is left exactly as found" "$(diff -u "$T/before.rules" "$T/after.rules" | head)"
else
    fw_rules "$E2E_NS_CLI" >"$T/before.rules"
    hs_run "$E2E_NS_CLI" --print-rules --rules nftables
    if grep -q 'chain learn_in' "$HS_OUT" && grep -q 'ct direction reply ct reply packets 2-4 queue num 200 bypass$' "$HS_OUT" &&
        sed -E 's/queue num 200 bypass$/counter/' "$HS_OUT" | nsx "$E2E_NS_CLI" nft -c -f - >"$T/nft-c.out" 2>&1; then
        e2e_pass "--print-rules --rules nftables: learn_in is valid nft (queue swapped for counter)"
    else
        e2e_fail "--print-rules --rules nftables: learn_in is valid nft" "$(cat "$HS_OUT" "$T/nft-c.out")"
    fi
    hs_run "$E2E_NS_CLI" --print-rules
    cp "$HS_OUT" "$T/print.sh"
    while IFS= read -r line; do
        nsx "$E2E_NS_CLI" bash -c "$line" || e2e_fail "--print-rules: this command fails: $line"
    done <"$T/print.sh"
    fw_rules "$E2E_NS_CLI" >"$T/printed.rules"
    nsx "$E2E_NS_CLI" "$HS_BIN" --rules-remove >/dev/null 2>&1
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    fw_rules "$E2E_NS_CLI" >"$T/daemon.rules"
    cmp -s "$T/printed.rules" "$T/daemon.rules" &&
        e2e_pass "--print-rules: the printed commands install exactly the daemon's rules, learning included" ||
        e2e_fail "--print-rules: the printed commands install exactly the daemon's rules" \
            "$(diff -u "$T/printed.rules" "$T/daemon.rules" | head -20)"
    expect_eq "rules: INPUT and FORWARD jump to HELLOSPLIT-IN, v4 and v6" 4 \
        "$(grep -cE 'mangle -A (INPUT|FORWARD) -p tcp -m multiport --sports 443 -m conntrack --ctdir REPLY .*-j HELLOSPLIT-IN' "$T/daemon.rules")"
    expect_eq "rules: only resets, FINs and payload of reply packets 2-4 are queued, v4 and v6" 8 \
        "$(grep -cE 'mangle -A HELLOSPLIT-IN .*--connbytes 2:4 .*-j NFQUEUE --queue-num 200 --queue-bypass' "$T/daemon.rules")"
    hs_stop INT
    fw_rules "$E2E_NS_CLI" >"$T/after.rules"
    cmp -s "$T/before.rules" "$T/after.rules" && e2e_pass "rules: the firewall is left exactly as found" ||
        e2e_fail "rules: the firewall is left exactly as found" "$(diff -u "$T/before.rules" "$T/after.rules" | head)"
fi

for model in first-packet record-start any-packet any-packet-drop; do
    section "$model: learned with default flags"
    rm -f "$STATE"
    censor_install "$model" "$E2E_NS_MID" "$E2E_MID_IF" "$B" "$S"
    expect_fail "$model, no hellosplit: curl $B v4 fails" fetch_curl "$B" 4
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    max=${ATTEMPTS[$model]}
    attempts_until_ok 6 fetch_curl "$B" 4; got=$GOT
    if [[ $got -ge 1 && $got -le $max ]]; then
        e2e_pass "$model: curl $B v4 loaded at attempt $got (at most $max)"
    else
        e2e_fail "$model: curl $B v4 loaded at attempt $got (want 1..$max; 0 = never)"
    fi
    for i in 1 2 3; do
        expect_ok "$model, learned: curl $B v4 loads at once ($i)" fetch_curl "$B" 4
    done
    expect_ok "$model, learned: curl $B v6 loads at once" fetch_curl "$B" 6
    expect_ok "$model, learned: python $B v4 loads at once" fetch_python "$B" 4
    expect_ok "$model, learned: sibling $S loads at its first attempt" fetch_curl "$S" 4
    for n in "${A[@]}"; do
        expect_ok "$model: allowed $n loads" fetch_curl "$n" 4
    done
    grep -q "sni=${A[0]} split at 5 (window [0-9]*), rung 0 (5): nothing learned" "$HS_LOG" &&
        ! grep -q "sni=${A[0]} split at .*rung [1-9]" "$HS_LOG" &&
        e2e_pass "$model: the allowed name stays at rung 0" ||
        e2e_fail "$model: the allowed name stays at rung 0" "$(grep "sni=${A[0]}" "$HS_LOG" | tail -2)"
    if [[ $model == any-packet ]]; then
        kill -USR1 "$HS_PID"
        sleep 0.5
        grep -q "learn_moves *1" "$HS_LOG" && grep -q "learned_sites *1" "$HS_LOG" &&
            e2e_pass "$model: SIGUSR1 prints the learn counters" ||
            e2e_fail "$model: SIGUSR1 prints the learn counters" "$(grep learn "$HS_LOG" | tail -5)"
        expect_ok "$model, learned: chromium $B v4 loads at once" fetch_chromium "$B" 4
        grep -q "sni=$B split at .*rung 1 (midsld): learned for its site" "$HS_LOG" &&
            e2e_pass "$model: -v shows the learned rung of each flow" ||
            e2e_fail "$model: -v shows the learned rung of each flow" "$(grep "sni=$B" "$HS_LOG" | tail -3)"
        grep -q "learn: $B reset at rung 0 (5): the next connection takes rung 1 (midsld)" "$HS_LOG" &&
            e2e_pass "$model: -v shows the learn event" ||
            e2e_fail "$model: -v shows the learn event" "$(grep 'learn:' "$HS_LOG" | head -3)"
    fi
    if [[ $model == any-packet-drop ]]; then
        grep -q "learn: $B unanswered (hello retransmitted) at rung 0 (5)" "$HS_LOG" &&
            e2e_pass "$model: the dropped hello was judged by its retransmissions" ||
            e2e_fail "$model: the dropped hello was judged by its retransmissions" "$(grep 'learn:' "$HS_LOG" | head -3)"
    fi
    hs_stop INT
    expect_eq "$model: exit status after SIGINT" 0 "$HS_RC"
    (($(hs_stat learn_successes) >= 8)) && e2e_pass "$model: successes observed ($(hs_stat learn_successes))" ||
        e2e_fail "$model: successes observed ($(hs_stat learn_successes), want >= 8)"
    if [[ $max == 1 ]]; then
        expect_eq "$model: the site keeps rung 0 (no entry)" "-" "$(learned site blocked.example)"
    else
        expect_eq "$model: the state file holds the site at midsld" "midsld works" "$(learned site blocked.example)"
        expect_eq "$model: moves counted" 1 "$(hs_stat learn_moves)"
    fi
    grep -q "allowed.example\|ok.example" "$STATE" 2>/dev/null &&
        e2e_fail "$model: an allowed name got an entry" "$(cat "$STATE")" ||
        e2e_pass "$model: no allowed name got an entry"
    section "$model: a restarted daemon starts from the state file"
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start again"
    expect_ok "$model, restarted: curl $B v4 loads at its first attempt" fetch_curl "$B" 4
    expect_ok "$model, restarted: curl $S v6 loads at its first attempt" fetch_curl "$S" 6
    hs_stop INT
    expect_eq "$model, restarted: no failure seen" 0 "$(hs_stat learn_failures)"
    if [[ $model == any-packet ]]; then
        "$HS_BIN" learned --state "$STATE" list >"$T/list.out" 2>&1
        grep -qE '^site +blocked\.example +midsld +works' "$T/list.out" &&
            e2e_pass "$model: 'hellosplit learned list' shows the daemon's entry" ||
            e2e_fail "$model: 'hellosplit learned list' shows the daemon's entry" "$(cat "$T/list.out")"
        expect_ok "$model: 'hellosplit learned forget $B' succeeds" "$HS_BIN" learned --state "$STATE" forget "$B"
        expect_eq "$model: forgotten, the site has no entry" "-" "$(learned site blocked.example)"
    fi
done

section "reassembling: no split gets through"
rm -f "$STATE"
censor_install reassembling "$E2E_NS_MID" "$E2E_MID_IF" "$B"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
rungs=6
for ((i = 1; i <= rungs + 2; i++)); do
    expect_blocked "reassembling: curl $B v4 attempt $i is reset" fetch_curl "$B" 4
done
expect_eq "reassembling: 'no split gets through' logged once" 1 "$(grep -c "no split gets through to $B" "$HS_LOG")"
grep -q "passed unsplit (pass_learned" "$HS_LOG" && e2e_pass "reassembling: later connections pass unsplit" ||
    e2e_fail "reassembling: later connections pass unsplit"
for n in "${A[@]}"; do
    expect_ok "reassembling: allowed $n loads" fetch_curl "$n" 4
done
hs_stop INT
expect_eq "reassembling: the site gave up in the state file" "- gave-up" "$(learned site blocked.example)"
expect_eq "reassembling: gave up counted once" 1 "$(hs_stat learn_gave_up)"
expect_eq "reassembling: later connections counted as passed" 2 "$(hs_stat pass_learned)"

section "--observe, --pin, --no-learn"
rm -f "$STATE"
censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
hs_start "$E2E_NS_CLI" --observe || e2e_die "hellosplit --observe did not start"
expect_blocked "observe: curl $B v4 reset (nothing changed)" fetch_curl "$B" 4
expect_blocked "observe: curl $B v4 reset again" fetch_curl "$B" 4
hs_stop INT
grep -q "learn (--observe): $B reset at rung 0 (5): would try rung 1 (midsld) next" "$HS_LOG" &&
    e2e_pass "observe: logs what it would learn" || e2e_fail "observe: logs what it would learn"
expect_eq "observe: nothing stored" "-" "$(learned site blocked.example)"
hs_start "$E2E_NS_CLI" --pin "blocked.example=1,midsld" || e2e_die "hellosplit --pin did not start"
expect_ok "pin: curl $B v4 loads at its first attempt" fetch_curl "$B" 4
grep -q "sni=$B split at 1,.*pinned (--pin)" "$HS_LOG" && e2e_pass "pin: -v says pinned" ||
    e2e_fail "pin: -v says pinned" "$(grep "sni=$B" "$HS_LOG" | tail -2)"
hs_stop INT
# the default engine (auto) learns on the tc engine: in the kernel, no queue
rm -f "$STATE"
E2E_ENGINE=auto hs_start "$E2E_NS_CLI" || e2e_die "hellosplit --engine auto did not start"
grep -q "running in the kernel (tc engine" "$HS_LOG" && grep -q "tc: learning on" "$HS_LOG" &&
    e2e_pass "auto: takes tc and learns there, says so" ||
    e2e_fail "auto: takes tc and learns there, says so" "$(grep -E 'engine|tc:' "$HS_LOG")"
attempts_until_ok 6 fetch_curl "$B" 4; got=$GOT
[[ $got -ge 1 && $got -le 2 ]] && e2e_pass "auto: curl $B v4 loaded at attempt $got (at most 2)" ||
    e2e_fail "auto: curl $B v4 loaded at attempt $got (want 1..2)" "$(grep -E 'learn|sni=' "$HS_LOG" | tail -8)"
hs_stop INT
# without -v (a user's default): on tc the hello events then wake nobody
# (read at the next outcome or tick) and answers at rung 0 are only counted
rm -f "$STATE"
HS_VERBOSE="" hs_start "$E2E_NS_CLI" || e2e_die "hellosplit without -v did not start"
attempts_until_ok 6 fetch_curl "$B" 4; got=$GOT
[[ $got -ge 1 && $got -le 2 ]] && e2e_pass "no -v: curl $B v4 loaded at attempt $got (at most 2)" ||
    e2e_fail "no -v: curl $B v4 loaded at attempt $got (want 1..2)"
for i in 1 2; do expect_ok "no -v, learned: curl $B v4 loads at once ($i)" fetch_curl "$B" 4; done
for i in 1 2 3; do expect_ok "no -v: allowed ${A[0]} loads ($i)" fetch_curl "${A[0]}" 4; done
sleep 1.2   # a tick: what waits in the ring is read
hs_stop INT
expect_eq "no -v: the state file holds the site at midsld" "midsld works" "$(learned site blocked.example)"
(($(hs_stat learn_successes) >= 6)) && e2e_pass "no -v: successes counted ($(hs_stat learn_successes))" ||
    e2e_fail "no -v: successes counted ($(hs_stat learn_successes), want >= 6)"
expect_eq "no -v: one failure, one move" "1 1" "$(hs_stat learn_failures) $(hs_stat learn_moves)"
HS_LEARN=0
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit --no-learn did not start"
expect_blocked "no-learn: curl $B v4 reset" fetch_curl "$B" 4
expect_blocked "no-learn: curl $B v4 reset again (never moves)" fetch_curl "$B" 4
hs_stop INT
HS_LEARN=1
topo_down

section "router (masqueraded): learned from forwarded flows"
rm -f "$STATE"
topo_router_up masq
srv_nginx_start "$B" "${A[@]}"
censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
hs_start "$E2E_NS_GW" --iface wan0 || e2e_die "hellosplit did not start on gw"
# learned from IPv6 flows this time (masqueraded too), then IPv4 profits
attempts_until_ok 6 fetch_curl "$B" 6; got=$GOT
if [[ $got -ge 1 && $got -le 2 ]]; then
    e2e_pass "router: curl $B v6 loaded at attempt $got (at most 2)"
else
    e2e_fail "router: curl $B v6 loaded at attempt $got (want 1..2)"
fi
expect_ok "router, learned: curl $B v6 loads at once" fetch_curl "$B" 6
expect_ok "router, learned: curl $B v4 loads at once" fetch_curl "$B" 4
expect_ok "router, learned: python $B v4 loads at once" fetch_python "$B" 4
hs_stop TERM
expect_eq "router: the state file holds the site at midsld" "midsld works" "$(learned site blocked.example)"

e2e_summary
