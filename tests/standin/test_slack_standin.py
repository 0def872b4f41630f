"""Tests of the Slack stand-in itself (tests/standin/slack.py).

The stand-in is started once per module on a free port with throwaway
certificates from mkcerts.sh and spoken to over CA-verified TLS with
urllib, the way forcelink's C client does (form bodies, HTTP Basic or
body credentials, Bearer tokens).  State is reset before every test.
Run: /usr/bin/python3 -m pytest -q tests/standin/test_slack_standin.py
"""

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENT_ID = "1234567890.0987654321"
SECRET = "sl4ck/s3cret+=&%"
REDIRECT = "http://127.0.0.1:8080/slack/oauth_redirect"
SEEN = set()        # every secret handed out; must never be logged


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Slack:
    def __init__(self, proc, url, ctx, log):
        self.proc, self.url, self.log = proc, url, log
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx), NoRedirect)

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def api(self, method, fields=None, headers=None, query=""):
        """POSTs a form to /api/METHOD; returns (status, parsed JSON)."""
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        status, hd, body = self.request(
            "POST", "/api/" + method + query,
            urllib.parse.urlencode(fields or {}).encode(), h)
        assert hd["Content-Type"] == "application/json; charset=utf-8"
        return status, json.loads(body)

    def control(self, what, obj=None, method="POST"):
        data = json.dumps(obj or {}).encode() if method == "POST" else None
        status, _, body = self.request(
            method, "/_control/" + what, data,
            {"Content-Type": "application/json"} if data else {})
        assert status == 200, body
        return json.loads(body)

    def authorize(self, **params):
        p = {"client_id": CLIENT_ID, "scope": "commands",
             "redirect_uri": REDIRECT, "state": "st-1"}
        p.update(params)
        p = {k: v for k, v in p.items() if v is not None}
        return self.request("GET", "/oauth/v2/authorize?" +
                            urllib.parse.urlencode(p))

    def answer(self, page, team="T0E2E0001", action="Allow"):
        fields = dict(re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
            page.decode()))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update({"team": team, "action": action})
        return self.request(
            "POST", "/oauth/v2/authorize",
            urllib.parse.urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"})

    def code(self, team="T0E2E0001", **params):
        """Runs the authorize page for team; returns the code."""
        status, _, page = self.authorize(**params)
        assert status == 200, page
        status, hd, _ = self.answer(page, team)
        assert status == 302
        q = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(hd["Location"]).query))
        assert q["state"] == params.get("state", "st-1")
        SEEN.add(q["code"])
        return q["code"]

    def exchange(self, code, **extra):
        f = {"code": code, "client_id": CLIENT_ID, "client_secret": SECRET,
             "redirect_uri": REDIRECT}
        f.update(extra)
        status, r = self.api("oauth.v2.access",
                             {k: v for k, v in f.items() if v is not None})
        assert status == 200
        for k in ("access_token", "refresh_token"):
            if k in r:
                SEEN.add(r[k])
        return r

    def refresh(self, token):
        status, r = self.api("oauth.v2.access", {
            "grant_type": "refresh_token", "refresh_token": token,
            "client_id": CLIENT_ID, "client_secret": SECRET})
        assert status == 200
        for k in ("access_token", "refresh_token"):
            if k in r:
                SEEN.add(r[k])
        return r

    def auth_test(self, token):
        status, r = self.api("auth.test", headers={
            "Authorization": "Bearer " + token})
        assert status == 200
        return r


