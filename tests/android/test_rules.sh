#!/bin/bash
# tests/android/test_rules.sh -- hellosplit's rules inside Android's netfilter
# layout, on this kernel (no phone needed):  cli(hellosplit) -- rtr(censor
# first-packet) -- srv(nginx).  The client namespace is set up like a phone:
#
#   * netd's child chains hooked in mangle POSTROUTING, appended, as netd's
#     Controllers::initChildChains does (oem_mangle_post, bw_mangle_POSTROUTING
#     clearing the uidBillingDone bit 0x100000, idletimer_mangle_POSTROUTING);
#   * netd's socket marks: on a phone every app socket carries netId 100 and
#     explicitlySelected (0x10064 in mask 0x1ffff) from connect() on; curl has
#     no SO_MARK, so mangle OUTPUT sets that mark on every packet that has no
#     mark at all, which re-routes it exactly as a socket mark would.
#     hellosplit's raw sockets set a mark (SO_MARK), so that rule leaves
#     their packets alone: they leave with what hellosplit set, nothing else;
#   * policy routing by that mark: `ip rule fwmark 0x10064/0x1ffff lookup 100`
#     holds the only route to the server; the main table sends everything else
#     into a veth pair where nothing answers, so a packet without netd's bits
#     is lost.
#
# Proved, IPv4 and IPv6:
#   1. without hellosplit the blocked name is reset, allowed names load (the
#      control), and the routing discriminates: mark 0x40010064 leaves by
#      eth0, 0x40000000 (hellosplit's bit alone) into the black hole;
#   2. with hellosplit (the static x86_64 build) started as on Android, where
#      there is no /etc/passwd (an empty one is mounted over it in the
#      daemon's private mount namespace): the packet path runs as 65534;
#      with a passwd file of its own it takes nobody's uid from there (no
#      NSS); its jump is first in POSTROUTING, netd's follow; the blocked name
#      loads; every injected segment left with netd's bits and hellosplit's
#      (counted after netd's chains: mark 0x40010064), none with hellosplit's
#      bit alone; re-running netd's chain setup (as after a netd restart)
#      leaves hellosplit's jump first and working;
#   3. a normal exit, and `--rules-remove` after kill -9 (with fail-open in
#      between: allowed names still load), leave the rules exactly as found;
#   4. the connmark fallback of a kernel without connbytes: the daemon runs in
#      a private mount namespace where iptables answers every rule using
#      connbytes the way it does when the kernel lacks the match -- once with
#      iptables 1.8's "missing kernel module?" warning, once with nothing but
#      "No chain/target/match by that name." -- and nothing else changes.
#      The daemon must fall back on its own (its real decision code, its own
#      argv: no test hook in the program), install queue rules without
#      connbytes, split the blocked name v4 and v6, mark the flows done in
#      conntrack, call iptables with -w 10 every time, and leave the rules
#      as found.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HELLOSPLIT=${HELLOSPLIT:-$ROOT/build/static/hellosplit}
. "$ROOT/tests/e2e/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools unshare mount pgrep
hs_require

B=$E2E_BLOCKED
A=${E2E_ALLOWED[0]}
T=$(e2e_tmpdir)
NETD_MARK=0x10064       # netId 100 | explicitlySelected
NETD_MASK=0x1ffff
FWMARK=0x40000000       # hellosplit's default --fwmark
DONE=0x20000000         # hellosplit's default --done-mark
BOTH=0x40010064

section() { printf '\n=== %s\n' "$*"; }

# mk_launcher NAME SETUP -- $T/hs-NAME starts hellosplit in a private mount
# namespace after the shell command SETUP (exec all the way: the PID hs_start
# sees is hellosplit's own).
mk_launcher() {
    cat >"$T/hs-$1" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c '$2 && exec "\$0" "\$@"' "$HELLOSPLIT" "\$@"
EOF
    chmod 755 "$T/hs-$1"
}

ipt() { # FAMILY ARGS...  -- iptables or ip6tables in the client namespace
    local fam=$1
    shift
    if [[ $fam == 4 ]]; then nsx "$E2E_NS_CLI" iptables -w "$@"; else nsx "$E2E_NS_CLI" ip6tables -w "$@"; fi
}

