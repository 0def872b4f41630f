"""Installing the Slack app, end to end (issue 6, points 1 and 2).

One stack with the Slack stand-in (tests/standin/slack.py) beside the
Salesforce one: a browser's walk through /slack/install, Slack's authorize
page and /slack/oauth_redirect, through the real nginx and programs; the
installation as the `installations` view shows it; the authorization of
every /contact request once installations exist; and a rotating bot token
refreshed exactly once under concurrent commands.  The tests run in file
order: the first ones need a database without installations.  The
stack's stop searches every byte on disk, every log and every argv for
each secret either stand-in issued.
"""

import base64
import calendar
import concurrent.futures
import hashlib
import hmac
import html
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import webdriver
from harness import BUILD, SLACK_CLIENT_ID, Stack

WS1 = "T0E2E0001"           # the harness's default team
WS2 = "T0E2E0002"
GRID = "E0GRID0001"
GRID_TEAMS = ("T0GRID0001", "T0GRID0002")
NOT_INSTALLED = ("This workspace has not installed forcelink. Ask an admin "
                 "to install it: %s/slack/install")
COOKIE = "forcelink_slack_install"
# The cookie's value (common/install.h): the state, its expiry, the id of
# the key and the hex HMAC-SHA256 of the three under a subkey of it.
COOKIE_RE = re.compile(r"([A-Za-z0-9_-]{43})\.(\d{10})\.([0-9a-f]{16})"
                       r"\.([0-9a-f]{64})")
# INSTALL_STATE_CAP in common/install.h: the most used states kept.
STATE_CAP = 1000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _slack_faults(stack):
    """Slack stand-in faults from one test never leak into the next."""
    stack.reset_slack_faults()
    yield


# -- helpers ---------------------------------------------------------------

def assert_page(r, status, title):
    """An HTML page of forcelink's, with its security headers."""
    assert r.status == status, (r.status, r.text[:1500])
    h = r.headers
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Cache-Control"] == "no-store"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Frame-Options"] == "DENY"
    csp = h["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-"), csp
    assert csp.endswith("form-action 'none'; frame-ancestors 'none'"), csp
    assert "<h1>%s</h1>" % html.escape(title).replace("&#x27;", "&#39;") \
        in r.text, r.text[:1500]
    assert "<script" not in r.text


def text_of(r):
    assert r.status == 200, r.text
    assert r.headers["Content-Type"] == "application/json", r.headers
    msg = r.json()
    assert msg["response_type"] == "ephemeral"
    return msg["text"]


def rows(stack, sql, *args):
    return stack.sql(sql, args)


def slack_counts(stack):
    st = stack.slack_state()
    return (st["oauth_access"]["authorization_code"],
            st["oauth_access"]["refresh_token"], st["auth_tests"])


def sf_counts(stack):
    st = stack.sf_state()
    return (st["queries"], st["userinfo"], st["token_requests"],
            st["authorize_requests"], len(st["hooks"]))


def ledger(stack):
    return set(stack.slack("GET", "/_control/secrets").json())


def installation(stack, team, ent=""):
    found = [i for i in stack.installations()
             if i["team_id"] == team and i["enterprise_id"] == ent]
    assert len(found) <= 1, found
    return found[0] if found else None


def env_without_slack(stack, **extra):
    env = dict(stack.env())
    for k in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET_FILE",
              "SLACK_AUTHORIZE_URL", "SLACK_API_URL"):
        env.pop(k)
    env.update(extra)
    return env


