"""SPEC §5 (linking, the OAuth 2.0 web server flow) and §6 (the token
store), end to end through nginx.

The login link in the Slack answer, /oauth/start (nonce checks, the
authorize redirect with PKCE, the state cookie), /oauth/callback (state and
cookie checks, the token exchange, verification of the token reply, the
success and error pages), relinking, and what ends up on disk: the `links`
view, file mode, schema version, WAL, ciphertext only, no secret in the
database or the logs, links surviving a restart, and a wrong key or an
altered ciphertext answered clearly without losing anything.
"""

import base64
import calendar
import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import time
import urllib.parse
import urllib.request

import pytest

from harness import CLIENT_ID, Stack

TEAM = "T0E2E0001"
ORG = "00D5g000004ZyAbEAK"
SF_USERS = {
    "alice@example.com": "0055g00000Xa001AAB",
    "bob@example.com": "0055g00000Xa002AAB",
    "mallory@example.com": "0055g00000Xa003AAB",
}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
LOGIN_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/oauth/start\?state="
                        r"([A-Za-z0-9_-]+))")
COOKIE_NAME = "forcelink_oauth"


# -- helpers ------------------------------------------------------------------
def qs(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query,
                                       keep_blank_values=True))


def sha256(s):
    return hashlib.sha256(s.encode()).digest()


def counters(stack):
    st = stack.sf_state()
    return {
        "code_requests": st["token_requests"]["authorization_code"],
        "code_exchanges": st["code_exchanges"],
        "code_exchanges_ok": st["code_exchanges_ok"],
        "revocations": len(st["revocations"]),
        "queries": st["queries"],
        "queries_ok": st["queries_ok"],
        "denials": st["denials"],
    }


def delta(before, after):
    return {k: after[k] - before[k] for k in before}


class Login:
    """One login, up to the authorize redirect: nonce, cookie, state."""

    def __init__(self, stack, user, team=TEAM):
        self.stack, self.team, self.user = stack, team, user
        self.url = stack.login_url(team, user)
        self.nonce = qs(self.url)["state"]
        self.start, self.cookie = stack.start_login(self.url)
        assert self.start.status == 302, (self.start.status,
                                          self.start.text)
        self.authorize = self.start.headers["Location"]
        self.state = qs(self.authorize)["state"]
        self.location = None

    def consent(self, sf_user="alice@example.com", action="Allow"):
        self.location = self.stack.consent(self.authorize, sf_user, action)
        return self.location

    def callback(self, cookie=None):
        return self.stack.callback(self.location,
                                   self.cookie if cookie is None else cookie)


def assert_page(r, status):
    """An HTML page of the login flow with its security headers."""
    assert r.status == status, (r.status, r.text[:1000])
    h = r.headers
    assert h["Content-Type"].split(";")[0].strip().lower() == "text/html", \
        h["Content-Type"]
    assert "no-store" in [v.strip() for v in
                          h["Cache-Control"].lower().split(",")], \
        h["Cache-Control"]
    assert h["Referrer-Policy"].strip().lower() == "no-referrer"
    csp = {}
    for d in h["Content-Security-Policy"].split(";"):
        parts = d.split()
        if parts:
            csp[parts[0].lower()] = parts[1:]
    assert csp.get("default-src") == ["'none'"], csp
    assert csp.get("frame-ancestors") == ["'none'"], csp
    assert "<html" in r.text.lower()


def link_of(stack, user, team=TEAM):
    rows = [l for l in stack.links()
            if l["team_id"] == team and l["user_id"] == user]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def raw_row(stack, user, team=TEAM):
    rows = stack.sql("SELECT * FROM sf_link WHERE team_id = ? AND "
                     "user_id = ?", (team, user), dicts=True)
    return rows[0] if rows else None


def sql(stack, statement, args=()):
    return stack.sql_exec(statement, args)


def count_links(stack):
    return stack.sql("SELECT count(*) FROM sf_link")[0][0]


