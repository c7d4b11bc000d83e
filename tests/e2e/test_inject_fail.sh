#!/bin/bash
# tests/e2e/test_inject_fail.sh -- when injection cannot work, connections
# still complete; a busy queue starves neither timers nor signals.  Desktop
# case (cli(hellosplit) -- rtr -- srv).
#   1. pieces refused: a raw-table OUTPUT DROP for hellosplit's fwmark bit
#      makes every raw send fail with EPERM.  Blocked and allowed names, v4
#      and v6, still load every time, each fetch well under a retransmission
#      timeout (the held originals leave by verdict); failopen_emit > 0 with
#      failopen_emit_reason EPERM; the log names the error.
#   2. no IPV6_HDRINCL: hellosplit runs under a seccomp filter that refuses
#      setsockopt(IPPROTO_IPV6, IPV6_HDRINCL) (no_ipv6_hdrincl.py), as kernels
#      before 4.5 do.  One start-up line says IPv6 is not queued; no ip6tables
#      rule is installed, the IPv4 ones are; with a first-packet censor the
#      blocked name loads over IPv4 (split) and is reset over IPv6 (passes
#      unsplit, fast: not stolen and lost); allowed names load over IPv6.
#   3. a busy queue: a UDP flood is queued (--rules none and rules of the
#      test's own), each verdict made slow by rules that never match, so the
#      queue holds thousands of packets all along.  Under that flood a partial
#      ClientHello held by the engine reaches the server within 1.5 s (the
#      250 ms --collect-timeout plus the backlog queued ahead of it), not when
#      the flood ends, and SIGTERM ends hellosplit within a second.
#   4. SIGTERM while a partial hello is held (--collect-timeout 20 s): the
#      held packet reaches the server at the exit (its deferred verdict), and
#      no run said a held packet was left without a verdict.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
FWMARK=0x40000000   # hellosplit's default --fwmark: on every packet it sends
DONE_MARK=0x20000000
FLOOD_S=12
SLOW_RULES=2000
FLOOD_PROCS=3       # senders, with
FLOOD_SOCKETS=2     # sockets each: about 220 datagrams in flight per socket

section() { printf '\n=== %s\n' "$*"; }

stat_text() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$HS_STATS"; }

topo_desktop_up
srv_nginx_start

# ------------------------------------------------------- pieces refused ---
section "raw sends refused (EPERM): flows fail open by verdict"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
for ipt in iptables ip6tables; do
    nsx "$E2E_NS_CLI" "$ipt" -w -t raw -A OUTPUT -m mark --mark "$FWMARK/$FWMARK" -j DROP ||
        e2e_die "$ipt: cannot install the raw-table DROP"
done
for round in 1 2 3; do
    e2e_timed "EPERM round $round: curl $B v4 loads" fetch_curl "$B" 4
    e2e_timed "EPERM round $round: curl $B v6 loads" fetch_curl "$B" 6
    e2e_timed "EPERM round $round: python ${A[0]} v4 loads" fetch_python "${A[0]}" 4
    e2e_timed "EPERM round $round: gnutls ${A[1]} v6 loads" fetch_gnutls "${A[1]}" 6
done
hs_stop TERM
expect_eq "EPERM: exit status" 0 "$HS_RC"
n=$(hs_stat failopen_emit)
if [[ $n =~ ^[0-9]+$ ]] && ((n >= 12)); then
    e2e_pass "EPERM: failopen_emit = $n (every fetch failed open)"
else
    e2e_fail "EPERM: failopen_emit >= 12" "got '$n'"
fi
expect_eq "EPERM: failopen_emit_reason" EPERM "$(stat_text failopen_emit_reason)"
expect_eq "EPERM: no flow counted as split" 0 "$(hs_stat flows_split)"
if grep -q 'injecting a [0-9]*-byte packet failed: Operation not permitted' "$HS_LOG"; then
    e2e_pass "EPERM: the log names the error"
else
    e2e_fail "EPERM: the log names the error" "$(tail -n 5 "$HS_LOG")"
fi
for ipt in iptables ip6tables; do
    nsx "$E2E_NS_CLI" "$ipt" -w -t raw -D OUTPUT -m mark --mark "$FWMARK/$FWMARK" -j DROP
done

