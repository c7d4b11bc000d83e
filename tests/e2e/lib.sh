# shellcheck shell=bash
# SC2034: many variables are set for the sourcing test, not used here.
# SC2119/SC2120: functions with optional arguments, called without them.
# shellcheck disable=SC2034,SC2119,SC2120
# tests/e2e/lib.sh -- the network-namespace test bed shared by every
# end-to-end test of hellosplit.  Source it:   . "$(dirname "$0")/lib.sh"
#
# Everything runs inside network namespaces this library creates (names
# "hs<ID>-<role>", ID = $E2E_ID, default the PID of the test script), with
# addresses only from 198.18.0.0/15 and 2001:db8::/32.  An EXIT/INT/TERM trap
# installed on source removes namespaces, stops every process started here
# (by PID) and deletes the per-run temp dir, even when a test dies half way.
# Works with `set -u` and with or without `set -e` in the caller.  Do not
# set your own EXIT trap after sourcing (it would replace ours): register
# extra cleanup with e2e_on_exit.
#
# Topologies (fixed interface names inside each namespace):
#   desktop:  cli eth0 ---- lan0 rtr wan0 ---- eth0 srv
#             198.18.1.2    .1.1     198.18.2.1    198.18.2.2
#             2001:db8:1::2 1::1     2001:db8:2::1 2001:db8:2::2
#   router:   cli eth0 -- lan0 gw wan0 -- lan0 cens wan0 -- eth0 srv
#             198.18.1.2  .1.1    .3.1     .3.2      .2.1    198.18.2.2
#             (IPv6 alike: 2001:db8:1::/64, 2001:db8:3::/64, 2001:db8:2::/64)
#   The censor runs on the middle hop E2E_NS_MID (rtr, resp. cens), on
#   traffic entering from E2E_MID_IF (lan0).  hellosplit runs in cli
#   (desktop mode) or gw (router mode).  The client namespace gets its own
#   /etc/netns/<ns>/resolv.conf pointing at 198.18.0.53 (answers nothing).
#
# ---------------------------------------------------------------- API --------
# Setup / teardown
#   e2e_require_root                    exit 1 unless running as root
#   e2e_require_tools [TOOL...]         exit 1 naming the Debian package of each
#                                       missing tool (default: everything below)
#   e2e_on_exit CMD...                  run CMD at exit (LIFO, before topo_down)
#   e2e_die MSG                         print FATAL line and exit 1 (cleans up)
#   e2e_tmpdir                          print the run's temp dir (removed at exit)
#   topo_desktop_up                     cli -- rtr -- srv
#   topo_router_up [masq]               cli -- gw -- cens -- srv; "masq" (or
#                                       E2E_MASQ=1) MASQUERADEs v4+v6 on gw:wan0
#                                       E2E_SRCROUTE=1 routes by source (below);
#                                       E2E_WAN_MTU=1492 makes gw:wan0 PPPoE-like
#   topo_down                           remove everything (idempotent, trap-run)
#   topo_offloads NS IFACE on|off       tso/gso/gro/tx-csum of one interface
#   e2e_ns ROLE                         print namespace name of ROLE (cli,rtr,..)
#   nsx NS CMD...                       run CMD inside namespace NS
#   e2e_spawn NS LOG CMD...             start a daemon in NS (PID in
#                                       $E2E_SPAWN_PID), stopped at topo_down
#   e2e_stop PID                        stop a spawned daemon now (by PID)
# Server
#   srv_nginx_start [NAME...]           nginx on srv:443 (v4+v6), one vhost per
#                                       NAME answering "hello from NAME"
#                                       (default: $E2E_BLOCKED + $E2E_ALLOWED);
#                                       E2E_NGINX_EXTRA_PORTS="P..." adds IPv4
#                                       ports serving the same (benchmarks)
#   srv_nginx_stop                      stop it (by PID)
# Censor (middle hop: rtr or cens; see the CENSOR section for exact rules)
#   censor_install MODEL NS IFACE NAME... MODEL = first-packet|record-start|
#                                       any-packet|any-packet-drop|reassembling;
#                                       IFACE = the hop's client-side
#                                       interface (E2E_MID_IF, i.e. lan0)
#   censor_remove NS                    remove censor chains (v4+v6)
#   censor_show NS                      print censor/loss rules with counters
#   censor_loss NS PERCENT [IFACE]      drop PERCENT % of packets entering NS
#                                       (all ifaces, or only IFACE); 0 = remove
# Clients (run in cli; 0 only if the body proves the right vhost answered;
# on failure $E2E_LAST_REASON = reset|timeout|refused|wrong-body|error and
# $E2E_LAST_LOG names a file with the client's output)
#   fetch_curl NAME [4|6]
#   fetch_gnutls NAME [4|6]
#   fetch_python NAME [4|6]             Debian python3 ssl (split_client.py --plain)
#   fetch_split NAME [4|6] CUTS [DELAY [ARGS...]]  python3 client writing its
#                                       real ClientHello in pieces / TLS records
#                                       (split_client.py)
#   fetch_chromium NAME [4|6]           headless Chromium
#   fetch_bighello NAME [4|6] [PAD]     tls_load.py (Python ssl) with a hello PAD
#                                       (default 1300) bytes larger: ~1.8 KB, a
#                                       post-quantum browser's, in one send()
#   raw_client_setup [NS]               let raw_client.py run in NS (default
#                                       cli): drop the kernel's own resets for
#                                       source ports $E2E_RAW_PORTS (raw table,
#                                       before conntrack), v4+v6
#   fetch_raw NAME [4|6] SPORT PLAN [ARGS...]  raw_client.py: its own TCP over
#                                       raw sockets sends exactly the PLAN's
#                                       segments (1 byte each, overlaps with
#                                       different bytes, no cwnd), then a real
#                                       TLS handshake + GET; SPORT in E2E_RAW_PORTS
#   e2e_http_get NAME [4|6] [PATH]      print the body (curl); /addr = the
#                                       client address as the server sees it
# Captures
#   capture_start NS IFACE FILE [FILTER...]   tcpdump -U --immediate-mode
#   capture_stop [FILE]                 stop one capture (or all) and wait
#   capture_retransmitted FILE [PORT]   print the client->server payload bytes of
#                                       FILE (to PORT, default 443) sent more than
#                                       once (tshark's retransmission analysis)
#   tcp_retransmits NS                  print the TCP segments NS's own stack has
#                                       retransmitted so far (RetransSegs): a
#                                       packet lost before any capture point
#                                       shows here, not in a capture
#   tcp_no_loss_probes NS               no tail loss probes in NS (tcp_early_retrans
#                                       0): a hello of two segments otherwise gets
#                                       its last one re-sent after 2 RTTs (a few ms
#                                       on veths) whenever the queue is slow, and
#                                       RetransSegs could not tell that from a loss
#   (check captures with hello_layout.py -- one stream in detail -- or
#   hello_segments.py -- asserts the hello segments of every stream)
# hellosplit (the daemon under test; binary $HELLOSPLIT, default build/hellosplit)
#   hs_require                          exit 1 unless the binary exists (sets HS_BIN)
#   hs_start NS [ARGS...]               start `hellosplit -v --stats-json F ARGS` in
#                                       NS and wait until its rules are in: HS_PID,
#                                       HS_LOG, HS_STATS; returns 1 (log printed,
#                                       exit status in HS_RC) when it does not come up;
#                                       HS_VERBOSE="" leaves out the -v;
#                                       always --state $HS_STATE (the run's
#                                       own learned file, default
#                                       $E2E_TMP/learned), and --no-learn
#                                       unless HS_LEARN=1: the suites that
#                                       prove a fixed --split-at get exactly it
#   hs_child [PID]                      print the packet process (child) PID
#   hs_stop [SIG [PID]]                 signal (default INT) and wait (10 s, then
#                                       KILL and return 1); exit status in HS_RC
#   hs_wait [SECS [PID]]                wait (default 10 s) for it to exit on its
#                                       own; exit status in HS_RC; 1 on timeout
#   pid_alive PID                       0 while PID runs (a zombie counts as gone)
#   hs_run NS ARGS...                   run hellosplit in the foreground (15 s max);
#                                       exit status in HS_RC, output in file $HS_OUT;
#                                       daemon options get --no-learn unless HS_LEARN=1
#   hs_stat KEY [FILE]                  print counter KEY of a stats JSON file
#   hs_rules_present NS                 0 when chain HELLOSPLIT exists (v4 or v6)
# Firewall snapshots (for "left exactly as found")
#   fw_rules NS                         v4+v6 rules, user chains and non-ACCEPT
#                                       policies of every table, one per line;
#                                       drops comments, counters and the empty
#                                       built-in chains iptables-nft keeps
#   fw_save_plain NS [TABLE]            iptables-save + ip6tables-save text minus
#                                       comment lines, counters zeroed
#   proc_status PID FIELD               print a /proc/PID/status field (Uid, CapEff..)
# Assertions (print "PASS: ..." / "FAIL: ..." and count)
#   e2e_pass DESC / e2e_fail DESC [DETAIL]
#   expect_ok DESC CMD...               pass when CMD exits 0
#   expect_fail DESC CMD...             pass when CMD exits non-zero
#   expect_blocked DESC CMD...          pass when a fetch CMD fails by a reset
#                                       within $E2E_BLOCK_MAX_S seconds
#   expect_eq DESC WANT GOT
#   e2e_summary                         print "e2e: N passed, N failed"; return
#                                       non-zero when anything failed
#
# Environment knobs
#   E2E_ID          suffix of namespace names (default: $$ of the test)
#   E2E_OFFLOADS    off (default) | on  -- veth tso/gso/gro/tx-csum
#   E2E_ENGINE      nfqueue (default) | tc | auto -- the --engine hs_start and hs_run give
#   E2E_MASQ        1 = topo_router_up masquerades (same as argument "masq")
#   E2E_SRCROUTE    1 = the way to the server network is only in routing table
#                   E2E_SRC_TABLE (100), chosen by source (multi-WAN, VPN
#                   policy): `ip rule add from <LAN> lookup 100` on gw (router;
#                   IPv6 via cens's link-local address), `from <cli address>`
#                   on cli (desktop: clients must bind it, E2E_CURL_BIND=1);
#                   main keeps no default route
#   E2E_WAN_MTU     MTU of gw:wan0 <-> cens:lan0 (router topology), plus
#                   `TCPMSS --clamp-mss-to-pmtu` in gw's mangle FORWARD (v4+v6)
#                   when below 1500: 1492 is a PPPoE-like WAN
#   E2E_CURL_BIND   1 = fetch_curl binds the client address (--interface)
#   E2E_FETCH_TIMEOUT  seconds a client may take (default 5)
#   E2E_BLOCK_MAX_S    a blocked fetch must fail within this (default 3)
#   E2E_RAW_PORTS   source ports of raw_client.py (default 30000:30999, below
#                   the kernel's ephemeral range 32768-60999)
#   E2E_KEEP        1 = keep the temp dir at exit (debugging)
#   E2E_VERBOSE     1 = print client logs of passing checks too
# Names and addresses (read-only after sourcing)
#   E2E_BLOCKED=www.blocked.example   E2E_ALLOWED=(www.allowed.example ok.example)
#   E2E_SRV4=198.18.2.2  E2E_SRV6=2001:db8:2::2  E2E_CLI4=198.18.1.2 ...
#   E2E_NS_CLI/E2E_NS_SRV and E2E_NS_MID (the censor hop), E2E_MID_IF (lan0)
#   are set by the topo_*_up functions.
# -----------------------------------------------------------------------------

