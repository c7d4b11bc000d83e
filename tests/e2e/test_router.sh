#!/bin/bash
# tests/e2e/test_router.sh -- hellosplit on a router (forwarded traffic):
#     cli -- gw(hellosplit --iface wan0) -- cens(censor) -- srv(nginx)
# run twice: plain routing, and MASQUERADE (v4+v6) on gw:wan0.
# For each censor model, in one go:
#   1. without hellosplit the blocked name FAILS (reset) for curl, gnutls-cli
#      and Python over IPv4 and IPv6; allowed names load;
#   2. any-packet only: the default split (5) still fails;
#   3. with hellosplit on gw (default split; --split-at midsld against
#      any-packet) the blocked name LOADS with curl, gnutls, Python v4+v6 and
#      Chromium; allowed names load; the server capture shows every hello
#      cut as promised, valid checksums, and the source address the server
#      sees is the client (routed) or gw's WAN address (masquerade);
#   4. after stopping hellosplit (SIGTERM, exit 0) the name fails again.
# Then (routed topology) the interface options:
#   --iface lan0 (not the way to the server) and --exclude-iface wan0 leave
#   the flows alone (blocked, the engine sees no flow, the rules name the
#   interface); --exclude-iface lan0 still splits.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools chromium tshark pgrep
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)

section() { printf '\n=== %s\n' "$*"; }

