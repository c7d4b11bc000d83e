#!/bin/bash
# tests/e2e/make_captures.sh -- regenerate tests/captures/*.pcap and
# tests/captures/README.md.  Not run by CI: the .pcap files are committed.
#
# Each capture is one real HTTPS fetch of https://www.blocked.example/ in the
# desktop topology (cli -- rtr -- srv), no censor, offloads OFF unless the
# name says "offload", taken with tcpdump on cli's eth0 (Ethernet, full
# snaplen, -U --immediate-mode), then cut down with tshark to the one TCP
# connection that carried the request (the stream with the most client
# payload: Chromium also opens a spare preconnect) and written as classic
# pcap.  Every capture is checked with hello_layout.py (tshark): first client
# payload starts with 16 03, the ClientHello is complete, its SNI is the
# requested name, and Chromium's (offloads off) spans two TCP segments;
# failing captures are retried, then the script fails.
#
# Usage: tests/e2e/make_captures.sh [OUTDIR]   (default tests/captures)
set -u -o pipefail

. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_tools
e2e_require_tools tshark chromium

OUT=${1:-"$E2E_DIR/../captures"}
mkdir -p "$OUT" || e2e_die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
NAME=$E2E_BLOCKED
LAYOUT=("$E2E_PY" "$E2E_DIR/hello_layout.py")
SECTIONS="$E2E_TMP/sections.md"
: >"$SECTIONS"

topo_desktop_up
srv_nginx_start

