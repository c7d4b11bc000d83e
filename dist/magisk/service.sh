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

# A supervisor of this module runs (the pid file of an earlier boot may
# name some other process by now).
supervised() {
	pid=$(cat "$RUN/supervisor.pid" 2>/dev/null) && [ -n "$pid" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MODDIR/service.sh"
}

mkdir -p "$RUN"
if supervised; then
	echo "hellosplit is already running (supervisor $(cat "$RUN/supervisor.pid")); stop.sh stops it." >&2
	exit 1
fi
rm -f "$RUN/stopped"

until [ "$(getprop sys.boot_completed)" = 1 ]; do
	sleep 1
done

[ -f "$LOG" ] && mv -f "$LOG" "$LOG.old"

# Restarts hellosplit unless stop.sh asked for the stop, the options are
# wrong (exit 2) or it failed 5 times in a row within a minute of starting.
supervise() {
	fails=0
	while [ ! -f "$RUN/stopped" ]; do
		started=$(date +%s)
		log "starting $BIN --config $CONF"
		"$BIN" --config "$CONF" >>"$LOG" 2>&1 &
		echo $! >"$RUN/hellosplit.pid"
		wait $!
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

supervise </dev/null >/dev/null 2>&1 &
echo $! >"$RUN/supervisor.pid"
