"""Issue 3, point 9: no token, code, verifier, key or secret anywhere.

Every Stack checks this when it stops (harness.Stack.secret_leaks): the
stand-in keeps a ledger of every code, access token and refresh token it
issued and every PKCE verifier it received, and the harness adds the
Slack signing secret, the Salesforce client secret and the store key.  It
then searches, for each secret as it is and URL-encoded (24-byte pieces
of its head, middle and tail; the key also raw and in hex):

  - the argv of every process (supervisors, workers, nginx);
  - every Slack message the programs posted to a response_url;
  - forcelink.log, nginx's access and error logs (the URLs it logged);
  - the database, its WAL and shared-memory files (plaintext).

A leak anywhere fails that module's teardown, so the check covers the
whole end-to-end suite.  This module drives every path that handles a
secret, with debug logging on, checks the places explicitly, and first
proves that the search finds a planted secret in each kind of place.
"""

import base64
import json
import re
import secrets
import socket
import subprocess
import urllib.parse

import pytest

from harness import BUILD, PROGRAMS, Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("secrets"),
              env_overrides={"FORCELINK_DEBUG": "1"}).start()
    yield s
    s.stop()


def test_the_search_finds_a_planted_secret_in_every_kind_of_place(stack):
    stack.link(user="U0PLANT")
    secrets = stack.secret_values()
    token = next(v for v in secrets if v.startswith("5Aep861"))
    code = next(v for v in secrets if v.startswith("aPrx"))
    raw_key = base64.b64decode(stack.key)
    plants = {
        "planted-plain.log": b"time=x msg=\"oops " + token.encode() + b"\"",
        # A code in a logged URL is URL-encoded ("==" -> "%3D%3D").
        "planted-url.log": ("GET /oauth/callback?code=%s HTTP/1.1" %
                            urllib.parse.quote(code, safe="")).encode(),
        "forcelink.db-planted": b"\x00\x01" + raw_key + b"\x00",
        "planted-hex.log": raw_key.hex().encode(),
        "planted-b64.log": b"key=" + stack.key.encode(),
        "planted-secret.log": stack.client_secret.encode() + b"\n",
        # Only the tail survived a truncation: still a leak.
        "planted-tail.log": token[-30:].encode(),
    }
    try:
        for name, data in plants.items():
            (stack.dir / name).write_bytes(data)
        leaks = stack.secret_leaks(files=True)
        for name in plants:
            assert any(l.startswith(name + ":") for l in leaks), (name, leaks)
        assert not [l for l in leaks if not l.startswith(tuple(plants))]
    finally:
        for name in plants:
            (stack.dir / name).unlink()


def test_argv_and_slack_messages_are_searched(stack):
    argv = stack.process_argv()
    # A supervisor with 2 workers per program, and nginx with its
    # worker(s).
    assert len(argv) >= 3 * len(PROGRAMS) + 2, argv
    progs = [a for a in argv.values() if b"/cgi/" in a]
    assert len(progs) == 3 * len(PROGRAMS), progs
    places = [name for name, _ in stack.leak_places(files=False)]
    assert sum(n.startswith("argv of pid") for n in places) == len(argv)


def _every_secret_path(stack):
    """Runs every path that handles a code, token, verifier or key."""
    stack.faults(rotate_refresh=True)
    for user, sf_user in (("U0SEC1", "alice@example.com"),
                          ("U0SEC2", "bob@example.com")):
        r = stack.link(user=user, sf_user=sf_user)
        assert r.status == 200, r.text
    assert "Alice" in stack.slash("whoami", user="U0SEC1").text
    assert stack.slash("smith", user="U0SEC1").status == 200
    # Expired sessions: refresh with rotation, for both users.
    stack.sf("POST", "/_control/expire_access_tokens", {})
    for user in ("U0SEC1", "U0SEC2"):
        assert "Smith" in stack.slash("smith", user=user).text
    # A replayed callback (the code is spent) and a denied consent.
    login = stack.login_url(user="U0SEC3")
    r, cookie = stack.start_login(login)
    location = stack.consent(r.headers["Location"])
    assert stack.callback(location, cookie).status == 200
    assert stack.callback(location, cookie).status >= 400
    r, cookie = stack.start_login(stack.login_url(user="U0SEC4"))
    denied = stack.consent(r.headers["Location"], action="Deny")
    assert stack.callback(denied, cookie).status == 400
    # The token endpoint failing mid-link, and a refused refresh.
    stack.faults(token_status=500)
    r, cookie = stack.start_login(stack.login_url(user="U0SEC5"))
    location = stack.consent(r.headers["Location"])
    assert stack.callback(location, cookie).status >= 500
    stack.faults(token_status=None)
    stack.sf("POST", "/_control/revoke_all", {"user": "bob@example.com"})
    stack.sf("POST", "/_control/expire_access_tokens", {})
    assert "/oauth/start" in stack.slash("smith", user="U0SEC2").text
    # Logout revokes the refresh token at Salesforce.
    assert "Logged out" in stack.slash("logout", user="U0SEC1").text


def test_no_secret_anywhere_after_every_secret_path(stack):
    _every_secret_path(stack)
    secrets = stack.secret_values()
    shapes = {"code": r"aPrx", "access token": r"00D\w+!AQ",
              "refresh token": r"5Aep861"}
    for what, prefix in shapes.items():
        n = sum(bool(re.match(prefix, v)) for v in secrets)
        assert n >= 3, "too few %s in the ledger: %d" % (what, n)
    leaks = stack.secret_leaks(files=False) + stack.secret_leaks(files=True)
    assert leaks == []
    # The places searched are the real ones, not empty files.
    places = dict(stack.leak_places(files=True))
    for name in ("forcelink.log", "nginx-access.log", "var/forcelink.db"):
        assert len(places.get(name, b"")) > 1000, (name, sorted(places))
    assert b"http.response" in places["forcelink.log"]     # debug is on
    assert b"/oauth/callback" in places["nginx-access.log"]