def slack_refresh(stack, token):
    """Presents a refresh token to the Slack stand-in ourselves."""
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": token,
        "client_id": SLACK_CLIENT_ID,
        "client_secret": stack.slack_client_secret}).encode()
    req = urllib.request.Request(
        stack.slack_url + "/api/oauth.v2.access", data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with stack.sf_opener.open(req, timeout=15) as r:
        return r.status, json.loads(r.read())


def assert_help(r):
    assert text_of(r).startswith("*forcelink* searches Salesforce"), r.text


def state_rows(stack):
    return rows(stack, "SELECT * FROM slack_install_state "
                "ORDER BY state_hash")


def db_content(stack):
    """The database's bytes on disk, by file: the database and its WAL.
    (The -shm file is shared memory in which readers, too, mark what
    they read, and -metrics the request counters (metrics.h): neither
    holds content.)  On PostgreSQL: every row, as pg_dump writes them
    (less its \\restrict lines, whose key is new at every dump)."""
    if stack.pg is not None:
        dump = re.sub(rb"(?m)^\\(un)?restrict .*\n", b"", stack.store_bytes())
        return {stack.database: hashlib.sha256(dump).hexdigest()}
    out = {}
    for p in sorted(stack.db_path.parent.iterdir()):
        if p.name.startswith(stack.db_path.name) and \
                not p.name.endswith(("-shm", "-metrics")):
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    assert stack.db_path.name in out, out
    return out


def cookie_parts(cookie):
    """(state, expires, key id, mac) of a cookie header value."""
    name, value = cookie.split("=", 1)
    assert name == COOKIE
    m = COOKIE_RE.fullmatch(value)
    assert m, value
    return m.group(1), int(m.group(2)), m.group(3), m.group(4)


def mint_cookie(stack, state, expires, key_id, key=None):
    """A cookie made as forcelink makes it (common/install.h), under the
    stack's key or another one: HMAC-SHA256 of "STATE.EXPIRES.KEYID"
    under the subkey HMAC-SHA256(key, "forcelink-mac
    slack-install-state")."""
    raw = base64.b64decode(key or stack.key)
    sub = hmac.new(raw, b"forcelink-mac slack-install-state",
                   hashlib.sha256).digest()
    msg = "%s.%d.%s" % (state, expires, key_id)
    return "%s=%s.%s" % (COOKIE, msg, hmac.new(sub, msg.encode(),
                                               hashlib.sha256).hexdigest())


def state_of(url_or_location):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url_or_location).query)
    return q["state"][0]


# -- before any installation ----------------------------------------------

def test_single_workspace_mode_without_slack_oauth(stack):
    """No Slack app credentials and no installation: everything works as
    before installations existed, for any workspace, and the install
    pages say installing is not set up."""
    stack.restart_programs(env_without_slack(stack))
    try:
        for path in ("/slack/install", "/slack/oauth_redirect?code=x&state=y"):
            r = stack.get(path)
            assert_page(r, 404, "Installing is not set up")
            assert "Set-Cookie" not in r.headers
        assert_help(stack.slash("help", team=WS2))
        # A whole login and a search, from a workspace nobody installed.
        r = stack.link(team="T0NOINSTALL", user="U0SINGLE")
        assert r.status == 200, r.text
        msg = stack.slash("smith", team="T0NOINSTALL", user="U0SINGLE").json()
        assert "Jane Smith" in msg["text"], msg
        assert stack.installations() == []
    finally:
        stack.restart_programs()


@pytest.mark.parametrize("drop,named", [
    ("SLACK_CLIENT_SECRET_FILE", "SLACK_CLIENT_SECRET"),
    ("SLACK_CLIENT_ID", "SLACK_CLIENT_ID")])
def test_one_credential_without_the_other_stops_at_start(stack, drop, named):
    """Each program refuses to start, with one line naming what is
    missing, before it serves anything."""
    env = dict(stack.env())
    env.pop(drop)
    sock = stack.dir / "never.sock"
    for prog in ("contact", "slack_oauth"):
        p = subprocess.run([str(BUILD / "cgi" / prog), "-s", str(sock)],
                           env=env, capture_output=True, timeout=20)
        lines = p.stderr.decode().splitlines()
        assert p.returncode == 1, lines
        assert len(lines) == 1 and lines[0].startswith(prog + ": "), lines
        assert named + " is" in lines[0] or "but " + named in lines[0], lines
        assert not sock.exists()


def test_configured_but_nothing_installed_serves_everyone(stack):
    assert stack.installations() == []
    assert_help(stack.slash("help", team=WS2))
    assert_help(stack.slash("help", team="T0GRID0001", enterprise_id=GRID))
    # A link made now, in a workspace that will not install forcelink.
    assert stack.link(team=WS2, user="U0LINKED").status == 200
    assert "Jane Smith" in text_of(stack.slash("smith", team=WS2,
                                               user="U0LINKED"))


def test_require_install_refuses_before_any_installation(stack):
    stack.restart_programs(dict(stack.env(), FORCELINK_REQUIRE_INSTALL="1"))
    try:
        states = rows(stack, "SELECT count(*) FROM login_state")
        sf = sf_counts(stack)
        assert text_of(stack.slash("login", team=WS1)) == \
            NOT_INSTALLED % stack.url
        assert rows(stack, "SELECT count(*) FROM login_state") == states
        assert sf_counts(stack) == sf
    finally:
        stack.restart_programs()


