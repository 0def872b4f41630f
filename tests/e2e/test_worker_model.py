"""Issue 13: a worker's requests live in fibers on a fixed handful of
threads, and every outbound call in its one I/O loop (common/serve.c,
common/fiber.c, common/http_loop.c).  What that promises beyond the
3-second rule (test_slack.py, test_slow_salesforce.py,
test_concurrency.py, which also checks the thread count under a burst):

 - a worker killed with SIGKILL while 100 requests wait in it loses only
   those: each gets nginx's error (or, if it was acknowledged already,
   nothing more), nothing is half done, and the replacement serves at
   once;
 - a worker told to stop (SIGTERM) answers the requests it holds with an
   apology before it exits, in the HTTP response for those not yet
   acknowledged and at their response_url for those already told
   "Searching…";
 - the number of threads per worker is -t + 2 at rest and under a slow
   burst;
 - the loop keeps its connections alive between requests, and new ones
   can resume the TLS session of an earlier one (HTTP/1.1 here; the
   HTTP/2 the loop asks for is measured by scripts/bench).
"""

import os
import signal
import time
import urllib.parse

import pytest

from harness import Stack
import load
from load import TEAM

THREADS = 2
USER = "U0WMODEL"
RESTART = "forcelink is restarting"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One worker per program, so that every request meets the one
    worker the tests signal."""
    s = Stack(tmp_path_factory.mktemp("wmodel"), workers=1,
              threads=THREADS).start()
    outcome, detail = load.link_flow(s, USER, "alice@example.com")
    assert outcome == "linked", (outcome, detail)
    yield s
    s.stop()


def threads_of(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def send_searches(stack, n):
    """load.send_searches for this module's user."""
    return load.send_searches(stack, USER, n)


def wait_parked(stack, delays0, n, timeout=15):
    """Waits until n more requests are held up by the stand-in's delay
    fault than delays0 counted (the worker's fibers wait on them)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if stack.sf_state()["delays"] >= delays0 + n:
            return
        time.sleep(0.05)
    raise AssertionError("the queries never reached Salesforce")


def test_open_files_limit_raised_to_the_hard_limit(tmp_path):
    """A worker holds a connection or two per request, up to -T: it
    raises its soft limit on open files to the hard one (README,
    "Configuration").  Started with a soft limit of 256 under a higher
    hard one, the workers run with the hard one."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit is too low to lower the soft one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        s = Stack(tmp_path / "nofile", workers=1, threads=1)
        s.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        (pid,) = s.worker_pids("contact")
        with open("/proc/%d/limits" % pid) as f:
            line = [ln for ln in f if ln.startswith("Max open files")][0]
        got_soft, got_hard = line.split()[3:5]
        assert got_soft == got_hard != "256", line
    finally:
        s.stop()


def test_threads_are_fixed_at_rest(stack):
    (pid,) = stack.worker_pids("contact")
    assert threads_of(pid) == THREADS + 2


def test_a_wake_signal_from_outside_only_wakes(stack):
    """SIGUSR2 is how a worker's threads ask its main thread for a
    checkpoint (common/serve.c, serve_wake); one sent from outside is
    taken the same way, where it used to end the worker: the worker
    lives on, with its threads, and answers."""
    (pid,) = stack.worker_pids("contact")
    for _ in range(3):
        os.kill(pid, signal.SIGUSR2)
        time.sleep(0.05)
    r = stack.post_contact(stack.form("whoami", TEAM, USER))
    assert r.status == 200, r.text
    assert stack.worker_pids("contact") == [pid]
    assert threads_of(pid) == THREADS + 2


def forcelink_conns(stack, after):
    """The stand-in's TLS connections from forcelink since serial
    after."""
    return [c for c in stack.sf("GET", "/_control/connections").json()
            if c["serial"] > after and
            (c["user_agent"] or "").startswith("forcelink/")]


def last_conn(stack):
    conns = stack.sf("GET", "/_control/connections").json()
    return conns[-1]["serial"] if conns else 0