def db_files(stack):
    """Bytes of the database file and its -wal/-shm companions (on
    PostgreSQL: the database's rows, Stack.store_bytes())."""
    return stack.store_bytes()


def log_files(stack):
    """{name: bytes} of every log in the run directory."""
    return {p.name: p.read_bytes() for p in stack.dir.rglob("*.log")
            if p.is_file()}


def search(stack, user, team=TEAM):
    r = stack.slash("smith", team=team, user=user)
    assert r.status == 200, (r.status, r.text)
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    body = r.json()
    assert body["response_type"] == "ephemeral", body
    return body


def assert_search_works(stack, user):
    before = counters(stack)
    body = search(stack, user)
    assert "Jane Smith" in body["text"], body["text"]
    assert "oauth/start" not in json.dumps(body), body
    assert delta(before, counters(stack))["queries_ok"] == 1


def link_user(stack, user, sf_user="alice@example.com"):
    page = stack.link(TEAM, user, sf_user)
    assert_page(page, 200)
    assert link_of(stack, user)["sf_username"] == sf_user
    return page


def variants(value):
    """A value as it could appear in a file: raw, URL- or form-encoded."""
    return {value.encode(), urllib.parse.quote(value, safe="").encode(),
            urllib.parse.quote_plus(value).encode()}


# -- the login link -----------------------------------------------------------
def test_unlinked_search_gets_one_time_login_link(stack):
    user = "U0LNKUNLINKED"
    before = counters(stack)
    body = search(stack, user)
    m = LOGIN_LINK.search(body["text"])
    assert m, body["text"]
    assert m.group(1).startswith(stack.url + "/oauth/start?state=")
    nonce = m.group(2)
    assert len(nonce) >= 22 and B64URL.match(nonce), nonce
    assert delta(before, counters(stack))["queries"] == 0
    # Stored as its hash only, bound to the Slack user, 10 minutes.
    rows = stack.sql("SELECT team_id, user_id, expires_at, started_at, "
                     "created_at FROM login_state WHERE nonce_hash = ?",
                     (sha256(nonce),))
    assert len(rows) == 1, rows
    team_id, user_id, expires_at, started_at, created_at = rows[0]
    assert (team_id, user_id, started_at) == (TEAM, user, None)
    assert 590 <= expires_at - time.time() <= 605, expires_at
    assert 590 <= expires_at - created_at <= 600
    disk = db_files(stack)
    assert nonce.encode() not in disk
    assert nonce.encode() not in stack.log_path.read_bytes()
    # Every link is fresh.
    other = LOGIN_LINK.search(search(stack, user)["text"]).group(2)
    assert other != nonce


# -- /oauth/start -------------------------------------------------------------
def test_start_redirects_to_authorize_with_pkce_and_cookie(stack):
    user = "U0LNKSTART"
    lg = Login(stack, user)
    r = lg.start
    loc = urllib.parse.urlsplit(lg.authorize)
    assert "%s://%s%s" % (loc.scheme, loc.netloc, loc.path) == \
        stack.sf_url + "/services/oauth2/authorize"
    q = qs(lg.authorize)
    assert q["response_type"] == "code"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == stack.url + "/oauth/callback"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43 and B64URL.match(
        q["code_challenge"]), q["code_challenge"]
    state = q["state"]
    assert len(state) >= 22 and B64URL.match(state) and state != lg.nonce
    assert "no-store" in r.headers["Cache-Control"].lower()
    # The cookie: HttpOnly, SameSite=Lax, short-lived, not Secure on http.
    cookies = r.headers.get_all("Set-Cookie")
    assert len(cookies) == 1, cookies
    attrs = [a.strip() for a in cookies[0].split(";")]
    name, _, value = attrs[0].partition("=")
    assert name == COOKIE_NAME and len(value) >= 22 and B64URL.match(value)
    lower = [a.lower() for a in attrs[1:]]
    assert "httponly" in lower, attrs
    assert "samesite=lax" in lower, attrs
    assert "secure" not in lower, attrs
    max_age = [int(a.split("=", 1)[1]) for a in lower
               if a.startswith("max-age=")]
    assert len(max_age) == 1 and 0 < max_age[0] <= 600, attrs
    # The row now holds hashes of state and cookie, never the values.
    (row,) = stack.sql("SELECT started_at, state_hash, cookie_hash, "
                       "verifier_ct FROM login_state WHERE nonce_hash = ?",
                       (sha256(lg.nonce),))
    assert row[0] is not None
    assert row[1] == sha256(state) and row[2] == sha256(value)
    disk = db_files(stack)
    for secret in (state, value, lg.nonce):
        assert secret.encode() not in disk
    # The challenge is a real one: the stand-in's consent page accepts it.
    lg.consent()
    assert "code" in qs(lg.location) and qs(lg.location)["state"] == state


