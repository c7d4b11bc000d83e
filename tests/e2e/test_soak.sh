#!/bin/bash
# tests/e2e/test_soak.sh -- 2 000 connections through the daemon, resources flat.
#     cli(hellosplit --stats-interval 1) -- rtr(first-packet censor) -- srv
# Every connection fetches the BLOCKED name (python ssl, tls_load.py, v4 and
# v6 alternating, 4 in parallel), so each one that loads was split.  A
# warm-up of WARM connections first (fills the flow array and the allocator's
# pools to their working size), then SOAK connections while the packet
# process (the child) is sampled every half second: VmRSS, open fds (/proc/PID/fd)
# and, from --stats-json, held_bytes, flows and flows_split.
# "Flat" means, precisely:
#   * RSS: the largest sample during and after the soak is less than
#     RSS_SLACK_KB (1024) above the sample taken after the warm-up;
#   * fds: every sample equals the count after the warm-up;
#   * held_bytes: 0 in the final stats (nothing held once traffic stops),
#     and held_bytes_peak bounded (< 1 MiB);
#   * flows_split grew by exactly SOAK: every connection was split, none
#     failed open; failopen_* all 0.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools pgrep
hs_require

B=$E2E_BLOCKED
T=$(e2e_tmpdir)
WARM=${SOAK_WARM:-300}
SOAK=${SOAK_N:-2000}
PARALLEL=4
RSS_SLACK_KB=1024

section() { printf '\n=== %s\n' "$*"; }

load() { # COUNT OUTFILE
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$B" \
        --addr "$E2E_SRV4" --addr "$E2E_SRV6" --count "$1" --parallel "$PARALLEL" --timeout 15 \
        >"$2" 2>&1
}

# sample LABEL: one line "label rss_kb fds held_bytes flows flows_split"
sample() {
    local rss fds
    rss=$(proc_status "$CHILD" VmRSS | awk '{ print $1 }')
    fds=$(find "/proc/$CHILD/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    printf '%-8s %8s %4s %10s %7s %11s\n' "$1" "${rss:-?}" "$fds" "$(hs_stat held_bytes)" \
        "$(hs_stat flows)" "$(hs_stat flows_split)"
}

topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
expect_blocked "no hellosplit: $B is blocked" fetch_curl "$B" 4
# The censor keeps that reset flow's conntrack entry (marked blocked) for a
# while and drops a new SYN that happens to reuse its port: forget it.
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1

hs_start "$E2E_NS_CLI" --stats-interval 1 || e2e_die "hellosplit did not start"
CHILD=$(hs_child)
[[ -n "$CHILD" ]] || e2e_die "no packet process"
printf '%-8s %8s %4s %10s %7s %11s\n' when rss_kb fds held_bytes flows flows_split >"$T/samples"
sample start >>"$T/samples"

section "warm-up: $WARM connections"
if load "$WARM" "$T/warm.out"; then
    e2e_pass "warm-up: $(cat "$T/warm.out")"
else
    e2e_fail "warm-up: all $WARM fetches load" "$(cat "$T/warm.out")"
fi
sleep 1.2                        # one --stats-interval: the JSON catches up
sample warm >>"$T/samples"
read -r _ rss0 fds0 _ _ split0 < <(tail -n1 "$T/samples")

section "soak: $SOAK connections, sampling every 0.5 s"
t0=$EPOCHREALTIME
load "$SOAK" "$T/soak.out" &
LOAD=$!
_e2e_track_pid "$LOAD"
i=0
while kill -0 "$LOAD" 2>/dev/null; do
    sleep 0.5
    i=$((i + 5))
    sample "t+$((i / 10)).$((i % 10))s" >>"$T/samples"
done
wait "$LOAD" && rc=0 || rc=$?
_e2e_untrack_pid "$LOAD"
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
expect_eq "soak: all $SOAK fetches of $B loaded in ${secs} s ($(cat "$T/soak.out"))" 0 "$rc"
sleep 2.2                        # traffic stopped; two stats intervals
sample end >>"$T/samples"
sed 's/^/      | /' "$T/samples"

read -r _ rss1 fds1 held1 _ split1 < <(tail -n1 "$T/samples")
max_rss=$(awk 'NR > 1 && $1 != "start" && $1 != "warm" && $2 > m { m = $2 } END { print m + 0 }' "$T/samples")
fd_values=$(awk 'NR > 1 && $1 != "start" { print $3 }' "$T/samples" | sort -u | tr '\n' ' ')
if [[ $rss0 =~ ^[0-9]+$ ]] && ((max_rss - rss0 < RSS_SLACK_KB)); then
    e2e_pass "soak: RSS flat: ${rss0} kB after warm-up, max ${max_rss} kB, end ${rss1} kB (growth $((max_rss - rss0)) kB < ${RSS_SLACK_KB} kB)"
else
    e2e_fail "soak: RSS growth < ${RSS_SLACK_KB} kB after warm-up" "warm ${rss0} kB, max ${max_rss} kB, end ${rss1} kB"
fi
expect_eq "soak: fd count flat (every sample after warm-up)" "$fds0 " "$fd_values"
expect_eq "soak: held_bytes back to 0 at the end" 0 "$held1"
peak=$(hs_stat held_bytes_peak)
if [[ $peak =~ ^[0-9]+$ ]] && ((peak < 1048576)); then
    e2e_pass "soak: held_bytes_peak bounded ($peak bytes)"
else
    e2e_fail "soak: held_bytes_peak < 1 MiB" "$peak"
fi
expect_eq "soak: flows_split grew by exactly $SOAK (every connection split)" "$SOAK" "$((split1 - split0))"
failopen=$(sed 's/[{}]//g' "$HS_STATS" | tr ',' '\n' | awk -F: '/failopen/ { s += $2 } END { print s + 0 }')
expect_eq "soak: no flow failed open" 0 "$failopen"
if pid_alive "$CHILD" && [[ $(hs_child) == "$CHILD" ]]; then
    e2e_pass "soak: the same packet process ($CHILD) served every connection"
else
    e2e_fail "soak: the same packet process served every connection"
fi
hs_stop INT
expect_eq "soak: exit status" 0 "$HS_RC"
# What growth remains is the flow array: a flow stays in the table until it
# has been idle --idle-timeout (120 s) -- after its done verdict the engine no
# longer sees its FIN -- so each new flow touches ~sizeof(struct flow) of it,
# bounded by --max-flows.
echo "      | RSS growth per 1000 connections after warm-up: $(((max_rss - rss0) * 1000 / SOAK)) kB"
echo "SOAK-RESULT: $SOAK connections in ${secs} s; rss_kb warm=$rss0 max=$max_rss end=$rss1; fds warm=$fds0 end=$fds1; held_bytes end=$held1 peak=$peak"

e2e_summary