for masq in 0 1; do
    if [[ $masq == 1 ]]; then
        topo="masq"
        want_src="$E2E_GWWAN4 $E2E_GWWAN6"
    else
        topo="routed"
        want_src="$E2E_CLI4 $E2E_CLI6"
    fi
    E2E_MASQ=$masq topo_router_up
    srv_nginx_start

    for model in "${E2E_CENSOR_MODELS[@]}"; do
        L="router/$topo, $model"
        censor_install "$model" "$E2E_NS_MID" "$E2E_MID_IF" "$B"

        section "$L: without hellosplit"
        for fam in 4 6; do
            expect_blocked "$L, no hellosplit: curl   $B v$fam" fetch_curl "$B" "$fam"
            expect_blocked "$L, no hellosplit: gnutls $B v$fam" fetch_gnutls "$B" "$fam"
            expect_blocked "$L, no hellosplit: python $B v$fam" fetch_python "$B" "$fam"
            expect_ok "$L, no hellosplit: curl ${A[0]} v$fam" fetch_curl "${A[0]}" "$fam"
        done

        split=()
        cut=(--first 5)
        if [[ $model == any-packet ]]; then
            hs_start "$E2E_NS_GW" --iface wan0 || e2e_die "hellosplit did not start on gw"
            expect_blocked "$L, --split-at 5: curl $B v4 still blocked" fetch_curl "$B" 4
            expect_blocked "$L, --split-at 5: curl $B v6 still blocked" fetch_curl "$B" 6
            hs_stop TERM
            expect_eq "$L, --split-at 5: default split happened" 2 "$(hs_stat flows_split)"
            split=(--split-at midsld)
            cut=(--cut-at midsld --name-cut)
        fi

        section "$L: with hellosplit on gw ${split[*]:-(default split)}"
        hs_start "$E2E_NS_GW" --iface wan0 "${split[@]}" || e2e_die "hellosplit did not start on gw"
        pcap="$T/$topo-$model.pcap"
        capture_start "$E2E_NS_SRV" eth0 "$pcap" tcp port 443
        for fam in 4 6; do
            expect_ok "$L, hellosplit: curl   $B v$fam loads" fetch_curl "$B" "$fam"
            expect_ok "$L, hellosplit: gnutls $B v$fam loads" fetch_gnutls "$B" "$fam"
            expect_ok "$L, hellosplit: python $B v$fam loads" fetch_python "$B" "$fam"
            expect_ok "$L, hellosplit: curl   ${A[0]} v$fam" fetch_curl "${A[0]}" "$fam"
        done
        expect_ok "$L, hellosplit: chromium $B v4 loads" fetch_chromium "$B" 4
        capture_stop "$pcap"
        e2e_check_segments "$L, hellosplit: every hello cut as planned, checksums valid" "$pcap" \
            "${cut[@]}" --checksums --no-partial --streams 8
        e2e_check_segments "$L, hellosplit: one-packet hellos arrive as 2 segments: the cut, then the rest" "$pcap" \
            "${cut[@]}" --segments 2 --max-window 1400 --streams 7
        expect_eq "$L: source addresses the server saw" "$want_src" "$(e2e_capture_sources "$pcap")"
        hs_stop TERM
        expect_eq "$L, hellosplit: exit status after SIGTERM" 0 "$HS_RC"

        section "$L: hellosplit stopped"
        expect_blocked "$L, after stop: curl $B v4 blocked again" fetch_curl "$B" 4
        expect_blocked "$L, after stop: python $B v6 blocked again" fetch_python "$B" 6
    done

    if [[ $masq == 0 ]]; then
        censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
        section "router/routed: --iface and --exclude-iface"
        # iface_case LABEL loads|blocked ARGS...; leaves the queue rules in $T/rules
        iface_case() {
            local label=$1 want=$2
            shift 2
            hs_start "$E2E_NS_GW" "$@" || { e2e_fail "$label: hellosplit $* starts"; return 0; }
            if [[ $E2E_ENGINE == tc ]]; then
                # the tc engine's hook: its program at each interface's tcx egress, "-o IF hellosplit_l2"
                for dev in $(nsx "$E2E_NS_GW" ls /sys/class/net); do
                    tcx_progs "$E2E_NS_GW" "$dev" | awk -v dev="$dev" '$1 ~ /^hellosplit_l[23]$/ { print "-o", dev, $1 }'
                done >"$T/rules"
            else
                { nsx "$E2E_NS_GW" iptables -w -t mangle -S HELLOSPLIT
                  nsx "$E2E_NS_GW" ip6tables -w -t mangle -S HELLOSPLIT; } 2>&1 | grep -- '-j NFQUEUE' >"$T/rules"
            fi
            sed 's/^/      | /' "$T/rules"
            if [[ $want == loads ]]; then
                expect_ok "$label: curl $B v4 loads" fetch_curl "$B" 4
                expect_ok "$label: curl $B v6 loads" fetch_curl "$B" 6
            else
                expect_blocked "$label: curl $B v4 blocked (flow not touched)" fetch_curl "$B" 4
                expect_blocked "$label: curl $B v6 blocked (flow not touched)" fetch_curl "$B" 6
            fi
            hs_stop INT
            expect_eq "$label: exit status" 0 "$HS_RC"
            if [[ $want == loads ]]; then
                expect_eq "$label: flows split" 2 "$(hs_stat flows_split)"
            else
                expect_eq "$label: flows the engine saw" 0 "$(hs_stat flows)"
            fi
        }
        # nfqueue: v4+v6 queue rules, 2 each (payload of 4+ and of 1-3 bytes); tc: one egress filter
        if [[ $E2E_ENGINE == tc ]]; then hooks="1 1" what="the tc program"; else hooks="4 4" what="v4+v6 queue rules"; fi
        iface_case "--iface lan0" blocked --iface lan0
        expect_eq "--iface lan0: $what all on -o lan0" "$hooks" \
            "$(wc -l <"$T/rules") $(grep -c -- '-o lan0 .*\(NFQUEUE\|hellosplit_l2\)' "$T/rules")"
        iface_case "--iface wan0" loads --iface wan0
        expect_eq "--iface wan0: $what all on -o wan0" "$hooks" \
            "$(wc -l <"$T/rules") $(grep -c -- '-o wan0 .*\(NFQUEUE\|hellosplit_l2\)' "$T/rules")"
        iface_case "--exclude-iface wan0" blocked --exclude-iface wan0
        iface_case "--exclude-iface lan0" loads --exclude-iface lan0
    fi
    topo_down
done

e2e_summary
