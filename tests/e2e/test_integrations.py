"""Several Salesforce orgs on one forcelink: named integrations, workspace
mappings and integration-user mode (issue 6 points 3 and 4).

Three stand-in orgs run beside one stack: D, the stack's own, is the
default integration (the environment's SF_*); A (org a, another app, at
https://localhost:PORT) and B (org b, its own ids, users and contacts,
at https://127.0.0.1:PORT, its app allowed the client credentials flow
as integration@orgb.example).  forcelink-admin, the real binary, adds
the integrations "a", "b" and "bcc" (B's app in integration-user mode)
and maps workspace T1 to a, T2 to b and T3 to bcc; T9 has no mapping.

Every Salesforce call is checked in the stand-ins' request ledgers
(GET /_control/requests: each request, its status, the client id it
named or its token was issued to, the user behind the token): a T1
user's calls reach only A with A's client id, a T2 user's only B with
B's, the default's only D, and nothing reaches an org it should not.
Then: a token of one org is refused by the other, and an instance_url
outside an integration's own login host is refused; a remapped
workspace's old links are never refreshed against the new integration
(they are not used at all, and a logout revokes them with their own);
integration-user mode answers without linking and says so, fetches one
token for many concurrent requests and re-fetches once on a 401; and
the admin commands' outputs and errors.  The programs are never
restarted: every admin change is seen by the next request.
"""

import base64
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import pytest

from harness import (BUILD, CLIENT_ID, ROOT, SANITIZER_MARKS, Stack,
                     block_texts, contact_names, late_acks)

ADMIN = BUILD / "admin" / "forcelink-admin"
MAN = ROOT / "admin" / "forcelink-admin.8"

CLIENT_A = "3MVG9e2e.integration_org_a"
CLIENT_B = "3MVG9e2e.integration_org_b"
RUN_AS = "integration@orgb.example"
ORG_A = "00D5g000004ZyAbEAK"
ORG_B = "00D8d000001XyZqEAK"
A_SMITHS = {"Adam Smithers", "Carla Blacksmith", "Jane Smith", "John Smith",
            "Oliver Goldsmith", "Pat Smith"}
B_SMITHS = {"Ravi Smithfield", "Sarah Smith", "Tom Smithson"}

T1, T2, T3, T5, T9 = ("T0INT0001", "T0INT0002", "T0INT0003", "T0INT0005",
                      "T0INT0009")
IUSER = "as the integration user"
MOVED = "Your workspace now uses another Salesforce integration"

OUTPUTS = []    # everything forcelink-admin printed, for the secrets check


def admin(stack, *args, rc=None, env=None):
    e = stack.env()
    e.update(env or {})
    r = subprocess.run([str(ADMIN)] + [str(a) for a in args],
                       env={k: v for k, v in e.items() if v is not None},
                       cwd=str(stack.dir),
                       capture_output=True, text=True, timeout=30)
    OUTPUTS.append(r.stdout + r.stderr)
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr
    if rc is not None:
        assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    return r


class Orgs:
    """The stack and its three orgs, with a cursor per ledger."""

    def __init__(self, stack, a, b):
        self.stack, self.a, self.b = stack, a, b
        self.marks = {}

    def d_requests(self):
        return self.stack.sf("GET", "/_control/requests").json()

    def mark(self):
        """Remembers where each ledger is now."""
        self.marks = {"a": len(self.a.requests()),
                      "b": len(self.b.requests()),
                      "d": len(self.d_requests())}

    def since(self):
        """The requests each org answered since mark()."""
        return {"a": self.a.requests()[self.marks["a"]:],
                "b": self.b.requests()[self.marks["b"]:],
                "d": self.d_requests()[self.marks["d"]:]}


@pytest.fixture(scope="module")
def orgs(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("stack")).start()
    try:
        a = stack.start_extra_standin("a", CLIENT_A, org="a",
                                      host="localhost")
        b = stack.start_extra_standin("b", CLIENT_B, org="b", run_as=RUN_AS,
                                      host="127.0.0.1")
        admin(stack, "integration", "add", "a", "--login-url", a.url,
              "--client-id", CLIENT_A, "--client-secret-file",
              a.secret_file, rc=0)
        admin(stack, "integration", "add", "b", "--login-url", b.url + "/",
              "--client-id", CLIENT_B, "--client-secret-file",
              b.secret_file, "--api-version", "v66.0", rc=0)
        admin(stack, "integration", "add", "bcc", "--integration-user",
              "--login-url", b.url, "--client-id", CLIENT_B,
              "--client-secret-file", b.secret_file, rc=0)
        for team, name in ((T1, "a"), (T2, "b"), (T3, "bcc")):
            admin(stack, "workspace", "set-integration", team, name, rc=0)
        yield Orgs(stack, a, b)
    finally:
        stack.stop()


