"""A worker's two pools of connections (issue 13, point 2): a burst to a
Salesforce that speaks HTTP/2 multiplexes over a few connections instead
of opening one per request, and the transfers that wait for a new
host's first connection keep their own timeout.

The link's instance is a real nginx that offers HTTP/2 (ALPN h2, 128
concurrent streams per connection, nginx's default and a common one) in
front of the Salesforce stand-in, which delays every query by 3 s, so
that the whole burst is in flight at once.  libcurl alone (7.88) opens
a new connection for every request past a connection's stream limit,
without waiting for the one it is opening: with every host in one pool
this test saw 22 connections (the burst's requests reach the worker
over a second or so; in scripts/bench's burst of 1,000, 375).  The
loop's first transfer to
a new host is its probe; the others wait for its TLS handshake to tell
the protocol, then share the pool for hosts that multiplex, capped at 8
connections per host.  nginx's access log names each request's
connection and whether its TLS session was resumed.

A host whose connect never completes (a listener with a full accept
queue, as a firewall that drops packets) keeps the burst waiting for its
probe; when the probe's connect times out, the others go on with what
is left of their own connect timeout, so every apology comes about one
timeout (10 s) after the burst, not two.
"""

import socket

import subprocess
import time

import pytest

from harness import Stack, free_port, waiting
import load
from load import TEAM

USER = "U0HTTP2P1"
BH_USER = "U0HTTP2BH"
CONNECT_SECS = 10   # common/http.h, HTTP_CONNECT_MS
BURST = 250
MUX_CONNS = 8       # common/http_loop.c, HTTP_LOOP_MUX_CONNS

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/h2.pid;
error_log {dir}/h2-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format conn '$connection $ssl_session_reused $server_protocol '
        '"$http_user_agent"';
    access_log {dir}/h2-access.log conn;
    client_body_temp_path {dir}/h2-tmp;
    proxy_temp_path {dir}/h2-tmp;
    fastcgi_temp_path {dir}/h2-tmp;
    uwsgi_temp_path {dir}/h2-tmp;
    scgi_temp_path {dir}/h2-tmp;
    keepalive_requests 100000;
    keepalive_timeout 600s;
    http2_max_concurrent_streams 128;
    ssl_certificate {tls}/server.pem;
    ssl_certificate_key {tls}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {{
        listen 127.0.0.1:{port} ssl http2 backlog=1024;
        location / {{
            proxy_pass {upstream};
            proxy_ssl_trusted_certificate {tls}/ca.pem;
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("http2"), workers=1,
              threads=2).start()
    d = s.dir
    (d / "h2-tmp").mkdir()
    port = free_port()
    (d / "h2.conf").write_text(NGINX_CONF.format(
        dir=d, tls=d / "tls", port=port, upstream=s.sf_url))
    front = subprocess.Popen(["nginx", "-p", str(d), "-c",
                              str(d / "h2.conf"), "-e",
                              str(d / "h2-error.log")])
    s.h2_url = "https://127.0.0.1:%d" % port
    try:
        for _ in waiting(10):
            try:
                s.sf_get_url(s.h2_url + "/")
                break
            except OSError:
                time.sleep(0.05)
        outcome, detail = load.link_flow(s, USER, "alice@example.com")
        assert outcome == "linked", (outcome, detail)
        # The link's instance is the HTTP/2 front (the column is not
        # sealed: the tokens are bound to the user, not the host).
        assert s.sql_exec("UPDATE sf_link SET instance_url = ? WHERE "
                          "user_id = ?", (s.h2_url, USER)) == 1
        yield s
    finally:
        front.terminate()
        front.wait(10)
        s.stop()


def blackhole():
    """A listener whose accept queue is full (as bench/peers.py's):
    returns (listener, filler, port)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(1.5)
    try:
        with pytest.raises(socket.timeout):
            probe.connect(("127.0.0.1", port))
    finally:
        probe.close()
    return lst, filler, port


def front_conns(stack):
    """{connection: (requests, resumed, protocols)} of forcelink's
    requests in the front's access log."""
    conns = {}
    for line in (stack.dir / "h2-access.log").read_text().splitlines():
        serial, reused, proto, agent = line.split(" ", 3)
        if not agent.strip('"').startswith("forcelink/"):
            continue
        n, r, p = conns.get(serial, (0, reused == "r", set()))
        p.add(proto)
        conns[serial] = (n + 1, r, p)
    return conns


def test_a_burst_multiplexes_over_few_connections(stack):
    # One search first: the host's probe, then known as HTTP/2.
    r, url = load.search(stack, USER)
    assert load.classify(*load.final_message(stack, r, url)) == "contacts"
    first = front_conns(stack)
    assert len(first) == 1, first
    assert all(p == {"HTTP/2.0"} for _, _, p in first.values()), first

    stack.faults(delay=3)
    try:
        ts, out, urls = load.send_searches(stack, USER, BURST)
        for t in ts:
            t.join(40)
    finally:
        stack.faults(delay=None)
    assert all(getattr(r, "status", None) == 200 for r in out), \
        [r for r in out if getattr(r, "status", None) != 200][:3]
    for r, url in zip(out, urls):
        assert load.classify(*load.final_message(stack, r, url)) == \
            "contacts", r
    conns = front_conns(stack)
    requests = sum(n for n, _, _ in conns.values())
    assert requests == BURST + 1, (requests, conns)
    # At most the pool's cap, the first connection among them, every
    # one HTTP/2.  (Whether the new ones resume the first one's TLS
    # session is not asked: on a loaded machine several made full
    # handshakes, as in bench/RESULTS.md's bursts, for a reason not yet
    # found.)
    assert len(conns) <= MUX_CONNS, conns
    assert all(p == {"HTTP/2.0"} for _, _, p in conns.values()), conns


def test_the_host_is_remembered_while_idle(stack):
    # Searches one after another stay on the connections the worker
    # keeps: no new one.
    before = front_conns(stack)
    for _ in range(5):
        r, url = load.search(stack, USER)
        assert load.classify(*load.final_message(stack, r, url)) == \
            "contacts"
    after = front_conns(stack)
    assert set(after) == set(before), (before, after)


def test_held_transfers_keep_their_own_timeout(stack):
    lst, filler, port = blackhole()
    try:
        outcome, detail = load.link_flow(stack, BH_USER, "bob@example.com")
        assert outcome == "linked", (outcome, detail)
        assert stack.sql_exec("UPDATE sf_link SET instance_url = ? WHERE "
                              "user_id = ?", ("https://127.0.0.1:%d" % port,
                                              BH_USER)) == 1
        t0 = time.monotonic()
        ts, out, urls = load.send_searches(stack, BH_USER, 10)
        for t in ts:
            t.join(10)
        assert all(getattr(r, "status", None) == 200 and
                   load.is_ack(r.json()) for r in out), out
        for url in urls:
            posts = stack.wait_hook(url, timeout=3 * CONNECT_SECS)
            assert len(posts) == 1, posts
            assert not load.is_ack(posts[0]["body"]), posts
            assert "Jane Smith" not in load.message_text(posts[0]["body"])
        took = time.monotonic() - t0
        # One connect timeout and what the machine adds; two would be 20.
        assert took < CONNECT_SECS + 5, took
    finally:
        filler.close()
        lst.close()
