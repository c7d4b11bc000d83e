#!/bin/bash
# tests/e2e/test_tuple_reuse.sh -- a new connection on a 4-tuple that an
# earlier, finished connection used must be split like any other.
#     cli(hellosplit --split-at midsld) -- rtr(any-packet censor) -- srv
# Busy clients reuse source ports quickly: the client's side of a connection
# the server closed first keeps no TIME_WAIT, and Linux hands the port out
# again after a few thousand connects to the same server (seen here: after
# ~2 000 per destination, within 5 s).  The rules never queue a SYN, so the
# engine does not see the new connection start; it must still not take the
# new hello for the old, finished flow.
#   * RUNS fetches in a row from ONE source port (python ssl, tls_load.py
#     --sport), for IPv4 and IPv6: every one must load (the any-packet censor
#     resets any hello that leaves unsplit);
#   * the control: the same without hellosplit is reset.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
hs_require

B=$E2E_BLOCKED
T=$(e2e_tmpdir)
RUNS=3

section() { printf '\n=== %s\n' "$*"; }

# same_port NAME FAM SPORT COUNT: COUNT fetches in a row from source port SPORT.
# shellcheck disable=SC2034  # E2E_LAST_* are read by lib.sh's expect_*
same_port() {
    local addr
    if [[ $2 == 4 ]]; then addr=$E2E_SRV4; else addr=$E2E_SRV6; fi
    E2E_LAST_LOG="$T/reuse-$2-$3-$RANDOM.log"
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$1" --addr "$addr" \
        --sport "$3" --count "$4" --parallel 1 --timeout 5 --events "$E2E_LAST_LOG.events" \
        >"$E2E_LAST_LOG" 2>&1 && return 0
    if grep -q ' reset in ' "$E2E_LAST_LOG"; then E2E_LAST_REASON=reset; else E2E_LAST_REASON=error; fi
    return 1
}

topo_desktop_up
srv_nginx_start
censor_install any-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"

section "control: no hellosplit"
expect_blocked "no hellosplit: $B v4 from port 40100 is reset" same_port "$B" 4 40100 1
expect_ok "no hellosplit: ${E2E_ALLOWED[0]} v4, $RUNS times from port 40101" same_port "${E2E_ALLOWED[0]}" 4 40101 "$RUNS"
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1

section "hellosplit --split-at midsld, one source port, $RUNS connections in a row"
hs_start "$E2E_NS_CLI" --split-at midsld || e2e_die "hellosplit did not start"
for fam in 4 6; do
    port=$((40200 + fam))
    expect_ok "hellosplit: $B v$fam, $RUNS fetches in a row from port $port all load" same_port "$B" "$fam" "$port" "$RUNS"
    sed 's/^/      | /' "$E2E_LAST_LOG" "$E2E_LAST_LOG.events"
done
hs_stop INT
expect_eq "hellosplit: exit status" 0 "$HS_RC"
expect_eq "hellosplit: every connection was split" "$((2 * RUNS))" "$(hs_stat flows_split)"
grep 'split at' "$HS_LOG" | sed 's/^/      | /'

e2e_summary
