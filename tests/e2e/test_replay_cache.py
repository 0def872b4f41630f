"""Issue 13, item 3: the host's replay cache (common/replay.h).

A signed /contact request accepted by one worker process is refused as a
replay by another worker of the same program, and still after the worker
that accepted it was killed with SIGKILL (and replaced), and after a
SIGKILL in the middle of a storm of copies of one request, of which
exactly one is answered.  On SQLite the cache alone decides, so an
accepted signature adds no row to the store's slack_replay table; on
PostgreSQL (FL_E2E_ENGINE=postgresql) the shared table is still written
(test_pg_hosts.py checks the refusal on another host).  The cache is the
file beside the SQLite database ($FORCELINK_DB-replay), or
var/forcelink-replay under the run directory on PostgreSQL, 2 MiB and a
64-byte header, mode 0600.
"""

import os
import re
import signal
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import waiting

TEAM, USER = "T0E2E0001", "U0REPLAY01"
FILE_SIZE = 64 + 32768 * 64
PID_RE = re.compile(r"prog=contact pid=(\d+) [^\n]*event=(?:slack\.ack|"
                    r"slack\.verify)")


def cache_file(stack):
    if stack.pg is None:
        return Path(str(stack.db_path) + "-replay")
    return stack.dir / "var" / "forcelink-replay"


def store_rows(stack):
    return stack.sql("SELECT count(*) FROM slack_replay")[0][0]


def post(stack, body, ts, sig):
    """Posts a signed request, alone; returns (status, text, pid of the
    worker that answered it: the one that logged its acknowledgement or
    its refusal, the only such line since the request was sent)."""
    mark = stack.log_mark()
    r = stack.post_contact(body, ts=ts, sig=sig)
    for _ in waiting(5):
        pids = PID_RE.findall(stack.log_text()[mark:])
        if pids:
            assert len(pids) == 1, pids
            return r.status, r.text, int(pids[0])
        time.sleep(0.02)
    return r.status, r.text, None


def stopped(pid):
    """Waits until every thread of pid is stopped (a thread that was in
    its poll has left it: the kernel wakes the next worker instead)."""
    for _ in waiting(5):
        states = []
        for t in Path("/proc/%d/task" % pid).iterdir():
            stat = (t / "stat").read_text()
            states.append(stat[stat.rindex(")") + 2])
        if states and all(st == "T" for st in states):
            return
        time.sleep(0.01)
    raise AssertionError("worker %d did not stop" % pid)


def replaced(stack, victim, n):
    for _ in waiting(10):
        pids = stack.worker_pids("contact")
        if victim not in pids and len(pids) == n:
            return pids
        time.sleep(0.02)
    raise AssertionError("worker %d not replaced" % victim)


def test_cache_file(stack):
    p = cache_file(stack)
    st = os.stat(str(p))
    assert st.st_size == FILE_SIZE
    assert st.st_mode & 0o777 == 0o600
    magic, version, nbuckets = struct.unpack(
        "<QII", p.read_bytes()[:16])
    assert magic == 0x59414c5045524c46 and version == 1
    assert nbuckets == 32768


def test_replay_refused_across_workers_and_after_kill(stack):
    body = stack.form("whoami", TEAM, USER)
    ts, sig = stack.sign(body)
    rows = store_rows(stack)
    status, _, first = post(stack, body, ts, sig)
    assert status == 200 and first is not None
    # SQLite: the cache decided alone; PostgreSQL: the shared table too.
    assert store_rows(stack) == rows + (1 if stack.pg is not None else 0)
    # The worker that accepted it is stopped (SIGSTOP), so the replays
    # can only reach another worker process: each refused.  (Replays sent
    # at once spread over the workers only by chance: EPOLLEXCLUSIVE
    # wakes the worker that went to sleep last, and on a loaded machine
    # that was the first one for 320 requests in a row.)
    os.kill(first, signal.SIGSTOP)
    try:
        stopped(first)
        for _ in range(4):
            status, text, pid = post(stack, body, ts, sig)
            assert status == 401 and text == "replayed request\n", text
            assert pid is not None and pid != first, pid
    finally:
        os.kill(first, signal.SIGCONT)
    # The worker that accepted it is killed; the replacement and the
    # other worker still refuse it.
    n = len(stack.worker_pids("contact"))
    os.kill(first, signal.SIGKILL)
    replaced(stack, first, n)
    for _ in range(4):
        status, text, pid = post(stack, body, ts, sig)
        assert status == 401 and text == "replayed request\n", text
        assert pid != first


def test_kill_mid_storm_exactly_one(stack):
    """Eight threads post copies of each of 12 signed requests at once
    while a worker is killed: per request, at most one 200 (exactly one
    when no copy was cut off by the kill: nginx's 502), the rest
    replays; then every one of them is refused, and a new one accepted
    once."""
    reqs = []
    for i in range(12):
        body = stack.form("whoami", TEAM, "U0STORM%03d" % i)
        reqs.append((body,) + stack.sign(body))
    n = len(stack.worker_pids("contact"))
    victim = stack.worker_pids("contact")[0]
    go = threading.Barrier(8)
    killer = threading.Timer(0.05, os.kill, (victim, signal.SIGKILL))

    def one(k):
        go.wait(10)
        out = []
        for body, ts, sig in reqs:
            out.append(stack.post_contact(body, ts=ts, sig=sig).status)
        return out

    killer.start()
    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(8)))
    killer.join()
    replaced(stack, victim, n)
    for i in range(len(reqs)):
        got = sorted(r[i] for r in results)
        assert set(got) <= {200, 401, 502}, got
        assert got.count(200) <= 1, got
        if 502 not in got:
            assert got.count(200) == 1, got
    for body, ts, sig in reqs:
        r = stack.post_contact(body, ts=ts, sig=sig)
        assert r.status == 401 and r.text == "replayed request\n", r.text
    body = stack.form("whoami", TEAM, "U0STORMNEW")
    ts, sig = stack.sign(body)
    assert stack.post_contact(body, ts=ts, sig=sig).status == 200
    assert stack.post_contact(body, ts=ts, sig=sig).status == 401
