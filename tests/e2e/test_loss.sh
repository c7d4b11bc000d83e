#!/bin/bash
# tests/e2e/test_loss.sh -- retransmissions are split again (DESIGN rule 4).
#     cli(hellosplit --split-at midsld) -- rtr(any-packet censor, 20 % loss) -- srv
# The any-packet censor inspects every client packet, so ONE unsplit copy of
# the hello (e.g. a retransmission sent whole) gets the flow reset.  With 20 %
# random loss on the censor hop (lib's censor_loss on rtr's lan0: every
# client->server packet, dropped before conntrack and the censor see it), 50
# fetches of the blocked name (curl, 25 over IPv4 and 25 over IPv6, 5 at a
# time) must ALL load, and:
#   * hellosplit re-split retransmissions (resplit_retransmits > 0: the loss
#     really hit hellos),
#   * the censor's kill rule never matched a packet,
#   * it took less than LOSS_MAX_S seconds (measured and printed).
# The control, same loss, without hellosplit: 5 fetches, all reset.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
hs_require

B=$E2E_BLOCKED
T=$(e2e_tmpdir)
N=50
PARALLEL=5
LOSS=20
LOSS_MAX_S=${LOSS_MAX_S:-120}
# Loss only client->server: those are the packets whose retransmissions must
# be split again (a lost hello segment, or a whole hello resent after an RTO);
# losing the server's packets as well adds nothing to that but makes long
# SYN/RTO back-off chains -- and a flaky test -- likely.
# Each fetch may take FETCH_TIMEOUT s: ~9 SYN retries (1 s linear, then
# exponential) or 7 data RTOs from 200 ms.
FETCH_TIMEOUT=60

section() { printf '\n=== %s\n' "$*"; }

# kill_count: packets the censor's kill chain saw (v4 + v6).
kill_count() {
    local fam ipt n=0 c
    for fam in 4 6; do
        if [[ $fam == 4 ]]; then ipt=iptables; else ipt=ip6tables; fi
        c=$(nsx "$E2E_NS_MID" "$ipt" -w -L HS_CENSOR_KILL -v -n -x 2>/dev/null |
            awk '/REJECT/ { print $1 }')
        n=$((n + ${c:-0}))
    done
    echo "$n"
}

# One curl fetch for the parallel runner; prints "ok" or the reason.
one_fetch() { # INDEX  (runs in a background subshell)
    local fam=$((($1 % 2) ? 6 : 4))
    # shellcheck disable=SC2034  # read by lib.sh's fetch helpers
    E2E_FETCH_N=$((1000 + $1 * 10))      # own log file names per subshell
    if E2E_FETCH_TIMEOUT=$FETCH_TIMEOUT fetch_curl "$B" "$fam"; then
        echo "$1 v$fam ok"
    else
        echo "$1 v$fam ${E2E_LAST_REASON:-error} $E2E_LAST_LOG"
    fi
}

active() { # how many of "${pids[@]}" still run
    local n=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
    echo "$n"
}

topo_desktop_up
srv_nginx_start
censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
censor_loss "$E2E_NS_MID" "$LOSS" "$E2E_MID_IF"

section "control: $LOSS % loss, no hellosplit"
for i in 1 2 3 4 5; do
    fam=$((i % 2 ? 4 : 6))
    E2E_FETCH_TIMEOUT=$FETCH_TIMEOUT expect_fail "no hellosplit, $LOSS % loss: curl $B v$fam fails" fetch_curl "$B" "$fam"
done
kills_before=$(kill_count)
if ((kills_before >= 1)); then
    e2e_pass "no hellosplit: the censor's kill rule matched ($kills_before packets)"
else
    e2e_fail "no hellosplit: the censor's kill rule matched" "counter $kills_before"
fi

section "$N fetches through hellosplit --split-at midsld, $LOSS % loss, $PARALLEL at a time"
hs_start "$E2E_NS_CLI" --split-at midsld || e2e_die "hellosplit did not start"
t0=$EPOCHREALTIME
: >"$T/results"
pids=()
for ((i = 0; i < N; i++)); do
    while (($(active) >= PARALLEL)); do sleep 0.05; done
    one_fetch "$i" >>"$T/results" &
    pids+=($!)
    _e2e_track_pid $!
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; _e2e_untrack_pid "$p"; done
t1=$EPOCHREALTIME
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
ok=$(grep -c ' ok$' "$T/results")
grep -v ' ok$' "$T/results" | sed 's/^/      | not ok: /'
expect_eq "$LOSS % loss: $N of $N fetches of $B loaded (took ${secs} s)" "$N" "$ok"
if awk -v s="$secs" -v m="$LOSS_MAX_S" 'BEGIN { exit !(s < m) }'; then
    e2e_pass "$LOSS % loss: $N fetches took ${secs} s (< ${LOSS_MAX_S} s)"
else
    e2e_fail "$LOSS % loss: $N fetches within ${LOSS_MAX_S} s" "took ${secs} s"
fi
kills_after=$(kill_count)
expect_eq "$LOSS % loss: the censor's kill rule matched no packet through hellosplit" 0 "$((kills_after - kills_before))"
hs_stop INT
expect_eq "hellosplit exit status" 0 "$HS_RC"
resplit=$(hs_stat resplit_retransmits)
split=$(hs_stat flows_split)
echo "      | stats: flows_split=$split resplit_retransmits=$resplit segments_emitted=$(hs_stat segments_emitted)" \
    "failopen_timeout=$(hs_stat failopen_timeout) failopen_error=$(hs_stat failopen_error)"
if [[ $resplit =~ ^[0-9]+$ ]] && ((resplit > 0)); then
    e2e_pass "$LOSS % loss: hellosplit split $resplit retransmissions again"
else
    e2e_fail "$LOSS % loss: hellosplit split retransmissions again" "resplit_retransmits=$resplit"
fi
expect_eq "$LOSS % loss: every flow was split" "$N" "$split"
echo "LOSS-RESULT: $ok/$N loaded in ${secs} s at $LOSS % loss, resplit_retransmits=$resplit"

e2e_summary
