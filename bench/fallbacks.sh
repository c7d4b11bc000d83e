#!/usr/bin/env bash
# How often each fallback of the tc engine fires, per real client and setup.
# For each setup -- desktop (cli runs hellosplit, client -> server, veth
# offloads off: one skb per MSS), desktop-offloads-on (tso/gso/tx-csum on, as
# a user's machine: a hello over the MSS is one GSO skb), router with GRO
# off on the LAN side, router with GRO on (the router forwards GSO skbs) --
# and each real client -- curl, gnutls-cli, python (ssl), headless
# Chromium (its post-quantum hello, ~1.9 KB) -- one fresh
# `hellosplit --engine tc --no-learn --split-at SPLIT` runs while the client
# makes N connections (IPv4 and IPv6 alternating); then the program's raw
# per-CPU counters (every TC_C_* of src/tc-abi.h, read from its map with
# bpftool) and a capture taken at the server give one line:
#   setup client ok/N split sni_later sni_missed too_big not_tls emit error
#   resplit fin tfo malformed server_cut server_whole
# server_cut: streams whose hostname no single segment holds at the server
# (hello_segments.py's sni_whole_in=none); server_whole: the others.
# Knobs: FALLBACKS_N (20), FALLBACKS_CHROMIUM_N (10), FALLBACKS_SPLIT
# (midsld), FALLBACKS_CLIENTS ("curl gnutls python chromium"),
# FALLBACKS_SETUPS ("desktop desktop-offloads-on router-gro-off router-gro-on").
# Run as root: make bench-fallbacks
set -u -o pipefail
E2E_DIR=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"

N=${FALLBACKS_N:-20}
CHROMIUM_N=${FALLBACKS_CHROMIUM_N:-10}
SPLIT=${FALLBACKS_SPLIT:-midsld}
CLIENTS=${FALLBACKS_CLIENTS:-curl gnutls python chromium}
SETUPS=${FALLBACKS_SETUPS:-desktop desktop-offloads-on router-gro-off router-gro-on}
ABI=$E2E_DIR/../../src/tc-abi.h

e2e_require_root
e2e_require_tools
e2e_require_tools chromium tshark tc bpftool
hs_require
[[ -r "$ABI" ]] || e2e_die "$ABI missing: the counter names are read from it"
T=$(e2e_tmpdir)
B=$E2E_BLOCKED
HS_VERBOSE=""   # what users run: no per-flow log
E2E_ENGINE=tc   # hs_start passes --engine "$E2E_ENGINE"

# The counter names in enum order (TC_C_PACKETS = 0 ... before TC_C_COUNT).
mapfile -t NAMES < <(sed -n '/^enum tc_counter/,/^};/p' "$ABI" | sed -n 's/^[[:space:]]*TC_C_\([A-Z0-9_]*\).*/\1/p' |
    grep -vx COUNT)