# ------------------------------------------------------- no IPV6_HDRINCL ---
section "IPV6_HDRINCL refused: IPv6 is not queued"
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
real_bin=$HS_BIN
cat >"$T/hs-no-hdrincl" <<EOF
#!/bin/sh
exec $E2E_PY $E2E_DIR/no_ipv6_hdrincl.py $real_bin "\$@"
EOF
chmod +x "$T/hs-no-hdrincl"
HS_BIN=$T/hs-no-hdrincl
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit (no IPV6_HDRINCL) did not start"
HS_BIN=$real_bin
lines=$(grep -c 'IPv6 packets cannot be injected here' "$HS_LOG")
expect_eq "no HDRINCL: one start-up line says IPv6 is not queued" 1 "$lines"
sed -n '/IPv6/p' "$HS_LOG" | sed 's/^/      | /'
if nsx "$E2E_NS_CLI" ip6tables -w -t mangle -S HELLOSPLIT >/dev/null 2>&1 ||
    nsx "$E2E_NS_CLI" ip6tables -w -t mangle -S POSTROUTING | grep -q HELLOSPLIT; then
    e2e_fail "no HDRINCL: no ip6tables rule installed" "$(nsx "$E2E_NS_CLI" ip6tables -w -t mangle -S)"
else
    e2e_pass "no HDRINCL: no ip6tables rule installed"
fi
if nsx "$E2E_NS_CLI" iptables -w -t mangle -S POSTROUTING | grep -q HELLOSPLIT; then
    e2e_pass "no HDRINCL: the iptables rules are installed"
else
    e2e_fail "no HDRINCL: the iptables rules are installed"
fi
for round in 1 2; do
    e2e_timed "no HDRINCL round $round: curl $B v4 loads (split)" fetch_curl "$B" 4
    expect_blocked "no HDRINCL round $round: curl $B v6 passes unsplit (censor resets it)" fetch_curl "$B" 6
    e2e_timed "no HDRINCL round $round: curl ${A[0]} v6 loads" fetch_curl "${A[0]}" 6
    e2e_timed "no HDRINCL round $round: python ${A[1]} v6 loads" fetch_python "${A[1]}" 6
done
hs_stop TERM
expect_eq "no HDRINCL: exit status" 0 "$HS_RC"
n=$(hs_stat flows_split)
if [[ $n =~ ^[0-9]+$ ]] && ((n >= 2)); then e2e_pass "no HDRINCL: IPv4 flows split ($n)"; else
    e2e_fail "no HDRINCL: IPv4 flows split >= 2" "got '$n'"; fi
expect_eq "no HDRINCL: no IPv6 flow reached the engine (failopen_emit)" 0 "$(hs_stat failopen_emit)"
censor_remove "$E2E_NS_MID"

# ------------------------------------------------------------ busy queue ---
section "a busy queue: collect timeout and SIGTERM on time"
# The flood comes from a few sockets, each with its send buffer's worth in
# flight, so the queue stays below its 4096 packets (a full queue would let
# the probe's packets bypass it). Each verdict costs a traversal of SLOW_RULES
# rules that never match, as on a slow router: the queue stays busy.
{
    echo "*mangle"
    echo ":HSSLOW - [0:0]"
    for ((i = 0; i < SLOW_RULES; i++)); do echo "-A HSSLOW -p udp --dport 1 -j RETURN"; done
    echo "COMMIT"
} >"$T/slow.rules"
nsx "$E2E_NS_CLI" iptables-restore -w --noflush <"$T/slow.rules" &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -N HSFLOOD &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A HSFLOOD -m mark --mark "$FWMARK/$FWMARK" -j HSSLOW &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A HSFLOOD -m mark --mark "$FWMARK/$FWMARK" -j RETURN &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A HSFLOOD -m mark --mark "$DONE_MARK/$DONE_MARK" -j RETURN &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A HSFLOOD -p udp --dport 5201 -j NFQUEUE --queue-num 200 --queue-bypass &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A HSFLOOD -p tcp --dport 8443 -j NFQUEUE --queue-num 200 --queue-bypass &&
    nsx "$E2E_NS_CLI" iptables -w -t mangle -A POSTROUTING -j HSFLOOD ||
    e2e_die "installing the flood rules failed"
hs_start "$E2E_NS_CLI" --rules none --ports 443,8443 || e2e_die "hellosplit (--rules none) did not start"
# The probe connects before the flood (a busy box starts Python slowly) and
# writes its partial hello when told to.
ip netns exec "$E2E_NS_SRV" "$E2E_PY" "$E2E_DIR/held_probe.py" serve "$E2E_SRV4" 8443 >"$T/probe.srv" 2>&1 &
probe_srv=$!
_e2e_track_pid "$probe_srv"
sleep 0.5
ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/held_probe.py" send "$E2E_SRV4" 8443 100 "$T/go" \
    >"$T/probe.cli" 2>&1 &
probe_cli=$!
_e2e_track_pid "$probe_cli"
sleep 0.5
flood_pids=()
for ((i = 0; i < FLOOD_PROCS; i++)); do
    e2e_spawn "$E2E_NS_CLI" "$T/flood.log" "$E2E_PY" "$E2E_DIR/held_probe.py" flood "$E2E_SRV4" 5201 "$FLOOD_S" \
        "$FLOOD_SOCKETS"
    flood_pids+=("$E2E_SPAWN_PID")