# -- the install flow -----------------------------------------------------

def test_install_page(stack):
    r, cookie, url = stack.install_page()
    assert_page(r, 200, "Add forcelink to Slack")
    sc = r.headers["Set-Cookie"]
    state, expires, key_id, _ = cookie_parts(cookie)
    assert sc == ("%s; Path=/slack/; Max-Age=600; HttpOnly; SameSite=Lax"
                  % cookie)
    assert abs(expires - (time.time() + 600)) < 30
    u = urllib.parse.urlsplit(url)
    assert "%s://%s%s" % (u.scheme, u.netloc, u.path) == \
        stack.slack_url + "/oauth/v2/authorize"
    q = urllib.parse.parse_qs(u.query)
    assert q["client_id"] == ["1234567890.0987654321"]
    assert q["scope"] == ["commands"]
    assert q["redirect_uri"] == [stack.url + "/slack/oauth_redirect"]
    # The cookie carries the state of the page's link, under the key of
    # the stack (its id, and a MAC the test can make itself).
    assert q["state"] == [state]
    assert cookie == mint_cookie(stack, state, expires, key_id)
    # A fresh state and cookie for every page.
    _, cookie2, url2 = stack.install_page()
    assert cookie2 != cookie and url2 != url
    assert cookie_parts(cookie2)[0] != state
    # Only GET (and HEAD).
    assert stack.request("POST", "/slack/install", b"x").status == 403


def test_install_page_writes_nothing(stack):
    """A crawler, a link preview or a loop on the install page stores
    nothing: GETs and HEADs leave the state table, and every byte of the
    database and its WAL, as they were."""
    before_rows = state_rows(stack)
    before = db_content(stack)
    cookies = set()
    for _ in range(25):
        r, cookie, url = stack.install_page()
        assert r.status == 200 and url, r.text
        cookies.add(cookie)
        h = stack.request("HEAD", "/slack/install")
        assert h.status == 200 and h.body == b"", h.body[:200]
        assert h.headers["Set-Cookie"].startswith(COOKIE + "=")
    assert len(cookies) == 25
    assert state_rows(stack) == before_rows
    assert db_content(stack) == before


def test_install_a_workspace(stack):
    before = ledger(stack)
    r = stack.install(WS1)
    assert_page(r, 200, "Installed")
    assert ("installed in the Slack workspace <strong>E2E Workspace"
            "</strong>") in r.text
    assert "<dd>T0E2E0001</dd>" in r.text
    assert "<code>/contact login</code>" in r.text
    row = installation(stack, WS1)
    assert {k: row[k] for k in (
        "enterprise_id", "team_id", "org_wide", "app_id", "team_name",
        "enterprise_name", "bot_user_id", "bot_id", "scopes",
        "installer_user_id", "token_rotation", "token_expires_at",
        "needs_reinstall")} == {
        "enterprise_id": "", "team_id": WS1, "org_wide": 0,
        "app_id": "A0E2EFLINK", "team_name": "E2E Workspace",
        "enterprise_name": "", "bot_user_id": "U0BOT0E2E0001",
        "bot_id": "B0BOT0E2E0001", "scopes": "commands",
        "installer_user_id": "U0E2EADMIN", "token_rotation": 0,
        "token_expires_at": None, "needs_reinstall": 0}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["created_at"])
    # The view has no token column; the table holds ciphertext only.
    assert not [c for c in row if c.endswith("_ct") or c in (
        "bot_token", "refresh_token", "access_token")]
    bot = [t for t in ledger(stack) - before if t.startswith("xoxb-")]
    assert len(bot) == 1
    ct = rows(stack, "SELECT bot_token_ct FROM slack_install "
              "WHERE team_id = ?", WS1)[0][0]
    assert isinstance(ct, bytes) and len(ct) == len(bot[0]) + 40
    assert bot[0].encode() not in stack.disk_bytes()
    st = stack.slack_state()
    assert st["code_exchanges_ok"] == 1 and st["auth_tests_ok"] == 1
    assert "slack.install" in stack.log_text()


def test_installed_workspace_is_served_and_others_are_not(stack):
    assert_help(stack.slash("help", team=WS1))
    assert text_of(stack.slash("help", team=WS2)) == \
        NOT_INSTALLED % stack.url


