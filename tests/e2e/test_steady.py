"""Issue 3, point 8: steady state over 100,000 requests through nginx.

One stack with one worker per program (so every request of a program
lands in the same process and its growth is not spread thin), four
linked users, and a mix that touches every path that allocates, opens
files or writes the database:

  - /contact searches and whoami for linked users (decrypt, HTTPS to
    the stand-in on a kept-alive connection, render),
  - /contact help (signature check, replay-cache insert: a write per
    request) and login for unlinked users (a new login state),
  - forged signatures (401) and /oauth/start with an unknown state (400).

After a warm-up of WARMUP requests the workers' RSS and open file
descriptors are read at rest; after the rest they are read again.  The
budget: RSS growth under 1 MB per worker, the same descriptors (sockets,
which follow the kept-alive connections, within a bound), -t + 2 threads
at every sample, and a WAL file that stays under WAL_MAX at every
sample.  The figures are
printed (pytest -s shows them) for the closing note.

FL_STEADY_REQUESTS sets the total (default 100000).  Skipped under the
sanitizer build, whose allocator makes RSS meaningless.
"""

import hashlib
import hmac
import os
import socket
import threading
import time
import urllib.parse

import pytest

from harness import Stack

TOTAL = int(os.environ.get("FL_STEADY_REQUESTS", "100000"))
WARMUP = max(TOTAL // 10, 1000)
CLIENTS = 8
RSS_BUDGET_KB = 1024
THREADS = 4
WAL_MAX = 8 * 1024 * 1024
LINKED = ["U0STEADY%d" % i for i in range(4)]

pytestmark = pytest.mark.skipif(
    "ASAN_OPTIONS" in os.environ,
    reason="RSS is meaningless under AddressSanitizer")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("steady"), workers=1,
              threads=THREADS).start()
    yield s
    s.stop()


def workers(stack):
    """{program: worker pid} (one worker each)."""
    out = {}
    for prog in ("contact", "oauth_start", "oauth_callback"):
        kids = stack.worker_pids(prog)
        assert len(kids) == 1, (prog, kids)
        out[prog] = kids[0]
    return out


def fd_targets(pid):
    """Sorted targets of a process's descriptors other than sockets."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if not t.startswith("socket:"):
            out.append(t)
    return sorted(out)


class Peak:
    """Samples each worker's thread count every 0.1 s while a run lasts
    and keeps the highest (a worker's threads are started with it and
    never come and go, so any thread a sample missed would be a new
    kind of thread, which the next sample would catch)."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {prog: 0 for prog in pids}
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop)

    def loop(self):
        while not self.stop.is_set():
            for prog, pid in self.pids.items():
                st = open("/proc/%d/status" % pid).read()
                n = int(st.split("Threads:")[1].split()[0])
                self.peak[prog] = max(self.peak[prog], n)
            self.stop.wait(0.1)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()


def sample(pids):
    """{program: (RSS kB, descriptors other than sockets, sockets,
    threads)}.  The sockets come and go with the kept-alive HTTPS
    connections (the stand-in closes idle ones), so they are only held to
    a bound; every other descriptor must be the same at rest."""
    out = {}
    for prog, pid in pids.items():
        status = open("/proc/%d/status" % pid).read()
        rss = int(status.split("VmRSS:")[1].split()[0])
        threads = int(status.split("Threads:")[1].split()[0])
        fds = os.listdir("/proc/%d/fd" % pid)
        socks = sum(os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(
            "socket:") for fd in fds)
        out[prog] = (rss, len(fds) - socks, socks, threads)
    return out