def login_url(stack, team, user):
    r = stack.slash("login", team, user)
    assert r.status == 200, r.text
    m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[\w-]+)",
                  r.json()["text"])
    assert m, r.text
    return m.group(1)


def link(o, org, team, user, sf_user):
    """The whole login flow of Slack user (team, user) at stand-in org
    (an ExtraStandin, or None for D); returns the callback Response."""
    stack = o.stack
    r, cookie = stack.start_login(login_url(stack, team, user))
    assert r.status == 302, r.text
    loc = r.headers["Location"]
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    if org is None:
        assert loc.startswith(stack.sf_url + "/services/oauth2/authorize?")
        assert q["client_id"] == CLIENT_ID
        back = stack.consent(loc, sf_user)
    else:
        assert loc.startswith(org.url + "/services/oauth2/authorize?"), loc
        assert q["client_id"] == org.client_id
        back = org.consent(loc, sf_user)
    return stack.callback(back, cookie)


def search(stack, team, user, text="smith"):
    r = stack.slash(text, team, user)
    assert r.status == 200, r.text
    return r.json()


def view(stack):
    return {(l["team_id"], l["user_id"]): l for l in stack.links()}


def only(reqs, client_id):
    """Asserts that every request of a ledger came with client_id (named,
    or the client its token was issued to); returns them as tuples."""
    for r in reqs:
        assert r["client_id"] == client_id, r
    return [(r["method"], r["path"], r["status"], r["grant_type"],
             r["user"]) for r in reqs]


# -- links that never cross ---------------------------------------------------

def test_links_never_cross(orgs):
    o, stack = orgs, orgs.stack
    o.mark()
    assert link(o, o.a, T1, "U0INT0001", "alice@example.com").status == 200
    r = link(o, o.b, T2, "U0INT0002", "carol@orgb.example")
    assert r.status == 200 and "carol@orgb.example" in r.text
    assert link(o, None, T9, "U0INT0003", "bob@example.com").status == 200
    assert contact_names(search(stack, T1, "U0INT0001")) == A_SMITHS
    assert contact_names(search(stack, T2, "U0INT0002")) == B_SMITHS
    assert contact_names(search(stack, T9, "U0INT0003")) == A_SMITHS
    who = stack.slash("whoami", T2, "U0INT0002").json()["text"]
    assert "carol@orgb.example" in who and o.b.url in who

    v = view(stack)
    assert (v[T1, "U0INT0001"]["integration"], v[T1, "U0INT0001"]["org"],
            v[T1, "U0INT0001"]["sf_org_id"],
            v[T1, "U0INT0001"]["instance_url"]) == ("a", "a", ORG_A, o.a.url)
    assert (v[T2, "U0INT0002"]["integration"],
            v[T2, "U0INT0002"]["sf_org_id"],
            v[T2, "U0INT0002"]["sf_username"],
            v[T2, "U0INT0002"]["instance_url"]) == (
        "b", ORG_B, "carol@orgb.example", o.b.url)
    assert v[T9, "U0INT0003"]["integration"] == ""

    # Expired sessions refresh with their own integration only.
    o.a.sf("POST", "/_control/expire_access_tokens")
    o.b.sf("POST", "/_control/expire_access_tokens")
    assert contact_names(search(stack, T1, "U0INT0001")) == A_SMITHS
    assert contact_names(search(stack, T2, "U0INT0002")) == B_SMITHS
    r = stack.slash("logout", T2, "U0INT0002").json()
    assert r["text"].startswith("Logged out"), r

    got = o.since()
    assert only(got["a"], CLIENT_A) == [
        ("GET", "/services/oauth2/authorize", 200, None, None),
        ("POST", "/services/oauth2/authorize", 302, None, None),
        ("POST", "/services/oauth2/token", 200, "authorization_code", None),
        ("GET", "/services/oauth2/userinfo", 200, None, "alice@example.com"),
        ("GET", "/services/data/v62.0/query", 200, None, "alice@example.com"),
        ("GET", "/services/data/v62.0/query", 401, None, "alice@example.com"),
        ("POST", "/services/oauth2/token", 200, "refresh_token", None),
        ("GET", "/services/data/v62.0/query", 200, None, "alice@example.com"),
    ]
    # B's app was added with --api-version v66.0: the query says so.
    assert only(got["b"], CLIENT_B) == [
        ("GET", "/services/oauth2/authorize", 200, None, None),
        ("POST", "/services/oauth2/authorize", 302, None, None),
        ("POST", "/services/oauth2/token", 200, "authorization_code", None),
        ("GET", "/services/oauth2/userinfo", 200, None, "carol@orgb.example"),
        ("GET", "/services/data/v66.0/query", 200, None, "carol@orgb.example"),
        ("GET", "/services/oauth2/userinfo", 200, None, "carol@orgb.example"),
        ("GET", "/services/data/v66.0/query", 401, None, "carol@orgb.example"),
        ("POST", "/services/oauth2/token", 200, "refresh_token", None),
        ("GET", "/services/data/v66.0/query", 200, None, "carol@orgb.example"),
        ("POST", "/services/oauth2/revoke", 200, None, None),
    ]
    assert only(got["d"], CLIENT_ID) == [
        ("GET", "/services/oauth2/authorize", 200, None, None),
        ("POST", "/services/oauth2/authorize", 302, None, None),
        ("POST", "/services/oauth2/token", 200, "authorization_code", None),
        ("GET", "/services/oauth2/userinfo", 200, None, "bob@example.com"),
        ("GET", "/services/data/v62.0/query", 200, None, "bob@example.com"),
    ]
    assert (T2, "U0INT0002") not in view(stack)


