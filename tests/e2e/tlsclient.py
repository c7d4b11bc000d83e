"""tlsclient.py -- the TLS client side the e2e helpers (tls_load.py,
raw_client.py, split_client.py) share: a context for the test servers'
self-signed certificates, and a client whose ClientHello is written into
memory before any socket exists, so a helper can send it as it likes."""
import ssl


def make_context(alpn_pad=0):
    """Client context; with alpn_pad > 0 the hello grows by about that many
    bytes of extra ALPN names (the bigger hellos of the tests)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Self-signed test server: what is tested is the path of the hello.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn_pad > 0:
        protos, left, i = [], alpn_pad, 0
        while left > 0:
            n = min(200, max(left - 1, 1))
            protos.append(("x%d-" % i + "p" * n)[:n])
            left -= n + 1
            i += 1
        ctx.set_alpn_protocols(protos + ["http/1.1"])
    return ctx


def start_hello(ctx, name):
    """A client on memory BIOs that has written its ClientHello: returns
    (tls, inbio, outbio, hello bytes)."""
    inbio, outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inbio, outbio, server_hostname=name)
    try:
        tls.do_handshake()
        raise RuntimeError("handshake finished without any network I/O?")
    except ssl.SSLWantReadError:
        pass
    return tls, inbio, outbio, outbio.read()
