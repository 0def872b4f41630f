"""Tests of the Salesforce stand-in itself (tests/standin/salesforce.py).

The stand-in is started once per module on a free port with throwaway
certificates from mkcerts.sh, and spoken to over CA-verified TLS with urllib
and http.client, the way forcelink's C client will.  State is reset before
every test.  Run: /usr/bin/python3 -m pytest -q tests/standin
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENT_ID = "3MVG9standin.test_client"
SECRET = "t0p-s3cret/+=&%"
REDIRECT = "http://127.0.0.1:8080/oauth/callback"
ALICE = "alice@example.com"
BOB = "bob@example.com"
INVALID_SESSION = (b'[{"message":"Session expired or invalid",'
                   b'"errorCode":"INVALID_SESSION_ID"}]')
SMITHS = ["Adam Smithers", "Carla Blacksmith", "Jane Smith", "John Smith",
          "Oliver Goldsmith", "Pat Smith"]
SEEN_SECRETS = set()    # every token/code handed out; must never be logged


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class StandIn:
    def __init__(self, proc, port, url, ctx, log, certs):
        self.proc, self.port, self.url = proc, port, url
        self.ctx, self.log, self.certs = ctx, log, certs
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx), NoRedirect)

    def request(self, method, path, body=None, headers=None, timeout=10):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def get(self, path, params=None, **kw):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("GET", path, **kw)

    def post_form(self, path, fields, headers=None, **kw):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path,
                            urllib.parse.urlencode(fields).encode(), h, **kw)

    def post_json(self, path, obj, **kw):
        return self.request("POST", path, json.dumps(obj).encode(),
                            {"Content-Type": "application/json"}, **kw)

    def control(self, what, obj=None):
        status, _, body = self.post_json("/_control/" + what, obj or {})
        assert status == 200, body
        return json.loads(body)

    def state(self):
        status, _, body = self.get("/_control/state")
        assert status == 200
        return json.loads(body)


def wait_ready(path, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) == 2:
                return int(lines[0]), lines[1]
        assert proc.poll() is None, "stand-in exited early"
        time.sleep(0.02)
    raise AssertionError("stand-in did not become ready")


def start(tmp, certs, cert="server", extra=()):
    secret_file = tmp / "secret"
    secret_file.write_text(SECRET + "\n")
    ready = tmp / ("ready-" + cert)
    log = tmp / ("log-" + cert)
    proc = subprocess.Popen([
        sys.executable, str(HERE / "salesforce.py"), "--port", "0",
        "--cert", str(certs / (cert + ".pem")),
        "--key", str(certs / (cert + ".key")),
        "--client-id", CLIENT_ID, "--client-secret-file", str(secret_file),
        "--redirect-uri", REDIRECT, "--ready-file", str(ready),
        "--log", str(log), *extra])
    port, url = wait_ready(ready, proc)
    return proc, port, url, log


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs") / "tls"
    subprocess.run([str(HERE / "mkcerts.sh"), str(d)], check=True)
    return d


@pytest.fixture(scope="module")
def sf(tmp_path_factory, certs):
    tmp = tmp_path_factory.mktemp("standin")
    proc, port, url, log = start(tmp, certs)
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    yield StandIn(proc, port, url, ctx, log, certs)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not (tmp / "ready-server").exists()


@pytest.fixture(autouse=True)
def fresh(request):
    if "sf" in request.fixturenames:
        request.getfixturevalue("sf").control("reset")


# --------------------------------------------------------------------------
# Helpers for the OAuth flow

def new_verifier():
    return secrets.token_urlsafe(48)[:64]


def challenge_of(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(challenge, **over):
    p = {"response_type": "code", "client_id": CLIENT_ID,
         "redirect_uri": REDIRECT, "state": "st4te/+=",
         "code_challenge": challenge, "code_challenge_method": "S256"}
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def callback_params(location):
    assert location.startswith(REDIRECT + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query,
                                       keep_blank_values=True))


def consent(sf, params, user=ALICE, action="Allow"):
    """Open the consent page, answer it; returns the callback parameters."""
    status, _, body = sf.get("/services/oauth2/authorize", params)
    assert status == 200, body
    page = body.decode()
    assert 'action="/services/oauth2/authorize"' in page
    cid = re.search(r'name="consent" value="([^"]+)"', page).group(1)
    status, hdrs, _ = sf.post_form("/services/oauth2/authorize", {
        "consent": cid, "user": user, "action": action})
    assert status == 302
    return callback_params(hdrs["Location"])


def get_code(sf, verifier, user=ALICE, **over):
    cb = consent(sf, authorize_params(challenge_of(verifier), **over), user)
    assert cb["state"] == "st4te/+="
    SEEN_SECRETS.add(cb["code"])
    return cb["code"]


def exchange(sf, code, verifier, **over):
    f = {"grant_type": "authorization_code", "code": code,
         "client_id": CLIENT_ID, "client_secret": SECRET,
         "redirect_uri": REDIRECT, "code_verifier": verifier}
    f.update(over)
    status, _, body = sf.post_form("/services/oauth2/token",
                                   {k: v for k, v in f.items()
                                    if v is not None})
    out = json.loads(body)
    SEEN_SECRETS.update(v for k, v in out.items()
                        if k in ("access_token", "refresh_token"))
    return status, out


def link(sf, user=ALICE):
    verifier = new_verifier()
    status, tok = exchange(sf, get_code(sf, verifier, user), verifier)
    assert status == 200, tok
    return tok


def refresh(sf, token, **over):
    f = {"grant_type": "refresh_token", "refresh_token": token,
         "client_id": CLIENT_ID, "client_secret": SECRET}
    f.update(over)
    status, _, body = sf.post_form("/services/oauth2/token", f)
    out = json.loads(body)
    SEEN_SECRETS.update(v for k, v in out.items()
                        if k in ("access_token", "refresh_token"))
    return status, out


def query(sf, access, soql, version="v62.0", timeout=10):
    return sf.get("/services/data/%s/query" % version, {"q": soql},
                  headers={"Authorization": "Bearer " + access},
                  timeout=timeout)


def names(sf, access, literal, extra=""):
    status, _, body = query(sf, access, "SELECT Id, Name FROM Contact "
                            "WHERE Name LIKE '%s'%s" % (literal, extra))
    assert status == 200, body
    return sorted(r["Name"] for r in json.loads(body)["records"])


def userinfo(sf, access):
    return sf.get("/services/oauth2/userinfo",
                  headers={"Authorization": "Bearer " + access})


# --------------------------------------------------------------------------
# mkcerts.sh

def test_mkcerts_makes_private_keys_and_is_idempotent(certs):
    for name in ("ca.key", "server.key", "wrong-host.key"):
        assert stat.S_IMODE(os.stat(certs / name).st_mode) == 0o600
    before = {f: os.stat(certs / f).st_mtime_ns for f in os.listdir(certs)}
    subprocess.run([str(HERE / "mkcerts.sh"), str(certs)], check=True)
    after = {f: os.stat(certs / f).st_mtime_ns for f in os.listdir(certs)}
    assert before == after


def test_mkcerts_without_directory_fails():
    r = subprocess.run([str(HERE / "mkcerts.sh")], capture_output=True)
    assert r.returncode != 0 and b"usage" in r.stderr


def test_wrong_host_certificate_fails_verification(tmp_path, certs):
    proc, port, _, _ = start(tmp_path, certs, cert="wrong-host")
    try:
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), 5) as s:
                ctx.wrap_socket(s, server_hostname="localhost")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_sigterm_stops_promptly_even_with_a_blackholed_request(tmp_path,
                                                                certs):
    proc, port, url, _ = start(tmp_path, certs)
    sf = StandIn(proc, port, url, ssl.create_default_context(
        cafile=str(certs / "ca.pem")), None, certs)
    sf.control("faults", {"blackhole": True})
    def hang():
        try:
            userinfo(sf, "x")
        except (OSError, http.client.HTTPException):
            pass        # the connection dies with the server: expected

    worker = threading.Thread(target=hang, daemon=True)
    worker.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    assert time.monotonic() - t0 < 3
    assert not (tmp_path / "ready-server").exists()


def test_untrusted_client_is_refused_but_server_keeps_serving(sf):
    with socket.create_connection(("127.0.0.1", sf.port), 5) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(
                s, server_hostname="localhost")
    assert sf.get("/services/data/")[0] == 200


def test_stalled_handshake_does_not_block_others(sf):
    with socket.create_connection(("127.0.0.1", sf.port), 5):
        t0 = time.monotonic()
        assert sf.get("/services/data/")[0] == 200
        assert time.monotonic() - t0 < 2


def test_keep_alive_serves_several_requests_on_one_connection(sf):
    conn = http.client.HTTPSConnection("localhost", sf.port,
                                       context=sf.ctx, timeout=5)
    conn.request("GET", "/services/data/")
    r1 = conn.getresponse()
    r1.read()
    sock = conn.sock
    conn.request("GET", "/services/data/v62.0/query?q=x")
    r2 = conn.getresponse()
    assert (r1.status, r2.status, r2.read()) == (200, 401, INVALID_SESSION)
    assert conn.sock is sock
    conn.close()


# --------------------------------------------------------------------------
# authorize

def test_versions_list_is_public(sf):
    status, hdrs, body = sf.get("/services/data/")
    versions = json.loads(body)
    assert status == 200
    assert {"label": "Spring '26", "url": "/services/data/v66.0",
            "version": "66.0"} in versions
    assert {"label": "Winter '25", "url": "/services/data/v62.0",
            "version": "62.0"} in versions


def test_consent_page_lists_users_escaped(sf):
    status, hdrs, body = sf.get("/services/oauth2/authorize",
                                authorize_params(challenge_of("x" * 43),
                                                 login_hint=BOB))
    page = body.decode()
    assert status == 200
    assert hdrs["Content-Type"].startswith("text/html")
    assert 'value="bob@example.com" checked' in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'value="Allow"' in page and 'value="Deny"' in page


@pytest.mark.parametrize("over, error", [
    ({"client_id": "nope"}, "invalid_client_id"),
    ({"client_id": None}, "invalid_client_id"),
    ({"redirect_uri": REDIRECT + "/"}, "redirect_uri_mismatch"),
    ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri_mismatch"),
    ({"redirect_uri": None}, "redirect_uri_mismatch"),
])
def test_authorize_bad_client_or_redirect_is_an_error_page(sf, over, error):
    status, hdrs, body = sf.get("/services/oauth2/authorize",
                                authorize_params("x" * 43, **over))
    assert status == 400
    assert "Location" not in hdrs
    assert ("error=" + error).encode() in body


@pytest.mark.parametrize("over, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"scope": "api full"}, "invalid_scope"),
])
def test_authorize_bad_request_redirects_with_error(sf, over, error):
    status, hdrs, _ = sf.get("/services/oauth2/authorize",
                             authorize_params(challenge_of("v" * 43), **over))
    assert status == 302
    cb = callback_params(hdrs["Location"])
    assert cb["error"] == error and cb["state"] == "st4te/+="


def test_deny_redirects_access_denied(sf):
    cb = consent(sf, authorize_params(challenge_of("v" * 43)), action="Deny")
    assert cb == {"error": "access_denied",
                  "error_description": "end-user denied authorization",
                  "state": "st4te/+="}
    assert sf.state()["denials"] == 1


def test_consent_form_is_single_use(sf):
    status, _, body = sf.get("/services/oauth2/authorize",
                             authorize_params(challenge_of("v" * 43)))
    cid = re.search(r'name="consent" value="([^"]+)"', body.decode()).group(1)
    form = {"consent": cid, "user": ALICE, "action": "Allow"}
    assert sf.post_form("/services/oauth2/authorize", form)[0] == 302
    assert sf.post_form("/services/oauth2/authorize", form)[0] == 400


# --------------------------------------------------------------------------
# token: authorization_code

def test_code_exchange_returns_salesforce_token_response(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    assert code.endswith("==")
    status, tok = exchange(sf, code, verifier)
    assert status == 200
    assert set(tok) == {"access_token", "refresh_token", "signature", "scope",
                        "instance_url", "id", "token_type", "issued_at"}
    assert re.fullmatch(r"00D5g000004ZyAb![A-Za-z0-9._]+", tok["access_token"])
    assert tok["token_type"] == "Bearer"
    assert tok["scope"] == "api refresh_token"
    assert tok["instance_url"] == sf.url
    assert tok["id"] == sf.url + "/id/00D5g000004ZyAbEAK/0055g00000Xa001AAB"
    assert re.fullmatch(r"[0-9]{13}", tok["issued_at"])
    assert abs(int(tok["issued_at"]) / 1000 - time.time()) < 60
    mac = hmac.new(SECRET.encode(), (tok["id"] + tok["issued_at"]).encode(),
                   hashlib.sha256).digest()
    assert tok["signature"] == base64.b64encode(mac).decode()
    st = sf.state()
    assert st["code_exchanges_ok"] == 1 and st["live_grants"][ALICE] == 1


def test_bob_gets_his_own_identity(sf):
    tok = link(sf, BOB)
    assert tok["id"].endswith("/0055g00000Xa002AAB")
    status, _, body = userinfo(sf, tok["access_token"])
    info = json.loads(body)
    assert status == 200
    assert info["preferred_username"] == BOB
    assert info["user_id"] == "0055g00000Xa002AAB"
    assert info["organization_id"] == "00D5g000004ZyAbEAK"
    assert info["sub"] == tok["id"]
    assert info["name"] == "Bob Ødegård"


def test_bad_verifier_is_refused_and_burns_the_code(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    status, err = exchange(sf, code, new_verifier())
    assert (status, err) == (400, {"error": "invalid_grant",
                                   "error_description":
                                   "invalid code verifier"})
    status, err = exchange(sf, code, verifier)
    assert err == {"error": "invalid_grant",
                   "error_description": "expired authorization code"}


@pytest.mark.parametrize("verifier", [None, "short", "a" * 129,
                                      "a" * 42 + "!"])
def test_missing_or_malformed_verifier_is_refused(sf, verifier):
    code = get_code(sf, new_verifier())
    status, err = exchange(sf, code, verifier)
    assert (status, err["error_description"]) == (400,
                                                  "invalid code verifier")


def test_code_is_single_use(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    assert exchange(sf, code, verifier)[0] == 200
    status, err = exchange(sf, code, verifier)
    assert (status, err) == (400, {"error": "invalid_grant",
                                   "error_description":
                                   "expired authorization code"})


def test_code_expires_after_fifteen_minutes(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    sf.control("advance", {"seconds": 15 * 60 + 1})
    status, err = exchange(sf, code, verifier)
    assert (status, err["error"]) == (400, "invalid_grant")


def test_unknown_code_is_invalid_grant(sf):
    status, err = exchange(sf, "aPrxnot-a-code==", new_verifier())
    assert (status, err["error_description"]) == (
        400, "expired authorization code")


def test_wrong_redirect_uri_at_token(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    status, err = exchange(sf, code, verifier,
                           redirect_uri=REDIRECT + "?x=1")
    assert (status, err) == (400, {"error": "redirect_uri_mismatch",
                                   "error_description":
                                   "redirect_uri must match configuration"})


def test_wrong_secret_is_invalid_client_and_keeps_the_code(sf):
    verifier = new_verifier()
    code = get_code(sf, verifier)
    for secret in ("wrong", None):
        status, err = exchange(sf, code, verifier, client_secret=secret)
        assert (status, err) == (400, {"error": "invalid_client",
                                       "error_description":
                                       "invalid client credentials"})
    assert exchange(sf, code, verifier)[0] == 200


def test_unknown_client_id_at_token(sf):
    verifier = new_verifier()
    status, err = exchange(sf, get_code(sf, verifier), verifier,
                           client_id="other")
    assert (status, err["error"]) == (400, "invalid_client_id")


def test_secret_in_url_is_refused(sf):
    status, _, body = sf.request(
        "POST", "/services/oauth2/token?client_secret=" + SECRET,
        b"grant_type=refresh_token",
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, json.loads(body)["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("grant", ["password", "",
                                   "urn:ietf:params:oauth:grant-type:jwt-bearer"])
def test_unsupported_grant_type(sf, grant):
    status, _, body = sf.post_form("/services/oauth2/token", {
        "grant_type": grant, "client_id": CLIENT_ID,
        "client_secret": SECRET})
    assert (status, json.loads(body)) == (400, {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported"})


def test_scope_without_refresh_token_gets_no_refresh_token(sf):
    verifier = new_verifier()
    status, tok = exchange(sf, get_code(sf, verifier, scope="api"), verifier)
    assert status == 200 and "refresh_token" not in tok
    assert tok["scope"] == "api"


# --------------------------------------------------------------------------
# token: refresh_token

def test_refresh_without_rotation(sf):
    tok = link(sf)
    status, new = refresh(sf, tok["refresh_token"])
    assert status == 200
    assert set(new) == {"access_token", "signature", "scope", "instance_url",
                        "id", "token_type", "issued_at"}
    assert new["access_token"] != tok["access_token"]
    assert query(sf, new["access_token"], "SELECT Id FROM Contact")[0] == 200
    assert refresh(sf, tok["refresh_token"])[0] == 200
    st = sf.state()
    assert (st["refreshes"], st["refreshes_ok"]) == (2, 2)
    assert st["token_requests"] == {"authorization_code": 1,
                                    "refresh_token": 2,
                                    "client_credentials": 0, "other": 0}


def test_refresh_with_rotation_and_theft_detection(sf):
    sf.control("faults", {"rotate_refresh": True})
    tok = link(sf)
    status, new = refresh(sf, tok["refresh_token"])
    assert status == 200
    assert new["refresh_token"] != tok["refresh_token"]
    status, newer = refresh(sf, new["refresh_token"])
    assert status == 200
    # The first, rotated-out token comes back: the whole grant is revoked.
    status, err = refresh(sf, tok["refresh_token"])
    assert (status, err) == (400, {"error": "invalid_grant",
                                   "error_description":
                                   "expired access/refresh token"})
    assert refresh(sf, newer["refresh_token"])[0] == 400
    assert query(sf, newer["access_token"], "SELECT Id FROM Contact")[0] == 401
    st = sf.state()
    assert st["retired_refresh_presented"] == 1
    assert st["live_grants"][ALICE] == 0


def test_secrets_ledger_lists_everything_issued_and_survives_reset(sf):
    sf.control("faults", {"rotate_refresh": True})
    verifier = new_verifier()
    code = get_code(sf, verifier)
    status, tok = exchange(sf, code, verifier)
    assert status == 200
    status, new = refresh(sf, tok["refresh_token"])
    assert status == 200
    want = {code, verifier, tok["access_token"], tok["refresh_token"],
            new["access_token"], new["refresh_token"]}
    sf.control("reset")
    status, _, body = sf.get("/_control/secrets")
    assert status == 200
    got = set(json.loads(body))
    assert want <= got
    # Secrets only: the consumer key is public, the consumer secret is
    # the caller's own.
    assert CLIENT_ID not in got and SECRET not in got


def test_refresh_unknown_token_and_wrong_secret(sf):
    tok = link(sf)
    assert refresh(sf, "5Aep861nothing")[1] == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token"}
    assert refresh(sf, tok["refresh_token"], client_secret="x")[1][
        "error"] == "invalid_client"


def test_token_requests_are_served_concurrently(sf):
    tok = link(sf)
    sf.control("faults", {"token_delay": 0.5})
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        refresh(sf, tok["refresh_token"])[0])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    # All four were held at once, not one after another (the stand-in
    # counts it; a clock would also count a busy machine).
    st = sf.state()
    assert st["max_inflight_token_requests"] == 4
    assert (st["refreshes"], st["refreshes_ok"]) == (4, 4)


def test_sixth_grant_revokes_the_oldest(sf):
    toks = [link(sf) for _ in range(6)]
    bob = link(sf, BOB)
    assert refresh(sf, toks[0]["refresh_token"])[0] == 400
    assert query(sf, toks[0]["access_token"], "SELECT Id FROM Contact")[
        0] == 401
    for tok in toks[1:] + [bob]:
        assert refresh(sf, tok["refresh_token"])[0] == 200
    st = sf.state()
    assert st["live_grants"] == {ALICE: 5, BOB: 1, "mallory@example.com": 0}
    assert st["grants_dropped"] == 1


def test_fault_grant_limit_raises_the_five_grant_limit(sf):
    sf.control("faults", {"grant_limit": 7})
    toks = [link(sf) for _ in range(8)]
    assert refresh(sf, toks[0]["refresh_token"])[0] == 400
    for tok in toks[1:]:
        assert refresh(sf, tok["refresh_token"])[0] == 200
    st = sf.state()
    assert st["live_grants"][ALICE] == 7
    assert st["grants_dropped"] == 1


def test_fault_access_ttl_shortens_new_access_tokens(sf):
    old = link(sf)
    sf.control("faults", {"access_ttl": 1.0})
    new = link(sf)
    soql = "SELECT Id FROM Contact"
    assert query(sf, new["access_token"], soql)[0] == 200
    sf.control("advance", {"seconds": 1.5})
    assert query(sf, new["access_token"], soql)[0] == 401
    # Tokens issued before keep their lifetime.
    assert query(sf, old["access_token"], soql)[0] == 200


def test_fault_refresh_reply_delay_rotates_first_answers_late(sf):
    sf.control("faults", {"rotate_refresh": True,
                          "refresh_reply_delay": 0.6})
    tok = link(sf)
    out = {}

    def late():
        out["r"] = refresh(sf, tok["refresh_token"])

    t = threading.Thread(target=late)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.3)
    # The first refresh has already retired the token it presented.
    assert sf.state()["refreshes_ok"] == 1
    t.join(10)
    assert time.monotonic() - t0 >= 0.6
    status, body = out["r"]
    assert status == 200 and body["refresh_token"] != tok["refresh_token"]
    # The code exchange is not delayed.
    d0 = sf.state()["delays"]
    link(sf)
    assert sf.state()["delays"] == d0


def test_deactivated_user_gets_authentication_failure(sf):
    tok = link(sf)
    sf.control("faults", {"deactivated_users": [ALICE]})
    assert refresh(sf, tok["refresh_token"])[1] == {
        "error": "invalid_grant", "error_description":
        "authentication failure"}


# --------------------------------------------------------------------------
# revoke and userinfo

def test_revoke_refresh_token_revokes_its_sessions(sf):
    tok = link(sf)
    assert userinfo(sf, tok["access_token"])[0] == 200
    status, _, body = sf.post_form("/services/oauth2/revoke",
                                   {"token": tok["refresh_token"]})
    assert (status, body) == (200, b"")
    assert refresh(sf, tok["refresh_token"])[0] == 400
    assert userinfo(sf, tok["access_token"])[:3:2] == (403, b"Bad_OAuth_Token")
    status, _, body = query(sf, tok["access_token"], "SELECT Id FROM Contact")
    assert (status, body) == (401, INVALID_SESSION)
    # Again: the token is no longer valid.
    status, hdrs, body = sf.post_form("/services/oauth2/revoke",
                                      {"token": tok["refresh_token"]})
    assert status == 400
    assert body == b"error=invalid_token&error_description=invalid%20token"
    status, hdrs, body = sf.post_form("/services/oauth2/revoke",
                                      {"token": tok["refresh_token"]},
                                      {"Accept": "application/json"})
    assert (status, json.loads(body)["error"]) == (400, "invalid_token")
    st = sf.state()
    assert [r["kind"] for r in st["revocations"]] == [
        "refresh_token", "unknown", "unknown"]
    assert st["live_grants"][ALICE] == 0


def test_revoke_access_token_keeps_the_grant(sf):
    tok = link(sf)
    assert sf.post_form("/services/oauth2/revoke",
                        {"token": tok["access_token"]})[0] == 200
    assert userinfo(sf, tok["access_token"])[0] == 403
    status, new = refresh(sf, tok["refresh_token"])
    assert status == 200
    assert userinfo(sf, new["access_token"])[0] == 200


def test_revoke_without_token(sf):
    status, _, body = sf.post_form("/services/oauth2/revoke", {},
                                   {"Accept": "application/json"})
    assert (status, json.loads(body)["error"]) == (400,
                                                   "unsupported_token_type")


def test_userinfo_without_or_with_bad_token(sf):
    assert sf.get("/services/oauth2/userinfo")[:3:2] == (
        403, b"Missing_OAuth_Token")
    assert userinfo(sf, "00Dbogus!x")[:3:2] == (403, b"Bad_OAuth_Token")
    assert sf.state()["userinfo"] == 2


def test_identity_url_answers_for_its_own_user(sf):
    tok = link(sf)
    path = urllib.parse.urlsplit(tok["id"]).path
    status, _, body = sf.get(path, headers={
        "Authorization": "Bearer " + tok["access_token"]})
    assert status == 200 and json.loads(body)["username"] == ALICE


# --------------------------------------------------------------------------
# query

@pytest.fixture
def access(sf):
    return link(sf)["access_token"]


@pytest.mark.parametrize("literal, expected", [
    ("%smith%", SMITHS),
    ("%SMITH%", SMITHS),
    ("Pat Smith", ["Pat Smith"]),
    ("_at smith", ["Pat Smith"]),
    ("smith", []),
    ("%O\\'Brien%", ["Seán O'Brien"]),
    ("%\\'%", ["D'Angelo Russo", "Seán O'Brien"]),
    ("%\\%%", ["Percent 100% Person"]),
    ("%\\_%", ["Under_score Person"]),
    ("%\\\\%", ["Back\\slash Person"]),
    ("%\\u00eb%", ["Zoë Ångström"]),
    ("%ZO\\u00CB%", ["Zoë Ångström"]),
    ("%\\ud83d\\ude00%", ["Sunny \U0001F600 Day"]),
    ('%\\"The Rock\\"%', ['Dwayne "The Rock" Johnson']),
    ("%<!channel>%", ["Eve <!channel> & Mallory"]),
    ("%&%", ["Eve <!channel> & Mallory"]),
    ("%\\n%", []),
    ("%\\N\\r\\R\\t\\T\\b\\B\\f\\F%", []),
    ("%ångström%", ["Zoë Ångström"]),
])
def test_like_literals_decode_and_match(sf, access, literal, expected):
    assert names(sf, access, literal) == expected


@pytest.mark.parametrize("literal", [
    "a\\-b", "\\x", "\\U00eb", "\\u12", "\\u12G4", "\\uZZZZ", "\\a", "\\ ",
])
def test_bad_escape_is_malformed_query(sf, access, literal):
    status, _, body = query(sf, access, "SELECT Id FROM Contact WHERE "
                            "Name LIKE '%s'" % literal)
    err = json.loads(body)
    assert status == 400
    assert len(err) == 1 and err[0]["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:40" in err[0]["message"]


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FROM Contact WHERE Name LIKE 'abc", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name LIKE 'abc\\'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name LIKE 'abc\\", "MALFORMED_QUERY"),
    ("SELECT FROM Contact", "MALFORMED_QUERY"),
    ("SELECT Id, FROM Contact", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name == 'x'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name = x", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name != ", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name = 'a\\%'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE Name LIKE 'a' AND", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact WHERE AccountId LIKE '001%'",
     "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Opportunity WHERE IsClosed = 'false'",
     "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE IsClosed LIKE 'f%'",
     "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Opportunity WHERE OwnerId = 'abc'",
     "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Opportunity WHERE CloseDate = '2027-01-01'",
     "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity LIMIT 5 OFFSET five", "MALFORMED_QUERY"),
    ("SELECT Title FROM Account", "INVALID_FIELD"),
    ("SELECT StageName FROM Contact", "INVALID_FIELD"),
    ("SELECT Id FROM Lead", "INVALID_TYPE"),
    ("SELECT Id FROM Contact WHERE Name LIKE x", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact LIMIT 5 junk", "MALFORMED_QUERY"),
    ("SELECT Id FROM Contact; DROP", "MALFORMED_QUERY"),
    ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY"),
    ("SELECT Secret__c FROM Contact", "INVALID_FIELD"),
])
def test_bad_soql(sf, access, soql, code):
    status, _, body = query(sf, access, soql)
    assert (status, json.loads(body)[0]["errorCode"]) == (400, code)


# -- Accounts and opportunities (issue 15) --------------------------------

ALICE_ID = "0055g00000Xa001"     # the 15-character form


def records(sf, access, soql):
    status, _, body = query(sf, access, soql)
    assert status == 200, body
    return json.loads(body)["records"]


@pytest.mark.parametrize("literal, expected", [
    ("%acme%", ["Acme Corporation"]),
    ("%o\\'brien%", ["O'Brien & Partners"]),
    ("%100\\%%", ["100% Organic Ltd"]),
    ("%under\\_score%", ["Under_score Holdings"]),
    ("%back\\\\slash%", ["Back\\slash Systems"]),
    ("%{x}%", ["{x} Labs"]),
    ("%1; DROP%", ["1; DROP TABLE Account"]),
    ("%<!channel>%", ["<!channel> & <b>Co</b>"]),
    ("%99999%", []),
])
def test_account_search(sf, access, literal, expected):
    recs = records(sf, access, "SELECT Id, Name, Industry, Phone, Website, "
                   "BillingCity, OwnerId FROM Account WHERE Name LIKE '%s' "
                   "ORDER BY Name LIMIT 10" % literal)
    assert [r["Name"] for r in recs] == expected
    for r in recs:
        assert r["attributes"] == {
            "type": "Account",
            "url": "/services/data/v62.0/sobjects/Account/" + r["Id"]}
        assert list(r) == ["attributes", "Id", "Name", "Industry", "Phone",
                           "Website", "BillingCity", "OwnerId"]


def test_account_fields(sf, access):
    (r,) = records(sf, access, "SELECT Name, Industry, Phone, Website, "
                   "BillingCity FROM Account WHERE Name LIKE 'Initech'")
    assert (r["Industry"], r["Phone"], r["Website"], r["BillingCity"]) == (
        "Technology", "(512) 555-0100", None, "Austin")


PIPELINE = ("SELECT Id, Name, StageName, CloseDate, Amount, CurrencyIsoCode, "
            "Account.Name FROM Opportunity WHERE OwnerId = '%s' AND "
            "IsClosed = false ORDER BY CloseDate LIMIT %d")


def test_pipeline_query(sf, access):
    recs = records(sf, access, PIPELINE % (ALICE_ID, 10))
    # Twelve open, ten asked for, by close date; closed ones never.
    assert [r["CloseDate"] for r in recs] == sorted(
        r["CloseDate"] for r in recs)
    assert len(recs) == 10
    assert recs[0] == {
        "attributes": {"type": "Opportunity", "url": "/services/data/v62.0/"
                       "sobjects/Opportunity/" + recs[0]["Id"]},
        "Id": recs[0]["Id"], "Name": "Acme safety audit",
        "StageName": "Qualification", "CloseDate": "2026-12-15",
        "Amount": 8000.0, "CurrencyIsoCode": "USD",
        "Account": {"attributes": {
            "type": "Account", "url": "/services/data/v62.0/sobjects/"
            "Account/" + recs[0]["Account"]["attributes"]["url"][-18:]},
            "Name": "Acme Corporation"}}
    assert not any(r["StageName"].startswith("Closed") for r in recs)
    # All twelve; the 18-character id matches as the 15 does; the one
    # without an account has Account null; a null Amount stays null.
    recs = records(sf, access, PIPELINE % (ALICE_ID + "AAB", 50))
    assert len(recs) == 12
    assert {r["Name"]: r["Account"] for r in recs}["No account deal"] is None
    assert {r["Name"]: r["Amount"] for r in recs}["Under_score pilot"] \
        is None
    closed = records(sf, access, "SELECT Name FROM Opportunity WHERE "
                     "OwnerId = '%s' AND IsClosed = true" % ALICE_ID)
    assert sorted(r["Name"] for r in closed) == ["Acme 2025 deal",
                                                 "Initech lost bid"]
    # Another owner's, and LIMIT 1, and DESC.
    recs = records(sf, access, "SELECT Name FROM Opportunity WHERE OwnerId "
                   "= '0055g00000Xa002' AND IsClosed = false ORDER BY "
                   "CloseDate DESC LIMIT 1")
    assert [r["Name"] for r in recs] == ["Wayne vault"]
    # The query is recorded as received.
    status, _, body = sf.get("/_control/requests")
    assert [r["soql"] for r in json.loads(body) if r["soql"]][-1].endswith(
        "ORDER BY CloseDate DESC LIMIT 1")


def test_equality_filters(sf, access):
    # = on text is case-insensitive, and % is itself outside LIKE.
    assert [r["Name"] for r in records(
        sf, access, "SELECT Name FROM Account WHERE Name = "
        "'100% ORGANIC LTD'")] == ["100% Organic Ltd"]
    assert records(sf, access, "SELECT Name FROM Account WHERE Name = "
                   "'100_ Organic Ltd'") == []
    # != and null.
    names = [r["Name"] for r in records(
        sf, access, "SELECT Name FROM Opportunity WHERE AccountId = null")]
    assert names == ["No account deal"]
    assert len(records(sf, access, "SELECT Name FROM Opportunity WHERE "
                       "AccountId != null")) == 16


# -- Case: describe, create, composite (issue 15) -------------------------

V = "/services/data/v62.0"


def api(sf, access, method, path, obj=None, headers=None):
    h = {"Authorization": "Bearer " + access}
    h.update(headers or {})
    data = None
    if obj is not None:
        data = json.dumps(obj).encode()
        h["Content-Type"] = "application/json"
    status, hdrs, body = sf.request(method, V + path, data, h)
    return status, hdrs, json.loads(body) if body else None


def test_case_describe(sf, access):
    status, hdrs, d = api(sf, access, "GET", "/sobjects/Case/describe")
    assert status == 200 and d["name"] == "Case"
    assert hdrs["Sforce-Limit-Info"].startswith("api-usage=")
    f = {x["name"]: x for x in d["fields"]}
    assert (f["Subject"]["type"], f["Subject"]["length"]) == ("string", 255)
    assert (f["Description"]["type"], f["Description"]["length"]) == (
        "textarea", 32000)
    assert f["CaseNumber"]["createable"] is False
    assert f["AccountId"]["referenceTo"] == ["Account"]
    assert f["Priority"]["picklistValues"] == [
        {"active": True, "defaultValue": v == "Medium", "label": v,
         "validFor": None, "value": v} for v in ("High", "Medium", "Low")]
    # Cached by Last-Modified; a changed picklist is a newer describe.
    since = {"If-Modified-Since": hdrs["Last-Modified"]}
    assert api(sf, access, "GET", "/sobjects/Case/describe",
               headers=since)[0] == 304
    sf.control("faults", {"case_priorities": ["P1", "P2 <urgent>"]})
    status, hdrs2, d = api(sf, access, "GET", "/sobjects/Case/describe",
                           headers=since)
    assert status == 200
    assert [v["value"] for v in {x["name"]: x for x in d["fields"]}[
        "Priority"]["picklistValues"]] == ["P1", "P2 <urgent>"]
    # The change is dated when it was first described: a client asking
    # with that date (or a later one, e.g. when it fetched) gets 304.
    assert hdrs2["Last-Modified"] != hdrs["Last-Modified"]
    assert api(sf, access, "GET", "/sobjects/Case/describe", headers={
        "If-Modified-Since": hdrs2["Last-Modified"]})[0] == 304
    # Without a token: 401 as for queries.
    status, _, body = sf.get(V + "/sobjects/Case/describe")
    assert (status, body) == (401, INVALID_SESSION)


def test_case_create_and_read(sf, access):
    status, hdrs, r = api(sf, access, "POST", "/sobjects/Case/", {
        "Subject": "Printer on fire", "Description": "Line 1\nLine 2",
        "Priority": "High", "AccountId": ACME_ID})
    assert status == 201 and r["success"] is True and r["errors"] == []
    assert hdrs["Location"] == V + "/sobjects/Case/" + r["id"]
    status, _, rec = api(sf, access, "GET", "/sobjects/Case/%s?fields="
                         "CaseNumber,Subject,Status" % r["id"])
    assert rec == {"attributes": {"type": "Case", "url": V +
                                  "/sobjects/Case/" + r["id"]},
                   "CaseNumber": "00001026", "Subject": "Printer on fire",
                   "Status": "New"}
    (case,) = json.loads(sf.get("/_control/cases")[2])
    assert case["OwnerId"].startswith(ALICE_ID)
    assert api(sf, access, "GET", "/sobjects/Case/5005g00000Cs999")[
        :3:2] == (404, [{"errorCode": "NOT_FOUND",
                         "message": "The requested resource does not exist"}])
    assert api(sf, access, "GET", "/sobjects/Case/%s?fields=Secret__c"
               % r["id"])[2][0]["errorCode"] == "INVALID_FIELD"


ACME_ID = "0015g00000Bc001"
CASE_ERRORS = [
    # (faults, body, status, errors)
    ({}, {"Subject": "s" * 256}, 400, [{
        "message": "Subject: data value too large: %s (max length=255)"
        % ("s" * 256), "errorCode": "STRING_TOO_LONG",
        "fields": ["Subject"]}]),
    ({"case_lengths": {"Subject": 5}}, {"Subject": "s" * 6}, 400, [{
        "message": "Subject: data value too large: ssssss (max length=5)",
        "errorCode": "STRING_TOO_LONG", "fields": ["Subject"]}]),
    ({"case_lengths": {"Subject": 5}}, {"Subject": "s" * 5}, 201, None),
    ({"case_required": ["Subject"]}, {"Description": "d"}, 400, [{
        "message": "Required fields are missing: [Subject]",
        "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Subject"]}]),
    ({"case_required": ["Subject", "Origin"]}, {"Subject": ""}, 400, [{
        "message": "Required fields are missing: [Subject, Origin]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["Subject", "Origin"]}]),
    ({"case_validation": {"message": "Describe the impact first.",
                          "fields": ["Description"]}}, {"Subject": "s"}, 400,
     [{"message": "Describe the impact first.",
       "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
       "fields": ["Description"]}]),
    ({"case_validation": {"message": "Not on Fridays."}}, {"Subject": "s"},
     400, [{"message": "Not on Fridays.",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": []}]),
    ({"case_validation": {"message": "No fire.", "when": {
        "field": "Subject", "contains": "fire"}}}, {"Subject": "calm"}, 201,
     None),
    ({}, {"Subject": "s", "Priority": "Urgent"}, 400, [{
        "message": "Priority: bad value for restricted picklist field: "
        "Urgent", "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "fields": ["Priority"]}]),
    ({}, {"Subject": "s", "AccountId": "001x"}, 400, [{
        "message": "Account ID: id value of incorrect type: 001x",
        "errorCode": "MALFORMED_ID", "fields": ["AccountId"]}]),
    ({}, {"Subject": "s", "AccountId": "0015g00000Bc999"}, 400, [{
        "message": "invalid cross reference id",
        "errorCode": "INVALID_CROSS_REFERENCE_KEY", "fields": ["AccountId"]}]),
    ({}, {"Subject": "s", "CaseNumber": "1"}, 400, [{
        "message": "Unable to create/update fields: CaseNumber. Please check "
        "the security settings of this field and verify that it is "
        "read/write for your profile or permission set.",
        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
        "fields": ["CaseNumber"]}]),
    ({}, {"Id": "5005g00000Cs001", "Subject": "s"}, 400, [{
        "message": "The Id field should not be specified in the sobject "
        "data.", "errorCode": "INVALID_FIELD"}]),
    ({}, {"Subject": "s", "Secret__c": "x"}, 400, [{
        "message": "No such column 'Secret__c' on sobject of type Case",
        "errorCode": "INVALID_FIELD"}]),
    ({}, {"Subject": ["s"]}, 400, None),
]


@pytest.mark.parametrize("faults, body, status, errors", CASE_ERRORS)
def test_case_create_errors(sf, access, faults, body, status, errors):
    sf.control("faults", faults)
    got, _, r = api(sf, access, "POST", "/sobjects/Case", body)
    assert got == status, r
    if errors is not None:
        assert r == errors
    n = len(json.loads(sf.get("/_control/cases")[2]))
    assert n == (1 if status == 201 else 0)


def composite(sf, access, case, all_or_none=True, extra=()):
    return api(sf, access, "POST", "/composite", {
        "allOrNone": all_or_none, "compositeRequest": [
            {"method": "POST", "url": V + "/sobjects/Case",
             "referenceId": "refCase", "body": case},
            {"method": "GET", "url": V + "/sobjects/Case/@{refCase.id}"
             "?fields=CaseNumber", "referenceId": "refNumber"}] +
        list(extra)})


def test_composite_creates_and_reads_the_case_number(sf, access):
    status, hdrs, r = composite(sf, access, {"Subject": "Composite"})
    assert status == 200 and hdrs["Sforce-Limit-Info"]
    created, number = r["compositeResponse"]
    assert created["httpStatusCode"] == 201
    assert created["referenceId"] == "refCase"
    assert created["httpHeaders"] == {
        "Location": V + "/sobjects/Case/" + created["body"]["id"]}
    assert number == {"body": {
        "attributes": {"type": "Case", "url": V + "/sobjects/Case/" +
                       created["body"]["id"]},
        "CaseNumber": "00001026"}, "httpHeaders": {}, "httpStatusCode": 200,
        "referenceId": "refNumber"}
    assert sf.state()["case_creates"] == 1


HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another "
           "operation in the same transaction failed."}]


def test_composite_all_or_none_failure(sf, access):
    sf.control("faults", {"case_validation": {
        "message": "Subject may not say fire.", "fields": ["Subject"],
        "when": {"field": "Subject", "contains": "fire"}}})
    # A Case that passes, then one that fails: 200 outside, the failure
    # in its subrequest, the others halted, nothing kept.
    status, _, r = api(sf, access, "POST", "/composite", {
        "allOrNone": True, "compositeRequest": [
            {"method": "POST", "url": V + "/sobjects/Case",
             "referenceId": "ok1", "body": {"Subject": "calm"}},
            {"method": "POST", "url": V + "/sobjects/Case",
             "referenceId": "refCase", "body": {"Subject": "fire!"}},
            {"method": "GET", "url": V + "/sobjects/Case/@{refCase.id}",
             "referenceId": "refNumber"}]})
    assert status == 200
    assert [(x["referenceId"], x["httpStatusCode"], x["body"])
            for x in r["compositeResponse"]] == [
        ("ok1", 400, HALTED),
        ("refCase", 400, [{"message": "Subject may not say fire.",
                           "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                           "fields": ["Subject"]}]),
        ("refNumber", 400, HALTED)]
    assert json.loads(sf.get("/_control/cases")[2]) == []
    assert sf.state()["case_creates"] == 0
    # Without allOrNone the first Case stays, and the read of the failed
    # one cannot resolve its reference.
    status, _, r = composite(sf, access, {"Subject": "s" * 300}, False)
    created, number = r["compositeResponse"]
    assert created["body"][0]["errorCode"] == "STRING_TOO_LONG"
    assert number["httpStatusCode"] == 400
    assert number["body"] == [{
        "errorCode": "PROCESSING_HALTED", "message": "Invalid reference "
        "specified. No value for refCase.id found in refCase."}]


@pytest.mark.parametrize("body, code", [
    ([], "JSON_PARSER_ERROR"),
    ({"compositeRequest": []}, "INVALID_INPUT"),
    ({"allOrNone": "yes", "compositeRequest": [
        {"method": "GET", "url": V + "/sobjects/Case/x",
         "referenceId": "a"}]}, "JSON_PARSER_ERROR"),
    ({"compositeRequest": [{"method": "GET", "url": V + "/query?q=x",
                            "referenceId": "q%d" % i} for i in range(26)]},
     "LIMIT_EXCEEDED"),
    ({"compositeRequest": [{"method": "GET", "url": V + "/query?q=x",
                            "referenceId": "q%d" % i} for i in range(6)]},
     "LIMIT_EXCEEDED"),
    ({"compositeRequest": [{"method": "GET", "url": V + "/sobjects/Case/x",
                            "referenceId": "bad-ref"}]}, "INVALID_INPUT"),
    ({"compositeRequest": [
        {"method": "GET", "url": V + "/sobjects/Case/x", "referenceId": "a"},
        {"method": "GET", "url": V + "/sobjects/Case/y",
         "referenceId": "a"}]}, "INVALID_INPUT"),
    ({"compositeRequest": [{"method": "GET", "url": "/services/data/v61.0/"
                            "sobjects/Case/x", "referenceId": "a"}]},
     "INVALID_INPUT"),
    ({"compositeRequest": [{"method": "GET", "url": V + "/sobjects/Case/x",
                            "referenceId": "a", "httpHeaders": {
                                "Authorization": "Bearer x"}}]},
     "INVALID_INPUT"),
    ({"compositeRequest": [{"url": V + "/sobjects/Case/x",
                            "referenceId": "a"}]}, "INVALID_INPUT"),
])
def test_composite_malformed_is_an_outer_400(sf, access, body, code):
    status, _, r = api(sf, access, "POST", "/composite", body)
    assert status == 400 and r[0]["errorCode"] == code


def test_composite_runs_queries_and_records_subrequests(sf, access):
    status, _, r = api(sf, access, "POST", "/composite", {
        "compositeRequest": [{
            "method": "GET", "referenceId": "acct", "url": V + "/query?q=" +
            urllib.parse.quote("SELECT Id FROM Account WHERE Name LIKE "
                               "'Acme%'")}, {
            "method": "POST", "url": V + "/sobjects/Case",
            "referenceId": "refCase", "body": {
                "Subject": "For Acme",
                "AccountId": "@{acct.records[0].Id}"}}]})
    assert status == 200
    assert [x["httpStatusCode"] for x in r["compositeResponse"]] == [200, 201]
    (case,) = json.loads(sf.get("/_control/cases")[2])
    assert case["AccountId"].startswith(ACME_ID)
    (rec,) = [x for x in json.loads(sf.get("/_control/requests")[2])
              if x["path"].endswith("/composite")]
    assert rec["composite"] == [
        ["GET", V + "/query?q=" + urllib.parse.quote(
            "SELECT Id FROM Account WHERE Name LIKE 'Acme%'")],
        ["POST", V + "/sobjects/Case"]]


def test_query_returns_selected_fields_only(sf, access):
    status, hdrs, body = query(
        sf, access, "select id, NAME, Title, Email, Phone, MobilePhone, "
        "Account.Id, Account.Name from contact where name like '% smith' "
        "order by name limit 2")
    out = json.loads(body)
    assert status == 200
    assert out["totalSize"] == 2 and out["done"] is True
    assert "nextRecordsUrl" not in out
    jane, john = out["records"]
    assert john == {
        "attributes": {"type": "Contact", "url": "/services/data/v62.0/"
                       "sobjects/Contact/0035g00000Qz001AAB"},
        "Id": "0035g00000Qz001AAB", "Name": "John Smith",
        "Title": "VP Sales", "Email": "john.smith@acme.example",
        "Phone": "(415) 555-0101", "MobilePhone": "(415) 555-0199",
        "Account": {"attributes": {"type": "Account", "url": "/services/data"
                                   "/v62.0/sobjects/Account/"
                                   "0015g00000Bc001AAB"},
                    "Id": "0015g00000Bc001AAB", "Name": "Acme Corporation"}}
    assert jane["Name"] == "Jane Smith" and jane["MobilePhone"] is None
    assert re.fullmatch(r"api-usage=\d+/15000", hdrs["Sforce-Limit-Info"])


def test_null_account_and_partial_relationship(sf, access):
    status, _, body = query(sf, access, "SELECT Name, Account.Name FROM "
                            "Contact WHERE Name LIKE '% Smith' ORDER BY Name "
                            "DESC", version="v66.0")
    recs = json.loads(body)["records"]
    assert [r["Name"] for r in recs] == ["Pat Smith", "John Smith",
                                         "Jane Smith"]
    assert recs[0] == {"attributes": {
        "type": "Contact",
        "url": "/services/data/v66.0/sobjects/Contact/0035g00000Qz006AAB"},
        "Name": "Pat Smith", "Account": None}
    assert set(recs[1]["Account"]) == {"attributes", "Name"}


def test_api_usage_counts_calls(sf, access):
    for n in (1, 2):
        hdrs = query(sf, access, "SELECT Id FROM Contact LIMIT 1")[1]
        assert hdrs["Sforce-Limit-Info"] == "api-usage=%d/15000" % n
    assert sf.state()["queries"] == 2


def test_missing_q_and_unknown_version(sf, access):
    auth = {"Authorization": "Bearer " + access}
    status, _, body = sf.get("/services/data/v62.0/query", headers=auth)
    assert (status, json.loads(body)[0]["errorCode"]) == (400,
                                                          "MALFORMED_QUERY")
    status, _, body = sf.get("/services/data/v12.0/query", {"q": "x"},
                             headers=auth)
    assert (status, json.loads(body)[0]["errorCode"]) == (404, "NOT_FOUND")


def test_expired_access_token_gets_exact_401_then_refresh_works(sf):
    tok = link(sf)
    assert sf.control("expire_access_tokens") == {"expired": 1}
    status, hdrs, body = query(sf, tok["access_token"],
                               "SELECT Id FROM Contact")
    assert (status, body) == (401, INVALID_SESSION)
    assert hdrs["Content-Type"].startswith("application/json")
    assert query(sf, "", "SELECT Id FROM Contact")[0] == 401
    status, new = refresh(sf, tok["refresh_token"])
    assert query(sf, new["access_token"], "SELECT Id FROM Contact")[0] == 200


def test_access_token_lifetime(sf):
    tok = link(sf)
    sf.control("advance", {"seconds": 7201})
    assert query(sf, tok["access_token"], "SELECT Id FROM Contact")[0] == 401


def test_revoke_all_for_one_user(sf):
    alice, bob = link(sf), link(sf, BOB)
    assert sf.control("revoke_all", {"user": ALICE}) == {"revoked_grants": 1}
    assert refresh(sf, alice["refresh_token"])[0] == 400
    assert refresh(sf, bob["refresh_token"])[0] == 200


# --------------------------------------------------------------------------
# Slack response_url

def test_hooks_allow_five_posts_per_url(sf):
    for _ in range(5):
        assert sf.post_json("/hooks/commands/T1/1/abc", {"text": "hi"})[
            ::2] == (200, b"ok")
    assert sf.post_json("/hooks/commands/T1/1/abc", {"text": "hi"})[
        ::2] == (404, b"used_url")
    assert sf.post_json("/hooks/commands/T1/1/other", {"text": "x"})[0] == 200
    status, _, body = sf.request("POST", "/hooks/commands/T1/1/z",
                                 b"text=hi", {"Content-Type":
                                              "application/x-www-form-"
                                              "urlencoded"})
    assert (status, body) == (400, b"invalid_payload")
    assert sf.post_json("/hooks/commands/T1/1/z", {"x": 1})[::2] == (
        400, b"no_text")
    status, _, body = sf.get("/_control/hooks")
    hooks = json.loads(body)
    assert len(hooks) == 9
    assert hooks[0]["path"] == "/hooks/commands/T1/1/abc"
    assert hooks[0]["body"] == {"text": "hi"}
    assert [h["status"] for h in hooks] == [200] * 5 + [404, 200, 400, 400]


def test_hooks_status_fault(sf):
    sf.control("faults", {"hooks_status": 500})
    assert sf.post_json("/hooks/a", {"text": "x"})[0] == 500


# --------------------------------------------------------------------------
# faults

def test_fault_delay_applies_to_query_and_userinfo(sf, access):
    sf.control("faults", {"delay": 0.4})
    t0 = time.monotonic()
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200
    assert userinfo(sf, access)[0] == 200
    assert time.monotonic() - t0 >= 0.8
    sf.control("faults", {"delay": None})
    d0 = sf.state()["delays"]
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200
    assert sf.state()["delays"] == d0


def test_fault_query_delay_applies_to_query_only(sf, access):
    sf.control("faults", {"query_delay": 0.5})
    d0 = sf.state()["delays"]
    assert userinfo(sf, access)[0] == 200
    assert sf.state()["delays"] == d0
    t0 = time.monotonic()
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200
    assert time.monotonic() - t0 >= 0.5
    sf.control("faults", {"query_delay": None})
    d0 = sf.state()["delays"]
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200
    assert sf.state()["delays"] == d0


def test_fault_token_delay(sf):
    sf.control("faults", {"token_delay": 0.3})
    t0 = time.monotonic()
    link(sf)
    assert time.monotonic() - t0 >= 0.3


@pytest.mark.parametrize("status, body", [
    (500, [{"message": "An unexpected error occurred. Please include this "
            "ErrorId if you contact support: 1452464078-314667 "
            "(-1173371248)", "errorCode": "UNKNOWN_EXCEPTION"}]),
    (503, [{"message": "Server too busy", "errorCode": "SERVER_UNAVAILABLE"}]),
    (403, [{"message": "TotalRequests Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
])
def test_fault_query_status(sf, access, status, body):
    sf.control("faults", {"query_status": status})
    got = query(sf, access, "SELECT Id FROM Contact")
    assert (got[0], json.loads(got[2])) == (status, body)


def test_fault_query_status_count(sf, access):
    sf.control("faults", {"query_status": 500, "query_status_count": 1})
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 500
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200


def test_fault_query_body_and_huge(sf, access):
    sf.control("faults", {"query_body": "{not json"})
    assert query(sf, access, "SELECT Id FROM Contact")[::2] == (
        200, b"{not json")
    sf.control("faults", {"query_body": None, "huge": 300000})
    status, _, body = query(sf, access, "SELECT Id FROM Contact")
    assert status == 200 and len(body) == 300000
    assert json.loads(body)["done"] is True


def test_fault_query_body_b64_sends_raw_bytes(sf, access):
    raw = b'{"totalSize":1,"done":true,"records":[{"Name":"\xff\xfe"}]}'
    sf.control("faults", {"query_body_b64": base64.b64encode(raw).decode()})
    assert query(sf, access, "SELECT Id FROM Contact")[::2] == (200, raw)
    status, _, _ = sf.post_json("/_control/faults",
                                {"query_body_b64": "not base64!"})
    assert status == 400
    sf.control("faults", {"query_body_b64": None})
    assert json.loads(query(sf, access, "SELECT Id FROM Contact")[2])[
        "done"] is True


def test_fault_blackhole_never_answers(sf, access):
    sf.control("faults", {"blackhole": True})
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        query(sf, access, "SELECT Id FROM Contact", timeout=0.5)
    sf.control("faults", {"blackhole": False})
    assert query(sf, access, "SELECT Id FROM Contact")[0] == 200


def test_fault_drip_sends_slowly(sf, access):
    sf.control("faults", {"drip": 2000})
    t0 = time.monotonic()
    status, _, body = query(sf, access, "SELECT Id, Name FROM Contact "
                            "LIMIT 5")
    assert status == 200 and json.loads(body)["totalSize"] == 5
    assert time.monotonic() - t0 >= len(body) / 2000 * 0.8


def test_fault_token_reply_shape(sf):
    sf.control("faults", {"bad_signature": True,
                          "instance_url": "https://evil.example"})
    tok = link(sf)
    mac = hmac.new(SECRET.encode(), (tok["id"] + tok["issued_at"]).encode(),
                   hashlib.sha256).digest()
    assert tok["signature"] != base64.b64encode(mac).decode()
    assert tok["instance_url"] == "https://evil.example"


def test_fault_token_status(sf):
    tok = link(sf)
    sf.control("faults", {"token_status": 503})
    status, err = refresh(sf, tok["refresh_token"])
    assert status == 503 and err["error"] == "unknown_error"


def test_fault_auto_consent_skips_the_page(sf):
    sf.control("faults", {"auto_consent": BOB})
    status, hdrs, _ = sf.get("/services/oauth2/authorize",
                             authorize_params(challenge_of("v" * 43)))
    assert status == 302 and "code" in callback_params(hdrs["Location"])


def test_faults_reject_unknown_keys_and_reset_clears(sf):
    status, _, body = sf.post_json("/_control/faults", {"nope": 1})
    assert status == 400
    sf.control("faults", {"delay": 1})
    sf.control("reset")
    assert sf.state()["faults"] == {}


# --------------------------------------------------------------------------
# Remembered approvals (the sid cookie), prompt=login, per-user userinfo
# fields and which tokens the client revoked (issue 11)

def browser_consent(sf, params, cookie=None, user=ALICE, action="Allow"):
    """As consent(), but as a browser with the stand-in's sid cookie:
    returns (the cookie, the callback parameters)."""
    h = {"Cookie": cookie} if cookie else {}
    status, hdrs, body = sf.get("/services/oauth2/authorize", params,
                                headers=h)
    assert status == 200, body
    if cookie is None:
        sc = hdrs["Set-Cookie"]
        assert re.fullmatch(r"sid=[A-Za-z0-9_-]{32}; Path=/; Secure; "
                            r"HttpOnly; SameSite=Lax", sc), sc
        cookie = sc.split(";")[0]
    else:
        assert "Set-Cookie" not in hdrs
    cid = re.search(r'name="consent" value="([^"]+)"',
                    body.decode()).group(1)
    status, hdrs, _ = sf.post_form("/services/oauth2/authorize", {
        "consent": cid, "user": user, "action": action},
        headers={"Cookie": cookie})
    assert status == 302
    return cookie, callback_params(hdrs["Location"])


def authorize_as_browser(sf, cookie, **over):
    return sf.get("/services/oauth2/authorize",
                  authorize_params(challenge_of("v" * 43), **over),
                  headers={"Cookie": cookie} if cookie else {})


def authorize_ledger(sf):
    status, _, body = sf.get("/_control/requests")
    return [(r["status"], r["prompt"], r["prompt_login"], r["remembered"])
            for r in json.loads(body)
            if r["method"] == "GET" and
            r["path"] == "/services/oauth2/authorize"]


def test_remembered_approval_skips_the_page(sf):
    sf.control("faults", {"remember_approvals": True})
    verifier = new_verifier()
    cookie, cb = browser_consent(
        sf, authorize_params(challenge_of(verifier)), user=BOB)
    SEEN_SECRETS.add(cb["code"])
    # The same browser, the same app: a code at once, for Bob.
    verifier = new_verifier()
    status, hdrs, _ = authorize_as_browser(
        sf, cookie, code_challenge=challenge_of(verifier), state="again")
    assert status == 302
    cb = callback_params(hdrs["Location"])
    assert cb["state"] == "again"
    SEEN_SECRETS.add(cb["code"])
    status, tok = exchange(sf, cb["code"], verifier)
    assert status == 200
    assert json.loads(userinfo(sf, tok["access_token"])[2])[
        "preferred_username"] == BOB
    st = sf.state()
    assert st["silent_approvals"] == 1 and st["consents"] == 1
    assert authorize_ledger(sf) == [(200, None, False, False),
                                    (302, None, False, True)]


@pytest.mark.parametrize("prompt", ["login", "login consent", "consent",
                                    "select_account"])
def test_prompt_login_never_skips_the_page(sf, prompt):
    sf.control("faults", {"remember_approvals": True})
    cookie, cb = browser_consent(sf, authorize_params(challenge_of("v" * 43)))
    SEEN_SECRETS.add(cb["code"])
    status, _, body = authorize_as_browser(sf, cookie, prompt=prompt)
    assert status == 200 and b"Allow Access?" in body
    # The page preselects the user the browser is logged in as.
    assert b'value="alice@example.com" checked' in body
    assert authorize_ledger(sf)[-1] == (200, prompt, "login" in prompt,
                                        False)
    assert sf.state()["silent_approvals"] == 0


def test_approvals_are_not_remembered_by_default(sf):
    cookie, cb = browser_consent(sf, authorize_params(challenge_of("v" * 43)))
    SEEN_SECRETS.add(cb["code"])
    assert authorize_as_browser(sf, cookie)[0] == 200
    assert sf.state()["silent_approvals"] == 0


def test_only_an_approving_browser_skips_the_page(sf):
    sf.control("faults", {"remember_approvals": True})
    # No cookie, a cookie the stand-in never saw: the page.
    assert authorize_as_browser(sf, None)[0] == 200
    assert authorize_as_browser(sf, "sid=" + "x" * 32)[0] == 200
    # Deny remembers nothing.
    cookie, cb = browser_consent(sf, authorize_params(challenge_of("v" * 43)),
                                 action="Deny")
    assert cb["error"] == "access_denied"
    assert authorize_as_browser(sf, cookie)[0] == 200
    # An Allow without the cookie (the POST did not carry it) neither.
    status, _, body = authorize_as_browser(sf, cookie)
    cid = re.search(r'name="consent" value="([^"]+)"',
                    body.decode()).group(1)
    status, hdrs, _ = sf.post_form("/services/oauth2/authorize", {
        "consent": cid, "user": ALICE, "action": "Allow"})
    SEEN_SECRETS.add(callback_params(hdrs["Location"])["code"])
    assert authorize_as_browser(sf, cookie)[0] == 200
    # Revoking the user's grants forgets the approval; so does a
    # deactivated user; so does a reset.
    cookie, cb = browser_consent(sf, authorize_params(challenge_of("v" * 43)))
    SEEN_SECRETS.add(cb["code"])
    assert authorize_as_browser(sf, cookie)[0] == 302
    sf.control("revoke_all", {"user": ALICE})
    assert authorize_as_browser(sf, cookie)[0] == 200
    cookie, cb = browser_consent(sf, authorize_params(challenge_of("v" * 43)),
                                 cookie=cookie)
    SEEN_SECRETS.add(cb["code"])
    sf.control("faults", {"deactivated_users": [ALICE]})
    assert authorize_as_browser(sf, cookie)[0] == 200
    sf.control("faults", {"deactivated_users": None})
    assert authorize_as_browser(sf, cookie)[0] == 302
    sf.control("reset")
    sf.control("faults", {"remember_approvals": True})
    assert authorize_as_browser(sf, cookie)[0] == 200


def test_userinfo_email_is_settable_per_user(sf):
    tok = link(sf)
    out = sf.control("users", {ALICE: {"email": "alice@other.example",
                                       "email_verified": False}})
    assert out == {ALICE: {"email": "alice@other.example",
                           "email_verified": False}}
    info = json.loads(userinfo(sf, tok["access_token"])[2])
    assert (info["email"], info["email_verified"]) == (
        "alice@other.example", False)
    assert info["preferred_username"] == ALICE
    status, _, body = sf.get(urllib.parse.urlsplit(tok["id"]).path, headers={
        "Authorization": "Bearer " + tok["access_token"]})
    ident = json.loads(body)
    assert (ident["email"], ident["email_verified"]) == (
        "alice@other.example", False)
    # Bob is untouched; null removes a field; a reset removes them all.
    bob = link(sf, BOB)
    info = json.loads(userinfo(sf, bob["access_token"])[2])
    assert (info["email"], info["email_verified"]) == (BOB, True)
    sf.control("users", {ALICE: {"email_verified": None}})
    info = json.loads(userinfo(sf, tok["access_token"])[2])
    assert (info["email"], info["email_verified"]) == (
        "alice@other.example", True)
    sf.control("reset")
    assert sf.get("/_control/users")[2] == b"{}"


@pytest.mark.parametrize("bad", [
    {"nobody@example.com": {"email": "x"}}, {ALICE: {"phone": "1"}},
    {ALICE: {"email_verified": "no"}}, {ALICE: "x"}])
def test_users_control_rejects_bad_input(sf, bad):
    assert sf.post_json("/_control/users", bad)[0] == 400
    assert sf.get("/_control/users")[2] == b"{}"


def test_a_test_sees_which_tokens_the_client_revoked(sf):
    first, second = link(sf), link(sf)
    sf.post_form("/services/oauth2/revoke", {"token": first["refresh_token"]})
    sf.post_form("/services/oauth2/revoke", {"token": second["access_token"]})
    info = sf.control("token_info", {"token": first["refresh_token"]})
    assert info == {"known": True, "kind": "refresh_token", "grant": 1,
                    "user": ALICE, "retired": False, "revoked": True,
                    "revoked_by": "revoke", "live": False}
    info = sf.control("token_info", {"token": first["access_token"]})
    assert (info["kind"], info["revoked"], info["revoked_by"]) == (
        "access_token", True, "revoke")
    info = sf.control("token_info", {"token": second["access_token"]})
    assert (info["grant"], info["revoked"], info["revoked_by"]) == (
        2, True, "revoke")
    info = sf.control("token_info", {"token": second["refresh_token"]})
    assert (info["revoked"], info["live"]) == (False, True)
    assert sf.control("token_info", {"token": "00Dnot-issued"}) == {
        "known": False}
    assert sf.post_json("/_control/token_info", {})[0] == 400
    status, _, body = sf.get("/_control/grants")
    grants = json.loads(body)
    assert [(g["grant"], g["user"], g["client_id"], g["revoked"],
             g["revoked_by"], g["live_access_tokens"]) for g in grants] == [
        (1, ALICE, CLIENT_ID, True, "revoke", 0),
        (2, ALICE, CLIENT_ID, False, None, 0)]
    # The request ledger names the grant each token call and revoke
    # touched.
    status, _, body = sf.get("/_control/requests")
    got = [(r["path"], r["grant_type"], r["grant"])
           for r in json.loads(body) if r["method"] == "POST"
           and r["path"] != "/services/oauth2/authorize"]
    assert got == [("/services/oauth2/token", "authorization_code", 1),
                   ("/services/oauth2/token", "authorization_code", 2),
                   ("/services/oauth2/revoke", None, 1),
                   ("/services/oauth2/revoke", None, 2)]


def test_grants_say_why_they_were_revoked(sf):
    sf.control("faults", {"grant_limit": 1, "rotate_refresh": True})
    first = link(sf)
    second = link(sf)
    status, new = refresh(sf, second["refresh_token"])
    assert status == 200
    refresh(sf, second["refresh_token"])        # a retired token: theft
    third = link(sf, BOB)
    sf.control("revoke_all", {"user": BOB})
    status, _, body = sf.get("/_control/grants")
    assert [(g["user"], g["revoked_by"]) for g in json.loads(body)] == [
        (ALICE, "grant_limit"), (ALICE, "retired_refresh"),
        (BOB, "revoke_all")]
    assert sf.control("token_info", {"token": first["access_token"]})[
        "revoked_by"] == "grant_limit"
    assert sf.control("token_info", {"token": third["refresh_token"]})[
        "revoked_by"] == "revoke_all"
    assert sf.control("token_info", {"token": second["refresh_token"]})[
        "retired"] is True



# --------------------------------------------------------------------------
# The client credentials flow, a second org (--org b) and the request ledger

RUN_AS = "integration@orgb.example"
B_SMITHS = ["Ravi Smithfield", "Sarah Smith", "Tom Smithson"]


@pytest.fixture(scope="module")
def sfb(tmp_path_factory, certs):
    """A second stand-in: org B, its app allowed the client credentials
    flow as RUN_AS."""
    tmp = tmp_path_factory.mktemp("standin-b")
    proc, port, url, log = start(tmp, certs, extra=(
        "--org", "b", "--run-as", RUN_AS))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    yield StandIn(proc, port, url, ctx, log, certs)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def client_credentials(sf, **over):
    f = {"grant_type": "client_credentials", "client_id": CLIENT_ID,
         "client_secret": SECRET}
    f.update(over)
    status, _, body = sf.post_form("/services/oauth2/token",
                                   {k: v for k, v in f.items()
                                    if v is not None})
    out = json.loads(body)
    if "access_token" in out:
        SEEN_SECRETS.add(out["access_token"])
    return status, out


def test_client_credentials_without_run_as_user_is_invalid_grant(sf):
    status, err = client_credentials(sf)
    assert (status, err) == (400, {
        "error": "invalid_grant",
        "error_description": "no client credentials user enabled"})
    assert sf.state()["token_requests"]["client_credentials"] == 1


@pytest.mark.parametrize("over,error", [
    ({"client_id": "3MVG9other"}, "invalid_client_id"),
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"client_secret": None}, "invalid_client"),
])
def test_client_credentials_bad_client(sfb, over, error):
    sfb.control("reset")
    status, err = client_credentials(sfb, **over)
    assert (status, err["error"]) == (400, error)
    assert sfb.state()["client_credentials_ok"] == 0


def test_client_credentials_gives_the_run_as_users_token(sfb):
    sfb.control("reset")
    status, tok = client_credentials(sfb)
    assert status == 200, tok
    assert "refresh_token" not in tok
    assert set(tok) == {"access_token", "signature", "scope",
                        "instance_url", "id", "token_type", "issued_at",
                        "token_format"}
    assert tok["token_type"] == "Bearer" and tok["scope"] == "api"
    assert tok["instance_url"] == sfb.url
    org, user = tok["id"].rsplit("/", 2)[-2:]
    assert org.startswith("00D8d000001XyZq") and len(org) == 18
    assert user.startswith("0058d00000Yb003")
    mac = hmac.new(SECRET.encode(), (tok["id"] + tok["issued_at"]).encode(),
                   hashlib.sha256).digest()
    assert tok["signature"] == base64.b64encode(mac).decode()
    status, _, body = userinfo(sfb, tok["access_token"])
    info = json.loads(body)
    assert status == 200
    assert info["preferred_username"] == RUN_AS
    assert info["is_salesforce_integration_user"] is True
    assert info["organization_id"] == org
    # Org B's contacts, not org A's.
    assert names(sfb, tok["access_token"], "%smith%") == B_SMITHS
    st = sfb.state()
    assert st["client_credentials_ok"] == 1
    assert st["token_requests"]["client_credentials"] == 1
    # A token, not a grant anyone consented to.
    assert st["live_grants"] == {"carol@orgb.example": 0,
                                 "dave@orgb.example": 0, RUN_AS: 0}


def test_client_credentials_token_expires_like_any_other(sfb):
    sfb.control("reset")
    _, tok = client_credentials(sfb)
    assert sfb.control("expire_access_tokens") == {"expired": 1}
    status, _, body = query(sfb, tok["access_token"],
                            "SELECT Id FROM Contact")
    assert (status, body) == (401, INVALID_SESSION)
    _, tok2 = client_credentials(sfb)
    assert tok2["access_token"] != tok["access_token"]
    assert names(sfb, tok2["access_token"], "%smith%") == B_SMITHS


def test_deactivated_run_as_user_gets_authentication_failure(sfb):
    sfb.control("reset")
    sfb.control("faults", {"deactivated_users": [RUN_AS]})
    status, err = client_credentials(sfb)
    assert (status, err["error"], err["error_description"]) == (
        400, "invalid_grant", "authentication failure")


def test_org_b_has_its_own_users(sfb):
    sfb.control("reset")
    status, _, body = sfb.get("/services/oauth2/authorize",
                              authorize_params(challenge_of("v" * 43)))
    page = body.decode()
    assert status == 200
    assert "carol@orgb.example" in page and ALICE not in page


def test_a_token_of_one_org_is_refused_by_the_other(sf, sfb):
    sfb.control("reset")
    tok = link(sf)
    status, _, body = query(sfb, tok["access_token"],
                            "SELECT Id FROM Contact")
    assert (status, body) == (401, INVALID_SESSION)
    status, _, body = userinfo(sfb, tok["access_token"])
    assert (status, body) == (403, b"Bad_OAuth_Token")
    status, err = refresh(sfb, tok["refresh_token"])
    assert (status, err["error"]) == (400, "invalid_grant")
    # And the other way round.
    _, btok = client_credentials(sfb)
    status, _, body = query(sf, btok["access_token"],
                            "SELECT Id FROM Contact")
    assert (status, body) == (401, INVALID_SESSION)


def test_pipeline_pages(sf, access):
    """ORDER BY several fields (each with its direction and NULLS) and
    OFFSET page through Alice's twelve open opportunities without a
    repeat or a gap; past SOQL's 2,000 rows OFFSET is refused."""
    q = ("SELECT Id, Name, CloseDate, Amount FROM Opportunity WHERE "
         "OwnerId = '%s' AND IsClosed = false ORDER BY CloseDate, Amount "
         "DESC NULLS LAST, Id LIMIT 5" % ALICE_ID)
    pages = [records(sf, access, q + (" OFFSET %d" % o if o else ""))
             for o in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    flat = [r["Id"] for p in pages for r in p]
    assert len(set(flat)) == 12
    keys = [(r["CloseDate"], -(r["Amount"] or 0)) for p in pages for r in p]
    assert keys == sorted(keys)
    status, _, body = query(sf, access, q + " OFFSET 2001")
    assert (status, json.loads(body)[0]["errorCode"]) == (
        400, "NUMBER_OUTSIDE_VALID_RANGE")
    assert records(sf, access, q + " OFFSET 2000") == []


def test_currency_switch(sf, access):
    """/_control/currency turns org A into a single-currency org (no
    CurrencyIsoCode: INVALID_FIELD) and back; reset restores it."""
    q = "SELECT Name, CurrencyIsoCode FROM Opportunity LIMIT 1"
    assert sf.control("currency")["multi"] is True
    assert records(sf, access, q)[0]["CurrencyIsoCode"]
    assert sf.control("currency", {"multi": False}) == {"multi": False}
    status, _, body = query(sf, access, q)
    err = json.loads(body)[0]
    assert (status, err["errorCode"]) == (400, "INVALID_FIELD")
    assert "CurrencyIsoCode" in err["message"]
    sf.control("reset")
    assert sf.control("currency")["multi"] is True


def test_org_b_has_one_currency(sfb):
    """Org B is a single-currency org: Opportunity has no
    CurrencyIsoCode, as in a real org without multiple currencies."""
    sfb.control("reset")
    _, btok = client_credentials(sfb)
    status, _, body = query(sfb, btok["access_token"],
                            "SELECT Name, CurrencyIsoCode FROM Opportunity")
    assert (status, json.loads(body)[0]["errorCode"]) == (400,
                                                          "INVALID_FIELD")
    status, _, body = query(sfb, btok["access_token"],
                            "SELECT Name, Amount FROM Opportunity ORDER BY "
                            "Name")
    assert [(r["Name"], r["Amount"]) for r in json.loads(body)[
        "records"]] == [("Contoso cloud", 90000.0),
                        ("Northwind POS", 20000.0)]


def test_request_ledger(sf):
    tok = link(sf)
    query(sf, tok["access_token"], "SELECT Id FROM Contact")
    query(sf, "00Dnot!a-token-of-this-org", "SELECT Id FROM Contact")
    userinfo(sf, tok["access_token"])
    refresh(sf, tok["refresh_token"])
    sf.post_form("/services/oauth2/revoke", {"token": tok["refresh_token"]})
    sf.post_json("/hooks/commands/T1/1", {"text": "x"})
    status, _, body = sf.get("/_control/requests")
    assert status == 200
    got = [(r["method"], r["path"], r["status"], r["client_id"],
            r["grant_type"], r["user"], r["token_known"])
           for r in json.loads(body)]
    assert got == [
        ("GET", "/services/oauth2/authorize", 200, CLIENT_ID, None, None,
         None),
        ("POST", "/services/oauth2/authorize", 302, CLIENT_ID, None, None,
         None),
        ("POST", "/services/oauth2/token", 200, CLIENT_ID,
         "authorization_code", None, None),
        ("GET", "/services/data/v62.0/query", 200, CLIENT_ID, None, ALICE,
         True),
        ("GET", "/services/data/v62.0/query", 401, None, None, None, False),
        ("GET", "/services/oauth2/userinfo", 200, CLIENT_ID, None, ALICE,
         True),
        ("POST", "/services/oauth2/token", 200, CLIENT_ID, "refresh_token",
         None, None),
        ("POST", "/services/oauth2/revoke", 200, CLIENT_ID, None, None,
         True),
    ]
    sf.control("reset")
    assert sf.get("/_control/requests")[2] == b"[]"


def test_run_as_must_be_a_user_of_the_org(tmp_path, certs):
    proc = subprocess.run([
        sys.executable, str(HERE / "salesforce.py"),
        "--cert", str(certs / "server.pem"),
        "--key", str(certs / "server.key"), "--client-secret", "x",
        "--redirect-uri", REDIRECT, "--run-as", ALICE, "--org", "b"],
        capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert "--run-as: alice@example.com is not a user of org b" in \
        proc.stderr


def test_zz_log_never_contains_secrets(sf):
    text = sf.log.read_text()
    assert "GET /services/oauth2/authorize" in text
    assert SEEN_SECRETS
    for value in SEEN_SECRETS | {SECRET}:
        assert value not in text
        assert urllib.parse.quote(value, safe="") not in text


def test_zz_org_b_log_never_contains_secrets(sfb):
    text = sfb.log.read_text()
    assert "POST /services/oauth2/token" in text
    for value in SEEN_SECRETS | {SECRET}:
        assert value not in text
        assert urllib.parse.quote(value, safe="") not in text