def test_a_token_of_one_org_fails_at_the_other(orgs):
    o = orgs
    issued = o.a.sf("GET", "/_control/secrets").json()
    access = [t for t in issued if t.startswith("00D5g000004ZyAb!")]
    refresh = [t for t in issued if t.startswith("5Aep861")]
    assert access and refresh
    o.mark()
    for t in access:
        r = o.b.request("GET", o.b.url + "/services/data/v66.0/query?q=" +
                        urllib.parse.quote("SELECT Id FROM Contact"),
                        headers={"Authorization": "Bearer " + t})
        assert r.status == 401, r.text
    for t in refresh:
        r = o.b.request("POST", o.b.url + "/services/oauth2/token",
                        urllib.parse.urlencode({
                            "grant_type": "refresh_token",
                            "refresh_token": t, "client_id": CLIENT_B,
                            "client_secret": o.b.client_secret}).encode(),
                        {"Content-Type":
                         "application/x-www-form-urlencoded"})
        assert (r.status, r.json()["error"]) == (400, "invalid_grant")
    got = o.since()["b"]
    assert [r["token_known"] for r in got if r["grant_type"] is None] == \
        [False] * len(access)

    # An org that answers with another host's instance_url: B's reply
    # names A's host, which is neither Salesforce's nor B's login host.
    o.b.faults(instance_url=o.a.url)
    try:
        r = link(o, o.b, T2, "U0INT0004", "dave@orgb.example")
    finally:
        o.b.faults(instance_url=None)
    assert r.status == 502 and "could not be verified" in r.text
    assert (T2, "U0INT0004") not in view(o.stack)


# -- a remapped workspace -----------------------------------------------------

def test_remapped_workspace_never_refreshes_old_links(orgs):
    o, stack = orgs, orgs.stack
    assert link(o, o.a, T1, "U0INT0005", "bob@example.com").status == 200
    r = admin(stack, "workspace", "set-integration", T1, "b", rc=0)
    assert r.stdout == (
        "workspace %s now uses integration b (before: a)\n"
        "2 links in it, 2 of them made with another integration: those "
        "users are asked to link again\n" % T1)
    o.a.sf("POST", "/_control/expire_access_tokens")
    o.mark()
    # The old link is not used, for a search or a whoami: no call at all,
    # and a login link that says why.
    for text in ("smith", "whoami"):
        m = search(stack, T1, "U0INT0001", text)
        assert MOVED in m["text"], m
        assert "/oauth/start?state=" in m["text"]
    got = o.since()
    assert got == {"a": [], "b": [], "d": []}
    v = view(stack)
    assert v[T1, "U0INT0001"]["integration"] == "a"

    # A logout still revokes such a link, with its own integration.
    o.mark()
    m = stack.slash("logout", T1, "U0INT0005").json()
    assert m["text"].startswith("Logged out"), m
    got = o.since()
    assert only(got["a"], CLIENT_A) == [
        ("POST", "/services/oauth2/revoke", 200, None, None)]
    assert got["b"] == [] and got["d"] == []
    assert (T1, "U0INT0005") not in view(stack)

    # Linking again goes to B; the replaced grant is revoked at A.
    revoked = len(o.a.state()["revocations"])
    o.mark()
    r = link(o, o.b, T1, "U0INT0001", "dave@orgb.example")
    assert r.status == 200 and "dave@orgb.example" in r.text
    got = o.since()
    assert only(got["a"], CLIENT_A) == [
        ("POST", "/services/oauth2/revoke", 200, None, None)]
    assert o.a.state()["revocations"][revoked:] == [
        {"kind": "refresh_token", "ok": True}]
    assert [r["path"] for r in got["b"]] == [
        "/services/oauth2/authorize", "/services/oauth2/authorize",
        "/services/oauth2/token", "/services/oauth2/userinfo"]
    only(got["b"], CLIENT_B)
    v = view(stack)[T1, "U0INT0001"]
    assert (v["integration"], v["sf_org_id"], v["sf_username"]) == (
        "b", ORG_B, "dave@orgb.example")
    assert contact_names(search(stack, T1, "U0INT0001")) == B_SMITHS

    # Mapped back: the link made with b is now the one not used.
    admin(stack, "workspace", "set-integration", T1, "a", rc=0)
    assert MOVED in search(stack, T1, "U0INT0001")["text"]