@pytest.fixture(scope="module")
def slack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slack")
    certs = tmp / "tls"
    subprocess.run([str(HERE / "mkcerts.sh"), str(certs)], check=True)
    (tmp / "secret").write_text(SECRET + "\n")
    ready, log = tmp / "ready", tmp / "log"
    proc = subprocess.Popen([
        sys.executable, str(HERE / "slack.py"), "--port", "0",
        "--cert", str(certs / "server.pem"), "--key", str(certs / "server.key"),
        "--client-id", CLIENT_ID, "--client-secret-file", str(tmp / "secret"),
        "--redirect-uri", REDIRECT, "--ready-file", str(ready),
        "--log", str(log)])
    for _ in range(200):
        if ready.exists() and len(ready.read_text().split()) == 2:
            break
        assert proc.poll() is None
        subprocess.run(["sleep", "0.02"])
    url = ready.read_text().split()[1]
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    yield Slack(proc, url, ctx, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not ready.exists()


@pytest.fixture(autouse=True)
def fresh(slack):
    slack.control("reset")


# -- the authorize page ---------------------------------------------------

def test_authorize_page_offers_workspaces_and_the_org(slack):
    status, hd, page = slack.authorize()
    assert status == 200
    assert hd["Content-Type"] == "text/html; charset=utf-8"
    text = page.decode()
    for team in ("T0E2E0001", "T0E2E0002", "T0GRID0001", "T0GRID0002",
                 "org:E0GRID0001"):
        assert 'value="%s"' % team in text
    # Names are escaped on the page.
    assert "Grid &lt;Org&gt; &amp; Co" in text
    assert "commands" in text


@pytest.mark.parametrize("params,error", [
    ({"client_id": "9.9"}, "invalid_client_id"),
    ({"redirect_uri": "http://127.0.0.1:8080/other"}, "bad_redirect_uri"),
    ({"scope": ""}, "invalid_scope"),
    ({"scope": "commands,Bad Scope"}, "invalid_scope"),
])
def test_authorize_errors_are_pages(slack, params, error):
    status, _, page = slack.authorize(**params)
    assert status == 400
    assert "<code>%s</code>" % error in page.decode()


def test_allow_redirects_with_code_and_state(slack):
    status, _, page = slack.authorize(state="s/1 +x")
    status, hd, _ = slack.answer(page)
    assert status == 302
    loc = urllib.parse.urlsplit(hd["Location"])
    assert loc.scheme + "://" + loc.netloc + loc.path == REDIRECT
    q = urllib.parse.parse_qs(loc.query)
    assert q["state"] == ["s/1 +x"]
    assert re.fullmatch(r"\d{10}\.\d{13}\.[0-9a-f]{64}", q["code"][0])
    SEEN.add(q["code"][0])
    # The page is single-use.
    status, _, body = slack.answer(page)
    assert status == 400 and b"expired_request" in body


def test_deny_redirects_with_access_denied_and_state(slack):
    _, _, page = slack.authorize(state="deny-me")
    status, hd, _ = slack.answer(page, action="Deny")
    assert status == 302
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
    assert q == {"error": ["access_denied"], "state": ["deny-me"]}
    assert slack.control("state", method="GET")["denials"] == 1


# -- oauth.v2.access: the code exchange ------------------------------------

def test_workspace_install_reply_as_documented(slack):
    r = slack.exchange(slack.code())
    assert list(r) == ["ok", "access_token", "token_type", "scope",
                       "bot_user_id", "app_id", "team", "enterprise",
                       "is_enterprise_install", "authed_user"]
    assert r["ok"] is True and r["token_type"] == "bot"
    assert re.fullmatch(r"xoxb-\d{11}-\d{13}-[A-Za-z0-9]{24}",
                        r["access_token"])
    assert r["scope"] == "commands"
    assert r["bot_user_id"] == "U0BOT0E2E0001" and r["app_id"] == "A0E2EFLINK"
    assert r["team"] == {"name": "E2E Workspace", "id": "T0E2E0001"}
    assert r["enterprise"] is None and r["is_enterprise_install"] is False
    assert r["authed_user"] == {"id": "U0E2EADMIN"}


def test_grid_workspace_install_names_its_enterprise(slack):
    r = slack.exchange(slack.code("T0GRID0001"))
    assert r["team"] == {"name": "Grid Sales", "id": "T0GRID0001"}
    assert r["enterprise"] == {"name": "Grid <Org> & Co", "id": "E0GRID0001"}
    assert r["is_enterprise_install"] is False


def test_org_wide_install_has_no_team(slack):
    r = slack.exchange(slack.code("org:E0GRID0001"))
    assert r["team"] is None
    assert r["enterprise"] == {"name": "Grid <Org> & Co", "id": "E0GRID0001"}
    assert r["is_enterprise_install"] is True
    assert r["bot_user_id"] == "U0BOT0GRID0001"
    a = slack.auth_test(r["access_token"])
    assert a["is_enterprise_install"] is True
    assert a["enterprise_id"] == "E0GRID0001"


def test_rotation_on_gives_expiring_tokens(slack):
    slack.control("faults", {"rotate": True})
    r = slack.exchange(slack.code())
    assert r["access_token"].startswith("xoxe.xoxb-1-")
    assert r["refresh_token"].startswith("xoxe-1-")
    assert r["expires_in"] == 43200
    assert list(r)[:4] == ["ok", "access_token", "expires_in",
                           "refresh_token"]


def test_user_scopes_give_a_user_token_under_authed_user(slack):
    r = slack.exchange(slack.code(user_scope="search:read"))
    u = r["authed_user"]
    assert u["token_type"] == "user" and u["scope"] == "search:read"
    assert u["access_token"].startswith("xoxp-")
    SEEN.add(u["access_token"])


def test_code_is_single_use_and_bound(slack):
    code = slack.code()
    assert slack.exchange(code, redirect_uri=REDIRECT + "x") == {
        "ok": False, "error": "bad_redirect_uri"}
    # Consumed by the failed attempt.
    assert slack.exchange(code)["error"] == "invalid_code"
    assert slack.exchange("1.2.3")["error"] == "invalid_code"


def test_code_expires_after_ten_minutes(slack):
    code = slack.code()
    slack.control("advance", {"seconds": 601})
    assert slack.exchange(code)["error"] == "invalid_code"


@pytest.mark.parametrize("change,error", [
    ({"client_id": "9.9"}, "invalid_client_id"),
    ({"client_id": None}, "invalid_client_id"),
    ({"client_secret": "wrong"}, "bad_client_secret"),
    ({"grant_type": "password"}, "invalid_grant_type"),
])
def test_client_auth_and_grant_type_errors(slack, change, error):
    code = slack.code()
    r = slack.exchange(code, **change)
    assert r == {"ok": False, "error": error}


def test_http_basic_client_auth(slack):
    code = slack.code()
    basic = base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode())
    status, r = slack.api("oauth.v2.access", {
        "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": "Basic " + basic.decode()})
    assert status == 200 and r["ok"] is True
    SEEN.add(r["access_token"])
    basic = base64.b64encode(("%s:nope" % CLIENT_ID).encode())
    status, r = slack.api("oauth.v2.access", {"code": slack.code()},
                          headers={"Authorization": "Basic " +
                                   basic.decode()})
    assert r == {"ok": False, "error": "bad_client_secret"}


def test_secrets_in_the_url_are_refused(slack):
    code = slack.code()
    status, r = slack.api("oauth.v2.access", {
        "client_id": CLIENT_ID, "client_secret": SECRET,
        "redirect_uri": REDIRECT}, query="?code=" + urllib.parse.quote(code))
    assert r == {"ok": False, "error": "invalid_arguments"}


def test_reinstall_replaces_and_revokes(slack):
    first = slack.exchange(slack.code())
    second = slack.exchange(slack.code())
    assert first["access_token"] != second["access_token"]
    assert slack.auth_test(first["access_token"]) == {
        "ok": False, "error": "token_revoked"}
    assert slack.auth_test(second["access_token"])["ok"] is True


# -- token rotation ------------------------------------------------------

def test_refresh_rotates_and_spends_the_old_refresh_token(slack):
    slack.control("faults", {"rotate": True, "token_ttl": 200})
    r = slack.exchange(slack.code())
    assert r["expires_in"] == 200
    n = slack.refresh(r["refresh_token"])
    assert n["ok"] is True and n["expires_in"] == 200
    assert n["access_token"].startswith("xoxe.xoxb-1-")
    assert n["refresh_token"].startswith("xoxe-1-")
    assert n["refresh_token"] != r["refresh_token"]
    assert n["team"] == {"name": "E2E Workspace", "id": "T0E2E0001"}
    assert n["bot_user_id"] == r["bot_user_id"]
    assert "authed_user" not in n
    # The old refresh token is spent.
    assert slack.refresh(r["refresh_token"]) == {
        "ok": False, "error": "invalid_refresh_token"}
    st = slack.control("state", method="GET")
    assert st["oauth_access"]["refresh_token"] == 2
    assert st["refreshes_ok"] == 1 and st["spent_refresh_presented"] == 1
    # Old access tokens live on until they expire.
    assert slack.auth_test(r["access_token"])["ok"] is True
    assert slack.auth_test(n["access_token"])["ok"] is True


def test_expired_token_and_uninstall(slack):
    slack.control("faults", {"rotate": True})
    r = slack.exchange(slack.code())
    a = slack.auth_test(r["access_token"])
    assert a == {"ok": True, "url": "https://e2e.slack.com/",
                 "team": "E2E Workspace", "user": "forcelink",
                 "team_id": "T0E2E0001", "user_id": "U0BOT0E2E0001",
                 "bot_id": "B0BOT0E2E0001", "is_enterprise_install": False,
                 "expires_in": a["expires_in"]}
    assert 43190 < a["expires_in"] <= 43200
    assert slack.control("expire_tokens", {"team": "T0E2E0001"}) == {
        "expired": 1}
    assert slack.auth_test(r["access_token"]) == {
        "ok": False, "error": "token_expired"}
    assert slack.control("uninstall", {"team": "T0E2E0001"}) == {
        "uninstalled": True}
    assert slack.refresh(r["refresh_token"])["error"] == \
        "invalid_refresh_token"


