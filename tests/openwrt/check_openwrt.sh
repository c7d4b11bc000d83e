#!/bin/bash
# tests/openwrt/check_openwrt.sh -- dist/openwrt/ without a router:
#   1. the init script and the firewall include pass `sh -n` with dash and
#      busybox ash, and `shellcheck -s sh`;
#   2. hellosplit.conf, and each option commented out in it, is accepted by
#      the binary (--config, offline run);
#   3. the init script, sourced with stand-ins for rc.common's procd_*
#      functions, asks procd for: hellosplit --config /etc/hellosplit.conf,
#      respawn, a restart when the file changes, output to the log, a
#      SIGTERM grace; stop_service and cleanup run --rules-remove.
# Prints PASS/FAIL lines and 'N passed, N failed'; exits 1 on any failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/dist/openwrt
HELLOSPLIT=${HELLOSPLIT:-$ROOT/build/static/hellosplit}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hellosplit-openwrt.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/      | /'; }
check() { # DESC CMD...
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$out"; fi
}

# ------------------------------------------------------------------ 1.

for f in hellosplit.init hellosplit.firewall; do
    check "dash -n $f" dash -n "$D/$f"
    if command -v busybox >/dev/null; then check "busybox ash -n $f" busybox ash -n "$D/$f"
    else echo "note: busybox not installed: ash check skipped"; fi
    if command -v shellcheck >/dev/null; then check "shellcheck -s sh $f" shellcheck -s sh "$D/$f"
    else echo "note: shellcheck not installed: lint skipped"; fi
done
if grep -q $'\r' "$D"/*; then fail "CR characters in dist/openwrt"; else pass "LF line ends only"; fi

# ------------------------------------------------------------------ 2.

if [[ -x $HELLOSPLIT ]]; then
    check "hellosplit.conf is accepted" "$HELLOSPLIT" --config "$D/hellosplit.conf" \
        --pcap-in "$ROOT/tests/captures/curl-v4.pcap" --pcap-out "$TMP/out.pcap"
    sed -n 's/^# \([a-z][a-z-]* [^ ]*\)$/\1/p' "$D/hellosplit.conf" | sed "s|/tmp/|$TMP/|" >"$TMP/all.conf"
    check "the commented-out options are accepted: $(cut -d' ' -f1 "$TMP/all.conf" | tr '\n' ' ')" \
        "$HELLOSPLIT" --config "$TMP/all.conf" --pcap-in "$ROOT/tests/captures/curl-v4.pcap" \
        --pcap-out "$TMP/out.pcap"
else
    fail "no binary $HELLOSPLIT (make STATIC=1)"
fi

# ------------------------------------------------------------------ 3.

# The init script with procd's helpers replaced by loggers; PROG a stand-in
# that logs its arguments.
cat >"$TMP/prog" <<EOF
#!/bin/sh
echo "prog \$*" >>"$TMP/calls"
EOF
chmod 755 "$TMP/prog"
: >"$TMP/hellosplit.conf"
# shellcheck disable=SC2016
dash -c '
    procd_open_instance() { echo "open"; }
    procd_set_param() { echo "param $*"; }
    procd_close_instance() { echo "close"; }
    . "$1"
    PROG=$2 CONF=$3
    start_service
    stop_service
    cleanup
    echo "start=$START stop=$STOP procd=$USE_PROCD extra=$EXTRA_COMMANDS"
' sh "$D/hellosplit.init" "$TMP/prog" "$TMP/hellosplit.conf" >>"$TMP/calls" 2>&1
calls=$(cat "$TMP/calls")
want() { # DESC LINE
    if grep -qxF -- "$2" <<<"$calls"; then pass "$1"; else fail "$1: no line '$2'" "$calls"; fi
}
want "procd runs hellosplit --config CONF" "param command $TMP/prog --config $TMP/hellosplit.conf"
want "procd respawns it" "param respawn 3600 5 5"
want "reload restarts it when the config file changed" "param file $TMP/hellosplit.conf"
want "its output goes to the system log" "param stderr 1"
want "SIGTERM gets 10 s to release held packets and remove the rules" "param term_timeout 10"
want "stop_service and cleanup remove the rules" "prog --rules-remove"
expect_count=$(grep -c -x 'prog --rules-remove' <<<"$calls")
if [[ $expect_count -eq 2 ]]; then pass "--rules-remove once per stop_service and cleanup"
else fail "--rules-remove ran $expect_count times, want 2"; fi
want "START 95 (after network and firewall), USE_PROCD" "start=95 stop=10 procd=1 extra=cleanup"
rm -f "$TMP/hellosplit.conf"
: >"$TMP/calls"
# shellcheck disable=SC2016
dash -c 'procd_open_instance() { echo open; }; . "$1"; PROG=$2 CONF=$3; start_service; echo "rc=$?"' \
    sh "$D/hellosplit.init" "$TMP/prog" "$TMP/hellosplit.conf" >"$TMP/calls" 2>&1
if grep -q 'rc=1' "$TMP/calls" && grep -q 'is missing' "$TMP/calls" && ! grep -qx open "$TMP/calls"; then
    pass "no config file: start_service refuses with a message"
else
    fail "no config file: start_service did not refuse" "$(cat "$TMP/calls")"
fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