def test_command_from_uninstalled_team_does_nothing_else(stack):
    """The clear answer and nothing else: no Salesforce call, no login
    state, no link lookup (nor its last-used stamp), nothing posted."""
    stack.sql_exec("UPDATE sf_link SET last_used_at = 1000")
    states = rows(stack, "SELECT count(*) FROM login_state")
    links = rows(stack, "SELECT * FROM sf_link ORDER BY user_id")
    sf = sf_counts(stack)
    for text in ("smith", "login", "logout", "whoami", "help", ""):
        r = stack.slash(text, team=WS2, user="U0LINKED")
        assert text_of(r) == NOT_INSTALLED % stack.url
        assert r.json()["blocks"][0]["text"]["text"] == \
            NOT_INSTALLED % stack.url
    # The same Slack user id in a third workspace, enterprise or not.
    r = stack.slash("smith", team="T0OTHER", user="U0LINKED",
                    enterprise_id="E0OTHER")
    assert text_of(r) == NOT_INSTALLED % stack.url
    time.sleep(0.3)
    assert sf_counts(stack) == sf
    assert rows(stack, "SELECT count(*) FROM login_state") == states
    assert rows(stack, "SELECT * FROM sf_link ORDER BY user_id") == links
    assert len(re.findall(r"event=slack.authorize .*team=T0E2E0002 "
                          r"user=U0LINKED outcome=not_installed",
                          stack.log_text())) == 6


def test_state_reuse_is_refused(stack):
    r, cookie, url = stack.install_page()
    state, expires, _, _ = cookie_parts(cookie)
    location = stack.slack_authorize(url, WS1)
    before = state_rows(stack)
    assert_page(stack.slack_redirect(location, cookie), 200, "Installed")
    # The redirect recorded the state, by hash, as used: the only row it
    # added, kept until the state expires.
    added = set(state_rows(stack)) - set(before)
    assert len(added) == 1, added
    state_hash, cookie_hash, created, exp, used = added.pop()
    assert state_hash == hashlib.sha256(state.encode()).digest()
    assert cookie_hash == hashlib.sha256(
        cookie.split("=", 1)[1].encode()).digest()
    assert (created, exp) == (expires - 600, expires)
    assert abs(used - time.time()) < 30
    counts = slack_counts(stack)
    version = rows(stack, "SELECT version FROM slack_install "
                   "WHERE team_id = ?", WS1)
    table = state_rows(stack)
    again = stack.slack_redirect(location, cookie)
    assert_page(again, 400, "Installation already finished")
    assert slack_counts(stack) == counts
    assert rows(stack, "SELECT version FROM slack_install "
                "WHERE team_id = ?", WS1) == version
    assert state_rows(stack) == table
    # A new code from Slack with the used state and its cookie: refused
    # too, and Slack never sees the code.
    again = stack.slack_redirect(stack.slack_authorize(url, WS1), cookie)
    assert_page(again, 400, "Installation already finished")
    assert slack_counts(stack) == counts
    assert state_rows(stack) == table


def test_missing_or_foreign_cookie_is_refused(stack):
    r, cookie, url = stack.install_page()
    _, other, _ = stack.install_page()
    location = stack.slack_authorize(url, WS2)
    counts = slack_counts(stack)
    table = state_rows(stack)
    for c in (None, other, COOKIE + "=" + "A" * 43, cookie + "; " + cookie,
              COOKIE + "=", "other_cookie=" + cookie.split("=", 1)[1]):
        assert_page(stack.slack_redirect(location, c), 400,
                    "Installation could not be matched")
    # An unknown state, and a redirect with neither state nor code.
    bad = location.replace("state=", "state=X")
    assert_page(stack.slack_redirect(bad, cookie), 400,
                "Installation could not be matched")
    assert_page(stack.get("/slack/oauth_redirect"), 400,
                "Installation could not be matched")
    assert_page(stack.get("/slack/oauth_redirect?state=%00"), 400,
                "Invalid installation answer")
    # The right state and cookie, but no code: nothing to exchange.
    assert_page(stack.slack_redirect(
        stack.url + "/slack/oauth_redirect?state=" + state_of(location),
        cookie), 400, "Installation could not be matched")
    assert slack_counts(stack) == counts
    assert state_rows(stack) == table
    assert installation(stack, WS2) is None
    # The state stays usable in the browser that started it.
    assert_page(stack.slack_redirect(location, cookie), 200, "Installed")
    assert installation(stack, WS2)["team_name"] == "Second Workspace"
    assert_help(stack.slash("help", team=WS2))