@pytest.mark.parametrize("unknown,error", [
    (False, "not_authed"), (True, "invalid_auth")])
def test_auth_test_errors(slack, unknown, error):
    # A bot token the stand-in never issued, made for this run.
    token = "xoxb-" + secrets.token_hex(12) if unknown else None
    h = {"Authorization": "Bearer " + token} if token else {}
    status, r = slack.api("auth.test", headers=h)
    assert (status, r) == (200, {"ok": False, "error": error})


# -- Sign in with Slack (OpenID Connect) -----------------------------------

OIDC_REDIRECT = "http://127.0.0.1:8080/oauth/slack"


def oidc_authorize(slack, **params):
    p = {"response_type": "code", "client_id": CLIENT_ID,
         "scope": "openid email profile", "redirect_uri": OIDC_REDIRECT,
         "state": "o-st/1", "nonce": "n-0nce"}
    p.update(params)
    p = {k: v for k, v in p.items() if v is not None}
    return slack.request("GET", "/openid/connect/authorize?" +
                         urllib.parse.urlencode(p))


def page_inputs(page):
    """The sign-in form's fields as the page fills them in."""
    text = page.decode()
    fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(
        r'<input type="(?:hidden|text)"[^>]*name="([^"]+)" value="([^"]*)"',
        text)}
    return fields


def sign_in(slack, page, team="T0E2E0001", user="U0ALICE01",
            action="allow"):
    fields = page_inputs(page)
    fields.update({"action": action})
    if team is not None:
        fields["team_id"] = team
    if user is not None:
        fields["user_id"] = user
    return slack.request(
        "POST", "/openid/connect/authorize",
        urllib.parse.urlencode(fields).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})


def oidc_code(slack, team="T0E2E0001", user="U0ALICE01", **params):
    status, _, page = oidc_authorize(slack, **params)
    assert status == 200, page
    status, hd, body = sign_in(slack, page, team, user)
    assert status == 302, body
    loc = urllib.parse.urlsplit(hd["Location"])
    assert loc.scheme + "://" + loc.netloc + loc.path == OIDC_REDIRECT
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert q["state"] == params.get("state", "o-st/1")
    SEEN.add(q["code"])
    return q["code"]


def oidc_exchange(slack, code, **extra):
    f = {"code": code, "client_id": CLIENT_ID, "client_secret": SECRET,
         "redirect_uri": OIDC_REDIRECT, "grant_type": "authorization_code"}
    f.update(extra)
    status, r = slack.api("openid.connect.token",
                          {k: v for k, v in f.items() if v is not None})
    assert status == 200
    for k in ("access_token", "id_token"):
        if k in r:
            SEEN.add(r[k])
    return r


def jwt_parts(token):
    def dec(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part)
                                                               % 4)))
    head, body, sig = token.split(".")
    return dec(head), dec(body), head + "." + body, sig


def userinfo(slack, token, method="POST"):
    h = {"Authorization": "Bearer " + token} if token else {}
    if method == "GET":
        status, _, body = slack.request(
            "GET", "/api/openid.connect.userInfo", None, h)
        return status, json.loads(body)
    return slack.api("openid.connect.userInfo", headers=h)


def test_oidc_page_asks_which_user_signs_in(slack):
    status, hd, page = oidc_authorize(slack, team="T0E2E0002")
    assert status == 200
    assert hd["Content-Type"] == "text/html; charset=utf-8"
    text = page.decode()
    assert 'action="/openid/connect/authorize"' in text
    assert '<input type="text" id="team_id" name="team_id" value="T0E2E0002"' \
        in text
    assert '<input type="text" id="user_id" name="user_id" value=""' in text
    assert '<button type="submit" id="allow" name="action" value="allow">' \
        'Sign in</button>' in text
    assert '<button type="submit" id="deny" name="action" value="deny">' \
        'Cancel</button>' in text
    assert set(page_inputs(page)) == {"consent", "team_id", "user_id"}
    assert slack.control("state", method="GET")[
        "oidc_authorize_requests"] == 1


def test_oidc_identity_control_prefills_the_page(slack):
    assert slack.control("oidc_identity", {
        "team_id": "T0GRID0001", "user_id": "W0BOB0001"}) == {
        "team_id": "T0GRID0001", "user_id": "W0BOB0001"}
    # The browser's identity wins over the app's team hint.
    status, _, page = oidc_authorize(slack, team="T0E2E0001")
    f = page_inputs(page)
    assert (f["team_id"], f["user_id"]) == ("T0GRID0001", "W0BOB0001")
    # Still a page, still a POST: the prefilled form signs in as that user.
    status, hd, _ = sign_in(slack, page, team=None, user=None)
    assert status == 302
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        hd["Location"]).query))
    SEEN.add(q["code"])
    r = oidc_exchange(slack, q["code"])
    _, info = userinfo(slack, r["access_token"])
    assert info["https://slack.com/user_id"] == "W0BOB0001"
    assert info["https://slack.com/team_id"] == "T0GRID0001"
    assert info["https://slack.com/enterprise_id"] == "E0GRID0001"
    assert slack.control("oidc_identity", {}) == {}
    for bad in ({"team_id": "T0NOPE"}, {"user_id": "bob"},
                {"user_id": 7}, {"who": "x"}):
        status, _, _ = slack.request(
            "POST", "/_control/oidc_identity", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400, bad


@pytest.mark.parametrize("params,error", [
    ({"client_id": "9.9"}, "invalid_client_id"),
    ({"client_id": None}, "invalid_client_id"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "unsupported_response_type"),
    ({"scope": "email profile"}, "invalid_scope"),
    ({"scope": "openid users:read"}, "invalid_scope"),
    ({"redirect_uri": None}, "bad_redirect_uri"),
    ({"redirect_uri": "https://evil.example/cb"}, "bad_redirect_uri"),
    ({"redirect_uri": "http://127.0.0.1:8081/oauth/slack"},
     "bad_redirect_uri"),
    ({"code_challenge": "short", "code_challenge_method": "S256"},
     "invalid_code_challenge"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"},
     "invalid_code_challenge"),
    ({"team": "T0NOPE"}, "invalid_team"),
])
def test_oidc_authorize_errors_are_pages(slack, params, error):
    status, hd, page = oidc_authorize(slack, **params)
    assert status == 400 and "Location" not in hd
    assert "<code>%s</code>" % error in page.decode()


def test_oidc_sign_in_redirects_with_a_one_time_code(slack):
    status, _, page = oidc_authorize(slack, state="s/1 +x")
    status, hd, _ = sign_in(slack, page)
    assert status == 302
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
    assert q["state"] == ["s/1 +x"]
    assert re.fullmatch(r"\d{10}\.\d{13}\.[0-9a-f]{64}", q["code"][0])
    SEEN.add(q["code"][0])
    # The page is single-use, and not an install page.
    status, _, body = sign_in(slack, page)
    assert status == 400 and b"expired_request" in body
    _, _, page = oidc_authorize(slack)
    status, _, body = slack.answer(page)
    assert status == 400 and b"expired_request" in body


def test_oidc_cancel_redirects_with_access_denied(slack):
    _, _, page = oidc_authorize(slack, state="no-thanks")
    status, hd, _ = sign_in(slack, page, action="deny")
    assert status == 302
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(hd["Location"]).query)
    assert q == {"error": ["access_denied"], "state": ["no-thanks"]}
    assert slack.control("state", method="GET")["oidc_denials"] == 1


