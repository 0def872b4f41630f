"""Issue 3, point 5: concurrency, end to end through nginx.

Every program runs several worker processes, each with its request
threads (Stack(workers=4, ...)) and their fibers, so concurrent requests
really meet in different processes, threads and fibers:

 - 20 bursts of 200 concurrent /contact searches for one user whose
   session has just expired, with refresh-token rotation on at the
   stand-in: exactly one refresh grant per burst, no refresh token
   presented twice (the stand-in would revoke the grant), every request
   answered with the contacts, in time (FL_BURST and FL_BURST_ROUNDS
   change the figures);
 - 200 searches at once while Salesforce is slow: all acknowledged in
   time, contacts delivered to response_url, with at most -t + 2
   threads in any worker; and a request that waited in the socket is
   acknowledged as soon as a worker takes it;
 - mixed load at 50 requests/s (searches, whoami, logins with the whole
   OAuth flow, logouts, help) for FL_MIXED_SECONDS (10), sessions
   expiring all along: every answer is a proper one, none says
   busy/locked/went wrong, and no SQLite busy failure is logged;
 - two parallel callbacks with the same state, cookie and code: exactly
   one token exchange, one success page and one "already finished" page,
   FL_CALLBACK_ROUNDS (10) times;
 - races of one user's refresh with the same user's relink or logout and
   login, and searches waiting for a slow refresh (regression tests of
   defects the crash loop and these tests found).

"In time" is measured where forcelink keeps Slack's 3 seconds: each
answer's slack.ack line in forcelink.log says when it left the worker
(harness.Stack.acks(), harness.late_acks()).  nginx's request times,
which also hold what a busy machine adds around the worker, are
reported, not failed on.

The figures each test measured are printed (pytest -s shows them) and
appended to $FL_FIGURES when set (scripts/soak).
"""

import os
import random
import re
import threading
import time

import pytest

from harness import Stack, late_acks
import load
from load import SMITHS, TEAM, figure

BURST = int(os.environ.get("FL_BURST", "200"))
ROUNDS = int(os.environ.get("FL_BURST_ROUNDS", "20"))
MIXED_SECONDS = float(os.environ.get("FL_MIXED_SECONDS", "10"))
MIXED_RATE = float(os.environ.get("FL_MIXED_RATE", "50"))
WORKERS, THREADS = 4, 8
BURST_THREADS = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("conc"), workers=WORKERS,
              threads=THREADS).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def burst_stack(tmp_path_factory):
    """Two request threads per worker, for the burst of slow searches:
    200 requests wait in fibers of 4 processes, not in 200 threads."""
    s = Stack(tmp_path_factory.mktemp("burst"), workers=WORKERS,
              threads=BURST_THREADS).start()
    yield s
    s.stop()


def link(stack, user, sf_user="alice@example.com"):
    n0 = len(contact_lines(stack))
    outcome, detail = load.link_flow(stack, user, sf_user)
    assert outcome == "linked", (outcome, detail)
    # nginx logs a /contact once the program finished the request, which
    # the client may not wait for (the confirm of the code proof sweeps
    # pending logins after its answer): wait for login's and confirm's
    # lines, so that they are not counted with what follows.
    want = n0 + (2 if detail.confirmed is not None else 1)
    end = time.monotonic() + 10
    while len(contact_lines(stack)) < want and time.monotonic() < end:
        time.sleep(0.05)


def contact_lines(stack):
    return [ln for ln in access_lines(stack) if "/contact" in ln]


def link_version(stack, user):
    rows = stack.sql("SELECT version FROM sf_link WHERE team_id = ? AND "
                     "user_id = ?", (TEAM, user))
    return rows[0][0] if rows else None


def workers_of(stack):
    """{program: worker pids}, from the supervisors' children."""
    return {prog: stack.worker_pids(prog)
            for prog in ("contact", "oauth_start", "oauth_callback")}


