#!/bin/bash
# tests/e2e/test_censor_baseline.sh -- proves the e2e test bed itself, without
# hellosplit:
#   1. desktop topology, no censor: every name loads with curl, gnutls-cli,
#      Debian python3 ssl (IPv4+IPv6) and headless Chromium (v4 and v6).
#   2. each censor model (first-packet, record-start, any-packet): the blocked
#      name is killed by a reset, quickly, for curl / python / gnutls over IPv4
#      and IPv6; allowed names load; removing the censor restores access.
#   3. each model has exactly its stated blind spot, shown with hand-made
#      splitting by split_client.py (the real Python ClientHello written in
#      pieces or TLS records; see the CASES table below).
#   4. router topology (cli-gw-cens-srv) with and without MASQUERADE on gw:
#      traffic passes, the server sees the right source address, the censor
#      on cens blocks.
#   5. censor_loss really drops (100 % -> no load, 0 % -> loads).
# Needs root.  Prints PASS/FAIL lines and "e2e: N passed, N failed"; exits
# non-zero when anything failed.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools chromium

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
ALL=("$B" "${A[@]}")

section() { printf '\n=== %s\n' "$*"; }

# ---------------------------------------------------------------- desktop ---
section "desktop topology, no censor"
topo_desktop_up
srv_nginx_start "${ALL[@]}"

for fam in 4 6; do
    for n in "${ALL[@]}"; do
        expect_ok "no censor: curl   $n v$fam" fetch_curl "$n" "$fam"
        expect_ok "no censor: python $n v$fam" fetch_python "$n" "$fam"
        expect_ok "no censor: gnutls $n v$fam" fetch_gnutls "$n" "$fam"
    done
    # The split client itself works when nobody interferes.
    for cuts in 5 midlabel 1,2,3,4,5,sni,sni+7; do
        expect_ok "no censor: split[$cuts] $B v$fam" fetch_split "$B" "$fam" "$cuts" 0.05
    done
done
expect_ok "no censor: chromium $B v4" fetch_chromium "$B" 4
expect_ok "no censor: chromium ${A[0]} v6" fetch_chromium "${A[0]}" 6
expect_eq "no censor: server sees the client address (v4)" "$E2E_CLI4" "$(e2e_http_get "${A[1]}" 4 /addr)"
expect_eq "no censor: server sees the client address (v6)" "$E2E_CLI6" "$(e2e_http_get "${A[1]}" 6 /addr)"
expect_fail "unknown name does not prove a vhost" fetch_curl unknown.example 4

# What each model lets through when the ClientHello (517 bytes, hostname at
# 153..172) is written as the given pieces.  L = loads, B = blocked (reset).
#   case       how (split_client.py)                  first  record any
#   none       one piece (control: MemoryBIO path)    B      B      B
#   1          1 + 516 bytes                          L      L      B
#   4          4 + 513                                L      L      B
#   5          5 (record header) + 512                L      L      B
#   after      cut 10 bytes after the hostname        B      B      B
#   midlabel   www.blo | cked.example                 L      L      L
#   rec-sni    2 TLS records cut 20 bytes before the  L      B      B
#              name, one segment each (the 2nd starts
#              with 16 03 and holds the whole name)
#   rec-mid    2 TLS records cut inside the name,     L      L      L
#              both in ONE segment
# Cases 1 and 4 prove that the first-packet model counts a 1..4 byte payload
# as "the first payload packet" (u32 length trick); "after" proves that
# splitting alone is no magic; rec-sni is what separates record-start from
# first-packet (a later packet that starts a record is still inspected).
CASES=(none 1 4 5 after midlabel rec-sni rec-mid)
declare -A WANT=(
    [first-packet]="B L L L B L L L"
    [record-start]="B L L L B L B L"
    [any-packet]="B B B B B L B L"
)
split_args() { # CASE -> ARGS=(CUTS DELAY [EXTRA...]) for fetch_split
    case $1 in
        none) ARGS=("" 0.1) ;;
        after) ARGS=("sni+$((${#B} + 10))" 0.1) ;;
        rec-sni) ARGS=("" 0.1 --records sni-20) ;;
        rec-mid) ARGS=("" 0.1 --records midlabel --coalesce) ;;
        *) ARGS=("$1" 0.1) ;;
    esac
}

