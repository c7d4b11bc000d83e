#!/usr/bin/env bash
# Daemon benchmark in the desktop topology (cli -- rtr -- srv), every ratio
# measured side by side in one run (1.00 = no cost):
#   1. TLS handshakes/s and added latency, hellosplit vs no interception,
#      connection by connection: build/bench/hsclient alternates its
#      connections between port 443 (on --ports: queued and split) and 8443
#      (the same nginx, not on --ports: never queued) under one running
#      daemon, so both arms see the same machine at the same moment. The
#      machine's drift (this VM's speed moves by a third within minutes)
#      cancels out; BENCH_ROUNDS (10) rounds of BENCH_SECONDS (5) show the
#      spread. BENCH_CLIENTS (1) such clients run side by side.
#   2. What hellosplit costs connections it does not touch (conntrack and
#      its rules): handshakes/s to port 8443 without hellosplit vs with it,
#      in rounds whose order alternates.
#   3. Bulk: iperf3 to port 443 without vs with hellosplit, BENCH_BULK_ROUNDS
#      (20) rounds alternating (the flow is not TLS: the engine lets it go
#      after its first packet and the connection skips the queue; what is
#      left is conntrack and one rule per packet). Two runs of the same arm
#      differ by up to 10 % here, hence the many rounds.
#   4. The engines side by side (BENCH_ENGINES=1, the default where the
#      build has the tc engine): one tc daemon (port 443) and one nfqueue
#      daemon (port 9443) run at once; hsclient alternates its connections
#      between 443 (tc), 9443 (nfqueue) and 8443 (none), so the three arms
#      are measured connection by connection in one run; then bulk iperf3 to
#      port 443 without vs with the tc engine (its program sees every packet
#      of the flow).
# Why not `openssl s_time`: it reports whole seconds of real time ("N
# connections in 3 real seconds" for anything from 3.0 to 3.99 s), an error
# of up to a third per sample. Run as root: make bench-daemon
set -u
E2E_DIR=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"

HS_VERBOSE=""   # measure what users run: no per-flow log
ROUNDS=${BENCH_ROUNDS:-10}
BULK_ROUNDS=${BENCH_BULK_ROUNDS:-20}
SECONDS_EACH=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-1}
HSCLIENT=${HSCLIENT:-$E2E_DIR/../../build/bench/hsclient}
SPLIT_PORT=443
OTHER_PORT=8443
NFQ_PORT=9443
ENGINES=${BENCH_ENGINES:-1}

e2e_require_root
e2e_require_tools iperf3 bc
[[ -x "$HSCLIENT" ]] || e2e_die "$HSCLIENT missing: make build/bench/hsclient"
hs_require
topo_desktop_up

# hsclient ... PORT...: the lines of CLIENTS clients side by side, summed
# per port: "PORT handshakes/s p50_ms p99_ms failed" (p50/p99: the mean of
# the clients' own)
hsclients() {
	local i
	for ((i = 0; i < CLIENTS; i++)); do
		nsx "$E2E_NS_CLI" "$HSCLIENT" 198.18.2.2 "$E2E_ALLOWED" "$SECONDS_EACH" "$@" &
	done | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		p = v["port"]; rate[p] += v["per_s"]; p50[p] += v["p50_ms"]; p99[p] += v["p99_ms"]
		failed[p] += v["failed"]; n[p]++ }
		END { for (p in rate) printf "%s %.1f %.3f %.3f %d\n", p, rate[p], p50[p] / n[p], p99[p] / n[p], failed[p] }'
}

field() { # PORT COLUMN (2 rate, 3 p50, 4 p99, 5 failed) from hsclients output on stdin
	awk -v p="$1" -v c="$2" '$1 == p { print $c }'
}

declare -A sum
add() { sum[$1]=$(echo "${sum[$1]:-0} + ${2:-0}" | bc); }
avg() { echo "scale=3; ${sum[$1]:-0} / ${2:-$ROUNDS}" | bc; }
ratio() { echo "scale=3; ${sum[$1]:-0} / ${sum[$2]:-1}" | bc; }
failed=0

start_daemon() {
	hs_start "$E2E_NS_CLI" >/dev/null || e2e_die "hellosplit did not start"
	sleep "${BENCH_SETTLE:-2}"   # past the first second after start, slower (README)
}
stop_daemon() {
	hs_stop INT
	echo "    daemon: flows $(hs_stat flows), split $(hs_stat flows_split), packets $(hs_stat packets)"
}