@pytest.mark.parametrize("team,user,said", [
    ("T0NOPE", "U0ALICE01", "There is no workspace with the id T0NOPE."),
    ("", "U0ALICE01", "There is no workspace with the id (empty)."),
    ("T0E2E0001", "alice", "alice is not a Slack user id"),
    ("T0E2E0001", "U0", "U0 is not a Slack user id"),
    ("T0E2E0001", "", "(empty) is not a Slack user id"),
    ("T0E2E0001", "U0GONE01", "There is no user U0GONE01 in workspace "
     "T0E2E0001."),
])
def test_oidc_bad_identity_shows_the_page_again(slack, team, user, said):
    slack.control("users", {"T0E2E0001": {"U0GONE01": {"unknown": True}}})
    _, _, page = oidc_authorize(slack)
    status, hd, again = sign_in(slack, page, team, user)
    assert status == 200 and "Location" not in hd
    text = again.decode()
    assert '<p id="error" role="alert">' in text and \
        html.escape(said).split(" (U")[0] in text
    # What was typed stays, with a fresh form id; the page can be fixed.
    f = page_inputs(again)
    assert (f["team_id"], f["user_id"]) == (team, user)
    assert f["consent"] != page_inputs(page)["consent"]
    status, hd, _ = sign_in(slack, again, "T0E2E0001", "U0ALICE01")
    assert status == 302
    SEEN.add(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        hd["Location"]).query))["code"])
    assert slack.control("state", method="GET")["oidc_signins"] == 1


def test_oidc_token_reply_and_id_token_as_documented(slack):
    r = oidc_exchange(slack, oidc_code(slack, user="U0ALICE01"))
    assert list(r) == ["ok", "access_token", "token_type", "id_token"]
    assert r["ok"] is True and r["token_type"] == "Bearer"
    assert re.fullmatch(r"xoxp-\d{11}-\d{13}-\d{13}-[0-9a-f]{32}",
                        r["access_token"])
    head, claims, signed, sig = jwt_parts(r["id_token"])
    assert head == {"typ": "JWT", "alg": "HS256", "kid": "standin-hs256"}
    mac = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256)
    assert base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode() \
        == sig
    assert list(claims)[:8] == ["iss", "sub", "aud", "exp", "iat",
                                "auth_time", "nonce", "at_hash"]
    assert claims["iss"] == "https://slack.com"
    assert claims["sub"] == "U0ALICE01" and claims["aud"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["auth_time"] <= claims["iat"]
    assert claims["nonce"] == "n-0nce"
    at = hashlib.sha256(r["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(at).rstrip(
        b"=").decode()
    assert claims["https://slack.com/user_id"] == "U0ALICE01"
    assert claims["https://slack.com/team_id"] == "T0E2E0001"
    assert claims["https://slack.com/team_domain"] == "e2e"
    assert claims["https://slack.com/team_name"] == "E2E Workspace"
    assert claims["name"] == "u0alice01"
    assert claims["email"] == "u0alice01@e2e.example"
    assert claims["email_verified"] is True
    st = slack.control("state", method="GET")
    assert st["openid.connect.token"] == 1
    assert st["openid.connect.token_ok"] == 1


def test_oidc_scopes_decide_the_claims(slack):
    r = oidc_exchange(slack, oidc_code(slack, scope="openid", nonce=None))
    _, claims, _, _ = jwt_parts(r["id_token"])
    assert "nonce" not in claims
    assert {k for k in claims if k.startswith("https://")} == {
        "https://slack.com/user_id", "https://slack.com/team_id"}
    assert "email" not in claims and "name" not in claims
    _, info = userinfo(slack, r["access_token"])
    assert info == {"ok": True, "sub": "U0ALICE01",
                    "https://slack.com/user_id": "U0ALICE01",
                    "https://slack.com/team_id": "T0E2E0001"}
    r = oidc_exchange(slack, oidc_code(slack, scope="openid,profile"))
    _, info = userinfo(slack, r["access_token"])
    assert "email" not in info and info["name"] == "u0alice01"
    assert info["https://slack.com/team_domain"] == "e2e"


def test_oidc_code_is_single_use_and_bound(slack):
    code = oidc_code(slack)
    assert oidc_exchange(slack, code, redirect_uri=OIDC_REDIRECT + "x") == \
        {"ok": False, "error": "bad_redirect_uri"}
    # Consumed by the failed attempt; a reused code fails too.
    assert oidc_exchange(slack, code)["error"] == "invalid_code"
    code = oidc_code(slack)
    assert oidc_exchange(slack, code, redirect_uri=None)["error"] == \
        "bad_redirect_uri"
    code = oidc_code(slack)
    assert oidc_exchange(slack, code)["ok"] is True
    assert oidc_exchange(slack, code) == {"ok": False,
                                          "error": "invalid_code"}
    assert oidc_exchange(slack, "1.2.3")["error"] == "invalid_code"
    # An install code is no Sign in with Slack code.
    assert oidc_exchange(slack, slack.code())["error"] == "invalid_code"


def test_oidc_code_expires_after_ten_minutes(slack):
    code = oidc_code(slack)
    slack.control("advance", {"seconds": 601})
    assert oidc_exchange(slack, code)["error"] == "invalid_code"


@pytest.mark.parametrize("change,error", [
    ({"client_id": "9.9"}, "invalid_client_id"),
    ({"client_id": None}, "invalid_client_id"),
    ({"client_secret": "wrong"}, "bad_client_secret"),
    ({"grant_type": "refresh_token"}, "invalid_grant_type"),
    ({"grant_type": "password"}, "invalid_grant_type"),
])
def test_oidc_token_client_and_grant_errors(slack, change, error):
    code = oidc_code(slack)
    assert oidc_exchange(slack, code, **change) == {"ok": False,
                                                    "error": error}
    # Refused before the code was looked at: it still works.
    assert oidc_exchange(slack, code)["ok"] is True


def test_oidc_token_http_basic_and_no_grant_type(slack):
    basic = base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode())
    status, r = slack.api("openid.connect.token", {
        "code": oidc_code(slack), "redirect_uri": OIDC_REDIRECT},
        headers={"Authorization": "Basic " + basic.decode()})
    assert status == 200 and r["ok"] is True
    SEEN.update((r["access_token"], r["id_token"]))
    status, r = slack.api("openid.connect.token", {
        "client_id": CLIENT_ID, "client_secret": SECRET,
        "redirect_uri": OIDC_REDIRECT},
        query="?code=" + urllib.parse.quote(oidc_code(slack)))
    assert r == {"ok": False, "error": "invalid_arguments"}


def test_oidc_pkce(slack):
    verifier = secrets.token_urlsafe(48)[:64]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).rstrip(b"=").decode()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    code = oidc_code(slack, **pkce)
    assert oidc_exchange(slack, code)["error"] == "invalid_code_verifier"
    code = oidc_code(slack, **pkce)
    assert oidc_exchange(slack, code, code_verifier="a" * 43)["error"] == \
        "invalid_code_verifier"
    code = oidc_code(slack, **pkce)
    assert oidc_exchange(slack, code, code_verifier=verifier)["ok"] is True
    SEEN.add(verifier)
    # A verifier for a code that had no challenge is refused too.
    assert oidc_exchange(slack, oidc_code(slack),
                         code_verifier=verifier)["error"] == \
        "invalid_code_verifier"


