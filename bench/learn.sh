#!/usr/bin/env bash
# What learning costs per connection, as a ratio against the same daemon with
# --no-learn, measured in one run (desktop topology, no censor): TLS
# handshakes/s of build/bench/hsclient to port 443 (every flow split and, with
# learning, its first answers queued and judged), BENCH_ROUNDS (10) rounds of
# BENCH_SECONDS (5) per arm, the order of the two arms alternating each round
# so that this VM's drift cancels out; plus the packets each connection costs
# in user space (the engine's packet counter / flows) in each arm.
# BENCH_ENGINES (default "nfqueue tc", tc where the build has it): the same
# two arms on each engine, all four alternating in each round; on tc the
# packets are counted in the kernel (none reaches user space), and a bulk
# download (iperf3 -R to port 5201, made a target port with --ports 443,5201;
# BENCH_BULK_ROUNDS (6) rounds, the server's data passing the ingress
# program: one parse and one flow lookup a packet)
# compares learning with --no-learn.
# Run as root: make bench-learn
set -u
E2E_DIR=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"

HS_VERBOSE=""   # measure what users run: no per-flow log
ROUNDS=${BENCH_ROUNDS:-10}
SECONDS_EACH=${BENCH_SECONDS:-5}
HSCLIENT=${HSCLIENT:-$E2E_DIR/../../build/bench/hsclient}

e2e_require_root
e2e_require_tools bc iperf3
ENGINES=${BENCH_ENGINES:-nfqueue tc}
BULK_ROUNDS=${BENCH_BULK_ROUNDS:-6}
[[ -x "$HSCLIENT" ]] || e2e_die "$HSCLIENT missing: make build/bench/hsclient"
hs_require
topo_desktop_up
srv_nginx_start >/dev/null

declare -A sum
add() { sum[$1]=$(echo "${sum[$1]:-0} + ${2:-0}" | bc); }
avg() { echo "scale=3; ${sum[$1]:-0} / $ROUNDS" | bc; }
failed=0

# one arm: "per_s p50_ms failed packets flows"
arm() { # learn|nolearn [ENGINE]
	local out
	if [[ $1 == learn ]]; then HS_LEARN=1; else HS_LEARN=0; fi
	rm -f "$(e2e_tmpdir)/learned"
	E2E_ENGINE=${2:-nfqueue} hs_start "$E2E_NS_CLI" >/dev/null || e2e_die "hellosplit did not start ($1 ${2:-})"
	sleep "${BENCH_SETTLE:-2}"
	out=$(nsx "$E2E_NS_CLI" "$HSCLIENT" 198.18.2.2 "$E2E_ALLOWED" "$SECONDS_EACH" 443)
	hs_stop INT
	awk -v p="$(($(hs_stat packets) + $(hs_stat replies_seen)))" -v f="$(hs_stat flows)" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print v["per_s"], v["p50_ms"], v["failed"], p, f }' <<<"$out"
}

# one bulk arm (tc): Mbit/s of a download from port 443
bulk() { # learn|nolearn
	local out
	if [[ $1 == learn ]]; then HS_LEARN=1; else HS_LEARN=0; fi
	rm -f "$(e2e_tmpdir)/learned"
	E2E_ENGINE=tc hs_start "$E2E_NS_CLI" --ports 443,5201 >/dev/null ||
		e2e_die "hellosplit --engine tc did not start ($1)"
	sleep 1
	out=$(nsx "$E2E_NS_CLI" iperf3 -c 198.18.2.2 -p 5201 -R -t "$SECONDS_EACH" -J 2>/dev/null |
		awk -F'[:,]' '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { printf "%.1f", $2 / 1e6; exit }')
	hs_stop INT
	echo "${out:-0}"
}

arms=()
for e in $ENGINES; do arms+=("$e:learn" "$e:nolearn"); done
echo "hellosplit learning benchmark: $ROUNDS rounds of ${SECONDS_EACH} s per arm (${arms[*]}), $(nproc) cores"
for ((r = 1; r <= ROUNDS; r++)); do
	order=("${arms[@]}")
	((r % 2)) || order=($(printf '%s\n' "${arms[@]}" | tac))
	for ea in "${order[@]}"; do
		e=${ea%%:*} a=${ea#*:}
		read -r rate p50 f packets flows <<<"$(arm "$a" "$e")"
		printf "  round %2d, %-7s %-7s: %7.1f handshakes/s, p50 %s ms, %s packets / %s flows %s\n" "$r" "$e" "$a" \
			"$rate" "$p50" "$packets" "$flows" "$([[ $e == tc ]] && echo "in the kernel" || echo "in user space")"
		add "rate_${e}_$a" "$rate"; add "p50_${e}_$a" "$p50"; add "pk_${e}_$a" "$packets"; add "fl_${e}_$a" "$flows"
		failed=$((failed + ${f:-0}))
	done
done
echo
echo "averages over $ROUNDS rounds                       --no-learn    learning   ratio"
for e in $ENGINES; do
	printf "  %-7s TLS handshakes/s                 %10s %10s   %s\n" "$e" "$(avg "rate_${e}_nolearn")" \
		"$(avg "rate_${e}_learn")" "$(echo "scale=3; ${sum[rate_${e}_learn]} / ${sum[rate_${e}_nolearn]}" | bc)"
	printf "  %-7s handshake latency p50 ms         %10s %10s   added %s ms\n" "$e" "$(avg "p50_${e}_nolearn")" \
		"$(avg "p50_${e}_learn")" "$(echo "scale=3; ($(avg "p50_${e}_learn")) - ($(avg "p50_${e}_nolearn"))" | bc)"
	printf "  %-7s packets per flow (%s) %10s %10s\n" "$e" "$([[ $e == tc ]] && echo "in the kernel" || echo "user space   ")" \
		"$(echo "scale=2; ${sum[pk_${e}_nolearn]} / ${sum[fl_${e}_nolearn]}" | bc)" \
		"$(echo "scale=2; ${sum[pk_${e}_learn]} / ${sum[fl_${e}_learn]}" | bc)"
done
if [[ " $ENGINES " == *" tc "* ]]; then
	nsx "$E2E_NS_SRV" iperf3 -s -p 5201 -D --pidfile "$(e2e_tmpdir)/iperf3.pid" >/dev/null 2>&1 ||
		e2e_die "iperf3 -s on port 5201 in $E2E_NS_SRV failed"
	e2e_on_exit "kill \$(cat $(e2e_tmpdir)/iperf3.pid) 2>/dev/null"
	for ((r = 1; r <= BULK_ROUNDS; r++)); do
		for a in $( ((r % 2)) && echo "learn nolearn" || echo "nolearn learn"); do
			m=$(bulk "$a")
			printf "  bulk round %2d, tc %-7s: %s Mbit/s\n" "$r" "$a" "$m"
			add "bulk_$a" "$m"
		done
	done
	printf "  tc      bulk download Mbit/s (%d rounds) %10s %10s   %s\n" "$BULK_ROUNDS" \
		"$(echo "scale=1; ${sum[bulk_nolearn]:-0} / $BULK_ROUNDS" | bc)" \
		"$(echo "scale=1; ${sum[bulk_learn]:-0} / $BULK_ROUNDS" | bc)" \
		"$(echo "scale=3; ${sum[bulk_learn]:-0} / ${sum[bulk_nolearn]:-1}" | bc)"
fi
echo "  failed handshakes: $failed"
((failed == 0)) || exit 1
