#!/bin/bash
# tests/e2e/test_probe.sh -- `hellosplit probe` (no daemon, no privileges:
# it runs as user nobody here) against real servers and the three censors:
#   1. usage errors exit 2 with one line; --help exits 0;
#   2. real TLS servers answer hellosplit's own ClientHello: openssl s_server
#      on the server namespace's loopback (127.0.0.1) answers every try with a
#      ServerHello, or with a HelloRetryRequest when it only takes P-256;
#      nginx answers both hello profiles;
#   3. no censor: "No DPI seen", exit 0; a capture at the server shows that
#      the pieces leave as planned (5 + up to midsld + rest);
#   4. each censor model: the unsplit hello is reset every time; exactly the
#      candidates the model cannot see work (first-packet, record-start: all
#      splits; any-packet: only cuts inside the name); the recommendation is
#      5, 5 and midsld; given to the daemon in the client namespace, that
#      value makes curl load the blocked name (v4 and v6), which fails
#      without it;
#   5. several hosts (arguments and --hosts FILE): a summary and one value
#      for all;
#   6. nothing works: closed port (unreachable), every TLS payload reset
#      (address blocked), only another name gets through (a DPI that
#      reassembles): each its own message, exit 3.
# Needs root (namespaces).  Last line "e2e: N passed, N failed".
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools ip iptables ip6tables nginx openssl curl ss ethtool sysctl ping conntrack timeout awk \
    tcpdump tshark setpriv /usr/bin/python3
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
PROBE_N=0

section() { printf '\n=== %s\n' "$*"; }

# probe NS ARGS...  -- run `hellosplit probe ARGS` in NS as user nobody;
# stdout in $PROBE_OUT, stderr in $PROBE_ERR, exit status in $PROBE_RC.
probe() {
    local ns=$1
    shift
    PROBE_N=$((PROBE_N + 1))
    PROBE_OUT="$T/probe-$PROBE_N.out" PROBE_ERR="$T/probe-$PROBE_N.err"
    _e2e_fg ip netns exec "$ns" timeout -k 2 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$HS_BIN" probe "$@" >"$PROBE_OUT" 2>"$PROBE_ERR" && PROBE_RC=0 || PROBE_RC=$?
    return 0
}

show() { sed 's/^/      | /' "$@"; }

# probe_table JSON -- the first host's results, one line each:
#   "SPLIT-AT OK FAILED INCONCLUSIVE RESETS" per candidate, then
#   "verdict V", "recommended R", "all R", "control OK FAILED", "exit N"
probe_table() {
    "$E2E_PY" - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
h = d["hosts"][0]
for c in h["candidates"]:
    o = c["outcomes"]
    print(c["split_at"], c["ok"], c["failed"], c["inconclusive"], o["reset"])
print("verdict", h["verdict"])
print("recommended", h["recommended"])
print("all", d["recommended"])
c = h["control"]
print("control", c["ok"] if c else "-", c["failed"] if c else "-")
print("exit", d["exit_code"])
EOF
}

# outcome_sum JSON OUTCOME -- that outcome summed over the first host's candidates
outcome_sum() {
    "$E2E_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(c["outcomes"][sys.argv[2]] for c in d["hosts"][0]["candidates"]))' "$1" "$2"
}

field() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

# ---------------------------------------------------------------- usage -----
section "usage"
usage_case() { # DESC WANT-RC ARGS...
    local desc=$1 want=$2 out rc lines
    shift 2
    out=$("$HS_BIN" probe "$@" 2>&1 >/dev/null) && rc=0 || rc=$?
    lines=$(printf '%s' "$out" | grep -c '')
    if [[ $rc == "$want" && ($want == 0 || $lines == 1) ]]; then
        e2e_pass "usage: $desc -> exit $rc${out:+: $out}"
    else
        e2e_fail "usage: $desc" "want exit $want and one line, got exit $rc, $lines lines: $out"
    fi
}
usage_case "no host" 2
usage_case "--tries 0" 2 "$B" --tries 0
usage_case "--tries abc" 2 "$B" --tries abc
usage_case "--port 70000" 2 "$B" --port 70000
usage_case "--timeout=5" 2 "$B" --timeout=5
usage_case "--ip nonsense" 2 "$B" --ip 198.18.999.1
usage_case "a URL as host" 2 "https://$B/"
usage_case "an address as host" 2 198.18.2.2
usage_case "bad position" 2 "$B" --positions '5;snix'
usage_case "empty positions" 2 "$B" --positions ';'
usage_case "unknown option" 2 "$B" --frobnicate
usage_case "missing --hosts file" 2 --hosts "$T/nonexistent"
usage_case "--json=1" 2 "$B" --json=1
out=$("$HS_BIN" probe --help) && rc=0 || rc=$?
expect_eq "usage: --help exits 0" 0 "$rc"
[[ $out == *"--split-at"* && $out == *"--positions"* ]] && e2e_pass "usage: --help lists the options" ||
    e2e_fail "usage: --help lists the options" "$out"