# netd's mangle POSTROUTING children, as Controllers::createChildChains does
# for a chain it does not own exclusively: (re)create and flush each child,
# append its jump only when missing, then the children's own rules.
netd_chains() {
    local fam c
    for fam in 4 6; do
        for c in oem_mangle_post bw_mangle_POSTROUTING idletimer_mangle_POSTROUTING; do
            ipt "$fam" -t mangle -N "$c" 2>/dev/null || ipt "$fam" -t mangle -F "$c"
            ipt "$fam" -t mangle -C POSTROUTING -j "$c" 2>/dev/null || ipt "$fam" -t mangle -A POSTROUTING -j "$c"
        done
        ipt "$fam" -t mangle -A bw_mangle_POSTROUTING -j MARK --set-mark 0x0/0x100000
        ipt "$fam" -t mangle -A bw_mangle_POSTROUTING -m owner --socket-exists
        # Counting rules (no target): what leaves towards the server, by mark.
        ipt "$fam" -t mangle -A idletimer_mangle_POSTROUTING -p tcp --dport 443 -m mark --mark "$BOTH/0xffffffff"
        ipt "$fam" -t mangle -A idletimer_mangle_POSTROUTING -p tcp --dport 443 -m mark --mark "$FWMARK/0x4001ffff"
    done
}

# packets counted by the idletimer rule matching MARK/MASK (both families)
count_mark() { # FAMILY MARK
    ipt "$1" -t mangle -L idletimer_mangle_POSTROUTING -n -v -x |
        awk -v m="$2" '$0 ~ "mark match " m { s += $1 } END { print s + 0 }'
}

# ------------------------------------------------------------------ set-up

section "topology: a phone-like client"
topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
C=$E2E_NS_CLI
# The black hole: a veth pair inside the client (this kernel has no dummy
# driver). Nothing answers ARP/NDP behind bh0, so what goes there is lost.
nsx "$C" ip link add bh0 type veth peer name bh1
nsx "$C" ip link set bh1 up
nsx "$C" ip link set bh0 up
for fam in 4 6; do
    if [[ $fam == 4 ]]; then gw=$E2E_CLIGW4; else gw=$E2E_CLIGW6; fi
    nsx "$C" ip -"$fam" route add default via "$gw" dev eth0 table 100
    nsx "$C" ip -"$fam" route replace default dev bh0
    nsx "$C" ip -"$fam" rule add fwmark "$NETD_MARK/$NETD_MASK" lookup 100 pref 100
    ipt "$fam" -t mangle -A OUTPUT -m mark --mark 0 -j MARK --set-xmark "$NETD_MARK/$NETD_MASK"
done
netd_chains

section "1. control: the layout discriminates, the censor blocks"
for fam in 4 6; do
    if [[ $fam == 4 ]]; then dst=$E2E_SRV4; else dst=$E2E_SRV6; fi
    expect_eq "v$fam: mark $BOTH (netd's bits and hellosplit's) is routed by eth0" eth0 \
        "$(nsx "$C" ip -"$fam" route get "$dst" mark "$BOTH" | grep -o 'dev [^ ]*' | cut -d' ' -f2)"
    expect_eq "v$fam: mark $FWMARK (hellosplit's bit alone) goes into the black hole" bh0 \
        "$(nsx "$C" ip -"$fam" route get "$dst" mark "$FWMARK" | grep -o 'dev [^ ]*' | cut -d' ' -f2)"
    expect_ok "v$fam: $A loads (the socket mark emulation routes curl's packets)" fetch_curl "$A" "$fam"
    expect_blocked "v$fam: $B is reset without hellosplit" fetch_curl "$B" "$fam"
done
BEFORE=$(fw_rules "$C")
BEFORE_SAVE=$(fw_save_plain "$C")

# ------------------------------------------------------------------ 2.

section "2. hellosplit in the Android layout"
printf 'root:x:0:0::/root:/bin/sh\nnobody:x:4242:4343::/:/bin/false\n' >"$T/passwd"
mk_launcher passwd "mount --bind $T/passwd /etc/passwd"
HS_BIN=$T/hs-passwd
if hs_start "$C"; then
    expect_eq "with its own /etc/passwd the packet path runs as that nobody (static, no NSS)" "4242 4343" \
        "$(proc_status "$(hs_child)" Uid | awk '{ print $1 }') $(proc_status "$(hs_child)" Gid | awk '{ print $1 }')"
    hs_stop INT
else
    e2e_fail "hellosplit does not start with a passwd file of its own"
