#!/system/bin/sh
# stop.sh -- stop hellosplit and remove its firewall rules until service.sh
# runs again (at the next boot, or by hand):
#   su -c sh /data/adb/modules/hellosplit/stop.sh
MODDIR=${0%/*}
BIN=$MODDIR/hellosplit
LOG=$MODDIR/hellosplit.log
RUN=$MODDIR/run

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') stop.sh: $*" >>"$LOG"; }
# shellcheck source=SCRIPTDIR/lock.sh
. "$MODDIR/lock.sh"

mkdir -p "$RUN"
# Under the lock the supervisor is either before its check of run/stopped
# (it will not start the daemon) or past writing the daemon's pid.
locked=1
lock $$ || { locked=0; log "stopping without the lock (see the line above)"; }
: >"$RUN/stopped"
pid=$(cat "$RUN/hellosplit.pid" 2>/dev/null)
# Only our own hellosplit: after a crash the PID may belong to anything.
if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ]; then
	log "stopping hellosplit (pid $pid)"
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$pid" 2>/dev/null && log "hellosplit (pid $pid) did not stop within 10 s"
fi
# Whatever a crash left behind: hellosplit's chains, in every table it uses.
"$BIN" --rules-remove >>"$LOG" 2>&1
if [ "$locked" = 1 ]; then unlock; fi