topo_desktop_up
srv_nginx_start "$B" "${A[@]}"

# ------------------------------------------------------- real TLS servers ---
section "real TLS servers answer the probe's own ClientHello"
cert=$E2E_TMP/nginx/cert.pem key=$E2E_TMP/nginx/key.pem
e2e_spawn "$E2E_NS_SRV" "$T/s_server.log" openssl s_server -accept 127.0.0.1:4433 -cert "$cert" -key "$key" -quiet
e2e_spawn "$E2E_NS_SRV" "$T/s_server_p256.log" openssl s_server -accept 127.0.0.1:4434 -cert "$cert" -key "$key" \
    -quiet -groups P-256
for ((i = 0; i < 100; i++)); do
    l=$(nsx "$E2E_NS_SRV" ss -Hltn 'sport >= :4433 and sport <= :4434')
    [[ $l == *127.0.0.1:4433* && $l == *127.0.0.1:4434* ]] && break
    sleep 0.05
done
for profile in chrome classic; do
    extra=()
    [[ $profile == classic ]] && extra=(--no-pq)
    probe "$E2E_NS_SRV" "$B" --ip 127.0.0.1 --port 4433 --tries 2 --json "${extra[@]}"
    expect_eq "openssl s_server ($profile hello): exit 0" 0 "$PROBE_RC"
    expect_eq "openssl s_server ($profile hello): every try answered by a ServerHello" 14 \
        "$(outcome_sum "$PROBE_OUT" server-hello)"
    probe "$E2E_NS_SRV" "$B" --ip 127.0.0.1 --port 4434 --tries 2 --json "${extra[@]}"
    expect_eq "openssl s_server -groups P-256 ($profile hello): every try answered by a HelloRetryRequest" 14 \
        "$(outcome_sum "$PROBE_OUT" hello-retry)"
    probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --tries 1 --json "${extra[@]}"
    expect_eq "nginx ($profile hello): every try answered by a ServerHello" 7 \
        "$(outcome_sum "$PROBE_OUT" server-hello)"
done

# ----------------------------------------------------------------- no DPI ---
section "no censor"
for fam in 4 6; do
    [[ $fam == 4 ]] && ip=$E2E_SRV4 || ip=$E2E_SRV6
    probe "$E2E_NS_CLI" "$B" --ip "$ip"
    expect_eq "no censor v$fam: exit 0" 0 "$PROBE_RC"
    grep -q '^No DPI seen' "$PROBE_OUT" && e2e_pass "no censor v$fam: says no DPI was seen" ||
        { e2e_fail "no censor v$fam: says no DPI was seen"; show "$PROBE_OUT"; }
done
show "$PROBE_OUT"

# The pieces leave as planned: 5 bytes, then up to midsld, then the rest.
capture_start "$E2E_NS_SRV" eth0 "$T/pieces.pcap" tcp port 443
probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --positions '5,midsld' --tries 2 -v
capture_stop "$T/pieces.pcap"
segs=$("$E2E_PY" "$E2E_DIR/hello_segments.py" "$T/pieces.pcap" --name "$B" 2>&1)
sni=$(printf '%s\n' "$segs" | sed -n 's/.* sni=\([0-9]*\)\.\..*/\1/p' | head -n1)
mid=$((sni + 4 + 3 - 5))   # www.blo|cked.example: midsld is 7 bytes into the name
n_split=$(printf '%s\n' "$segs" | grep -c " segs=5+$mid+")
n_all=$(printf '%s\n' "$segs" | grep -c ' segs=')
expect_eq "capture: 2 hellos arrive as 5 + $mid + rest (cut at 5 and midsld)" 2 "$n_split"
expect_eq "capture: 4 hellos in all (2 unsplit, 2 split)" 4 "$n_all"
printf '%s\n' "$segs" | grep ' segs=' | show

# ----------------------------------------------------------- each censor ---
# The default candidates are the ladder of src/ladder.c, plus unsplit.
declare -A WORKS=(
    [first-packet]="5 midsld 1 sni+1 1,midsld 1,midsld,sniend-1"
    [record-start]="5 midsld 1 sni+1 1,midsld 1,midsld,sniend-1"
    [any-packet]="midsld sni+1 1,midsld 1,midsld,sniend-1"
)
declare -A WANT_REC=([first-packet]=5 [record-start]=5 [any-packet]=midsld)

