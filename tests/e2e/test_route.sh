#!/bin/bash
# tests/e2e/test_route.sh -- pieces leave by the original's route, where the
# route depends on more than the destination (E2E_SRCROUTE=1 in lib.sh: the
# way to the server network is only in a table chosen by source address,
# `ip rule add from <LAN> lookup 100`, as multi-WAN and VPN-policy setups do;
# IPv6 via the next hop's link-local address, so the interface matters too).
#   router (forwarded flows), routed and MASQUERADE:
#       cli -- gw(hellosplit, source routing) -- cens(first-packet) -- srv
#   desktop (local flows, clients bound to their address):
#       cli(hellosplit, source routing) -- rtr(first-packet) -- srv
#   link-local (rtr's own flows to srv's fe80:: address, zone wan0, while
#   lan0's fe80::/64 route is the one a lookup naming no interface takes):
#       rtr(hellosplit) -- srv
# For each: without hellosplit the blocked name is reset and the allowed one
# loads (the topology works); with hellosplit the blocked name loads with
# curl v4+v6 (router: also gnutls, Python and a ~1.8 KB hello, v4+v6) and
# the allowed one too, each in time (E2E_FETCH_MAX_MS, E2E_LOAD_MAX_MS); the server
# capture shows every hello cut, no client byte sent twice, the addresses
# the server saw; the client's stack retransmitted nothing (no piece lost);
# the daemon logged no injection error.  Pieces routed by destination and
# mark only find no route (source routing) or leave by lan0 (link-local):
# before the fix every such flow stalled.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

# shellcheck disable=SC2034  # read by lib.sh when it is sourced
E2E_SRCROUTE=1
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools tshark
hs_require

B=$E2E_BLOCKED
A=${E2E_ALLOWED[0]}
T=$(e2e_tmpdir)

section() { printf '\n=== %s\n' "$*"; }

# after_checks LABEL PCAP STREAMS WANT_SRC RETRANS0
after_checks() {
    local label=$1 pcap=$2 streams=$3 want_src=$4 retrans0=$5
    e2e_check_segments "$label: every hello cut at 5, checksums valid" "$pcap" --first 5 --checksums \
        --streams "$streams"
    expect_eq "$label: client bytes the server saw twice (retransmitted)" 0 "$(capture_retransmitted "$pcap")"
    expect_eq "$label: segments the client retransmitted" 0 $(($(tcp_retransmits "$E2E_NS_CLI") - retrans0))
    expect_eq "$label: source addresses the server saw" "$want_src" "$(e2e_capture_sources "$pcap")"
    hs_stop TERM
    expect_eq "$label: exit status after SIGTERM" 0 "$HS_RC"
    expect_eq "$label: injection errors logged" 0 "$(grep -c 'inject' "$HS_LOG")"
    grep 'inject' "$HS_LOG" | head -n 3 | sed 's/^/      | /'
    expect_eq "$label: flows split" "$streams" "$(hs_stat flows_split)"
}

for masq in 0 1; do
    if [[ $masq == 1 ]]; then topo=masq want_src="$E2E_GWWAN4 $E2E_GWWAN6"; else topo=routed want_src="$E2E_CLI4 $E2E_CLI6"; fi
    L="router/$topo, source routing"
    E2E_MASQ=$masq topo_router_up
    nsx "$E2E_NS_GW" ip rule show | sed 's/^/      | /'
    srv_nginx_start
    tcp_no_loss_probes "$E2E_NS_CLI"
    censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"

    section "$L: without hellosplit"
    for fam in 4 6; do
        expect_blocked "$L, no hellosplit: curl $B v$fam" fetch_curl "$B" "$fam"
        expect_ok "$L, no hellosplit: curl $A v$fam" fetch_curl "$A" "$fam"
    done

    section "$L: with hellosplit on gw"
    hs_start "$E2E_NS_GW" || e2e_die "hellosplit did not start on gw"
    pcap="$T/$topo.pcap"
    capture_start "$E2E_NS_SRV" eth0 "$pcap" tcp port 443
    retrans0=$(tcp_retransmits "$E2E_NS_CLI")
    for fam in 4 6; do
        e2e_timed "$L, hellosplit: curl     $B v$fam loads" fetch_curl "$B" "$fam"
        e2e_timed "$L, hellosplit: gnutls   $B v$fam loads" fetch_gnutls "$B" "$fam"
        e2e_timed "$L, hellosplit: python   $B v$fam loads" fetch_python "$B" "$fam"
        e2e_timed "$L, hellosplit: big hello $B v$fam loads" fetch_bighello "$B" "$fam"
        e2e_timed "$L, hellosplit: curl     $A v$fam loads" fetch_curl "$A" "$fam"
    done
    capture_stop "$pcap"
    after_checks "$L" "$pcap" 10 "$want_src" "$retrans0"
    topo_down
