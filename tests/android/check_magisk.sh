#!/bin/bash
# tests/android/check_magisk.sh ZIP -- the Magisk module zip, checked without
# a phone (make magisk-check):
#   1. layout: META-INF/com/google/android/update-binary and updater-script
#      ("#MAGISK"), module.prop, customize.sh, service.sh, stop.sh,
#      uninstall.sh, lock.sh, hellosplit.conf, bin/arm64-v8a and bin/armeabi-v7a
#      binaries; no install.sh (Magisk treats it as a legacy installer);
#      modes in the zip; LF line ends;
#   2. module.prop: exactly Magisk's fields, id pattern, integer versionCode,
#      version = what the binary says (--version, run under qemu);
#   3. the binaries: static AArch64 / ARM ELF files;
#   4. every script: `sh -n` with dash and busybox ash, `shellcheck -s sh`
#      (POSIX only, so busybox ash runs it);
#   5. hellosplit.conf is accepted by the binary (--config, offline run);
#   6. customize.sh, sourced as Magisk's installer does with stand-ins for
#      its functions: arm64 and arm keep the right binary, x86 and x64
#      abort with a clear message, an installed copy's settings are kept;
#   7. as root, in a network namespace topology (tests/e2e/lib.sh):
#      service.sh from a module folder with the x86_64 static binary standing
#      in and a stub getprop (boot completes after a few polls) starts the
#      daemon from hellosplit.conf: rules appear, the blocked name loads,
#      the log fills; a killed daemon is restarted; stop.sh stops it and
#      leaves the rules as found, and leaves alone a process its stale pid
#      file names; service.sh again, then uninstall.sh, the same; a stop.sh
#      that lands while the supervisor restarts the daemon (a stub date(1)
#      holds the supervisor between its check of run/stopped and writing the
#      pid) leaves no daemon and no rule behind; a lock whose holder is gone
#      is taken over.
# Last line "e2e: N passed, N failed"; exit non-zero on any failure.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ZIP=${1:-$ROOT/build/hellosplit-magisk.zip}
[[ -f $ZIP ]] || { echo "usage: $0 ZIP (make PLATFORM=android dist builds $ROOT/build/hellosplit-magisk.zip)" >&2; exit 2; }
ZIP=$(cd "$(dirname "$ZIP")" && pwd)/$(basename "$ZIP")
HELLOSPLIT=${HELLOSPLIT:-$ROOT/build/static/hellosplit}
. "$ROOT/tests/e2e/lib.sh"

T=$(e2e_tmpdir)
U=$T/unzipped
SCRIPTS=(META-INF/com/google/android/update-binary customize.sh service.sh stop.sh uninstall.sh lock.sh)
section() { printf '\n=== %s\n' "$*"; }

# ------------------------------------------------------------------ 1. layout

section "1. layout"
mkdir -p "$U"
unzip -q "$ZIP" -d "$U" || e2e_die "cannot unzip $ZIP"
for f in "${SCRIPTS[@]}" META-INF/com/google/android/updater-script module.prop hellosplit.conf \
    bin/arm64-v8a/hellosplit bin/armeabi-v7a/hellosplit; do
    if [[ -f $U/$f ]]; then e2e_pass "present: $f"; else e2e_fail "missing: $f"; fi
done
expect_eq "updater-script holds only #MAGISK" "#MAGISK" "$(tr -d '\n' <"$U/META-INF/com/google/android/updater-script")"
expect_eq "no install.sh (a legacy installer to Magisk)" "" "$(unzip -Z1 "$ZIP" | grep -x 'install.sh')"
modes=$(zipinfo "$ZIP" | awk 'NF >= 9 { print $1, $NF }')
for f in META-INF/com/google/android/update-binary service.sh stop.sh uninstall.sh bin/arm64-v8a/hellosplit \
    bin/armeabi-v7a/hellosplit; do
    expect_eq "mode 0755: $f" "-rwxr-xr-x" "$(awk -v f="$f" '$2 == f { print $1 }' <<<"$modes")"
done
for f in module.prop hellosplit.conf customize.sh META-INF/com/google/android/updater-script; do
    expect_eq "mode 0644: $f" "-rw-r--r--" "$(awk -v f="$f" '$2 == f { print $1 }' <<<"$modes")"
