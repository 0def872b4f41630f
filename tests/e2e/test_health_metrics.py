"""Issue 16, point 3: GET /healthz and the Prometheus metrics, through
the shipped nginx snippet and the real programs.

- /healthz and /healthz/PROGRAM answer 200 with each program's own JSON
  (program, status, schema version, the key: no links yet, then the id
  of the key that opened the newest link) and nothing secret; HEAD too;
  POST is refused by nginx.
- A key file holding only a key that opens nothing: every program's
  /healthz turns 503 naming the "key" check (no key in the body), and
  200 again once the key is back.
- Only this host may ask: a client on 127.0.0.2 (still the loopback
  interface, another address) gets 403 for /healthz, /healthz/PROGRAM
  and /metrics while /slack/install answers it; and neither route is
  written to the access log.
- /metrics parses as Prometheus text format 0.0.4 under a strict reader
  (below), and each metric moves when its event happens, by exactly as
  much where the event is exact: a link (links gauge, the OAuth routes,
  Salesforce's token and userinfo calls), a search (the contact route,
  the ack histogram, the query histogram: counts summed over both
  workers and all four programs, whichever answers the scrape), an
  expired session (refresh ok), a revoked grant (refresh invalid_grant,
  links down), a slow Salesforce (a deferred answer posted; the query's
  3 s in the histogram's 5 s bucket, not its 2.5 s one), a second key
  (key rows by key id), a Slack installation whose refresh token Slack
  refuses (installations needing reinstall).
"""

import base64
import hashlib
import http.client
import json
import math
import os
import re
import sqlite3
import time

import pytest

from harness import ROOT, Stack

TEAM = "T0E2E0001"
WS2 = "T0E2E0002"
PROGRAMS = ("contact", "oauth_start", "oauth_callback", "slack_oauth",
            "actions")
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A /healthz answer is kept a second in each worker (HEALTH_CACHE_MS),
# and the programs look at the key file once a second: past both, every
# worker answers anew.
CACHE_SECS = 2.2


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # With the Slack stand-in, for the installation that needs a
    # reinstall (the last test: until then nothing is installed, and
    # every workspace is served).
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _slack_faults(stack):
    stack.reset_slack_faults()
    yield


# -- helpers -----------------------------------------------------------------

def key_id(b64):
    """The public id of a key, as crypto.c derives it."""
    return hashlib.blake2b(b"forcelink key id v1",
                           key=base64.b64decode(b64),
                           digest_size=8).hexdigest()


def schema_version(stack):
    with stack.db() as c:
        return c.execute("PRAGMA user_version").fetchone()[0]


def wait_for(pred, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def from_other_address(stack, path, method="GET"):
    """path through nginx from 127.0.0.2: another loopback address, so
    nginx sees $remote_addr 127.0.0.2."""
    c = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10,
                                   source_address=("127.0.0.2", 0))
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})?'
    r' (-?(?:[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\+Inf|-Inf|NaN))$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
HELP_TYPE = re.compile(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")


def parse_prometheus(text):
    """A strict reader of text format 0.0.4: returns {(name, labels):
    value} (labels a sorted tuple of pairs) after checking that every
    line is a HELP, a TYPE or a sample; that each family has one HELP and
    one TYPE, before its samples; that no series appears twice; that a
    counter's samples end in _total; and that a histogram's series have
    rising cumulative buckets ending at le="+Inf", equal to _count, with
    a _sum."""
    assert text.endswith("\n")
    types, helps, out = {}, set(), {}
    for line in text[:-1].split("\n"):
        m = HELP_TYPE.match(line)
        if m:
            kind, name, rest = m.groups()
            if kind == "HELP":
                assert name not in helps, line
                helps.add(name)
            else:
                assert name not in types, line
                assert rest in ("counter", "gauge", "histogram"), line
                types[name] = rest
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample: %r" % line
        name, labels, value = m.groups()
        pairs = tuple(sorted(LABEL.findall(labels or "")))
        assert len({k for k, _ in pairs}) == len(pairs), line
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert family in types and family in helps, \
            "sample before its HELP and TYPE: %r" % line
        if types[family] == "counter":
            assert name.endswith("_total"), line
        if types[family] != "histogram":
            assert name == family, line
        key = (name, pairs)
        assert key not in out, "twice: %r" % line
        out[key] = float(value)
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, pairs), v in out.items():
            if name == fam + "_bucket":
                d = dict(pairs)
                le = d.pop("le")
                series.setdefault(tuple(sorted(d.items())), []).append(
                    (math.inf if le == "+Inf" else float(le), v))
        assert series, fam
        for rest, buckets in series.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, (fam, rest)
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), (fam, rest, buckets)
            assert out[(fam + "_count", rest)] == counts[-1], (fam, rest)
            assert (fam + "_sum", rest) in out, (fam, rest)
    return out


