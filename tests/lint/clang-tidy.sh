#!/bin/bash
# tests/lint/clang-tidy.sh FILE... [--windows FILE...] [--freebsd FILE...] —
# clang-tidy (checks in .clang-tidy) over the given sources, compiled with
# $LINT_CFLAGS (the files after --windows with $LINT_WIN_CFLAGS: a mingw-w64
# target; after --freebsd with $LINT_BSD_CFLAGS: a FreeBSD target). A finding whose check and file are
# listed in .clang-tidy-suppressions (each entry with its one-line reason) is
# dropped; any other finding, or a file that does not compile, fails.
# Entries that no longer match anything are reported so they can be removed.
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 1
SUPPRESSIONS=.clang-tidy-suppressions
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
tmp=$(mktemp -d)
out=$tmp/all
trap 'rm -rf "$tmp"' EXIT

posix=() windows=() freebsd=()
group=posix
while [[ $# -gt 0 ]]; do
	case $1 in
	--windows) group=windows ;;
	--freebsd) group=freebsd ;;
	*) case $group in
	   posix) posix+=("$1") ;;
	   windows) windows+=("$1") ;;
	   freebsd) freebsd+=("$1") ;;
	   esac ;;
	esac
	shift
done
# run TAG FLAGS FILE...: every file in parallel, each into its own output file.
run() {
	local tag=$1 flags=$2
	shift 2
	[[ $# -gt 0 ]] || return 0
	# shellcheck disable=SC2016 # $0..$2 belong to the inner sh
	printf '%s\n' "$@" | xargs -P "$(nproc)" -I{} sh -c \
		'exec "$0" --quiet "$1" -- '"$flags"' >"$2-$(echo "$1" | tr / _).out" 2>/dev/null' "$CLANG_TIDY" {} "$tmp/$tag"
}
run posix "${LINT_CFLAGS:-}" "${posix[@]}"
run windows "${LINT_WIN_CFLAGS:-}" "${windows[@]}"
run freebsd "${LINT_BSD_CFLAGS:-}" "${freebsd[@]}"
cat "$tmp"/*.out >"$out" 2>/dev/null

# "path:line:col: warning|error: text [check,...]" -> "check path:line: text"
findings=$(sed -nE 's#^(/[^:]*/)?(src/[^:]+):([0-9]+):[0-9]+: (warning|error): (.*) \[([^],]+)[^]]*\]$#\6 \2:\3: \5#p' "$out" | sort -u)
status=0
kept=""
while IFS= read -r line; do
	[[ -n $line ]] || continue
	check=${line%% *}
	rest=${line#* }
	file=${rest%%:*}
	if grep -qxF "$check $file" <(grep -v '^#' "$SUPPRESSIONS"); then
		kept+="$check $file"$'\n'
	else
		echo "clang-tidy: $rest [$check]"
		status=1
	fi
done <<<"$findings"
if grep -q 'error: .*clang-diagnostic-error' "$out"; then
	echo "clang-tidy: a source does not compile with LINT_CFLAGS"
	status=1
fi
while read -r check file; do
	[[ -z ${check:-} || $check == \#* ]] && continue
	grep -qxF "$check $file" <<<"$kept" || echo "clang-tidy: note: suppression '$check $file' matches nothing now: remove it"
done <"$SUPPRESSIONS"
n=$(grep -c . <<<"$findings")
echo "clang-tidy: $((${#posix[@]} + ${#windows[@]} + ${#freebsd[@]})) files, $n findings, $(grep -c . <<<"$kept") suppressed by $SUPPRESSIONS"
exit $status