# -- integration-user mode ----------------------------------------------------

def iuser_line(m):
    """The context line of an integration-user answer: first in text and
    as the first block."""
    first = m["blocks"][0]
    assert first["type"] == "context", m
    line = first["elements"][0]["text"]
    assert m["text"].startswith(line + "\n"), m["text"][:200]
    return line


def test_integration_user_searches_without_linking(orgs):
    o, stack = orgs, orgs.stack
    o.mark()
    m = search(stack, T3, "U0INT0007")
    assert iuser_line(m) == ("Results from Salesforce as the integration "
                             "user " + RUN_AS)
    assert contact_names(m, strict=False) == B_SMITHS
    m = search(stack, T3, "U0INT0008", "nobody-matches-this")
    assert iuser_line(m).startswith("Results from Salesforce " + IUSER)
    assert "No contacts match" in m["text"]
    got = o.since()
    assert got["a"] == [] and got["d"] == []
    assert only(got["b"], CLIENT_B) == [
        ("POST", "/services/oauth2/token", 200, "client_credentials", None),
        ("GET", "/services/oauth2/userinfo", 200, None, RUN_AS),
        ("GET", "/services/data/v62.0/query", 200, None, RUN_AS),
        ("GET", "/services/data/v62.0/query", 200, None, RUN_AS),
    ]
    assert not [k for k in view(stack) if k[0] == T3]
    assert stack.sql("SELECT integration, sf_username, sf_org_id, "
                     "version FROM integration_token") == [
        ("bcc", RUN_AS, ORG_B, 1)]

    # Every other answer says so too, and none needs a link.
    w = stack.slash("whoami", T3, "U0INT0007").json()
    assert ("This workspace searches Salesforce as the integration user *"
            + RUN_AS + "*") in w["text"]
    assert IUSER in iuser_line(w)
    for text, says in (("help", "as the integration user of this workspace"),
                       ("", "nobody needs to log in"),
                       ("login", "No login is needed here"),
                       ("logout", "Nothing to log out")):
        m = stack.slash(text, T3, "U0INT0007").json()
        line = iuser_line(m)
        assert line == ("This workspace uses Salesforce as the integration "
                        "user " + RUN_AS), line
        assert says in m["text"], (text, m["text"])
        assert any(says in t for t in block_texts(m["blocks"])), text
        assert "oauth/start" not in m["text"]


def test_integration_user_pipeline_and_accounts(orgs):
    """Issue 15: /pipeline lists *my* opportunities, which an integration
    user cannot know: a clear answer and no Salesforce call at all.
    /account searches as the integration user, with its cards."""
    o, stack = orgs, orgs.stack
    o.mark()
    for text in ("", "3"):
        r = stack.slash(text, T3, "U0INT0020", command="/pipeline")
        assert r.status == 200, r.text
        m = r.json()
        assert "cannot tell which opportunities are yours" in m["text"], m
        assert not iuser_line(m).startswith("Results from Salesforce")
    got = o.since()
    assert got["a"] == [] and got["b"] == [] and got["d"] == []
    r = stack.slash("northwind", T3, "U0INT0021", command="/account")
    m = r.json()
    assert iuser_line(m).startswith("Results from Salesforce " + IUSER)
    assert "1 account matching \u201cnorthwind\u201d" in m["text"]
    assert [b["type"] for b in m["blocks"]] == [
        "context", "section", "section", "actions"]


def cc_requests(reqs):
    return [r for r in reqs if r["grant_type"] == "client_credentials"]


