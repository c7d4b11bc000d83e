#!/bin/bash
# tests/e2e/test_adversarial.sh -- hostile input against the real daemon
# (issue 8), desktop case: cli(hellosplit) -- rtr(first-packet censor for
# the blocked name) -- srv(nginx).  Each case starts its own hellosplit (so
# its counters are exactly the case's), captures on the server's interface,
# and asserts the wire (stream_check.py: segments in arrival order, stream
# reassembled first copy wins), the counters, and that the connection works
# (fail-open) where it must.
#   1  one byte per segment
#      a  kernel client (split_client.py, TCP_NODELAY, 2 ms between bytes):
#         its congestion window (10) stops it after ~10 unacknowledged
#         segments, so the engine holds those until --collect-timeout, then
#         fails open; in order, unchanged, first-packet censor passes it
#      b  raw client (own TCP, no cwnd), --max-held-pkts 16: 17 one-byte
#         segments back to back, a 300 ms pause, the rest: the engine holds
#         16, fails open at the 17th (failopen_held_limit), in order
#      c  raw client, defaults (--max-held-pkts 32), 33 segments, pause, the
#         rest: the same (the rules queue a flow for as long as the engine
#         may hold its packets)
#      The pause keeps the client quiet while the engine releases what it
#      held.  Without it (ADV_RACE=N: N runs of 1b with no pause) a packet
#      the client sends during the release can overtake released ones: see
#      "RACE" below.
#   2  overlapping retransmission with DIFFERENT bytes (raw client, v4+v6):
#      hello[0:300], then [200:517) whose first 100 bytes are "EVIL..."; the
#      first copy wins: the server's stream equals the true hello, no packet
#      reaching it carries the evil bytes, the handshake completes
#   3  ~16 KB TLS record hello (made-up ALPN names)
#      a  raw client, v6, 12 segments at once: collected, split, handshake
#      b  kernel client (tls_load.py): works, arrives whole and in order.
#         Not split today: a kernel client sends at most its initial window
#         (10 segments, ~14.5 KB) before an ack, so the engine holds those
#         until --collect-timeout (250 ms) and lets the hello go unsplit
#   4  --max-buffer 1024, a ~4 KB hello: passes unsplit at once
#      (failopen_overflow), works
#   5  non-TLS on 443: plain HTTP (3 KB request, v4+v6) and a TLS record
#      that is not a ClientHello: bytes untouched (server stream == client's
#      bytes, nothing injected), failopen_not_tls, the server answers
#   6  floods: a --max-flows 64 and 300 connections; b --max-held-bytes
#      65536 (--collect-timeout 3000) and 100 clients that each send half a
#      hello and wait 1.5 s: every connection succeeds, none hangs, the
#      counters add up, normal fetches work during and after
#   7  a client stalling mid-hello (100 bytes, 500 ms, the rest): the held
#      bytes leave in order at the collect timeout (failopen_timeout), before
#      the rest; works
#   8  one 4-tuple used three times (raw client, each connection ended by a
#      reset so the server keeps no TIME_WAIT): ISN I, then I + 10^6 (ahead:
#      a new connection, split), then 2^31 + 1000 beyond that ("behind"):
#      must be a new connection and split too
#
# Cases 1c and 8 found two bugs, fixed since: the rules stopped queueing a
# flow after its 18th payload packet (below --max-held-pkts 32, so later
# packets overtook the held ones), and a reused 4-tuple whose new initial
# sequence number lay "behind" the old flow (random ISNs, or Linux's ISN
# clock wrapping after 137-275 s) was taken for the old flow.
#
# RACE (ADV_RACE=N reproduces it, not part of the default run): when the
# engine fails open while the client keeps sending, the released packets
# are injected one by one (src/engine.c fail_open -> emit_original ->
# src/nfqueue.c nfqueue_emit), and each injected copy is counted by
# conntrack, so the connbytes window (3:20) closes at once -- as does the
# done connmark set by the verdict of the packet that triggered the release:
# the client's next packet skips the queue and leaves from the client's CPU
# while the daemon is still injecting, overtaking some released bytes.
# Measured here: 4 of 15 runs with one-byte segments 0.5 ms apart, 0 of 12
# at 5 ms apart.
#
# ADV_HS_ARGS="..." adds options to every hellosplit of the run (to prove the
# checks can fail: --observe, --split-mode immediate).  Needs root.  Last line
# "e2e: N passed, N failed"; exit non-zero on failure.  About 17 s.
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools pgrep
hs_require

