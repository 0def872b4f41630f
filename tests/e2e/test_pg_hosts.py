"""Issue 14, "two hosts": two forcelink stacks on one PostgreSQL behave as
one forcelink.

Host A and host B (harness.Stack, B a peer of A) each run their own nginx
on their own port and their own FastCGI programs and workers; they share
one database of the module's throwaway server (tests/e2e/pg.py), the
Salesforce stand-in, the Slack signing secret, the Salesforce app, the
store key and the public URL (A's nginx stands for the load balancer).
Through them, end to end:

 - a link made on A is found by /contact on B, and a login whose legs
   go through different hosts (/contact login on B, /oauth/start on A,
   the callback on B, the confirm on A) links; a logout on B unlinks on A;
 - a signed Slack request accepted on A is refused as a replay on B;
 - 200 concurrent searches, spread over A and B, for one user whose
   access token has just expired, with refresh-token rotation on: exactly
   one refresh grant reaches Salesforce, no retired refresh token is ever
   presented, every search lists its contacts, every answer leaves its
   worker within Slack's 3 seconds;
 - kill -9 of every worker of every program of A while searches run on
   both hosts (and the user's access token has just expired): B answers
   every search, in time; A's supervisors bring A back; no link is lost;
 - a PostgreSQL restart (pgctl restart: fast shutdown, start) while
   searches and whole logins run on both hosts: every /contact answered
   during it is, in time, the contacts or a clear apology (a JSON
   message for Slack that says to try again); no half-link (every link
   in the store works, every acknowledged login is in it); afterwards
   both hosts answer every search again by themselves, with the workers
   they had (nothing restarted);
 - a server that does not answer (a transaction holding sf_link locked
   for 5 s): searches on both hosts are still answered within Slack's
   3 seconds, with their contacts or an apology.

The figures measured are printed (pytest -s shows them).
"""

import os
import re
import signal
import threading
import time

import pytest

import load
from harness import (ACK_MS, ACK_SLACK_MS, PROGRAMS, Stack, contact_names,
                     late_acks)
from load import SMITHS, TEAM, figure

# Per host: 2 workers of each program, 2 request threads each, whatever
# the load (a burst waits in fibers, not threads).  Every request thread
# holds a connection: 2 hosts x 4 programs x 2 x 2 = 32 of the server's
# 200.
WORKERS, THREADS = 2, 2
BURST = 200
LINK = re.compile(r"/oauth/start\?state=")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg):
    """Host A (named stack so that conftest resets the stand-in's faults
    before each test)."""
    s = Stack(tmp_path_factory.mktemp("hostA"), pg=pg, workers=WORKERS,
              threads=THREADS).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def host_b(tmp_path_factory, stack):
    s = Stack(tmp_path_factory.mktemp("hostB"), peer=stack,
              workers=WORKERS, threads=THREADS).start()
    yield s
    s.stop()


def link(stack, user, sf_user="alice@example.com"):
    """Links user through stack (the whole flow), then waits for nginx to
    log its /contact requests (a confirm's line may follow its answer:
    the program sweeps pending logins after answering), so that they are
    not counted with what follows."""
    n0 = contact_posts(stack, 0)
    got, detail = load.link_flow(stack, user, sf_user)
    assert got == "linked", (got, detail)
    want = n0 + (2 if detail.confirmed is not None else 1)
    end = time.monotonic() + 10
    while contact_posts(stack, 0) < want and time.monotonic() < end:
        time.sleep(0.05)


def outcome(stack, r, url, hooks, wait=15):
    """What the Slack user saw for a search answered with r: "contacts",
    "apology" (a message saying to try again, and nothing internal),
    "login" (a login link: the link was lost), "other", or the transport
    kind of load.final_message (http_503, deferred_missing, ...); and
    the message's text."""
    kind, msg = load.final_message(stack, r, url, hooks, wait=wait)
    if msg is None or kind not in ("direct", "deferred"):
        return kind, r.text[:200]
    text = load.message_text(msg)
    if contact_names(msg, strict=False) == SMITHS:
        return "contacts", text
    if LINK.search(text):
        return "login", text
    low = text.lower()
    if "try again" in low and not [w for w in load.bad_words(text)
                                   if w != "went wrong"]:
        return "apology", text
    return "other", text