def test_oidc_userinfo_as_documented(slack):
    slack.control("users", {"T0E2E0001": {"U0ALICE01": {
        "name": "alice", "real_name": "Alice <b>Adams</b>",
        "email": "alice@corp.example", "email_verified": False}}})
    r = oidc_exchange(slack, oidc_code(slack))
    for method in ("POST", "GET"):
        status, info = userinfo(slack, r["access_token"], method)
        assert status == 200
        assert list(info)[:4] == ["ok", "sub", "https://slack.com/user_id",
                                  "https://slack.com/team_id"]
        assert info["ok"] is True and info["sub"] == "U0ALICE01"
        assert info["email"] == "alice@corp.example"
        assert info["email_verified"] is False
        assert info["name"] == "alice"
        assert (info["given_name"], info["family_name"]) == (
            "Alice", "<b>Adams</b>")
        assert info["https://slack.com/team_name"] == "E2E Workspace"
    # The token as a form argument works as well.
    status, info = slack.api("openid.connect.userInfo",
                             {"token": r["access_token"]})
    assert info["ok"] is True
    st = slack.control("state", method="GET")
    assert st["openid.connect.userInfo"] == 3
    assert st["openid.connect.userInfo_ok"] == 3


def test_oidc_userinfo_errors(slack):
    assert userinfo(slack, None) == (200, {"ok": False,
                                           "error": "not_authed"})
    made_up = "xoxp-" + secrets.token_hex(16)
    assert userinfo(slack, made_up) == (200, {"ok": False,
                                              "error": "invalid_auth"})
    bot = slack.control("bot_token", {"team_id": "T0E2E0001",
                                      "scopes": "users:read"})["token"]
    SEEN.add(bot)
    assert userinfo(slack, bot) == (200, {
        "ok": False, "error": "missing_scope", "needed": "openid",
        "provided": "users:read"})
    r = oidc_exchange(slack, oidc_code(slack))
    slack.control("faults", {"oidc_userinfo_error": "invalid_auth"})
    assert userinfo(slack, r["access_token"]) == (200, {
        "ok": False, "error": "invalid_auth"})
    slack.control("faults", {"oidc_userinfo_error": None,
                             "oidc_userinfo_status": 503})
    assert userinfo(slack, r["access_token"])[0] == 503
    slack.control("faults", {"oidc_userinfo_status": None,
                             "oidc_userinfo_delay": 0.5})
    t0 = time.monotonic()
    assert userinfo(slack, r["access_token"])[1]["ok"] is True
    assert time.monotonic() - t0 >= 0.5
    st = slack.control("state", method="GET")
    assert st["openid.connect.userInfo"] == 6
    assert st["openid.connect.userInfo_ok"] == 1


def test_oidc_token_error_fault(slack):
    slack.control("faults", {"oidc_token_error": "internal_error"})
    assert oidc_exchange(slack, oidc_code(slack)) == {
        "ok": False, "error": "internal_error"}


# -- the user directory and users.info --------------------------------------

def users_info(slack, token, user, how="POST"):
    h = {"Authorization": "Bearer " + token} if token else {}
    if how == "GET":
        status, _, body = slack.request(
            "GET", "/api/users.info?user=" + urllib.parse.quote(user), None,
            h)
        return json.loads(body)
    status, r = slack.api("users.info", {"user": user}, headers=h)
    assert status == 200
    return r


def bot_token(slack, team="T0E2E0001",
              scopes="users:read,users:read.email,chat:write"):
    out = slack.control("bot_token", {"team_id": team, "scopes": scopes})
    SEEN.add(out["token"])
    return out["token"]


def test_users_info_as_documented(slack):
    token = bot_token(slack)
    assert re.fullmatch(r"xoxb-\d{11}-\d{13}-[A-Za-z0-9]{24}", token)
    for how in ("POST", "GET"):
        r = users_info(slack, token, "U0E2E0001", how)
        assert r == {"ok": True, "user": {
            "id": "U0E2E0001", "team_id": "T0E2E0001", "name": "u0e2e0001",
            "deleted": False, "real_name": "u0e2e0001",
            "tz": "Europe/London", "tz_label": "Greenwich Mean Time",
            "tz_offset": 0, "profile": {
                "real_name": "u0e2e0001", "display_name": "u0e2e0001",
                "real_name_normalized": "u0e2e0001",
                "display_name_normalized": "u0e2e0001",
                "email": "u0e2e0001@e2e.example", "team": "T0E2E0001"},
            "is_admin": False, "is_owner": False, "is_bot": False,
            "is_app_user": False, "updated": 1700000000}}
    slack.control("users", {"T0E2E0001": {"U0E2E0001": {
        "name": "tester", "real_name": "Tess Ter", "display_name": "tess",
        "email": "tess@corp.example", "deleted": True}}})
    u = users_info(slack, token, "U0E2E0001")["user"]
    assert (u["name"], u["real_name"], u["deleted"]) == (
        "tester", "Tess Ter", True)
    assert u["profile"]["display_name"] == "tess"
    assert u["profile"]["email"] == "tess@corp.example"
    st = slack.control("state", method="GET")
    assert st["users.info"] == 3 and st["users.info_ok"] == 3


def test_users_info_email_needs_users_read_email(slack):
    token = bot_token(slack, scopes="users:read,commands")
    u = users_info(slack, token, "U0E2E0001")["user"]
    assert "email" not in u["profile"]
    token = bot_token(slack, scopes="commands,chat:write")
    assert users_info(slack, token, "U0E2E0001") == {
        "ok": False, "error": "missing_scope", "needed": "users:read",
        "provided": "commands,chat:write"}