B=$E2E_BLOCKED
A=("${E2E_ALLOWED[@]}")
T=$(e2e_tmpdir)
read -r -a EXTRA <<<"${ADV_HS_ARGS:-}"
CT=250                         # --collect-timeout default (ms)
SPORT=30100                    # raw client source ports, inside E2E_RAW_PORTS

section() { printf '\n=== %s\n' "$*"; }

# ---- per case: a fresh daemon and a server-side capture
CASE="" CAP=""
case_begin() { # LABEL [HELLOSPLIT ARGS...]
    CASE=$1
    shift
    section "$CASE${*:+ (hellosplit $*)}"
    CAP="$T/$(echo "$CASE" | tr -c 'a-zA-Z0-9\n' _).pcap"
    hs_start "$E2E_NS_CLI" "$@" "${EXTRA[@]}" || e2e_die "$CASE: hellosplit did not start"
    capture_start "$E2E_NS_SRV" eth0 "$CAP" tcp port 443
}

case_end() {
    sleep 0.2                   # the last packets reach the capture
    capture_stop "$CAP"
    hs_stop INT
    expect_eq "$CASE: hellosplit exits 0" 0 "$HS_RC"
    echo "      | counters: $(stats_brief)"
}

ctr() { hs_stat "$1"; }

# With E2E_ENGINE=tc (run.sh test_adversarial@tc): the tc engine holds
# nothing -- each packet passes the moment it comes, the first hello bytes
# cut at the positions -- so what the NFQUEUE engine holds, releases and
# counts (nfq_*) is checked on that engine, and the tc engine's own
# behaviour (tc_*) on the tc engine; the wire checks run on both.
nfq_eq() { [[ $E2E_ENGINE == tc ]] || expect_eq "$@"; }
nfq_cmp() { [[ $E2E_ENGINE == tc ]] || expect_cmp "$@"; }
tc_eq() { [[ $E2E_ENGINE != tc ]] || expect_eq "$@"; }
tc_cmp() { [[ $E2E_ENGINE != tc ]] || expect_cmp "$@"; }

stats_brief() {
    sed 's/[{}"]//g' "$HS_STATS" | tr ',' '\n' |
        awk -F: '$2 != 0 && $1 != "uptime_s" { printf "%s=%s ", $1, $2 }'
}

# Every flow ends in exactly one outcome: split, a fail-open, or hostlist pass.
outcomes() {
    sed 's/[{}"]//g' "$HS_STATS" | tr ',' '\n' | awk -F: '
        $1 == "flows_split" || $1 == "pass_hostlist" ||
        ($1 ~ /^failopen_/ && $1 != "failopen_table_full") { s += $2 } END { print s + 0 }'
}

# stream_check.py over the case's capture; SC_OUT holds key=value lines.
SC_OUT=""
sc() {
    SC_OUT="$T/sc.$RANDOM.out"
    "$E2E_PY" "$E2E_DIR/stream_check.py" "$CAP" "$@" >"$SC_OUT" 2>&1 ||
        e2e_fail "$CASE: stream_check found the stream" "$(cat "$SC_OUT")"
    sed -n 's/^\(conns\|segs\|layout\|in_order\|first_gap_at\|overlap_diff\|window\|hello_segs\|t_first_ms\|t_of_ms\)=/\1=/p' "$SC_OUT" |
        cut -c1-150 | sed 's/^/      | /'
}
scv() { sed -n "s/^$1=//p" "$SC_OUT"; }

# expect_cmp DESC A OP B (integers or decimals, awk comparison)
expect_cmp() {
    if awk -v a="$2" -v b="$4" "BEGIN { exit !((a + 0) $3 (b + 0)) }" && [[ -n "$2" && "$2" != "-" ]]; then
        e2e_pass "$1 ($2 $3 $4)"
    else
        e2e_fail "$1" "want $2 $3 $4"
    fi
}

# plain_send FAMILY REQUEST-FILE REPLY-FILE: a kernel TCP client that writes
# the file's bytes to srv:443 and reads the answer until the server closes.
plain_send() {
    local addr=$E2E_SRV4
    [[ $1 == 6 ]] && addr=$E2E_SRV6
    _e2e_fg ip netns exec "$E2E_NS_CLI" timeout 10 "$E2E_PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 443), timeout=5)
s.sendall(open(sys.argv[2], "rb").read())
d = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    d += c
sys.stdout.buffer.write(d)' "$addr" "$2" >"$3" 2>"$3.err"
}