def test_forged_or_expired_cookie_is_refused(stack):
    """A cookie is the server's word only with its MAC: any change to
    its state, expiry, key id or MAC, a MAC under another key, or a
    genuine cookie past its expiry is refused, and nothing is stored."""
    r, cookie, url = stack.install_page()
    state, expires, key_id, mac = cookie_parts(cookie)
    _, other, _ = stack.install_page()
    o_state, o_expires, o_key_id, o_mac = cookie_parts(other)
    location = stack.slack_authorize(url, WS1)
    assert state_of(location) == state

    def flip(s):
        return s[:-1] + ("0" if s[-1] != "0" else "1")

    def c(*parts):
        return COOKIE + "=" + ".".join(str(p) for p in parts)

    other_key = base64.b64encode(os.urandom(32)).decode()
    forged = {
        "mac changed": c(state, expires, key_id, flip(mac)),
        "expiry moved": c(state, expires + 3600, key_id, mac),
        "key id changed": c(state, expires, flip(key_id), mac),
        "state of another cookie's mac": c(state, o_expires, o_key_id,
                                           o_mac),
        "mac under another key": mint_cookie(stack, state, expires, key_id,
                                             other_key),
        "unknown key": mint_cookie(stack, state, expires, "0123456789abcdef",
                                   other_key),
        "no mac": c(state, expires, key_id),
        "mac upper case": c(state, expires, key_id, mac.upper()),
        "a field more": c(state, expires, key_id, mac, mac),
    }
    counts = slack_counts(stack)
    table = state_rows(stack)
    for why, fake in forged.items():
        r = stack.slack_redirect(location, fake)
        assert r.status == 400, why
        assert_page(r, 400, "Installation could not be matched")
    # Genuine (the test makes it as forcelink does) but expired: the
    # expiry under the MAC counts, not the browser's Max-Age.
    for exp in (int(time.time()) - 1, int(time.time()) - 3600):
        assert_page(stack.slack_redirect(
            location, mint_cookie(stack, state, exp, key_id)), 400,
            "Installation expired")
    assert slack_counts(stack) == counts
    assert state_rows(stack) == table
    log = stack.log_text()
    assert re.search(r"event=slack.install .*outcome=forged", log)
    assert re.search(r"event=slack.install .*outcome=expired", log)
    # The genuine cookie still finishes the installation.
    assert_page(stack.slack_redirect(location, cookie), 200, "Installed")
    assert slack_counts(stack)[0] == counts[0] + 1


def test_denial_is_a_friendly_page(stack):
    r, cookie, url = stack.install_page()
    location = stack.slack_authorize(url, "T0GRID0001", action="Deny")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert q["error"] == ["access_denied"] and "code" not in q
    counts = slack_counts(stack)
    r = stack.slack_redirect(location, cookie)
    assert_page(r, 400, "Installation cancelled")
    assert "nothing was installed" in r.text
    assert slack_counts(stack) == counts
    assert installation(stack, "T0GRID0001", GRID) is None
    # The state is spent.
    assert_page(stack.slack_redirect(location, cookie), 400,
                "Installation cancelled")


@pytest.mark.parametrize("faults,status,title", [
    ({"access_error": "invalid_code"}, 400, "Slack refused the installation"),
    ({"access_status": 503}, 502, "Slack did not answer"),
    ({"access_body": "{\"ok\":true,\"access_token\":"}, 502,
     "Slack's answer was not trusted"),
    ({"access_team": "T0E2E0099"}, 502, "Slack's answer was not trusted"),
    ({"auth_test_user": "U0SOMEONE"}, 502, "Slack's answer was not trusted"),
    ({"auth_test_error": "invalid_auth"}, 502,
     "Slack's answer was not trusted"),
])
def test_slack_failures_store_nothing(stack, faults, title, status):
    stack.slack_faults(**faults)
    before = stack.installations()
    r, cookie, url = stack.install_page()
    r = stack.slack_redirect(stack.slack_authorize(url, "T0GRID0002"),
                             cookie)
    assert_page(r, status, title)
    assert stack.installations() == before


