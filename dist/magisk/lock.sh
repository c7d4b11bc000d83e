# shellcheck shell=sh
# lock.sh -- sourced by service.sh and stop.sh (with MODDIR, RUN and log set):
# one lock, so that starting the daemon (check run/stopped, start it, write
# its pid) and stopping it (mark stopped, kill that pid, remove the rules)
# never interleave. The lock is the symlink run/lock, whose target names the
# holder's pid: creating a symlink is atomic and fails when it exists, in
# toybox and busybox alike.

# The holder is gone (killed, or the lock is from an earlier boot and its pid
# names another process now).
lock_stale() {
	holder=$(readlink "$RUN/lock" 2>/dev/null) || return 1
	holder=${holder#pid-}
	! tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | grep -q "$MODDIR/"
}

# lock PID -- wait up to 30 s (stop.sh holds it for up to 10 s); 1 on timeout.
lock() {
	tries=0
	until ln -s "pid-$1" "$RUN/lock" 2>/dev/null; do
		if lock_stale; then
			# only the stale link itself, not one a waiter took meanwhile
			[ "$(readlink "$RUN/lock" 2>/dev/null)" = "pid-$holder" ] && rm -f "$RUN/lock"
			continue
		fi
		tries=$((tries + 1))
		if [ "$tries" -ge 300 ]; then
			log "run/lock is held by pid $(readlink "$RUN/lock" 2>/dev/null | sed 's/^pid-//') for 30 s"
			return 1
		fi
		sleep 0.1
	done
}

unlock() { rm -f "$RUN/lock"; }