class Client:
    """One keep-alive connection to nginx; sends request i of the mix and
    checks its answer.  HTTP/1.1 by hand over a plain socket, not
    http.client: at 100,000 requests the client's own CPU is a third of
    the module's, and http.client's header parsing most of that."""

    def __init__(self, stack):
        self.stack = stack
        self.connect()
        self.secret = stack.signing_secret.encode()
        self.host = ("Host: 127.0.0.1:%d\r\n" % stack.port).encode()

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1",
                                              self.stack.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def get(self, path):
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n" +
                          self.host + b"\r\n")
        return self.read()

    def post(self, body, good=True):
        ts = str(int(time.time())).encode()
        mac = hmac.new(self.secret if good else b"forged",
                       b"v0:" + ts + b":" + body,
                       hashlib.sha256).hexdigest().encode()
        self.sock.sendall(
            b"POST /contact HTTP/1.1\r\n" + self.host +
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"X-Slack-Request-Timestamp: " + ts + b"\r\n"
            b"X-Slack-Signature: v0=" + mac + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
            body)
        return self.read()

    def fill(self, n):
        """Reads until the buffer holds at least n bytes."""
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("nginx closed the connection")
            self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill(len(self.buf) + 1)
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def take(self, n):
        self.fill(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        """(status, body) of one response: Content-Length or chunked, as
        nginx sends them; anything else is an error."""
        while b"\r\n\r\n" not in self.buf:
            self.fill(len(self.buf) + 1)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            h[k.strip().lower()] = v.strip()
        if h.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                n = int(self.line().split(b";")[0], 16)
                if n == 0:
                    while self.line():
                        pass
                    break
                body += self.take(n)
                self.take(2)
        elif b"content-length" in h:
            body = self.take(int(h[b"content-length"]))
        else:
            raise ValueError("a response without a length: %r" % head)
        if h.get(b"connection", b"").lower() == b"close":
            # nginx's keepalive_requests: the next request goes on a
            # new connection, as http.client would do.
            self.close()
            self.connect()
        return status, body

    def one(self, i):
        kind = i % 20
        user = LINKED[i % len(LINKED)]
        if kind in (0, 1, 2):
            status, body = self.post(self.stack.form("smith", user=user))
            return status == 200 and b"Smith" in body
        if kind == 3:
            status, body = self.post(self.stack.form("whoami", user=user))
            return status == 200 and b"example.com" in body
        if kind == 4:
            status, body = self.post(self.stack.form(
                "login", user="U0NEW%d" % (i % 50)))
            return status == 200 and b"/oauth/start?state=" in body
        if kind == 5:
            status, _ = self.post(self.stack.form("help", user=user),
                                  good=False)
            return status == 401
        if kind == 6:
            status, _ = self.get("/oauth/start?state=" +
                                 urllib.parse.quote("x" * 43))
            return status == 400
        status, body = self.post(self.stack.form("help", user=user))
        return status == 200 and b"/contact" in body


def run(stack, start, count, wal_sizes, clients=CLIENTS):
    """Sends requests start .. start+count over CLIENTS connections;
    returns the number of wrong answers."""
    wal = stack.db_path.with_name(stack.db_path.name + "-wal")
    bad = [0]
    lock = threading.Lock()
    nxt = [start]

    def client():
        c = Client(stack)
        while True:
            with lock:
                i = nxt[0]
                if i >= start + count:
                    return
                nxt[0] += 1
            try:
                ok = c.one(i)
            except (OSError, ValueError, IndexError):
                ok = False
                c.close()
                c = Client(stack)
            if not ok:
                with lock:
                    bad[0] += 1
            if i % 1000 == 0 and wal.exists():
                wal_sizes.append(wal.stat().st_size)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bad[0]


def settle(stack):
    """Lets the requests in flight end, so that two samples compare like
    with like: a few dozen requests one at a time to each program, then a
    pause.  (A worker's threads are fixed, -t + 2; what it keeps between
    requests is up to 16 ended fibers' stacks per thread, common/fiber.c
    FIBER_KEEP, and the I/O loop's idle connections and easy handles.)"""
    c = Client(stack)
    for _ in range(40):
        status, _ = c.post(stack.form("help", user=LINKED[0]))
        assert status == 200
        for path in ("/oauth/start?state=", "/oauth/callback?state="):
            status, _ = c.get(path + "x" * 43)
            assert status == 400
    c.close()
    time.sleep(0.5)


def test_steady_state_over_many_requests(stack):
    for user in LINKED:
        assert stack.link(user=user).status == 200
    pids = workers(stack)
    wal_sizes = []
    t0 = time.monotonic()
    # The warm-up runs three times as many clients, so that the pools
    # reach a peak the measured run does not pass (see below).
    with Peak(pids) as warm:
        assert run(stack, 0, WARMUP, wal_sizes, 3 * CLIENTS) == 0
    settle(stack)
    before = sample(pids)
    before_fds = {prog: fd_targets(pid) for prog, pid in pids.items()}
    with Peak(pids) as main:
        assert run(stack, WARMUP, TOTAL - WARMUP, wal_sizes) == 0
    elapsed = time.monotonic() - t0
    settle(stack)
    after = sample(pids)
    assert workers(stack) == pids, "a worker was restarted"
    print("\nsteady: %d requests in %.1f s (%.0f/s)" % (
        TOTAL, elapsed, TOTAL / elapsed))
    for prog in pids:
        print("steady: %-14s RSS %5d -> %5d kB, fds %d -> %d, sockets "
              "%d -> %d, threads %d -> %d (peak %d, then %d)" % (
                  prog, before[prog][0], after[prog][0], before[prog][1],
                  after[prog][1], before[prog][2], after[prog][2],
                  before[prog][3], after[prog][3], warm.peak[prog],
                  main.peak[prog]))
    print("steady: WAL max %d bytes over %d samples" % (
        max(wal_sizes), len(wal_sizes)))
    for prog in pids:
        # The threads are fixed: the request threads, the I/O loop and
        # the main thread, under load as at rest.
        assert before[prog][3] == after[prog][3] == warm.peak[prog] == \
            main.peak[prog] == THREADS + 2, (prog, before[prog],
                                             after[prog], warm.peak[prog],
                                             main.peak[prog])
        # The warm-up ran more connections at once than the measured run,
        # so the fibers' stacks a thread keeps are touched already.
        assert after[prog][0] - before[prog][0] < RSS_BUDGET_KB, (
            prog, before[prog], after[prog])
        # Every thread has its own database connection (the database and
        # WAL files), and the loop its eventfd, timerfd and epoll: all
        # made at start.  Anything new is a leak.
        assert after[prog][1] - before[prog][1] <= 0, (
            prog, before[prog], after[prog], sorted(set(fd_targets(
                pids[prog])) - set(before_fds[prog])))
        # The listener, an accepted FastCGI connection per thread at most
        # now, and the loop's idle connections, which it keeps for the
        # next transfers (as many as were needed at once, up to
        # HTTP_LOOP_MAXCONNECTS, 64, common/http_loop.c): the warm-up ran
        # more at once than the measured run, so none more than before.
        assert after[prog][2] <= max(before[prog][2], 1 + THREADS + 3), (
            prog, before[prog], after[prog])
        assert after[prog][2] <= 1 + THREADS + 64, (prog, after[prog])
    assert max(wal_sizes) <= WAL_MAX, wal_sizes