# -- secret files: one final newline, no other whitespace ----------------------

# (name, file content, what the line says).  The value is the stand-in's
# client secret with the mistake added.
BAD_SECRET_FILES = [
    ("trailing space", "{} \n", "a space"),
    ("leading space", " {}\n", "a space"),
    ("second newline", "{}\n\n", "a line break"),
    ("inner tab", "{}\tx\n", "a tab"),
    ("bare CR", "{}\r", "a carriage return"),
]


def start_refused(stack, prog, env, tmp_path):
    """Runs prog as systemd would (a listening socket on standard input);
    it must stop at once.  Returns its standard error."""
    path = tmp_path / ("%s.sock" % prog)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))
        s.listen(16)
        p = subprocess.run([str(BUILD / "cgi" / prog)], stdin=s.fileno(),
                           env=env, capture_output=True, text=True,
                           timeout=20, cwd=str(tmp_path))
    assert p.returncode == 1, (prog, p.returncode, p.stderr)
    return p.stderr


@pytest.mark.parametrize("name,content,what", BAD_SECRET_FILES,
                         ids=[c[0] for c in BAD_SECRET_FILES])
def test_secret_file_with_whitespace_stops_programs_and_doctor_says(
        stack, tmp_path, name, content, what):
    bad = tmp_path / "sf_secret_bad"
    bad.write_text(content.format(stack.client_secret), newline="")
    bad.chmod(0o600)
    env = stack.env()
    env["SF_CLIENT_SECRET_FILE"] = str(bad)
    line = ("SF_CLIENT_SECRET_FILE: the secret holds %s (only one final "
            "newline of a file is dropped; remove any other whitespace)"
            % what)
    for prog in PROGRAMS:
        err = start_refused(stack, prog, env, tmp_path)
        assert err == "%s: %s\n" % (prog, line), err
    assert stack.client_secret not in err
    # doctor reports the same line as its config check, and nothing more.
    env["FORCELINK_SOCKET_DIR"] = str(stack.dir)
    r = subprocess.run([str(BUILD / "admin" / "forcelink-admin"), "doctor",
                        "--json"], env=env, capture_output=True, text=True,
                       timeout=40, cwd=str(stack.dir))
    assert r.returncode == 1, (r.stdout, r.stderr)
    checks = json.loads(r.stdout)["checks"]
    assert [c["check"] for c in checks] == ["config"], checks
    assert checks[0]["status"] == "fail"
    assert line in checks[0]["detail"], checks[0]
    assert stack.client_secret not in r.stdout + r.stderr


def test_bot_token_of_another_kind_stops_programs(stack, tmp_path):
    """SLACK_BOT_TOKEN (or _FILE) holding a user's (xoxp-) or an app's
    (xapp-) token: every program stops at start with one line naming the
    variable read, never the value, and doctor's config check says the
    same (README, SLACK_BOT_TOKEN)."""
    user = "xoxp-%s" % secrets.token_hex(16)
    app = "xapp-1-%s" % secrets.token_hex(16)
    f = tmp_path / "bot_token_bad"
    f.write_text(user + "\n")
    f.chmod(0o600)
    for i, (var, value, env_value) in enumerate((
            ("SLACK_BOT_TOKEN_FILE", user, str(f)),
            ("SLACK_BOT_TOKEN", app, app))):
        env = stack.env()
        env[var] = env_value
        line = ("%s must be a bot token (xoxb-... or, with token "
                "rotation, xoxe.xoxb-...)" % var)
        # A short directory: a socket's path has at most 107 bytes.
        (tmp_path / str(i)).mkdir()
        for prog in PROGRAMS:
            err = start_refused(stack, prog, env, tmp_path / str(i))
            assert err == "%s: %s\n" % (prog, line), err
            assert value[5:] not in err
        env["FORCELINK_SOCKET_DIR"] = str(stack.dir)
        r = subprocess.run([str(BUILD / "admin" / "forcelink-admin"),
                            "doctor", "--json"], env=env,
                           capture_output=True, text=True, timeout=40,
                           cwd=str(stack.dir))
        assert r.returncode == 1, (r.stdout, r.stderr)
        checks = json.loads(r.stdout)["checks"]
        assert [(c["check"], c["status"]) for c in checks] == [
            ("config", "fail")]
        assert line in checks[0]["detail"]
        assert value[5:] not in r.stdout + r.stderr


def test_secret_file_with_one_crlf_is_the_secret(stack, tmp_path):
    """One final CRLF is dropped: doctor's config check passes and the
    programs keep running (they serve through nginx with it below)."""
    good = tmp_path / "sf_secret_crlf"
    good.write_text(stack.client_secret + "\r\n", newline="")
    good.chmod(0o600)
    env = stack.env()
    env["SF_CLIENT_SECRET_FILE"] = str(good)
    env["FORCELINK_SOCKET_DIR"] = str(stack.dir)
    r = subprocess.run([str(BUILD / "admin" / "forcelink-admin"), "doctor",
                        "--json"], env=env, capture_output=True, text=True,
                       timeout=40, cwd=str(stack.dir))
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["config"]["status"] == "ok", checks