echo "hellosplit daemon benchmark: $ROUNDS rounds of ${SECONDS_EACH} s, $(nproc) cores, $CLIENTS TLS client(s)"
E2E_NGINX_EXTRA_PORTS="$OTHER_PORT $NFQ_PORT" srv_nginx_start >/dev/null

echo "1. TLS handshakes, connections alternating: $SPLIT_PORT split by hellosplit, $OTHER_PORT not intercepted"
start_daemon
for ((r = 1; r <= ROUNDS; r++)); do
	out=$(hsclients "$SPLIT_PORT" "$OTHER_PORT")
	h=$(field $SPLIT_PORT 2 <<<"$out") n=$(field $OTHER_PORT 2 <<<"$out")
	p50h=$(field $SPLIT_PORT 3 <<<"$out") p50n=$(field $OTHER_PORT 3 <<<"$out")
	p99h=$(field $SPLIT_PORT 4 <<<"$out") p99n=$(field $OTHER_PORT 4 <<<"$out")
	failed=$((failed + $(field $SPLIT_PORT 5 <<<"$out") + $(field $OTHER_PORT 5 <<<"$out")))
	printf "  round %2d: %7.1f vs %7.1f handshakes/s = %s; p50 %s vs %s ms, p99 %s vs %s ms\n" "$r" "$h" "$n" \
		"$(echo "scale=3; $h / $n" | bc)" "$p50h" "$p50n" "$p99h" "$p99n"
	add h "$h"; add n "$n"; add p50h "$p50h"; add p50n "$p50n"; add p99h "$p99h"; add p99n "$p99n"
done
stop_daemon

# alternating ROUNDS KEY UNIT CMD...: CMD once without and once with a
# running hellosplit per round, the order alternating; CMD prints
# "VALUE [FAILED]", added up as KEY_none and KEY_with
alternating() {
	local rounds=$1 key=$2 unit=$3 r arm v f
	shift 3
	for ((r = 1; r <= rounds; r++)); do
		for arm in $( ((r % 2)) && echo "none with" || echo "with none"); do
			[[ $arm == with ]] && start_daemon
			read -r v f <<<"$("$@")"
			[[ $arm == with ]] && hs_stop INT
			echo "  round $r, $arm: ${v:-?} $unit"
			add "${key}_$arm" "${v:-0}"
			failed=$((failed + ${f:-0}))
		done
	done
}

untouched() { # handshakes/s to OTHER_PORT, failed
	hsclients "$OTHER_PORT" | awk '{ print $2, $5 }'
}

bulk() { # Mbit/s
	nsx "$E2E_NS_CLI" iperf3 -c 198.18.2.2 -p "$SPLIT_PORT" -t "$SECONDS_EACH" -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}

echo "2. connections hellosplit does not touch (port $OTHER_PORT): without vs with hellosplit"
alternating "$ROUNDS" other handshakes/s untouched

