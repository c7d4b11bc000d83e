#!/bin/bash
# tests/e2e/test_desktop.sh -- hellosplit on the client itself (desktop case):
#     cli(hellosplit) -- rtr(censor) -- srv(nginx), offloads off.
# For each censor model (first-packet, record-start, any-packet), in one go:
#   1. without hellosplit the blocked name FAILS by the censor's reset for
#      curl, gnutls-cli and Python ssl over IPv4 and IPv6, allowed names load,
#      and a capture at the censor's input shows the hello in one segment
#      holding the whole name (the control that makes step 3 able to fail);
#   2. any-packet only: hellosplit's default split (5) does NOT beat it: the
#      censor's-input capture shows the 5-byte first segment and the whole
#      name in the second one, and the fetches are still reset;
#   3. with hellosplit (default split; --split-at midsld against any-packet)
#      the blocked name LOADS with the same clients, v4 and v6, plus headless
#      Chromium; allowed names load; the server-side capture proves the
#      segments of every connection: first segment exactly 5 bytes (default)
#      and, for a hello sent as one packet, the rest in one second segment,
#      or cut at midsld inside the hostname (no segment holds the name),
#      every checksum valid;
#   4. after a normal stop (SIGINT, exit 0) the blocked name fails again.
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

blocked_all_clients() { # LABEL
    local fam
    for fam in 4 6; do
        expect_blocked "$1: curl   $B v$fam" fetch_curl "$B" "$fam"
        expect_blocked "$1: gnutls $B v$fam" fetch_gnutls "$B" "$fam"
        expect_blocked "$1: python $B v$fam" fetch_python "$B" "$fam"
    done
}

loads_all_clients() { # LABEL
    local fam
    for fam in 4 6; do
        expect_ok "$1: curl   $B v$fam loads" fetch_curl "$B" "$fam"
        expect_ok "$1: gnutls $B v$fam loads" fetch_gnutls "$B" "$fam"
        expect_ok "$1: python $B v$fam loads" fetch_python "$B" "$fam"
    done
}

allowed_load() { # LABEL
    local fam
    for fam in 4 6; do
        expect_ok "$1: curl   ${A[0]} v$fam" fetch_curl "${A[0]}" "$fam"
        expect_ok "$1: python ${A[1]} v$fam" fetch_python "${A[1]}" "$fam"
    done
}

topo_desktop_up
srv_nginx_start

for model in "${E2E_CENSOR_MODELS[@]}"; do
    censor_install "$model" "$E2E_NS_MID" "$E2E_MID_IF" "$B"

    section "$model: without hellosplit"
    capture_start "$E2E_NS_MID" "$E2E_MID_IF" "$T/$model-plain.pcap" tcp port 443
    blocked_all_clients "$model, no hellosplit"
    allowed_load "$model, no hellosplit"
    capture_stop "$T/$model-plain.pcap"
    e2e_check_segments "$model, no hellosplit: every hello arrives in 1 segment holding the whole name" \
        "$T/$model-plain.pcap" --segments 1 --name-whole --streams 10

    split=()
    first=5
    if [[ $model == any-packet ]]; then
        section "$model: the default split (5) is not enough"
        hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
        capture_start "$E2E_NS_MID" "$E2E_MID_IF" "$T/$model-default.pcap" tcp port 443
        expect_blocked "$model, --split-at 5: curl   $B v4 still blocked" fetch_curl "$B" 4
        expect_blocked "$model, --split-at 5: curl   $B v6 still blocked" fetch_curl "$B" 6
        expect_blocked "$model, --split-at 5: python $B v4 still blocked" fetch_python "$B" 4
        capture_stop "$T/$model-default.pcap"
        e2e_check_segments "$model, --split-at 5: split into 5 + rest, the name whole in segment 2" \
            "$T/$model-default.pcap" --first 5 --name-whole --streams 3
        hs_stop INT
        expect_eq "$model, --split-at 5: exit status after SIGINT" 0 "$HS_RC"
        split=(--split-at midsld)
        first=midsld
    fi

    section "$model: with hellosplit ${split[*]:-(default split)}"
    hs_start "$E2E_NS_CLI" "${split[@]}" || e2e_die "hellosplit did not start"
    capture_start "$E2E_NS_SRV" eth0 "$T/$model-hs.pcap" tcp port 443
    loads_all_clients "$model, hellosplit"
    allowed_load "$model, hellosplit"
    expect_ok "$model, hellosplit: chromium $B v4 loads" fetch_chromium "$B" 4
    if [[ $model == any-packet ]]; then
        expect_ok "$model, hellosplit: chromium $B v6 loads" fetch_chromium "$B" 6
    fi
    capture_stop "$T/$model-hs.pcap"
    # midsld can lie beyond the MSS (Chromium's ~1.9 KB hello): then the
    # first segment is MSS-sized and the cut comes later; --cut-at checks it.
    cut_args=(--first "$first")
    [[ $model == any-packet ]] && cut_args=(--cut-at "$first" --name-cut)
    e2e_check_segments "$model, hellosplit: every connection's hello cut at $first, all checksums valid" \
        "$T/$model-hs.pcap" "${cut_args[@]}" --checksums --no-partial --streams 11
    # A hello that left as one packet (all but Chromium's): exactly two
    # segments, the cut and the rest.
    e2e_check_segments "$model, hellosplit: one-packet hellos arrive as 2 segments: $first bytes, then the rest" \
        "$T/$model-hs.pcap" "${cut_args[@]}" --segments 2 --max-window 1400 --streams 10
    hs_stop INT
    expect_eq "$model, hellosplit: exit status after SIGINT" 0 "$HS_RC"
    split_n=$(hs_stat flows_split)
    if [[ $split_n =~ ^[0-9]+$ ]] && ((split_n >= 11)); then
        e2e_pass "$model, hellosplit: stats JSON counts $split_n split flows"
    else
        e2e_fail "$model, hellosplit: stats JSON counts >= 11 split flows" "got '$split_n'"
    fi
    expect_eq "$model, hellosplit: no flow failed open by timeout or error" "0 0" \
        "$(hs_stat failopen_timeout) $(hs_stat failopen_error)"

    section "$model: hellosplit stopped"
    expect_blocked "$model, after stop: curl $B v4 blocked again" fetch_curl "$B" 4
    expect_blocked "$model, after stop: curl $B v6 blocked again" fetch_curl "$B" 6
    censor_remove "$E2E_NS_MID"
done

e2e_summary