def test_integration_user_refetches_once_on_401(orgs):
    o, stack = orgs, orgs.stack
    o.b.sf("POST", "/_control/expire_access_tokens")
    o.mark()
    m = search(stack, T3, "U0INT0007")
    assert contact_names(m, strict=False) == B_SMITHS
    assert IUSER in iuser_line(m)
    assert only(o.since()["b"], CLIENT_B) == [
        ("GET", "/services/data/v62.0/query", 401, None, RUN_AS),
        ("POST", "/services/oauth2/token", 200, "client_credentials", None),
        ("GET", "/services/oauth2/userinfo", 200, None, RUN_AS),
        ("GET", "/services/data/v62.0/query", 200, None, RUN_AS),
    ]
    assert stack.sql("SELECT version FROM integration_token") == [(2,)]


def burst(stack, n, team=T3):
    """n concurrent searches by n users of team; returns the answers."""
    out, errs = [None] * n, []

    def one(i):
        try:
            t0 = time.monotonic()
            r = stack.slash("smith", team, "U0INTB%03d" % i)
            out[i] = (r.status, r.json(), time.monotonic() - t0)
        except Exception as e:     # reported below, with the others
            errs.append(repr(e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errs, errs
    return out


@pytest.mark.parametrize("how", ["none cached", "cached one expired"])
def test_integration_user_one_fetch_for_a_burst(orgs, how):
    o, stack = orgs, orgs.stack
    if how == "none cached":
        assert stack.sql_exec("DELETE FROM integration_token") == 1
    else:
        o.b.sf("POST", "/_control/expire_access_tokens")
    # A slow token endpoint keeps every request waiting on the one fetch.
    o.b.faults(token_delay=0.4)
    o.mark()
    mark = stack.log_mark()
    try:
        answers = burst(stack, 16)
    finally:
        o.b.faults(token_delay=None)
    # In time as the workers sent them (secs, at the client, also holds
    # what a busy machine adds).
    acks = stack.acks(mark, n=16)
    assert len(acks) == 16 and not late_acks(acks), (
        acks, [a[2] for a in answers])
    for status, m, secs in answers:
        assert status == 200, (status, secs)
        assert contact_names(m, strict=False) == B_SMITHS
        assert IUSER in iuser_line(m)
    got = only(o.since()["b"], CLIENT_B)
    assert len(cc_requests(o.since()["b"])) == 1, got
    assert [g for g in got if g[1].endswith("/query") and g[2] == 200] == \
        [("GET", "/services/data/v62.0/query", 200, None, RUN_AS)] * 16
    assert o.b.state()["max_inflight_token_requests"] == 1


def test_integration_user_refused(orgs):
    o, stack = orgs, orgs.stack
    o.b.faults(deactivated_users=[RUN_AS])
    try:
        o.mark()
        m = search(stack, T3, "U0INT0007")
    finally:
        o.b.faults(deactivated_users=None)
    assert "Salesforce refused forcelink's integration user" in m["text"]
    assert IUSER in iuser_line(m)
    assert "oauth/start" not in m["text"]
    assert [(r["path"], r["status"], r["grant_type"])
            for r in o.since()["b"]] == [
        ("/services/data/v62.0/query", 401, None),
        ("/services/oauth2/token", 400, "client_credentials")]
    # Once Salesforce takes it again, so does forcelink.
    assert contact_names(search(stack, T3, "U0INT0007"),
                         strict=False) == B_SMITHS


# -- the admin commands -------------------------------------------------------

def test_integration_and_workspace_lists(orgs):
    o, stack = orgs, orgs.stack
    v = stack.links()
    links = {n: sum(1 for l in v if l["integration"] == n)
             for n in ("", "a", "b", "bcc")}
    r = admin(stack, "integration", "list", "--json", rc=0)
    got = json.loads(r.stdout)
    for e in got:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                            e.pop("created_at") or "0000-00-00T00:00:00Z")
    assert got == [
        {"name": "", "default": True, "login_url": stack.sf_url,
         "client_id": CLIENT_ID, "api_version": "v62.0",
         "integration_user": False, "integration_username": None,
         "workspaces": 0, "links": links[""]},
        {"name": "a", "default": False, "login_url": o.a.url,
         "client_id": CLIENT_A, "api_version": "v62.0",
         "integration_user": False, "integration_username": None,
         "workspaces": 1, "links": links["a"]},
        {"name": "b", "default": False, "login_url": o.b.url,
         "client_id": CLIENT_B, "api_version": "v66.0",
         "integration_user": False, "integration_username": None,
         "workspaces": 1, "links": links["b"]},
        {"name": "bcc", "default": False, "login_url": o.b.url,
         "client_id": CLIENT_B, "api_version": "v62.0",
         "integration_user": True, "integration_username": RUN_AS,
         "workspaces": 1, "links": 0},
    ]
    r = admin(stack, "integration", "list", rc=0)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "LOGIN_URL", "CLIENT_ID", "API",
                                "MODE", "WORKSPACES", "LINKS", "ADDED"]
    assert lines[1].split() == ["default", stack.sf_url, CLIENT_ID, "v62.0",
                                "links", "0", str(links[""]),
                                "(environment)"]
    assert lines[4].split()[:8] == ["bcc", o.b.url, CLIENT_B, "v62.0",
                                    "integration", "user", RUN_AS, "1"]
    assert len(lines) == 5

    r = admin(stack, "workspace", "list", "--json", rc=0)
    got = [(w["id"], w["kind"], w["integration"]) for w in json.loads(
        r.stdout)]
    assert got == [(T1, "team", "a"), (T2, "team", "b"), (T3, "team", "bcc")]
    assert json.loads(r.stdout)[0]["links_other_integration"] == 1
    r = admin(stack, "workspace", "list", rc=0)
    assert r.stdout.splitlines()[0].split() == [
        "ID", "KIND", "INTEGRATION", "LINKS", "OTHER_INTEGRATION", "SET"]
    assert r.stdout.splitlines()[3].split()[:3] == [T3, "team", "bcc"]


