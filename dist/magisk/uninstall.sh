#!/system/bin/sh
# uninstall.sh -- Magisk runs this when the module is removed: stop
# hellosplit and remove its firewall rules (stop.sh).
exec sh "${0%/*}/stop.sh"
