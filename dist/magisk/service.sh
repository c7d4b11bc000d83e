#!/system/bin/sh
# service.sh -- Magisk runs this at late_start: once boot has completed
# (netd has set up its chains by then), run hellosplit with the options of
# hellosplit.conf and restart it if it dies. Its output goes to
# hellosplit.log; the previous boot's log is kept as hellosplit.log.old.
# Start by hand after stop.sh: su -c sh /data/adb/modules/hellosplit/service.sh
MODDIR=${0%/*}
BIN=$MODDIR/hellosplit
CONF=$MODDIR/hellosplit.conf
LOG=$MODDIR/hellosplit.log
RUN=$MODDIR/run

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') service.sh: $*" >>"$LOG"; }
# shellcheck source=SCRIPTDIR/lock.sh
. "$MODDIR/lock.sh"

# A supervisor of this module runs (the pid file of an earlier boot may
# name some other process by now).
supervised() {
	pid=$(cat "$RUN/supervisor.pid" 2>/dev/null) && [ -n "$pid" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MODDIR/service.sh"
}
already() {
	echo "hellosplit is already running (supervisor $(cat "$RUN/supervisor.pid")); stop.sh stops it." >&2
	exit 1
}

mkdir -p "$RUN"
lock $$ || exit 1
if supervised; then
	unlock
	already
fi
rm -f "$RUN/stopped"
unlock

until [ "$(getprop sys.boot_completed)" = 1 ]; do
	sleep 1
done

# Restarts hellosplit unless stop.sh asked for the stop, the options are
# wrong (exit 2) or it failed 5 times in a row within a minute of starting.
# Under the lock, the daemon is started only when stop.sh has not run, and
# its pid is written before stop.sh can look for it.
supervise() {
	read -r self _ </proc/self/stat      # this subshell's pid ($$ is service.sh's)
	fails=0
	while lock "$self"; do
		if [ -f "$RUN/stopped" ]; then
			unlock
			break
		fi
		started=$(date +%s)
		log "starting $BIN --config $CONF"
		"$BIN" --config "$CONF" >>"$LOG" 2>&1 &
		daemon=$!
		echo "$daemon" >"$RUN/hellosplit.pid"
		unlock
		wait "$daemon"
		rc=$?
		rm -f "$RUN/hellosplit.pid"
		[ -f "$RUN/stopped" ] && break
		log "hellosplit exited with status $rc"
		if [ "$rc" -eq 2 ]; then
			log "fix the options in $CONF, then run service.sh again"
			break
		fi
		if [ $(($(date +%s) - started)) -lt 60 ]; then
			fails=$((fails + 1))
		else
			fails=0
		fi
		if [ "$fails" -ge 5 ]; then
			log "failed 5 times in a row; not restarting (see the lines above)"
			break
		fi
		sleep 5
	done
	rm -f "$RUN/supervisor.pid"
}

lock $$ || exit 1
supervised && { unlock; already; }
if [ -f "$RUN/stopped" ]; then
	unlock
	echo "stop.sh ran while service.sh waited for the boot to complete; not starting." >&2
	exit 1
fi
[ -f "$LOG" ] && mv -f "$LOG" "$LOG.old"
supervise </dev/null >/dev/null 2>&1 &
echo $! >"$RUN/supervisor.pid"
unlock
