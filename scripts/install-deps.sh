#!/bin/sh
# Installs the Debian packages hellosplit needs: `run` to build and run it,
# `test` to build and run every test. Only missing packages are installed.
set -eu

run_pkgs="gcc make libc6-dev iptables kmod clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool"
test_pkgs="$run_pkgs nftables iproute2 conntrack ethtool iputils-ping procps psmisc util-linux
nginx-light openssl curl gnutls-bin python3 python3-scapy libssl-dev tcpdump tshark chromium iperf3
clang llvm-14 libclang-rt-14-dev valgrind cppcheck clang-tidy shellcheck
mingw-w64 wine wine64 gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross
libc6-dev-armhf-cross qemu-user-static zip unzip man-db groff-base bc busybox dash"

case "${1:-}" in
run) want=$run_pkgs ;;
test) want=$test_pkgs ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "hellosplit: missing Debian packages:$missing" >&2
	echo "hellosplit: run as root (sudo make ...) to install them." >&2
	exit 1
fi
echo "hellosplit: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
