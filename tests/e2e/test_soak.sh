#!/bin/bash
# tests/e2e/test_soak.sh -- MIXED traffic through the daemon for SOAK_SECONDS
# (default 60; bench/soak.sh runs 600), resources flat.
#     cli(hellosplit --stats-interval 1) -- rtr(first-packet censor) -- srv
# Six load generators (tls_load.py, Debian python3) run side by side, each
# alternating IPv4 and IPv6, each fetch a new TCP connection, paced to
# SOAK_RATE (default 100) new connections per second in total -- a busy
# desktop or a small router, well below the CPU limit, so a failed fetch
# means a defect and not an overloaded queue (at ~1800/s, this box's limit,
# the queue's fail-open lets an odd hello pass unsplit):
#   blocked   35 %  the censored name, python ssl, 2 in parallel -- loads
#                   only when hellosplit splits it (the censor resets it)
#   allowed   20 %  an allowed name
#   plain     20 %  plain HTTP to port 443 (non-TLS; nginx's 400 page = ok)
#   stall      2 %  an allowed name whose hello stalls 400 ms after 100
#                   bytes (held, released at the collect timeout)
#   big8k     10 %  the blocked name with an ~8 KB hello (collected from
#                   several segments, split)
#   big16k     2 %  an allowed name with an ~16 KB hello (more than the
#                   client's initial window: waits the collect timeout and
#                   passes unsplit)
# First SOAK_WARM_SECONDS (default 10) of warm-up: the flow table's slot
# array, the hold pool's blocks and the allocator reach their working size.
# Then every second the packet process (the child) is sampled: VmRSS, open
# fds (/proc/PID/fd), and from the stats JSON held_bytes, flows (total
# tracked) and the outcome counters.  Samples go to SOAK_CSV (default
# build/e2e/soak.csv), a short curve summary is printed.
# "Flat" means, precisely:
#   * RSS: the largest sample after the warm-up is less than BOUND above the
#     sample at the end of the warm-up, with
#         BOUND = 256 kB + new_flows * 136 B + held_bytes_peak
#     where new_flows = flows tracked since the warm-up.  Why: the flow array
#     (--max-flows entries of 136 bytes) is allocated once and its pages are
#     touched only as new entries are used; a flow is freed only by the idle
#     GC 120 s after its last packet (10 s when closed), so until then every
#     new flow may touch new memory (on a run longer than ~130 s the free
#     list recycles them and this term stops growing); the hold pool keeps
#     freed blocks cached up to what was held at once (held_bytes_peak); 256
#     kB covers stdio and allocator noise.  A leak of a few hundred bytes per
#     connection exceeds it within a minute.
#   * and, when the run is longer than 200 s: from 150 s on (GC in steady
#     state) the RSS grows by less than 256 kB;
#   * fds: every sample after the warm-up equals the count at its end;
#   * held_bytes: 0 in the final stats (nothing held once traffic stops);
#   * no fetch of any generator failed, each ran, and the outcomes are the
#     expected kinds: flows_split, failopen_not_tls, failopen_timeout > 0,
#     failopen_overflow/held_limit/table_full/error = 0, and every tracked
#     flow has exactly one outcome.
# SOAK_HS_ARGS="..." adds options to hellosplit (e.g. --observe: the blocked
# fetches then fail, proving the check can).  Needs root.  Last line
# "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools pgrep
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
SECS=${SOAK_SECONDS:-60}
WARM=${SOAK_WARM_SECONDS:-10}
CSV=${SOAK_CSV:-$ROOT/build/e2e/soak.csv}
FLOW_BYTES=136                  # sizeof(struct flow), src/flow.h
SLACK_KB=256
RATE=${SOAK_RATE:-100}          # new connections per second, all generators together

[[ $SECS =~ ^[0-9]+$ && $SECS -ge 10 ]] || e2e_die "SOAK_SECONDS must be a number >= 10, got '$SECS'"
[[ $WARM =~ ^[0-9]+$ ]] || e2e_die "SOAK_WARM_SECONDS must be a number, got '$WARM'"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 10 ]] || e2e_die "SOAK_RATE must be a number >= 10, got '$RATE'"
mkdir -p "$(dirname "$CSV")" || e2e_die "cannot create the directory of $CSV"

section() { printf '\n=== %s\n' "$*"; }

# load NAME-OF-GENERATOR TLS_LOAD-ARGS...: start one generator for the whole run.
LOADS=() LOAD_PIDS=()
load() {
    local g=$1
    shift
    ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --duration "$((WARM + SECS))" \
        --timeout 15 "$@" >"$T/load-$g.out" 2>&1 &
    LOADS+=("$g")
    LOAD_PIDS+=($!)
    _e2e_track_pid "$!"
}

