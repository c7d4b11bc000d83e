#!/usr/bin/env bash
# What learning costs per connection, as a ratio against the same daemon with
# --no-learn, measured in one run (desktop topology, no censor): TLS
# handshakes/s of build/bench/hsclient to port 443 (every flow split and, with
# learning, its first answers queued and judged), BENCH_ROUNDS (10) rounds of
# BENCH_SECONDS (5) per arm, the order of the two arms alternating each round
# so that this VM's drift cancels out; plus the packets each connection costs
# in user space (the engine's packet counter / flows) in each arm.
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
e2e_require_tools bc
[[ -x "$HSCLIENT" ]] || e2e_die "$HSCLIENT missing: make build/bench/hsclient"
hs_require
topo_desktop_up
srv_nginx_start >/dev/null

declare -A sum
add() { sum[$1]=$(echo "${sum[$1]:-0} + ${2:-0}" | bc); }
avg() { echo "scale=3; ${sum[$1]:-0} / $ROUNDS" | bc; }
failed=0

# one arm: "per_s p50_ms failed packets flows"
arm() { # learn|nolearn
	local out
	if [[ $1 == learn ]]; then HS_LEARN=1; else HS_LEARN=0; fi
	rm -f "$(e2e_tmpdir)/learned"
	hs_start "$E2E_NS_CLI" >/dev/null || e2e_die "hellosplit did not start ($1)"
	sleep "${BENCH_SETTLE:-2}"
	out=$(nsx "$E2E_NS_CLI" "$HSCLIENT" 198.18.2.2 "$E2E_ALLOWED" "$SECONDS_EACH" 443)
	hs_stop INT
	awk -v p="$(($(hs_stat packets) + $(hs_stat replies_seen)))" -v f="$(hs_stat flows)" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print v["per_s"], v["p50_ms"], v["failed"], p, f }' <<<"$out"
}

echo "hellosplit learning benchmark: $ROUNDS rounds of ${SECONDS_EACH} s per arm, $(nproc) cores"
for ((r = 1; r <= ROUNDS; r++)); do
	for a in $( ((r % 2)) && echo "learn nolearn" || echo "nolearn learn"); do
		read -r rate p50 f packets flows <<<"$(arm "$a")"
		printf "  round %2d, %-7s: %7.1f handshakes/s, p50 %s ms, %s packets / %s flows in user space\n" "$r" "$a" \
			"$rate" "$p50" "$packets" "$flows"
		add "rate_$a" "$rate"; add "p50_$a" "$p50"; add "pk_$a" "$packets"; add "fl_$a" "$flows"
		failed=$((failed + ${f:-0}))
	done
done
echo
echo "averages over $ROUNDS rounds               --no-learn    learning   ratio"
printf "  TLS handshakes/s                 %10s %10s   %s\n" "$(avg rate_nolearn)" "$(avg rate_learn)" \
	"$(echo "scale=3; ${sum[rate_learn]} / ${sum[rate_nolearn]}" | bc)"
printf "  handshake latency p50 ms         %10s %10s   added %s ms\n" "$(avg p50_nolearn)" "$(avg p50_learn)" \
	"$(echo "scale=3; ($(avg p50_learn)) - ($(avg p50_nolearn))" | bc)"
printf "  packets in user space per flow   %10s %10s\n" \
	"$(echo "scale=2; ${sum[pk_nolearn]} / ${sum[fl_nolearn]}" | bc)" "$(echo "scale=2; ${sum[pk_learn]} / ${sum[fl_learn]}" | bc)"
echo "  failed handshakes: $failed"
((failed == 0)) || exit 1
