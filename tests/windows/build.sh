#!/bin/sh
# build.sh - build the fake WinDivert.dll and fake_selftest.exe (MinGW, x64).
#
#   tests/windows/build.sh [OUTDIR]          default OUTDIR: build/windows-test
#
# Environment: MINGW_CC (default x86_64-w64-mingw32-gcc), WT_CFLAGS (extra
# flags).  The same rules exist as a make fragment: tests/windows/windows.mk.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build/windows-test}
CC=${MINGW_CC:-x86_64-w64-mingw32-gcc}
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror ${WT_CFLAGS:-}"

mkdir -p "$OUT"
set -x
$CC $CFLAGS -I"$ROOT/src" -shared -s -o "$OUT/WinDivert.dll" \
    "$HERE/fake_windivert.c" "$HERE/fake_windivert.def"
$CC $CFLAGS -I"$ROOT/src" -o "$OUT/fake_selftest.exe" "$HERE/fake_selftest.c"