def search(stack, user, hooks, wait=15):
    try:
        r, url = load.search(stack, user)
    except OSError as e:
        return "connection", repr(e)
    return outcome(stack, r, url, hooks, wait)


def contact_posts(stack, since):
    """How many POST /contact nginx logged after byte since of its
    access log."""
    try:
        data = (stack.dir / "nginx-access.log").read_text()[since:]
    except FileNotFoundError:
        return 0
    return sum(1 for ln in data.splitlines() if '"POST /contact ' in ln)


def access_mark(stack):
    try:
        return len((stack.dir / "nginx-access.log").read_text())
    except FileNotFoundError:
        return 0


def assert_all_acked(stack, mark, amark, timeout=15):
    """Every /contact stack's nginx logged after byte amark of its access
    log was answered by a worker (its slack.ack line after log_mark()
    mark), none of them late (Stack.assert_acked_in_time).  A request
    answered otherwise (a 503, a 502 from nginx) has no ack line."""
    end = time.monotonic() + timeout
    while True:
        n = contact_posts(stack, amark)
        acks = stack.acks(mark, timeout=0)
        if len(acks) == n or time.monotonic() >= end:
            break
        time.sleep(0.1)
    assert len(acks) == n, ("/contact requests logged by nginx", n,
                            "answered by a worker", len(acks))
    return stack.assert_acked_in_time(mark, n)


def assert_answered_in_time(stack, mark, amark):
    """Every answer a worker of stack logged after log_mark() mark left
    it in time (harness.late_acks), and nginx took no more than Slack's
    3 seconds and the machine's allowance (harness.ACK_SLACK_MS) over
    any /contact it logged after byte amark of its access log: a request
    a worker answered without a slack.ack line (a refusal before the
    form is read, an authorization failure) cannot have hung either.
    Returns (acks, nginx's longest time)."""
    acks = stack.acks(mark, timeout=0)
    assert not late_acks(acks), late_acks(acks)[:5]
    data = (stack.dir / "nginx-access.log").read_text()[amark:]
    rts = [float(ln.rsplit("rt=", 1)[1]) for ln in data.splitlines()
           if '"POST /contact ' in ln and "rt=" in ln]
    limit = (ACK_MS + ACK_SLACK_MS) / 1000.0
    assert all(t <= limit for t in rts), sorted(rts)[-5:]
    return acks, max(rts or [0.0])


# A failed step of load.link_flow the user saw as a proper answer: a page
# of forcelink's, or in Slack a message (no login link, or a refused
# confirm).  nginx's own error pages are titled with their status code.
CLEAN_LOGIN_FAILURES = re.compile(r"^(login_no_link|confirm_refused|"
                                  r"(start|callback)_http_\d+)$")


def wait_back(hosts, user, hooks, timeout=15):
    """Seconds until a search for user lists its contacts on every host
    (fails after timeout)."""
    t0 = time.monotonic()
    for h in hosts:
        while True:
            got = search(h, user, hooks)
            if got[0] == "contacts":
                break
            assert time.monotonic() - t0 < timeout, got
            time.sleep(0.1)
    return time.monotonic() - t0


def all_workers(stack):
    return {prog: stack.worker_pids(prog) for prog in PROGRAMS}


class Searches:
    """Client threads searching as user, each in turn on every host,
    until stop(); results: (host index, seconds from start, outcome,
    text); spans: (start, end) of each, in the same order."""

    def __init__(self, hosts, user, hooks, threads=2, pause=0.05):
        self.hosts, self.user, self.hooks = hosts, user, hooks
        self.pause = pause
        self.results = []
        self.spans = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        n = i
        while not self.done.is_set():
            h = n % len(self.hosts)
            n += 1
            t = time.monotonic() - self.t0
            kind, text = search(self.hosts[h], self.user, self.hooks)
            with self.lock:
                self.results.append((h, t, kind, text))
                self.spans.append((t, time.monotonic() - self.t0))
            time.sleep(self.pause)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(60)
        return self.results


# ===========================================================================