# Guard against double sourcing (the trap and counters must exist once).
if [[ -n "${_E2E_LIB_LOADED:-}" ]]; then return 0; fi
_E2E_LIB_LOADED=1

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_PY=/usr/bin/python3          # Debian's python3: pyenv's may lack modules
E2E_ID=${E2E_ID:-$$}
E2E_PREFIX="hs${E2E_ID}"
E2E_OFFLOADS=${E2E_OFFLOADS:-off}
E2E_ENGINE=${E2E_ENGINE:-nfqueue}   # hs_start/hs_run pass --engine "$E2E_ENGINE"
E2E_FETCH_TIMEOUT=${E2E_FETCH_TIMEOUT:-5}
E2E_BLOCK_MAX_S=${E2E_BLOCK_MAX_S:-3}
E2E_RAW_PORTS=${E2E_RAW_PORTS:-30000:30999}
E2E_SRCROUTE=${E2E_SRCROUTE:-0}
E2E_SRC_TABLE=100
E2E_WAN_MTU=${E2E_WAN_MTU:-1500}
E2E_CURL_BIND=${E2E_CURL_BIND:-0}
E2E_KEEP=${E2E_KEEP:-0}
E2E_VERBOSE=${E2E_VERBOSE:-0}

E2E_BLOCKED=www.blocked.example
E2E_ALLOWED=(www.allowed.example ok.example)

E2E_CLI4=198.18.1.2       E2E_CLI6=2001:db8:1::2
E2E_CLIGW4=198.18.1.1     E2E_CLIGW6=2001:db8:1::1
E2E_SRV4=198.18.2.2       E2E_SRV6=2001:db8:2::2
E2E_SRVGW4=198.18.2.1     E2E_SRVGW6=2001:db8:2::1
E2E_GWWAN4=198.18.3.1     E2E_GWWAN6=2001:db8:3::1   # router topology only
E2E_CENSLAN4=198.18.3.2   E2E_CENSLAN6=2001:db8:3::2
# Resolver written to the client's /etc/netns/<ns>/resolv.conf: inside the
# test range, routed nowhere, so stray lookups die inside the namespaces.
E2E_DEAD_DNS4=198.18.0.53

# Censor connmark bits (the censor hop runs nothing else, so no clash).
E2E_MARK_SEEN=0x1000000      # first-packet: flow's first payload inspected
E2E_MARK_BLOCKED=0x2000000   # flow judged blocked: drop all of it

# Run state.
E2E_NAMESPACES=()            # namespaces we created, in creation order
E2E_PIDS=()                  # background processes we started
E2E_EXIT_HOOKS=()            # e2e_on_exit commands
E2E_TMP=""
E2E_NS_CLI="" E2E_NS_SRV="" E2E_NS_MID="" E2E_MID_IF=lan0
E2E_NS_RTR="" E2E_NS_GW="" E2E_NS_CENS="" E2E_MASQ_ON=0
E2E_TOPO=""
E2E_NGINX_PID=""
declare -gA E2E_CAP_PID=()    # capture file -> tcpdump PID
E2E_PASSED=0 E2E_FAILED=0
E2E_FAILED_DESCS=()
E2E_LAST_LOG="" E2E_LAST_REASON=""
E2E_T0=$SECONDS

# ------------------------------------------------------------ basics ---------

e2e_log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }

e2e_die() {
    printf 'FATAL: %s\n' "$*" >&2
    exit 1
}

e2e_require_root() {
    [[ $(id -u) -eq 0 ]] || e2e_die "e2e tests need root (network namespaces, iptables)"
}

# Tool -> Debian package, so a missing tool is reported with what to install.
declare -gA _E2E_PKG=(
    [ip]=iproute2 [ss]=iproute2 [iptables]=iptables [ip6tables]=iptables
    [nginx]=nginx-light [tcpdump]=tcpdump [tshark]=tshark
    [gnutls-cli]=gnutls-bin [curl]=curl [openssl]=openssl [ethtool]=ethtool
    [chromium]=chromium [/usr/bin/python3]=python3 [ping]=iputils-ping
    [sysctl]=procps [conntrack]=conntrack [timeout]=coreutils [awk]=mawk
    [pgrep]=procps [nft]=nftables [setpriv]=util-linux [getent]=libc-bin [find]=findutils
    [iperf3]=iperf3 [bc]=bc
)