for model in "${E2E_CENSOR_MODELS[@]}"; do
    section "censor $model"
    censor_install "$model" "$E2E_NS_MID" "$E2E_MID_IF" "$B"
    expect_blocked "$model: curl $B v4 blocked without hellosplit" fetch_curl "$B" 4
    t0=$SECONDS
    probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --json
    expect_eq "$model: probe exit 0 (a working split found)" 0 "$PROBE_RC"
    probe_table "$PROBE_OUT" >"$T/$model.table"
    read -r _ ok failed _ resets < <(grep '^unsplit ' "$T/$model.table")
    expect_eq "$model: unsplit blocked by a reset 3 times of 3" "0 3 3" "$ok $failed $resets"
    bad=""
    while read -r split ok failed inc _; do
        [[ $split == unsplit ]] && continue
        if [[ " ${WORKS[$model]} " == *" $split "* ]]; then
            [[ $ok == 3 && $failed == 0 ]] || bad+=" $split(want 3 ok, got $ok ok $failed failed $inc inconclusive)"
        else
            [[ $ok == 0 && $failed == 3 ]] || bad+=" $split(want 3 failed, got $ok ok $failed failed $inc inconclusive)"
        fi
    done < <(grep -vE '^(verdict|recommended|all|control|exit) ' "$T/$model.table")
    if [[ -z $bad ]]; then
        e2e_pass "$model: exactly these work: ${WORKS[$model]}"
    else
        e2e_fail "$model: exactly these work: ${WORKS[$model]}" "wrong:$bad"
    fi
    rec=$(field "$T/$model.table" recommended)
    expect_eq "$model: verdict" split-works "$(field "$T/$model.table" verdict)"
    expect_eq "$model: recommends ${WANT_REC[$model]}" "${WANT_REC[$model]}" "$rec"

    # The text report says the same, with the command line.
    probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --tries 2
    echo "      (probe took $((SECONDS - t0)) s for both runs)"
    show "$PROBE_OUT"
    grep -qx "Recommended: --split-at $rec (the simplest that always worked)" "$PROBE_OUT" &&
        grep -qx "Run the daemon with it: sudo hellosplit --split-at $rec" "$PROBE_OUT" &&
        e2e_pass "$model: text report recommends --split-at $rec and prints the command" ||
        e2e_fail "$model: text report recommends --split-at $rec and prints the command"

    if [[ $model == any-packet ]]; then
        probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV6" --tries 2 --json
        expect_eq "$model v6: recommends midsld" midsld "$(probe_table "$PROBE_OUT" | awk '$1 == "recommended" { print $2 }')"

        # 25 % loss client->server: a lost piece may be resent merged with
        # the next one, and a merged in-name cut is caught by the censor.
        # Such tries must count as inconclusive, never as failed.
        censor_loss "$E2E_NS_MID" 25 "$E2E_MID_IF"
        probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --timeout 8000 --json -v
        censor_loss "$E2E_NS_MID" 0
        probe_table "$PROBE_OUT" >"$T/loss.table"
        bad=$(awk -v works=" ${WORKS[$model]} " 'index(works, " " $1 " ") && $3 != 0 { printf " %s(%s failed)", $1, $3 }' \
            "$T/loss.table")
        [[ -z $bad ]] && e2e_pass "$model, 25 % loss: no cut inside the name counted as failed" ||
            { e2e_fail "$model, 25 % loss: no cut inside the name counted as failed" "$bad"; show "$PROBE_ERR"; }
        rec=$(field "$T/loss.table" recommended)
        [[ " ${WORKS[$model]} " == *" $rec "* ]] && e2e_pass "$model, 25 % loss: still recommends a cut inside the name ($rec)" ||
            e2e_fail "$model, 25 % loss: still recommends a cut inside the name" "got '$rec'"
        echo "      ($(grep -c inconclusive "$PROBE_ERR") tries inconclusive: pieces merged on resend)"
        rec=$(field "$T/$model.table" recommended)
    fi

    # The recommendation, given to the daemon, makes the blocked name load.
    if hs_start "$E2E_NS_CLI" --split-at "$rec"; then
        expect_ok "$model: daemon --split-at $rec: curl $B v4 loads" fetch_curl "$B" 4
        expect_ok "$model: daemon --split-at $rec: curl $B v6 loads" fetch_curl "$B" 6
        hs_stop INT
    else
        e2e_fail "$model: daemon --split-at $rec starts"
    fi
    expect_blocked "$model: curl $B v4 blocked again after the daemon stops" fetch_curl "$B" 4
    censor_remove "$E2E_NS_MID"