ADMIN_ERRORS = [
    (["integration"], 2, "integration: add, set-secret, list or remove?"),
    (["integration", "set-secret", "nope", "--client-secret-file",
      "{secret}"], 3, "no integration 'nope'"),
    (["integration", "set-secret", "a"], 2,
     "--client-secret-file is required"),
    (["integration", "set-secret", "a", "--login-url", "https://x.example"],
     2, "integration set-secret: unknown option --login-url"),
    (["integration", "frob"], 2, "integration: unknown command 'frob'"),
    (["integration", "add", "a", "--login-url", "https://x.example",
      "--client-id", "x", "--client-secret-file", "{secret}"], 1,
     "integration 'a' exists already"),
    (["integration", "add", "new", "--login-url", "http://x.example",
      "--client-id", "x", "--client-secret-file", "{secret}"], 2,
     "--login-url must be an https URL without a path"),
    (["integration", "add", "new", "--login-url", "https://x.example/p",
      "--client-id", "x", "--client-secret-file", "{secret}"], 2,
     "--login-url must be an https URL without a path"),
    (["integration", "add", "new", "--login-url",
      "https://login.salesforce.com", "--client-id", "x",
      "--client-secret-file", "{secret}", "--integration-user"], 2,
     "--integration-user needs the org's My Domain login URL"),
    (["integration", "add", "Default", "--login-url", "https://x.example",
      "--client-id", "x", "--client-secret-file", "{secret}"], 2,
     "not \"default\""),
    (["integration", "add", "new", "--login-url", "https://x.example",
      "--client-id", "x", "--client-secret-file", "{secret}",
      "--api-version", "66"], 2, "--api-version must look like v62.0"),
    (["integration", "add", "new", "--login-url", "https://x.example",
      "--client-id", "x y", "--client-secret-file", "{secret}"], 2,
     "--client-id must be printable text without spaces"),
    (["integration", "add", "new", "--login-url", "https://x.example",
      "--client-id", "x"], 2, "are required"),
    (["integration", "add", "new", "--login-url", "https://x.example",
      "--client-id", "x", "--client-secret-file", "/nonexistent"], 2,
     "cannot read /nonexistent"),
    (["integration", "add", "new", "--login-url", "https://x.example",
      "--client-id", "x", "--client-secret-file", "{twolines}"], 2,
     "must hold the consumer secret alone, on one line"),
    (["integration", "list", "--force"], 2,
     "integration list: unknown option --force"),
    (["integration", "remove", "nope"], 3, "no integration 'nope'"),
    (["integration", "remove", "default"], 2, "cannot be removed"),
    (["integration", "remove", "a"], 1,
     "integration 'a' is used by 1 workspace mapping and"),
    (["workspace", "set-integration", T1, "nope"], 3,
     "no integration 'nope'"),
    (["workspace", "set-integration", "U0INT0001", "a"], 2,
     "TEAM must be a Slack team id (T...) or an Enterprise Grid id"),
    (["workspace", "set-integration", T1], 2, "needs exactly two operands"),
    (["workspace", "unset", "T0INT0099"], 3,
     "workspace T0INT0099 has no mapping"),
    (["workspace", "unset", "E0INT0099"], 3,
     "enterprise E0INT0099 has no mapping"),
]