topo_desktop_up
srv_nginx_start
censor_install first-packet "$E2E_NS_MID" "$E2E_MID_IF" "$B"
raw_client_setup
expect_blocked "baseline: no hellosplit, curl $B is reset by the censor" fetch_curl "$B" 4
nsx "$E2E_NS_MID" conntrack -F >/dev/null 2>&1

# ------------------------------------------------------------------ 1a ----
case_begin "1a one byte per segment, kernel client"
cuts=$(seq -s, 1 516)
expect_ok "1a: split_client $B, 517 one-byte writes (TCP_NODELAY, 2 ms apart), v4: loads past the first-packet censor" \
    fetch_split "$B" 4 "$cuts" 0.002 --dump-hello "$T/hello1a.bin" --timeout 10
case_end
sc --hello "$T/hello1a.bin"
expect_eq "1a: wire: the first segment carries 1 byte (the censor's first packet holds no name)" 1 "$(scv first_len)"
ones=$(scv layout | tr ' ' '\n' | grep -c '+1$')
expect_cmp "1a: wire: the leading bytes arrive as one-byte segments" "$ones" ">=" 10
expect_eq "1a: wire: bytes arrive in order (no byte before an earlier one)" 1 "$(scv in_order)"
expect_eq "1a: wire: the server's stream is the hello, unchanged" 1 "$(scv hello_equal)"
expect_eq "1a: wire: no retransmission carried different bytes" 0 "$(scv overlap_diff)"
nfq_cmp "1a: wire: the held bytes leave at the collect timeout (ms after the handshake)" "$(scv t_first_ms)" ">=" $((CT - 30))
tc_cmp "1a: wire, tc: the first byte passes at once (ms after the handshake)" "$(scv t_first_ms)" "<" 100
expect_eq "1a: counters: one flow" 1 "$(ctr flows)"
nfq_eq "1a: counters: failopen_timeout (a kernel client stops at its cwnd of 10 unacked segments)" 1 "$(ctr failopen_timeout)"
expect_eq "1a: counters: not split" 0 "$(ctr flows_split)"
expect_eq "1a: counters: nothing left held" 0 "$(ctr held_bytes)"

# ------------------------------------------------------------------ 1b ----
case_begin "1b one byte per segment, raw client, --max-held-pkts 16" --max-held-pkts 16
SPORT=$((SPORT + 1))
expect_ok "1b: raw client $B, 517 one-byte segments (17, pause 300 ms, the rest), v4: handshake completes past the censor" \
    fetch_raw "$B" 4 "$SPORT" bytes:17,sleep:300,bytes --dump-hello "$T/hello1b.bin"
case_end
sc --sport "$SPORT" --hello "$T/hello1b.bin"
expect_eq "1b: wire: the server got 517 one-byte hello segments" 517 "$(scv hello_segs)"
expect_eq "1b: wire: the first segment carries 1 byte" 1 "$(scv first_len)"
expect_eq "1b: wire: bytes arrive in order" 1 "$(scv in_order)"
expect_eq "1b: wire: the server's stream is the hello, unchanged" 1 "$(scv hello_equal)"
nfq_eq "1b: counters: failopen_held_limit (16 held, the 17th releases them)" 1 "$(ctr failopen_held_limit)"
nfq_eq "1b: counters: the queue saw exactly 17 packets of the flow" 17 "$(ctr packets)"
expect_eq "1b: counters: no timeout, no split" "0 0" "$(ctr failopen_timeout) $(ctr flows_split)"
expect_eq "1b: counters: nothing left held" 0 "$(ctr held_bytes)"

# ------------------------------------------------------------- 1b RACE ----
for ((r = 1; r <= ${ADV_RACE:-0}; r++)); do
    case_begin "1b RACE run $r: one-byte segments back to back, no pause" --max-held-pkts 16
    SPORT=$((SPORT + 1))
    expect_ok "1b RACE $r: handshake completes" fetch_raw "$B" 4 "$SPORT" bytes
    case_end
    sc --sport "$SPORT"
    expect_eq "1b RACE $r: bytes arrive in order (first out-of-order segment index $(scv first_gap_at))" 1 "$(scv in_order)"
done