def test_users_info_with_an_installation_token(slack):
    r = slack.exchange(slack.code(scope="commands,users:read"))
    u = users_info(slack, r["access_token"], "U0E2E0002")["user"]
    assert u["team_id"] == "T0E2E0001" and "email" not in u["profile"]
    # An org-wide install sees the users of the grid's workspaces.
    r = slack.exchange(slack.code("org:E0GRID0001",
                                  scope="users:read,users:read.email"))
    slack.control("users", {"T0GRID0002": {"W0SUPPORT1": {}}})
    u = users_info(slack, r["access_token"], "W0SUPPORT1")["user"]
    assert u["team_id"] == "T0GRID0002"
    assert u["profile"]["email"] == "w0support1@gridsupport.example"
    # Replaced installations' tokens are refused as by auth.test.
    first = slack.exchange(slack.code(scope="users:read"))
    slack.exchange(slack.code(scope="users:read"))
    assert users_info(slack, first["access_token"], "U0E2E0002") == {
        "ok": False, "error": "token_revoked"}


def test_users_info_user_not_found(slack):
    token = bot_token(slack)
    slack.control("users", {"T0E2E0002": {"U0OTHER01": {"name": "o"}},
                            "T0E2E0001": {"U0GONE01": {"unknown": True}}})
    for user in ("U0OTHER01", "U0GONE01", "nobody", "", "T0E2E0001"):
        assert users_info(slack, token, user) == {
            "ok": False, "error": "user_not_found"}, user
    other = bot_token(slack, "T0E2E0002")
    assert users_info(slack, other, "U0OTHER01")["user"]["name"] == "o"


def test_users_info_token_errors(slack):
    assert users_info(slack, None, "U0E2E0001") == {
        "ok": False, "error": "not_authed"}
    assert users_info(slack, "xoxb-" + secrets.token_hex(12),
                      "U0E2E0001") == {"ok": False, "error": "invalid_auth"}
    token = bot_token(slack)
    assert slack.control("revoke_token", {"token": token}) == {
        "revoked": True}
    assert users_info(slack, token, "U0E2E0001") == {
        "ok": False, "error": "token_revoked"}
    slack.control("faults", {"rotate": True})
    r = slack.exchange(slack.code(scope="users:read"))
    slack.control("expire_tokens", {})
    assert users_info(slack, r["access_token"], "U0E2E0001") == {
        "ok": False, "error": "token_expired"}
    slack.control("faults", {"users_info_error": "ratelimited"})
    assert users_info(slack, bot_token(slack), "U0E2E0001") == {
        "ok": False, "error": "ratelimited"}


