#!/usr/bin/env bash
# Daemon benchmark in the desktop topology (cli -- rtr -- srv), measured side
# by side in one run: hellosplit on cli vs. no interception (no rules, no
# daemon), in rounds whose order alternates so drift hits both alike.
#   - TLS handshakes/s: `openssl s_time -new` (one full handshake per
#     connection, C client; BENCH_CLIENTS of them side by side, default 1)
#     for BENCH_SECONDS (3) each round, BENCH_ROUNDS (20) rounds;
#   - handshake latency p50/p99: tests/e2e/tls_load.py, one fetch at a time;
#   - bulk throughput: iperf3 to port 443 (the flow is not TLS: the engine
#     lets it go after its first packet and the connection skips the queue).
# Ratios are daemon / none (1.00 = no cost). Run as root: make bench-daemon
set -u
E2E_DIR=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"

HS_VERBOSE=""   # measure what users run: no per-flow log
ROUNDS=${BENCH_ROUNDS:-20}
SECONDS_EACH=${BENCH_SECONDS:-3}
LAT_COUNT=${BENCH_LAT_COUNT:-400}
CLIENTS=${BENCH_CLIENTS:-1}

e2e_require_root
e2e_require_tools openssl iperf3
hs_require
topo_desktop_up

# handshakes/s of CLIENTS s_time processes side by side (default 1: one
# handshake after another, each waiting for the last)
handshakes() {
	local i
	for ((i = 0; i < CLIENTS; i++)); do
		nsx "$E2E_NS_CLI" openssl s_time -connect 198.18.2.2:443 -new -time "$SECONDS_EACH" 2>/dev/null |
			sed -n 's/^\([0-9]*\) connections in \([0-9.]*\) real.*/\1 \2/p' &
	done | awk '{ sum += $1 / $2 } END { printf "%.1f\n", sum }'
}

latency() {   # prints "p50 p99" in ms
	nsx "$E2E_NS_CLI" /usr/bin/python3 "$E2E_DIR/tls_load.py" --name "$E2E_ALLOWED" --addr 198.18.2.2 \
		--count "$LAT_COUNT" --parallel 1 | sed -n 's/.*p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\).*/\1 \2/p'
}

bulk() {      # Mbit/s
	nsx "$E2E_NS_CLI" iperf3 -c 198.18.2.2 -p 443 -t "$SECONDS_EACH" -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}

declare -A sum
add() { sum[$1,$2]=$(echo "${sum[$1,$2]:-0} + ${3:-0}" | bc); }

tls_round() { # MODE
	local h p50 p99
	h=$(handshakes)
	read -r p50 p99 <<<"$(latency)"
	echo "  $1: ${h:-?} handshakes/s, latency p50 ${p50:-?} ms p99 ${p99:-?} ms"
	add "$1" h "$h"
	add "$1" p50 "$p50"
	add "$1" p99 "$p99"
}

bulk_round() { # MODE
	local b
	b=$(bulk)
	echo "  $1: bulk ${b:-?} Mbit/s"
	add "$1" b "$b"
}

with_daemon() { # FN
	hs_start "$E2E_NS_CLI" >/dev/null || e2e_die "hellosplit did not start"
	sleep "${BENCH_SETTLE:-2}"   # past the first second after start, slower (README)
	"$1" hellosplit
	hs_stop INT
	echo "    daemon: flows $(hs_stat flows), split $(hs_stat flows_split), packets $(hs_stat packets)"
}

# Run FN once without and once with the daemon per round, the order
# alternating (none first in odd rounds, hellosplit first in even ones) so
# that a drift of the machine hits both alike.
rounds() { # FN
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		echo "round $r"
		if ((r % 2)); then
			"$1" none
			with_daemon "$1"
		else
			with_daemon "$1"
			"$1" none
		fi
	done
}

echo "hellosplit daemon benchmark: $ROUNDS rounds of ${SECONDS_EACH} s, $(nproc) cores, $CLIENTS TLS client(s)"
echo "TLS (nginx on 443):"
srv_nginx_start
rounds tls_round
srv_nginx_stop
echo "bulk (iperf3 on 443):"
nsx "$E2E_NS_SRV" iperf3 -s -p 443 -D --pidfile "$(e2e_tmpdir)/iperf3.pid" >/dev/null
e2e_on_exit "kill \$(cat $(e2e_tmpdir)/iperf3.pid) 2>/dev/null"
sleep 0.5
rounds bulk_round

avg() { echo "scale=3; ${sum[$1,$2]} / $ROUNDS" | bc; }
ratio() { echo "scale=3; ${sum[hellosplit,$1]} / ${sum[none,$1]}" | bc; }
echo
echo "averages over $ROUNDS rounds          none   hellosplit   ratio"
printf "  TLS handshakes/s          %10s %10s   %s\n" "$(avg none h)" "$(avg hellosplit h)" "$(ratio h)"
printf "  handshake latency p50 ms  %10s %10s   %s (added %s ms)\n" "$(avg none p50)" "$(avg hellosplit p50)" \
	"$(ratio p50)" "$(echo "scale=3; ($(avg hellosplit p50)) - ($(avg none p50))" | bc)"
printf "  handshake latency p99 ms  %10s %10s   %s (added %s ms)\n" "$(avg none p99)" "$(avg hellosplit p99)" \
	"$(ratio p99)" "$(echo "scale=3; ($(avg hellosplit p99)) - ($(avg none p99))" | bc)"
printf "  bulk iperf3 Mbit/s        %10s %10s   %s\n" "$(avg none b)" "$(avg hellosplit b)" "$(ratio b)"
