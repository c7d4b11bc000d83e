#!/bin/sh
# scripts/magisk-zip.sh OUT.zip ARM64_BINARY ARM_BINARY -- the Magisk module
# zip (make PLATFORM=android dist): dist/magisk/ plus the stripped binaries
# under bin/<ABI>/, for customize.sh to pick from. Fixed dates, modes and
# file order: the same inputs give the same zip.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 OUT.zip ARM64_BINARY ARM_BINARY" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
stage=$(dirname "$out")/magisk-module
rm -rf "$stage" "$out"
mkdir -p "$stage/bin/arm64-v8a" "$stage/bin/armeabi-v7a"
cp -R "$root/dist/magisk/." "$stage/"
rm -f "$stage/README.md"
aarch64-linux-gnu-strip -o "$stage/bin/arm64-v8a/hellosplit" "$2"
arm-linux-gnueabihf-strip -o "$stage/bin/armeabi-v7a/hellosplit" "$3"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
chmod 0755 "$stage"/*.sh "$stage"/bin/*/hellosplit "$stage/META-INF/com/google/android/update-binary"
chmod 0644 "$stage/customize.sh"     # sourced by the installer, never run
find "$stage" -exec touch -h -d '2000-01-01 00:00:00 UTC' {} +
cd "$stage"
find . -type f | sed 's|^\./||' | LC_ALL=C sort | TZ=UTC zip -qX -@ "$out"
echo "$out: $(wc -c <"$out") bytes"
