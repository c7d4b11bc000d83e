#!/bin/bash
# tests/e2e/test_stop.sh -- stopping hellosplit loses no packet and removes
# only its own rules.     cli(hellosplit) -- rtr -- srv
#   1. Stop under load: a client makes ~RATE TLS connections per second
#      (IPv4 and IPv6 alternating) while hellosplit is stopped: by SIGTERM
#      to the parent; to parent and packet process at once (what systemd's
#      default KillMode does; Ctrl-C in a terminal alike); to the packet
#      process alone; and a restart (stop, start again, stop again, all
#      under load); with the default queue bypass and --no-queue-bypass.
#      Every connection completes, the server capture shows no client byte
#      sent twice and the client's stack retransmitted nothing (a packet
#      dropped at the stop never reaches the server: only the client's
#      RetransSegs shows it), hellosplit exits 0 and leaves no rule.  The
#      rules must go before the queue is unbound: the other way round the
#      packets queued in between are dropped.
#   2. Rule removal by specification: a rule inserted before hellosplit's
#      jump after it started, and rules another tool inserts while hellosplit
#      stops (wg-quick, firewalld, fw4 reloads), all survive the stop; its
#      jump and chain are gone.  Removal by rule number deleted a neighbour.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools tshark
hs_require

A=${E2E_ALLOWED[0]}
T=$(e2e_tmpdir)
RATE=${RATE:-150}
ROUNDS=${ROUNDS:-8}

section() { printf '\n=== %s\n' "$*"; }

topo_desktop_up
srv_nginx_start
tcp_no_loss_probes "$E2E_NS_CLI"

no_rules_left() { # LABEL
    if hs_rules_present "$E2E_NS_CLI" ||
        { nsx "$E2E_NS_CLI" iptables-save -t mangle; nsx "$E2E_NS_CLI" ip6tables-save -t mangle; } 2>/dev/null |
        grep -q HELLOSPLIT; then
        e2e_fail "$1: no HELLOSPLIT rule or chain left"
    else
        e2e_pass "$1: no HELLOSPLIT rule or chain left"
    fi
}

# ------------------------------------------------------------ stop under load
# The NFQUEUE engine runs as a privileged parent and a packet child, each of
# which may get the signal; the tc engine is one process (no child), and it
# takes ~1.3 s to load and attach its program, so the load lasts longer for
# the restart to meet it.
hows="parent together child restart" dur=3
[[ $E2E_ENGINE == tc ]] && hows="parent restart" dur=5
for bypass in "" --no-queue-bypass; do
    for how in $hows; do
        L="stop under load (SIGTERM to $how${bypass:+, $bypass})"
        [[ $how == restart ]] && L="restart under load (SIGTERM, start again${bypass:+, $bypass})"
        section "$L"
        pcap="$T/stop-$how$bypass.pcap"
        hs_start "$E2E_NS_CLI" $bypass || e2e_die "hellosplit did not start"
        capture_start "$E2E_NS_SRV" eth0 "$pcap" tcp port 443
        retrans0=$(tcp_retransmits "$E2E_NS_CLI")
        nsx "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$A" --addr "$E2E_SRV4" --addr "$E2E_SRV6" \
            --duration "$dur" --rate "$RATE" --parallel 8 --timeout 5 >"$T/load.out" 2>"$T/load.err" &
        load=$!
        _e2e_track_pid "$load"
        sleep 1.5
        child=$(hs_child)
        case $how in
            parent | restart) kill -TERM "$HS_PID" ;;
            together) kill -TERM "$HS_PID" "$child" ;;
            child) kill -TERM "$child" ;;
        esac
        hs_wait 10 || e2e_fail "$L: hellosplit ends within 10 s"
        if [[ $how == restart ]]; then
            expect_eq "$L: first run's exit status" 0 "$HS_RC"
            hs_start "$E2E_NS_CLI" $bypass || e2e_fail "$L: hellosplit starts again"
            sleep 0.5
            hs_stop TERM
        fi
        wait "$load" && rc=0 || rc=$?
        _e2e_untrack_pid "$load"
        capture_stop "$pcap"
        sed 's/^/      | /' "$T/load.out"
        head -n 3 "$T/load.err" | sed 's/^/      | /'
        expect_eq "$L: every connection completed (tls_load exit)" 0 "$rc"
        expect_eq "$L: client bytes the server saw twice (retransmitted)" 0 "$(capture_retransmitted "$pcap")"
        expect_eq "$L: segments the client retransmitted" 0 $(($(tcp_retransmits "$E2E_NS_CLI") - retrans0))
        expect_eq "$L: hellosplit exit status" 0 "$HS_RC"
        grep -E 'rules removed|unexpectedly|died' "$HS_LOG" | sed 's/^/      | /'
        no_rules_left "$L"
        split=$(hs_stat flows_split)
        if [[ $split =~ ^[0-9]+$ && $split -gt 0 ]]; then
            e2e_pass "$L: flows were split before the (last) stop ($split)"
        else
            e2e_fail "$L: flows were split before the (last) stop" "flows_split=$split"
        fi
    done
done

# --------------------------------------------------- rule removal by spec
# churn FLAG: insert numbered rules at the head of mangle POSTROUTING (v4 and
# v6 alternately) until FLAG exists; each one inserted is counted in FLAG.count.
churn() {
    local flag=$1 n=0 ipt
    while [[ ! -e $flag ]]; do
        n=$((n + 1))
        if ((n % 2)); then ipt=iptables; else ipt=ip6tables; fi
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -I POSTROUTING 1 -p udp --dport 10 \
            -m comment --comment "hs-churn-$n" && echo "$n" >>"$flag.count"
    done
}

foreign_rules() { # print the other tools' rules of mangle POSTROUTING, sorted
    { nsx "$E2E_NS_CLI" iptables -w -t mangle -S POSTROUTING; nsx "$E2E_NS_CLI" ip6tables -w -t mangle -S POSTROUTING; } |
        grep -oE 'hs-(churn-[0-9]+|before)' | LC_ALL=C sort
}

for ((r = 1; r <= ROUNDS; r++)); do
    L="rule removal, round $r"
    section "$L"
    hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
    for ipt in iptables ip6tables; do
        nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -I POSTROUTING 1 -p udp --dport 9 -m comment --comment hs-before
    done
    flag="$T/churn-$r"
    : >"$flag.count"
    churn "$flag" &
    churner=$!
    _e2e_track_pid "$churner"
    sleep 0.2
    hs_stop TERM
    sleep 0.2
    touch "$flag"
    wait "$churner"
    _e2e_untrack_pid "$churner"
    want=$({ echo hs-before; echo hs-before; sed 's/^/hs-churn-/' "$flag.count"; } | LC_ALL=C sort)
    got=$(foreign_rules)
    if [[ $got == "$want" ]]; then
        e2e_pass "$L: every other rule survived the stop ($(wc -l <<<"$want") rules)"
    else
        e2e_fail "$L: every other rule survived the stop" \
            "missing: $(comm -23 <(echo "$want") <(echo "$got") | tr '\n' ' ')"
    fi
    expect_eq "$L: hellosplit exit status" 0 "$HS_RC"
    grep -E 'failed' "$HS_LOG" | head -n 3 | sed 's/^/      | /'
    no_rules_left "$L"
    for ipt in iptables ip6tables; do nsx "$E2E_NS_CLI" "$ipt" -w -t mangle -F POSTROUTING; done
done

e2e_summary