def test_connections_kept_and_tls_sessions_resumed(stack):
    # Twenty searches one after another: one connection kept alive for
    # them (none new when the worker holds one from before).  A worker's
    # first transfer to a host is its probe, made in the loop's pool for
    # hosts that multiplex; this stand-in speaks HTTP/1.1 only, so the
    # transfers after it use the other pool, with one more connection,
    # which resumes the probe's TLS session: one full handshake at most.
    last = last_conn(stack)
    for _ in range(20):
        r, url = load.search(stack, USER)
        assert load.classify(*load.final_message(stack, r, url)) == \
            "contacts"
    seq = forcelink_conns(stack, last)
    assert len(seq) <= 2, seq
    assert len([c for c in seq if not c["resumed"]]) <= 1, seq
    assert sum(c["requests"] for c in seq) == 20, seq
    if seq:
        assert seq[-1]["requests"] >= 19, seq
    # Ten at once need up to ten connections on HTTP/1.1: new ones resume
    # the session the worker already has, which only a session cache
    # shared by the loop's handles can give (with the share switched off,
    # none of 9 resumed in four runs).  Not every one does: in seven runs
    # 5 to 9 of 6 to 9 resumed, the others made full handshakes for a
    # reason not yet found, so the test asks for one.
    last = last_conn(stack)
    ts, out, urls = send_searches(stack, 10)
    for t in ts:
        t.join(30)
    for r, url in zip(out, urls):
        assert load.classify(*load.final_message(stack, r, url)) == \
            "contacts", r
    burst = forcelink_conns(stack, last)
    assert 1 <= len(burst) <= 10, burst
    assert sum(c["requests"] for c in burst) <= 10
    assert [c for c in burst if c["resumed"]], burst


def test_kill_with_parked_requests_loses_only_those(stack):
    (pid,) = stack.worker_pids("contact")
    links0 = stack.links()
    stack.faults(delay=10)
    try:
        d0 = stack.sf_state()["delays"]
        ts, out, urls = send_searches(stack, 100)
        wait_parked(stack, d0, 100)
        assert threads_of(pid) == THREADS + 2
        os.kill(pid, signal.SIGKILL)
        for t in ts:
            t.join(30)
    finally:
        stack.faults(delay=None)
    # Each one got nginx's error for a worker that went away, or, when
    # it had waited 2.5 s already (a slow machine, the sanitizer build),
    # its "Searching…" acknowledgement, and then nothing.
    kinds = []
    for r in out:
        status = getattr(r, "status", repr(r))
        if status == 200 and load.is_ack(r.json()):
            kinds.append("ack")
        else:
            kinds.append(status)
    assert set(kinds) <= {502, "ack"}, kinds
    # Nothing half done: the links are as they were, and no answer was
    # posted later by anyone.
    assert stack.links() == links0
    time.sleep(0.5)
    paths = {urllib.parse.urlparse(u).path for u in urls}
    assert not [p for p in stack.hooks() if p["path"] in paths]
    # The replacement serves at once.
    for _ in range(100):
        if len(stack.worker_pids("contact")) == 1 and \
                stack.worker_pids("contact") != [pid]:
            break
        time.sleep(0.05)
    r, url = load.search(stack, USER)
    assert load.classify(*load.final_message(stack, r, url)) == "contacts"


def test_sigterm_answers_what_it_holds_with_an_apology(stack):
    (pid,) = stack.worker_pids("contact")
    stack.faults(delay=10)
    try:
        # Five already told "Searching…", then five not yet.
        d0 = stack.sf_state()["delays"]
        acked_ts, acked, acked_urls = send_searches(stack, 5)
        for t in acked_ts:
            t.join(10)
        assert all(getattr(r, "status", None) == 200 and
                   load.is_ack(r.json()) for r in acked), acked
        mark = stack.log_mark()
        ts, out, urls = send_searches(stack, 5)
        wait_parked(stack, d0, 10)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        for t in ts:
            t.join(10)
        took = time.monotonic() - t0
    finally:
        stack.faults(delay=None)
    # Answered in the response, with the apology, well before Salesforce
    # would have answered.
    for r in out:
        assert getattr(r, "status", None) == 200, r
        assert RESTART in load.message_text(r.json()), r.json()
    assert took < 3, took
    # The ones acknowledged before get the apology at their response_url.
    for url in acked_urls:
        posts = stack.wait_hook(url, timeout=5)
        assert len(posts) == 1 and RESTART in load.message_text(
            posts[0]["body"]), posts
    # It exits once they are all finished (the line follows the last
    # answer by a moment).
    for _ in range(100):
        text = stack.log_text()[mark:]
        if "event=worker.exit" in text:
            break
        time.sleep(0.05)
    assert "event=worker.exit requests=0" in text, text[-2000:]
    # The supervisor started a replacement, which serves.
    for _ in range(100):
        now = stack.worker_pids("contact")
        if len(now) == 1 and now != [pid]:
            break
        time.sleep(0.05)
    r, url = load.search(stack, USER)
    assert load.classify(*load.final_message(stack, r, url)) == "contacts"
