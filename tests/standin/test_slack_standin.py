"""Tests of the Slack stand-in itself (tests/standin/slack.py).

The stand-in is started once per module on a free port with throwaway
certificates from mkcerts.sh and spoken to over CA-verified TLS with
urllib, the way forcelink's C client does (form bodies, HTTP Basic or
body credentials, Bearer tokens).  State is reset before every test.
Run: /usr/bin/python3 -m pytest -q tests/standin/test_slack_standin.py
"""

import base64
import html
import json
import re
import secrets
import signal
import ssl
import subprocess
import sys
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
