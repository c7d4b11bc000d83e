#!/bin/bash
# tests/e2e/run.sh -- run the end-to-end suite: every tests/e2e/test_*.sh, one
# after the other (nothing in parallel: each builds its own namespaces and
# measures timing-sensitive things), then a summary table.
#
#   sudo tests/e2e/run.sh [TEST...]      TEST: test_desktop, test_desktop.sh, desktop;
#                                        NAME@tc: that suite with E2E_ENGINE=tc
#
# Before any test it checks, and FAILS (exit 1, never skips) when something
# is missing: root, every tool of tests/e2e/packages.txt, the hellosplit
# binary (make first; or HELLOSPLIT=path), and the kernel features the tests
# rely on (network namespaces, veth, iptables/ip6tables NFQUEUE, connbytes,
# connmark, string, u32, statistic, REJECT) -- tried in a throwaway namespace.
# Each test's full output is printed (and kept in $E2E_LOG_DIR, default
# build/e2e); a test counts as passed only when it exits 0 AND prints its
# "e2e: N passed, 0 failed" line.  Exit status: 0 all passed, 1 otherwise.
#
# Environment: HELLOSPLIT (binary, default build/hellosplit), E2E_TEST_TIMEOUT
# (seconds per test, default 300), E2E_LOG_DIR, and every lib.sh knob.
set -u -o pipefail

DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$DIR/../.." && pwd)
TIMEOUT=${E2E_TEST_TIMEOUT:-300}
LOGS=${E2E_LOG_DIR:-$ROOT/build/e2e}

die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }

# Fixed order: the test bed itself first, quick refusals next, the long
# measurements (loss, soak) last.
# The suites marked @tc run a second time with E2E_ENGINE=tc (the tc engine;
# where a check is about what only one engine does -- the NFQUEUE engine's
# rules, held packets and child process, the tc engine's hook -- the suite
# checks each engine's own).
ORDER=(test_censor_baseline test_daemon_cli test_desktop test_tc test_router test_route test_offloads test_failopen
       test_router_pppoe test_stop test_tuple_reuse test_adversarial test_loss test_soak
       test_desktop@tc test_router@tc test_route@tc test_offloads@tc test_failopen@tc test_router_pppoe@tc
       test_stop@tc test_tuple_reuse@tc test_adversarial@tc test_everyday@tc test_probe@tc test_loss@tc
       test_learn@tc)