# ------------------------------------------------------------------ 1c ----
case_begin "1c one byte per segment, raw client, defaults (--max-held-pkts 32)"
SPORT=$((SPORT + 1))
expect_ok "1c: raw client $B, 517 one-byte segments (33, pause 300 ms, the rest), v4: handshake completes (fail-open)" \
    fetch_raw "$B" 4 "$SPORT" bytes:33,sleep:300,bytes --dump-hello "$T/hello1c.bin"
case_end
sc --sport "$SPORT" --hello "$T/hello1c.bin"
expect_eq "1c: wire: the server's stream is the hello, unchanged" 1 "$(scv hello_equal)"
expect_eq "1c: counters: one flow, not split" "1 0" "$(ctr flows) $(ctr flows_split)"
expect_eq "1c: counters: nothing left held" 0 "$(ctr held_bytes)"
# The engine holds 32 and fails open at the 33rd (held_limit), in order.
expect_eq "1c: wire: bytes arrive in order (first out-of-order segment index $(scv first_gap_at))" \
    1 "$(scv in_order)"
nfq_eq "1c: counters: failopen_held_limit, not failopen_timeout ($(ctr packets) packets queued)" \
    "held_limit=1 timeout=0" "held_limit=$(ctr failopen_held_limit) timeout=$(ctr failopen_timeout)"

# ------------------------------------------------------------------- 2 ----
case_begin "2 overlapping retransmission with different bytes"
for fam in 4 6; do
    SPORT=$((SPORT + 1))
    expect_ok "2: raw client ${A[1]} v$fam: [0,300) then [200,517) with 100 evil bytes: handshake completes" \
        fetch_raw "${A[1]}" "$fam" "$SPORT" "0:300,200:517^100" --evil EVIL --dump-hello "$T/hello2-$fam.bin"
    eval "SPORT2_$fam=$SPORT"
done
case_end
for fam in 4 6; do
    p="SPORT2_$fam"
    sc --sport "${!p}" --hello "$T/hello2-$fam.bin" --pattern EVIL
    nfq_eq "2 v$fam: wire: no packet reaching the server carries the second copy's bytes" 0 "$(scv pattern_segs)"
    nfq_eq "2 v$fam: wire: no byte arrived twice with different values" 0 "$(scv overlap_diff)"
    expect_eq "2 v$fam: wire: the first-copy stream is the true hello (bytes 200..300 are A's)" 1 "$(scv hello_equal)"
    nfq_eq "2 v$fam: wire: split at 5, then where the carrying packet changes (300)" "0+5 5+295 300+217" \
        "$(scv layout | cut -d' ' -f1-3)"
    # the tc engine changes no byte of what the client sends: the second copy passes as sent
    tc_cmp "2 v$fam: wire, tc: the second copy passes as the client sent it" "$(scv pattern_segs)" ">=" 1
    tc_eq "2 v$fam: wire, tc: the first packet cut at 5, then the second copy whole" "0+5 5+295 200+317" \
        "$(scv layout | cut -d' ' -f1-3)"
done
expect_eq "2: counters: both flows split, nothing failed open" "2 2 0" \
    "$(ctr flows) $(ctr flows_split) $(($(outcomes) - $(ctr flows_split)))"

# ------------------------------------------------------------------ 3a ----
case_begin "3a 16 KB record hello, raw client (no cwnd)"
SPORT=$((SPORT + 1))
expect_ok "3a: raw client $B v6, ~16 KB hello in 1400-byte segments at once: handshake completes (nginx answers)" \
    fetch_raw "$B" 6 "$SPORT" chunks:1400 --alpn-pad 16000 --dump-hello "$T/hello3a.bin"
case_end
sc --sport "$SPORT" --hello "$T/hello3a.bin"
hello_len=$(wc -c <"$T/hello3a.bin")
expect_cmp "3a: the hello is one TLS record of ~16 KB (window from the record header)" "$(scv window)" ">=" 16000
expect_cmp "3a: ... and not larger than a TLS record may be" "$(scv window)" "<=" 16389
expect_eq "3a: wire: the server's stream is the hello, unchanged" 1 "$(scv hello_equal)"
expect_eq "3a: wire: the first segment is the 5-byte cut" 5 "$(scv first_len)"
expect_cmp "3a: wire: the hello arrived in >= 13 segments (12 + the cut)" "$(scv hello_segs)" ">=" 13
expect_eq "3a: wire: in order" 1 "$(scv in_order)"
expect_cmp "3a: counters: the queue saw the 12 hello packets" "$(ctr packets)" ">=" 12
expect_eq "3a: counters: collected and split" 1 "$(ctr flows_split)"
expect_eq "3a: counters: no fail-open" 0 "$(($(outcomes) - $(ctr flows_split)))"
echo "      | hello $hello_len bytes; held_bytes_peak $(ctr held_bytes_peak)"