def test_link_on_a_search_on_b(stack, host_b):
    a, b = stack, host_b
    hooks = load.Hooks(a)
    user = "U0PGHLINK"
    page = a.link(TEAM, user)
    assert page.status == 200 and "alice@example.com" in page.text, \
        page.text
    assert search(b, user, hooks)[0] == "contacts"
    assert [(r["user_id"], r["sf_username"]) for r in b.links()
            if r["user_id"] == user] == [(user, "alice@example.com")]
    # One login, its legs through both hosts: the login state made by B
    # is started by A, its callback runs on B and its code is confirmed
    # on A (each leg as a load balancer may route it).
    user2 = "U0PGHSPLIT"
    url = b.login_url(TEAM, user2)
    assert url.startswith(a.public_url + "/oauth/start?"), url
    r, cookie = a.start_login(url)
    assert r.status == 302 and cookie, r.text
    location = a.consent(r.headers["Location"], "bob@example.com")
    page = b.callback(location, cookie, confirm=False)
    assert page.status == 200 and "bob@example.com" in page.text, page.text
    a.finish(page, TEAM, user2)
    assert search(b, user2, hooks)[0] == "contacts"
    assert search(a, user2, hooks)[0] == "contacts"
    # A logout on B is a logout on A.
    r, url = load.search(b, user, text="logout")
    kind, msg = load.final_message(b, r, url, hooks)
    assert "Logged out" in load.message_text(msg), (kind, msg)
    kind, text = search(a, user, hooks)
    assert kind == "login", (kind, text)
    assert [r for r in a.links() if r["user_id"] == user] == []


def test_replay_accepted_on_a_refused_on_b(stack, host_b):
    a, b = stack, host_b
    body = a.form("help", TEAM, "U0PGHREPLAY")
    ts, sig = a.sign(body)
    r = a.post_contact(body, ts=ts, sig=sig)
    assert r.status == 200 and r.json()["text"], r.text
    mark = b.log_mark()
    r = b.post_contact(body, ts=ts, sig=sig)
    assert r.status == 401, (r.status, r.text)
    assert "replay" in r.text, r.text
    assert "outcome=replay" in b.log_text()[mark:]
    # The other way round too, and the host that accepted it refuses it.
    body = b.form("help", TEAM, "U0PGHREPLAY")
    ts, sig = b.sign(body)
    assert b.post_contact(body, ts=ts, sig=sig).status == 200
    for host in (a, b):
        r = host.post_contact(body, ts=ts, sig=sig)
        assert r.status == 401 and "replay" in r.text, (r.status, r.text)