if [[ $ENGINES == 1 ]]; then
	echo "4. engines: $SPLIT_PORT tc, $NFQ_PORT nfqueue, $OTHER_PORT not intercepted, connections alternating"
	E2E_ENGINE=tc hs_start "$E2E_NS_CLI" --ports "$SPLIT_PORT" >/dev/null || e2e_die "the tc daemon did not start"
	TC_PID=$HS_PID TC_STATS=$HS_STATS
	E2E_ENGINE=nfqueue hs_start "$E2E_NS_CLI" --ports "$NFQ_PORT" >/dev/null || e2e_die "the nfqueue daemon did not start"
	sleep "${BENCH_SETTLE:-2}"
	for ((r = 1; r <= ROUNDS; r++)); do
		out=$(hsclients "$SPLIT_PORT" "$NFQ_PORT" "$OTHER_PORT")
		t=$(field $SPLIT_PORT 2 <<<"$out") q=$(field $NFQ_PORT 2 <<<"$out") n=$(field $OTHER_PORT 2 <<<"$out")
		failed=$((failed + $(field $SPLIT_PORT 5 <<<"$out") + $(field $NFQ_PORT 5 <<<"$out") + \
			$(field $OTHER_PORT 5 <<<"$out")))
		printf "  round %2d: tc %7.1f, nfqueue %7.1f, none %7.1f handshakes/s = %s / %s; p50 %s / %s / %s ms\n" \
			"$r" "$t" "$q" "$n" "$(echo "scale=3; $t / $n" | bc)" "$(echo "scale=3; $q / $n" | bc)" \
			"$(field $SPLIT_PORT 3 <<<"$out")" "$(field $NFQ_PORT 3 <<<"$out")" "$(field $OTHER_PORT 3 <<<"$out")"
		add et "$t"; add eq "$q"; add en "$n"
		add ep50t "$(field $SPLIT_PORT 3 <<<"$out")"; add ep50q "$(field $NFQ_PORT 3 <<<"$out")"
		add ep50n "$(field $OTHER_PORT 3 <<<"$out")"
		add ep99t "$(field $SPLIT_PORT 4 <<<"$out")"; add ep99q "$(field $NFQ_PORT 4 <<<"$out")"
		add ep99n "$(field $OTHER_PORT 4 <<<"$out")"
	done
	hs_stop INT
	echo "    nfqueue daemon: flows $(hs_stat flows), split $(hs_stat flows_split)"
	hs_stop INT "$TC_PID"
	echo "    tc daemon: flows $(hs_stat flows "$TC_STATS"), split $(hs_stat flows_split "$TC_STATS")"
fi
srv_nginx_stop

echo "3. bulk iperf3 to port $SPLIT_PORT: without vs with hellosplit"
nsx "$E2E_NS_SRV" iperf3 -s -p "$SPLIT_PORT" -D --pidfile "$(e2e_tmpdir)/iperf3.pid" >/dev/null
e2e_on_exit "kill \$(cat $(e2e_tmpdir)/iperf3.pid) 2>/dev/null"
sleep 0.5
alternating "$BULK_ROUNDS" bulk Mbit/s bulk
if [[ $ENGINES == 1 ]]; then
	echo "4. bulk iperf3 to port $SPLIT_PORT: without vs with the tc engine"
	E2E_ENGINE=tc alternating "$BULK_ROUNDS" tcbulk Mbit/s bulk
fi

echo
echo "averages over $ROUNDS rounds                    none   hellosplit   ratio"
printf "  1. TLS handshakes/s                %10s %10s   %s\n" "$(avg n)" "$(avg h)" "$(ratio h n)"
printf "     handshake latency p50 ms        %10s %10s   added %s ms\n" "$(avg p50n)" "$(avg p50h)" \
	"$(echo "scale=3; ($(avg p50h)) - ($(avg p50n))" | bc)"
printf "     handshake latency p99 ms        %10s %10s   added %s ms\n" "$(avg p99n)" "$(avg p99h)" \
	"$(echo "scale=3; ($(avg p99h)) - ($(avg p99n))" | bc)"
printf "  2. handshakes/s, untouched port    %10s %10s   %s\n" "$(avg other_none)" "$(avg other_with)" \
	"$(ratio other_with other_none)"
printf "  3. bulk iperf3 Mbit/s (%2d rounds)  %10s %10s   %s\n" "$BULK_ROUNDS" "$(avg bulk_none "$BULK_ROUNDS")" \
	"$(avg bulk_with "$BULK_ROUNDS")" \
	"$(ratio bulk_with bulk_none)"
if [[ $ENGINES == 1 ]]; then
	echo "engines, connections alternating                 none    nfqueue         tc   nfqueue/none  tc/none"
	printf "  4. TLS handshakes/s             %10s %10s %10s   %s        %s\n" "$(avg en)" "$(avg eq)" "$(avg et)" \
		"$(ratio eq en)" "$(ratio et en)"
	printf "     p50 ms                       %10s %10s %10s\n" "$(avg ep50n)" "$(avg ep50q)" "$(avg ep50t)"
	printf "     p99 ms                       %10s %10s %10s\n" "$(avg ep99n)" "$(avg ep99q)" "$(avg ep99t)"
	printf "     bulk iperf3 Mbit/s, tc       %10s            %10s   tc/none %s\n" \
		"$(avg tcbulk_none "$BULK_ROUNDS")" "$(avg tcbulk_with "$BULK_ROUNDS")" "$(ratio tcbulk_with tcbulk_none)"
fi
echo "  failed handshakes: $failed"
((failed == 0)) || exit 1