done

L="desktop, source routing"
# shellcheck disable=SC2034  # read by lib.sh's fetch_curl
E2E_CURL_BIND=1
topo_desktop_up
nsx "$E2E_NS_CLI" ip rule show | sed 's/^/      | /'
srv_nginx_start
tcp_no_loss_probes "$E2E_NS_CLI"
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
section "$L: without hellosplit"
for fam in 4 6; do
    expect_blocked "$L, no hellosplit: curl $B v$fam" fetch_curl "$B" "$fam"
    expect_ok "$L, no hellosplit: curl $A v$fam" fetch_curl "$A" "$fam"
done
section "$L: with hellosplit on cli"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start on cli"
pcap="$T/desktop.pcap"
capture_start "$E2E_NS_SRV" eth0 "$pcap" tcp port 443
retrans0=$(tcp_retransmits "$E2E_NS_CLI")
for fam in 4 6; do
    e2e_timed "$L, hellosplit: curl $B v$fam loads" fetch_curl "$B" "$fam"
    e2e_timed "$L, hellosplit: curl $A v$fam loads" fetch_curl "$A" "$fam"
done
capture_stop "$pcap"
after_checks "$L" "$pcap" 4 "$E2E_CLI4 $E2E_CLI6" "$retrans0"

# A destination of link-local scope: rtr's own connections to srv's fe80::
# address on wan0 (the piece must name the interface, or it has no route).
L="link-local destination"
section "$L: hellosplit on rtr, its own flows to srv's link-local address"
ll=$(nsx "$E2E_NS_SRV" ip -6 -o addr show dev eth0 scope link | awk '{ sub(/\/.*/, "", $4); print $4 }')
# Every interface has a fe80::/64 route: make lan0's the first choice of a
# lookup that names no interface (metric 1), as one interface or another is
# on a host with several; only the zone (wan0) leads to srv.
nsx "$E2E_NS_RTR" ip -6 route add fe80::/64 dev lan0 metric 1 || e2e_die "ip -6 route add fe80::/64 dev lan0 failed"
tcp_no_loss_probes "$E2E_NS_RTR"
hs_start "$E2E_NS_RTR" || e2e_die "hellosplit did not start on rtr"
pcap="$T/linklocal.pcap"
capture_start "$E2E_NS_SRV" eth0 "$pcap" tcp port 443 and ip6
retrans0=$(tcp_retransmits "$E2E_NS_RTR")
fetch_linklocal() { # NAME: curl from rtr to srv's link-local address, zone wan0
    E2E_LAST_LOG="$T/linklocal-$RANDOM.log" E2E_LAST_REASON=error
    _e2e_fg ip netns exec "$E2E_NS_RTR" curl -sS -k --noproxy '*' --max-time "$E2E_FETCH_TIMEOUT" \
        --connect-to "$1:443:[$ll%wan0]:443" "https://$1/" >"$E2E_LAST_LOG" 2>&1
    grep -qxF "hello from $1" "$E2E_LAST_LOG"
}
e2e_timed "$L: curl $A from [$ll%wan0] loads" fetch_linklocal "$A"
e2e_timed "$L: curl $B from [$ll%wan0] loads" fetch_linklocal "$B"
capture_stop "$pcap"
e2e_check_segments "$L: every hello cut at 5, checksums valid" "$pcap" --first 5 --checksums --streams 2
expect_eq "$L: segments rtr retransmitted" 0 $(($(tcp_retransmits "$E2E_NS_RTR") - retrans0))
hs_stop TERM
expect_eq "$L: injection errors logged" 0 "$(grep -c 'inject' "$HS_LOG")"
grep 'inject' "$HS_LOG" | head -n 3 | sed 's/^/      | /'
expect_eq "$L: flows split" 2 "$(hs_stat flows_split)"
topo_down

e2e_summary