def admin_state(stack):
    """What an admin command may change: the integrations, the mappings
    and the number of links."""
    return (stack.sql("SELECT name FROM sf_integration ORDER BY name"),
            stack.sql("SELECT slack_id, integration FROM "
                      "workspace_integration ORDER BY slack_id"),
            stack.sql("SELECT count(*) FROM sf_link"))


@pytest.mark.parametrize("args,rc,message", ADMIN_ERRORS,
                         ids=[" ".join(a[:3]) + "-%d" % i for i, (a, _, _)
                              in enumerate(ADMIN_ERRORS)])
def test_admin_errors(orgs, args, rc, message):
    stack = orgs.stack
    (stack.dir / "two_lines").write_text("line one\nline two\n")
    args = [a.format(secret=orgs.a.secret_file,
                     twolines=stack.dir / "two_lines") for a in args]
    before = admin_state(stack)
    r = admin(stack, *args)
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert "forcelink-admin: " in r.stderr and message in r.stderr, r.stderr
    assert admin_state(stack) == before


def test_set_secret_applies_to_the_next_request(orgs):
    o, stack = orgs, orgs.stack
    wrong = stack.dir / "wrong_secret"
    wrong.write_text("not-the-secret-of-b\n")
    r = admin(stack, "integration", "set-secret", "b",
              "--client-secret-file", wrong, rc=0)
    assert r.stdout == "replaced the consumer secret of integration b\n"
    o.mark()
    r = link(o, o.b, T2, "U0INT0012", "carol@orgb.example")
    assert r.status == 400 and "Salesforce refused the login" in r.text
    tok = [x for x in o.since()["b"] if x["path"].endswith("/token")]
    assert [(x["status"], x["client_id"], x["grant_type"]) for x in tok] \
        == [(400, CLIENT_B, "authorization_code")]
    assert (T2, "U0INT0012") not in view(stack)
    admin(stack, "integration", "set-secret", "b", "--client-secret-file",
          o.b.secret_file, rc=0)
    assert link(o, o.b, T2, "U0INT0012", "carol@orgb.example").status == 200
    assert view(stack)[T2, "U0INT0012"]["integration"] == "b"


def test_remove_refused_then_forced(orgs):
    o, stack = orgs, orgs.stack
    admin(stack, "integration", "add", "tmp", "--login-url", o.b.url,
          "--client-id", CLIENT_B, "--client-secret-file", o.b.secret_file,
          rc=0)
    r = admin(stack, "workspace", "set-integration", T5, "tmp", rc=0)
    assert r.stdout.splitlines()[1] == ("0 links in it, 0 of them made with "
                                        "another integration: nobody needs "
                                        "to link again")
    assert link(o, o.b, T5, "U0INT0009", "carol@orgb.example").status == 200
    r = admin(stack, "integration", "remove", "tmp", rc=1)
    assert r.stderr.splitlines()[-2:] == [
        "forcelink-admin:   mapped: team %s" % T5,
        "forcelink-admin:   linked: team %s user U0INT0009 (Salesforce "
        "user carol@orgb.example)" % T5]
    assert view(stack)[T5, "U0INT0009"]["integration"] == "tmp"
    r = admin(stack, "integration", "remove", "--force", "tmp", rc=0)
    assert r.stdout == (
        "unmapped team %s\n"
        "unlinked team %s user U0INT0009 (Salesforce user carol@orgb.example)\n"
        "the 1 unlinked grant was not revoked at Salesforce\n"
        "removed integration tmp\n" % (T5, T5))
    assert (T5, "U0INT0009") not in view(stack)
    # The workspace is back on the default: a new login goes to D.
    o.mark()
    r = link(o, None, T5, "U0INT0009", "alice@example.com")
    assert r.status == 200
    got = o.since()
    assert got["a"] == [] and got["b"] == []
    only(got["d"], CLIENT_ID)
    assert view(stack)[T5, "U0INT0009"]["integration"] == ""


def test_unset_and_enterprise_mapping(orgs):
    o, stack = orgs, orgs.stack
    # An org-wide mapping applies to a workspace of that enterprise that
    # has none of its own, and a workspace's own mapping wins over it.
    r = admin(stack, "workspace", "set-integration", "E0INT0001", "b", rc=0)
    assert r.stdout.startswith("enterprise E0INT0001 now uses integration "
                               "b (before: no mapping of its own)\n")
    r = stack.slash("login", "T0INT0006", "U0INT0010",
                    enterprise_id="E0INT0001")
    url = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[\w-]+)",
                    r.json()["text"]).group(1)
    r = stack.start_login(url)[0]
    assert r.status == 302
    assert r.headers["Location"].startswith(o.b.url + "/"), r.headers
    # The same workspace outside the enterprise: the default.
    r = stack.start_login(login_url(stack, "T0INT0006", "U0INT0010"))[0]
    assert r.headers["Location"].startswith(stack.sf_url + "/")
    r = stack.slash("login", T3, "U0INT0010", enterprise_id="E0INT0001")
    assert "No login is needed here" in r.json()["text"]
    r = admin(stack, "workspace", "unset", "E0INT0001", rc=0)
    assert r.stdout == ("removed the mapping of enterprise E0INT0001: it "
                        "uses the default integration (or its workspaces' "
                        "own mappings)\n")