def burst(hosts, user, n, hooks):
    """n signed searches for user released at once, request i to host
    i % len(hosts); returns [(host index, outcome, text, seconds)]."""
    prepared = []
    for i in range(n):
        h = hosts[i % len(hosts)]
        url = h.response_url(TEAM)
        body = h.form("smith", TEAM, user, response_url=url)
        ts, sig = h.sign(body)
        prepared.append((h, url, body, ts, sig))
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        h, url, body, ts, sig = prepared[i]
        try:
            go.wait(30)
            t0 = time.monotonic()
            r = h.post_contact(body, ts=ts, sig=sig, timeout=60)
            secs = time.monotonic() - t0
            kind, text = outcome(h, r, url, hooks, wait=25)
            out[i] = (i % len(hosts), kind, text, secs)
        except Exception as e:          # reported by the caller
            out[i] = (i % len(hosts), "exception", repr(e), 0.0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_200_concurrent_expired_session_one_refresh_over_both_hosts(
        stack, host_b):
    a, b = stack, host_b
    # max_inflight_token_requests is a high mark: start from zero.
    assert a.sf("POST", "/_control/reset").status == 200
    a.faults(rotate_refresh=True)
    user = "U0PGHBURST"
    link(a, user)
    hooks = load.Hooks(a)
    (v0,) = a.sql("SELECT version FROM sf_link WHERE team_id = ? AND "
                  "user_id = ?", (TEAM, user))[0]
    r = a.sf("POST", "/_control/expire_access_tokens")
    assert r.status == 200 and r.json()["expired"] >= 1, r.text
    before = a.sf_state()
    marks = [a.log_mark(), b.log_mark()]
    t0 = time.monotonic()
    res = burst([a, b], user, BURST, hooks)
    elapsed = time.monotonic() - t0
    after = a.sf_state()
    kinds = {}
    for _, k, _, _ in res:
        kinds[k] = kinds.get(k, 0) + 1
    assert kinds == {"contacts": BURST}, (kinds, [
        x for x in res if x[1] != "contacts"][:5])
    # Exactly one refresh grant reached Salesforce, one at a time, and no
    # rotated-out refresh token was ever presented (the stand-in would
    # have revoked the grant); the new one was stored once.
    d = lambda k: after[k] - before[k]      # noqa: E731
    assert (after["token_requests"]["refresh_token"]
            - before["token_requests"]["refresh_token"]) == 1, after
    assert d("refreshes_ok") == 1
    assert after["retired_refresh_presented"] == 0
    assert after["max_inflight_token_requests"] == 1
    assert after["live_grants"]["alice@example.com"] == 1
    assert d("queries_ok") == BURST
    (v1,) = a.sql("SELECT version FROM sf_link WHERE team_id = ? AND "
                  "user_id = ?", (TEAM, user))[0]
    assert v1 == v0 + 1
    # Every answer left its worker in time, on both hosts.
    acks = []
    for h, m in zip((a, b), marks):
        acks += h.assert_acked_in_time(m, BURST // 2, user)
    # The stored rotated token is the live one: the next expiry, on B,
    # refreshes with it.
    assert a.sf("POST", "/_control/expire_access_tokens").status == 200
    assert search(b, user, hooks)[0] == "contacts"
    last = a.sf_state()
    assert last["refreshes_ok"] - after["refreshes_ok"] == 1
    assert last["retired_refresh_presented"] == 0
    figure("pg two hosts: %d concurrent searches over 2 hosts, expired "
           "session, rotation on: 1 refresh, 0 retired tokens presented, "
           "%d deferred, slowest ack %d ms in a worker (after waiting up "
           "to %d ms), slowest client %.2f s, %.1f s in all" % (
               BURST, sum(1 for x in acks if x["deferred"]),
               max(x["ack_ms"] for x in acks),
               max(x["wait_ms"] for x in acks), max(x[3] for x in res),
               elapsed))


def wait_workers(stack, gone, timeout=20):
    """Waits until every program of stack has its workers again, none of
    them in gone; returns {program: pids}."""
    end = time.monotonic() + timeout
    while True:
        now = all_workers(stack)
        if all(len(p) == WORKERS and not set(p) & gone
               for p in now.values()):
            return now
        assert time.monotonic() < end, (now, gone)
        time.sleep(0.05)


def test_kill_9_every_worker_of_a_under_load_b_keeps_answering(
        stack, host_b):
    a, b = stack, host_b
    hooks = load.Hooks(a)
    user, other = "U0PGHKILL", "U0PGHKILL2"
    link(a, user)
    link(b, other, "bob@example.com")
    links0 = sorted((r["team_id"], r["user_id"], r["sf_username"])
                    for r in a.links())
    # Searches on B only (they must all work) and on both hosts (A's may
    # fail while its workers are dead).
    marks = [a.log_mark(), b.log_mark()]
    acc = [access_mark(a), access_mark(b)]
    on_b = Searches([b], user, hooks, threads=2)
    on_both = Searches([a, b], other, hooks, threads=2)
    time.sleep(1.0)
    # The access tokens expire: refreshes run (and take the user's lock)
    # on both hosts while A's workers die.
    assert a.sf("POST", "/_control/expire_access_tokens").status == 200
    time.sleep(0.1)
    killed = set()
    t_kill = time.monotonic() - on_b.t0
    for prog, pids in all_workers(a).items():
        assert len(pids) == WORKERS, (prog, pids)
        for p in pids:
            os.kill(p, signal.SIGKILL)
            killed.add(p)
    back = wait_workers(a, killed)
    t_back = time.monotonic() - on_b.t0
    time.sleep(1.5)
    res_b = on_b.stop()
    res_both = on_both.stop()
    # B answered every search during all of it, with the contacts.
    assert [k for _, _, k, _ in res_b] == ["contacts"] * len(res_b), [
        x for x in res_b if x[2] != "contacts"][:5]
    assert [k for h, _, k, _ in res_both if h == 1] == \
        ["contacts"] * sum(1 for x in res_both if x[0] == 1), [
            x for x in res_both if x[0] == 1 and x[2] != "contacts"][:5]
    # A comes back within a fraction of a second: a search on B that was
    # under way at any moment of that is one B answered while A had no
    # worker.
    during = [x for x, (s0, s1) in zip(res_b, on_b.spans)
              if s0 <= t_back and s1 >= t_kill]
    assert during, (t_kill, t_back, res_b)
    # ... each in time (every /contact B's nginx logged was answered by
    # a worker within Slack's 3 seconds).
    assert_all_acked(b, marks[1], acc[1])
    # A is back by itself: its new workers answer, and the store lost
    # nothing (the refresh cut short by the kill is redone by whoever
    # searches next).
    assert search(a, user, hooks)[0] == "contacts"
    assert search(a, other, hooks)[0] == "contacts"
    links1 = sorted((r["team_id"], r["user_id"], r["sf_username"])
                    for r in a.links())
    assert links1 == links0
    a_kinds = {}
    for h, _, k, _ in res_both:
        if h == 0:
            a_kinds[k] = a_kinds.get(k, 0) + 1
    assert set(back["contact"]).isdisjoint(killed)
    figure("pg two hosts: kill -9 of A's %d workers: B answered %d "
           "searches (%d while A had none), all with contacts; A's "
           "answers %s; A back in %.2f s" % (
               len(killed), len(res_b) + sum(1 for x in res_both
                                             if x[0] == 1),
               len(during), a_kinds, t_back - t_kill))


class Linkers:
    """Client threads each linking new users one after another (the whole
    flow: login, start, consent, callback, confirm) on alternate hosts,
    pause seconds apart, until stop() or most users each; results: (user, sf_user, load.link_flow outcome,
    detail)."""

    def __init__(self, hosts, prefix, threads=2, most=8, pause=0.15):
        self.hosts, self.prefix = hosts, prefix
        self.most, self.pause = most, pause
        self.results = []
        self.spans = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        n = 0
        while not self.done.wait(self.pause) and n < self.most:
            user = "%s%d%03d" % (self.prefix, i, n)
            sf_user = load.SF_USERS[n % 2]
            host = self.hosts[(i + n) % len(self.hosts)]
            n += 1
            got, detail = load.link_flow(host, user, sf_user)
            with self.lock:
                self.results.append((user, sf_user, got, detail))

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(90)
        return self.results


def test_postgresql_restart_under_load(stack, host_b, pg):
    a, b = stack, host_b
    hooks = load.Hooks(a)
    # The linkers make many grants for two Salesforce users: none may
    # drop an older one (the stand-in keeps five per user, as Salesforce).
    a.faults(grant_limit=1000)
    user = "U0PGHRESTART"
    link(a, user)
    workers0 = [all_workers(a), all_workers(b)]
    marks = [a.log_mark(), b.log_mark()]
    acc = [access_mark(a), access_mark(b)]
    searches = Searches([a, b], user, hooks, threads=2)
    linkers = Linkers([a, b], "U0PGHRL")
    time.sleep(1.0)
    # A restart with a second of outage between the fast shutdown (every
    # connection cut) and the start.  (stop() counts the server's CPU.)
    t_down = time.monotonic() - searches.t0
    pg.stop()
    try:
        # While there is no server, a burst: more searches at once than
        # the pools have threads, so that they grow (a new thread has no
        # connection yet, and cannot make one now).
        t0 = time.monotonic()
        outage = burst([a, b], user, 16, hooks)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    finally:
        pg.start()
    t_up = time.monotonic() - searches.t0
    time.sleep(1.0)
    res = searches.stop()
    logins = linkers.stop()
    # Every search had a proper answer: its contacts, or an apology that
    # tells the user to try again; never a login link (the link is
    # there), an internal error or a failure Slack would show as its own.
    kinds = {}
    for _, _, k, _ in res:
        kinds[k] = kinds.get(k, 0) + 1
    assert set(kinds) <= {"contacts", "apology"}, (kinds, [
        x for x in res if x[2] not in ("contacts", "apology")][:5])
    during = [x for x in res if t_down <= x[1] <= t_up]
    assert [x[1] for x in outage] == ["apology"] * len(outage), outage
    # Every login that failed failed clearly: a forcelink page, or a
    # message in Slack (never an HTTP error Slack shows as a code).
    unclear = [(u, got, detail) for u, _, got, detail in logins
               if got != "linked" and not (
                   CLEAN_LOGIN_FAILURES.match(got) and not re.search(
                       r"<title>\d{3} ", str(detail)))]
    assert unclear == [], unclear[:3]
    # Every /contact either host's nginx logged (searches, the linkers'
    # logins and confirms) was answered within Slack's 3 seconds: none
    # hung on the server.
    slowest = max(assert_answered_in_time(h, m, am)[1]
                  for h, m, am in zip((a, b), marks, acc))
    # Back by itself, without restarting anything.
    back = wait_back((a, b), user, hooks)
    # No half-link: every acknowledged login is in the store, and every
    # link in the store works (whoami opens its tokens and asks
    # Salesforce who it is).
    linked = {u: s for u, s, got, _ in logins if got == "linked"}
    rows = {r["user_id"]: r["sf_username"] for r in a.links()
            if r["user_id"].startswith("U0PGHRL")}
    for u, s in linked.items():
        assert rows.get(u) == s, (u, s, rows.get(u))
    for n, (u, s) in enumerate(sorted(rows.items())):
        got, kind = load.whoami((a, b)[n % 2], u, hooks=hooks)
        assert got == s, (u, s, got, kind)
    # The logins that failed can be made again, on either host.
    failed = [(u, s) for u, s, got, _ in logins if got != "linked"]
    for n, (u, s) in enumerate(failed[:2]):
        link((a, b)[n % 2], u, s)
    # Back by itself: every search now works on both hosts, 16 at once on
    # each (every thread of the pools, whose connections the restart
    # broke, has to find its way back), with the same workers: nothing
    # was restarted, no worker died or exited (not even when its pool
    # grew while there was no server).
    res2 = burst([a, b], user, 32, hooks)
    assert [x[1] for x in res2] == ["contacts"] * 32, [
        x for x in res2 if x[1] != "contacts"][:5]
    assert [all_workers(a), all_workers(b)] == workers0
    figure("pg two hosts: PostgreSQL restart (%.2f s) under load: %d "
           "searches at once without a server, all apologies; %d "
           "searches (%d during it): %s; logins: %d linked, %d failed "
           "cleanly (%s); slowest /contact at nginx %.2f s; back %.2f s "
           "after; %d searches at once then, all with contacts" % (
               t_up - t_down, len(outage), len(res), len(during), kinds,
               len(linked),
               len(failed), sorted({got for _, _, got, _ in logins
                                    if got != "linked"}), slowest, back,
               len(res2)))


def test_stuck_store_answers_in_time(stack, host_b, pg):
    """A server that does not answer in time, as forcelink sees it: a
    transaction holds sf_link locked for 5 seconds.  Searches on both
    hosts meanwhile are acknowledged within Slack's 3 seconds (the
    statement and lock timeouts end each wait, and a request waiting for
    its thread's connection is acknowledged from inside the wait), with
    their contacts or an apology; once the lock is gone, with their
    contacts."""
    a, b = stack, host_b
    hooks = load.Hooks(a)
    user = "U0PGHSTUCK"
    link(a, user)
    marks = [a.log_mark(), b.log_mark()]
    acc = [access_mark(a), access_mark(b)]
    holder = threading.Thread(target=pg.psql, args=(
        "BEGIN; LOCK TABLE sf_link IN ACCESS EXCLUSIVE MODE; "
        "SELECT pg_sleep(5); COMMIT;",), kwargs={"database": a.database})
    holder.start()
    try:
        for _ in range(100):
            if a.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON "
                     "c.oid = l.relation WHERE c.relname = 'sf_link' AND "
                     "l.mode = 'AccessExclusiveLock' AND l.granted")[0][0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the lock was not taken")
        t0 = time.monotonic()
        res = burst([a, b], user, 8, hooks)
        secs = time.monotonic() - t0
    finally:
        holder.join(30)
    # The requests of one request thread take its connection in turn
    # (common/store_pg.c), so those queued behind a stuck statement may
    # get theirs after the lock is gone, with the contacts; each was
    # acknowledged in time all the same (below).  At least one met the
    # lock and was answered by a timeout, or the test proves nothing.
    assert "apology" in {x[1] for x in res}, res
    assert {x[1] for x in res} <= {"contacts", "apology"}, res
    acks = []
    for h, m, am in zip((a, b), marks, acc):
        acks += assert_all_acked(h, m, am)
    assert search(a, user, hooks)[0] == "contacts"
    assert search(b, user, hooks)[0] == "contacts"
    figure("pg two hosts: store locked 5 s: 8 searches answered (%s) "
           "within %.2f s, slowest ack %d ms" % (
               sorted(x[1] for x in res), secs,
               max(x["ack_ms"] for x in acks)))
