#!/bin/bash
# tests/e2e/test_router_pppoe.sh -- hellosplit on a router whose WAN is
# PPPoE-sized (E2E_WAN_MTU=1492 in lib.sh: gw:wan0 MTU 1492 and TCPMSS
# --clamp-mss-to-pmtu in gw's mangle FORWARD, so the clients' MSS becomes
# 1452 / 1432), with offloads off and on:
#     cli -- gw(hellosplit, wan0 MTU 1492) -- cens(first-packet) -- srv
# For each: without hellosplit the blocked name is reset (the topology works);
# with hellosplit the blocked and the allowed name load with curl and with a
# ~1.8 KB hello (a post-quantum browser's: two segments, which GRO on gw
# merges into one packet when offloads are on), IPv4 and IPv6, each within
# E2E_FETCH_MAX_MS; the server captures show every hello cut, no hello segment
# larger than the clamped MSS allows, no client byte sent twice; the client's
# stack retransmitted nothing and the daemon logged no injection error.
# A piece cut at a fixed 1460/1440 bytes does not fit the 1492-byte path
# ("Message too long"): that flow then waits for a retransmission.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

# shellcheck disable=SC2034  # read by lib.sh when it is sourced
E2E_WAN_MTU=1492
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools tshark
hs_require

B=$E2E_BLOCKED
A=${E2E_ALLOWED[0]}
T=$(e2e_tmpdir)
# Largest hello payload per segment: MTU minus IP and TCP headers with
# timestamps (20+32 for IPv4, 40+32 for IPv6).
MAX4=$((E2E_WAN_MTU - 52)) MAX6=$((E2E_WAN_MTU - 72))

section() { printf '\n=== %s\n' "$*"; }

for E2E_OFFLOADS in off on; do
    L="router, WAN MTU $E2E_WAN_MTU, offloads $E2E_OFFLOADS"
    topo_router_up
    srv_nginx_start
    tcp_no_loss_probes "$E2E_NS_CLI"
    censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"

    section "$L: without hellosplit"
    expect_blocked "$L, no hellosplit: curl $B v4" fetch_curl "$B" 4
    expect_blocked "$L, no hellosplit: big hello $B v6" fetch_bighello "$B" 6
    expect_ok "$L, no hellosplit: big hello $A v4" fetch_bighello "$A" 4

    section "$L: with hellosplit on gw"
    hs_start "$E2E_NS_GW" || e2e_die "hellosplit did not start on gw"
    p4="$T/pppoe-$E2E_OFFLOADS-v4.pcap" p6="$T/pppoe-$E2E_OFFLOADS-v6.pcap"
    capture_start "$E2E_NS_SRV" eth0 "$p4" tcp port 443 and ip
    capture_start "$E2E_NS_SRV" eth0 "$p6" tcp port 443 and ip6
    retrans0=$(tcp_retransmits "$E2E_NS_CLI")
    for fam in 4 6; do
        e2e_timed "$L, hellosplit: curl      $B v$fam loads" fetch_curl "$B" "$fam"
        e2e_timed "$L, hellosplit: big hello $B v$fam loads" fetch_bighello "$B" "$fam"
        e2e_timed "$L, hellosplit: big hello $A v$fam loads" fetch_bighello "$A" "$fam"
        e2e_timed "$L, hellosplit: curl      $A v$fam loads" fetch_curl "$A" "$fam"
    done
    capture_stop "$p4" "$p6"
    # tc engine, offloads on: its pieces keep the kernel's offload state (see test_offloads.sh)
    csum=(--checksums) ok="checksums valid"
    [[ $E2E_ENGINE == tc && $E2E_OFFLOADS == on ]] && csum+=(--partial-ok) ok="checksums valid or offload-partial"
    e2e_check_segments "$L, v4: every hello cut at 5, none over $MAX4 bytes, $ok" "$p4" \
        --first 5 --max-payload "$MAX4" "${csum[@]}" --streams 4
    e2e_check_segments "$L, v6: every hello cut at 5, none over $MAX6 bytes, $ok" "$p6" \
        --first 5 --max-payload "$MAX6" "${csum[@]}" --streams 4
    expect_eq "$L: client bytes the server saw twice (retransmitted)" "0 0" \
        "$(capture_retransmitted "$p4") $(capture_retransmitted "$p6")"
    expect_eq "$L: segments the client retransmitted" 0 $(($(tcp_retransmits "$E2E_NS_CLI") - retrans0))
    hs_stop TERM
    expect_eq "$L: exit status after SIGTERM" 0 "$HS_RC"
    expect_eq "$L: injection errors logged" 0 "$(grep -c 'inject' "$HS_LOG")"
    grep 'inject' "$HS_LOG" | head -n 3 | sed 's/^/      | /'
    expect_eq "$L: flows split" 8 "$(hs_stat flows_split)"
    topo_down
done

e2e_summary