fi
mk_launcher android "mount --bind /dev/null /etc/passwd"
HS_BIN=$T/hs-android
if hs_start "$C"; then
    e2e_pass "hellosplit ($HELLOSPLIT) starts with no /etc/passwd entries, as on Android"
else
    e2e_fail "hellosplit does not start"
    e2e_summary
    exit 1
fi
expect_eq "no /etc/passwd: the packet path runs as 65534:65534" "65534 65534" \
    "$(proc_status "$(hs_child)" Uid | awk '{ print $1 }') $(proc_status "$(hs_child)" Gid | awk '{ print $1 }')"
for fam in 4 6; do
    expect_eq "v$fam: mangle POSTROUTING: hellosplit's jump first, netd's after it in order" \
        "HELLOSPLIT oem_mangle_post bw_mangle_POSTROUTING idletimer_mangle_POSTROUTING" \
        "$(ipt "$fam" -t mangle -S POSTROUTING | awk '$1 == "-A" { printf "%s%s", s, $NF; s = " " }')"
done
for fam in 4 6; do
    expect_ok "v$fam: $B loads through hellosplit" fetch_curl "$B" "$fam"
    expect_ok "v$fam: $A loads through hellosplit" fetch_curl "$A" "$fam"
done
for fam in 4 6; do
    both=$(count_mark "$fam" "$BOTH")
    alone=$(count_mark "$fam" "$FWMARK/0x4001ffff")
    if [[ $both -ge 4 ]]; then
        e2e_pass "v$fam: $both injected segments left with netd's bits and hellosplit's ($BOTH)"
    else
        e2e_fail "v$fam: only $both packets left with mark $BOTH (want >= 4: two split hellos)"
    fi
    expect_eq "v$fam: no packet left with hellosplit's bit alone" 0 "$alone"
done
grep -q 'could not be injected\|injecting a' "$HS_LOG" && e2e_fail "injection errors in the log" "$(grep inject "$HS_LOG" | head -2)"

section "2b. netd sets up its chains again (a netd restart)"
netd_chains
for fam in 4 6; do
    expect_eq "v$fam: hellosplit's jump is still first" HELLOSPLIT \
        "$(ipt "$fam" -t mangle -S POSTROUTING | awk '$1 == "-A" { print $NF; exit }')"
    expect_ok "v$fam: $B still loads" fetch_curl "$B" "$fam"
done

# ------------------------------------------------------------------ 3.

section "3. removal leaves the rules as found"
hs_stop INT
expect_eq "normal stop: exit 0" 0 "$HS_RC"
expect_eq "normal stop: rules, chains and policies as before (fw_rules)" "$BEFORE" "$(fw_rules "$C")"
expect_eq "normal stop: iptables-save text as before (comments, counters aside)" "$BEFORE_SAVE" "$(fw_save_plain "$C")"
expect_blocked "v4: $B is reset again after the stop" fetch_curl "$B" 4

hs_start "$C" || e2e_fail "hellosplit does not start a second time"
child=$(hs_child)
kill -KILL "$HS_PID" "$child" 2>/dev/null
hs_stop KILL
if hs_rules_present "$C"; then
    e2e_pass "kill -9: the rules stay behind (as a crash leaves them)"
else
    e2e_fail "kill -9: the rules vanished, so --rules-remove below proves nothing"
fi
expect_ok "kill -9: fail-open, $A still loads (queue bypass)" fetch_curl "$A" 4
hs_run "$C" --rules-remove
expect_eq "--rules-remove: exit 0" 0 "$HS_RC"
expect_eq "--rules-remove: rules, chains and policies as before" "$BEFORE" "$(fw_rules "$C")"
expect_eq "--rules-remove: iptables-save text as before" "$BEFORE_SAVE" "$(fw_save_plain "$C")"

# ------------------------------------------------------------------ 4.

# A kernel without connbytes, as iptables shows it: in a private mount
# namespace the xtables binary is replaced by a script that fails every
# command using connbytes the way iptables does there, logs every call, and
# runs a copy of the real binary for everything else.
MULTI=$(readlink -f "$(command -v iptables)")
cp "$MULTI" "$T/xtables-real"
mk_iptables() { # MODE: warning | silent
    cat >"$T/xtables-$1" <<EOF
#!/bin/sh
echo "\${0##*/} \$*" >>"$T/calls-$1.log"
for a in "\$@"; do
    if [ "\$a" = connbytes ]; then
        [ "$1" = warning ] && echo "Warning: Extension connbytes revision 0 not supported, missing kernel module?" >&2
        echo "iptables: No chain/target/match by that name." >&2
        exit 1
    fi
done
exec "$T/xtables-real" "\${0##*/}" "\$@"
EOF
    chmod 755 "$T/xtables-$1"
    mk_launcher "$1" "mount --bind $T/xtables-$1 $MULTI"
}