e2e_require_tools() {
    local tools=("$@") t missing=()
    if [[ ${#tools[@]} -eq 0 ]]; then
        tools=(ip ss iptables ip6tables nginx tcpdump gnutls-cli curl openssl
               ethtool /usr/bin/python3 ping sysctl conntrack timeout awk)
    fi
    for t in "${tools[@]}"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t (Debian package: ${_E2E_PKG[$t]:-?})")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        printf 'FATAL: missing tool: %s\n' "${missing[@]}" >&2
        printf 'FATAL: install with: apt-get install -y %s\n' "$(tr '\n' ' ' <"$E2E_DIR/packages.txt")" >&2
        exit 1
    fi
}

# The run's temp dir is made when the library is sourced (below), so that
# `d=$(e2e_tmpdir)` in a subshell can never create one the trap won't see.
e2e_tmpdir() { printf '%s\n' "$E2E_TMP"; }
_e2e_tmp() { [[ -d "$E2E_TMP" ]] || e2e_die "temp dir $E2E_TMP vanished"; }

e2e_ns() { printf '%s-%s\n' "$E2E_PREFIX" "$1"; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

_e2e_track_pid() { E2E_PIDS+=("$1"); }
_e2e_untrack_pid() {
    local p keep=()
    for p in "${E2E_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    E2E_PIDS=("${keep[@]}")
}

# Stop one of our PIDs: TERM, up to ~3 s grace, then KILL; reap it.
_e2e_stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# _e2e_fg [-i FILE] CMD...  -- run CMD (stdin from FILE, else /dev/null) and
# wait for it.  Bash runs a trap only after a *foreground* child ends (for a
# client that can be its whole timeout), but a trapped signal interrupts the
# `wait` builtin at once; so clients run as tracked background jobs, and
# Ctrl-C / TERM cleans up immediately.
_e2e_fg() {
    local in=/dev/null pid rc
    if [[ $1 == -i ]]; then in=$2; shift 2; fi
    "$@" <"$in" &
    pid=$!
    _e2e_track_pid "$pid"
    wait "$pid" && rc=0 || rc=$?
    _e2e_untrack_pid "$pid"
    return "$rc"
}

e2e_on_exit() { E2E_EXIT_HOOKS+=("$*"); }

# e2e_spawn NS LOGFILE CMD...  -- start a daemon (e.g. hellosplit) inside NS,
# stdout+stderr to LOGFILE; its PID is left in E2E_SPAWN_PID and it is
# stopped by topo_down / at exit.  e2e_stop PID stops it earlier (TERM, then
# KILL after 3 s) and returns 0.
e2e_spawn() {
    local ns=$1 log=$2
    shift 2
    # `ip netns exec` directly, so $! is the daemon itself, not a subshell.
    ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
    E2E_SPAWN_PID=$!
    _e2e_track_pid "$E2E_SPAWN_PID"
}

e2e_stop() {
    _e2e_stop_pid "$1"
    _e2e_untrack_pid "$1"
}

_e2e_exit_trap() {
    local rc=$? i
    # Finish cleaning even if the user hits Ctrl-C again.
    trap '' INT TERM
    trap - EXIT
    set +e
    for ((i = ${#E2E_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${E2E_EXIT_HOOKS[$i]}" >/dev/null 2>&1
    done
    topo_down
    if [[ -n "$E2E_TMP" && -d "$E2E_TMP" ]]; then
        if [[ "$E2E_KEEP" == 1 ]]; then
            e2e_log "kept temp dir $E2E_TMP"
        else
            rm -rf -- "$E2E_TMP"
        fi
    fi
    exit "$rc"
}
trap _e2e_exit_trap EXIT
E2E_TMP=$(mktemp -d "/tmp/${E2E_PREFIX}.XXXXXX") || e2e_die "mktemp failed"
chmod 755 "$E2E_TMP"
# A signal turns into a normal exit, so the EXIT trap does the cleaning.
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ topology -------

# Create one namespace with loopback up and IPv6 DAD off.  DAD must be off
# *before* interfaces appear (they copy conf/default), otherwise addresses stay
# "tentative" for ~1 s and the first SYN/NDP is delayed or lost.
_e2e_ns_new() {
    local role=$1 ns
    ns=$(e2e_ns "$role")
    if [[ -e "/run/netns/$ns" ]]; then
        e2e_die "namespace $ns already exists (leftover of a run with the same E2E_ID?)"
    fi
    ip netns add "$ns" || e2e_die "ip netns add $ns failed"
    E2E_NAMESPACES+=("$ns")
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.default.router_solicitations=0 >/dev/null
}

# Bring up one interface: addresses (nodad), offload policy.
_e2e_if_up() {
    local ns=$1 ifc=$2 a4=$3 a6=$4
    nsx "$ns" ip addr add "$a4/24" dev "$ifc"
    nsx "$ns" ip -6 addr add "$a6/64" dev "$ifc" nodad
    nsx "$ns" ip link set "$ifc" up
    topo_offloads "$ns" "$ifc" "$E2E_OFFLOADS"
}

# topo_offloads NS IFACE on|off
# Off: every TCP segment crosses the veth as its own frame with a final
# checksum, so captures and the censor see exactly what a NIC would put on a
# wire.  On: the veth passes GSO super-packets and checksum-partial frames.
topo_offloads() {
    local ns=$1 ifc=$2 mode=$3
    [[ $mode == on || $mode == off ]] || e2e_die "topo_offloads: mode must be on|off, got '$mode'"
    nsx "$ns" ethtool -K "$ifc" tso "$mode" gso "$mode" gro "$mode" tx "$mode" >/dev/null 2>&1 ||
        e2e_die "ethtool -K $ifc in $ns failed"
}

# veth pair between two namespaces, created directly inside them (the fixed
# names like eth0 never exist in the host namespace).
_e2e_link() {
    local ns1=$1 if1=$2 ns2=$3 if2=$4
    ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" ||
        e2e_die "veth $ns1:$if1 <-> $ns2:$if2 failed"
}

_e2e_forwarding() {
    nsx "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
}

# Give the client its own resolv.conf (bind-mounted by `ip netns exec`), so
# any name lookup goes to an address inside the test range that answers nothing.
_e2e_client_resolv() {
    local ns=$1
    mkdir -p "/etc/netns/$ns"
    printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$E2E_DEAD_DNS4" >"/etc/netns/$ns/resolv.conf"
}

# Wait until NS can ping DST (v4 or v6); a ping also resolves neighbours, so
# the first TCP SYN of a test is not delayed by ARP/NDP.
_e2e_wait_ping() {
    local ns=$1 dst=$2 i
    shift 2
    for ((i = 0; i < 50; i++)); do
        nsx "$ns" ping -c1 -W1 -n -q "$@" "$dst" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    e2e_die "no connectivity from $ns to $dst"
}

# _e2e_srcroute NS FROM4 FROM6 GW4 GW6 DEV: the default routes of NS only in
# table E2E_SRC_TABLE, used for sources FROM4/FROM6 (E2E_SRCROUTE).
_e2e_srcroute() {
    local ns=$1 from4=$2 from6=$3 gw4=$4 gw6=$5 dev=$6
    [[ -n "$gw6" ]] || e2e_die "source routing in $ns: no IPv6 gateway address"
    if ! { nsx "$ns" ip route add default via "$gw4" dev "$dev" table "$E2E_SRC_TABLE" &&
        nsx "$ns" ip -6 route add default via "$gw6" dev "$dev" table "$E2E_SRC_TABLE" &&
        nsx "$ns" ip rule add from "$from4" lookup "$E2E_SRC_TABLE" &&
        nsx "$ns" ip -6 rule add from "$from6" lookup "$E2E_SRC_TABLE"; }; then
        e2e_die "source routing in $ns failed"
    fi
}

_e2e_topo_check() {
    _e2e_wait_ping "$E2E_NS_CLI" "$E2E_SRV4"
    _e2e_wait_ping "$E2E_NS_CLI" "$E2E_SRV6"
    _e2e_wait_ping "$E2E_NS_SRV" "$E2E_SRVGW4"
    _e2e_wait_ping "$E2E_NS_SRV" "$E2E_SRVGW6"
}

_e2e_topo_begin() {
    [[ -z "$E2E_TOPO" ]] || e2e_die "a topology is already up ($E2E_TOPO); call topo_down first"
    e2e_require_root
    e2e_require_tools ip iptables ip6tables ethtool sysctl ping
    _e2e_tmp
}

# cli(eth0) 198.18.1.2 -- (lan0) rtr (wan0) -- (eth0) srv 198.18.2.2
topo_desktop_up() {
    _e2e_topo_begin
    E2E_TOPO=desktop
    _e2e_ns_new cli; _e2e_ns_new rtr; _e2e_ns_new srv
    E2E_NS_CLI=$(e2e_ns cli) E2E_NS_SRV=$(e2e_ns srv)
    E2E_NS_RTR=$(e2e_ns rtr) E2E_NS_MID=$(e2e_ns rtr) E2E_MID_IF=lan0
    _e2e_link "$E2E_NS_CLI" eth0 "$E2E_NS_RTR" lan0
    _e2e_link "$E2E_NS_RTR" wan0 "$E2E_NS_SRV" eth0
    _e2e_if_up "$E2E_NS_CLI" eth0 "$E2E_CLI4" "$E2E_CLI6"
    _e2e_if_up "$E2E_NS_RTR" lan0 "$E2E_CLIGW4" "$E2E_CLIGW6"
    _e2e_if_up "$E2E_NS_RTR" wan0 "$E2E_SRVGW4" "$E2E_SRVGW6"
    _e2e_if_up "$E2E_NS_SRV" eth0 "$E2E_SRV4" "$E2E_SRV6"
    _e2e_forwarding "$E2E_NS_RTR"
    if [[ $E2E_SRCROUTE == 1 ]]; then
        _e2e_srcroute "$E2E_NS_CLI" "$E2E_CLI4" "$E2E_CLI6" "$E2E_CLIGW4" "$E2E_CLIGW6" eth0
    else
        nsx "$E2E_NS_CLI" ip route add default via "$E2E_CLIGW4"
        nsx "$E2E_NS_CLI" ip -6 route add default via "$E2E_CLIGW6"
    fi
    nsx "$E2E_NS_SRV" ip route add default via "$E2E_SRVGW4"
    nsx "$E2E_NS_SRV" ip -6 route add default via "$E2E_SRVGW6"
    _e2e_client_resolv "$E2E_NS_CLI"
    if [[ $E2E_SRCROUTE == 1 ]]; then
        _e2e_wait_ping "$E2E_NS_CLI" "$E2E_SRV4" -I "$E2E_CLI4"
        _e2e_wait_ping "$E2E_NS_CLI" "$E2E_SRV6" -I "$E2E_CLI6"
        _e2e_wait_ping "$E2E_NS_SRV" "$E2E_SRVGW4"
        _e2e_wait_ping "$E2E_NS_SRV" "$E2E_SRVGW6"
    else
        _e2e_topo_check
    fi
    e2e_log "desktop topology up: $E2E_NS_CLI -- $E2E_NS_RTR -- $E2E_NS_SRV (offloads $E2E_OFFLOADS)"
}

# cli(eth0) -- (lan0) gw (wan0) -- (lan0) cens (wan0) -- (eth0) srv
#  198.18.1.2   .1.1      .3.1        .3.2      .2.1        198.18.2.2
# gw is where a router-mode hellosplit runs, cens is the censoring hop.
topo_router_up() {
    local masq=${E2E_MASQ:-0}
    [[ ${1:-} == masq ]] && masq=1
    _e2e_topo_begin
    E2E_TOPO=router
    _e2e_ns_new cli; _e2e_ns_new gw; _e2e_ns_new cens; _e2e_ns_new srv
    E2E_NS_CLI=$(e2e_ns cli) E2E_NS_GW=$(e2e_ns gw) E2E_NS_CENS=$(e2e_ns cens)
    E2E_NS_SRV=$(e2e_ns srv) E2E_NS_MID=$(e2e_ns cens) E2E_MID_IF=lan0
    _e2e_link "$E2E_NS_CLI" eth0 "$E2E_NS_GW" lan0
    _e2e_link "$E2E_NS_GW" wan0 "$E2E_NS_CENS" lan0
    _e2e_link "$E2E_NS_CENS" wan0 "$E2E_NS_SRV" eth0
    _e2e_if_up "$E2E_NS_CLI" eth0 "$E2E_CLI4" "$E2E_CLI6"
    _e2e_if_up "$E2E_NS_GW" lan0 "$E2E_CLIGW4" "$E2E_CLIGW6"
    _e2e_if_up "$E2E_NS_GW" wan0 "$E2E_GWWAN4" "$E2E_GWWAN6"
    _e2e_if_up "$E2E_NS_CENS" lan0 "$E2E_CENSLAN4" "$E2E_CENSLAN6"
    _e2e_if_up "$E2E_NS_CENS" wan0 "$E2E_SRVGW4" "$E2E_SRVGW6"
    _e2e_if_up "$E2E_NS_SRV" eth0 "$E2E_SRV4" "$E2E_SRV6"
    _e2e_forwarding "$E2E_NS_GW"
    _e2e_forwarding "$E2E_NS_CENS"
    nsx "$E2E_NS_CLI" ip route add default via "$E2E_CLIGW4"
    nsx "$E2E_NS_CLI" ip -6 route add default via "$E2E_CLIGW6"
    if [[ $E2E_WAN_MTU != 1500 ]]; then
        nsx "$E2E_NS_GW" ip link set wan0 mtu "$E2E_WAN_MTU"
        nsx "$E2E_NS_CENS" ip link set lan0 mtu "$E2E_WAN_MTU"
        nsx "$E2E_NS_GW" iptables -w -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS \
            --clamp-mss-to-pmtu || e2e_die "iptables TCPMSS failed"
        nsx "$E2E_NS_GW" ip6tables -w -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS \
            --clamp-mss-to-pmtu || e2e_die "ip6tables TCPMSS failed"
    fi
    if [[ $E2E_SRCROUTE == 1 ]]; then
        _e2e_srcroute "$E2E_NS_GW" 198.18.1.0/24 2001:db8:1::/64 "$E2E_CENSLAN4" \
            "$(nsx "$E2E_NS_CENS" ip -6 -o addr show dev lan0 scope link | awk '{ sub(/\/.*/, "", $4); print $4 }')" wan0
    else
        nsx "$E2E_NS_GW" ip route add default via "$E2E_CENSLAN4"
        nsx "$E2E_NS_GW" ip -6 route add default via "$E2E_CENSLAN6"
    fi
    # Without masquerading the censor hop must know the way back to the LAN.
    nsx "$E2E_NS_CENS" ip route add 198.18.1.0/24 via "$E2E_GWWAN4"
    nsx "$E2E_NS_CENS" ip -6 route add 2001:db8:1::/64 via "$E2E_GWWAN6"
    nsx "$E2E_NS_SRV" ip route add default via "$E2E_SRVGW4"
    nsx "$E2E_NS_SRV" ip -6 route add default via "$E2E_SRVGW6"
    E2E_MASQ_ON=$masq
    if [[ $masq == 1 ]]; then
        nsx "$E2E_NS_GW" iptables -w -t nat -A POSTROUTING -o wan0 -j MASQUERADE ||
            e2e_die "iptables MASQUERADE failed"
        nsx "$E2E_NS_GW" ip6tables -w -t nat -A POSTROUTING -o wan0 -j MASQUERADE ||
            e2e_die "ip6tables MASQUERADE failed"
    fi
    _e2e_client_resolv "$E2E_NS_CLI"
    _e2e_topo_check
    e2e_log "router topology up: $E2E_NS_CLI -- $E2E_NS_GW -- $E2E_NS_CENS -- $E2E_NS_SRV (masq=$masq, offloads $E2E_OFFLOADS, source routing $E2E_SRCROUTE, WAN MTU $E2E_WAN_MTU)"
}

# Stop everything this run started and delete its namespaces.  Safe to call
# repeatedly and from the trap.
topo_down() {
    local pid ns pids
    capture_stop >/dev/null 2>&1 || true
    for pid in "${E2E_PIDS[@]}"; do _e2e_stop_pid "$pid"; done
    E2E_PIDS=()
    E2E_NGINX_PID=""
    for ns in "${E2E_NAMESPACES[@]}"; do
        # Anything still running inside one of *our* namespaces was started by
        # this run (e.g. a Chromium helper outliving `timeout`): stop it by PID
        # so the namespace can really go away.
        pids=$(ip netns pids "$ns" 2>/dev/null)
        for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
        if [[ -n "$pids" ]]; then sleep 0.3; fi
        pids=$(ip netns pids "$ns" 2>/dev/null)
        for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        rm -rf -- "/etc/netns/$ns"
    done
    E2E_NAMESPACES=()
    E2E_TOPO="" E2E_NS_CLI="" E2E_NS_SRV="" E2E_NS_MID=""
    E2E_NS_RTR="" E2E_NS_GW="" E2E_NS_CENS="" E2E_MASQ_ON=0
    return 0
}

# ------------------------------------------------------------ server ---------

# srv_nginx_start [NAME...]
# One self-signed EC certificate whose SAN lists every NAME; one server block
# per NAME returning "hello from NAME".  /addr returns the peer address as the
# server sees it (used to prove masquerading).  Unknown names get
# "hello from default", which no fetch helper accepts.
srv_nginx_start() {
    local names=("$@") d n san="" i
    [[ ${#names[@]} -gt 0 ]] || names=("$E2E_BLOCKED" "${E2E_ALLOWED[@]}")
    [[ -n "$E2E_NS_SRV" ]] || e2e_die "srv_nginx_start: no topology up"
    [[ -z "$E2E_NGINX_PID" ]] || e2e_die "srv_nginx_start: nginx already running"
    e2e_require_tools nginx openssl ss
    _e2e_tmp
    d="$E2E_TMP/nginx"
    mkdir -p "$d/tmp"
    for n in "${names[@]}"; do san+="${san:+,}DNS:$n"; done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 30 -subj "/CN=${names[0]}" -addext "subjectAltName=$san" \
        -keyout "$d/key.pem" -out "$d/cert.pem" >"$d/openssl.log" 2>&1 ||
        e2e_die "openssl req failed: $(cat "$d/openssl.log")"
    {
        cat <<EOF
# generated by tests/e2e/lib.sh for one test run
master_process off;   # one process: stopping it by PID stops everything
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { worker_connections 256; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type text/plain;
    keepalive_timeout 5;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 443 ssl default_server;
        listen [::]:443 ssl default_server ipv6only=on;
$(for p in ${E2E_NGINX_EXTRA_PORTS:-}; do echo "        listen $p ssl default_server;"; done)
        server_name _;
        location / { return 200 "hello from default\n"; }
    }
EOF
        for n in "${names[@]}"; do
            cat <<EOF
    server {
        listen 443 ssl;
        listen [::]:443 ssl;
$(for p in ${E2E_NGINX_EXTRA_PORTS:-}; do echo "        listen $p ssl;"; done)
        server_name $n;
        location = /addr { return 200 "\$remote_addr\n"; }
        location / { return 200 "hello from $n\n"; }
    }
EOF
        done
        echo "}"
    } >"$d/nginx.conf"
    nsx "$E2E_NS_SRV" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -t >"$d/test.log" 2>&1 ||
        e2e_die "nginx config test failed: $(cat "$d/test.log")"
    # Started with `ip netns exec` directly (not the nsx function, which
    # would fork a bash subshell): it execs nginx, so $! is nginx's own PID.
    ip netns exec "$E2E_NS_SRV" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" </dev/null >>"$d/stdout.log" 2>&1 &
    E2E_NGINX_PID=$!
    _e2e_track_pid "$E2E_NGINX_PID"
    local listen
    for ((i = 0; i < 100; i++)); do
        listen=$(nsx "$E2E_NS_SRV" ss -Hltn 'sport = :443' 2>/dev/null)
        if [[ $listen == *"0.0.0.0:443"* && $listen == *"[::]:443"* ]]; then
            e2e_log "nginx up in $E2E_NS_SRV (pid $E2E_NGINX_PID): ${names[*]}"
            return 0
        fi
        kill -0 "$E2E_NGINX_PID" 2>/dev/null || break
        sleep 0.05
    done
    e2e_die "nginx did not start: $(tail -5 "$d/error.log" 2>/dev/null)"
}

srv_nginx_stop() {
    [[ -n "$E2E_NGINX_PID" ]] || return 0
    _e2e_stop_pid "$E2E_NGINX_PID"
    _e2e_untrack_pid "$E2E_NGINX_PID"
    E2E_NGINX_PID=""
}

# ------------------------------------------------------------ censor ---------
#
# The censor runs in the filter table's FORWARD chain of the middle hop, for
# IPv4 (iptables) and IPv6 (ip6tables) alike.  Client->server packets are
# recognised by the input interface (the hop's client-side IFACE) and TCP
# destination port 443.  Chains:
#
#   FORWARD      -j HS_CENSOR                       (inserted first)
#   HS_CENSOR    -m connmark --mark BLOCKED/BLOCKED -j DROP
#                    a flow once judged is dead in both directions: no later
#                    packet (retransmission, server reply) gets through
#                -i IFACE -p tcp --dport 443 -j HS_CENSOR_SEL
#   HS_CENSOR_SEL   model-specific: which packets are inspected at all
#   HS_CENSOR_MATCH -m string --algo kmp --icase --string NAME -j HS_CENSOR_KILL
#                    (one rule per NAME; kmp, not bm, because bm can miss a
#                    string that straddles two fragments of a non-linear skb;
#                    --icase because DNS names are case-insensitive)
#   HS_CENSOR_KILL  -j CONNMARK --or-mark BLOCKED
#                   -p tcp -j REJECT --reject-with tcp-reset
#                    the matching packet is dropped and the client gets a RST
#                    at once (a reset is how the kill shows quickly; the
#                    server is left waiting and times out on its own)
#                    NOTE: the marked conntrack entry outlives the reset (its
#                    CLOSE state is refreshed by every new SYN on the tuple),
#                    so a later connection that reuses the client port is
#                    black-holed (connect timeout).  Linux hands ports out
#                    again after ~2 000 connects to one server: a test that
#                    makes thousands of connections after a blocked fetch
#                    must `conntrack -F` on the censor hop first.
#
# Models (HS_CENSOR_SEL):
#   first-packet  only the first client->server packet that carries TCP
#                 payload is inspected; it marks the flow SEEN, and SEEN flows
#                 are never inspected again.  "Carries payload" is decided
#                 exactly with u32: payload >= 4 bytes <=> 4 bytes can be read
#                 at the payload start; payload of 1..3 bytes <=> the IP
#                 length field is not a multiple of 4 (IP and TCP header
#                 lengths always are, so length mod 4 == payload mod 4).
#                 SYN and pure ACKs therefore never count, nor does a
#                 retransmitted SYN shift anything (unlike connbytes).
#       -m connmark --mark SEEN/SEEN -j RETURN
#       -m u32 ! --u32 "<len%4 in 1..3>" -m u32 ! --u32 "<4 payload bytes>" -j RETURN
#       -j CONNMARK --or-mark SEEN
#       -j HS_CENSOR_MATCH
#   record-start  every client->server packet whose TCP payload begins with a
#                 TLS handshake record header 0x16 0x03 is inspected (however
#                 late in the flow); packets starting otherwise never are.
#       -m u32 --u32 "<first 2 payload bytes> = 0x1603" -j HS_CENSOR_MATCH
#   any-packet    every client->server packet is inspected on its own (no
#                 reassembly): only a cut inside the hostname beats it.
#       -j HS_CENSOR_MATCH
#   any-packet-drop  any-packet, but the flow is dropped silently (no reset):
#                 HS_CENSOR_KILL only marks it BLOCKED and drops; the client
#                 sees nothing and retransmits until it gives up.
#   reassembling  stands for a DPI that reassembles the stream, which no split
#                 beats: every packet is inspected (as any-packet) for the part
#                 of each NAME that no rung of hellosplit's ladder cuts (from
#                 the middle of its registrable label to one byte before its
#                 end: "cked.exampl" of www.blocked.example), so the name is
#                 found however the hello is split.
#
# u32 expressions (IPv4 assumes nothing about options: IHL is read; IPv6
# assumes TCP directly after the 40-byte header, as all our clients send):
#   payload start v4:  0>>22&0x3C@12>>26&0x3C@0     (IHL*4, then doff*4)
#   payload start v6:  52>>26&0x3C@40               (doff*4 at 40+12)
#   length mod 4 v4:   0&0x3=1:3                    (IPv4 total length)
#   length mod 4 v6:   4>>16&0x3=1:3                (IPv6 payload length)

E2E_CENSOR_MODELS=(first-packet record-start any-packet)
E2E_CENSOR_MODELS_EXTRA=(any-packet-drop reassembling)

# The part of NAME no ladder rung cuts (see "reassembling" above).
_e2e_uncut_part() {
    awk -v n="$1" 'BEGIN { k = split(n, l, "."); if (k < 2) { print n; exit }
        off = 0; for (i = 1; i < k - 1; i++) off += length(l[i]) + 1
        start = off + int(length(l[k - 1]) / 2); print substr(n, start + 1, length(n) - start - 1) }'
}

# Print the u32 fragments for family 4|6.
_e2e_u32_payload() { [[ $1 == 4 ]] && echo '0>>22&0x3C@12>>26&0x3C@0' || echo '52>>26&0x3C@40'; }
_e2e_u32_lenmod4() { [[ $1 == 4 ]] && echo '0&0x3=1:3' || echo '4>>16&0x3=1:3'; }

_e2e_ipt() { # FAMILY NS ARGS...
    local fam=$1 ns=$2; shift 2
    local cmd=iptables
    [[ $fam == 6 ]] && cmd=ip6tables
    nsx "$ns" "$cmd" -w "$@"
}

# Add one rule or die naming it (a missing kernel match must fail loudly).
_e2e_iptm() { # FAMILY NS ARGS...
    _e2e_ipt "$@" || e2e_die "IPv$1 rule failed in $2: ${*:3} (kernel lacks u32/string/connmark/REJECT?)"
}

# censor_install MODEL NS IFACE NAME...
censor_install() {
    [[ $# -ge 4 ]] || e2e_die "usage: censor_install MODEL NS IFACE NAME..."
    local model=$1 ns=$2 ifc=$3
    shift 3
    local names=("$@") fam n pl
    case $model in first-packet | record-start | any-packet | any-packet-drop | reassembling) ;;
        *) e2e_die "censor_install: unknown model '$model' (want: ${E2E_CENSOR_MODELS[*]} ${E2E_CENSOR_MODELS_EXTRA[*]})" ;;
    esac
    censor_remove "$ns"
    for fam in 4 6; do
        pl=$(_e2e_u32_payload "$fam")
        _e2e_iptm "$fam" "$ns" -N HS_CENSOR
        _e2e_iptm "$fam" "$ns" -N HS_CENSOR_SEL
        _e2e_iptm "$fam" "$ns" -N HS_CENSOR_MATCH
        _e2e_iptm "$fam" "$ns" -N HS_CENSOR_KILL
        _e2e_iptm "$fam" "$ns" -A HS_CENSOR -m connmark --mark "$E2E_MARK_BLOCKED/$E2E_MARK_BLOCKED" -j DROP
        _e2e_iptm "$fam" "$ns" -A HS_CENSOR -i "$ifc" -p tcp --dport 443 -j HS_CENSOR_SEL
        case $model in
            first-packet)
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -m connmark --mark "$E2E_MARK_SEEN/$E2E_MARK_SEEN" -j RETURN
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -m u32 ! --u32 "$(_e2e_u32_lenmod4 "$fam")" \
                    -m u32 ! --u32 "$pl>>0=0:0xFFFFFFFF" -j RETURN
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -j CONNMARK --or-mark "$E2E_MARK_SEEN"
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -j HS_CENSOR_MATCH
                ;;
            record-start)
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -m u32 --u32 "$pl>>16=0x1603" -j HS_CENSOR_MATCH
                ;;
            any-packet | any-packet-drop | reassembling)
                _e2e_iptm "$fam" "$ns" -A HS_CENSOR_SEL -j HS_CENSOR_MATCH
                ;;
        esac
        for n in "${names[@]}"; do
            [[ $model == reassembling ]] && n=$(_e2e_uncut_part "$n")
            _e2e_iptm "$fam" "$ns" -A HS_CENSOR_MATCH -m string --algo kmp --icase --string "$n" -j HS_CENSOR_KILL
        done
        _e2e_iptm "$fam" "$ns" -A HS_CENSOR_KILL -j CONNMARK --or-mark "$E2E_MARK_BLOCKED"
        if [[ $model == any-packet-drop ]]; then
            _e2e_iptm "$fam" "$ns" -A HS_CENSOR_KILL -j DROP
        else
            _e2e_iptm "$fam" "$ns" -A HS_CENSOR_KILL -p tcp -j REJECT --reject-with tcp-reset
        fi
        _e2e_iptm "$fam" "$ns" -I FORWARD 1 -j HS_CENSOR
    done
    # Forget flows (and their marks) judged under a previous censor setup.
    nsx "$ns" conntrack -F >/dev/null 2>&1 || true
    e2e_log "censor $model on $ns:$ifc for: ${names[*]}"
}

censor_remove() {
    local ns=$1 fam c
    for fam in 4 6; do
        while _e2e_ipt "$fam" "$ns" -D FORWARD -j HS_CENSOR 2>/dev/null; do :; done
        for c in HS_CENSOR HS_CENSOR_SEL HS_CENSOR_MATCH HS_CENSOR_KILL; do
            _e2e_ipt "$fam" "$ns" -F "$c" 2>/dev/null || true
        done
        for c in HS_CENSOR HS_CENSOR_SEL HS_CENSOR_MATCH HS_CENSOR_KILL; do
            _e2e_ipt "$fam" "$ns" -X "$c" 2>/dev/null || true
        done
    done
    nsx "$ns" conntrack -F >/dev/null 2>&1 || true
    return 0
}

censor_show() {
    local ns=$1
    echo "== IPv4 filter ($ns)"; _e2e_ipt 4 "$ns" -S -v 2>/dev/null | grep -E 'HS_|FORWARD'
    echo "== IPv4 raw"; _e2e_ipt 4 "$ns" -t raw -S -v 2>/dev/null | grep -E 'HS_'
    echo "== IPv6 filter"; _e2e_ipt 6 "$ns" -S -v 2>/dev/null | grep -E 'HS_|FORWARD'
    echo "== IPv6 raw"; _e2e_ipt 6 "$ns" -t raw -S -v 2>/dev/null | grep -E 'HS_'
}

# censor_loss NS PERCENT [IFACE]
# Random loss on the hop's input, in the raw table's PREROUTING chain: a lost
# packet never reaches conntrack or the censor, exactly like loss on the wire
# before the box.  Without IFACE both directions lose PERCENT %; with IFACE
# (e.g. $E2E_MID_IF) only packets arriving there, i.e. client->server.
# PERCENT 0 removes the loss rules.
censor_loss() {
    local ns=$1 pct=$2 ifc=${3:-} p fam inm=(! -i lo)
    [[ -n "$ifc" ]] && inm=(-i "$ifc")
    for fam in 4 6; do
        _e2e_ipt "$fam" "$ns" -t raw -D PREROUTING -j HS_LOSS 2>/dev/null || true
        _e2e_ipt "$fam" "$ns" -t raw -F HS_LOSS 2>/dev/null || true
        _e2e_ipt "$fam" "$ns" -t raw -X HS_LOSS 2>/dev/null || true
    done
    p=$(awk -v x="$pct" 'BEGIN { if (x !~ /^[0-9.]+$/ || x < 0 || x > 100) exit 1; printf "%.4f", x / 100 }') ||
        e2e_die "censor_loss: bad percent '$pct'"
    [[ $p == 0.0000 ]] && return 0
    for fam in 4 6; do
        _e2e_iptm "$fam" "$ns" -t raw -N HS_LOSS
        _e2e_iptm "$fam" "$ns" -t raw -A HS_LOSS "${inm[@]}" -m statistic --mode random --probability "$p" -j DROP
        _e2e_iptm "$fam" "$ns" -t raw -I PREROUTING 1 -j HS_LOSS
    done
    e2e_log "loss $pct% on $ns ${ifc:-(all interfaces)}"
}

# ------------------------------------------------------------ clients --------

# Shared by the fetch helpers: new log file, address for the family.
_e2e_fetch_prep() { # NAME FAMILY TOOL
    local fam=$2
    [[ $fam == 4 || $fam == 6 ]] || e2e_die "fetch: family must be 4 or 6, got '$fam'"
    [[ -n "$E2E_NS_CLI" ]] || e2e_die "fetch: no topology up"
    _e2e_tmp
    mkdir -p "$E2E_TMP/fetch"
    E2E_FETCH_N=$((${E2E_FETCH_N:-0} + 1))
    E2E_LAST_LOG="$E2E_TMP/fetch/$(printf '%04d' "$E2E_FETCH_N")-$3-$1-v$fam.log"
    E2E_LAST_REASON=""
    : >"$E2E_LAST_LOG"
    if [[ $fam == 4 ]]; then _E2E_ADDR=$E2E_SRV4; else _E2E_ADDR=$E2E_SRV6; fi
}

# Decide the result from BODY_FILE; sets E2E_LAST_REASON unless already set.
_e2e_body_check() { # NAME BODY_FILE
    if grep -qxF "hello from $1" "$2"; then
        E2E_LAST_REASON=ok
        return 0
    fi
    [[ -n "$E2E_LAST_REASON" ]] || E2E_LAST_REASON=wrong-body
    return 1
}

# fetch_curl NAME [4|6]
fetch_curl() {
    local name=$1 fam=${2:-4} rc addr bind=()
    _e2e_fetch_prep "$name" "$fam" curl
    addr=$_E2E_ADDR
    [[ $fam == 6 ]] && addr="[$addr]"
    if [[ $E2E_CURL_BIND == 1 && $fam == 4 ]]; then bind=(--interface "$E2E_CLI4"); fi
    if [[ $E2E_CURL_BIND == 1 && $fam == 6 ]]; then bind=(--interface "$E2E_CLI6"); fi
    # No --http1.1: keep curl's own ClientHello (ALPN h2,http/1.1); the
    # server only speaks HTTP/1.1 anyway.
    _e2e_fg ip netns exec "$E2E_NS_CLI" curl -sS -k --noproxy '*' "${bind[@]}" \
        --connect-timeout "$E2E_FETCH_TIMEOUT" --max-time "$E2E_FETCH_TIMEOUT" \
        --resolve "$name:443:$addr" "https://$name/" \
        -o "$E2E_LAST_LOG.body" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    echo "curl exit $rc" >>"$E2E_LAST_LOG"
    case $rc in
        0) ;;
        28) E2E_LAST_REASON=timeout ;;
        7) E2E_LAST_REASON=refused ;;
        *) if grep -qi 'reset by peer' "$E2E_LAST_LOG"; then E2E_LAST_REASON=reset; else E2E_LAST_REASON=error; fi ;;
    esac
    touch "$E2E_LAST_LOG.body"
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# e2e_http_get NAME [4|6] [PATH] -- print the body of https://NAME/PATH
# (curl); e.g. PATH=/addr shows the client address the server sees.
e2e_http_get() {
    local name=$1 fam=${2:-4} path=${3:-/} addr
    [[ -n "$E2E_NS_CLI" ]] || e2e_die "e2e_http_get: no topology up"
    if [[ $fam == 6 ]]; then addr="[$E2E_SRV6]"; else addr=$E2E_SRV4; fi
    nsx "$E2E_NS_CLI" curl -sS -k --http1.1 --noproxy '*' \
        --connect-timeout "$E2E_FETCH_TIMEOUT" --max-time "$E2E_FETCH_TIMEOUT" \
        --resolve "$name:443:$addr" "https://$name$path"
}

# fetch_gnutls NAME [4|6]
# gnutls-cli sends the request read from stdin and, after stdin's EOF, keeps
# reading until the server closes (Connection: close).
fetch_gnutls() {
    local name=$1 fam=${2:-4} rc
    _e2e_fetch_prep "$name" "$fam" gnutls
    printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$name" >"$E2E_LAST_LOG.req"
    _e2e_fg -i "$E2E_LAST_LOG.req" ip netns exec "$E2E_NS_CLI" timeout "$E2E_FETCH_TIMEOUT" \
        gnutls-cli --insecure --sni-hostname "$name" -p 443 "$_E2E_ADDR" \
        >"$E2E_LAST_LOG.out" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    cat "$E2E_LAST_LOG.out" >>"$E2E_LAST_LOG"
    echo "gnutls-cli exit $rc" >>"$E2E_LAST_LOG"
    # Body = what follows the blank line after the HTTP header.
    tr -d '\r' <"$E2E_LAST_LOG.out" | awk 'f { print } /^$/ { f = 1 }' >"$E2E_LAST_LOG.body"
    if [[ $rc == 124 ]]; then
        E2E_LAST_REASON=timeout
    elif grep -qiE 'reset by peer|non-properly terminated|Error in the push function|Error in the pull function' "$E2E_LAST_LOG"; then
        E2E_LAST_REASON=reset
    elif grep -qi 'Connection refused' "$E2E_LAST_LOG"; then
        E2E_LAST_REASON=refused
    fi
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# Exit codes of split_client.py: 0 ok, 1 error, 2 reset, 3 timeout, 4 refused.
_e2e_py_reason() {
    case $1 in
        0) ;; 2) E2E_LAST_REASON=reset ;; 3) E2E_LAST_REASON=timeout ;;
        4) E2E_LAST_REASON=refused ;; *) E2E_LAST_REASON=error ;;
    esac
}

