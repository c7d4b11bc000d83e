#!/bin/sh
# Offline engine benchmark (issue: >= 2 000 000 packets/s on one core).
# Generates two 1 000 000-packet captures (hello-heavy: every flow short TLS;
# bulk-heavy: mostly long transfers), then measures in one run:
#  - the engine alone vs. a loop that only reads each packet (ratio),
#  - instructions per packet (callgrind, on 100 000 packets),
#  - RSS of 100 000 open flows,
#  - the whole program --pcap-in/--pcap-out vs. copying the file.
# Usage: bench/offline.sh [BUILD_DIR]   (make bench-offline)
set -eu
B=${1:-build/bench}
mkdir -p "$B"
for mix in hello:100 bulk:0; do
	name=${mix%%:*}
	pct=${mix##*:}
	[ -f "$B/$name.pcap" ] || "$B/gencap" "$B/$name.pcap" 1000000 "$pct"
	[ -f "$B/$name-100k.pcap" ] || "$B/gencap" "$B/$name-100k.pcap" 100000 "$pct"
	echo "== $name-heavy capture, 1 000 000 packets"
	if [ "$name" = hello ]; then
		# 1 400 000 packets hold more than 100 000 flows: memory of that many open
		[ -f "$B/hello-mem.pcap" ] || "$B/gencap" "$B/hello-mem.pcap" 1400000 100
		"$B/engine_bench" "$B/$name.pcap" 5 "$B/hello-mem.pcap"
	else
		"$B/engine_bench" "$B/$name.pcap" 5
	fi
	valgrind --tool=callgrind --callgrind-out-file="$B/callgrind.$name" --toggle-collect=engine_packet \
		"$B/engine_bench" "$B/$name-100k.pcap" 1 >/dev/null 2>"$B/callgrind.$name.log"
	ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$B/callgrind.$name.log")
	echo "instructions/packet (callgrind, engine_packet inclusive): $((ir / 100000))"
	cat "$B/$name.pcap" >/dev/null
	t0=$(date +%s.%N)
	cp "$B/$name.pcap" "$B/copy.pcap"
	t1=$(date +%s.%N)
	build/hellosplit --pcap-in "$B/$name.pcap" --pcap-out "$B/out.pcap" 2>/dev/null
	t2=$(date +%s.%N)
	echo "whole program: copy $(echo "$t1 - $t0" | bc) s, hellosplit --pcap-in/--pcap-out $(echo "$t2 - $t1" | bc) s," \
		"ratio copy/hellosplit $(echo "scale=3; ($t1 - $t0) / ($t2 - $t1)" | bc)"
	rm -f "$B/copy.pcap" "$B/out.pcap"
done
