#!/bin/bash
# tests/e2e/test_everyday.sh -- what people who run hellosplit every day
# rely on, in the desktop topology with the first-packet censor:
#   1. --hostlist with only the blocked name: that name is split and loads,
#      an allowed name's hello reaches the server in one segment (capture);
#   2. SIGHUP reloads the list mid-run: after the list is changed to hold
#      the allowed name only, the blocked name is no longer split (blocked)
#      and the allowed one is (capture), without a restart (same PIDs);
#      a bad list on reload keeps the old one;
#   3. --observe changes no packet: the blocked name stays blocked, the
#      server's capture shows the hello whole, yet the log says where it
#      would have split;
#   4. the engine sees one packet per connection: its hello, never a bare
#      ACK (u32 payload rules), nothing once the server answered (owner +
#      connbytes reply avgpkt), and other rules of
#      mangle POSTROUTING after hellosplit's still see every packet (a DSCP
#      rule marks every client segment, split ones included);
#   5. a second hellosplit on another queue refuses to start and leaves the
#      first one's rules in place;
#   6. doctor: all good on a clean namespace (exit 0); with hellosplit's
#      rules installed it names them and exits 1.
# E2E_ENGINE=tc (run.sh test_everyday@tc): --hostlist refused in one line,
# --observe, a second instance refused, doctor names the running program.
# Needs root.  Last line "e2e: N passed, N failed"; exit non-zero on failure.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
hs_require

B=$E2E_BLOCKED
A=${E2E_ALLOWED[0]}
T=$(e2e_tmpdir)

section() { printf '\n=== %s\n' "$*"; }

# segments PCAP NAME: "first-segment-size segments" of NAME's first hello in PCAP.
hello_of() {
	"$E2E_PY" "$E2E_DIR/hello_segments.py" "$1" 2>/dev/null |
		awk -v want="$2" '$0 ~ /^stream/ && index($0, "sni=") { print }' >"$T/streams.txt"
	"$E2E_PY" - "$1" "$2" <<'EOF'
import subprocess, sys
pcap, name = sys.argv[1], sys.argv[2]
out = subprocess.run(["tshark", "-r", pcap, "-Y", "tls.handshake.type == 1", "-T", "fields",
                      "-e", "tcp.stream", "-e", "tls.handshake.extensions_server_name"],
                     capture_output=True, text=True).stdout
streams = [l.split("\t")[0] for l in out.splitlines() if l.endswith("\t" + name)]
if not streams:
    print("none")
    sys.exit(0)
seg = subprocess.run(["tshark", "-r", pcap, "-Y", "tcp.stream == %s && tcp.dstport == 443 && tcp.len > 0" % streams[0],
                      "-T", "fields", "-e", "tcp.len"], capture_output=True, text=True).stdout.split()
print(seg[0] if seg else "none")
EOF
}

topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"

