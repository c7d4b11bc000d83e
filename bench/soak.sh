#!/usr/bin/env bash
# Long soak of the daemon: tests/e2e/test_soak.sh (mixed traffic -- blocked
# and allowed names, IPv4 and IPv6, plain HTTP on 443, stalling clients,
# 8 KB and 16 KB hellos -- at SOAK_RATE new connections/s, default 100) for
# SOAK_SECONDS (default 600 = 10 minutes) plus its warm-up, with every check
# of the test (RSS bound, fds constant, held bytes back to 0, no failed
# fetch, and for runs over 200 s: RSS flat from 150 s on, once the idle GC
# recycles flows).  The per-second samples go to build/bench/soak-<S>s.csv;
# this prints the memory curve minute by minute.  Run as root:
#     sudo bench/soak.sh            (about 11 minutes)
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SOAK_SECONDS:-600}
CSV=${SOAK_CSV:-$ROOT/build/bench/soak-${SECS}s.csv}
LOG=${CSV%.csv}.log
mkdir -p "$(dirname "$CSV")" || exit 1

echo "soak: ${SECS} s of mixed traffic at ${SOAK_RATE:-100} connections/s (log $LOG)"
SOAK_SECONDS=$SECS SOAK_CSV=$CSV "$ROOT/tests/e2e/test_soak.sh" >"$LOG" 2>&1
rc=$?
grep -E '^(PASS|FAIL)|^      \||^SOAK-RESULT|^e2e:' "$LOG"
[[ -s "$CSV" ]] || { echo "soak: no samples written ($CSV)"; exit 1; }

echo
echo "memory curve of the packet process (one row a minute, and the end):"
awk -F, '
    NR == 1 { next }
    $3 == "" { next }
    { last = $0 }
    $1 % 60 == 0 || $2 == "end" {
        printf "  t=%4ss %-4s rss %6s kB  fds %3s  flows %8s  split %8s  held %7s B (peak %s)\n",
            $1, $2, $3, $4, $7, $8, $5, $6
    }' "$CSV"
awk -F, 'NR > 1 && $2 != "warm" && $3 != "" {
        if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3; end = $3 }
    NR > 1 && $1 >= 150 && $3 != "" { if (a == "") a = $3; if ($3 > m150) m150 = $3 }
    END { printf "rss after warm-up: min %s kB, max %s kB, end %s kB; from 150 s on: %s -> max %s kB\n",
            min, max, end, a, m150 }' "$CSV"
exit "$rc"
