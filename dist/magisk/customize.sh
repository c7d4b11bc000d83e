# shellcheck shell=sh
# customize.sh -- sourced by Magisk's module installer once the zip is
# unpacked in $MODPATH: keep the hellosplit binary of this device's ABI,
# keep the settings of an installed copy, set permissions.
# Magisk provides ARCH, API, MODPATH, NVBASE, MODID, ui_print, abort, set_perm*.
# shellcheck disable=SC2154

case "$ARCH" in
arm64) abi=arm64-v8a ;;
arm) abi=armeabi-v7a ;;
*) abort "! hellosplit is built for arm64-v8a and armeabi-v7a only; this device is $ARCH. Nothing was installed." ;;
esac
[ -f "$MODPATH/bin/$abi/hellosplit" ] || abort "! the zip has no $abi binary (bin/$abi/hellosplit): rebuild it with make PLATFORM=android dist."
mv -f "$MODPATH/bin/$abi/hellosplit" "$MODPATH/hellosplit"
rm -rf "${MODPATH:?}/bin"

installed=${NVBASE:-/data/adb}/modules/${MODID:-hellosplit}
if [ -f "$installed/hellosplit.conf" ]; then
	cp -f "$installed/hellosplit.conf" "$MODPATH/hellosplit.conf"
	ui_print "- kept the settings of the installed version (hellosplit.conf)"
fi

set_perm_recursive "$MODPATH" 0 0 0755 0644
set_perm "$MODPATH/hellosplit" 0 0 0755

ui_print "- hellosplit for $abi installed; it starts at the next boot."
ui_print "- settings: $installed/hellosplit.conf, log: $installed/hellosplit.log"
# Warnings only: the daemon says exactly what is missing in its log.
[ "${API:-0}" -ge 26 ] || ui_print "! Android older than 8.0: its iptables may not accept -w SECONDS; untested."
[ -e /proc/net/netfilter/nfnetlink_queue ] ||
	ui_print "! /proc/net/netfilter/nfnetlink_queue is missing: this kernel may lack NFQUEUE."