# With E2E_ENGINE=tc (run.sh test_everyday@tc), the same everyday needs on
# the tc engine: --hostlist is refused in one line (the program has no host
# lists), --observe, a second instance refused, doctor naming the running one.
if [[ $E2E_ENGINE == tc ]]; then
	section "tc 1. --hostlist"
	printf '%s\n' "$B" >"$T/hosts"
	hs_run "$E2E_NS_CLI" --hostlist "$T/hosts"
	expect_eq "tc --hostlist: exit 1" 1 "$HS_RC"
	expect_ok "tc --hostlist: one clear line" grep -q "^hellosplit: --engine tc cannot serve --hostlist" "$HS_OUT"

	section "tc 3. --observe"
	hs_start "$E2E_NS_CLI" --observe || e2e_die "hellosplit --observe did not start"
	capture_start "$E2E_NS_SRV" eth0 "$T/observe.pcap" tcp port 443
	expect_blocked "tc observe: $B still blocked" fetch_curl "$B" 4
	expect_ok "tc observe: $A loads" fetch_curl "$A" 4
	capture_stop "$T/observe.pcap"
	hs_stop INT
	expect_eq "tc observe: $A's hello arrives whole" 517 "$(hello_of "$T/observe.pcap" "$A")"
	expect_ok "tc observe: the log says where it would split" grep -q "sni=$B would split at 5 (window 517)" "$HS_LOG"

	section "tc 5. a second instance"
	hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
	first=$HS_PID firstlog=$HS_LOG
	hs_run "$E2E_NS_CLI" --split-at 5
	expect_eq "tc second instance: exit 1" 1 "$HS_RC"
	expect_ok "tc second instance: says another hellosplit runs" grep -q "another hellosplit runs in this network namespace" "$HS_OUT"
	expect_eq "tc second instance: the first one's program still at eth0" hellosplit_l2 \
		"$(tcx_progs "$E2E_NS_CLI" eth0 | awk '{ print $1 }')"
	expect_ok "tc: first instance still splits: $B loads" fetch_curl "$B" 4
	HS_PID=$first HS_LOG=$firstlog

	section "tc 6. doctor"
	hs_run "$E2E_NS_CLI" doctor
	expect_eq "tc doctor with hellosplit running: exit 1" 1 "$HS_RC"
	expect_ok "tc doctor names where the program is attached" grep -q "hellosplit's tc program is attached to eth0" "$HS_OUT"
	hs_stop INT
	hs_run "$E2E_NS_CLI" doctor --no-learn
	expect_eq "tc doctor on a clean namespace: exit 0" 0 "$HS_RC"
	expect_ok "tc doctor: the tc engine" grep -q "engine: tc" "$HS_OUT"
	sed 's/^/      | /' "$HS_OUT"
	e2e_summary
	exit
fi

section "1. --hostlist with the blocked name only"
printf '# test list\n%s\n' "$B" >"$T/hosts"
hs_start "$E2E_NS_CLI" --hostlist "$T/hosts" || e2e_die "hellosplit did not start"
pid=$HS_PID
child=$(hs_child)
capture_start "$E2E_NS_SRV" eth0 "$T/list1.pcap" tcp port 443
expect_ok "hostlist: $B loads" fetch_curl "$B" 4
expect_ok "hostlist: $A loads" fetch_curl "$A" 4
capture_stop "$T/list1.pcap"
expect_eq "hostlist: $B's first hello segment is 5 bytes" 5 "$(hello_of "$T/list1.pcap" "$B")"
expect_eq "hostlist: $A's hello arrives whole (517 bytes)" 517 "$(hello_of "$T/list1.pcap" "$A")"

section "2. SIGHUP reload"
printf '%s\n' "$A" >"$T/hosts"
kill -HUP "$pid"
sleep 0.3
expect_ok "reload logged" grep -q "host lists reloaded: 1 names to split" "$HS_LOG"
capture_start "$E2E_NS_SRV" eth0 "$T/list2.pcap" tcp port 443
expect_blocked "after reload: $B no longer split (blocked)" fetch_curl "$B" 4
expect_ok "after reload: $A loads" fetch_curl "$A" 4
capture_stop "$T/list2.pcap"
expect_eq "after reload: $A's first hello segment is 5 bytes" 5 "$(hello_of "$T/list2.pcap" "$A")"
expect_eq "same parent after reload" "$pid" "$HS_PID"
expect_eq "same packet process after reload" "$child" "$(hs_child)"
printf 'bad name here\n' >"$T/hosts"
kill -HUP "$pid"
sleep 0.3
expect_ok "bad list on reload: reported with its line number" grep -q "hosts:1: 'bad name here'" "$HS_LOG"
expect_ok "bad list on reload: the old list stays" grep -q "the old ones stay in use" "$HS_LOG"
expect_ok "bad list on reload: $A still split and loads" fetch_curl "$A" 4
hs_stop INT
expect_eq "hostlist run: exit 0" 0 "$HS_RC"
expect_eq "hostlist run: flows passed by the list" 2 "$(hs_stat pass_hostlist)"