def test_start_cookie_secure_when_public_url_is_https(stack):
    user = "U0LNKHTTPS"
    public = "https://forcelink.example.com/base"
    env = dict(stack.env())
    env["FORCELINK_PUBLIC_URL"] = public
    stack.restart_programs(env)
    try:
        text = stack.slash("login", user=user).json()["text"]
        m = re.search(re.escape(public) +
                      r"/oauth/start\?state=([A-Za-z0-9_-]+)", text)
        assert m, text
        r, _ = stack.start_login(stack.url + "/oauth/start?state=" +
                                 m.group(1))
        assert r.status == 302, r.text
        assert qs(r.headers["Location"])["redirect_uri"] == \
            public + "/oauth/callback"
        attrs = [a.strip().lower()
                 for a in r.headers["Set-Cookie"].split(";")]
        assert "secure" in attrs and "httponly" in attrs, attrs
        assert "samesite=lax" in attrs, attrs
        # The cookie must come back to the callback under the public path.
        paths = [a[5:] for a in attrs if a.startswith("path=")]
        assert all("/base/oauth/callback".startswith(p) for p in paths), \
            attrs
    finally:
        stack.restart_programs()


def test_start_refuses_used_unknown_expired_and_missing_nonce(stack):
    user = "U0LNKSTARTBAD"
    # Used.
    url = stack.login_url(TEAM, user)
    first, _ = stack.start_login(url)
    assert first.status == 302
    again, cookie = stack.start_login(url)
    assert_page(again, 400)
    assert cookie is None and "Location" not in again.headers
    # Unknown (well-formed but never issued).
    r = stack.get("/oauth/start?state=" + secrets.token_urlsafe(32))
    assert_page(r, 400)
    assert r.headers.get("Set-Cookie") is None
    # Expired.
    url = stack.login_url(TEAM, user)
    nonce = qs(url)["state"]
    n = sql(stack, "UPDATE login_state SET expires_at = ? WHERE "
            "nonce_hash = ?", (int(time.time()) - 1, sha256(nonce)))
    assert n == 1
    r, cookie = stack.start_login(url)
    assert_page(r, 400)
    assert cookie is None and "Location" not in r.headers
    # Missing, empty, malformed.
    for path in ("/oauth/start", "/oauth/start?state=",
                 "/oauth/start?foo=bar", "/oauth/start?state=%3Cscript%3E"):
        r = stack.get(path)
        assert_page(r, 400)
        assert "<script>" not in r.text
    started = stack.sql("SELECT started_at FROM login_state WHERE "
                        "nonce_hash = ?", (sha256(nonce),))
    # The expired nonce was not started (it may have been purged).
    assert started in ([], [(None,)]), started