def scrape_once(stack):
    r = stack.get("/metrics")
    assert r.status == 200, r.text
    assert r.headers["Content-Type"] == PROM_TYPE
    return parse_prometheus(r.text)


def scrape(stack, timeout=10):
    """The metrics once they have settled: a program counts a request
    after its handler returns, which may be after the client has its
    answer, so on a busy machine the last request may not be counted
    yet.  Two scrapes in a row that agree (but for the scrapes' own
    count) are the state."""
    def steady(m):
        return {k: val for k, val in m.items()
                if dict(k[1]).get("route") != "metrics"}
    m = scrape_once(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        n = scrape_once(stack)
        if steady(n) == steady(m):
            return n
        m = n
    return m


def v(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


def req(m, route, outcome="2xx"):
    return v(m, "forcelink_requests_total", route=route, outcome=outcome)


def hist(m, name, le="+Inf", **labels):
    return v(m, name + "_bucket", le=le, **labels)


def search(stack, user, text="smith", **extra):
    url = stack.response_url(TEAM)
    r = stack.post_contact(stack.form(text, TEAM, user, response_url=url,
                                      **extra), timeout=30)
    assert r.status == 200, r.text
    return r.json(), url


def key_rows(m):
    return {dict(p)["key_id"]: val for (n, p), val in m.items()
            if n == "forcelink_key_rows"}


# -- /healthz ----------------------------------------------------------------

def test_healthz_of_each_program(stack):
    """Before any link: status ok, "no links"; then the key id of the
    key that opened the newest link.  Nothing secret in the body."""
    schema = schema_version(stack)
    secrets = stack.secret_values()
    paths = [("/healthz", "contact")] + [("/healthz/" + p, p)
                                         for p in PROGRAMS]
    for path, prog in paths:
        r = stack.get(path)
        assert r.status == 200, (path, r.text)
        assert r.headers["Content-Type"] == "application/json"
        assert r.json() == {"program": prog, "status": "ok",
                            "schema": schema, "key": "no links"}, path
    page = stack.link(TEAM, "U0HEALTH01")
    assert page.status == 200, page.text
    want = key_id(stack.key)
    time.sleep(1.1)             # every worker's kept answer is stale
    for path, prog in paths:
        r = stack.get(path)
        assert r.status == 200
        assert r.json() == {"program": prog, "status": "ok",
                            "schema": schema, "key": "opens",
                            "key_id": want}, path
        assert not any(s in r.text for s in secrets if len(s) >= 8)
    # HEAD as GET; anything else is refused by nginx.
    r = stack.request("HEAD", "/healthz/oauth_start")
    assert r.status == 200 and r.body == b""
    assert stack.request("POST", "/healthz", b"x").status == 403
    assert stack.request("POST", "/metrics", b"x").status == 403
    # No other program name is routed.
    assert stack.get("/healthz/forcelink-admin").status == 404


def test_healthz_fails_when_the_key_opens_nothing(stack):
    """A key file holding only a fresh key: the newest link cannot be
    opened, and every program says so (503, check "key"); the key back,
    200 again."""
    keyfile = stack.dir / "key"
    good = keyfile.read_text()
    stranger = base64.b64encode(os.urandom(32)).decode()
    paths = ["/healthz"] + ["/healthz/" + p for p in PROGRAMS]
    try:
        keyfile.write_text(stranger + "\n")
        time.sleep(CACHE_SECS)
        for path in paths * 2:          # each of the two workers, likely
            r = stack.get(path)
            assert r.status == 503, (path, r.text)
            body = r.json()
            assert body["status"] == "fail" and body["check"] == "key", \
                r.text
            assert body["program"] == (path.split("/")[2]
                                       if path.count("/") == 2
                                       else "contact")
            assert "does not open" in body["detail"]
            for s in (stranger, stack.key) + tuple(stack.secret_values()):
                assert s not in r.text
    finally:
        keyfile.write_text(good)
    time.sleep(CACHE_SECS)
    for path in paths * 2:
        assert stack.get(path).status == 200, path


def test_healthz_fails_when_the_database_cannot_be_read(stack):
    """The links table gone (renamed away): /healthz is 503 naming the
    "database" check, and /metrics says forcelink_database_up 0 and
    leaves the database's figures out; back, both recover."""
    paths = ["/healthz"] + ["/healthz/" + p for p in PROGRAMS]
    with stack.db() as c:
        c.execute("ALTER TABLE sf_link RENAME TO sf_link_away")
    try:
        time.sleep(1.1)
        for path in paths * 2:
            r = stack.get(path)
            assert r.status == 503, (path, r.text)
            body = r.json()
            assert (body["status"], body["check"]) == ("fail", "database")
            assert body["detail"] == "the database cannot be read"
        m = scrape(stack)
        assert v(m, "forcelink_database_up") == 0
        assert not [k for k in m if k[0] in (
            "forcelink_links", "forcelink_key_rows",
            "forcelink_installations_needing_reinstall")]
    finally:
        with stack.db() as c:
            c.execute("ALTER TABLE sf_link_away RENAME TO sf_link")
    time.sleep(1.1)
    for path in paths * 2:
        assert stack.get(path).status == 200, path
    assert v(scrape(stack), "forcelink_database_up") == 1


def test_no_salesforce_call(stack):
    """Neither route calls Salesforce: the stand-in's counters stay."""
    time.sleep(1.1)             # no kept answer: every check runs
    st0 = stack.sf_state()
    for path in ["/healthz", "/metrics"] + ["/healthz/" + p
                                            for p in PROGRAMS]:
        for _ in range(3):
            assert stack.get(path).status == 200
    assert stack.sf_state() == st0


def test_counters_file(stack):
    """The counters live in $FORCELINK_DB-metrics, mode 0600."""
    st = os.stat(str(stack.db_path) + "-metrics")
    assert st.st_mode & 0o777 == 0o600
    assert st.st_uid == os.getuid()


def test_readme_names_every_metric(stack):
    """The README's list of metrics is what /metrics serves: the same
    families, with the same labels."""
    readme = (ROOT / "README").read_text()
    sec = readme[readme.index("\nHealth and metrics\n"):]
    sec = sec[:sec.index("\nforcelink-admin\n")]
    listed = {}
    for name, labels in re.findall(
            r"^  (forcelink_[a-z_]+)(?:\{([a-z_,]+)\})?", sec, re.M):
        listed[name] = set(labels.split(",")) if labels else set()
    served, m = {}, scrape(stack)
    names = {n for n, _ in m}
    for (name, pairs) in m:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        fam = base if base + "_bucket" in names else name
        served.setdefault(fam, set()).update(
            k for k, _ in pairs if k != "le")
    assert listed == served
    # The label values the README names, exactly.
    values = {}
    for (name, pairs) in m:
        for k, val in pairs:
            values.setdefault((name, k), set()).add(val)
    assert values[("forcelink_requests_total", "route")] == {
        "contact", "oauth_start", "oauth_callback", "slack_install",
        "slack_oauth_redirect", "healthz", "metrics", "other", "account",
        "pipeline", "case", "slack_actions"}
    assert values[("forcelink_requests_total", "outcome")] == {
        "2xx", "3xx", "4xx", "5xx", "none"}
    assert values[("forcelink_salesforce_request_seconds_count",
                   "call")] == {"query", "token_code", "token_refresh",
                                "token_client", "userinfo", "revoke"}
    assert values[("forcelink_refreshes_total", "outcome")] == {
        "ok", "shared", "invalid_grant", "forged", "error"}
    assert values[("forcelink_deferred_answers_total", "outcome")] == {
        "posted", "failed", "dropped"}
    # And the buckets.
    bounds = re.search(r"buckets are ([0-9. \n]+) seconds", sec).group(1)
    assert values[("forcelink_slack_ack_seconds_bucket", "le")] == \
        {str(float(b)).rstrip("0").rstrip(".")
         for b in bounds.split()} | {"+Inf"}


def test_only_this_host_may_ask(stack):
    """nginx's allow list: 127.0.0.1 and ::1 only.  127.0.0.2 is refused
    on every health and metrics route, yet served elsewhere."""
    status, _ = from_other_address(stack, "/slack/install")
    assert status == 200
    for path in ["/healthz", "/metrics"] + ["/healthz/" + p
                                            for p in PROGRAMS]:
        status, body = from_other_address(stack, path)
        assert status == 403, path
        assert b"forcelink" not in body and b"status" not in body
        status, _ = from_other_address(stack, path, "HEAD")
        assert status == 403, path
    assert stack.get("/healthz").status == 200
    assert stack.get("/metrics").status == 200


def test_not_in_the_access_log(stack):
    mark = "/slack/install?mark=%s" % os.urandom(4).hex()
    for path in ["/healthz", "/metrics"] + ["/healthz/" + p
                                            for p in PROGRAMS]:
        stack.get(path)
    stack.get(mark)
    log = stack.dir / "nginx-access.log"
    assert wait_for(lambda: "/slack/install" in log.read_text(), 5)
    served = re.compile(r'"[A-Z]+ (/healthz(/(%s))?|/metrics) ' %
                        "|".join(PROGRAMS))
    assert not [ln for ln in log.read_text().splitlines()
                if served.search(ln)]


# -- /metrics ----------------------------------------------------------------

def test_metrics_of_a_link_and_a_search(stack):
    """A link, then a search: each counter moves by exactly its events,
    summed over both workers of each program and over the programs."""
    m0 = scrape(stack)
    assert v(m0, "forcelink_database_up") == 1
    links0 = v(m0, "forcelink_links")
    assert links0 == len(stack.links())
    page = stack.link(TEAM, "U0METRIC01")
    assert page.status == 200, page.text
    m1 = scrape(stack)
    assert v(m1, "forcelink_links") == links0 + 1
    assert req(m1, "oauth_callback") > req(m0, "oauth_callback")
    assert req(m1, "oauth_start", "3xx") > req(m0, "oauth_start", "3xx")
    assert hist(m1, "forcelink_salesforce_request_seconds",
                call="token_code") == \
        hist(m0, "forcelink_salesforce_request_seconds",
             call="token_code") + 1
    assert hist(m1, "forcelink_salesforce_request_seconds",
                call="userinfo") > \
        hist(m0, "forcelink_salesforce_request_seconds", call="userinfo")
    # The previous scrape is counted by now.
    assert req(m1, "metrics") > req(m0, "metrics")

    msg, _ = search(stack, "U0METRIC01")
    assert "Smith" in json.dumps(msg), msg
    m2 = scrape(stack)
    assert req(m2, "contact") == req(m1, "contact") + 1
    assert hist(m2, "forcelink_slack_ack_seconds") == \
        hist(m1, "forcelink_slack_ack_seconds") + 1
    assert hist(m2, "forcelink_slack_ack_seconds", le="2.5") == \
        hist(m1, "forcelink_slack_ack_seconds", le="2.5") + 1
    q = "forcelink_salesforce_request_seconds"
    assert hist(m2, q, call="query") == hist(m1, q, call="query") + 1
    assert v(m2, q + "_sum", call="query") > v(m1, q + "_sum", call="query")
    assert v(m2, "forcelink_refreshes_total", outcome="ok") == \
        v(m1, "forcelink_refreshes_total", outcome="ok")
    # A request nginx refuses never reaches a program; one that is
    # refused by the program is counted under its status.
    r = stack.post_contact(stack.form("smith", TEAM, "U0METRIC01"),
                           sig="v0=" + "0" * 64)
    assert r.status == 401
    m3 = scrape(stack)
    assert req(m3, "contact", "4xx") == req(m2, "contact", "4xx") + 1
    # The key rows: the link's and the login state's, under the one key.
    assert list(key_rows(m3)) == [key_id(stack.key)]


def test_refresh_ok(stack):
    user = "U0METRIC02"
    assert stack.link(TEAM, user).status == 200
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    m0 = scrape(stack)
    msg, _ = search(stack, user)
    assert "Smith" in json.dumps(msg), msg
    m1 = scrape(stack)
    # Every link's token expired; only this one's is refreshed.
    assert v(m1, "forcelink_refreshes_total", outcome="ok") == \
        v(m0, "forcelink_refreshes_total", outcome="ok") + 1
    q = "forcelink_salesforce_request_seconds"
    assert hist(m1, q, call="token_refresh") == \
        hist(m0, q, call="token_refresh") + 1
    assert hist(m1, q, call="query") == hist(m0, q, call="query") + 2


def test_refresh_invalid_grant(stack):
    user = "U0METRIC03"
    assert stack.link(TEAM, user, sf_user="bob@example.com").status == 200
    r = stack.sf("POST", "/_control/revoke_all", {"user": "bob@example.com"})
    assert r.status == 200 and r.json()["revoked_grants"] >= 1
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    m0 = scrape(stack)
    msg, _ = search(stack, user)
    assert "revoked or expired" in msg["text"], msg
    m1 = scrape(stack)
    assert v(m1, "forcelink_refreshes_total", outcome="invalid_grant") == \
        v(m0, "forcelink_refreshes_total", outcome="invalid_grant") + 1
    assert v(m1, "forcelink_refreshes_total", outcome="ok") == \
        v(m0, "forcelink_refreshes_total", outcome="ok")
    assert v(m1, "forcelink_links") == v(m0, "forcelink_links") - 1


def test_deferred_answer_posted(stack):
    """Salesforce answers the query after 3 s: Slack gets the ack within
    2.5 s, the answer is posted to response_url."""
    user = "U0METRIC04"
    assert stack.link(TEAM, user).status == 200
    m0 = scrape(stack)
    stack.faults(delay=3)
    msg, url = search(stack, user)
    assert msg["text"].startswith("Searching"), msg
    posts = stack.wait_hook(url, timeout=20)
    assert len(posts) == 1 and posts[0]["status"] == 200, posts
    stack.faults(delay=None)
    d = "forcelink_deferred_answers_total"
    assert wait_for(lambda: v(scrape(stack), d, outcome="posted") ==
                    v(m0, d, outcome="posted") + 1, 5)
    m1 = scrape(stack)
    assert v(m1, d, outcome="failed") == v(m0, d, outcome="failed")
    a = "forcelink_slack_ack_seconds"
    assert hist(m1, a) == hist(m0, a) + 1
    q = "forcelink_salesforce_request_seconds"
    assert hist(m1, q, call="query") == hist(m0, q, call="query") + 1
    # The slow query is in the 5 s bucket, not the 2.5 s one.
    assert hist(m1, q, le="2.5", call="query") == \
        hist(m0, q, le="2.5", call="query")
    assert hist(m1, q, le="5", call="query") == \
        hist(m0, q, le="5", call="query") + 1


def test_key_rows_by_key_id(stack):
    """A second key, current: the next link is sealed under it, and the
    gauge shows both ids.  The old key stays in the file (first again
    afterwards), so every row still opens."""
    keyfile = stack.dir / "key"
    old = stack.key
    new = base64.b64encode(os.urandom(32)).decode()
    m0 = scrape(stack)
    assert list(key_rows(m0)) == [key_id(old)]
    keyfile.write_text(new + "\n" + old + "\n")
    try:
        time.sleep(1.1)         # the programs look at the file each second
        assert stack.link(TEAM, "U0METRIC05").status == 200
        with stack.db() as c:
            assert c.execute("SELECT key_id FROM sf_link WHERE user_id = ?",
                             ("U0METRIC05",)).fetchone()[0] == key_id(new)
        rows = key_rows(scrape(stack))
        assert set(rows) == {key_id(old), key_id(new)}
        assert rows[key_id(new)] >= 1
        assert rows[key_id(old)] == key_rows(m0)[key_id(old)]
    finally:
        keyfile.write_text(old + "\n" + new + "\n")
    time.sleep(1.1)
    assert stack.get("/healthz").status == 200


def test_installations_needing_reinstall(stack):
    """Slack refuses an installation's refresh token: the gauge counts
    it.  (Last: once a workspace is installed, the others are not
    served.)"""
    stack.slack_faults(rotate=True, token_ttl=200)
    assert stack.install(WS2).status == 200
    m0 = scrape(stack)
    assert v(m0, "forcelink_installations_needing_reinstall") == 0
    assert stack.slack("POST", "/_control/uninstall",
                       {"team": WS2}).json() == {"uninstalled": True}
    with stack.db() as c:
        c.execute("UPDATE slack_install SET token_expires_at = ? "
                  "WHERE team_id = ?", (int(time.time()) + 60, WS2))
    assert stack.slash("help", team=WS2).status == 200
    assert wait_for(lambda: v(scrape(stack),
                              "forcelink_installations_needing_reinstall")
                    == 1)
    with sqlite3.connect(str(stack.db_path)) as c:
        assert c.execute("SELECT count(*) FROM slack_install WHERE "
                         "needs_reinstall = 1").fetchone()[0] == 1
