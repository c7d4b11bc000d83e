#!/bin/sh
# The man page, README, --help and the option table must agree; the man page
# renders cleanly; the systemd unit verifies; install/uninstall work.
#   tests/docs/check_docs.sh BINARY
set -u
bin=${1:-build/hellosplit}
fails=0
passes=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# Every option of the table (all platforms) is documented in the man page
# and the README, and the man page names no option that does not exist.
sed -n 's/^\t{"\([a-z0-9-]*\)", .*/\1/p' src/config.c | sort -u >"$tmp/table"
[ -s "$tmp/table" ] || fail "no options found in src/config.c"
grep -oE '\\-\\-([a-z0-9]|\\-)+' doc/hellosplit.8 | sed 's/\\-/-/g; s/^--//' | sort -u >"$tmp/man"
grep -o -- '--[a-z0-9][a-z0-9-]*' README.md | sed 's/^--//' | sort -u >"$tmp/readme"
for o in $(cat "$tmp/table"); do
	grep -qx -- "$o" "$tmp/man" && pass || fail "--$o is not in doc/hellosplit.8"
	grep -qx -- "$o" "$tmp/readme" && pass || fail "--$o is not in README.md"
done
for o in $(cat "$tmp/man"); do
	[ "$o" = name ] && continue
	grep -qx -- "${o#no-}" "$tmp/table" && pass || grep -q -- "\"$o\"" src/*.c && pass ||
		fail "doc/hellosplit.8 names --$o, which no code knows"
done
# --help of this build lists exactly this platform's options.
"$bin" --help >"$tmp/help" || fail "--help exited non-zero"
for o in $(grep -o -- '--[a-z0-9][a-z0-9-]*' "$tmp/help" | sed 's/^--//' | sort -u); do
	case $o in name | no-) continue ;; esac
	grep -qx -- "$o" "$tmp/table" && pass || fail "--help shows --$o, not in the option table"
done
"$bin" --version | grep -q "^hellosplit [0-9]" && pass || fail "--version"
grep -q "$("$bin" --version | cut -d' ' -f2)" doc/hellosplit.8 && pass || fail "man page version differs from --version"

# The man page renders without a warning.
if LC_ALL=C groff -man -ww -z doc/hellosplit.8 2>"$tmp/groff" && [ ! -s "$tmp/groff" ]; then pass; else
	fail "groff warnings: $(cat "$tmp/groff")"; fi

# README starts with the two commands, and .ci/run runs the test one.
head -n 30 README.md | grep -q 'make run' && pass || fail "README does not start with make run"
head -n 30 README.md | grep -q 'make check' && pass || fail "README does not start with make check"
grep -qx 'make check' .ci/run && pass || fail ".ci/run does not run make check"

# install / uninstall into a staging root; the unit verifies.
make -s install DESTDIR="$tmp/root" PREFIX=/usr >/dev/null && pass || fail "make install"
for f in usr/sbin/hellosplit usr/share/man/man8/hellosplit.8 etc/systemd/system/hellosplit.service etc/hellosplit.conf; do
	[ -f "$tmp/root/$f" ] && pass || fail "make install did not install /$f"
done
"$tmp/root/usr/sbin/hellosplit" --config "$tmp/root/etc/hellosplit.conf" --version >/dev/null && pass ||
	fail "the shipped /etc/hellosplit.conf is not accepted"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/manpath/man8" && cp doc/hellosplit.8 "$tmp/manpath/man8/"
	sed "s|/usr/sbin/hellosplit|$tmp/root/usr/sbin/hellosplit|g" "$tmp/root/etc/systemd/system/hellosplit.service" \
		>"$tmp/hellosplit.service"
	if MANPATH="$tmp/manpath" systemd-analyze verify "$tmp/hellosplit.service" >"$tmp/verify" 2>&1; then pass; else
		fail "systemd-analyze verify: $(cat "$tmp/verify")"; fi
else
	fail "systemd-analyze missing (package systemd)"
fi
make -s uninstall DESTDIR="$tmp/root" PREFIX=/usr >/dev/null && pass || fail "make uninstall"
[ ! -e "$tmp/root/usr/sbin/hellosplit" ] && pass || fail "make uninstall left the binary"
[ -f "$tmp/root/etc/hellosplit.conf" ] && pass || fail "make uninstall removed the user's config"

# The repository is its own reference: no file points at a document outside
# it (the design and testing docs are doc/design.md and doc/testing.md), and
# every doc/ and README link to a file of the tree exists.
outside=$(git ls-files -z 2>/dev/null | xargs -0 grep -lIE '(\.\./shared/|(^|[^/a-z])(DESIGN|TESTING)\.md)' 2>/dev/null)
[ -z "$outside" ] && pass || fail "these files point at documents outside the repository: $outside"
for f in doc/design.md doc/testing.md; do [ -s "$f" ] && pass || fail "$f is missing"; done
for ref in $(grep -ohE '`(doc|src|tests|dist|bench|scripts)/[A-Za-z0-9_./-]+`' README.md doc/*.md | tr -d '`' | sort -u); do
	case $ref in *'*'*) continue ;; esac
	[ -e "$ref" ] && pass || fail "README.md or doc/ names $ref, which does not exist"
done

# Every shell script in dist/ parses.
for s in $(find dist -type f \( -name '*.sh' -o -path '*/init.d/*' -o -name hellosplit \) 2>/dev/null); do
	head -n1 "$s" | grep -q '^#!.*sh' || continue
	sh -n "$s" && pass || fail "sh -n $s"
done

echo "docs: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
