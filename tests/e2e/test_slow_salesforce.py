"""A Salesforce that takes its time still gets to answer (issue 4).

scripts/bench's 3-second-rule run found that a query Salesforce answered
after 10 s never reached the user: the HTTP client gave up on any peer
that sent less than 1 byte/s for 10 s, and libcurl counts the wait for
the first byte of an answer as such a stall, so the user got "Salesforce
did not answer properly" instead of the contacts.  Only the total
timeout (20 s) may end a slow call.

A burst of slow searches takes a worker's memory up (each parked search
holds a fiber and a TLS connection to this HTTP/1.1 stand-in); once they
are answered and the worker is idle, it gives most of it back.  (Under
the sanitizers, whose allocator keeps what is freed, memory means
nothing: scripts/test runs this module on the plain build only.)
"""

import threading
import time

import pytest

from harness import Stack

TEAM = "T0E2E0001"


def test_answer_after_eleven_seconds_is_delivered(stack):
    user = "U0SLOWELEVEN"
    assert stack.link(TEAM, user).status == 200
    stack.faults(delay=11)
    url = stack.response_url(TEAM)
    mark = stack.log_mark()
    t0 = time.monotonic()
    r = stack.post_contact(stack.form("smith", TEAM, user,
                                      response_url=url), timeout=30)
    assert r.status == 200, r.text
    assert "Searching" in r.json()["text"], r.text
    # Slack's 3 seconds, as the worker kept them (the client's clock also
    # holds what a busy machine adds around it).
    stack.assert_acked_in_time(mark, 1, user)
    posts = stack.wait_hook(url, timeout=25)
    assert len(posts) == 1, posts
    msg = posts[0]["body"]
    assert posts[0]["status"] == 200, posts
    assert "Jane Smith" in msg["text"], msg["text"]
    assert "did not answer" not in msg["text"], msg["text"]
    assert 11.0 <= time.monotonic() - t0 < 20.0
    assert "too slow" not in stack.log_text()


def anon_kb(pids):
    """The workers' anonymous memory (heap, stacks; not the libraries'
    pages, which a burst touches too and which stay in the page cache)."""
    total = 0
    for pid in pids:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            total += int([ln for ln in f if ln.startswith("Anonymous:")]
                         [0].split()[1])
    return total


@pytest.fixture
def small(tmp_path):
    """One worker of two threads: what the burst takes is its own."""
    s = Stack(tmp_path / "small", workers=1, threads=2).start()
    yield s
    s.stop()


def test_idle_worker_gives_memory_back(small):
    # glibc keeps the freed middle of a thread's arena mapped: without
    # the idle worker's malloc_trim, 95 % of the growth stayed.
    stack = small
    user = "U0SLOWTRIM"
    assert stack.link(TEAM, user).status == 200
    pids = stack.worker_pids("contact")
    rest = anon_kb(pids)
    urls = [stack.response_url(TEAM) for _ in range(100)]
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon_kb(pids))
            time.sleep(0.1)

    def one(url):
        stack.post_contact(stack.form("smith", TEAM, user,
                                      response_url=url), timeout=30)
    sampler = threading.Thread(target=sample)
    sampler.start()
    stack.faults(delay=3)
    try:
        ts = [threading.Thread(target=one, args=(u,)) for u in urls]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        for url in urls:
            assert stack.wait_hook(url, timeout=15), url
    finally:
        stack.faults(delay=None)
        done.set()
        sampler.join()
    # Idle for a few of the workers' 1-s looks: most of what the burst
    # took is given back.
    time.sleep(3.5)
    after = anon_kb(pids)
    assert after - rest < (peak[0] - rest) * 0.5, (rest, peak[0], after)