def test_slack_api_certificate_is_verified(stack):
    """Without FORCELINK_CA_FILE the stand-in's certificate is not
    trusted: the exchange fails, nothing is stored."""
    env = dict(stack.env())
    env.pop("FORCELINK_CA_FILE")
    stack.restart_programs(env)
    try:
        counts = slack_counts(stack)
        before = stack.installations()
        r, cookie, url = stack.install_page()
        r = stack.slack_redirect(stack.slack_authorize(url, "T0GRID0002"),
                                 cookie)
        assert_page(r, 502, "Slack did not answer")
        assert stack.installations() == before
        # The TLS handshake failed: Slack never saw the code.
        assert slack_counts(stack) == counts
        assert re.search(r"func=http_finish host=localhost result=tls",
                         stack.log_text())
    finally:
        stack.restart_programs()


def test_org_wide_install(stack):
    r = stack.install("org:" + GRID)
    assert_page(r, 200, "Installed")
    assert ("for every workspace of the Enterprise Grid organization "
            "<strong>Grid &lt;Org&gt; &amp; Co</strong>") in r.text
    assert ('<a href="https://app.slack.com/manage/E0GRID0001/integrations/'
            'profile/A0E2EFLINK/workspaces/add">') in r.text
    row = installation(stack, "", GRID)
    assert (row["org_wide"], row["team_name"], row["enterprise_name"],
            row["bot_user_id"], row["bot_id"]) == \
        (1, "", "Grid <Org> & Co", "U0BOT0GRID0001", "B0BOT0GRID0001")
    # Any workspace of the enterprise is served ...
    for team in GRID_TEAMS + ("T0GRIDNEW",):
        assert_help(stack.slash("help", team=team, enterprise_id=GRID))
    # ... but not the same team claiming no enterprise, nor another one.
    assert text_of(stack.slash("help", team="T0GRID0001")) == \
        NOT_INSTALLED % stack.url
    assert text_of(stack.slash("help", team="T0GRID0001",
                               enterprise_id="E0GRID0002")) == \
        NOT_INSTALLED % stack.url


def test_reinstall_replaces(stack):
    old = installation(stack, WS1)
    raw = rows(stack, "SELECT version, bot_token_ct FROM slack_install "
               "WHERE team_id = ?", WS1)[0]
    r = stack.install(WS1)
    assert_page(r, 200, "Installed")
    assert "This replaces the earlier installation" in r.text
    new = rows(stack, "SELECT version, bot_token_ct FROM slack_install "
               "WHERE team_id = ?", WS1)[0]
    assert new[0] == raw[0] + 1 and new[1] != raw[1]
    assert installation(stack, WS1)["created_at"] >= old["created_at"]
    assert rows(stack, "SELECT count(*) FROM slack_install "
                "WHERE team_id = ?", WS1) == [(1,)]


def test_used_states_are_capped(stack):
    """The table of used states holds at most STATE_CAP rows: a new one
    purges the expired ones first, then drops the oldest while the table
    is full, and the installation goes on (a flood of redirects cannot
    lock out the admin)."""
    now = int(time.time())

    def flood(i):
        return hashlib.sha256(b"flood %d" % i).digest()

    stack.sql_exec("DELETE FROM slack_install_state")
    table = ([(os.urandom(32), os.urandom(32), now - 900, now - 300 + i,
               now - 800) for i in range(50)] +
             [(flood(i), os.urandom(32), now - 60, now + 540 + i, now - 30)
              for i in range(STATE_CAP)])
    assert stack.sql_exec(
        "INSERT INTO slack_install_state (state_hash, cookie_hash, "
        "created_at, expires_at, used_at) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?)"] * len(table)),
        [v for row in table for v in row]) == len(table)
    assert rows(stack, "SELECT count(*) FROM slack_install_state") == \
        [(STATE_CAP + 50,)]
    log0 = len(stack.log_text())
    states = []
    for n in (1, 2):
        r, cookie, url = stack.install_page()
        states.append(hashlib.sha256(cookie_parts(cookie)[0].encode())
                      .digest())
        assert_page(stack.slack_redirect(stack.slack_authorize(url, WS1),
                                         cookie), 200, "Installed")
        hashes = {h for h, in rows(stack, "SELECT state_hash "
                                   "FROM slack_install_state")}
        assert len(hashes) == STATE_CAP, len(hashes)
        assert rows(stack, "SELECT count(*) FROM slack_install_state "
                    "WHERE expires_at <= ?", int(time.time())) == [(0,)]
        # The oldest flooded states made room, the newest stay.
        assert [i for i in range(STATE_CAP) if flood(i) not in hashes] == \
            list(range(n))
        assert set(states) <= hashes
    assert len(re.findall(r"event=slack.install .*outcome=recorded "
                          r"dropped=1", stack.log_text()[log0:])) == 2
    # The newest state recorded is refused the second time.
    assert_page(stack.slack_redirect(stack.slack_authorize(url, WS1),
                                     cookie), 400,
                "Installation already finished")