# -- /oauth/callback ----------------------------------------------------------
def test_callback_success_page_and_links_row(stack):
    user = "U0LNKSUCCESS"
    before = counters(stack)
    t0 = int(time.time())
    lg = Login(stack, user)
    lg.consent("alice@example.com")
    page = lg.callback()
    assert_page(page, 200)
    assert "alice@example.com" in page.text
    assert TEAM in page.text and user in page.text
    d = delta(before, counters(stack))
    assert d["code_exchanges"] == 1 and d["code_exchanges_ok"] == 1
    row = link_of(stack, user)
    assert row is not None
    assert row["team_id"] == TEAM and row["user_id"] == user
    assert row["sf_user_id"] == SF_USERS["alice@example.com"]
    assert row["sf_org_id"] == ORG
    assert row["sf_username"] == "alice@example.com"
    assert row["instance_url"] == stack.sf_url
    for k in ("created_at", "updated_at"):
        assert ISO_UTC.match(row[k]), row
        t = calendar.timegm(time.strptime(row[k], "%Y-%m-%dT%H:%M:%SZ"))
        assert t0 - 2 <= t <= time.time() + 2, (k, row[k])
    # The state is spent; the verifier is gone from the row.
    ((used, vct),) = stack.sql("SELECT used_at, verifier_ct FROM "
                               "login_state WHERE state_hash = ?",
                               (sha256(lg.state),))
    assert used is not None and vct is None
    assert_search_works(stack, user)


def test_callback_without_cookie_refused_and_spends_state(stack):
    """Salesforce's answer in a browser without the login's cookie is
    refused, and the state is spent: handed back to the browser that has
    the cookie, it cannot finish there either (test_link_proof.py has the
    whole hand-back)."""
    user = "U0LNKNOCOOKIE"
    lg = Login(stack, user)
    lg.consent()
    before = counters(stack)
    r = lg.callback(cookie="")
    assert_page(r, 400)
    assert delta(before, counters(stack))["code_requests"] == 0
    assert link_of(stack, user) is None
    assert_page(lg.callback(), 400)
    assert delta(before, counters(stack))["code_requests"] == 0
    assert link_of(stack, user) is None


def test_callback_wrong_cookie_refused(stack):
    """A random cookie, another login's real cookie, or the right value
    under another name: each refused, nothing exchanged, and the state is
    spent for the right browser too."""
    other = Login(stack, "U0LNKBADCOOKIE2")     # a real cookie, other login
    for n, cookie in enumerate((
            COOKIE_NAME + "=" + secrets.token_urlsafe(32), other.cookie,
            "unrelated=")):
        user = "U0LNKBADCOOKIE%d" % (n + 3)
        lg = Login(stack, user)
        lg.consent()
        if cookie == "unrelated=":
            cookie += lg.cookie.split("=", 1)[1]
        before = counters(stack)
        assert_page(lg.callback(cookie=cookie), 400)
        assert_page(lg.callback(), 400)
        assert delta(before, counters(stack))["code_requests"] == 0
        assert link_of(stack, user) is None
    assert link_of(stack, "U0LNKBADCOOKIE2") is None


def test_callback_reused_state_no_second_exchange(stack):
    user = "U0LNKREUSED"
    lg = Login(stack, user)
    lg.consent()
    assert_page(lg.callback(), 200)
    row = raw_row(stack, user)
    before = counters(stack)
    r = lg.callback()
    assert_page(r, 400)
    d = delta(before, counters(stack))
    assert d["code_requests"] == 0 and d["code_exchanges"] == 0
    assert raw_row(stack, user) == row


def test_callback_unknown_state(stack):
    user = "U0LNKUNKNOWN"
    lg = Login(stack, user)
    lg.consent()
    forged = lg.location.replace("state=" + lg.state,
                                 "state=" + secrets.token_urlsafe(32))
    assert forged != lg.location
    before = counters(stack)
    r = stack.callback(forged, lg.cookie)
    assert_page(r, 400)
    # Without any state at all.
    r = stack.get("/oauth/callback?code=" + qs(lg.location)["code"],
                  headers={"Cookie": lg.cookie})
    assert_page(r, 400)
    assert delta(before, counters(stack))["code_requests"] == 0
    assert link_of(stack, user) is None