section "3. --observe"
hs_start "$E2E_NS_CLI" --observe || e2e_die "hellosplit --observe did not start"
capture_start "$E2E_NS_SRV" eth0 "$T/observe.pcap" tcp port 443
expect_blocked "observe: $B still blocked" fetch_curl "$B" 4
expect_ok "observe: $A loads" fetch_curl "$A" 4
capture_stop "$T/observe.pcap"
hs_stop INT
expect_eq "observe: $A's hello arrives whole" 517 "$(hello_of "$T/observe.pcap" "$A")"
expect_ok "observe: the log says where it would split" grep -q "sni=$B would split at 5 (window 517)" "$HS_LOG"
expect_eq "observe: flows_split counted" 2 "$(hs_stat flows_split)"

section "4. one queue trip per connection; later mangle rules still see every packet"
for fam in iptables ip6tables; do
	nsx "$E2E_NS_CLI" "$fam" -w -t mangle -A POSTROUTING -p tcp --dport 443 -j DSCP --set-dscp 10
done
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
capture_start "$E2E_NS_SRV" eth0 "$T/dscp.pcap" tcp port 443
for i in 1 2 3 4 5; do
	expect_ok "fetch $i of $B loads" fetch_curl "$B" 4
done
capture_stop "$T/dscp.pcap"
hs_stop INT
flows=$(hs_stat flows)
packets=$(hs_stat packets)
expect_eq "5 connections, 5 flows" 5 "$flows"
# curl's hello only: a SYN or the handshake's ACK would add packets, and so
# would the client's Finished if the rule that lets a local flow go once the
# server has answered (owner + connbytes reply avgpkt) did not work.
expect_eq "packets the engine saw: one per connection (no SYN, no bare ACK, nothing after the answer)" \
	"$flows" "$packets"
notdscp=$(tshark -r "$T/dscp.pcap" -Y 'tcp.dstport == 443 && ip.dsfield.dscp != 10' 2>/dev/null | wc -l)
alls=$(tshark -r "$T/dscp.pcap" -Y 'tcp.dstport == 443' 2>/dev/null | wc -l)
expect_eq "every client packet of $alls carries the DSCP a later mangle rule sets" 0 "$notdscp"
for fam in iptables ip6tables; do
	nsx "$E2E_NS_CLI" "$fam" -w -t mangle -D POSTROUTING -p tcp --dport 443 -j DSCP --set-dscp 10
done

section "5. a second instance on another queue"
hs_start "$E2E_NS_CLI" || e2e_die "hellosplit did not start"
first=$HS_PID
before=$(fw_rules "$E2E_NS_CLI")
hs_run "$E2E_NS_CLI" --queue-num 201
expect_eq "second instance: exit 1" 1 "$HS_RC"
expect_ok "second instance: says another hellosplit is running" grep -q "another hellosplit is running here" "$HS_OUT"
expect_eq "second instance: the first one's rules are untouched" "$before" "$(fw_rules "$E2E_NS_CLI")"
expect_ok "first instance still splits: $B loads" fetch_curl "$B" 4
HS_PID=$first

section "6. doctor"
hs_run "$E2E_NS_CLI" doctor
expect_eq "doctor with hellosplit running: exit 1" 1 "$HS_RC"
expect_ok "doctor names the installed rules" grep -q "hellosplit rules are installed" "$HS_OUT"
hs_stop INT
hs_run "$E2E_NS_CLI" doctor
expect_eq "doctor on a clean namespace: exit 0" 0 "$HS_RC"
expect_ok "doctor: queue works" grep -q "ok       nfnetlink_queue works" "$HS_OUT"
expect_ok "doctor: connbytes found" grep -q "ok       connbytes match" "$HS_OUT"
sed 's/^/      | /' "$HS_OUT"
expect_eq "doctor left no scratch chain" "" "$(nsx "$E2E_NS_CLI" iptables-save -t mangle | grep DOCTOR)"

e2e_summary