done

# ------------------------------------------------------------- several hosts ---
section "several hosts"
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
printf '# hosts to probe\n%s\n\n%s  # same server\n' "${A[0]}" "${A[1]}" >"$T/hosts.txt"
chmod 644 "$T/hosts.txt"
probe "$E2E_NS_CLI" "$B" --hosts "$T/hosts.txt" --ip "$E2E_SRV4" --tries 2
show "$PROBE_OUT"
expect_eq "several hosts: exit 0" 0 "$PROBE_RC"
grep -qE "^  $B +198\.18\.2\.2 +DPI, split works +5$" "$PROBE_OUT" &&
    grep -qE "^  ${A[0]} +198\.18\.2\.2 +no DPI +-$" "$PROBE_OUT" &&
    grep -qE "^  ${A[1]} +198\.18\.2\.2 +no DPI +-$" "$PROBE_OUT" &&
    e2e_pass "several hosts: summary table, one line per host" ||
    e2e_fail "several hosts: summary table, one line per host"
grep -qx "Recommended for every host: --split-at 5" "$PROBE_OUT" &&
    e2e_pass "several hosts: one value for all" || e2e_fail "several hosts: one value for all"
censor_remove "$E2E_NS_MID"

# ------------------------------------------------------------- nothing works ---
section "nothing works"
probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --port 444 --tries 1
show "$PROBE_OUT"
expect_eq "closed port: exit 3" 3 "$PROBE_RC"
grep -q '^Nothing works: no TCP connection opens' "$PROBE_OUT" && e2e_pass "closed port: says no connection opens" ||
    e2e_fail "closed port: says no connection opens"

# Every client packet with TCP payload to port 443 is reset: the address is blocked.
pl=$(_e2e_u32_payload 4) lm=$(_e2e_u32_lenmod4 4)
nsx "$E2E_NS_MID" iptables -w -N HS_PROBE_TEST
nsx "$E2E_NS_MID" iptables -w -A HS_PROBE_TEST -m connmark --mark 0x4000000/0x4000000 -j RETURN
nsx "$E2E_NS_MID" iptables -w -A HS_PROBE_TEST -m u32 --u32 "$lm" -p tcp -j REJECT --reject-with tcp-reset
nsx "$E2E_NS_MID" iptables -w -A HS_PROBE_TEST -m u32 --u32 "$pl>>0=0:0xFFFFFFFF" -p tcp -j REJECT --reject-with tcp-reset
nsx "$E2E_NS_MID" iptables -w -I FORWARD 1 -i "$E2E_MID_IF" -p tcp --dport 443 -j HS_PROBE_TEST
e2e_on_exit "nsx $E2E_NS_MID iptables -w -D FORWARD -i $E2E_MID_IF -p tcp --dport 443 -j HS_PROBE_TEST"
probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --tries 1 --json
expect_eq "address blocked: verdict, control hello blocked too, exit 3" "address-blocked 0 1 3" \
    "$(probe_table "$PROBE_OUT" | awk '$1 == "verdict" { v = $2 } $1 == "control" { c = $2 " " $3 } $1 == "exit" { e = $2 } END { print v, c, e }')"
probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --tries 1
show "$PROBE_OUT"
expect_eq "address blocked: exit 3" 3 "$PROBE_RC"
grep -q "^itself is blocked" "$PROBE_OUT" && e2e_pass "address blocked: says the address is blocked" ||
    e2e_fail "address blocked: says the address is blocked"

# Only a flow whose hello names the control name gets through: however the
# hello for $B is cut, it fails; that is what a reassembling DPI looks like.
nsx "$E2E_NS_MID" iptables -w -I HS_PROBE_TEST 1 -m string --algo kmp --string www.example.com \
    -j CONNMARK --or-mark 0x4000000
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1
probe "$E2E_NS_CLI" "$B" --ip "$E2E_SRV4" --tries 1
show "$PROBE_OUT"
expect_eq "reassembling DPI: exit 3" 3 "$PROBE_RC"
grep -q "^Nothing works: every ClientHello for $B was blocked, split or not, while one for www.example.com" \
    "$PROBE_OUT" && grep -q "reassembles the TCP stream" "$PROBE_OUT" &&
    e2e_pass "reassembling DPI: says the DPI reassembles the stream" ||
    e2e_fail "reassembling DPI: says the DPI reassembles the stream"

e2e_summary
