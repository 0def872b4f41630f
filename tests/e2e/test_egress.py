"""Where forcelink connects (issue 16, point 5: the README's egress list,
"Outbound connections").

The programs get https_proxy in their environment, as an administrator
behind a firewall sets it in forcelink.env; the proxy here is the test's
own, which records every CONNECT and relays it.  Through linking,
searching (answered at once and deferred to response_url), a refresh, a
logout, an installation of the Slack app, the Slack sign-in proof and
forcelink-admin doctor:

- every outbound connection went through the proxy (with the proxy
  refusing, a linked user's search fails with the friendly message, and
  works again once it accepts);
- each went to a host the README lists for that call: the Salesforce
  login URL, the link's instance_url, the response_url host, the Slack
  API host; nothing else was contacted.
"""

import socket
import subprocess
import threading
import time

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
        self.live = []
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
        with self.lock:
            self.live += [c, u]
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

    def refuse_all(self):
        """Refuses every new CONNECT and ends the tunnels libcurl keeps."""
        self.refuse = True
        with self.lock:
            live, self.live = self.live, []
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

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
        """Runs fn; the step's connections are those opened from its
        start until a moment after it returned (a logout's revoke comes
        after Slack has its answer).  A step may open none: libcurl keeps
        a tunnel open and reuses it for the next call to the same host."""
        n = len(proxy.seen())
        fn()
        time.sleep(0.5)
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
    # Each call went through the proxy to the host the README names for
    # it, and nothing else was contacted.
    want = {"install": {slack}, "link": {sf, slack}, "search": {sf},
            "deferred": {sf}, "refresh": {sf}, "logout": {sf},
            "doctor": {sf}}
    for name, hosts in marks.items():
        assert hosts <= want[name], (name, marks)
    assert marks["install"] == {slack} and marks["doctor"] == {sf}, marks
    assert {m for m, _ in proxy.seen()} == {"CONNECT"}
    assert {t for _, t in proxy.seen()} == {sf, slack}


def outcome(stack, user):
    return load.classify(*load.final_message(stack, *load.search(
        stack, user)))


def test_a_refusing_proxy_stops_every_call(stack, proxy):
    """Nothing goes around the proxy: a linked user's search finds the
    contacts; with the proxy refusing (its open tunnels closed too) the
    same search tries the proxy and gets the friendly error; once it
    accepts again, the contacts."""
    user = "U0EGRESS2"
    assert load.link_flow(stack, user, load.SF_USERS[1])[0] == "linked"
    assert outcome(stack, user) == "contacts"
    proxy.refuse_all()
    try:
        n = len(proxy.seen())
        assert outcome(stack, user) == "other"
        assert len(proxy.seen()) > n
    finally:
        proxy.refuse = False
    assert outcome(stack, user) == "contacts"