def test_callback_expired_state(stack):
    user = "U0LNKEXPIRED"
    lg = Login(stack, user)
    lg.consent()
    n = sql(stack, "UPDATE login_state SET expires_at = ? WHERE "
            "state_hash = ?", (int(time.time()) - 1, sha256(lg.state)))
    assert n == 1
    before = counters(stack)
    r = lg.callback()
    assert_page(r, 400)
    assert delta(before, counters(stack))["code_requests"] == 0
    assert link_of(stack, user) is None


def test_denied_consent_friendly_page_nothing_stored(stack):
    user = "U0LNKDENIED"
    lg = Login(stack, user)
    before = counters(stack)
    links = count_links(stack)
    loc = lg.consent(action="Deny")
    assert qs(loc)["error"] == "access_denied"
    r = lg.callback()
    assert_page(r, r.status)
    assert 400 <= r.status < 500, r.status
    assert "access_denied" not in r.text      # friendly, not the raw code
    d = delta(before, counters(stack))
    assert d["denials"] == 1 and d["code_requests"] == 0
    assert link_of(stack, user) is None and count_links(stack) == links


@pytest.mark.parametrize("n,fault", [
    (1, {"bad_signature": True}),
    (2, {"instance_url": "https://evil.example.com"}),
    (3, {"instance_url": "http://login.salesforce.com"}),
    (4, {"instance_url": "https://evil.example.com/.salesforce.com"}),
    (5, {"instance_url": "https://salesforce.com.evil.example.com"}),
], ids=["bad_signature", "evil_host", "http_scheme", "host_in_path",
        "suffix_trick"])
def test_untrusted_token_reply_nothing_stored(stack, n, fault):
    user = "U0LNKFORGED%d" % n
    stack.faults(**fault)
    lg = Login(stack, user)
    lg.consent("bob@example.com")
    links = count_links(stack)
    before = counters(stack)
    r = lg.callback()
    assert_page(r, r.status)
    assert r.status >= 400, r.status
    assert "Linked" not in r.text.split("</h1>")[0]
    d = delta(before, counters(stack))
    assert d["code_exchanges_ok"] == 1   # the reply came, and was refused
    assert link_of(stack, user) is None and count_links(stack) == links
    assert raw_row(stack, user) is None
    # The user is still unlinked: a search answers with a login link.
    stack.faults(**{k: None for k in fault})
    assert LOGIN_LINK.search(search(stack, user)["text"])


def test_parallel_callbacks_one_exchange(stack):
    user = "U0LNKPARALLEL"
    lg = Login(stack, user)
    lg.consent()
    stack.faults(token_delay=0.5)
    before = counters(stack)
    go = threading.Barrier(2)
    out = [None, None]

    def run(i):
        go.wait()
        out[i] = lg.callback()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status for r in out)
    assert statuses == [200, 400], [(r.status, r.text[:300]) for r in out]
    for r in out:
        assert_page(r, r.status)
    d = delta(before, counters(stack))
    assert d["code_requests"] == 1 and d["code_exchanges_ok"] == 1
    assert link_of(stack, user)["sf_username"] == "alice@example.com"


def test_success_page_escapes_html(stack):
    user = "U0LNKMALLORY"
    page = link_user(stack, user, "mallory@example.com")
    assert "mallory@example.com" in page.text
    assert "<script" not in page.text.lower()
    assert "alert(1)" not in page.text or "&lt;script" in page.text
    assert link_of(stack, user)["sf_user_id"] == \
        SF_USERS["mallory@example.com"]