def test_add_to_slack_in_a_real_browser(stack, tmp_path):
    """Headless Chromium opens the install page, clicks Add to Slack,
    allows on the Slack stand-in's page and lands on Installed: the
    signed cookie makes the round trip through a real browser (HttpOnly,
    SameSite=Lax, across sites).  The page has no console error or CSP
    violation.  A second browser that never saw the page is refused."""
    why = webdriver.missing()
    if why:
        pytest.skip("browser test skipped: " + why)
    pub = subprocess.run(["openssl", "x509", "-in",
                          str(stack.dir / "tls" / "server.pem"), "-noout",
                          "-pubkey"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    spki = base64.b64encode(hashlib.sha256(der).digest()).decode()
    driver = webdriver.Chromedriver(tmp_path)
    try:
        s = driver.session(tmp_path / "profile", spki=[spki])
        s.get(stack.url + "/slack/install")
        assert s.title == "Add forcelink to Slack \u00b7 forcelink"
        table = state_rows(stack)
        s.click(s.find("a[href^='%s/oauth/v2/authorize?']"
                       % stack.slack_url))
        s.wait_url(stack.slack_url + "/oauth/v2/authorize?")
        authorize = s.url
        s.click(s.find('input[name="team"][value="%s"]' % WS2))
        s.click(s.find('button[name="action"][value="Allow"]'))
        s.wait_url(stack.url + "/slack/oauth_redirect?")
        assert s.title == "Installed \u00b7 forcelink", s.source()[:2000]
        assert [s.text(h) for h in s.find_all("h1")] == ["Installed"]
        problems = [e for e in s.console()
                    if e.get("level") == "SEVERE" or
                    "Content Security Policy" in e.get("message", "")]
        assert problems == [], problems
        assert len(set(state_rows(stack)) - set(table)) == 1
        assert installation(stack, WS2)["needs_reinstall"] == 0
        # Another browser, with the same Slack page but no cookie.
        other = driver.session(tmp_path / "other", spki=[spki])
        other.get(authorize)
        other.click(other.find('button[name="action"][value="Allow"]'))
        other.wait_url(stack.url + "/slack/oauth_redirect?")
        assert other.title == \
            "Installation could not be matched \u00b7 forcelink"
        other.quit()
        s.quit()
    finally:
        driver.stop()


# -- token rotation --------------------------------------------------------

def make_due(stack, team, seconds=60):
    """The stored expiry of team's bot token moves to now + seconds (the
    expiry is not sealed: it is what forcelink reads to decide)."""
    stack.sql_exec("UPDATE slack_install SET token_expires_at = ? "
                   "WHERE team_id = ?", (int(time.time()) + seconds, team))


def wait_for(pred, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_rotated_bot_token_refreshed_once_under_concurrent_commands(stack):
    stack.slack_faults(rotate=True, token_ttl=200)
    l0 = ledger(stack)
    assert_page(stack.install(WS2), 200, "Installed")
    issued = ledger(stack) - l0
    old_refresh = [t for t in issued if t.startswith("xoxe-1-")]
    old_bot = [t for t in issued if t.startswith("xoxe.xoxb-1-")]
    assert len(old_refresh) == 1 and len(old_bot) == 1
    row = installation(stack, WS2)
    assert row["token_rotation"] == 1
    # Stored to expire in 200 s: within forcelink's 5 minutes.
    stack.slack_faults(token_ttl=None)
    version = rows(stack, "SELECT version FROM slack_install "
                   "WHERE team_id = ?", WS2)[0][0]
    st0 = stack.slack_state()
    l1 = ledger(stack)
    log0 = len(stack.log_text())

    # 24 commands at once (two workers, several threads each), while
    # Slack takes 2 s over each oauth.v2.access: every command sees the
    # token due, so without the single flight each would refresh it.
    stack.slack_faults(access_delay=2.0)

    def command(i):
        t0 = time.monotonic()
        r = stack.slash("help", team=WS2, user="U0ROT%02d" % i)
        return r, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        res = list(ex.map(command, range(24)))
    for r, _ in res:
        assert_help(r)
    # Slack had each answer before the refresh began: none waited for it.
    assert max(t for _, t in res) < 1.5, sorted(t for _, t in res)
    assert wait_for(lambda: stack.slack_state()["refreshes_ok"] ==
                    st0["refreshes_ok"] + 1)
    stack.slack_faults(access_delay=None)
    time.sleep(1.0)     # room for a second refresh, which must not come
    st1 = stack.slack_state()
    assert st1["oauth_access"]["refresh_token"] == \
        st0["oauth_access"]["refresh_token"] + 1
    assert st1["refreshes_ok"] == st0["refreshes_ok"] + 1
    assert st1["spent_refresh_presented"] == st0["spent_refresh_presented"]
    assert st1["max_inflight_access"] == 1
    log = stack.log_text()[log0:]
    assert len(re.findall(r"event=slack.refresh .*outcome=ok", log)) == 1
    # The new tokens are stored, sealed.
    new = ledger(stack) - l1
    assert len(new) == 2 and {t[:7] for t in new} == {"xoxe-1-", "xoxe.xo"}
    disk = stack.disk_bytes()
    for t in new | set(old_refresh) | set(old_bot):
        assert t.encode() not in disk
    row = installation(stack, WS2)
    assert rows(stack, "SELECT version FROM slack_install "
                "WHERE team_id = ?", WS2)[0][0] == version + 1
    expires = calendar.timegm(time.strptime(row["token_expires_at"],
                                            "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (time.time() + 43200)) < 60
    # The old refresh token is refused by Slack from now on.
    status, body = slack_refresh(stack, old_refresh[0])
    assert (status, body) == (200, {"ok": False,
                                    "error": "invalid_refresh_token"})
    # And forcelink holds the new one: due again, it refreshes again.
    make_due(stack, WS2)
    assert_help(stack.slash("help", team=WS2))
    assert wait_for(lambda: stack.slack_state()["refreshes_ok"] ==
                    st0["refreshes_ok"] + 2)
    assert stack.slack_state()["refreshes_refused"] == \
        st1["refreshes_refused"] + 1        # only ours, just above
    # Slack counts a refresh when it answers; wait until forcelink has
    # stored it too, so that no write of this test lands in the next.
    assert wait_for(lambda: rows(stack, "SELECT version FROM slack_install "
                                 "WHERE team_id = ?", WS2)[0][0] ==
                    version + 2)


def test_refused_refresh_marks_reinstall(stack):
    assert installation(stack, WS2)["token_rotation"] == 1
    assert stack.slack("POST", "/_control/uninstall",
                       {"team": WS2}).json() == {"uninstalled": True}
    make_due(stack, WS2)
    st0 = stack.slack_state()
    assert_help(stack.slash("help", team=WS2))
    assert wait_for(lambda: installation(stack, WS2)["needs_reinstall"] == 1)
    assert re.search(r"event=slack.refresh .*outcome=revoked "
                     r"code=\"invalid_refresh_token\" enterprise= "
                     r"team=T0E2E0002 marked=ok msg=\"Slack refused the "
                     r"installation's refresh token: the app must be "
                     r"installed again at " + re.escape(stack.url) +
                     r"/slack/install\"", stack.log_text())
    # Still authorized, and no refresh is tried again.
    assert_help(stack.slash("help", team=WS2))
    time.sleep(0.5)
    st1 = stack.slack_state()
    assert st1["refreshes_refused"] == st0["refreshes_refused"] + 1
    assert st1["oauth_access"]["refresh_token"] == \
        st0["oauth_access"]["refresh_token"] + 1
    # Installing again mends it.
    assert_page(stack.install(WS2), 200, "Installed")
    assert installation(stack, WS2)["needs_reinstall"] == 0


def test_secret_scan_covers_the_slack_ledger(stack):
    """The stop of the stack looks for every Slack secret too: a bot
    token planted in a log is found."""
    bot = sorted(t for t in ledger(stack) if t.startswith("xoxb-"))[0]
    planted = stack.dir / "planted.log"
    planted.write_text("oops " + bot + "\n")
    try:
        leaks = stack.secret_leaks(files=True)
        assert leaks == ["planted.log: %s…" % bot[:8]], leaks
    finally:
        planted.unlink()
    secret = stack.slack_client_secret
    assert secret in stack.secret_values()