# big_hello_fetch CASE PAD SIZE: one python ssl fetch of ${A[0]} over IPv4
# whose hello is grown by PAD bytes of ALPN names (SIZE says how big).
big_hello_fetch() {
    if _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "${A[0]}" --addr "$E2E_SRV4" \
        --count 1 --parallel 1 --alpn-pad "$2" --timeout 5 >"$T/$1.out" 2>&1; then
        e2e_pass "$1: python ssl ${A[0]} v4 with a $3 hello loads ($(cat "$T/$1.out"))"
    else
        e2e_fail "$1: python ssl ${A[0]} v4 with a $3 hello loads" "$(cat "$T/$1.out")"
    fi
}

# ------------------------------------------------------------------ 3b ----
case_begin "3b 16 KB record hello, kernel client"
big_hello_fetch 3b 16000 "~16 KB"
case_end
sc
expect_cmp "3b: wire: a ~16 KB hello" "$(scv window)" ">=" 16000
expect_cmp "3b: wire: it reached the server whole (first copy)" "$(scv stream_len)" ">=" "$(scv window)"
expect_eq "3b: wire: in order, no byte changed between copies" "1 0" "$(scv in_order) $(scv overlap_diff)"
expect_eq "3b: counters: one flow, one outcome, nothing held" "1 1 0" "$(ctr flows) $(outcomes) $(ctr held_bytes)"
echo "      | NOTE: outcome split=$(ctr flows_split) timeout=$(ctr failopen_timeout): the kernel client sends"
echo "      | at most 10 segments (IW10, ~14.5 KB) before an ack, so a larger hello waits the collect timeout"

# ------------------------------------------------------------------- 4 ----
case_begin "4 record longer than --max-buffer" --max-buffer 1024
big_hello_fetch 4 3700 "~4 KB"
case_end
sc
expect_cmp "4: wire: a ~4 KB hello record" "$(scv window)" ">=" 4000
nfq_cmp "4: wire: unsplit: the first segment is full size, not a 5-byte cut" "$(scv first_len)" ">" 1000
tc_eq "4: wire, tc: no buffer to overflow: the first packet cut at 5" 5 "$(scv first_len)"
expect_cmp "4: wire: passed at once, not held (ms from the handshake ACK to the first byte)" "$(scv t_first_ms)" "<" 100
expect_eq "4: wire: in order, whole" "1 1" "$(scv in_order) $(awk -v a="$(scv stream_len)" -v b="$(scv window)" 'BEGIN { print (a >= b) }')"
# The queue delivers real segments: the first overflows, the flow's next
# segments (up to 3 for 4 KB) reach the engine once more and pass.
nfq_eq "4: counters: failopen_overflow on the first packet" "1 1" "$(ctr failopen_overflow) $(awk -v n="$(ctr packets)" 'BEGIN { print (n >= 1 && n <= 3) }')"
nfq_eq "4: counters: not split, nothing injected, nothing held" "0 0 0" \
    "$(ctr flows_split) $(ctr segments_emitted) $(ctr held_bytes_peak)"

# ------------------------------------------------------------------- 5 ----
case_begin "5 non-TLS on port 443"
{
    printf 'GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: hellosplit-e2e-plain\r\nX-Pad: ' "${A[0]}"
    head -c 3000 /dev/zero | tr '\0' 'p'
    printf '\r\nConnection: close\r\n\r\n'
} >"$T/req-http"
# A TLS handshake record that is not a ClientHello (a ServerHello, type 2).
printf '\x16\x03\x01\x00\x2a\x02\x00\x00\x26\x03\x03' >"$T/req-sh"
head -c 32 /dev/urandom >>"$T/req-sh"
printf '\x00\x00\x00\x00\x00' >>"$T/req-sh"
for fam in 4 6; do
    plain_send "$fam" "$T/req-http" "$T/rep-http-$fam"
    if grep -q 'The plain HTTP request was sent to HTTPS port' "$T/rep-http-$fam"; then
        e2e_pass "5: plain HTTP (3 KB request) to :443 v$fam: nginx parsed it and answered its 400 page"
    else
        e2e_fail "5: plain HTTP to :443 v$fam: nginx answers" "$(head -c 300 "$T/rep-http-$fam" "$T/rep-http-$fam.err")"
    fi