for mode in warning silent; do
    section "4. no connbytes in the kernel (iptables $mode about it)"
    mk_iptables "$mode"
    nsx "$C" unshare -m --propagation private sh -c \
        "mount --bind '$T/xtables-$mode' '$MULTI' && iptables -w -t mangle -C OUTPUT -m connbytes --connbytes 1:2 --connbytes-dir original --connbytes-mode packets -j RETURN" \
        >"$T/probe-$mode.out" 2>&1
    if grep -q 'No chain/target/match' "$T/probe-$mode.out"; then
        e2e_pass "control: in that mount namespace a connbytes rule fails"
    else
        e2e_fail "control: the stand-in iptables let connbytes through" "$(head -2 "$T/probe-$mode.out")"
    fi
    : >"$T/calls-$mode.log"
    nsx "$C" conntrack -F >/dev/null 2>&1
    HS_BIN=$T/hs-$mode
    if ! hs_start "$C"; then
        e2e_fail "$mode: hellosplit does not start without connbytes"
        continue
    fi
    if grep -q 'no connbytes match' "$HS_LOG"; then
        e2e_pass "$mode: the daemon says it falls back to connmark only"
    else
        e2e_fail "$mode: no fallback message in the log" "$(head -3 "$HS_LOG")"
    fi
    for fam in 4 6; do
        chain=$(ipt "$fam" -t mangle -S HELLOSPLIT 2>/dev/null)
        if grep -q -- '-j NFQUEUE' <<<"$chain" && ! grep -q connbytes <<<"$chain"; then
            e2e_pass "v$fam: queue rules installed without connbytes"
        else
            e2e_fail "v$fam: chain HELLOSPLIT is not the connmark-only variant" "$(tr '\n' ';' <<<"$chain")"
        fi
        expect_ok "v$fam: $B loads through the connmark-only rules" fetch_curl "$B" "$fam"
    done
    # Every flow to the server the engine finished is marked done, so its
    # later packets skip the queue.  Only ASSURED entries: a late ACK of a
    # connection from before the conntrack flush makes an unreplied one.
    flows=0 done_flows=0
    for m in $(for f in ipv4 ipv6; do nsx "$C" conntrack -L -f "$f" -p tcp --dport 443 2>/dev/null; done |
        grep ASSURED | grep -o 'mark=[0-9]*' | cut -d= -f2); do
        flows=$((flows + 1))
        ((m & DONE)) && done_flows=$((done_flows + 1))
    done
    if [[ $flows -ge 2 && $done_flows -eq $flows ]]; then
        e2e_pass "conntrack: all $flows connections to port 443 carry the done mark $DONE"
    else
        e2e_fail "conntrack: $done_flows of $flows connections to port 443 carry the done mark $DONE" \
            "$(for f in ipv4 ipv6; do nsx "$C" conntrack -L -f "$f" -p tcp --dport 443 2>/dev/null; done)"
    fi
    hs_stop INT
    expect_eq "$mode: normal stop: exit 0" 0 "$HS_RC"
    queued=$(hs_stat packets)
    if [[ -n $queued && $queued -le 20 ]]; then
        e2e_pass "$mode: $queued packets queued for 2 split flows (the done mark stops the queueing)"
    else
        e2e_fail "$mode: ${queued:-?} packets queued for 2 split flows"
    fi
    bad=$(grep -cv '^ip6\{0,1\}tables -w 10 ' "$T/calls-$mode.log")
    total=$(wc -l <"$T/calls-$mode.log")
    if [[ $total -gt 10 && $bad -eq 0 ]]; then
        e2e_pass "$mode: all $total iptables/ip6tables calls began with -w 10"
    else
        e2e_fail "$mode: $bad of $total iptables calls without -w 10" "$(grep -v -- ' -w 10 ' "$T/calls-$mode.log" | head -2)"
    fi
    expect_eq "$mode: rules, chains and policies as before" "$BEFORE" "$(fw_rules "$C")"
    expect_eq "$mode: iptables-save text as before" "$BEFORE_SAVE" "$(fw_save_plain "$C")"
done

e2e_summary
