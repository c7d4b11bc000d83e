#!/bin/bash
# tests/e2e/test_offloads.sh -- desktop case with offloads ON (tso, gso, gro,
# tx checksum on every veth): locally generated packets reach POSTROUTING as
# GSO super-packets with partial checksums.
#     cli(hellosplit --split-at midsld) -- rtr(any-packet censor) -- srv
# The big client: tls_load.py --alpn-pad 1500 (Python ssl, a ~2 KB
# ClientHello written in one send(): one GSO super-packet).
#   1. without hellosplit: a capture on cli's eth0 shows the hello leaving as
#      ONE segment larger than the MSS holding the whole name (the GSO
#      super-packet), and the censor resets the fetch;
#   2. with hellosplit: the big hello and curl / Python / Chromium (v4+v6,
#      Chromium v4) load; on cli's eth0 no hello segment exceeds the MSS;
#      the server captures (v4 and v6 separately) show every hello cut
#      inside the name at midsld, no segment over the MSS (1448 v4, 1428 v6
#      with timestamps), and every hello segment with a valid checksum (the
#      kernel's own packets carry offload-partial checksums there, which a
#      NIC would complete: counted, allowed, but never on a hello segment).
#   3. after the stop the big hello is reset again.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

# shellcheck disable=SC2034  # read by lib.sh when it is sourced
E2E_OFFLOADS=on
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools chromium tshark
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
PAD=1500

section() { printf '\n=== %s\n' "$*"; }

# fetch_big NAME FAM [COUNT]: tls_load with a padded (~2 KB) hello.
# shellcheck disable=SC2034  # E2E_LAST_* are read by lib.sh's expect_*
fetch_big() {
    local name=$1 fam=$2 n=${3:-1} addr
    if [[ $fam == 4 ]]; then addr=$E2E_SRV4; else addr=$E2E_SRV6; fi
    E2E_LAST_LOG="$T/big-$name-$fam-$RANDOM.log"
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$name" --addr "$addr" \
        --count "$n" --parallel 1 --timeout "$E2E_FETCH_TIMEOUT" --alpn-pad "$PAD" >"$E2E_LAST_LOG" 2>&1 && return 0
    if grep -q ' reset in ' "$E2E_LAST_LOG"; then E2E_LAST_REASON=reset; else E2E_LAST_REASON=error; fi
    return 1
}

topo_desktop_up
nsx "$E2E_NS_CLI" ethtool -k eth0 | grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|tx-checksumming):' |
    sed 's/^/      | cli eth0: /' 
srv_nginx_start
censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"

section "offloads on, without hellosplit"
capture_start "$E2E_NS_CLI" eth0 "$T/cli-plain.pcap" tcp port 443
expect_blocked "no hellosplit: big hello ($B v4) is reset" fetch_big "$B" 4
expect_blocked "no hellosplit: big hello ($B v6) is reset" fetch_big "$B" 6
expect_blocked "no hellosplit: curl $B v4 is reset" fetch_curl "$B" 4
expect_ok "no hellosplit: big hello (${A[0]} v4) loads" fetch_big "${A[0]}" 4
capture_stop "$T/cli-plain.pcap"
e2e_check_segments "no hellosplit: each big hello leaves cli as one GSO super-packet holding the name" \
    "$T/cli-plain.pcap" --segments 1 --name-whole --streams 4
e2e_check_segments "no hellosplit: ... and it is larger than the MSS" \
    "$T/cli-plain.pcap" --some-over 1448 --only-name "$B" --min-window 1000 --streams 2

section "offloads on, hellosplit --split-at midsld"
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1    # forget the reset flows (their ports may come back)
hs_start "$E2E_NS_CLI" --split-at midsld || e2e_die "hellosplit did not start"
capture_start "$E2E_NS_CLI" eth0 "$T/cli-hs.pcap" tcp port 443
capture_start "$E2E_NS_SRV" eth0 "$T/srv4.pcap" ip and tcp port 443
capture_start "$E2E_NS_SRV" eth0 "$T/srv6.pcap" ip6 and tcp port 443
for fam in 4 6; do
    expect_ok "hellosplit: 5 big hellos ($B v$fam) load" fetch_big "$B" "$fam" 5
    expect_ok "hellosplit: curl   $B v$fam loads" fetch_curl "$B" "$fam"
    expect_ok "hellosplit: python $B v$fam loads" fetch_python "$B" "$fam"
    expect_ok "hellosplit: gnutls $B v$fam loads" fetch_gnutls "$B" "$fam"
    expect_ok "hellosplit: curl   ${A[1]} v$fam loads" fetch_curl "${A[1]}" "$fam"
done
expect_ok "hellosplit: chromium $B v4 loads" fetch_chromium "$B" 4
capture_stop "$T/cli-hs.pcap" "$T/srv4.pcap" "$T/srv6.pcap"
e2e_check_segments "hellosplit: on cli's eth0 no hello segment exceeds the MSS" \
    "$T/cli-hs.pcap" --max-payload 1448 --cut-at midsld --name-cut --streams 18
# The tc engine cuts the kernel's own skb and keeps its offload state: with tx
# checksum offload on, its pieces leave offload-partial for the NIC to
# complete (a veth never does), so there "valid" means valid or partial.
csum=(--checksums) ok="hello checksums valid"
[[ $E2E_ENGINE == tc ]] && csum+=(--partial-ok) ok="hello checksums valid or offload-partial"
e2e_check_segments "hellosplit, server v4: cut at midsld, <= 1448 bytes, $ok" \
    "$T/srv4.pcap" --cut-at midsld --name-cut --max-payload 1448 "${csum[@]}" --streams 9
e2e_check_segments "hellosplit, server v6: cut at midsld, <= 1428 bytes, $ok" \
    "$T/srv6.pcap" --cut-at midsld --name-cut --max-payload 1428 "${csum[@]}" --streams 9
hs_stop INT
expect_eq "hellosplit: exit status" 0 "$HS_RC"
echo "      | stats: flows_split=$(hs_stat flows_split) segments_emitted=$(hs_stat segments_emitted)" \
    "failopen_timeout=$(hs_stat failopen_timeout) failopen_error=$(hs_stat failopen_error)"

section "offloads on, hellosplit stopped"
expect_blocked "after stop: big hello ($B v4) is reset again" fetch_big "$B" 4

e2e_summary
