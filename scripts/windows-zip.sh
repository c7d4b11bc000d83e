#!/bin/sh
# scripts/windows-zip.sh OUT.zip HELLOSPLIT_EXE WINDIVERT_ZIP -- the Windows
# release zip (make PLATFORM=windows dist WINDIVERT_ZIP=...): hellosplit.exe,
# WinDivert.dll and WinDivert64.sys from the x64 folder of the official
# WinDivert 2.2 release zip the user downloaded, WinDivert's license, and
# dist/windows/ (README, install/uninstall scripts, with CRLF line ends).
# Fixed dates and file order: the same inputs give the same zip.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 OUT.zip HELLOSPLIT_EXE WINDIVERT_ZIP" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
exe=$2
windivert=$3
if [ -z "$windivert" ]; then
	cat >&2 <<'TEXT'
hellosplit: the Windows zip needs the WinDivert 2.2 release, which is not in this repository.
  1. Download WinDivert-2.2.2-A.zip (the "-A" build, signed drivers) from
     https://reqrypt.org/windivert.html (or github.com/basil00/WinDivert/releases).
  2. make PLATFORM=windows dist WINDIVERT_ZIP=/path/to/WinDivert-2.2.2-A.zip
The zip takes x64/WinDivert.dll and x64/WinDivert64.sys from it, unchanged.
TEXT
	exit 1
fi
[ -f "$windivert" ] || { echo "hellosplit: WINDIVERT_ZIP=$windivert: no such file." >&2; exit 1; }
[ -f "$exe" ] || { echo "hellosplit: $exe is missing: make PLATFORM=windows" >&2; exit 1; }
listing=$(unzip -Z1 "$windivert" 2>/dev/null) || {
	echo "hellosplit: $windivert is not a zip file (expected the WinDivert 2.2 release zip)." >&2; exit 1; }
# one member, by its path inside the release: WinDivert-2.2.x-A/x64/NAME
member() {
	found=$(printf '%s\n' "$listing" | grep -E "^[^/]+/$1\$" || true)
	if [ "$(printf '%s\n' "$found" | grep -c .)" != 1 ]; then
		echo "hellosplit: $windivert has no single $1 (the WinDivert 2.2 release zip has x64/WinDivert.dll," \
		     "x64/WinDivert64.sys and LICENSE in one top folder)." >&2
		exit 1
	fi
	printf '%s\n' "$found"
}
dll=$(member x64/WinDivert.dll)
sys=$(member x64/WinDivert64.sys)
license=$(member LICENSE)
case "$dll" in
WinDivert-2.2.*) ;;
*) echo "note: $windivert does not look like a WinDivert 2.2 release (top folder ${dll%%/*}); hellosplit is made for 2.2." >&2 ;;
esac

out=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
stage=$(dirname "$out")/windows-zip/hellosplit-windows
rm -rf "$(dirname "$stage")" "$out"
mkdir -p "$stage"
x86_64-w64-mingw32-strip -o "$stage/hellosplit.exe" "$exe"
unzip -p "$windivert" "$dll" >"$stage/WinDivert.dll"
unzip -p "$windivert" "$sys" >"$stage/WinDivert64.sys"
for f in README-windows.txt install.cmd uninstall.cmd; do
	sed 's/\r*$/\r/' "$root/dist/windows/$f" >"$stage/$f"
done
sed 's/\r*$/\r/' >"$stage/WinDivert-LICENSE.txt" <<TEXT
WinDivert.dll and WinDivert64.sys are WinDivert 2.2 by basil00
(https://reqrypt.org/windivert.html), unchanged from $(basename "$windivert").
Its license follows.

TEXT
unzip -p "$windivert" "$license" | sed 's/\r*$/\r/' >>"$stage/WinDivert-LICENSE.txt"
find "$stage" -type f -exec chmod 0644 {} +
find "$stage" -exec touch -h -d '2000-01-01 00:00:00 UTC' {} +
cd "$(dirname "$stage")"
find hellosplit-windows -type f | LC_ALL=C sort | TZ=UTC zip -qX -@ "$out"
echo "$out: $(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