for model in "${E2E_CENSOR_MODELS[@]}"; do
    section "desktop topology, censor $model"
    censor_install "$model" "$E2E_NS_MID" "$E2E_MID_IF" "$B"
    for fam in 4 6; do
        expect_blocked "$model: curl   $B v$fam" fetch_curl "$B" "$fam"
        expect_blocked "$model: python $B v$fam" fetch_python "$B" "$fam"
        expect_blocked "$model: gnutls $B v$fam" fetch_gnutls "$B" "$fam"
        for n in "${A[@]}"; do
            expect_ok "$model: curl   $n v$fam" fetch_curl "$n" "$fam"
            expect_ok "$model: python $n v$fam" fetch_python "$n" "$fam"
        done
        read -r -a want <<<"${WANT[$model]}"
        for i in "${!CASES[@]}"; do
            c=${CASES[$i]}
            split_args "$c"
            if [[ ${want[$i]} == L ]]; then
                expect_ok "$model: split[$c] $B v$fam loads" fetch_split "$B" "$fam" "${ARGS[@]}"
            else
                expect_blocked "$model: split[$c] $B v$fam blocked" fetch_split "$B" "$fam" "${ARGS[@]}"
            fi
        done
    done
    expect_ok "$model: chromium ${A[0]} v4" fetch_chromium "${A[0]}" 4
    # No "Chromium is blocked" check: its ~1.95 KB hello spans two segments
    # and its extension order is random, so the hostname is in the second
    # segment about half the time (first-packet and record-start miss it) and
    # straddles the segment boundary in ~2 % of hellos (any-packet misses it);
    # Chromium retries after a reset, so any such check would be flaky.
    censor_remove "$E2E_NS_MID"
    expect_ok "$model removed: curl $B v4" fetch_curl "$B" 4
done

section "desktop topology, loss"
censor_loss "$E2E_NS_MID" 100 "$E2E_MID_IF"
E2E_FETCH_TIMEOUT=2 expect_fail "loss 100%: nothing loads" fetch_curl "${A[0]}" 4
censor_loss "$E2E_NS_MID" 0
expect_ok "loss removed: loads again" fetch_curl "${A[0]}" 4
topo_down

# ---------------------------------------------------------------- router ----
for masq in 0 1; do
    if [[ $masq == 1 ]]; then
        label="router topology, MASQUERADE on gw"
        want4=$E2E_GWWAN4 want6=$E2E_GWWAN6
    else
        label="router topology, routed"
        want4=$E2E_CLI4 want6=$E2E_CLI6
    fi
    section "$label"
    E2E_MASQ=$masq topo_router_up
    srv_nginx_start "${ALL[@]}"
    for fam in 4 6; do
        for n in "${ALL[@]}"; do
            expect_ok "$label, no censor: curl $n v$fam" fetch_curl "$n" "$fam"
        done
        expect_ok "$label, no censor: python $B v$fam" fetch_python "$B" "$fam"
    done
    expect_eq "$label: server sees $want4" "$want4" "$(e2e_http_get "${A[0]}" 4 /addr)"
    expect_eq "$label: server sees $want6" "$want6" "$(e2e_http_get "${A[0]}" 6 /addr)"
    censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
    for fam in 4 6; do
        expect_blocked "$label, first-packet: curl   $B v$fam" fetch_curl "$B" "$fam"
        expect_blocked "$label, first-packet: python $B v$fam" fetch_python "$B" "$fam"
        expect_ok "$label, first-packet: curl ${A[0]} v$fam" fetch_curl "${A[0]}" "$fam"
        expect_ok "$label, first-packet: split[5] $B v$fam" fetch_split "$B" "$fam" 5
    done
    censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
    expect_blocked "$label, any-packet: split[5] $B v4" fetch_split "$B" 4 5
    expect_ok "$label, any-packet: split[midlabel] $B v6" fetch_split "$B" 6 midlabel
    topo_down
done

e2e_summary