done
crlf=$(grep -l $'\r' "$U/module.prop" "$U/hellosplit.conf" "${SCRIPTS[@]/#/$U/}" 2>/dev/null)
expect_eq "LF line ends only (Magisk misreads CR)" "" "$crlf"

# ------------------------------------------------------------------ 2. module.prop

section "2. module.prop"
expect_eq "fields: id name version versionCode author description" "id name version versionCode author description" \
    "$(cut -d= -f1 "$U/module.prop" | tr '\n' ' ' | sed 's/ $//')"
prop() { sed -n "s/^$1=//p" "$U/module.prop"; }
if [[ $(prop id) =~ ^[a-zA-Z][a-zA-Z0-9._-]+$ ]]; then e2e_pass "id '$(prop id)' matches Magisk's pattern"
else e2e_fail "id '$(prop id)' does not match ^[a-zA-Z][a-zA-Z0-9._-]+\$"; fi
if [[ $(prop versionCode) =~ ^[0-9]+$ ]]; then e2e_pass "versionCode $(prop versionCode) is an integer"
else e2e_fail "versionCode '$(prop versionCode)' is not an integer"; fi
v=$(qemu-aarch64-static "$U/bin/arm64-v8a/hellosplit" --version 2>&1 | awk '{ print $2 }')
expect_eq "version = the binary's --version (v$v)" "v$v" "$(prop version)"
expect_eq "no empty field" "" "$(grep -E '^[a-zA-Z]+=$' "$U/module.prop")"

# ------------------------------------------------------------------ 3. binaries