select_tests() {
    local t f all=() seen
    for f in "$DIR"/test_*.sh; do all+=("$(basename "$f" .sh)"); done
    [[ ${#all[@]} -gt 0 ]] || die "no tests/e2e/test_*.sh found"
    if [[ $# -gt 0 ]]; then
        for t in "$@"; do
            t=${t%.sh}
            [[ $t == test_* ]] || t=test_$t
            [[ -f "$DIR/${t%@tc}.sh" ]] || die "no such test: $DIR/${t%@tc}.sh"
            TESTS+=("$t")
        done
        return
    fi
    # ORDER first, then any test not listed there (a new file is never skipped).
    for t in "${ORDER[@]}"; do [[ -f "$DIR/${t%@tc}.sh" ]] && TESTS+=("$t"); done
    for t in "${all[@]}"; do
        seen=0
        for f in "${TESTS[@]}"; do [[ $f == "$t" ]] && seen=1; done
        [[ $seen == 1 ]] || TESTS+=("$t")
    done
}

# Root, tools, binary: lib.sh's own checks (each names what to install).
preflight_tools() {
    (
        . "$DIR/lib.sh"
        e2e_require_root
        e2e_require_tools
        e2e_require_tools chromium tshark pgrep setpriv nft getent find
        hs_require
        echo "hellosplit: $HS_BIN ($("$HS_BIN" --version 2>&1 | head -n1))"
    ) || exit 1
}

# Kernel features, tried for real in a namespace of our own.
preflight_kernel() {
    local ns=$PREFLIGHT_NS fam ipt bad=()
    ip netns add "$ns" 2>/dev/null || die "cannot create a network namespace (ip netns add)"
    ip -n "$ns" link add hs-pf0 type veth peer name hs-pf1 2>/dev/null || bad+=("veth")
    for fam in 4 6; do
        if [[ $fam == 4 ]]; then ipt=iptables; else ipt=ip6tables; fi
        try() { ip netns exec "$ns" "$ipt" -w "$@" >/dev/null 2>&1 || bad+=("$ipt $*"); }
        try -t mangle -N HS_PF
        try -t mangle -A HS_PF -p tcp ! --syn -m connbytes --connbytes 3:20 --connbytes-dir original \
            --connbytes-mode packets -j NFQUEUE --queue-num 4000 --queue-bypass
        try -t mangle -A HS_PF -m mark --mark 0x1/0x1 -j CONNMARK --set-xmark 0x2/0x2
        try -t mangle -A HS_PF -m connmark --mark 0x2/0x2 -j RETURN
        try -t mangle -A HS_PF -m conntrack --ctdir REPLY -m connbytes --connbytes 2:4 --connbytes-dir reply \
            --connbytes-mode packets -j RETURN
        try -A FORWARD -m string --algo kmp --icase --string x -p tcp -j REJECT --reject-with tcp-reset
        try -A FORWARD -m u32 --u32 "0>>22&0x3C@12>>26&0x3C@0>>16=0x1603" -j RETURN
        try -t raw -A PREROUTING -m statistic --mode random --probability 0.2 -j DROP
    done
    ip netns exec "$ns" conntrack -L >/dev/null 2>&1 || bad+=("conntrack -L (nf_conntrack netlink)")
    ip netns del "$ns"
    if [[ ${#bad[@]} -gt 0 ]]; then
        printf 'FATAL: kernel/iptables feature missing: %s\n' "${bad[@]}" >&2
        exit 1
    fi
    echo "kernel: $(uname -r): namespaces, veth, NFQUEUE, connbytes, connmark, conntrack, string, u32, statistic, REJECT ok"
}

PREFLIGHT_NS="hs-preflight-$$"
trap 'ip netns del "$PREFLIGHT_NS" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TESTS=()
select_tests "$@"
preflight_tools
preflight_kernel
mkdir -p "$LOGS" || die "cannot create $LOGS"

declare -A RES=() SECS=() COUNTS=()
t_all=$SECONDS
for t in "${TESTS[@]}"; do
    printf '\n################ %s\n' "$t"
    log="$LOGS/$t.log"
    t0=$SECONDS
    engine=${E2E_ENGINE:-nfqueue}
    [[ $t == *@tc ]] && engine=tc
    E2E_ENGINE=$engine timeout -k 10 "$TIMEOUT" "$DIR/${t%@tc}.sh" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    SECS[$t]=$((SECONDS - t0))
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)
    COUNTS[$t]=${line#e2e: }
    if [[ $rc == 0 && $line == *", 0 failed" ]]; then
        RES[$t]=PASS
    elif [[ $rc == 124 || $rc == 137 ]]; then
        RES[$t]="FAIL (timeout ${TIMEOUT}s)"
    else
        RES[$t]="FAIL (exit $rc)"
    fi
done

failed=0
echo
echo "================ e2e summary"
printf '%-22s %-20s %6s  %s\n' test result secs checks
for t in "${TESTS[@]}"; do
    printf '%-22s %-20s %6s  %s\n' "$t" "${RES[$t]}" "${SECS[$t]}" "${COUNTS[$t]:-no summary line}"
    [[ ${RES[$t]} == PASS ]] || failed=$((failed + 1))
done
echo "total: ${#TESTS[@]} tests, $failed failed, $((SECONDS - t_all)) s (logs: $LOGS)"
[[ $failed == 0 ]]