done
plain_send 4 "$T/req-sh" "$T/rep-sh"
if [[ $(head -c 1 "$T/rep-sh" | od -An -tx1 | tr -d ' ') == 15 ]]; then
    e2e_pass "5: a ServerHello record sent to :443: nginx answered with a TLS alert"
else
    e2e_fail "5: a ServerHello record sent to :443: nginx answers with a TLS alert" "$(od -An -tx1 "$T/rep-sh" | head -2)"
fi
case_end
for i in 0 1 2; do
    sc --conn "$i"
    case $(scv window) in
        0) want="$T/req-http" ;;
        *) want="$T/req-sh" ;;
    esac
    sc --conn "$i" --client-bytes "$want"
    expect_eq "5 connection $i ($(basename "$want")): wire: the server's stream equals the client's bytes exactly" 1 "$(scv client_equal)"
    expect_cmp "5 connection $i: wire: the first segment is not a cut" "$(scv first_len)" ">" 5
done
expect_eq "5: counters: failopen_not_tls for all three" 3 "$(ctr failopen_not_tls)"
expect_eq "5: counters: nothing split or injected" "0 0" "$(ctr flows_split) $(ctr segments_emitted)"

# ------------------------------------------------------------------ 6a ----
case_begin "6a flood beyond --max-flows 64" --max-flows 64
ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "${A[0]}" --addr "$E2E_SRV4" --addr "$E2E_SRV6" \
    --count 300 --parallel 16 --timeout 10 >"$T/6a.out" 2>&1 &
FLOOD=$!
_e2e_track_pid "$FLOOD"
ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "${A[1]}" --addr "$E2E_SRV6" --addr "$E2E_SRV4" \
    --count 20 --parallel 1 --timeout 10 >"$T/6a-during.out" 2>&1 &
DURING=$!
_e2e_track_pid "$DURING"
wait "$FLOOD" && rc=0 || rc=$?
_e2e_untrack_pid "$FLOOD"
wait "$DURING" && rc2=0 || rc2=$?
_e2e_untrack_pid "$DURING"
expect_eq "6a: all 300 flood connections succeeded ($(cat "$T/6a.out"))" 0 "$rc"
expect_eq "6a: 20 normal fetches during the flood succeeded ($(cat "$T/6a-during.out"))" 0 "$rc2"
max_ms=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' "$T/6a.out")
expect_cmp "6a: none hung (slowest fetch, ms)" "$max_ms" "<" 3000
expect_ok "6a: after the flood: curl ${A[0]} v4" fetch_curl "${A[0]}" 4
expect_ok "6a: after the flood: python ${A[1]} v6" fetch_python "${A[1]}" 6
case_end
nfq_eq "6a: counters: the table held at most 64 flows" 64 "$(ctr flows)"
nfq_cmp "6a: counters: failopen_table_full for the flows beyond" "$(ctr failopen_table_full)" ">=" 250
nfq_eq "6a: counters: flows + table_full = every connection (322)" 322 "$(($(ctr flows) + $(ctr failopen_table_full)))"
nfq_eq "6a: counters: every tracked flow has one outcome" "$(ctr flows)" "$(outcomes)"
# the tc engine's flow map is an LRU of --max-flows entries: new flows push out
# old ones, so with 300 in their handshake at once a few are pushed out between
# their SYN and their hello, and those pass unsplit (counted nowhere yet)
tc_eq "6a: counters, tc: every SYN tracked (an LRU map: no table full)" 322 "$(ctr flows)"
tc_cmp "6a: counters, tc: most hellos cut" "$(ctr flows_split)" ">=" 250
expect_eq "6a: counters: nothing left held" 0 "$(ctr held_bytes)"

# ------------------------------------------------------------------ 6b ----
case_begin "6b flood beyond --max-held-bytes 65536" --max-held-bytes 65536 --collect-timeout 3000
ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "${A[0]}" --addr "$E2E_SRV4" --addr "$E2E_SRV6" \
    --count 100 --parallel 100 --stall 258:1500 --timeout 10 >"$T/6b.out" 2>&1 &