((${#NAMES[@]} >= 16)) || e2e_die "read ${#NAMES[@]} counter names from $ABI, expected 16 or more"

# counters NS IFACE: "NAME=VALUE ..." of the program attached to IFACE's egress.
counters() {
    local prog map
    prog=$(nsx "$1" tc filter show dev "$2" egress 2>/dev/null | sed -n 's/.* id \([0-9]*\) name hellosplit_l[23].*/\1/p' | head -n1)
    [[ -n "$prog" ]] || e2e_die "no hellosplit program on $1:$2 egress: $(nsx "$1" tc filter show dev "$2" egress 2>&1)"
    for map in $(bpftool prog show id "$prog" -j | "$E2E_PY" -c 'import json,sys; print(*json.load(sys.stdin).get("map_ids", []))'); do
        if bpftool map show id "$map" -j | "$E2E_PY" -c 'import json,sys; sys.exit(json.load(sys.stdin).get("name") != "counters")'; then
            bpftool map dump id "$map" -j | "$E2E_PY" -c '
import json, sys
names = sys.argv[1:]
tot = {}
for e in json.load(sys.stdin):
    f = e.get("formatted", e)
    k = f["key"] if isinstance(f["key"], int) else int.from_bytes(bytes(int(b, 16) for b in f["key"]), "little")
    vals = f["values"]
    s = 0
    for v in vals:
        x = v["value"]
        s += x if isinstance(x, int) else int.from_bytes(bytes(int(b, 16) for b in x), "little")
    tot[k] = s
print(" ".join("%s=%d" % (n.lower(), tot.get(i, 0)) for i, n in enumerate(names)))
' "${NAMES[@]}"
            return 0
        fi
    done
    e2e_die "program $prog on $1:$2 has no map named counters"
}

kv() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$2"; }

COLS=(flows split segments sni_later sni_missed too_big not_tls emit error resplit fin tfo malformed)
row() { printf '%-15s %-9s %6s' "$1" "$2" "$3"; shift 3; printf ' %s' "$@"; printf '\n'; }
row setup client ok/N "${COLS[@]}" streams server_cut server_whole >"$T/table"

run_client() { # SETUP NS IFACE CLIENT
    local setup=$1 ns=$2 ifc=$3 client=$4 n=$N i ok=0 fam c seg cut whole streams
    [[ $client == chromium ]] && n=$CHROMIUM_N
    hs_start "$ns" --iface "$ifc" --split-at "$SPLIT" || e2e_die "hellosplit --engine tc on $ns:$ifc did not start"
    capture_start "$E2E_NS_SRV" eth0 "$T/$setup-$client.pcap" tcp port 443
    for ((i = 0; i < n; i++)); do
        fam=$((i % 2 == 0 ? 4 : 6))
        if "fetch_$client" "$B" "$fam"; then ok=$((ok + 1)); else
            e2e_log "$setup $client v$fam #$i failed: ${E2E_LAST_REASON:-?} ($E2E_LAST_LOG)"
        fi
    done
    # counters runs in a subshell: its e2e_die ends only that, so check here
    c=$(counters "$ns" "$ifc") || e2e_die "reading the tc counters of $ns:$ifc failed (see above)"
    hs_stop INT || e2e_die "hellosplit did not stop on SIGINT"
    capture_stop "$T/$setup-$client.pcap"
    seg=$("$E2E_PY" "$E2E_DIR/hello_segments.py" "$T/$setup-$client.pcap" --streams 0 2>&1)
    # one fetch may open more than one stream (Chromium: a preconnect):
    # count the streams the server saw instead of assuming one per fetch
    streams=$(grep -c '^stream ' <<<"$seg")
    cut=$(grep -c 'sni_whole_in=none' <<<"$seg")
    whole=$(grep -c 'sni_whole_in=[0-9]' <<<"$seg")
    ((streams > 0)) || e2e_die "the server capture of $setup $client holds no TLS stream: $seg"
    printf '%s\n' "$seg" >"$T/$setup-$client.segments"
    echo "$setup $client $c" >>"$T/raw"
    local vals=() k
    for k in "${COLS[@]}"; do vals+=("$(kv "$k" "$c")"); done
    row "$setup" "$client" "$ok/$n" "${vals[@]}" "$streams" "$cut" "$whole" | tee -a "$T/table"
}

for setup in $SETUPS; do
    case $setup in
        desktop) E2E_OFFLOADS=off topo_desktop_up; ns=$E2E_NS_CLI ifc=eth0 ;;
        desktop-offloads-on) E2E_OFFLOADS=on topo_desktop_up; ns=$E2E_NS_CLI ifc=eth0 ;;
        router-gro-off) topo_router_up; ns=$E2E_NS_GW ifc=wan0; topo_offloads "$ns" lan0 off ;;
        router-gro-on)
            topo_router_up; ns=$E2E_NS_GW ifc=wan0
            nsx "$ns" ethtool -K lan0 gro on >/dev/null || e2e_die "ethtool -K lan0 gro on in $ns failed" ;;
        *) e2e_die "unknown setup '$setup' in FALLBACKS_SETUPS (desktop, desktop-offloads-on, router-gro-off, router-gro-on)" ;;
    esac
    srv_nginx_start
    for client in $CLIENTS; do
        declare -F "fetch_$client" >/dev/null || e2e_die "unknown client '$client' in FALLBACKS_CLIENTS"
        run_client "$setup" "$ns" "$ifc" "$client"
    done
    topo_down
done

printf '\n# bench/fallbacks.sh, %s, --engine tc --no-learn --split-at %s, N=%s (chromium %s), v4/v6 alternating\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$SPLIT" "$N" "$CHROMIUM_N"
column -t "$T/table"
printf '\nraw counters:\n'
cat "$T/raw"