def test_doctor_and_a_secret_under_another_key(orgs):
    o, stack = orgs, orgs.stack
    sockets = {"FORCELINK_SOCKET_DIR": str(stack.dir)}
    # Only key.ids matters here (the stack's files have test modes).
    r = admin(stack, "doctor", "--json", env=sockets)
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["key.ids"]["status"] == "ok", checks
    (sealed,), = stack.sql("SELECT (SELECT count(*) FROM sf_integration) "
                           "+ (SELECT count(*) FROM integration_token)")
    assert sealed >= 3
    assert (" and %d integration secrets and tokens, all under the "
            "configured keys" % sealed) in checks["key.ids"]["detail"]
    # An integration sealed under a key the programs do not hold (added
    # with another FORCELINK_KEY): found by doctor, and a login in a
    # workspace using it fails without reaching any org.
    other = base64.b64encode(os.urandom(32)).decode()
    admin(stack, "integration", "add", "stray", "--login-url", o.a.url,
          "--client-id", CLIENT_A, "--client-secret-file", o.a.secret_file,
          env={"FORCELINK_KEY_FILE": None, "FORCELINK_KEY": other}, rc=0)
    admin(stack, "workspace", "set-integration", "T0INT0007", "stray", rc=0)
    r = admin(stack, "doctor", "--json", env=sockets, rc=1)
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["key.sample"]["status"] == "ok", checks
    assert checks["key.ids"]["status"] == "fail"
    assert re.search(r"key id [0-9a-f]{16} seals 1 integration secrets and "
                     r"tokens, but is not in the configured keyring",
                     checks["key.ids"]["detail"]), checks["key.ids"]
    o.mark()
    r, _ = stack.start_login(login_url(stack, "T0INT0007", "U0INT0011"))
    assert r.status == 500 and "Something went wrong" in r.text
    assert o.since() == {"a": [], "b": [], "d": []}
    admin(stack, "workspace", "unset", "T0INT0007", rc=0)
    admin(stack, "integration", "remove", "stray", rc=0)


@pytest.mark.parametrize("cmd", [
    ("integration",), ("integration", "add"), ("integration", "set-secret"),
    ("integration", "list"),
    ("integration", "remove"), ("workspace",),
    ("workspace", "set-integration"), ("workspace", "list"),
    ("workspace", "unset")])
def test_help(orgs, cmd):
    r = admin(orgs.stack, *cmd, "--help", rc=0)
    assert r.stderr == ""
    assert r.stdout.startswith("usage: forcelink-admin %s" % " ".join(cmd))
    assert len(r.stdout.splitlines()) >= 5


def test_man_page_has_every_option():
    r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(MAN)],
                       capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    page = MAN.read_text()
    for cmd in (("integration", "add"), ("integration", "set-secret"),
                ("integration", "list"),
                ("integration", "remove"), ("workspace", "set-integration"),
                ("workspace", "list"), ("workspace", "unset")):
        assert "\n.Cm %s %s" % cmd in page, cmd
        out = subprocess.run([str(ADMIN), *cmd, "--help"],
                             capture_output=True, text=True).stdout
        for opt in set(re.findall(r"--([a-z][a-z-]+)", out)) - {"help"}:
            assert "Fl -%s" % opt in page, (cmd, opt)


def test_zz_no_secret_in_admin_output(orgs):
    stack = orgs.stack
    probes, needles = stack.secret_probes(stack.secret_values())
    hay = "\n".join(OUTPUTS).encode()
    assert len(OUTPUTS) > 30
    hits = set()
    for m in re.finditer(rb"[\x21-\x7e]{24,}", hay):
        run = m.group(0)
        for i in range(len(run) - 23):
            if run[i:i + 24] in probes:
                hits.add(probes[run[i:i + 24]][:8])
    hits.update(what for needle, what in needles if needle in hay)
    assert not hits, hits
    # The consumer secrets are sealed in the database, not in clear.
    for x in (orgs.a, orgs.b):
        assert x.client_secret.encode() not in stack.disk_bytes()