def test_relink_replaces_link_and_revokes_old_refresh_token(stack):
    user = "U0LNKRELINK"
    link_user(stack, user, "alice@example.com")
    first = raw_row(stack, user)
    alice_grants = stack.sf_state()["live_grants"].get("alice@example.com")
    before = counters(stack)
    st0 = stack.sf_state()["revocations"]
    time.sleep(1.1)       # so updated_at can move
    page = link_user(stack, user, "bob@example.com")
    assert "bob@example.com" in page.text
    d = delta(before, counters(stack))
    assert d["revocations"] == 1, d
    new_rev = stack.sf_state()["revocations"][len(st0):]
    assert new_rev == [{"kind": "refresh_token", "ok": True}], new_rev
    assert stack.sf_state()["live_grants"].get("alice@example.com") == \
        alice_grants - 1
    rows = [l for l in stack.links() if l["user_id"] == user]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["sf_username"] == "bob@example.com"
    assert row["sf_user_id"] == SF_USERS["bob@example.com"]
    now = raw_row(stack, user)
    assert now["access_token_ct"] != first["access_token_ct"]
    assert now["refresh_token_ct"] != first["refresh_token_ct"]
    assert now["updated_at"] > first["updated_at"]
    assert_search_works(stack, user)


# -- the store ----------------------------------------------------------------
def test_store_file_mode_schema_wal_and_ciphertext(stack):
    link_user(stack, "U0LNKSTORE", "bob@example.com")
    mode = stat.S_IMODE(os.stat(stack.db_path).st_mode)
    assert mode == 0o600, oct(mode)
    wal = stack.db_path.with_name(stack.db_path.name + "-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0
    with contextlib.closing(stack.db()) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = c.execute("SELECT access_token_ct, refresh_token_ct, key_id "
                         "FROM sf_link").fetchall()
        vrows = c.execute("SELECT verifier_ct FROM login_state WHERE "
                          "verifier_ct IS NOT NULL").fetchall()
    assert rows
    printable = re.compile(rb"^[\x20-\x7e]*$")
    for ct in [x for r in rows for x in r[:2]] + [r[0] for r in vrows]:
        assert isinstance(ct, bytes), type(ct)
        assert len(ct) >= 24 + 16 + 20, len(ct)     # nonce, tag, payload
        assert b"00D" not in ct and b"5Aep861" not in ct
        assert not printable.match(ct)
    assert len({r[0] for r in rows}) == len(rows)   # fresh nonce each


def own_token_reply(stack):
    """Runs the code flow as the app itself (client secret, own PKCE) and
    returns the stand-in's raw token reply: real tokens known to the
    test, for the token_body fault."""
    lg = Login(stack, "U0LNKOWNFLOW")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = qs(lg.authorize)
    q.update(code_challenge=challenge, state=secrets.token_urlsafe(16))
    url = stack.sf_url + "/services/oauth2/authorize?" + \
        urllib.parse.urlencode(q)
    code = qs(stack.consent(url, "bob@example.com"))["code"]
    body = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code,
        "client_id": CLIENT_ID, "client_secret": stack.client_secret,
        "redirect_uri": stack.url + "/oauth/callback",
        "code_verifier": verifier}).encode()
    req = urllib.request.Request(
        stack.sf_url + "/services/oauth2/token", data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with stack.sf_opener.open(req, timeout=15) as r:
        raw = r.read().decode()
    tok = json.loads(raw)
    assert tok["access_token"] and tok["refresh_token"], tok
    return raw, tok, code, verifier


def test_no_token_code_or_secret_on_disk_or_in_logs(stack):
    user = "U0LNKSECRETS"
    raw, tok, own_code, own_verifier = own_token_reply(stack)
    stack.faults(token_body=raw)
    lg = Login(stack, user)
    lg.consent("bob@example.com")
    page = lg.callback()
    assert_page(page, 200)
    stack.faults(token_body=None)
    # forcelink stored exactly these tokens: its searches use them.
    assert link_of(stack, user)["sf_username"] == "bob@example.com"
    assert_search_works(stack, user)
    code = qs(lg.location)["code"]
    secret_values = {
        "access_token": tok["access_token"],
        "refresh_token": tok["refresh_token"],
        "callback code": code,
        "own code": own_code,
        "own verifier": own_verifier,
        "client secret": stack.client_secret,
        "signing secret": stack.signing_secret,
        "key": stack.key,
        "cookie": lg.cookie.split("=", 1)[1],
    }
    key_raw = base64.b64decode(stack.key)
    db = db_files(stack)
    assert key_raw not in db
    logs = log_files(stack)
    assert "forcelink.log" in logs and "nginx-access.log" in logs
    for name, value in secret_values.items():
        for v in variants(value):
            assert v not in db, name + " in the database"
            for log, data in logs.items():
                assert v not in data, "%s in %s" % (name, log)
    # No log carries the login's one-time values either.
    for value in (lg.nonce, lg.state):
        for v in variants(value):
            for data in logs.values():
                assert v not in data
            assert v not in db


def test_nginx_access_log_has_no_code(stack):
    user = "U0LNKNGINXLOG"
    lg = Login(stack, user)
    lg.consent()
    assert_page(lg.callback(), 200)
    code = qs(lg.location)["code"]
    time.sleep(0.2)         # nginx writes the line after the response
    data = (stack.dir / "nginx-access.log").read_bytes()
    assert b"/oauth/callback" in data
    for v in variants(code) | {code.rstrip("=").encode()}:
        assert v not in data


def test_restart_keeps_links(stack):
    user = "U0LNKRESTART"
    link_user(stack, user, "alice@example.com")
    row = raw_row(stack, user)
    stack.restart_programs()
    assert raw_row(stack, user)["access_token_ct"] == row["access_token_ct"]
    assert_search_works(stack, user)


def test_wrong_key_clear_message_nothing_changed(stack):
    user = "U0LNKWRONGKEY"
    link_user(stack, user, "alice@example.com")
    row = raw_row(stack, user)
    view = link_of(stack, user)
    wrong = stack.dir / "wrong-key"
    wrong.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(wrong, 0o600)
    env = dict(stack.env())
    env["FORCELINK_KEY_FILE"] = str(wrong)
    env.pop("FORCELINK_KEY", None)
    stack.restart_programs(env)
    try:
        before = counters(stack)
        for _ in range(2):
            body = search(stack, user)
            assert "oauth/start" not in json.dumps(body), body
            assert "key" in body["text"].lower(), body["text"]
        d = delta(before, counters(stack))
        assert d["queries"] == 0 and d["revocations"] == 0, d
        assert raw_row(stack, user) == row
        assert link_of(stack, user) == view
        # whoami and logout do not touch the link either.
        for text in ("whoami", "logout"):
            r = stack.slash(text, user=user)
            assert r.status == 200
            assert "oauth/start" not in r.text, r.text
        assert raw_row(stack, user) == row
    finally:
        stack.restart_programs()
    assert_search_works(stack, user)


def test_tampered_ciphertext_clear_message_nothing_deleted(stack):
    user, other = "U0LNKTAMPER", "U0LNKTAMPER2"
    link_user(stack, user, "bob@example.com")
    link_user(stack, other, "alice@example.com")
    row = raw_row(stack, user)
    ct = bytearray(row["access_token_ct"])
    ct[len(ct) // 2] ^= 0x01
    n = sql(stack, "UPDATE sf_link SET access_token_ct = ? WHERE "
            "team_id = ? AND user_id = ?", (bytes(ct), TEAM, user))
    assert n == 1
    tampered = raw_row(stack, user)
    before = counters(stack)
    body = search(stack, user)
    assert "oauth/start" not in json.dumps(body), body
    assert "Jane Smith" not in body["text"]
    assert body["text"].strip()
    d = delta(before, counters(stack))
    assert d["queries"] == 0 and d["revocations"] == 0, d
    assert raw_row(stack, user) == tampered
    assert link_of(stack, user)["sf_username"] == "bob@example.com"
    # A ciphertext copied from another row does not open either.
    sql(stack, "UPDATE sf_link SET access_token_ct = (SELECT "
        "access_token_ct FROM sf_link WHERE user_id = ? AND team_id = ?) "
        "WHERE team_id = ? AND user_id = ?", (other, TEAM, TEAM, user))
    swapped = raw_row(stack, user)
    assert swapped["access_token_ct"] == raw_row(stack, other)[
        "access_token_ct"]
    body = search(stack, user)
    assert "Jane Smith" not in body["text"]
    assert "oauth/start" not in json.dumps(body), body
    assert raw_row(stack, user) == swapped


# -- Sign in with Slack, then Salesforce (FORCELINK_LINK_PROOF=slack) ---------
@pytest.fixture(scope="module")
def signin_stack(tmp_path_factory):
    """A stack whose logins start with Sign in with Slack."""
    s = Stack(tmp_path_factory.mktemp("signin"), slack=True,
              env_overrides={"FORCELINK_LINK_PROOF": "slack"}).start()
    yield s
    s.stop()


def cookie_attrs(header):
    """(name, value, {attribute: value}) of one Set-Cookie line."""
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return name, value, attrs


def test_signin_leg_sets_the_cookie_again_for_the_salesforce_leg(
        signin_stack):
    """The callback of Sign in with Slack sends the browser on to
    Salesforce with the forcelink_oauth cookie set again: the same value,
    the full Max-Age, and the row's expiry for the Salesforce leg is that
    same lifetime from then.  A person who spent most of the first
    cookie's lifetime at Slack still comes back from Salesforce with
    it."""
    stack, user = signin_stack, "U0LNKREISSUE"
    url = stack.login_url(TEAM, user)
    page, fields, csrf = stack.start_page(url)
    assert page.status == 200, page.text
    first, cookie = stack.start_post(fields, csrf)
    assert stack.is_signin(first), (first.status, first.headers)
    _, _, start_attrs = cookie_attrs(first.headers["Set-Cookie"])
    t0 = int(time.time())
    r = stack.signin_leg(first.headers["Location"], cookie, TEAM, user)
    t1 = int(time.time())
    assert r.status == 302, r.text
    assert r.headers["Location"].startswith(
        stack.sf_url + "/services/oauth2/authorize"), r.headers["Location"]
    cookies = r.headers.get_all("Set-Cookie") or []
    assert len(cookies) == 1, cookies
    name, value, attrs = cookie_attrs(cookies[0])
    assert "%s=%s" % (name, value) == cookie
    assert attrs.get("max-age") == "600", attrs
    assert attrs == start_attrs, (attrs, start_attrs)
    assert "httponly" in attrs and attrs.get("samesite") == "Lax", attrs
    assert attrs.get("path") == "/oauth/", attrs
    assert "no-store" in r.headers["Cache-Control"]
    # The row's Salesforce leg lives as long as the cookie, from now.
    with contextlib.closing(stack.db()) as c:
        leg, expires = c.execute(
            "SELECT leg, expires_at FROM login_state WHERE nonce_hash = ?",
            (sha256(qs(url)["state"]),)).fetchone()
    assert leg == "salesforce"
    assert t0 + 600 <= expires <= t1 + 600, (t0, expires, t1)
    # The login finishes with it.
    done = stack.callback(stack.consent(r.headers["Location"]), cookie)
    assert_page(done, 200)
    assert link_of(stack, user)["sf_username"] == "alice@example.com"


def test_signin_refused_sets_no_cookie(signin_stack):
    """Signed in as another Slack user: no redirect, and no cookie is set
    again for a login that is void."""
    stack, user = signin_stack, "U0LNKREISSUE2"
    url = stack.login_url(TEAM, user)
    page, fields, csrf = stack.start_page(url)
    first, cookie = stack.start_post(fields, csrf)
    assert stack.is_signin(first)
    r = stack.signin_leg(first.headers["Location"], cookie, TEAM,
                         "U0LNKSOMEONE")
    assert_page(r, 403)
    assert r.headers.get("Set-Cookie") is None
    assert "Location" not in r.headers
