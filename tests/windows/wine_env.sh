# wine_env.sh - source this (bash) to run Windows test programs headless
# under wine with the fake WinDivert.dll.  Used by run_selftest.sh; meant to
# be reused by the hellosplit.exe end-to-end tests.
#
#   . tests/windows/wine_env.sh
#   wt_begin                       # prefix + lock + trap that stops wineserver
#   wt_run 30 out.txt err.txt "$WT_BUILD/hellosplit.exe" --some-flag
#   echo "exit status $?"
#
# Variables (set before sourcing to override):
#   WT_BUILD        build directory with WinDivert.dll   [<repo>/build/windows-test]
#   WT_WINEPREFIX   wine prefix to use                     [$WT_BUILD/wineprefix]
#                   Kept between runs: creating one takes ~9 s, starting wine
#                   in an existing one ~0.4 s.  Runs that share a prefix are
#                   serialised with flock(1) on "$WT_WINEPREFIX.lock", because
#                   "wineserver -k" stops every process of the prefix.
#   WT_FRESH_PREFIX=1  use a private temporary prefix instead (deleted at exit)
#
# After wt_begin: WINEPREFIX, WINEDEBUG=-all, WINEDLLOVERRIDES (no Mono/Gecko
# install prompts) are exported and DISPLAY is unset (console programs only).
# wt_begin sets the EXIT trap to wt_stop (and INT/TERM to exit): a script
# that needs its own EXIT trap must call wt_stop from it.

WT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WT_ROOT=$(cd "$WT_HERE/../.." && pwd)
: "${WT_BUILD:=$WT_ROOT/build/windows-test}"
: "${WT_WINEPREFIX:=$WT_BUILD/wineprefix}"
WT_TMP_PREFIX=

# Convert a unix path to the Windows path wine sees (Z: is mapped to /).
wt_winpath() {
    local p
    p=$(readlink -m -- "$1")
    printf 'Z:%s\n' "${p//\//\\}"
}

wt_stop() {
    # Stop every wine process of our prefix and the wineserver itself.
    if [ -n "${WINEPREFIX:-}" ]; then
        wineserver -k >/dev/null 2>&1
        wineserver -w >/dev/null 2>&1
    fi
    if [ -n "$WT_TMP_PREFIX" ] && [ -d "$WT_TMP_PREFIX" ]; then
        rm -rf "$WT_TMP_PREFIX"
    fi
}

wt_begin() {
    mkdir -p "$WT_BUILD"
    if [ "${WT_FRESH_PREFIX:-0}" = 1 ]; then
        WT_TMP_PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/wt-prefix.XXXXXX")
        export WINEPREFIX="$WT_TMP_PREFIX/prefix"
    else
        export WINEPREFIX="$WT_WINEPREFIX"
        exec 9>"$WINEPREFIX.lock"
        if ! flock -w 600 9; then
            echo "wine_env: could not lock $WINEPREFIX.lock" >&2
            return 1
        fi
    fi
    export WINEDEBUG=-all
    export WINEDLLOVERRIDES="mscoree,mshtml="
    unset DISPLAY WAYLAND_DISPLAY
    trap wt_stop EXIT
    trap 'exit 130' INT TERM
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "wine_env: creating wine prefix $WINEPREFIX (first time only, ~10 s)" >&2
        wine wineboot --init </dev/null >/dev/null 2>&1
        wineserver -w >/dev/null 2>&1
    fi
    # Keep one wineserver for the whole run (wt_stop kills it).  Without this
    # it exits 3 s after the last program, and a program started in that
    # moment dies with "wine client error: recvmsg: Connection reset by peer".
    wineserver -p >/dev/null 2>&1
    return 0
}

# wt_run TIMEOUT_S STDOUT_FILE STDERR_FILE EXE [ARGS...]
# Runs EXE under wine with stdin from /dev/null, returns its exit status
# (the Windows exit code modulo 256; 124 = killed by the timeout).
# NOTE: under wine 8 a Ctrl-C that no handler takes ends the process with
# status 0 (Windows: 0xC000013A), so exit 0 alone does not prove that the
# program's own Ctrl-C/shutdown path ran - check its output or the fake's log.
# stdout/stderr written through msvcrt have CRLF line ends (strip \r).
wt_run() {
    local t=$1 out=$2 err=$3
    shift 3
    timeout -k 5 "$t" wine "$@" </dev/null >"$out" 2>"$err"
}

# wt_run_bg STDOUT_FILE STDERR_FILE EXE [ARGS...]  -> sets WT_PID
# For sending signals: "kill -INT $WT_PID" arrives in the program as a
# console CTRL_C_EVENT (the pid is the Windows process itself).
wt_run_bg() {
    local out=$1 err=$2
    shift 2
    wine "$@" </dev/null >"$out" 2>"$err" &
    WT_PID=$!
}

# wt_wait_pid PID TIMEOUT_S : wait for a background program (wt_run_bg),
# SIGKILL it after TIMEOUT_S; returns its exit status (137 if killed)
wt_wait_pid() {
    local pid=$1 t=$2 i
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid"
}

# wt_wait_for FILE REGEX TIMEOUT_S : wait until FILE contains REGEX
wt_wait_for() {
    local f=$1 re=$2 t=$3 i
    for ((i = 0; i < t * 10; i++)); do
        grep -Eq -- "$re" "$f" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wt_fake_env IN_PCAP OUT_PCAP LOG : the usual FAKE_WINDIVERT_* settings
# (clears every other FAKE_WINDIVERT_* variable first)
wt_fake_env() {
    local v
    for v in $(compgen -e | grep '^FAKE_WINDIVERT_'); do unset "$v"; done
    [ -n "$1" ] && export FAKE_WINDIVERT_IN="$1"
    [ -n "$2" ] && export FAKE_WINDIVERT_OUT="$2"
    [ -n "$3" ] && export FAKE_WINDIVERT_LOG="$3"
    rm -f -- "${2:-/nonexistent}" "${2:-/nonexistent}.addr.txt" "${3:-/nonexistent}"
    return 0
}

# wt_violations LOG : number of contract violations the fake logged
wt_violations() {
    local n
    n=$(grep -c ' VIOLATION ' "$1" 2>/dev/null)
    echo "${n:-0}"
}