# fetch_python NAME [4|6]  -- the ordinary ssl.SSLContext.wrap_socket client
fetch_python() {
    local name=$1 fam=${2:-4} rc
    _e2e_fetch_prep "$name" "$fam" python
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/split_client.py" --plain --name "$name" \
        --addr "$_E2E_ADDR" --timeout "$E2E_FETCH_TIMEOUT" \
        >"$E2E_LAST_LOG.body" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    echo "split_client --plain exit $rc" >>"$E2E_LAST_LOG"
    _e2e_py_reason "$rc"
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# fetch_split NAME [4|6] CUTS [DELAY [EXTRA-ARGS...]]
# CUTS/EXTRA-ARGS: see split_client.py (e.g. fetch_split N 4 "" 0.2 --records sni-20)
fetch_split() {
    local name=$1 fam=${2:-4} cuts=${3:-} delay=${4:-0.2} rc
    shift 4 2>/dev/null || shift $#
    _e2e_fetch_prep "$name" "$fam" split
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/split_client.py" --name "$name" \
        --addr "$_E2E_ADDR" --timeout "$E2E_FETCH_TIMEOUT" --cuts "$cuts" --delay "$delay" "$@" \
        >"$E2E_LAST_LOG.body" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    echo "split_client exit $rc" >>"$E2E_LAST_LOG"
    _e2e_py_reason "$rc"
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# fetch_chromium NAME [4|6]
# Headless Chromium with the name pinned to the server address, no QUIC, no
# background services; the DOM dump must contain the vhost's line.  Its own
# profile dir per call.  It needs more time than the other clients (start-up).
fetch_chromium() {
    local name=$1 fam=${2:-4} rc prof addr t
    _e2e_fetch_prep "$name" "$fam" chromium
    prof="$E2E_LAST_LOG.profile"
    mkdir -p "$prof"
    addr=$_E2E_ADDR
    [[ $fam == 6 ]] && addr="[$addr]"
    t=$((E2E_FETCH_TIMEOUT + 20))
    _e2e_fg ip netns exec "$E2E_NS_CLI" env HOME="$prof" timeout -k 2 "$t" chromium --headless=new --no-sandbox \
        --disable-gpu --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --disable-extensions \
        --disable-features=Translate,OptimizationHints,MediaRouter \
        --user-data-dir="$prof" --host-resolver-rules="MAP $name $addr" \
        --ignore-certificate-errors --dump-dom "https://$name/" \
        >"$E2E_LAST_LOG.dom" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    echo "chromium exit $rc" >>"$E2E_LAST_LOG"
    rm -rf -- "$prof"
    # The text body is wrapped in <pre>...</pre> by Chromium.
    tr -d '\n' <"$E2E_LAST_LOG.dom" | sed -n 's/.*<pre[^>]*>\([^<]*\)<\/pre>.*/\1\n/p' >"$E2E_LAST_LOG.body"
    if [[ $rc == 124 ]]; then
        E2E_LAST_REASON=timeout
    elif grep -q 'ERR_CONNECTION_RESET' "$E2E_LAST_LOG.dom" "$E2E_LAST_LOG"; then
        E2E_LAST_REASON=reset
    elif grep -q 'ERR_CONNECTION_REFUSED' "$E2E_LAST_LOG.dom" "$E2E_LAST_LOG"; then
        E2E_LAST_REASON=refused
    elif grep -qE 'ERR_[A-Z_]*TIMED_OUT' "$E2E_LAST_LOG.dom" "$E2E_LAST_LOG"; then
        E2E_LAST_REASON=timeout
    fi
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# fetch_bighello NAME [4|6] [PAD]
fetch_bighello() {
    local name=$1 fam=${2:-4} pad=${3:-1300} rc
    _e2e_fetch_prep "$name" "$fam" bighello
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/tls_load.py" --name "$name" --addr "$_E2E_ADDR" \
        --count 1 --parallel 1 --timeout "$E2E_FETCH_TIMEOUT" --alpn-pad "$pad" >>"$E2E_LAST_LOG" 2>&1 &&
        rc=0 || rc=$?
    echo "tls_load exit $rc" >>"$E2E_LAST_LOG"
    [[ $rc == 0 ]] && return 0
    if grep -q ' reset in ' "$E2E_LAST_LOG"; then E2E_LAST_REASON=reset; else E2E_LAST_REASON=error; fi
    return 1
}

# raw_client_setup [NS]
# raw_client.py speaks TCP itself over raw sockets; the namespace's kernel
# knows no socket for that connection and would answer the server's SYN-ACK
# and data with resets.  Drop those resets (only for E2E_RAW_PORTS) in the
# raw table, i.e. before conntrack: conntrack then counts the connection's
# packets exactly as for a kernel client (SYN 1, ACK 2, first data 3).  The
# kernel's resets answer segments that carry an ACK, so they carry none
# themselves; raw_client.py's own reset (--close rst) is RST+ACK and passes.
raw_client_setup() {
    local ns=${1:-$E2E_NS_CLI} ipt
    [[ -n "$ns" ]] || e2e_die "raw_client_setup: no topology up"
    for ipt in iptables ip6tables; do
        nsx "$ns" "$ipt" -w -t raw -A OUTPUT -p tcp --sport "$E2E_RAW_PORTS" --tcp-flags RST,ACK RST -j DROP ||
            e2e_die "raw_client_setup: $ipt raw OUTPUT rule failed"
    done
}

# fetch_raw NAME [4|6] SPORT PLAN [EXTRA-ARGS...]  (see raw_client.py)
fetch_raw() {
    local name=$1 fam=${2:-4} sport=$3 plan=$4 rc src
    shift 4
    _e2e_fetch_prep "$name" "$fam" raw
    if [[ $fam == 6 ]]; then src=$E2E_CLI6; else src=$E2E_CLI4; fi
    _e2e_fg ip netns exec "$E2E_NS_CLI" "$E2E_PY" "$E2E_DIR/raw_client.py" --name "$name" \
        --src "$src" --dst "$_E2E_ADDR" --sport "$sport" --plan "$plan" --timeout "$E2E_FETCH_TIMEOUT" "$@" \
        >"$E2E_LAST_LOG.body" 2>>"$E2E_LAST_LOG" && rc=0 || rc=$?
    echo "raw_client exit $rc" >>"$E2E_LAST_LOG"
    _e2e_py_reason "$rc"
    _e2e_body_check "$name" "$E2E_LAST_LOG.body"
}

# ------------------------------------------------------------ captures -------

# capture_start NS IFACE FILE [FILTER...]
# Full snaplen, packet-buffered (-U) and --immediate-mode (without them a
# capture stopped right after the traffic can be empty); -Z root keeps the
# file root-owned (Debian's tcpdump would chown it to user tcpdump).
# Returns once tcpdump says it is listening.
capture_start() {
    local ns=$1 ifc=$2 file=$3 pid i
    shift 3
    e2e_require_tools tcpdump
    : >"$file.log"
    # `ip netns exec` directly, so $! is tcpdump itself (see srv_nginx_start).
    ip netns exec "$ns" tcpdump -i "$ifc" -n -s 0 -U --immediate-mode -Z root -w "$file" "$@" \
        </dev/null >/dev/null 2>"$file.log" &
    pid=$!
    _e2e_track_pid "$pid"
    E2E_CAP_PID[$file]=$pid
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$file.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    e2e_die "tcpdump on $ns:$ifc did not start: $(cat "$file.log")"
}

capture_retransmitted() {
    local file=$1 port=${2:-443}
    tshark -n -r "$file" -Y "tcp.dstport == $port && tcp.len > 0 && (tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission)" \
        -T fields -e tcp.len 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'
}

tcp_retransmits() {
    nsx "$1" awk '$1 == "Tcp:" { if (!col) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") col = i; next }
        print $col; exit }' /proc/net/snmp
}

tcp_no_loss_probes() {
    nsx "$1" sysctl -qw net.ipv4.tcp_early_retrans=0 >/dev/null || e2e_die "sysctl tcp_early_retrans in $1 failed"
}

# capture_stop [FILE] -- SIGINT makes tcpdump flush and close the file; we
# wait for the PID, so the file is complete when this returns.
capture_stop() {
    local f files=("$@") pid
    [[ ${#files[@]} -gt 0 ]] || files=("${!E2E_CAP_PID[@]}")
    for f in "${files[@]}"; do
        pid=${E2E_CAP_PID[$f]:-}
        [[ -n "$pid" ]] || continue
        _e2e_stop_pid "$pid" INT
        _e2e_untrack_pid "$pid"
        unset 'E2E_CAP_PID[$f]'
        rm -f -- "$f.log"
    done
    return 0
}

# ------------------------------------------------------------ hellosplit -----
#
# The daemon under test.  hs_start adds -v (one line per flow) and
# --stats-json, starts it inside NS with e2e_spawn (so it is stopped at exit
# like every other process of the run) and waits for the parent's "running
# on queue" line, printed only after the queue is bound and the rules are in.

HS_BIN="" HS_PID="" HS_LOG="" HS_STATS="" HS_RC="" HS_OUT="" HS_N=0

hs_require() {
    HS_BIN=${HELLOSPLIT:-$E2E_DIR/../../build/hellosplit}
    [[ -x "$HS_BIN" ]] || e2e_die "hellosplit binary '$HS_BIN' missing: run 'make' first (or set HELLOSPLIT)"
    HS_BIN=$(cd "$(dirname "$HS_BIN")" && pwd)/$(basename "$HS_BIN")
}

hs_start() {
    local ns=$1 i
    shift
    [[ -n "$HS_BIN" ]] || hs_require
    _e2e_tmp
    HS_N=$((HS_N + 1))
    HS_LOG="$E2E_TMP/hellosplit-$HS_N.log"
    HS_STATS="$E2E_TMP/hellosplit-$HS_N.json"
    HS_RC=""
    : >"$HS_LOG"
    # HS_VERBOSE="" starts it without -v (the benchmarks: a user's default)
    local verbose=() learn=(--state "${HS_STATE:=$E2E_TMP/learned}")
    [[ -z "${HS_VERBOSE--v}" ]] || verbose=("${HS_VERBOSE--v}")
    [[ ${HS_LEARN:-0} == 1 ]] || learn+=(--no-learn)
    e2e_spawn "$ns" "$HS_LOG" "$HS_BIN" --engine "$E2E_ENGINE" "${verbose[@]}" --stats-json "$HS_STATS" "${learn[@]}" "$@"
    HS_PID=$E2E_SPAWN_PID
    for ((i = 0; i < 200; i++)); do
        grep -qE 'running on queue|running in the kernel' "$HS_LOG" && return 0
        if ! kill -0 "$HS_PID" 2>/dev/null; then
            wait "$HS_PID" && HS_RC=0 || HS_RC=$?
            _e2e_untrack_pid "$HS_PID"
            break
        fi
        sleep 0.05
    done
    e2e_log "hellosplit $* did not come up (exit ${HS_RC:-still running}):"
    sed 's/^/      | /' "$HS_LOG" >&2
    [[ -n "$HS_RC" ]] || e2e_stop "$HS_PID"
    return 1
}

hs_child() {
    local pid=${1:-$HS_PID}
    pgrep -P "$pid" | head -n1
}

hs_stop() {
    local sig=${1:-INT} pid=${2:-$HS_PID} i
    HS_RC=""
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null
        HS_RC=timeout
        _e2e_untrack_pid "$pid"
        return 1
    fi
    wait "$pid" && HS_RC=0 || HS_RC=$?
    _e2e_untrack_pid "$pid"
    return 0
}

hs_wait() {
    local secs=${1:-10} pid=${2:-$HS_PID} i
    HS_RC=""
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && return 1
    wait "$pid" && HS_RC=0 || HS_RC=$?
    _e2e_untrack_pid "$pid"
    return 0
}

pid_alive() {
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$st" && $st != Z && $st != X ]]
}

hs_run() {
    local ns=$1
    shift
    [[ -n "$HS_BIN" ]] || hs_require
    _e2e_tmp
    HS_N=$((HS_N + 1))
    HS_OUT="$E2E_TMP/hellosplit-run-$HS_N.out"
    # daemon options (not a subcommand such as doctor) get --engine "$E2E_ENGINE"
    # first and --no-learn as hs_start's do, so that --print-rules prints what
    # hs_start installs
    local engine=() learn=()
    [[ ${1-} != -* ]] || engine=(--engine "$E2E_ENGINE")
    [[ ${1:-} == --* && ${HS_LEARN:-0} != 1 ]] && learn=(--no-learn)
    _e2e_fg ip netns exec "$ns" timeout -k 2 15 "$HS_BIN" "${engine[@]}" "$@" "${learn[@]}" >"$HS_OUT" 2>&1 && HS_RC=0 || HS_RC=$?
    return 0
}

hs_stat() {
    local key=$1 file=${2:-$HS_STATS}
    [[ -s "$file" ]] || { echo "-"; return 1; }
    sed -n "s/.*\"$key\":\([0-9.]*\).*/\1/p" "$file"
}

# tcx_progs NS IFACE [egress|ingress]: the BPF programs at IFACE's tcx hook
# (the tc engine's, Linux >= 6.6), one "NAME ID" line each.
tcx_progs() { nsx "$1" "$E2E_PY" "$E2E_DIR/tcx_progs.py" "$2" "${3:-egress}"; }

hs_rules_present() {
    local ns=$1
    nsx "$ns" iptables -w -t mangle -S HELLOSPLIT >/dev/null 2>&1 ||
        nsx "$ns" ip6tables -w -t mangle -S HELLOSPLIT >/dev/null 2>&1
}

# fw_rules NS: what a rule set *is*, per doc/testing.md: every rule (-A line),
# every user chain, every built-in chain whose policy is not ACCEPT, by
# family and table.  Comment lines, counters and the empty built-in chains
# of a table (iptables-nft keeps a table once it was used) are not rules.
fw_rules() {
    local ns=$1 fam save
    for fam in 4 6; do
        if [[ $fam == 4 ]]; then save=iptables-save; else save=ip6tables-save; fi
        nsx "$ns" "$save" 2>/dev/null | awk -v fam="v$fam" '
            /^#/ || /^COMMIT/ { next }
            /^\*/ { table = substr($0, 2); next }
            /^:/ { if ($2 == "-") print fam, table, $1;
                   else if ($2 != "ACCEPT") print fam, table, $1, $2; next }
            { print fam, table, $0 }'
    done
}

fw_save_plain() {
    local ns=$1 table=${2:-} targs=()
    [[ -n "$table" ]] && targs=(-t "$table")
    {
        nsx "$ns" iptables-save "${targs[@]}"
        nsx "$ns" ip6tables-save "${targs[@]}"
    } 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/g'
}

proc_status() {
    awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status" 2>/dev/null
}

# ------------------------------------------------------------ assertions -----

e2e_pass() { E2E_PASSED=$((E2E_PASSED + 1)); printf 'PASS: %s\n' "$1"; }

e2e_fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    E2E_FAILED_DESCS+=("$1")
    printf 'FAIL: %s\n' "$1"
    [[ -n "${2:-}" ]] && printf '      %s\n' "$2"
    return 0
}

# Print the last client log indented (on failure, or always when verbose).
_e2e_show_log() {
    [[ -n "$E2E_LAST_LOG" && -s "$E2E_LAST_LOG" ]] || return 0
    sed 's/^/      | /' "$E2E_LAST_LOG" | tail -n 12
}

expect_ok() {
    local desc=$1; shift
    E2E_LAST_LOG="" E2E_LAST_REASON=""
    if "$@"; then
        e2e_pass "$desc"
        [[ $E2E_VERBOSE == 1 ]] && _e2e_show_log
    else
        e2e_fail "$desc" "expected success; reason: ${E2E_LAST_REASON:-exit non-zero}"
        _e2e_show_log
    fi
    return 0
}

expect_fail() {
    local desc=$1; shift
    E2E_LAST_LOG="" E2E_LAST_REASON=""
    if "$@"; then
        e2e_fail "$desc" "expected failure but it succeeded"
        _e2e_show_log
    else
        e2e_pass "$desc${E2E_LAST_REASON:+ ($E2E_LAST_REASON)}"
        [[ $E2E_VERBOSE == 1 ]] && _e2e_show_log
    fi
    return 0
}

# A censored fetch must fail *because of the censor*: by a reset, and fast.
# A timeout or a wrong body would mean the test bed is broken, not blocked.
expect_blocked() {
    local desc=$1; shift
    local t0=$EPOCHREALTIME t1 ms
    E2E_LAST_LOG="" E2E_LAST_REASON=""
    if "$@"; then
        e2e_fail "$desc" "expected a reset, but the fetch succeeded"
        _e2e_show_log
        return 0
    fi
    t1=$EPOCHREALTIME
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
    if [[ $E2E_LAST_REASON != reset ]]; then
        e2e_fail "$desc" "failed, but by '${E2E_LAST_REASON:-?}' instead of a reset (${ms} ms)"
        _e2e_show_log
    elif ((ms > E2E_BLOCK_MAX_S * 1000)); then
        e2e_fail "$desc" "reset came only after ${ms} ms (limit ${E2E_BLOCK_MAX_S}s)"
    else
        e2e_pass "$desc (reset after ${ms} ms)"
        [[ $E2E_VERBOSE == 1 ]] && _e2e_show_log
    fi
    return 0
}

expect_eq() {
    if [[ "$2" == "$3" ]]; then
        e2e_pass "$1"
    else
        e2e_fail "$1" "want '$2', got '$3'"
    fi
    return 0
}

e2e_summary() {
    local d
    echo "----------------------------------------------------------------"
    if [[ $E2E_FAILED -gt 0 ]]; then
        echo "failed checks:"
        for d in "${E2E_FAILED_DESCS[@]}"; do echo "  - $d"; done
    fi
    echo "time: $((SECONDS - E2E_T0)) s"
    echo "e2e: $E2E_PASSED passed, $E2E_FAILED failed"
    [[ $E2E_FAILED -eq 0 && $E2E_PASSED -gt 0 ]]
}

# e2e_check_segments DESC PCAP ARGS...: hello_segments.py PCAP ARGS passes;
# its findings are printed either way.
e2e_check_segments() {
    local desc=$1 pcap=$2 out
    shift 2
    if out=$("$E2E_PY" "$E2E_DIR/hello_segments.py" "$pcap" "$@" 2>&1); then
        e2e_pass "$desc"
    else
        e2e_fail "$desc" "hello_segments.py $*"
    fi
    printf '%s\n' "$out" | sed 's/^/      | /'
}

# e2e_capture_sources PCAP: distinct client source addresses seen at the server.
e2e_capture_sources() {
    tshark -n -r "$1" -Y 'tcp.dstport == 443' -T fields -e ip.src -e ipv6.src 2>/dev/null |
        tr -s '\t' '\n' | sed '/^$/d' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
}

# e2e_timed DESC CMD...: CMD succeeds in time: E2E_FETCH_MAX_MS of wall time
# (default 900: below the 1 s initial RTO), or E2E_LOAD_MAX_MS (default 150:
# below the 200 ms minimum RTO) by tls_load's own measure when CMD ran it.
e2e_timed() {
    local desc=$1 t0 ms limit=${E2E_FETCH_MAX_MS:-900} how="wall time"
    shift
    t0=$EPOCHREALTIME
    if "$@"; then
        ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
        # tls_load measures the fetch itself (no interpreter start-up): a lost
        # piece costs at least the 200 ms minimum RTO there
        if grep -q 'max_ms=' "$E2E_LAST_LOG" 2>/dev/null; then
            ms=$(sed -n 's/.*max_ms=\([0-9]*\).*/\1/p' "$E2E_LAST_LOG" | tail -n 1)
            limit=${E2E_LOAD_MAX_MS:-150} how="tls_load's time"
        fi
        if ((ms <= limit)); then
            e2e_pass "$desc (${ms} ms)"
        else
            e2e_fail "$desc" "loaded, but after ${ms} ms ($how; limit ${limit} ms: a piece was lost)"
        fi
    else
        e2e_fail "$desc" "expected success; reason: ${E2E_LAST_REASON:-exit non-zero}"
        _e2e_show_log
    fi
}