done
flood_start=$EPOCHREALTIME
sleep 1.5
# queue_total now and then: how many packets wait in the queue under the flood
for i in 1 2 3 4 5; do
    nsx "$E2E_NS_CLI" awk '$1 == 200 { printf "%s ", $3 }' /proc/net/netfilter/nfnetlink_queue
    sleep 0.1
done >"$T/backlog"
echo "      | packets waiting in the queue (5 samples): $(cat "$T/backlog")"
touch "$T/go"
sleep 2       # the probe's bytes are due after 250 ms (and the backlog ahead of them)
delay=$(awk 'NR == FNR { s = $1; next } { printf "%d", ($1 - s) * 1000 }' "$T/probe.cli" "$T/probe.srv")
if [[ $delay =~ ^[0-9]+$ ]] && ((delay >= 200 && delay < 1500)); then
    e2e_pass "flood: the held partial hello reached the server after $delay ms (collect timeout 250 ms)"
else
    e2e_fail "flood: the held partial hello reaches the server after 200-1500 ms" \
        "not within 2 s (${delay:-no} ms); client $(cat "$T/probe.cli"), server $(cat "$T/probe.srv")"
fi
pid_alive "${flood_pids[0]}" || e2e_fail "flood: the flood still running at SIGTERM" "$(tail -n 5 "$T/flood.log")"
t0=$EPOCHREALTIME
hs_stop TERM
stop_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
flood_ms=$(awk -v a="$flood_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
if [[ $HS_RC == 0 ]] && ((stop_ms < 1000)); then
    e2e_pass "flood: SIGTERM ended hellosplit in $stop_ms ms (flood running for $flood_ms ms of ${FLOOD_S} s)"
else
    e2e_fail "flood: SIGTERM ends hellosplit within 1 s" "exit '$HS_RC' after $stop_ms ms"
fi
packets_after=$(nsx "$E2E_NS_CLI" iptables -w -t mangle -L HSFLOOD -v -x -n | awk '/udp dpt:5201/ { print $1 }')
echo "      | datagrams queued by the flood rule: $packets_after"
for pid in "$probe_srv" "$probe_cli"; do
    wait "$pid"
    _e2e_untrack_pid "$pid"
done
for pid in "${flood_pids[@]}"; do e2e_stop "$pid"; done
nsx "$E2E_NS_CLI" iptables -w -t mangle -D POSTROUTING -j HSFLOOD

# ---------------------------------------------- shutdown while holding ---
section "SIGTERM while a hello is held: it leaves by verdict at the exit"
hs_start "$E2E_NS_CLI" --ports 443,8443 --collect-timeout 20000 || e2e_die "hellosplit did not start"
ip netns exec "$E2E_NS_SRV" "$E2E_PY" "$E2E_DIR/held_probe.py" serve "$E2E_SRV4" 8443 >"$T/hold.srv" 2>&1 &
probe_srv=$!
_e2e_track_pid "$probe_srv"
sleep 0.5
touch "$T/go-now"
ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/held_probe.py" send "$E2E_SRV4" 8443 100 "$T/go-now" \
    >"$T/hold.cli" 2>&1 &
probe_cli=$!
_e2e_track_pid "$probe_cli"
sleep 1
if [[ -s "$T/hold.cli" && ! -s "$T/hold.srv" ]]; then
    e2e_pass "held: after 1 s of a 20 s --collect-timeout the server has none of the partial hello"
else
    e2e_fail "held: the partial hello is held" "client '$(cat "$T/hold.cli")', server '$(cat "$T/hold.srv")'"
fi
t0=$EPOCHREALTIME
hs_stop TERM
expect_eq "held: exit status" 0 "$HS_RC"
wait "$probe_srv"
_e2e_untrack_pid "$probe_srv"
ms=$(awk -v a="$t0" 'NR == 1 { printf "%d", ($1 - a) * 1000 }' "$T/hold.srv")
if [[ $ms =~ ^-?[0-9]+$ ]] && ((ms < 1000)); then
    e2e_pass "held: the server got the held bytes $ms ms after SIGTERM"
else
    e2e_fail "held: the server gets the held bytes within 1 s of SIGTERM" "got '$ms'"
fi
expect_eq "held: counted as released at exit (failopen_shutdown)" 1 "$(hs_stat failopen_shutdown)"
wait "$probe_cli"
_e2e_untrack_pid "$probe_cli"

if grep -h 'had no verdict' "$E2E_TMP"/hellosplit-*.log; then
    e2e_fail "no run left a held packet without a verdict"
else
    e2e_pass "no run left a held packet without a verdict"
fi

e2e_summary