section "3. binaries"
for v in "arm64-v8a|AArch64" "armeabi-v7a|ARM"; do
    f=$U/bin/${v%|*}/hellosplit
    m=${v#*|}
    if readelf -h "$f" | grep -q "Machine: *$m\$" && ! readelf -l "$f" | grep -q INTERP; then
        e2e_pass "bin/${v%|*}/hellosplit: static $m executable"
    else
        e2e_fail "bin/${v%|*}/hellosplit: not a static $m executable"
    fi
done

# ------------------------------------------------------------------ 4. scripts

section "4. scripts: POSIX sh, busybox ash"
have_busybox=1
command -v busybox >/dev/null || { have_busybox=0; echo "note: busybox not installed (apt-get install busybox): ash checks skipped"; }
have_shellcheck=1
command -v shellcheck >/dev/null || { have_shellcheck=0; echo "note: shellcheck not installed: lint skipped"; }
for f in "${SCRIPTS[@]}"; do
    expect_ok "dash -n $f" dash -n "$U/$f"
    [[ $have_busybox == 1 ]] && expect_ok "busybox ash -n $f" busybox ash -n "$U/$f"
    if [[ $have_shellcheck == 1 ]]; then
        if out=$(shellcheck -x -s sh "$U/$f" 2>&1); then e2e_pass "shellcheck -x -s sh $f"
        else e2e_fail "shellcheck -x -s sh $f" "$(head -5 <<<"$out")"; fi
    fi
done

# ------------------------------------------------------------------ 5. config

section "5. hellosplit.conf"
if [[ -x $HELLOSPLIT ]]; then
    if out=$("$HELLOSPLIT" --config "$U/hellosplit.conf" --pcap-in "$ROOT/tests/captures/curl-v4.pcap" \
        --pcap-out "$T/conf.pcap" 2>&1); then
        e2e_pass "$HELLOSPLIT accepts hellosplit.conf"
    else
        e2e_fail "$HELLOSPLIT refuses hellosplit.conf" "$out"
    fi
    # every commented-out option too, as a user would enable it (iface and
    # exclude-iface exclude each other: one at a time)
    sed -n 's/^# \([a-z][a-z-]* [^ ]*\)$/\1/p' "$U/hellosplit.conf" |
        sed "s|^stats-json .*|stats-json $T/stats.json|" >"$T/all.conf"
    for skip in exclude-iface iface; do
        grep -v "^$skip " "$T/all.conf" >"$T/some.conf"
        if out=$("$HELLOSPLIT" --config "$T/some.conf" --pcap-in "$ROOT/tests/captures/curl-v4.pcap" \
            --pcap-out "$T/conf.pcap" 2>&1); then
            e2e_pass "the commented-out options are valid: $(cut -d' ' -f1 "$T/some.conf" | tr '\n' ' ')"
        else
            e2e_fail "a commented-out option is refused" "$out"
        fi
    done
else
    e2e_fail "no x86_64 static binary $HELLOSPLIT (make STATIC=1)"
fi

# ------------------------------------------------------------------ 6. customize.sh

section "6. customize.sh as Magisk's installer sources it"
# install_as ARCH -- unpack into a fresh MODPATH and source customize.sh in
# busybox ash (or dash) with stand-ins for Magisk's functions.
SH=dash
[[ $have_busybox == 1 ]] && SH="busybox ash"
install_as() {
    local arch=$1 mp=$T/install-$1
    rm -rf "$mp"
    mkdir -p "$mp"
    unzip -q "$ZIP" -d "$mp" -x 'META-INF/*'
    # shellcheck disable=SC2016
    ASH_STANDALONE=1 ARCH=$arch API=34 MODPATH=$mp NVBASE=$T/nvbase MODID=hellosplit $SH -c '
        ui_print() { echo "$1"; }
        abort() { echo "$1"; exit 1; }
        set_perm() { chown "$2:$3" "$1" && chmod "$4" "$1"; }
        set_perm_recursive() { find "$1" -type d -exec chmod "$4" {} + && find "$1" -type f -exec chmod "$5" {} +; }
        . "$MODPATH/customize.sh"' >"$T/install-$arch.out" 2>&1
}
mkdir -p "$T/nvbase/modules/hellosplit"
printf 'split-at 1,midsld\n' >"$T/nvbase/modules/hellosplit/hellosplit.conf"
for v in "arm64|arm64-v8a" "arm|armeabi-v7a"; do
    arch=${v%|*}
    abi=${v#*|}
    mp=$T/install-$arch
    if install_as "$arch" && cmp -s "$mp/hellosplit" "$U/bin/$abi/hellosplit" && [[ ! -e $mp/bin ]]; then
        e2e_pass "ARCH=$arch: the $abi binary is installed as hellosplit, bin/ removed"
    else
        e2e_fail "ARCH=$arch: install" "$(head -5 "$T/install-$arch.out")"
    fi
    expect_eq "ARCH=$arch: hellosplit is mode 755" 755 "$(stat -c %a "$mp/hellosplit" 2>/dev/null)"
    expect_eq "ARCH=$arch: the installed copy's settings are kept" "split-at 1,midsld" "$(cat "$mp/hellosplit.conf")"
done
rm -rf "$T/nvbase"
for arch in x86 x64; do
    if install_as "$arch"; then
        e2e_fail "ARCH=$arch: the install did not abort"
    elif grep -q "arm64-v8a and armeabi-v7a only; this device is $arch" "$T/install-$arch.out"; then
        e2e_pass "ARCH=$arch: aborts: $(head -1 "$T/install-$arch.out")"
    else
        e2e_fail "ARCH=$arch: aborted without saying why" "$(cat "$T/install-$arch.out")"
    fi
done
install_as arm64
expect_eq "fresh install: the shipped hellosplit.conf" "$(cat "$U/hellosplit.conf")" "$(cat "$T/install-arm64/hellosplit.conf")"

# ------------------------------------------------------------------ 7. boot

if [[ $(id -u) -ne 0 ]]; then
    echo "note: not root: service.sh/stop.sh/uninstall.sh are not run"
    e2e_summary
    exit
fi
section "7. service.sh, stop.sh, uninstall.sh in a namespace"
e2e_require_tools
topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$E2E_BLOCKED"
C=$E2E_NS_CLI
M=$T/modules/hellosplit      # the module folder, as Magisk leaves it
mkdir -p "$(dirname "$M")"
cp -a "$T/install-arm64" "$M"
cp "$HELLOSPLIT" "$M/hellosplit"         # the x86_64 static build stands in
mkdir -p "$T/stub"
cat >"$T/stub/getprop" <<EOF
#!/bin/sh
# getprop stand-in: boot completes at the third question
n=\$(cat "$T/getprop.count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo "\$n" >"$T/getprop.count"
[ "\$1" = sys.boot_completed ] && [ "\$n" -ge 3 ] && echo 1
exit 0
EOF
chmod 755 "$T/stub/getprop"
BEFORE=$(fw_rules "$C")

# msh SCRIPT -- run a module script the way Magisk does (busybox ash,
# standalone mode), inside the client namespace
msh() {
    if [[ $have_busybox == 1 ]]; then
        nsx "$C" env PATH="$T/stub:$PATH" ASH_STANDALONE=1 busybox sh "$M/$1"
    else
        nsx "$C" env PATH="$T/stub:$PATH" dash "$M/$1"
    fi
}
wait_for() { # SECONDS CMD... -- poll CMD every 0.1 s
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
    return 1
}
daemon_pid() { cat "$M/run/hellosplit.pid" 2>/dev/null; }
# running [N] -- the N-th start since the log began has its rules in
running() {
    [[ -n $(daemon_pid) && $(grep -c 'running on queue' "$M/hellosplit.log" 2>/dev/null) -ge ${1:-1} ]] &&
        hs_rules_present "$C"
}
gone() { ! hs_rules_present "$C" && [[ ! -e $M/run/supervisor.pid ]]; }

msh service.sh
expect_eq "service.sh waited for sys.boot_completed (asked 3 times)" 3 "$(cat "$T/getprop.count" 2>/dev/null)"
if wait_for 10 running; then
    e2e_pass "service.sh started hellosplit (pid $(daemon_pid)) and its rules are in"
else
    e2e_fail "service.sh did not start hellosplit" "$(tail -5 "$M/hellosplit.log" 2>/dev/null)"
fi
expect_eq "the daemon runs with the module's config file" "$M/hellosplit --config $M/hellosplit.conf" \
    "$(tr '\0' ' ' <"/proc/$(daemon_pid)/cmdline" 2>/dev/null | sed 's/ $//')"
expect_ok "v4: $E2E_BLOCKED loads with the module running" fetch_curl "$E2E_BLOCKED" 4
expect_ok "v6: $E2E_BLOCKED loads with the module running" fetch_curl "$E2E_BLOCKED" 6
expect_fail "a second service.sh refuses to start another copy" msh service.sh

old=$(daemon_pid)
kill -KILL "$old"
if wait_for 15 running 2 && [[ $(daemon_pid) != "$old" ]]; then
    e2e_pass "killed with -9, hellosplit is restarted (pid $old -> $(daemon_pid))"
else
    e2e_fail "hellosplit was not restarted after kill -9" "$(tail -5 "$M/hellosplit.log")"
fi

# A stale pid file must not make stop.sh kill a stranger.
nsx "$C" sleep 60 &
stranger=$!
_e2e_track_pid "$stranger"
real=$(daemon_pid)
echo "$stranger" >"$M/run/hellosplit.pid"
msh stop.sh
if kill -0 "$stranger" 2>/dev/null; then e2e_pass "stop.sh left alone the process a wrong pid file named"
else e2e_fail "stop.sh killed a process that is not hellosplit"; fi
e2e_stop "$stranger"
echo "$real" >"$M/run/hellosplit.pid"
msh stop.sh
if wait_for 10 gone && ! kill -0 "$real" 2>/dev/null; then
    e2e_pass "stop.sh stopped hellosplit and its supervisor; no rule left"
else
    e2e_fail "stop.sh: hellosplit still running or rules left" "$(tail -5 "$M/hellosplit.log")"
fi
expect_eq "after stop.sh: rules, chains and policies as before" "$BEFORE" "$(fw_rules "$C")"
if grep -q 'stopping hellosplit' "$M/hellosplit.log"; then e2e_pass "the log tells the stop"
else e2e_fail "the log does not tell the stop"; fi

rm -f "$T/getprop.count"
# As after a reboot: the old supervisor pid names some other live process.
nsx "$C" sleep 60 &
stranger=$!
_e2e_track_pid "$stranger"
echo "$stranger" >"$M/run/supervisor.pid"
msh service.sh
if wait_for 10 running; then e2e_pass "service.sh starts it again (a stale supervisor pid file does not stop it)"
else e2e_fail "service.sh did not start it again" "$(tail -5 "$M/hellosplit.log")"; fi
e2e_stop "$stranger"
if [[ -f $M/hellosplit.log.old ]]; then e2e_pass "the previous log is kept as hellosplit.log.old"
else e2e_fail "no hellosplit.log.old"; fi
msh uninstall.sh
if wait_for 10 gone; then e2e_pass "uninstall.sh stops hellosplit; no rule left"
else e2e_fail "uninstall.sh left hellosplit running or rules behind"; fi
expect_eq "after uninstall.sh: rules, chains and policies as before" "$BEFORE" "$(fw_rules "$C")"

# The race of stop.sh with a restart. The supervisor restarts a dead daemon:
# it sleeps 5 s, checks run/stopped, asks date(1) for the time, starts the
# daemon, writes its pid. Stubs hold it in that window (the first 'date +%s'
# after its 'sleep 5') while stop.sh runs; unless the two are exclusive,
# stop.sh finds no pid, removes the rules and returns, and the daemon starts
# after it. busybox without ASH_STANDALONE here: in standalone mode its own
# applets would win over the stubs.
cat >"$T/stub/sleep" <<EOF
#!/bin/sh
# sleep stand-in: the supervisor's pause before a restart arms the date stub
$(command -v sleep) "\$@"
[ "\$1" = 5 ] && [ -f "$T/date.hold" ] && : >"$T/date.armed"
exit 0
EOF
cat >"$T/stub/date" <<EOF
#!/bin/sh
# date stand-in: once armed, 'date +%s' waits while $T/date.hold exists (at most 30 s)
if [ "\$1" = +%s ] && [ -f "$T/date.armed" ] && [ -f "$T/date.hold" ]; then
	: >"$T/date.held"
	i=0
	while [ -f "$T/date.hold" ] && [ "\$i" -lt 300 ]; do $(command -v sleep) 0.1; i=\$((i + 1)); done
fi
exec $(command -v date) "\$@"
EOF
chmod 755 "$T/stub/date" "$T/stub/sleep"
msh_path() {
    if [[ $have_busybox == 1 ]]; then
        nsx "$C" env PATH="$T/stub:$PATH" busybox sh "$M/$1"
    else
        nsx "$C" env PATH="$T/stub:$PATH" dash "$M/$1"
    fi
}
# a process running the module's binary (whatever the pid file says)
daemon_alive() {
    local p
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/exe" 2>/dev/null) == "$M/hellosplit" ]] && return 0
    done
    return 1
}
stopper_done() { ! kill -0 "$stopper" 2>/dev/null; }
rm -f "$M/hellosplit.log"
msh_path service.sh
if wait_for 10 running; then
    : >"$T/date.hold"
    kill -KILL "$(daemon_pid)"
    if wait_for 20 test -f "$T/date.held"; then
        msh stop.sh &
        stopper=$!
        # stop.sh gets 2 s to finish on its own (it does, when nothing makes it wait)
        wait_for 2 stopper_done
        rm -f "$T/date.hold"
        wait "$stopper"
        if wait_for 10 gone && ! daemon_alive; then
            e2e_pass "stop.sh during a restart: it waited for the supervisor, stopped the new daemon, no rule left"
        else
            e2e_fail "stop.sh during a restart left hellosplit running or its rules in" \
                "daemon alive: $(daemon_alive && echo yes || echo no); $(tail -4 "$M/hellosplit.log")"
        fi
        expect_eq "after stop.sh during a restart: rules, chains and policies as before" "$BEFORE" "$(fw_rules "$C")"
    else
        e2e_fail "the supervisor did not restart hellosplit through the stub date" "$(tail -4 "$M/hellosplit.log")"
    fi
else
    e2e_fail "service.sh (busybox, not standalone) did not start hellosplit" "$(tail -5 "$M/hellosplit.log")"
fi
rm -f "$T/date.hold" "$T/date.armed" "$T/stub/date" "$T/stub/sleep"
expect_eq "no run/lock left behind" "" "$(ls -d "$M/run/lock" 2>/dev/null)"
# A lock whose holder is gone (killed, or from before a reboot: its pid now
# names another process) is taken over, not waited for.
nsx "$C" sleep 60 &
stranger=$!
_e2e_track_pid "$stranger"
ln -s "pid-$stranger" "$M/run/lock"
start_s=$SECONDS
msh service.sh
if wait_for 10 running && [[ $((SECONDS - start_s)) -lt 10 ]]; then
    e2e_pass "service.sh took over a lock its holder left (pid $stranger is not a module script)"
else
    e2e_fail "service.sh did not take over a stale lock" "$(ls -l "$M/run/lock" 2>&1); $(tail -3 "$M/hellosplit.log")"
fi
e2e_stop "$stranger"
msh stop.sh     # whatever the checks above found, nothing keeps running
if wait_for 10 gone && ! daemon_alive; then e2e_pass "stop.sh after the takeover: nothing left running"
else e2e_fail "stop.sh after the stale-lock takeover left hellosplit running or its rules in"; fi

e2e_summary
