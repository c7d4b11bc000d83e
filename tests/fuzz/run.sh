#!/bin/bash
# tests/fuzz/run.sh — drives the libFuzzer harnesses (doc/testing.md layer 7).
#
#   tests/fuzz/run.sh check SECONDS   replay every input of tests/fuzz/corpus/<h>/
#                                     (seeds, found inputs, regress-*), then fuzz
#                                     each harness SECONDS seconds
#   tests/fuzz/run.sh fuzz SECONDS    fuzz each harness SECONDS seconds
#   tests/fuzz/run.sh coverage        line coverage of the corpus (needs the
#                                     build/fuzz-cov/ binaries, see the Makefile)
#   tests/fuzz/run.sh merge           add the inputs of build/fuzz/work-<h>/ that
#                                     reach new edges to tests/fuzz/corpus/<h>/
#
# New inputs go to build/fuzz/work-<h>/ (the repository corpus is only read);
# a crash, leak or timeout is written as tests/fuzz/corpus/<h>/regress-<kind>-<sha1>,
# so that every later replay runs it. Reproduce one with
#   build/fuzz/fuzz_<h> FILE        (FUZZ_TRACE=1 prints the engine's calls)
# HARNESSES="tls engine" restricts the run (the Makefile adds tc: fuzz_tc runs
# the tc program in the kernel and needs root). Exits 1 on any failure.
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
MODE=${1:-}
SECONDS_EACH=${2:-15}
HARNESSES=${HARNESSES:-packet tls split engine learn}
CORPUS=tests/fuzz/corpus
BIN=build/fuzz
COV=build/fuzz-cov
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata-14}
LLVM_COV=${LLVM_COV:-llvm-cov-14}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

max_len() {
	case $1 in
	engine) echo 8192 ;;       # the longest seed replays a capture of 20 packets
	tc) echo 8192 ;;           # a Chromium stream (3.3 KB) and room to grow
	*) echo 4096 ;;
	esac
}

# "N execs, N/s, corpus N" from a libFuzzer log.
summary() {
	local execs rate
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -1)
	echo "${execs:-?} execs, ${rate:-?}/s, work corpus $(find "$BIN/work-$2" -type f | wc -l)," \
		"repository corpus $(find "$CORPUS/$2" -type f | wc -l)"
}

# Prints what went wrong and where the input is.
report_failure() {
	local h=$1 log=$2
	grep -E 'invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -5
	grep -E 'Test unit written to|Running: ' "$log" | tail -1
	echo "fuzz_$h: FAILED (full log: $log); reproduce with $BIN/fuzz_$h FILE"
}

replay() {
	local h=$1 log=$BIN/replay-$1.log files
	mapfile -t files < <(find "$CORPUS/$h" -type f | sort)
	if [[ ${#files[@]} -eq 0 ]]; then
		echo "fuzz_$h: no corpus in $CORPUS/$h"
		return 1
	fi
	if ! "$BIN/fuzz_$h" -timeout=10 "${files[@]}" >"$log" 2>&1; then
		report_failure "$h" "$log"
		return 1
	fi
	echo "fuzz_$h: replayed ${#files[@]} corpus inputs"
}

fuzz_one() {
	local h=$1 seconds=$2 log=$BIN/fuzz-$1.log
	mkdir -p "$BIN/work-$h"
	if ! "$BIN/fuzz_$h" -max_total_time="$seconds" -max_len="$(max_len "$h")" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$CORPUS/$h/regress-" \
		"$BIN/work-$h" "$CORPUS/$h" >"$log" 2>&1; then
		report_failure "$h" "$log"
		return 1
	fi
	echo "fuzz_$h: ${seconds}s: $(summary "$log" "$h")"
}

coverage() {
	local h dirs objects=() profiles=()
	rm -f "$COV"/*.profraw
	for h in $HARNESSES; do
		dirs=("$CORPUS/$h")
		[[ -d $BIN/work-$h ]] && dirs+=("$BIN/work-$h")
		LLVM_PROFILE_FILE="$COV/$h.profraw" "$COV/fuzz_$h" -runs=0 -max_len="$(max_len "$h")" \
			"${dirs[@]}" >"$COV/$h.log" 2>&1 || { echo "fuzz_$h: coverage run failed ($COV/$h.log)"; return 1; }
		profiles+=("$COV/$h.profraw")
		objects+=(-object "$COV/fuzz_$h")
		echo "fuzz_$h: ran $(find "${dirs[@]}" -type f | wc -l) inputs (${dirs[*]})"
	done
	"$LLVM_PROFDATA" merge -sparse "${profiles[@]}" -o "$COV/all.profdata" || return 1
	# One report over all harnesses: each engine source with the lines the corpus reaches.
	"$LLVM_COV" report "${objects[@]:1}" -instr-profile="$COV/all.profdata" \
		src/packet.c src/tls.c src/split.c src/reasm.c src/flow.c src/hold.c src/engine.c src/hostlist.c src/learn.c src/ports.c
	echo "line-by-line: $LLVM_COV show ${objects[*]:1} -instr-profile=$COV/all.profdata src/engine.c"
}

merge() {
	local h
	for h in $HARNESSES; do
		[[ -d $BIN/work-$h ]] || continue
		# edges only (no hit counts): a small corpus that reaches the same code
		"$BIN/fuzz_$h" -merge=1 -use_counters=0 -max_len="$(max_len "$h")" "$CORPUS/$h" "$BIN/work-$h" \
			>"$BIN/merge-$h.log" 2>&1 || { echo "fuzz_$h: merge failed ($BIN/merge-$h.log)"; return 1; }
		echo "fuzz_$h: $(grep -o 'MERGE-OUTER: [0-9]* new files.*' "$BIN/merge-$h.log")"
	done
}

status=0
case $MODE in
check)
	for h in $HARNESSES; do
		replay "$h" && fuzz_one "$h" "$SECONDS_EACH" || status=1
	done
	;;
fuzz)
	for h in $HARNESSES; do
		fuzz_one "$h" "$SECONDS_EACH" || status=1
	done
	;;
coverage) coverage || status=1 ;;
merge) merge || status=1 ;;
*)
	echo "usage: $0 check|fuzz SECONDS, or $0 coverage|merge" >&2
	exit 2
	;;
esac
exit $status