FLOOD=$!
_e2e_track_pid "$FLOOD"
sleep 0.7
expect_ok "6b: during the flood (all 100 stalled): curl ${A[1]} v4" fetch_curl "${A[1]}" 4
expect_ok "6b: during the flood: python ${A[0]} v6" fetch_python "${A[0]}" 6
wait "$FLOOD" && rc=0 || rc=$?
_e2e_untrack_pid "$FLOOD"
expect_eq "6b: all 100 half-hello clients succeeded ($(cat "$T/6b.out"))" 0 "$rc"
max_ms=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' "$T/6b.out")
expect_cmp "6b: none hung: slowest <= stall + collect timeout + 1 s (ms)" "$max_ms" "<" 5500
expect_ok "6b: after the flood: curl ${A[0]} v6" fetch_curl "${A[0]}" 6
case_end
nfq_cmp "6b: counters: failopen_held_limit (oldest collecting flows gave way)" "$(ctr failopen_held_limit)" ">=" 1
expect_cmp "6b: counters: held_bytes_peak within --max-held-bytes" "$(ctr held_bytes_peak)" "<=" 65536
nfq_cmp "6b: counters: the pool was really full (peak > 60000)" "$(ctr held_bytes_peak)" ">" 60000
expect_eq "6b: counters: held_bytes back to 0" 0 "$(ctr held_bytes)"
nfq_eq "6b: counters: 103 flows, each with one outcome" "103 103" "$(ctr flows) $(outcomes)"

# ------------------------------------------------------------------- 7 ----
case_begin "7 client stalling mid-hello"
expect_ok "7: split_client ${A[1]} v4: 100 bytes, 500 ms pause, the rest: loads" \
    fetch_split "${A[1]}" 4 100 0.5 --dump-hello "$T/hello7.bin"
case_end
sc --hello "$T/hello7.bin" --time-of 100
nfq_eq "7: wire: the held 100 bytes arrive first, as sent" 100 "$(scv first_len)"
nfq_cmp "7: wire: ... released at the collect timeout, not before (ms)" "$(scv t_first_ms)" ">=" $((CT - 30))
nfq_cmp "7: wire: ... and not much later (ms)" "$(scv t_first_ms)" "<" $((CT + 150))
tc_eq "7: wire, tc: the first 100 bytes pass at once, cut at 5" 5 "$(scv first_len)"
tc_cmp "7: wire, tc: ... at once (ms after the handshake)" "$(scv t_first_ms)" "<" 100
expect_cmp "7: wire: the rest (byte 100) arrives after them, when the client sends it (ms)" "$(scv t_of_ms)" ">=" 450
expect_eq "7: wire: in order, unchanged" "1 1" "$(scv in_order) $(scv hello_equal)"
nfq_eq "7: counters: failopen_timeout" 1 "$(ctr failopen_timeout)"
nfq_eq "7: counters: not split, nothing held" "0 0" "$(ctr flows_split) $(ctr held_bytes)"

# ------------------------------------------------------------------- 8 ----
case_begin "8 a 4-tuple reused with an initial sequence number behind the old one"
P8=30900 I8=1000000
I8B=$((I8 + 1000000))
I8C=$(((I8B + 2147483648 + 1000) % 4294967296))
# What hellosplit lets out, before the censor: the client's own interface.
CAP8="$T/8-cli.pcap"
capture_start "$E2E_NS_CLI" eth0 "$CAP8" tcp port 443
expect_ok "8: raw client $B v4, port $P8, ISN $I8: loads (split), ends with a reset" \
    fetch_raw "$B" 4 "$P8" "0:" --isn "$I8" --close rst
expect_ok "8: the same 4-tuple, ISN $I8B (ahead of the old flow): loads (split)" \
    fetch_raw "$B" 4 "$P8" "0:" --isn "$I8B" --close rst
# A hello whose ISN is 2^31 or more "ahead" of the old flow's start is a
# new connection too.
expect_ok "8: the same 4-tuple, ISN $I8C (behind): a new connection, loads (split)" \
    fetch_raw "$B" 4 "$P8" "0:" --isn "$I8C" --close rst
case_end
capture_stop "$CAP8"
CAP=$CAP8
sc --conn 2
expect_eq "8: client side: three connections on one 4-tuple" 3 "$(scv conns)"
expect_eq "8: wire (client side): the third connection's hello leaves with the 5-byte cut" 5 "$(scv first_len)"
expect_eq "8: counters: three flows, three splits" "3 3" "$(ctr flows) $(ctr flows_split)"

e2e_summary