# capture_one FILE HOWTO LAYOUT-ARGS -- FETCH-CMD...
capture_one() {
    local file=$1 how=$2 largs=() cmd=() raw stream attempt
    shift 2
    while [[ $# -gt 0 && $1 != -- ]]; do largs+=("$1"); shift; done
    shift
    cmd=("$@")
    for attempt in 1 2 3 4 5; do
        raw="$E2E_TMP/raw-$attempt-$file"
        capture_start "$E2E_NS_CLI" eth0 "$raw" tcp port 443
        if ! "${cmd[@]}"; then
            capture_stop "$raw"
            e2e_log "$file: fetch failed (${E2E_LAST_REASON:-?}), attempt $attempt"
            continue
        fi
        # Let the client's last ACK/FIN reach the wire before stopping.
        sleep 0.3
        capture_stop "$raw"
        stream=$(tshark -n -r "$raw" -Y 'tcp.dstport == 443' -T fields -e tcp.stream -e tcp.len 2>/dev/null |
            awk '{ b[$1] += $2 } END { m = -1; for (s in b) if (b[s] > m) { m = b[s]; best = s }; print best }')
        [[ -n "$stream" ]] || { e2e_log "$file: no TCP stream captured"; continue; }
        rm -f "$OUT/$file"
        tshark -n -r "$raw" -Y "tcp.stream == $stream" -F pcap -w "$OUT/$file" 2>/dev/null ||
            e2e_die "tshark could not write $OUT/$file"
        if "${LAYOUT[@]}" "$OUT/$file" --name "$NAME" "${largs[@]}" >"$E2E_TMP/$file.layout"; then
            e2e_log "$file: ok (attempt $attempt, $(stat -c %s "$OUT/$file") bytes)"
            {
                printf '### %s\n\n%s\n\n' "$file" "$how"
                printf '```\n'
                cat "$E2E_TMP/$file.layout"
                printf 'file size: %s bytes\n' "$(stat -c %s "$OUT/$file")"
                printf '\ntshark -r %s\n' "$file"
                tshark -n -r "$OUT/$file" -o tcp.check_checksum:TRUE 2>/dev/null
                printf '```\n\n'
            } >>"$SECTIONS"
            return 0
        fi
        e2e_log "$file: check failed on attempt $attempt:"
        sed 's/^/    /' "$E2E_TMP/$file.layout" >&2
    done
    e2e_die "$file: no good capture after 5 attempts"
}

CURL_V=$(curl --version | head -1 | awk '{ print $1, $2; for (i = 3; i <= NF; i++) if ($i ~ /^OpenSSL/) print "(" $i ")" }' | tr '\n' ' ' | sed 's/ $//')
GNUTLS_V=$(gnutls-cli --version 2>/dev/null | head -1)
PY_V=$($E2E_PY -c 'import ssl, sys; print("Python %s, %s" % (sys.version.split()[0], ssl.OPENSSL_VERSION))')
CHR_V=$(chromium --version 2>/dev/null | tail -1 | awk '{ print $1, $2 }')

capture_one curl-v4.pcap "\`fetch_curl $NAME 4\`: $CURL_V, IPv4." --max-segments 1 -- fetch_curl "$NAME" 4
capture_one curl-v6.pcap "\`fetch_curl $NAME 6\`: $CURL_V, IPv6." --max-segments 1 -- fetch_curl "$NAME" 6
capture_one gnutls-v4.pcap "\`fetch_gnutls $NAME 4\`: $GNUTLS_V (\`gnutls-cli --insecure --sni-hostname\`), IPv4." \
    -- fetch_gnutls "$NAME" 4
capture_one python-v4.pcap "\`fetch_python $NAME 4\`: $PY_V, \`SSLContext.wrap_socket\` (split_client.py --plain), IPv4." \
    --max-segments 1 -- fetch_python "$NAME" 4
capture_one chromium-v4.pcap "\`fetch_chromium $NAME 4\`: $CHR_V, headless, IPv4; the ClientHello must span two TCP segments." \
    --min-segments 2 -- fetch_chromium "$NAME" 4

# Offloads ON at the client: the packet socket on cli's veth sees what the
# stack hands the "NIC": one GSO super-packet for the whole ClientHello
# (larger than the MTU) and checksum-offload frames whose TCP checksum is
# not filled in.  This is what a capture or a hook *before* segmentation sees.
topo_offloads "$E2E_NS_CLI" eth0 on
capture_one chromium-v4-offload.pcap "\`fetch_chromium $NAME 4\` with tso/gso/gro/tx-checksum ON on cli's eth0 (only there): $CHR_V, IPv4. The ClientHello leaves the stack as one GSO super-packet bigger than the 1500-byte MTU; client TCP checksums are not filled in (offloaded), so tshark reports them bad. The receiving side still gets MTU-sized segments (rtr segments it in software)." \
    --max-segments 1 -- fetch_chromium "$NAME" 4
topo_offloads "$E2E_NS_CLI" eth0 off

# ------------------------------------------------------------- README --------
{
    cat <<EOF
# Client captures

Real ClientHellos of the clients the e2e tests use, for unit tests and for
readers who want to see what hellosplit gets to split.  **Generated** by
\`tests/e2e/make_captures.sh\` (needs root; not run by CI); do not edit by
hand, rerun the script.

How each file was made:

* Test bed: \`tests/e2e/lib.sh\` desktop topology, network namespaces
  \`cli\` (198.18.1.2, 2001:db8:1::2) -- \`rtr\` -- \`srv\` (198.18.2.2,
  2001:db8:2::2), nginx on srv:443 with a self-signed certificate, **no
  censor**.  Every fetch asks for \`https://$NAME/\` with the address pinned
  (no DNS); the body "hello from $NAME" proved the right vhost answered.
* Offloads (tso, gso, gro, tx checksumming) **off** on every veth, except in
  \`chromium-v4-offload.pcap\`, so frames are exactly the segments a NIC would
  put on the wire, with final checksums.
* Capture point: cli's \`eth0\`, \`tcpdump -i eth0 -n -s 0 -U --immediate-mode -w RAW tcp port 443\`
  (Ethernet link type, full snaplen), both directions.
* Cut down with \`tshark -r RAW -Y "tcp.stream == N" -F pcap -w FILE\` to the
  single TCP connection that carried the request (Chromium opens a second,
  unused preconnect connection; the one with the most client payload is kept).
* Checked with \`tests/e2e/hello_layout.py FILE --name $NAME\` (tshark
  fields): first client payload starts with \`16 03\`, the ClientHello is
  complete, its SNI (own parse and tshark's
  \`tls.handshake.extensions_server_name\`) is the requested name.  Its output
  is reproduced below: ClientHello size, where the SNI is, and which TCP
  segments carry it.  Stream byte offsets count from the first byte of the
  TLS record header (0 = the \`0x16\`).

Things to know:

* curl, gnutls-cli and Python send the whole ClientHello in one segment
  (curl and Python both use OpenSSL 3.0 and pad it to 512 handshake bytes).
* Chromium's is ~1.9-2 KB (it offers a post-quantum key share), so with a
  1448-byte MSS it always spans two segments.  Chromium randomises its
  extension order and the size of its GREASE ECH extension (handshake
  1922/1954/1986/2018 bytes seen), so the SNI position changes on every
  connection: in 50 hellos measured when this script was written, the name
  was in the *second* segment about half of the time and once (1439..1457)
  straddled the segment boundary.  The capture below is one sample.
* With offloads ON at the sender, a capture on the sending interface shows
  one over-MTU GSO frame and "bad" TCP checksums (see the offload file).

Generated with: $(uname -sr); $CURL_V; $GNUTLS_V; $PY_V; $CHR_V;
nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); tcpdump $(tcpdump --version 2>&1 | head -1 | awk '{print $3}'); tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}').
Addresses, ports, timestamps and random fields differ on every regeneration.

## Files

| file | client | family | ClientHello (handshake bytes) | TCP segments | SNI at stream bytes | file size |
| --- | --- | --- | --- | --- | --- | --- |
EOF
    for f in curl-v4 curl-v6 gnutls-v4 python-v4 chromium-v4 chromium-v4-offload; do
        l="$E2E_TMP/$f.pcap.layout"
        hs=$(sed -n 's/^ClientHello: handshake message \([0-9]*\) bytes.*/\1/p' "$l")
        seg=$(sed -n 's/^ClientHello spans \([0-9]*\) TCP.*/\1/p' "$l")
        sni=$(sed -n 's/^SNI: [^ ]* at client stream bytes \([0-9.]*\).*/\1/p' "$l")
        case $f in curl*) c=curl ;; gnutls*) c=gnutls-cli ;; python*) c="python3 ssl" ;; *) c=chromium ;; esac
        case $f in *v6*) fam=IPv6 ;; *) fam=IPv4 ;; esac
        printf '| %s.pcap | %s | %s | %s | %s | %s | %s |\n' "$f" "$c" "$fam" "$hs" "$seg" "$sni" "$(stat -c %s "$OUT/$f.pcap")"
    done
    printf '\n## Layout of each capture\n\n'
    cat "$SECTIONS"
} >"$OUT/README.md"

e2e_log "wrote captures and README.md to $OUT"
ls -l "$OUT"
