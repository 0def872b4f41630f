"""Where forcelink connects (issue 16, point 5: the README's egress list,
"Outbound connections").

The programs get https_proxy in their environment, as an administrator
behind a firewall sets it in forcelink.env; the proxy here is the test's
own, which records every CONNECT and relays it.  Through linking,
searching (answered at once and deferred to response_url), a refresh, a
logout, an installation of the Slack app, the Slack sign-in proof and
forcelink-admin doctor:

- every outbound connection went through the proxy (with the proxy
  refusing, a search fails with the friendly message);
- each went to a host the README lists for that call: the Salesforce
  login URL, the link's instance_url, the response_url host, the Slack
  API host; nothing else was contacted.
"""

import socket
import subprocess
import threading

import pytest

from harness import BUILD, Stack

import load


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records each target."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.targets = []
        self.refuse = False
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.tunnel, args=(c,),
                             daemon=True).start()

    def tunnel(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = c.recv(4096)
            if not chunk:
                c.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target = line.split()[:2]
        with self.lock:
            self.targets.append((method, target))
        if method != "CONNECT" or self.refuse:
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        host, port = target.rsplit(":", 1)
        try:
            u = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            c.close()
            return
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            u.sendall(rest)

        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
        pipe(c, u)

    def seen(self):
        with self.lock:
            return list(self.targets)

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def proxy():
    p = ConnectProxy()
    yield p
    p.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, proxy):
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True,
              env_overrides={"https_proxy": proxy.url,
                             "FORCELINK_LINK_PROOF": "slack"}).start()
    yield s
    s.stop()


def authority(url):
    return url.split("://", 1)[1].split("/", 1)[0]


def test_every_call_goes_where_the_readme_says(stack, proxy):
    sf, slack = authority(stack.sf_url), authority(stack.slack_url)
    assert sf != slack
    marks = {}

    def step(name, fn):
        n = len(proxy.seen())
        fn()
        marks[name] = {t for _, t in proxy.seen()[n:]}

    user, team = "U0EGRESS1", "T0E2E0001"
    step("install", lambda: stack.install(team))
    step("link", lambda: load.link_flow(stack, user, load.SF_USERS[0],
                                        team=team))
    step("search", lambda: load.final_message(
        stack, *load.search(stack, user, team=team)))
    stack.faults(query_delay=3.5)
    step("deferred", lambda: load.final_message(
        stack, *load.search(stack, user, team=team)))
    stack.faults(query_delay=0)
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    step("refresh", lambda: load.final_message(
        stack, *load.search(stack, user, team=team)))
    step("logout", lambda: stack.slash("logout", team, user))
    env = dict(stack.env(), https_proxy=proxy.url)
    step("doctor", lambda: subprocess.run(
        [str(BUILD / "admin" / "forcelink-admin"), "--env-file",
         "/dev/null", "doctor"], env=env, capture_output=True, timeout=60))
    # Each call went through the proxy to the host the README names.
    assert marks["install"] == {slack}, marks
    assert marks["link"] == {sf, slack}, marks      # token, userinfo; proof
    assert marks["search"] == {sf}, marks           # instance_url
    assert marks["deferred"] == {sf}, marks         # and response_url's host
    assert marks["refresh"] == {sf}, marks          # login URL, instance
    assert marks["logout"] == {sf}, marks           # revoke
    assert marks["doctor"] == {sf}, marks           # its login URL check
    assert {m for m, _ in proxy.seen()} == {"CONNECT"}
    assert {t for _, t in proxy.seen()} == {sf, slack}


def test_a_refusing_proxy_stops_every_call(stack, proxy):
    """Nothing goes around the proxy: with it refusing, a search gets the
    friendly error, not contacts."""
    proxy.refuse = True
    try:
        r, url = load.search(stack, "U0EGRESS1")
        kind, msg = load.final_message(stack, r, url)
        assert load.classify(kind, msg) != "contacts", msg
    finally:
        proxy.refuse = False