def test_minted_bot_token_passes_auth_test(slack):
    token = bot_token(slack, "T0GRID0001", "users:read")
    a = slack.auth_test(token)
    assert a["ok"] is True and a["team_id"] == "T0GRID0001"
    assert a["enterprise_id"] == "E0GRID0001"
    # It is no installation: installing does not replace it.
    assert slack.control("installations", method="GET") == []
    slack.exchange(slack.code("T0GRID0001"))
    assert slack.auth_test(token)["ok"] is True
    for bad in ({"team_id": "T0NOPE"}, {"team_id": "T0E2E0001",
                                        "scopes": "Bad Scope"},
                {"scopes": "users:read"}):
        status, _, _ = slack.request(
            "POST", "/_control/bot_token", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400, bad


def test_users_control_merges_and_rejects_bad_input(slack):
    slack.control("users", {"T0E2E0001": {"U0A1": {"name": "a"}}})
    out = slack.control("users", {"T0E2E0001": {"U0A1": {"email": "a@x",
                                                         "name": None}}})
    assert out == {"T0E2E0001": {"U0A1": {"email": "a@x"}}}
    for bad in ({"T0NOPE": {}}, {"T0E2E0001": {"alice": {}}},
                {"T0E2E0001": {"U0A1": {"phone": "1"}}},
                {"T0E2E0001": {"U0A1": {"deleted": "yes"}}},
                {"T0E2E0001": []}):
        status, _, _ = slack.request(
            "POST", "/_control/users", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400, bad
    assert slack.control("users", method="GET") == out
    slack.control("reset")
    assert slack.control("users", method="GET") == {}


# -- faults and control ----------------------------------------------------

def test_faults(slack):
    code = slack.code()
    slack.control("faults", {"access_error": "internal_error"})
    assert slack.exchange(code)["error"] == "internal_error"
    slack.control("faults", {"access_error": None, "access_status": 503})
    status, _, body = slack.request(
        "POST", "/api/oauth.v2.access", b"code=x",
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 503
    slack.control("faults", {"access_status": None,
                             "access_body": "not json"})
    status, _, body = slack.request(
        "POST", "/api/oauth.v2.access", b"code=x",
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body) == (200, b"not json")
    slack.control("faults", {"access_body": None,
                             "auto_install": "org:E0GRID0001"})
    status, hd, _ = slack.authorize()
    assert status == 302 and "code=" in hd["Location"]
    assert slack.control("state", method="GET")["installs"] == 2


def test_faults_reject_unknown_keys_and_wrong_types(slack):
    for bad in ({"nope": 1}, {"rotate": "yes"}, {"access_status": True}):
        status, _, body = slack.request(
            "POST", "/_control/faults", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400, bad
    assert slack.control("faults", method="GET") == {}


# -- the Web API for modals and messages (issue 15) -----------------------

def web(slack, method, token, args, as_form=False):
    """Calls a Web API method with a JSON body (or a form, the view as a
    JSON string); returns (status, headers, parsed reply)."""
    h = {"Authorization": "Bearer " + token} if token else {}
    if as_form:
        args = {k: json.dumps(v) if isinstance(v, dict) else v
                for k, v in args.items()}
        h["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(args).encode()
    else:
        h["Content-Type"] = "application/json; charset=utf-8"
        body = json.dumps(args).encode()
    status, hd, raw = slack.request("POST", "/api/" + method, body, h)
    assert hd["Content-Type"] == "application/json; charset=utf-8"
    return status, hd, json.loads(raw)


def trigger(slack, team="T0E2E0001", user="U0E2E0001"):
    return slack.control("trigger", {"team_id": team,
                                     "user_id": user})["trigger_id"]


def modal(title="New case", blocks=None, **extra):
    v = {"type": "modal", "title": {"type": "plain_text", "text": title},
         "submit": {"type": "plain_text", "text": "Create"},
         "blocks": blocks if blocks is not None else [{
             "type": "input", "block_id": "subject",
             "label": {"type": "plain_text", "text": "Subject"},
             "element": {"type": "plain_text_input",
                         "action_id": "subject"}}]}
    v.update(extra)
    return v


def open_view(slack, token, view=None, team="T0E2E0001", **kw):
    return web(slack, "views.open", token, {
        "trigger_id": trigger(slack, team), "view": view or modal()}, **kw)


def test_views_open_as_documented_and_recorded(slack):
    token = bot_token(slack, scopes="commands")
    for as_form in (False, True):
        trig = trigger(slack, user="U0ALICE01")
        assert re.fullmatch(r"\d+\.\d+\.[0-9a-f]{32}", trig)
        status, _, r = web(slack, "views.open", token,
                           {"trigger_id": trig, "view": modal()}, as_form)
        assert status == 200 and r["ok"] is True, r
        v = r["view"]
        assert re.fullmatch(r"V[A-Z0-9]{10}", v["id"])
        assert re.fullmatch(r"\d+\.[0-9a-f]{8}", v["hash"])
        assert v["team_id"] == "T0E2E0001" and v["type"] == "modal"
        assert v["title"] == {"type": "plain_text", "text": "New case"}
        assert v["state"] == {"values": {}} and v["root_view_id"] == v["id"]
    views = slack.control("views", method="GET")
    assert [x["user_id"] for x in views] == ["U0ALICE01"] * 2
    assert views[0]["view"] == modal() and views[0]["versions"] == [modal()]
    calls = slack.control("web_calls", method="GET")
    assert [(c["method"], c["team_id"], c["status"], c["ok"])
            for c in calls] == [("views.open", "T0E2E0001", 200, True)] * 2
    assert calls[0]["args"]["view"] == modal()
    assert token not in json.dumps(calls)


def test_trigger_id_valid_three_seconds_and_once(slack):
    token = bot_token(slack, scopes="commands")
    trig = trigger(slack)
    assert web(slack, "views.open", token, {
        "trigger_id": trig, "view": modal()})[2]["ok"]
    # Once only.
    assert web(slack, "views.open", token, {
        "trigger_id": trig, "view": modal()})[2] == {
            "ok": False, "error": "trigger_exchanged"}
    # 3 s, on the stand-in's clock.
    old = trigger(slack)
    slack.control("advance", {"seconds": 2.9})
    assert web(slack, "views.open", token, {
        "trigger_id": old, "view": modal()})[2]["ok"]
    old = trigger(slack)
    slack.control("advance", {"seconds": 3.1})
    assert web(slack, "views.open", token, {
        "trigger_id": old, "view": modal()})[2] == {
            "ok": False, "error": "expired_trigger_id"}
    # Made up, or another workspace's: unknown.
    for trig in ("1.2." + "0" * 32, trigger(slack, team="T0E2E0002")):
        assert web(slack, "views.open", token, {
            "trigger_id": trig, "view": modal()})[2] == {
                "ok": False, "error": "invalid_trigger_id"}
    # A refusal for the view does not spend the trigger.
    trig = trigger(slack)
    assert web(slack, "views.open", token, {"trigger_id": trig, "view": modal(
        title="x" * 25)})[2]["error"] == "invalid_arguments"
    assert web(slack, "views.open", token, {
        "trigger_id": trig, "view": modal()})[2]["ok"]


def test_web_api_token_rules(slack):
    token = bot_token(slack, scopes="commands")
    assert open_view(slack, None)[2] == {"ok": False, "error": "not_authed"}
    assert open_view(slack, "xoxb-1-2-nope")[2] == {
        "ok": False, "error": "invalid_auth"}
    slack.control("revoke_token", {"token": token})
    assert open_view(slack, token)[2] == {
        "ok": False, "error": "token_revoked"}
    # A user token may not open a bot's modal.
    code = slack.code(user_scope="chat:write")
    user = slack.exchange(code)["authed_user"]["access_token"]
    assert open_view(slack, user)[2] == {
        "ok": False, "error": "not_allowed_token_type"}
    # None of the calls needs a scope beyond the token (commands is what
    # an installation has).
    assert open_view(slack, bot_token(slack, scopes=""))[2]["ok"]


VIEW_LIMITS = [
    # (view, error, a message that must be among response_metadata's)
    (modal(title="x" * 25), "invalid_arguments",
     "[ERROR] must be less than 25 characters "
     "[json-pointer:/view/title/text]"),
    (modal(blocks=[{"type": "divider"}] * 101), "invalid_arguments",
     "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"),
    (modal(submit=None), "invalid_arguments",
     "[ERROR] must provide submit when there are input blocks "
     "[json-pointer:/view/submit]"),
    (modal(submit={"type": "plain_text", "text": "s" * 25}),
     "invalid_arguments", "[ERROR] must be less than 25 characters "
     "[json-pointer:/view/submit/text]"),
    (modal(type="home"), "invalid_arguments",
     "[ERROR] must be one of: modal [json-pointer:/view/type]"),
    (modal(private_metadata="p" * 3001), "invalid_arguments",
     "[ERROR] must be less than 3001 characters "
     "[json-pointer:/view/private_metadata]"),
    (modal(callback_id="c" * 256), "invalid_arguments",
     "[ERROR] must be less than 256 characters "
     "[json-pointer:/view/callback_id]"),
    (modal(blocks=[{"type": "divider", "block_id": "a"},
                   {"type": "divider", "block_id": "a"}]),
     "invalid_arguments",
     "[ERROR] duplicate block_id: a [json-pointer:/view/blocks/1/block_id]"),
    (modal(blocks=[{"type": "section", "text": {
        "type": "mrkdwn", "text": "t" * 3001}}]), "invalid_arguments",
     "[ERROR] must be less than 3001 characters "
     "[json-pointer:/view/blocks/0/text/text]"),
    (modal(blocks=[{"type": "input", "label": {
        "type": "plain_text", "text": "L"}}]), "invalid_arguments",
     "[ERROR] missing required field: element "
     "[json-pointer:/view/blocks/0]"),
    (modal(title={"type": "mrkdwn", "text": "x"}), "invalid_arguments",
     "[ERROR] failed to match all allowed schemas "
     "[json-pointer:/view/title]"),
    (modal(blocks="none"), "invalid_arguments",
     "[ERROR] missing required field: blocks [json-pointer:/view]"),
    (modal(notes="n" * 250001), "view_too_large", None),
]


@pytest.mark.parametrize("view,error,message", VIEW_LIMITS)
def test_view_limits(slack, view, error, message):
    token = bot_token(slack, scopes="commands")
    status, _, r = open_view(slack, token, {k: v for k, v in view.items()
                                            if v is not None})
    assert status == 200 and r["ok"] is False and r["error"] == error
    if message:
        assert message in r["response_metadata"]["messages"]
    else:
        assert "response_metadata" not in r
    # views.update holds the same rules.
    vid = open_view(slack, token)[2]["view"]["id"]
    r = web(slack, "views.update", token, {
        "view_id": vid, "view": {k: v for k, v in view.items()
                                 if v is not None}})[2]
    assert r["error"] == error


def test_views_at_the_limits_pass(slack):
    token = bot_token(slack, scopes="commands")
    view = modal(title="t" * 24, blocks=[
        {"type": "section", "block_id": "b%d" % i,
         "text": {"type": "mrkdwn", "text": "x" * (3000 if i < 75 else 1)}}
        for i in range(99)] + [modal()["blocks"][0]],
        private_metadata="p" * 3000, callback_id="c" * 255)
    # 75 sections of 3000 characters: within 250 kB.
    r = open_view(slack, token, view)[2]
    assert r["ok"], r


def test_views_update_and_hash(slack):
    token = bot_token(slack, scopes="commands")
    v = open_view(slack, token, modal(external_id="case-1"))[2]["view"]
    creating = modal(title="Creating…", blocks=[])
    r = web(slack, "views.update", token, {
        "view_id": v["id"], "hash": v["hash"], "view": creating})[2]
    assert r["ok"] and r["view"]["id"] == v["id"]
    assert r["view"]["hash"] != v["hash"]
    # The old hash is stale now.
    assert web(slack, "views.update", token, {
        "view_id": v["id"], "hash": v["hash"], "view": modal()})[2] == {
            "ok": False, "error": "hash_conflict"}
    # Without a hash the update is unconditional; by external_id too.
    done = modal(title="Case 00001026", blocks=[])
    assert web(slack, "views.update", token, {
        "view_id": v["id"], "view": done}, as_form=True)[2]["ok"]
    assert web(slack, "views.update", token, {
        "external_id": "case-1", "view": done})[2]["ok"]
    views = slack.control("views", method="GET")
    assert views[0]["versions"] == [modal(external_id="case-1"), creating,
                                    done, done]
    # Exactly one of view_id and external_id.
    for args in ({}, {"view_id": v["id"], "external_id": "case-1"}):
        args["view"] = done
        assert web(slack, "views.update", token, args)[2][
            "error"] == "invalid_arguments"
    # Unknown, or another workspace's: not found.
    other = bot_token(slack, team="T0E2E0002", scopes="commands")
    for tok, vid in ((token, "VNOSUCHVIEW"), (other, v["id"])):
        assert web(slack, "views.update", tok, {
            "view_id": vid, "view": done})[2] == {
                "ok": False, "error": "not_found"}
    # external_id is unique per workspace.
    assert open_view(slack, token, modal(external_id="case-1"))[2] == {
        "ok": False, "error": "duplicate_external_id"}


def test_ratelimit_on_demand(slack):
    token = bot_token(slack, scopes="commands")
    assert slack.control("ratelimit", {"method": "views.open", "count": 2,
                                       "retry_after": 7}) == {
        "views.open": 2}
    trig = trigger(slack)
    for _ in range(2):
        status, hd, r = web(slack, "views.open", token, {
            "trigger_id": trig, "view": modal()})
        assert status == 429 and hd["Retry-After"] == "7"
        assert r == {"ok": False, "error": "ratelimited"}
    # The limit passed: the trigger was not spent by the 429s.
    assert web(slack, "views.open", token, {
        "trigger_id": trig, "view": modal()})[2]["ok"]
    calls = slack.control("web_calls", method="GET")
    assert [c["status"] for c in calls] == [429, 429, 200]
    for bad in ({"method": "chat.postMessage"},
                {"method": "views.open", "count": -1},
                {"method": "views.open", "retry_after": "7"}):
        status, _, _ = slack.request(
            "POST", "/_control/ratelimit", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400


def permalink(slack, token, channel, ts, how="POST"):
    h = {"Authorization": "Bearer " + token}
    q = urllib.parse.urlencode({"channel": channel, "message_ts": ts})
    if how == "GET":
        status, _, body = slack.request(
            "GET", "/api/chat.getPermalink?" + q, None, h)
        return json.loads(body)
    h["Content-Type"] = "application/x-www-form-urlencoded"
    status, _, body = slack.request("POST", "/api/chat.getPermalink",
                                    q.encode(), h)
    assert status == 200
    return json.loads(body)


def test_chat_get_permalink(slack):
    token = bot_token(slack, scopes="commands")
    m = slack.control("messages", {"team_id": "T0E2E0001",
                                   "channel": "C0SALES01", "text": "hi"})
    assert re.fullmatch(r"\d{10}\.\d{6}", m["ts"])
    for how in ("POST", "GET"):
        assert permalink(slack, token, "C0SALES01", m["ts"], how) == {
            "ok": True, "channel": "C0SALES01",
            "permalink": "https://e2e.slack.com/archives/C0SALES01/p" +
            m["ts"].replace(".", "")}
    reply = slack.control("messages", {
        "team_id": "T0E2E0001", "channel": "C0SALES01", "text": "re",
        "thread_ts": m["ts"]})
    assert permalink(slack, token, "C0SALES01", reply["ts"])[
        "permalink"] == ("https://e2e.slack.com/archives/C0SALES01/p%s"
                         "?thread_ts=%s&cid=C0SALES01" % (
                             reply["ts"].replace(".", ""), m["ts"]))
    assert permalink(slack, token, "C0SALES01", "1700000000.999999") == {
        "ok": False, "error": "message_not_found"}
    assert permalink(slack, token, "C0NOSUCH1", m["ts"]) == {
        "ok": False, "error": "channel_not_found"}
    # Another workspace's bot cannot see the channel; nor ours once the
    # channel is one the bot is not in.
    other = bot_token(slack, team="T0E2E0002", scopes="commands")
    assert permalink(slack, other, "C0SALES01", m["ts"])[
        "error"] == "channel_not_found"
    slack.control("messages", {"team_id": "T0E2E0001",
                               "channel": "C0SALES01", "visible": False})
    assert permalink(slack, token, "C0SALES01", m["ts"])[
        "error"] == "channel_not_found"
    for bad in ({"team_id": "T0NOPE", "channel": "C1X"},
                {"team_id": "T0E2E0001", "channel": "general"},
                {"team_id": "T0E2E0001", "channel": "C1X",
                 "thread_ts": "1"}):
        status, _, _ = slack.request(
            "POST", "/_control/messages", json.dumps(bad).encode(),
            {"Content-Type": "application/json"})
        assert status == 400


def test_unknown_api_method(slack):
    status, _, body = slack.request("POST", "/api/chat.postMessage", b"")
    assert status == 404 and json.loads(body)["error"] == "unknown_method"


def test_zz_ledger_and_log(slack):
    ledger = set(slack.control("secrets", method="GET"))
    assert SEEN and SEEN <= ledger
    log = slack.log.read_text()
    assert "/api/oauth.v2.access" in log
    for s in ledger | {SECRET}:
        assert s not in log, s[:12]
        assert urllib.parse.quote(s, safe="") not in log