def threads_of(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def access_lines(stack):
    try:
        return (stack.dir / "nginx-access.log").read_text().splitlines()
    except FileNotFoundError:
        return []


def contact_times(lines):
    """nginx's request time of each /contact in access log lines: from
    the first byte of the request to the last byte of the answer, which
    is what Slack's 3 seconds measure (the Python clients' own times
    also count their scheduling among 200 threads on a busy machine)."""
    return [float(ln.rsplit("rt=", 1)[1]) for ln in lines
            if '"POST /contact ' in ln and "rt=" in ln]


def busy_lines(stack):
    """forcelink.log lines that report SQLite contention, or any error."""
    return [ln for ln in stack.log_text().splitlines()
            if " level=err " in ln or
            re.search(r"database (table )?is locked|SQLITE_BUSY|"
                      r"SQLITE_LOCKED|temporarily unavailable", ln, re.I)]


# ===========================================================================
# 200 concurrent searches, one expired session, rotation on

def burst(stack, user, n, hooks):
    """n signed searches for user released at once; returns, in request
    order, (load.classify() of the final answer, "direct" or "deferred"
    or the transport failure, seconds to the HTTP answer)."""
    prepared = []
    for _ in range(n):
        url = stack.response_url(TEAM)
        body = stack.form("smith", TEAM, user, response_url=url)
        ts, sig = stack.sign(body)
        prepared.append((url, body, ts, sig))
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        url, body, ts, sig = prepared[i]
        try:
            go.wait(30)
            t0 = time.monotonic()
            r = stack.post_contact(body, ts=ts, sig=sig, timeout=60)
            secs = time.monotonic() - t0
            kind, msg = load.final_message(stack, r, url, hooks)
            out[i] = (load.classify(kind, msg), kind, secs)
        except Exception as e:          # reported by the caller
            out[i] = ("exception", repr(e), 0.0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_burst_on_expired_session_refreshes_exactly_once(stack):
    """Pools of 8 threads per worker: every burst grows them to about 50
    (and they shrink back after it), so the refresh meets threads that
    were just started as well as old ones."""
    # A fresh stand-in state: max_inflight_token_requests is a high mark.
    assert stack.sf("POST", "/_control/reset").status == 200
    stack.faults(rotate_refresh=True)
    user = "U0CCBURST"
    link(stack, user)
    hooks = load.Hooks(stack)
    busy0 = len(busy_lines(stack))
    log0 = len(access_lines(stack))
    mark = stack.log_mark()
    max_threads = 0
    deferred = 0
    slowest = 0.0
    t_start = time.monotonic()
    for rnd in range(ROUNDS):
        v0 = link_version(stack, user)
        r = stack.sf("POST", "/_control/expire_access_tokens")
        assert r.status == 200 and r.json()["expired"] >= 1, r.text
        before = stack.sf_state()
        sampler_stop = threading.Event()
        peak = [0]

        def sample():
            while not sampler_stop.is_set():
                for pids in workers_of(stack).values():
                    for p in pids:
                        peak[0] = max(peak[0], threads_of(p))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        res = burst(stack, user, BURST, hooks)
        sampler_stop.set()
        sampler.join()
        after = stack.sf_state()
        kinds = {}
        for c, _, _ in res:
            kinds[c] = kinds.get(c, 0) + 1
        assert kinds == {"contacts": BURST}, (rnd, kinds, [
            r for r in res if r[0] != "contacts"][:5])
        deferred += sum(1 for _, k, _ in res if k == "deferred")
        slowest = max(slowest, max(s for _, _, s in res))
        # Exactly one refresh grant reached Salesforce, and it worked.
        tr = (after["token_requests"]["refresh_token"] -
              before["token_requests"]["refresh_token"])
        assert tr == 1, (rnd, tr)
        assert after["refreshes_ok"] - before["refreshes_ok"] == 1, rnd
        # No rotated-out refresh token was ever presented, so the grant
        # is alive; its new refresh token was stored (version + 1).
        assert after["retired_refresh_presented"] == 0, rnd
        assert after["live_grants"]["alice@example.com"] == 1, rnd
        assert after["max_inflight_token_requests"] == 1, rnd
        assert link_version(stack, user) == v0 + 1, rnd
        assert after["queries_ok"] - before["queries_ok"] == BURST, rnd
        max_threads = max(max_threads, peak[0])
    elapsed = time.monotonic() - t_start
    assert len(busy_lines(stack)) == busy0, busy_lines(stack)[busy0:][:5]
    # Every answer left its worker within Slack's 3 s (directly or as
    # the ack); nginx's times, which also hold the machine's queueing,
    # are reported.
    acks = stack.acks(mark, n=ROUNDS * BURST)
    assert len(acks) == ROUNDS * BURST, len(acks)
    assert not late_acks(acks), late_acks(acks)[:5]
    rts = contact_times(access_lines(stack)[log0:])
    assert len(rts) == ROUNDS * BURST, len(rts)
    figure("burst: %d rounds x %d concurrent searches, %d refreshes "
           "(1 per round), 0 refresh tokens reused, %d answers deferred "
           "to response_url, slowest answer %d ms in the worker (after "
           "waiting up to %d ms for it), %.2f s at nginx (%d over 3 s), "
           "%.2f s at the client, up to %d threads in one worker, "
           "%.1f s" % (
               ROUNDS, BURST, ROUNDS, deferred,
               max(a["ack_ms"] for a in acks),
               max(a["wait_ms"] for a in acks), max(rts),
               sum(1 for t in rts if t >= 3.0), slowest, max_threads,
               elapsed))


def test_burst_of_slow_searches_all_acknowledged_in_time(burst_stack):
    """SPEC §4 under a burst: 200 searches at once while Salesforce takes
    4 s: each answers Slack with "Searching…" in time (the ack leaves its
    worker 2.5 s after nginx passed the request on, Stack.acks()) and
    delivers its contacts to response_url.  nginx's times, which also
    hold what a busy machine adds around the worker, are reported."""
    stack = burst_stack
    user = "U0CCSLOWBURST"
    link(stack, user)
    hooks = load.Hooks(stack)
    stack.faults(delay=4)
    log0 = len(access_lines(stack))
    mark = stack.log_mark()
    sampler_stop = threading.Event()
    peak = [0]

    def sample():
        while not sampler_stop.is_set():
            for p in stack.worker_pids("contact"):
                peak[0] = max(peak[0], threads_of(p))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        res = burst(stack, user, BURST, hooks)
    finally:
        sampler_stop.set()
        sampler.join()
    stack.faults(delay=None)
    # Issue 13: the request threads (-t), the I/O loop and the main
    # thread, whatever the load.
    assert 0 < peak[0] <= BURST_THREADS + 2, peak
    assert [r[0] for r in res] == ["contacts"] * BURST, [
        r for r in res if r[0] != "contacts"][:5]
    assert [r[1] for r in res] == ["deferred"] * BURST
    acks = stack.acks(mark, user=user, n=BURST)
    assert len(acks) == BURST and all(a["deferred"] for a in acks), acks
    assert not late_acks(acks), late_acks(acks)[:5]
    rts = contact_times(access_lines(stack)[log0:])
    assert len(rts) == BURST, len(rts)
    figure("slow burst: %d searches at once, Salesforce 4 s: all "
           "acknowledged, slowest ack %d ms in the worker (after waiting "
           "up to %d ms for it), %.2f s at nginx (%d over 3 s), client "
           "%.2f s, all contacts delivered to response_url, at most %d "
           "threads in a worker" % (
               BURST, max(a["ack_ms"] for a in acks),
               max(a["wait_ms"] for a in acks), max(rts),
               sum(1 for t in rts if t >= 3.0), max(r[2] for r in res),
               peak[0]))


def test_request_that_waited_for_a_thread_is_acknowledged_at_once(
        tmp_path):
    """A request that waited in the socket gets its 2.5 s from when nginx
    received it, not from when a worker took it.  One worker that holds
    at most two requests (-T 2); two searches take both while Salesforce
    takes 2.7 s, a third waits in the socket's backlog until one of them
    is done (at about 2.8 s) and must then be acknowledged at once:
    before, it was acknowledged 2.5 s after it was taken, 5 s after it
    came."""
    s = Stack(tmp_path / "capped", workers=1, threads=1,
              max_requests=2).start()
    try:
        user = "U0CCCAPPED"
        link(s, user)
        s.faults(delay=2.7)
        out = [None] * 3

        def one(i):
            url = s.response_url(TEAM)
            body = s.form("smith", TEAM, user, response_url=url)
            t0 = time.monotonic()
            r = s.post_contact(body, timeout=30)
            out[i] = (time.monotonic() - t0,) + load.final_message(
                s, r, url)

        mark = s.log_mark()
        threads = [threading.Thread(target=one, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        threads.append(threading.Thread(target=one, args=(2,)))
        threads[-1].start()
        for t in threads:
            t.join(60)
        assert [load.classify(k, m) for _, k, m in out] == \
            ["contacts"] * 3, out
        assert [k for _, k, _ in out] == ["deferred"] * 3
        assert "holding 2 requests (-T)" in s.log_text()
        # The third waited for a thread past its deadline, and its ack
        # left as soon as a thread took it (late_acks: within 1.5 s, not 2.5 s).
        acks = s.acks(mark, user=user, n=3)
        assert len(acks) == 3 and max(a["wait_ms"] for a in acks) >= 2000, \
            acks
        assert not late_acks(acks), acks
    finally:
        s.stop()


# ===========================================================================
# Mixed load at 50 requests/s

STABLE = ["U0MIXSTABLE%d" % i for i in range(6)]      # never log out
CHURN = ["U0MIXCHURN%d" % i for i in range(6)]        # log in and out


def mixed_op(stack, kind, user, hooks):
    """Runs one operation; returns (kind, user, outcome, requests made).
    The outcome is what the user saw, classified."""
    if kind == "link":
        outcome, detail = load.link_flow(stack, user,
                                         load.SF_USERS[hash(user) % 3])
        return kind, user, outcome if outcome == "linked" else \
            "%s: %s" % (outcome, detail), 3
    text = {"search": "smith", "whoami": "whoami", "logout": "logout",
            "help": "help"}[kind]
    r, url = load.search(stack, user, text)
    k, msg = load.final_message(stack, r, url, hooks)
    if msg is None or k not in ("direct", "deferred"):
        return kind, user, k, 1
    text = load.message_text(msg)
    if load.bad_words(text):
        return kind, user, "bad_words: " + text[:200], 1
    if load.LOGIN_LINK.search(text):
        return kind, user, "login", 1
    if kind == "search":
        ok = load.contact_names(msg) == SMITHS
        return kind, user, "contacts" if ok else "other: " + text[:200], 1
    if kind == "whoami":
        ok = any(u in text for u in load.SF_USERS)
        return kind, user, "identity" if ok else "other: " + text[:200], 1
    if kind == "logout":
        if text.startswith("Logged out"):
            return kind, user, "logged_out", 1
        if text.startswith("You are not linked"):
            return kind, user, "not_linked", 1
        return kind, user, "other: " + text[:200], 1
    ok = "forcelink" in text and "whoami" in text
    return kind, user, "help" if ok else "other: " + text[:200], 1


# What each operation may answer.  A stable user is linked throughout, so
# only the real answer will do; a churning user may be unlinked at any
# moment by its own logout, so a login link is a proper answer too.
ALLOWED = {
    ("search", "stable"): {"contacts"},
    ("whoami", "stable"): {"identity"},
    ("help", "stable"): {"help"},
    ("search", "churn"): {"contacts", "login"},
    ("whoami", "churn"): {"identity", "login"},
    ("logout", "churn"): {"logged_out", "not_linked"},
    ("link", "churn"): {"linked"},
}


def test_mixed_load_50_per_second_no_busy(stack):
    from concurrent.futures import ThreadPoolExecutor
    # Access tokens live 2 s, so sessions expire one by one all along and
    # refreshes (with rotation) run among the logins and logouts.
    stack.faults(rotate_refresh=True, grant_limit=1000, access_ttl=2)
    for i, u in enumerate(STABLE + CHURN):
        link(stack, u, load.SF_USERS[i % 3])
    hooks = load.Hooks(stack)
    rng = random.Random(5)
    plan = []
    while len(plan) + 2 * sum(1 for k, _ in plan if k == "link") < \
            MIXED_SECONDS * MIXED_RATE:
        x = rng.random()
        if x < 0.40:
            plan.append(("search", rng.choice(STABLE + CHURN)))
        elif x < 0.55:
            plan.append(("whoami", rng.choice(STABLE + CHURN)))
        elif x < 0.65:
            plan.append(("help", rng.choice(STABLE)))
        elif x < 0.85:
            plan.append(("link", rng.choice(CHURN)))
        else:
            plan.append(("logout", rng.choice(CHURN)))
    # A login is three forcelink requests (/contact login, /oauth/start,
    # /oauth/callback), the rest one each: pace the operations so that
    # the requests come at MIXED_RATE per second.
    n = len(plan)
    op_rate = n / MIXED_SECONDS
    before = stack.sf_state()
    busy0 = len(busy_lines(stack))
    futures = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=96) as pool:
        for i, (kind, user) in enumerate(plan):
            delay = t0 + i / op_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(mixed_op, stack, kind, user, hooks))
        sent = time.monotonic() - t0
        results = [f.result() for f in futures]
    elapsed = time.monotonic() - t0
    after = stack.sf_state()
    bad = []
    tally = {}
    requests = 0
    for kind, user, outcome, nreq in results:
        requests += nreq
        group = "stable" if user in STABLE else "churn"
        tally[(kind, outcome.split(":")[0])] = tally.get(
            (kind, outcome.split(":")[0]), 0) + 1
        if outcome not in ALLOWED[(kind, group)]:
            bad.append((kind, user, outcome))
    assert not bad, (len(bad), bad[:10])
    assert len(busy_lines(stack)) == busy0, busy_lines(stack)[busy0:][:5]
    # No refresh token was presented after its rotation.
    assert after["retired_refresh_presented"] == 0
    refreshes = after["refreshes_ok"] - before["refreshes_ok"]
    assert refreshes >= 1
    # Each stable user is still linked to whom it linked.
    for i, u in enumerate(STABLE):
        who, kind = load.whoami(stack, u, hooks=hooks)
        assert who == load.SF_USERS[i % 3], (u, who, kind)
    rate = requests / sent
    assert rate >= MIXED_RATE * 0.9, rate
    figure("mixed: %d operations (%d forcelink requests) in %.1f s, "
           "%.0f requests/s sent, %d refreshes, 0 busy/locked/error "
           "answers, outcomes %s" % (
               n, requests, elapsed, rate, refreshes,
               ", ".join("%s/%s=%d" % (k, o, c)
                         for (k, o), c in sorted(tally.items()))))


# ===========================================================================
# Two parallel callbacks with the same state

CALLBACK_ROUNDS = int(os.environ.get("FL_CALLBACK_ROUNDS", "10"))


def test_parallel_callbacks_same_state_one_exchange(stack):
    user = "U0CCCALLBACK"
    results = []
    for rnd in range(CALLBACK_ROUNDS):
        # Half the rounds slow the token endpoint down, so the second
        # callback surely arrives while the first is exchanging.
        stack.faults(token_delay=0.3 if rnd % 2 else None)
        r = stack.slash("login", TEAM, user)
        m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state="
                      r"[A-Za-z0-9_-]+)", r.json()["text"])
        start, cookie = stack.start_login(m.group(1))
        assert start.status == 302 and cookie
        location = stack.consent(start.headers["Location"],
                                 "bob@example.com")
        before = stack.sf_state()
        go = threading.Barrier(2)
        out = [None, None]

        def run(i):
            go.wait(10)
            out[i] = stack.callback(location, cookie)

        threads = [threading.Thread(target=run, args=(i,))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = stack.sf_state()
        pages = sorted(out, key=lambda p: p.status)
        assert [p.status for p in pages] == [200, 400], (
            rnd, [(p.status, p.text[:300]) for p in pages])
        assert "bob@example.com" in pages[0].text
        # The success page, or in the code mode the code page whose
        # code the harness typed back ("Linked:").
        if pages[0].confirmed is None:
            assert "Linked" in pages[0].text
        else:
            assert pages[0].confirmed.json()["text"].startswith("Linked:")
        assert "Login already finished" in pages[1].text, pages[1].text
        assert (after["token_requests"]["authorization_code"] -
                before["token_requests"]["authorization_code"]) == 1, rnd
        assert after["code_exchanges_ok"] - before["code_exchanges_ok"] \
            == 1, rnd
        who, kind = load.whoami(stack, user)
        assert who == "bob@example.com", (rnd, who, kind)
        results.append(pages)
    figure("callbacks: %d rounds of two parallel callbacks with one "
           "state: %d token exchanges, %d success pages, %d 'already "
           "finished' pages" % (CALLBACK_ROUNDS, CALLBACK_ROUNDS,
                                CALLBACK_ROUNDS, CALLBACK_ROUNDS))


# ===========================================================================
# A search that races its own user's relink (found by the crash loop)

def relink_during(stack, user, sf_user, search_at, callback_first):
    """Runs a search and a relink of user at once; returns the search's
    final (kind, msg).  With callback_first the relink's callback starts
    and the search follows search_at seconds later; otherwise the
    search starts first and the whole relink runs search_at later."""
    lg_url = stack.login_url(TEAM, user)
    start, cookie = stack.start_login(lg_url)
    location = stack.consent(start.headers["Location"], sf_user)
    out = {}

    def do_search():
        r, url = load.search(stack, user)
        out["search"] = load.final_message(stack, r, url)

    def do_callback():
        out["page"] = stack.callback(location, cookie)

    first, second = ((do_callback, do_search) if callback_first
                     else (do_search, do_callback))
    t1 = threading.Thread(target=first)
    t1.start()
    time.sleep(search_at)
    second()
    t1.join(60)
    assert out["page"].status == 200, out["page"].text[:300]
    return out["search"]


def test_refresh_answered_after_relink_uses_new_link(stack):
    """The refresh reply arrives after the user's relink replaced the link:
    the search must use the new link (it used to answer "your session was
    revoked" with a login link), and the rotated refresh token it got for
    the replaced grant is revoked, not left live."""
    stack.faults(rotate_refresh=True, grant_limit=None, access_ttl=None)
    stack.sf("POST", "/_control/revoke_all", {"user": "mallory@example.com"})
    user = "U0CCRACEREPLY"
    link(stack, user, "mallory@example.com")
    stack.sf("POST", "/_control/expire_access_tokens")
    stack.faults(refresh_reply_delay=1.5)
    before = stack.sf_state()
    kind, msg = relink_during(stack, user, "mallory@example.com", 0.5,
                              callback_first=False)
    after = stack.sf_state()
    assert load.classify(kind, msg) == "contacts", (
        kind, load.message_text(msg)[:300])
    assert after["refreshes_ok"] - before["refreshes_ok"] == 1
    assert after["retired_refresh_presented"] == 0
    # Only the new login's grant is alive.
    assert after["live_grants"]["mallory@example.com"] == 1
    stack.faults(refresh_reply_delay=None)
    who, _ = load.whoami(stack, user)
    assert who == "mallory@example.com"


def test_relink_right_after_refresh_uses_new_link(stack):
    """The user's relink, waiting for the refresh lock, replaces the link
    the moment a search's refresh is stored and revokes that grant, fresh
    tokens included, before the search retries with them: the search
    must try once more with the new link (it used to tell the user to
    link again)."""
    stack.faults(rotate_refresh=None, grant_limit=None, access_ttl=None)
    user = "U0CCRACEAFTER"
    link(stack, user, "bob@example.com")
    stack.sf("POST", "/_control/expire_access_tokens")
    # Token calls take 1 s, data and userinfo calls 0.5 s (the token is
    # checked after the wait).  The relink's callback starts first: its
    # code exchange ends at 1.0 s, its userinfo at 1.5 s, and it waits
    # for the lock.  The search starts at 0.3 s: its first query fails at
    # 0.8 s, it refreshes under the lock until 1.8 s; the relink then
    # stores and revokes at once, and the retried query's token is
    # checked only at 2.3 s.
    stack.faults(token_delay=1.0, delay=0.5)
    before = stack.sf_state()
    log0 = len(stack.log_text())
    kind, msg = relink_during(stack, user, "bob@example.com", 0.3,
                              callback_first=True)
    after = stack.sf_state()
    stack.faults(token_delay=None, delay=None)
    assert load.classify(kind, msg) == "contacts", (
        kind, load.message_text(msg)[:300])
    assert after["refreshes_ok"] - before["refreshes_ok"] == 1
    # It took the one extra try, with the new link.
    assert [ln for ln in stack.log_text()[log0:].splitlines()
            if "event=link.changed" in ln and "user=%s " % user in ln]
    who, _ = load.whoami(stack, user)
    assert who == "bob@example.com"


def test_refresh_answered_after_logout_and_login_leaves_new_link(stack):
    """Logout and a new login (as another Salesforce user) while a refresh
    reply is on the wire: the late reply belongs to the old grant and must
    not be written into the new link, which starts over at the same
    version number as the old one did."""
    stack.faults(rotate_refresh=True, grant_limit=None, access_ttl=None)
    user = "U0CCABA"
    link(stack, user, "alice@example.com")
    alice0 = stack.sf_state()["live_grants"]["alice@example.com"]
    stack.sf("POST", "/_control/expire_access_tokens")
    stack.faults(refresh_reply_delay=2.0)
    out = {}

    def do_search():
        r, url = load.search(stack, user)
        out["search"] = load.final_message(stack, r, url)

    t = threading.Thread(target=do_search)
    t.start()
    time.sleep(0.5)
    r = stack.slash("logout", TEAM, user)
    assert r.json()["text"].startswith("Logged out"), r.text
    link(stack, user, "bob@example.com")
    t.join(60)
    stack.faults(refresh_reply_delay=None)
    rows = [row for row in stack.links() if row["user_id"] == user]
    assert [row["sf_username"] for row in rows] == ["bob@example.com"]
    # The tokens in the row are bob's: whoami asks Salesforce with them.
    who, kind = load.whoami(stack, user)
    assert who == "bob@example.com", (who, kind)
    stack.sf("POST", "/_control/expire_access_tokens")
    who, kind = load.whoami(stack, user)
    assert who == "bob@example.com", (who, kind)
    # The logout revoked the grant the refresh had just rotated: none of
    # alice's grants from this link is left alive.
    alice1 = stack.sf_state()["live_grants"]["alice@example.com"]
    assert alice1 == alice0 - 1, (alice0, alice1)
    # The search, caught in between, said something proper.
    kind, msg = out["search"]
    assert load.classify(kind, msg) in ("contacts", "login"), (
        kind, load.message_text(msg)[:300])


def test_searches_waiting_for_a_slow_refresh_answer_in_time(stack):
    """Searches that wait for another worker's refresh (the lock) while
    Salesforce takes 3.5 s to answer it still answer Slack within 3 s,
    with "Searching…", and get their contacts through response_url."""
    stack.faults(rotate_refresh=True, grant_limit=None, access_ttl=None)
    user = "U0CCSLOWREFRESH"
    link(stack, user)
    stack.sf("POST", "/_control/expire_access_tokens")
    stack.faults(token_delay=3.5)
    mark = stack.log_mark()
    n = 8
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        url = stack.response_url(TEAM)
        body = stack.form("smith", TEAM, user, response_url=url)
        go.wait(10)
        t0 = time.monotonic()
        r = stack.post_contact(body, timeout=30)
        secs = time.monotonic() - t0
        out[i] = (secs,) + load.final_message(stack, r, url)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    acks = stack.acks(mark, user=user, n=n)
    assert len(acks) == n and not late_acks(acks), (
        acks, sorted(o[0] for o in out))
    assert [load.classify(k, m) for _, k, m in out] == ["contacts"] * n
    assert [k for _, k, _ in out] == ["deferred"] * n


def test_logout_and_login_during_a_slow_query_keeps_new_link(stack):
    """A search reads the link, then its query hangs at Salesforce while
    the user logs out and logs in again as someone else; the query then
    fails (logout revoked its token) and the search refreshes.  The new
    link starts over at the same version number, so by the version alone
    the search took it for the link it had read, refreshed with the old,
    revoked refresh token, got invalid_grant and deleted the new link."""
    stack.faults(rotate_refresh=None, grant_limit=None, access_ttl=None)
    user = "U0CCSTALE"
    link(stack, user, "alice@example.com")
    q0 = stack.sf_state()["queries"]
    stack.faults(delay=2.0)
    out = {}

    def do_search():
        r, url = load.search(stack, user)
        out["search"] = load.final_message(stack, r, url)

    t = threading.Thread(target=do_search)
    t.start()
    # Its query has reached Salesforce (and waits there) before the
    # delay is lifted for everything that follows.
    end = time.monotonic() + 10
    while stack.sf_state()["queries"] == q0 and time.monotonic() < end:
        time.sleep(0.02)
    stack.faults(delay=None)
    r = stack.slash("logout", TEAM, user)
    assert r.json()["text"].startswith("Logged out"), r.text
    link(stack, user, "bob@example.com")
    t.join(60)
    kind, msg = out["search"]
    rows = [row for row in stack.links() if row["user_id"] == user]
    assert [row["sf_username"] for row in rows] == ["bob@example.com"]
    who, _ = load.whoami(stack, user)
    assert who == "bob@example.com"
    # The search used the link there was when it refreshed.
    assert load.classify(kind, msg) == "contacts", (
        kind, load.message_text(msg)[:300])