jnum() { # KEY: a counter from the stats JSON (0 when missing)
    local v
    v=$(hs_stat "$1")
    echo "${v:-0}"
}

# sample T PHASE: one CSV line
sample() {
    local rss fds
    rss=$(proc_status "$CHILD" VmRSS | awk '{ print $1 }')
    fds=$(find "/proc/$CHILD/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$1" "$2" "${rss:-}" "$fds" "$(jnum held_bytes)" \
        "$(jnum held_bytes_peak)" "$(jnum flows)" "$(jnum flows_split)" "$(jnum failopen_timeout)" \
        "$(jnum failopen_not_tls)" "$(jnum packets)" "$(jnum uptime_s)"
}

topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
expect_blocked "no hellosplit: $B is blocked" fetch_curl "$B" 4
# The censor keeps that reset flow's conntrack entry (marked blocked) and
# drops a new SYN that happens to reuse its port: forget it.
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1

read -r -a EXTRA <<<"${SOAK_HS_ARGS:-}"
hs_start "$E2E_NS_CLI" --stats-interval 1 "${EXTRA[@]}" || e2e_die "hellosplit did not start"
CHILD=$(hs_child)
[[ -n "$CHILD" ]] || e2e_die "no packet process"

section "mixed traffic: ${WARM} s warm-up + ${SECS} s soak, sampling every second -> $CSV"
v4v6=(--addr "$E2E_SRV4" --addr "$E2E_SRV6")
v6v4=(--addr "$E2E_SRV6" --addr "$E2E_SRV4")
r() { awk -v r="$RATE" -v f="$1" 'BEGIN { printf "%.2f", r * f }'; }
load blocked --name "$B" "${v4v6[@]}" --parallel 2 --rate "$(r 0.35)"
load allowed --name "${A[0]}" "${v6v4[@]}" --parallel 1 --rate "$(r 0.2)"
load plain --name "${A[1]}" "${v4v6[@]}" --parallel 1 --rate "$(r 0.2)" --plain-http
load stall --name "${A[1]}" "${v6v4[@]}" --parallel 1 --rate "$(r 0.02)" --stall 100:400
load big8k --name "$B" "${v6v4[@]}" --parallel 1 --rate "$(r 0.1)" --alpn-pad 8000
load big16k --name "${A[0]}" "${v4v6[@]}" --parallel 1 --rate "$(r 0.02)" --alpn-pad 16000

echo "t_s,phase,rss_kb,fds,held_bytes,held_bytes_peak,flows,flows_split,failopen_timeout,failopen_not_tls,packets,uptime_s" >"$CSV"
t0=$EPOCHREALTIME
for ((s = 1; s <= WARM + SECS; s++)); do
    # sleep until t0 + s (no drift)
    d=$(awk -v t0="$t0" -v s="$s" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + s - now; print (d > 0 ? d : 0) }')
    sleep "$d"
    if ((s <= WARM)); then phase=warm; else phase=soak; fi
    sample "$s" "$phase" >>"$CSV"
    pid_alive "$CHILD" || break
done
failed_loads=()
for i in "${!LOADS[@]}"; do
    wait "${LOAD_PIDS[$i]}" && rc=0 || rc=$?
    _e2e_untrack_pid "${LOAD_PIDS[$i]}"
    [[ $rc == 0 ]] || failed_loads+=("${LOADS[$i]}")
done
sleep 2.2                       # traffic stopped; two stats intervals
sample "$((WARM + SECS + 2))" end >>"$CSV"

section "results"
total_ok=0
for g in "${LOADS[@]}"; do
    line=$(grep '^tls_load: ok=' "$T/load-$g.out" | tail -n1)
    ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
    fail=$(sed -n 's/.* fail=\([0-9]*\).*/\1/p' <<<"$line")
    total_ok=$((total_ok + ${ok:-0}))
    if [[ -n "$ok" && $ok -gt 0 && $fail == 0 ]]; then
        e2e_pass "$g: $line"
    else
        e2e_fail "$g: every fetch loads (and some ran)" "$(tail -n 5 "$T/load-$g.out")"
    fi
done
expect_eq "no generator failed" "" "${failed_loads[*]}"

# Curve summary and the flatness checks, from the CSV.
read -r warm_rss warm_fds < <(awk -F, -v w="$WARM" '$1 == w { print $3, $4 }' "$CSV")
read -r min_rss max_rss end_rss < <(awk -F, 'NR > 1 && $2 != "warm" && $3 != "" {
        if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3; end = $3 }
        END { print min, max, end }' "$CSV")
warm_flows=$(awk -F, -v w="$WARM" '$1 == w { print $7 }' "$CSV")
end_flows=$(jnum flows)
peak=$(jnum held_bytes_peak)
held_end=$(jnum held_bytes)
new_flows=$((end_flows - ${warm_flows:-0}))
bound=$((SLACK_KB + (new_flows * FLOW_BYTES + peak) / 1024))
curve=$(awk -F, 'NR > 1 && $3 != "" { t[n] = $1; r[n++] = $3 }
        END { for (i = 0; i <= 10; i++) { k = int((n - 1) * i / 10); printf "%s%ss:%s", (i ? " " : ""), t[k], r[k] } }' "$CSV")
echo "      | samples: $CSV ($(($(wc -l <"$CSV") - 1)) rows)"
echo "      | rss_kb curve (t:kB): $curve"
echo "      | rss_kb after warm-up: min $min_rss max $max_rss end $end_rss (warm-up end $warm_rss)"
echo "      | flows tracked: $end_flows ($new_flows after the warm-up), $total_ok fetches ok; held_bytes_peak $peak"

if [[ $warm_rss =~ ^[0-9]+$ && $max_rss =~ ^[0-9]+$ ]] && ((max_rss - warm_rss < bound)); then
    e2e_pass "RSS flat: growth after warm-up $((max_rss - warm_rss)) kB < bound $bound kB (256 + $new_flows flows x $FLOW_BYTES B + peak $peak B)"
else
    e2e_fail "RSS growth after warm-up < bound" "warm $warm_rss kB, max $max_rss kB, bound $bound kB"
fi
if ((WARM + SECS > 200)); then
    read -r r150 rmax150 < <(awk -F, 'NR > 1 && $1 >= 150 && $3 != "" { if (a == "") a = $3; if ($3 > m) m = $3 } END { print a, m }' "$CSV")
    if ((rmax150 - r150 < SLACK_KB)); then
        e2e_pass "RSS flat once the idle GC recycles flows: from 150 s on $r150 -> max $rmax150 kB (< $SLACK_KB kB)"
    else
        e2e_fail "RSS growth from 150 s on < $SLACK_KB kB" "$r150 -> $rmax150 kB"
    fi
fi
fd_values=$(awk -F, -v w="$WARM" 'NR > 1 && $1 >= w { print $4 }' "$CSV" | sort -u | tr '\n' ' ')
expect_eq "fd count flat (every sample from the warm-up end on)" "$warm_fds " "$fd_values"
expect_eq "held_bytes back to 0 at the end" 0 "$held_end"
if [[ $peak =~ ^[0-9]+$ ]] && ((peak < 4194304)); then
    e2e_pass "held_bytes_peak bounded ($peak bytes)"
else
    e2e_fail "held_bytes_peak < 4 MiB" "$peak"
fi
for k in flows_split failopen_not_tls failopen_timeout; do
    v=$(jnum $k)
    if ((v > 0)); then e2e_pass "the mix ran: $k = $v"; else e2e_fail "the mix ran: $k > 0" "$v"; fi
done
expect_eq "no unexpected fail-open (overflow held_limit table_full error)" "0 0 0 0" \
    "$(jnum failopen_overflow) $(jnum failopen_held_limit) $(jnum failopen_table_full) $(jnum failopen_error)"
outcomes=$(sed 's/[{}"]//g' "$HS_STATS" | tr ',' '\n' | awk -F: '
    $1 == "flows_split" || $1 == "pass_hostlist" || ($1 ~ /^failopen_/ && $1 != "failopen_table_full") { s += $2 }
    END { print s + 0 }')
expect_eq "every tracked flow has exactly one outcome" "$end_flows" "$outcomes"
if pid_alive "$CHILD" && [[ $(hs_child) == "$CHILD" ]]; then
    e2e_pass "the same packet process ($CHILD) served the whole run"
else
    e2e_fail "the same packet process served the whole run"
fi
hs_stop INT
expect_eq "exit status" 0 "$HS_RC"
echo "SOAK-RESULT: ${SECS} s mixed (+${WARM} s warm-up); $total_ok fetches, $end_flows flows;" \
    "rss_kb warm=$warm_rss min=$min_rss max=$max_rss end=$end_rss bound=+$bound;" \
    "fds $warm_fds; held_bytes end=$held_end peak=$peak; csv $CSV"

e2e_summary
