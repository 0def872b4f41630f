"""forcelink-admin, through the real binary, against a real database.

The links are made by the real product: users link through nginx, the
real FastCGI programs and the Salesforce stand-in (the whole OAuth flow),
search (so "last used" is set), ask for login links (so login states and
replay entries exist).  The tool then runs with the very environment the
programs run with.  Each command is checked on its output, text and JSON
(parsed, field by field, against the "links" view and the stand-in's
ledger), its exit status and what it changed; the bad inputs (unknown
command, option or user, wrong key, missing configuration, a locked
database) each on their exit status and message.  unlink --revoke is
checked at the stand-in: the grant is revoked and its refresh token no
longer refreshes.  Every output of the tool is searched for the run's
secrets at the end.
"""

import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import (BUILD, CLIENT_ID, NGINX_GROUP, PROGRAMS, ROOT,
                     SANITIZER_MARKS, nginx_gid)

ADMIN = BUILD / "admin" / "forcelink-admin"
MAN = ROOT / "admin" / "forcelink-admin.8"
COMMANDS = ("list", "show", "unlink", "purge", "stats", "doctor")
ORG_ID = "00D5g000004ZyAbEAK"
SF_IDS = {"alice@example.com": "0055g00000Xa001AAB",
          "bob@example.com": "0055g00000Xa002AAB",
          "mallory@example.com": "0055g00000Xa003AAB"}
LIST_FIELDS = {"enterprise_id", "team_id", "user_id", "sf_username",
               "sf_user_id", "sf_org_id", "org", "instance_url", "key_id",
               "created_at", "updated_at", "last_used_at"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# The links every test starts from: (enterprise, team, user, Salesforce
# user).  Each test that unlinks makes its own.
A = ("", "T0ADM0001", "U0ADM0001", "alice@example.com")
B = ("", "T0ADM0001", "U0ADM0002", "mallory@example.com")
C = ("", "T0ADM0002", "U0ADM0003", "alice@example.com")
G1 = ("E0ADM0001", "T0ADM0003", "U0ADM0004", "alice@example.com")
G2 = ("E0ADM0002", "T0ADM0003", "U0ADM0004", "alice@example.com")

# Everything the tool printed in this module, for the secrets check.
OUTPUTS = []

# The schema version: the number of migrations in sql/.
SCHEMA = len([p for p in (ROOT / "sql").iterdir()
              if re.fullmatch(r"\d{3}_\w+\.sql", p.name)])


def admin(stack, *args, env=None, unset=(), timeout=40):
    """Runs forcelink-admin with the programs' environment (env added,
    unset removed) and returns the CompletedProcess."""
    e = stack.env()
    for k in unset:
        e.pop(k, None)
    e.update(env or {})
    r = subprocess.run([str(ADMIN)] + [str(a) for a in args], env=e,
                       cwd=str(stack.dir), capture_output=True, text=True,
                       timeout=timeout)
    OUTPUTS.append(r.stdout + r.stderr)
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr
    return r


def admin_json(stack, *args, rc=0, **kw):
    r = admin(stack, *args, **kw)
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def link_user(stack, ent, team, user, sf_user):
    """The whole login flow of Slack user (ent, team, user)."""
    extra = {"enterprise_id": ent} if ent else {}
    r = stack.slash("login", team, user, **extra)
    assert r.status == 200, r.text
    m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[\w-]+)",
                  r.json()["text"])
    assert m, r.text
    r, cookie = stack.start_login(m.group(1))
    assert r.status == 302, r.text
    location = stack.consent(r.headers["Location"], sf_user)
    r = stack.callback(location, cookie)
    assert r.status == 200, r.text


def view(stack):
    """The "links" view, keyed (enterprise, team, user)."""
    return {(r["enterprise_id"], r["team_id"], r["user_id"]): r
            for r in stack.links()}


def key(link):
    return link[:3]


def sql_one(stack, q, *args):
    with stack.db() as c:
        return c.execute(q, args).fetchone()[0]


def state(stack):
    return stack.sf_state()


def refresh(stack, token):
    """A refresh grant at the stand-in: (status, JSON body)."""
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": token,
        "client_id": CLIENT_ID, "client_secret": stack.client_secret,
    }).encode()
    req = urllib.request.Request(
        stack.sf_url + "/services/oauth2/token", data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"})
    try:
        with stack.sf_opener.open(req, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def refresh_token_of(stack, sf_user):
    """The one live refresh token of sf_user, found by trying every
    refresh token the stand-in issued (no rotation, so this changes
    nothing but issues access tokens)."""
    found = []
    for s in stack.secret_values():
        if s.startswith("5Aep861"):
            status, body = refresh(stack, s)
            if status == 200 and body["id"].endswith("/" + SF_IDS[sf_user]):
                found.append(s)
    assert len(found) == 1, len(found)
    return found[0]


@pytest.fixture(scope="module")
def linked(stack):
    for ln in (A, B, C, G1, G2):
        link_user(stack, *ln)
    # A search sets A's "last used".
    r = stack.slash("smith", A[1], A[2])
    assert r.status == 200 and "Smith" in r.text, r.text
    # The key and the secret files as an admin would keep them.
    os.chmod(stack.dir / "key", 0o600)
    os.chmod(stack.dir / "sf_secret", 0o600)
    return stack


# -- help and usage -----------------------------------------------------------

def test_help_and_version(linked):
    r = admin(linked, "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: forcelink-admin [--env-file FILE] "
                               "COMMAND")
    for cmd in COMMANDS:
        assert re.search(r"^  %s +\S" % cmd, r.stdout, re.M), cmd
    assert "5 database" in r.stdout
    r = admin(linked, "--version")
    assert r.returncode == 0 and r.stderr == ""
    assert re.fullmatch(r"forcelink-admin \(forcelink\) \d+\.\d+\.\d+, "
                        r"schema version %d\n" % SCHEMA, r.stdout), r.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_of_each_command(linked, cmd):
    # --help needs no configuration: nothing is loaded.
    r = admin(linked, cmd, "--help", unset=("SF_CLIENT_ID",))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.startswith("usage: forcelink-admin %s" % cmd)
    assert len(r.stdout.splitlines()) >= 4


USAGE_ERRORS = [
    ([], "no command given"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--frob", "list"], "unknown option --frob"),
    (["--env-file"], "a value is needed for --env-file"),
    (["list", "--frob"], "list: unknown option --frob"),
    (["list", "--revoke"], "list: unknown option --revoke"),
    (["list", "extra"], "list: takes no operands"),
    (["list", "--team"], "list: a value is needed for --team"),
    (["list", "--team", "t0lower"], "not a Slack workspace id"),
    (["show", "T0ADM0001"], "show: needs TEAM and USER"),
    (["show", "T0ADM0001", "U0;rm -rf"], "must be Slack ids"),
    (["show", "T" * 33, "U0ADM0001"], "must be Slack ids"),
    (["show", "--revoke", "T0ADM0001", "U0ADM0001"],
     "show: unknown option --revoke"),
    (["unlink", "--enterprise", "e!", "T0ADM0001", "U0ADM0001"],
     "not an Enterprise Grid id"),
    (["purge", "now"], "purge: takes no operands"),
    (["stats", "-x"], "stats: unknown option -x"),
    (["doctor", "--timeout", "0"], "--timeout: not a number of seconds"),
    (["doctor", "--socket", ""], "--socket: empty path"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS,
                         ids=[" ".join(a) or "none" for a, _ in USAGE_ERRORS])
def test_usage_errors(linked, args, message):
    before = view(linked)
    r = admin(linked, *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert "forcelink-admin: " in r.stderr and message in r.stderr, r.stderr
    assert "usage: forcelink-admin" in r.stderr
    assert view(linked) == before


# -- list ---------------------------------------------------------------------

def test_list_json(linked):
    v = view(linked)
    got = admin_json(linked, "list", "--json")
    assert isinstance(got, list) and len(got) == len(v) >= 5
    # Ordered by team, user, enterprise.
    order = [(o["team_id"], o["user_id"], o["enterprise_id"]) for o in got]
    assert order == sorted(order)
    for o in got:
        assert set(o) == LIST_FIELDS, o
        row = v[(o["enterprise_id"], o["team_id"], o["user_id"])]
        for f in LIST_FIELDS:
            assert o[f] == row[f], (f, o[f], row[f])
    by = {(o["enterprise_id"], o["team_id"], o["user_id"]): o for o in got}
    for ln in (A, B, C, G1, G2):
        o = by[key(ln)]
        assert o["sf_username"] == ln[3]
        assert o["sf_user_id"] == SF_IDS[ln[3]]
        assert o["sf_org_id"] == ORG_ID
        assert o["org"] == ""
        assert o["instance_url"] == linked.sf_url
        assert ISO.match(o["created_at"]) and ISO.match(o["updated_at"])
        assert re.fullmatch(r"[0-9a-f]{16}", o["key_id"])
    now = datetime.now(timezone.utc)
    used = datetime.strptime(by[key(A)]["last_used_at"],
                             "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((now - used).total_seconds()) < 120
    assert by[key(B)]["last_used_at"] is None
    assert len({o["key_id"] for o in got}) == 1


def test_links_view_as_the_readme_says(linked):
    """README, "Inspecting the database": the view's columns, in order,
    and org and integration the same value (issue 16, 12)."""
    readme = (ROOT / "README").read_text()
    m = re.search(r'The view "links" has one row per linked Slack user: '
                  r'([a-z_,\s]+) \(times', readme)
    assert m, "README lost its list of the view's columns"
    said = [c.strip() for c in m.group(1).split(",")]
    with linked.db() as c:
        cur = c.execute("SELECT * FROM links")
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    assert said == cols
    assert rows and all(r[cols.index("org")] == r[cols.index("integration")]
                        for r in rows)


def test_list_filters(linked):
    got = admin_json(linked, "list", "--json", "--team", "T0ADM0002")
    assert [(o["team_id"], o["user_id"]) for o in got] == [C[1:3]]
    got = admin_json(linked, "list", "--json", "--enterprise", "E0ADM0001")
    assert [key(tuple(o[k] for k in ("enterprise_id", "team_id",
                                     "user_id"))) for o in got] == [key(G1)]
    got = admin_json(linked, "list", "--json", "--enterprise", "")
    assert all(o["enterprise_id"] == "" for o in got)
    assert len(got) == sum(1 for k in view(linked) if k[0] == "")
    assert admin_json(linked, "list", "--json", "--team", "T0NOBODY") == []
    r = admin(linked, "list", "--team", "T0NOBODY")
    assert (r.returncode, r.stdout) == (0, "no links\n")


def test_list_table(linked):
    r = admin(linked, "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    heads = ["TEAM", "USER", "ENTERPRISE", "SF_USERNAME", "SF_USER_ID",
             "INSTANCE", "CREATED", "LAST_USED"]
    assert lines[0].split() == heads
    # Every column starts where its heading does.
    starts = [lines[0].index(h) for h in heads]
    js = admin_json(linked, "list", "--json")
    assert len(lines) == 1 + len(js)
    for line, o in zip(lines[1:], js):
        cells = [line[s:e].strip() for s, e in
                 zip(starts, starts[1:] + [len(line)])]
        assert cells == [o["team_id"], o["user_id"], o["enterprise_id"] or "-",
                         o["sf_username"], o["sf_user_id"],
                         o["instance_url"], o["created_at"],
                         o["last_used_at"] or "-"], line
    # Without Enterprise Grid links there is no ENTERPRISE column.
    r = admin(linked, "list", "--team", "T0ADM0001")
    assert r.stdout.splitlines()[0].split() == [h for h in heads
                                                if h != "ENTERPRISE"]


# -- show ---------------------------------------------------------------------

def test_show(linked):
    listed = {(o["enterprise_id"], o["team_id"], o["user_id"]): o
              for o in admin_json(linked, "list", "--json")}
    o = admin_json(linked, "show", "--json", A[1], A[2])
    assert set(o) == LIST_FIELDS | {"version", "key_configured",
                                    "tokens_open"}
    for f in LIST_FIELDS:
        assert o[f] == listed[key(A)][f], f
    assert o["version"] == sql_one(
        linked, "SELECT version FROM sf_link WHERE team_id = ? AND "
        "user_id = ?", A[1], A[2])
    assert o["key_configured"] is True and o["tokens_open"] is True
    r = admin(linked, "show", A[1], A[2])
    assert r.returncode == 0, r.stderr
    text = dict(re.match(r"(\S+) +(.*)$", ln).groups()
                for ln in r.stdout.splitlines())
    assert text["team"] == A[1] and text["user"] == A[2]
    assert text["enterprise"] == "-"
    assert text["sf_username"] == A[3]
    assert text["sf_user_id"] == SF_IDS[A[3]]
    assert text["sf_org_id"] == ORG_ID
    assert text["org"] == "(default)"
    assert text["instance_url"] == linked.sf_url
    assert text["created_at"] == o["created_at"]
    assert text["last_used_at"] == o["last_used_at"]
    assert text["version"] == str(o["version"])
    assert text["key_id"] == o["key_id"] + " (the configured key)"
    assert text["tokens"] == "open under the configured key"


def test_show_unknown_user(linked):
    for args in (("show", "--json", "T0NOBODY", A[2]),
                 ("unlink", "--revoke", A[1], "U0NOBODY"),
                 ("show", "--enterprise", "E0ADM0001", A[1], A[2])):
        r = admin(linked, *args)
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert r.stdout == ""
        assert "forcelink-admin: no link for team %s user %s" % (
            args[-2], args[-1]) in r.stderr


def test_enterprise_grid(linked):
    r = admin(linked, "show", G1[1], G1[2])
    assert r.returncode == 2, r.stderr
    assert ("team T0ADM0003 user U0ADM0004 is linked in 2 Enterprise Grid "
            "organisations ('E0ADM0001', 'E0ADM0002'): say which with "
            "--enterprise ID") in r.stderr
    r = admin(linked, "unlink", G1[1], G1[2])
    assert r.returncode == 2 and key(G1) in view(linked)
    o = admin_json(linked, "show", "--json", "--enterprise", "E0ADM0002",
                   G2[1], G2[2])
    assert (o["enterprise_id"], o["team_id"], o["user_id"]) == key(G2)
    r = admin(linked, "show", "--enterprise", "E0ADM0002", G2[1], G2[2])
    assert "enterprise     E0ADM0002\n" in r.stdout
    # Unlinking one leaves the other, which is then unambiguous.
    r = admin(linked, "unlink", "--enterprise", "E0ADM0002", G2[1], G2[2])
    assert r.returncode == 0, r.stderr
    v = view(linked)
    assert key(G2) not in v and key(G1) in v
    o = admin_json(linked, "show", "--json", G1[1], G1[2])
    assert o["enterprise_id"] == "E0ADM0001"
    link_user(linked, *G2)


# -- wrong key, missing configuration, env file -------------------------------

def other_key(stack):
    p = stack.dir / "other.key"
    if not p.exists():
        p.write_text(subprocess.run(
            ["bash", "-c", "head -c 32 /dev/urandom | base64"],
            capture_output=True, text=True, check=True).stdout)
        os.chmod(p, 0o600)
    return str(p)


def test_wrong_key(linked):
    wrong = {"FORCELINK_KEY_FILE": other_key(linked)}
    revocations = len(state(linked)["revocations"])
    before = view(linked)
    o = admin_json(linked, "show", "--json", A[1], A[2], env=wrong, rc=4)
    assert o["tokens_open"] is False and o["key_configured"] is False
    assert o["key_id"] == before[key(A)]["key_id"]
    r = admin(linked, "show", A[1], A[2], env=wrong)
    assert r.returncode == 4
    assert "tokens         DO NOT OPEN under the configured key" in r.stdout
    # The message names the setting the key came from (issue 16, 12).
    assert "wrong key in FORCELINK_KEY_FILE?" in r.stderr
    # The key in the environment instead of a file: the same.
    r = admin(linked, "show", A[1], A[2], unset=("FORCELINK_KEY_FILE",),
              env={"FORCELINK_KEY": Path(wrong["FORCELINK_KEY_FILE"])
                   .read_text().strip()})
    assert r.returncode == 4
    assert "wrong key in FORCELINK_KEY?" in r.stderr
    # Nothing can be revoked, and nothing is deleted.
    r = admin(linked, "unlink", "--revoke", A[1], A[2], env=wrong)
    assert r.returncode == 4, r.stderr
    assert "nothing was changed.  Fix FORCELINK_KEY_FILE, or" in r.stderr
    assert view(linked) == before
    assert len(state(linked)["revocations"]) == revocations
    # Listing needs no key.
    assert len(admin_json(linked, "list", "--json", env=wrong)) == len(before)
    d, checks = doctor(linked, rc=1, env=wrong)
    assert checks["key.sample"]["status"] == "fail"
    assert "wrong key?" in checks["key.sample"]["detail"]
    assert checks["key.ids"]["status"] == "fail"
    assert d["ok"] is False


MISSING_CONFIG = [
    ({"SF_CLIENT_ID": None}, "configuration: SF_CLIENT_ID is not set"),
    ({"FORCELINK_KEY_FILE": None},
     "configuration: FORCELINK_KEY must be base64 of 32 random bytes"),
    ({"FORCELINK_KEY_FILE": None, "FORCELINK_KEY": "bm90IGEga2V5"},
     "configuration: FORCELINK_KEY: key 1 (line 1) is not the base64 of "
     "32 bytes"),
    ({"FORCELINK_KEY_FILE": "/nonexistent/key"},
     "configuration: FORCELINK_KEY_FILE: cannot read /nonexistent/key"),
    ({"SLACK_SIGNING_SECRET": None},
     "configuration: SLACK_SIGNING_SECRET is not set"),
    ({"SF_LOGIN_URL": "http://login.salesforce.com"},
     "configuration: SF_LOGIN_URL must be an https URL"),
    ({"FORCELINK_DB": "var/nope.db"},
     "database var/nope.db does not exist (FORCELINK_DB"),
]


@pytest.mark.parametrize("change,message", MISSING_CONFIG,
                         ids=[m.split(": ")[-1][:30] for _, m in
                              MISSING_CONFIG])
def test_missing_config(linked, change, message):
    unset = [k for k, v in change.items() if v is None]
    env = {k: v for k, v in change.items() if v is not None}
    # Every command for one of them; list for the others.
    every = (("list",), ("show", A[1], A[2]), ("purge",), ("stats",),
             ("unlink", A[1], A[2]), ("unlink", "--revoke", A[1], A[2]))
    for args in every if "SF_CLIENT_ID" in change else every[:1]:
        r = admin(linked, *args, env=env, unset=unset)
        assert r.returncode == 4, (args, r.returncode, r.stderr)
        assert r.stdout == ""
        assert message in r.stderr, r.stderr
    assert not (linked.dir / "var" / "nope.db").exists()
    assert key(A) in view(linked)
    # doctor reports it as its first check.
    if "SF_CLIENT_ID" not in change and "FORCELINK_DB" not in change:
        return
    r = admin(linked, "doctor", env=env, unset=unset)
    assert r.returncode == 1
    first = r.stdout.splitlines()[0]
    if "FORCELINK_DB" in change:
        assert re.match(r"ok +config ", first)
        assert re.search(r"^FAIL +database +.*nope\.db does not exist",
                         r.stdout, re.M)
    else:
        assert re.match(r"FAIL +config +", first) and \
            message.split(": ", 1)[1][:30] in first


def test_env_file(linked):
    env = linked.env()
    f = linked.dir / "forcelink.env"
    lines = ["# forcelink settings, as systemd reads them", "", "; another"]
    for k, v in sorted(env.items()):
        if k.startswith(("SLACK_", "SF_", "FORCELINK_")):
            if k == "SF_CLIENT_ID":
                lines.append('  SF_CLIENT_ID = "%s"  ' % v)
            elif k == "FORCELINK_DB":
                lines.append("FORCELINK_DB='%s'" % v)
            else:
                lines.append("%s=%s" % (k, v))
    f.write_text("\n".join(lines) + "\n")
    os.chmod(f, 0o600)
    clean = [k for k in env if k.startswith(("SLACK_", "SF_", "FORCELINK_"))]
    expect = admin_json(linked, "list", "--json")
    # Only the file: everything comes from it.  A stray FORCELINK_KEY in
    # the environment does not clash with the file's FORCELINK_KEY_FILE.
    got = admin_json(linked, "--env-file", f, "list", "--json", unset=clean,
                     env={"FORCELINK_KEY": "c3RyYXk="})
    assert got == expect
    # Errors name the file and line; nothing is used.
    bad = linked.dir / "bad.env"
    for text, why in (("A=1\n\nthis is not a setting\n", ":3: not KEY=VALUE"),
                      ('A=1\nB="open\n', ":2: unterminated quote"),
                      ("1A=x\n", ":1: not a variable name"),
                      ("A='x' y\n", ":1: text after the closing quote")):
        bad.write_text(text)
        r = admin(linked, "--env-file", bad, "list")
        assert r.returncode == 4, r.stderr
        assert "--env-file: %s%s" % (bad, why) in r.stderr, r.stderr
        assert r.stdout == ""
    r = admin(linked, "--env-file", linked.dir / "nonexistent.env", "list")
    assert r.returncode == 4
    assert "No such file or directory" in r.stderr


# -- option order and repeated options ----------------------------------------

def env_file_of(stack):
    """The programs' settings as an environment file; returns its path."""
    f = stack.dir / "order.env"
    f.write_text("".join("%s=%s\n" % (k, v)
                         for k, v in sorted(stack.env().items())
                         if k.startswith(("SLACK_", "SF_", "FORCELINK_"))))
    os.chmod(f, 0o600)
    return f


def test_options_after_operands(linked):
    f = env_file_of(linked)
    clean = [k for k in linked.env()
             if k.startswith(("SLACK_", "SF_", "FORCELINK_"))]
    expect = admin_json(linked, "list", "--json")
    # --env-file, the global option, after the command and its options.
    for args in (("list", "--json", "--env-file", f),
                 ("list", "--env-file", f, "--json")):
        assert admin_json(linked, *args, unset=clean) == expect, args
    # A command's own options after its operands.
    got = admin_json(linked, "show", A[1], A[2], "--json")
    assert got["user_id"] == A[2]
    got = admin_json(linked, "list", "--json", "--team", A[1])
    assert {l["user_id"] for l in got} >= {A[2]}
    # unlink TEAM USER --env-file F: the settings come from F.
    ln = ("", "T0ADM0005", "U0ADM0019", "mallory@example.com")
    link_user(linked, *ln)
    r = admin(linked, "unlink", ln[1], ln[2], "--env-file", f, unset=clean)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert key(ln) not in view(linked)
    # "--" ends the options: what follows is an operand.
    r = admin(linked, "show", "--", "--json", A[2])
    assert r.returncode == 2 and "must be Slack ids" in r.stderr, r.stderr


REPEATED = [
    (["--env-file", "a.env", "--env-file", "b.env", "list"],
     "--env-file given twice"),
    (["--env-file", "a.env", "list", "--env-file", "b.env"],
     "--env-file given twice"),
    (["list", "--env-file", "a.env", "--env-file", "a.env"],
     "--env-file given twice"),
    (["list", "--team", A[1], "--team", C[1]], "list: --team given twice"),
    (["unlink", "--enterprise", "", "--enterprise", "", A[1], A[2]],
     "unlink: --enterprise given twice"),
    (["doctor", "--timeout", "5", "--timeout", "6"],
     "doctor: --timeout given twice"),
    (["rotate-key", "--new-key-file", "x", "--new-key-file", "y"],
     "rotate-key: --new-key-file given twice"),
    (["rotate-key", "--grace", "1", "--new-key-file", "x", "--grace", "2"],
     "rotate-key: --grace given twice"),
    (["integration", "add", "X", "--client-id", "a", "--client-id", "b"],
     "integration add: --client-id given twice"),
]


@pytest.mark.parametrize("args,message", REPEATED,
                         ids=[" ".join(a) for a, _ in REPEATED])
def test_repeated_option_is_a_usage_error(linked, args, message):
    before = view(linked)
    r = admin(linked, *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert r.stderr.splitlines()[0] == "forcelink-admin: " + message, \
        r.stderr
    assert "usage: forcelink-admin" in r.stderr
    assert view(linked) == before


def test_repeatable_option_stays_repeatable(linked):
    """doctor --socket is documented repeatable: two are two checks."""
    d, _ = doctor(linked, "--socket", linked.dir / "contact.sock",
                  "--socket", linked.dir / "oauth_start.sock", rc=0)
    assert [c["check"] for c in d["checks"]].count("socket") == 2


# -- unlink -------------------------------------------------------------------

def test_unlink(linked):
    ln = ("", "T0ADM0004", "U0ADM0006", "mallory@example.com")
    link_user(linked, *ln)
    st = state(linked)
    r = admin(linked, "unlink", ln[1], ln[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("unlinked team T0ADM0004 user U0ADM0006 (Salesforce "
                        "user mallory@example.com); the grant was not "
                        "revoked at Salesforce\n")
    assert re.search(r"event=link\.deleted team=T0ADM0004 user=U0ADM0006 "
                     r"reason=admin revoke=no", r.stderr)
    assert key(ln) not in view(linked)
    # Nothing was revoked.
    after = state(linked)
    assert after["revocations"] == st["revocations"]
    assert after["live_grants"] == st["live_grants"]
    r = admin(linked, "unlink", ln[1], ln[2])
    assert r.returncode == 3
    # The user is unlinked for the product too.
    r = linked.slash("whoami", ln[1], ln[2])
    assert "/oauth/start?state=" in r.json()["text"]


def test_unlink_revoke(linked):
    ln = ("", "T0ADM0004", "U0ADM0005", "bob@example.com")
    link_user(linked, *ln)
    token = refresh_token_of(linked, "bob@example.com")
    assert state(linked)["live_grants"]["bob@example.com"] == 1
    revocations = state(linked)["revocations"]
    # Salesforce unreachable, then a certificate not trusted (no
    # FORCELINK_CA_FILE): the link is kept, nothing is revoked.
    for env, unset, why in (
            ({"SF_LOGIN_URL": "https://127.0.0.1:1"}, (), "result=connect"),
            ({}, ("FORCELINK_CA_FILE",), "result=tls")):
        r = admin(linked, "unlink", "--revoke", ln[1], ln[2], env=env,
                  unset=unset)
        assert r.returncode == 1, r.stderr
        assert r.stdout == ""
        assert why in r.stderr
        assert ("the link of team T0ADM0004 user U0ADM0005 is kept; try "
                "again") in r.stderr
        assert key(ln) in view(linked)
        assert state(linked)["revocations"] == revocations
    assert refresh(linked, token)[0] == 200
    r = admin(linked, "unlink", "--revoke", ln[1], ln[2])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("revoked at Salesforce and unlinked team T0ADM0004 "
                        "user U0ADM0005 (Salesforce user bob@example.com)\n")
    assert re.search(r"event=link\.deleted team=T0ADM0004 user=U0ADM0005 "
                     r"reason=logout\n", r.stderr)
    assert "event=admin.unlink team=T0ADM0004 user=U0ADM0005 revoke=yes" \
        in r.stderr
    assert key(ln) not in view(linked)
    st = state(linked)
    assert st["revocations"] == revocations + [
        {"kind": "refresh_token", "ok": True}]
    assert st["live_grants"].get("bob@example.com", 0) == 0
    # The grant is really gone: its refresh token no longer refreshes.
    status, body = refresh(linked, token)
    assert (status, body["error"]) == (400, "invalid_grant")
    r = admin(linked, "unlink", "--revoke", ln[1], ln[2])
    assert r.returncode == 3


def test_hostile_stored_values(linked):
    """A stored value with control bytes (the Salesforce username comes
    from Salesforce) cannot drive the admin's terminal: the text outputs
    show '?' for them, JSON escapes them."""
    ln = ("", "T0ADM0007", "U0ADM0007", "mallory@example.com")
    link_user(linked, *ln)
    evil = "evil\x1b[2J\x07\nname\x7f"
    with linked.db() as c:
        c.execute("UPDATE sf_link SET sf_username = ? WHERE team_id = ? "
                  "AND user_id = ?", (evil,) + ln[1:3])
    shown = "evil?[2J??name?"
    for args in (("list", "--team", ln[1]), ("show", ln[1], ln[2]),
                 ("unlink", ln[1], ln[2])):
        r = admin(linked, *args)
        assert r.returncode == 0, r.stderr
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", r.stdout), args
        assert shown in r.stdout, r.stdout
    link_user(linked, *ln)
    with linked.db() as c:
        c.execute("UPDATE sf_link SET sf_username = ? WHERE team_id = ? "
                  "AND user_id = ?", (evil,) + ln[1:3])
    o = admin_json(linked, "show", "--json", ln[1], ln[2])
    assert o["sf_username"] == evil
    r = admin(linked, "unlink", "--revoke", ln[1], ln[2])
    assert r.returncode == 0, r.stderr
    assert shown in r.stdout


def test_unlink_revoke_as_root_keeps_owners(linked):
    """Run as root against a database owned by the service's user, the
    files the tool makes beside it (the refresh lock, and SQLite's -wal
    and -shm) belong to that user, or the service could not open them."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    d = linked.dir / "owned"
    d.mkdir()
    db = d / "forcelink.db"
    src, dst = linked.db(), sqlite3.connect(str(db))
    src.backup(dst)
    src.close()
    dst.close()
    os.chown(d, 65534, 65534)
    os.chown(db, 65534, 65534)
    os.chmod(db, 0o600)
    r = admin(linked, "unlink", "--revoke", A[1], A[2],
              env={"FORCELINK_DB": str(db),
                   "SF_LOGIN_URL": "https://127.0.0.1:1"})
    assert r.returncode == 1, r.stderr
    assert "is kept" in r.stderr
    for name in ("forcelink.db-refresh.lock", "forcelink.db-wal",
                 "forcelink.db-shm"):
        st = os.stat(d / name)
        assert (st.st_uid, st.st_gid) == (65534, 65534), name
    assert stat_mode(d / "forcelink.db-refresh.lock") == 0o600


def stat_mode(p):
    return os.stat(p).st_mode & 0o7777


# -- purge and stats ----------------------------------------------------------

def test_purge(linked):
    admin_json(linked, "purge", "--json")   # whatever had expired
    # The live rows of the searches made so far (each search that finds
    # something keeps one): not purged.
    searched = sql_one(linked, "SELECT count(*) FROM slack_action")
    for _ in range(3):
        assert linked.slash("login", "T0ADM0009", "U0ADM0009").status == 200
    # On SQLite a signed request writes no slack_replay row (the host's
    # replay cache decides, and holds those three): the rows the store
    # gets when the cache cannot decide are made here, expired.
    with linked.db() as c:
        assert c.execute("UPDATE login_state SET expires_at = 1 "
                         "WHERE user_id = 'U0ADM0009'").rowcount == 3
        c.executemany("INSERT INTO slack_replay (sig_hash, expires_at) "
                      "VALUES (?, 1)", [(os.urandom(32),) for _ in range(4)])
        # Action rows (issue 15): two expired, one live.
        live = os.urandom(32)
        c.executemany(ACTION_INSERT, [action_row(os.urandom(32), 1),
                                      action_row(os.urandom(32), 2),
                                      action_row(live, 2 ** 40)])
    links = view(linked)
    s = admin_json(linked, "stats", "--json")
    assert s["login_states"]["expired"] == 3
    assert s["replays"]["expired"] == 4
    assert s["replays"]["cache_live"] >= 3
    r = admin(linked, "purge", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"login_states": 3, "replays": 4,
                                    "pending_revoked": 0, "pending_kept": 0,
                                    "actions": 2}
    assert "event=store.purged login_states=3 replays=4 " \
        "pending_revoked=0 pending_kept=0 actions=2" in r.stderr
    assert sql_one(linked, "SELECT count(*) FROM slack_action") == \
        searched + 1
    assert sql_one(linked, "SELECT count(*) FROM login_state "
                   "WHERE user_id = 'U0ADM0009'") == 0
    assert sql_one(linked, "SELECT count(*) FROM slack_replay "
                   "WHERE expires_at <= strftime('%s')") == 0
    r = admin(linked, "purge")
    assert (r.returncode, r.stdout) == (
        0, "purged 0 expired login states and 0 expired replay entries\n"
        "purged 0 expired action rows\n"
        "revoked and dropped 0 expired pending logins\n")
    assert view(linked) == links
    with linked.db() as c:
        assert c.execute("DELETE FROM slack_action WHERE key_hash = ?",
                         (live,)).rowcount == 1


# A slack_action row made with plain SQL, as the purge and the figures
# see it (its data_ct is not a sealed value: nothing opens it here).
ACTION_INSERT = ("INSERT INTO slack_action (key_hash, kind, team_id, "
                 "user_id, key_id, data_ct, created_at, expires_at) "
                 "VALUES (?, 1, 'T0ADM0009', 'U0ADM0009', "
                 "'0000000000000000', ?, 1, ?)")


def action_row(key_hash, expires_at):
    return (key_hash, os.urandom(48), expires_at)


def pending_login(stack, user):
    """A login of (T0ADM0012, user) waiting for its code (the code mode
    of FORCELINK_LINK_PROOF), made to look expired; returns the grant's
    number at the stand-in."""
    r, cookie = stack.start_login(stack.login_url("T0ADM0012", user))
    assert r.status == 302, r.text
    location = stack.consent(r.headers["Location"], "bob@example.com")
    page = stack.callback(location, cookie, confirm=False)
    assert stack.page_code(page), page.text
    # The callback sweeps due pending logins after its page is out: let
    # it finish before this one is made to look due.
    time.sleep(0.5)
    with stack.db() as c:
        assert c.execute("UPDATE login_state SET expires_at = 1 WHERE "
                         "user_id = ? AND pend_refresh_ct IS NOT NULL",
                         (user,)).rowcount == 1
    return stack.sf("GET", "/_control/grants").json()[-1]["grant"]


def grant(stack, n):
    return [g for g in stack.sf("GET", "/_control/grants").json()
            if g["grant"] == n][0]


def test_purge_revokes_expired_pending_logins(linked):
    """An expired pending login is revoked at Salesforce, then dropped;
    one whose revoke fails for now is kept (exit 1) for the next purge."""
    admin_json(linked, "purge", "--json")   # whatever had expired
    n = pending_login(linked, "U0ADM0012")
    r = admin(linked, "purge", "--json",
              env={"SF_LOGIN_URL": "https://127.0.0.1:1"})
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout) == {"login_states": 0, "replays": 0,
                                    "pending_revoked": 0, "pending_kept": 1,
                                    "actions": 0}
    assert not grant(linked, n)["revoked"]
    assert sql_one(linked, "SELECT count(*) FROM login_state WHERE "
                   "user_id = 'U0ADM0012'") == 1
    r = admin(linked, "purge")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("revoked and dropped 1 expired pending "
                             "login\n"), r.stdout
    assert grant(linked, n)["revoked_by"] == "revoke"
    assert sql_one(linked, "SELECT count(*) FROM login_state WHERE "
                   "user_id = 'U0ADM0012'") == 0


def test_stats(linked):
    # One login link waiting, one started (awaiting the callback).
    def login(user):
        r = linked.slash("login", "T0ADM0010", user)
        return re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state="
                         r"[\w-]+)", r.json()["text"]).group(1)
    before = admin_json(linked, "stats", "--json")
    base = before["login_states"]
    login("U0ADM0010")
    r, _ = linked.start_login(login("U0ADM0011"))
    assert r.status == 302
    # Action rows (issue 15): two live, one expired; removed at the end.
    keys = [os.urandom(32) for _ in range(3)]
    with linked.db() as c:
        c.executemany(ACTION_INSERT, [action_row(keys[0], 2 ** 40),
                                      action_row(keys[1], 2 ** 40),
                                      action_row(keys[2], 1)])
    s = admin_json(linked, "stats", "--json")
    # Besides the live rows of the searches made so far.
    assert s["actions"] == {"live": before["actions"]["live"] + 2,
                            "expired": before["actions"]["expired"] + 1}
    assert s["login_states"]["waiting"] == base["waiting"] + 1
    assert s["login_states"]["started"] == base["started"] + 1
    assert s["login_states"]["pending"] == base["pending"] + 2

    v = list(view(linked).values())
    now = time.time()

    def age(iso):
        return now - datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp()
    ln = s["links"]
    assert ln["total"] == len(v)
    assert ln["never_used"] == sum(1 for r in v if r["last_used_at"] is None)
    assert ln["used_24h"] == sum(1 for r in v if r["last_used_at"] and
                                 age(r["last_used_at"]) <= 86400)
    assert ln["used_30d"] == ln["used_24h"] >= 1
    assert ln["oldest"] == min(r["created_at"] for r in v)
    assert ln["newest"] == max(r["created_at"] for r in v)
    teams = {}
    for r in v:
        teams[(r["team_id"], r["enterprise_id"])] = teams.get(
            (r["team_id"], r["enterprise_id"]), 0) + 1
    assert ln["per_team"] == [{"enterprise_id": e, "team_id": t, "links": n}
                              for (t, e), n in sorted(teams.items())]
    with linked.db() as c:
        q = lambda sql: c.execute(sql).fetchone()[0]  # noqa: E731
        t = int(now)
        assert s["login_states"]["used"] == q(
            "SELECT count(*) FROM login_state WHERE used_at IS NOT NULL "
            "AND expires_at > %d" % t)
        assert s["login_states"]["expired"] == q(
            "SELECT count(*) FROM login_state WHERE expires_at <= %d" % t)
        assert s["replays"]["live"] == q(
            "SELECT count(*) FROM slack_replay WHERE expires_at > %d" % t)
        assert s["replays"]["expired"] == q(
            "SELECT count(*) FROM slack_replay WHERE expires_at <= %d" % t)
        d = s["database"]
        assert d["page_size"] == q("PRAGMA page_size")
        assert d["page_count"] == q("PRAGMA page_count")
        assert d["freelist_count"] == q("PRAGMA freelist_count")
        verifiers = q("SELECT count(*) FROM login_state "
                      "WHERE verifier_ct IS NOT NULL")
    assert d["path"] == str(linked.db_path)
    assert d["size_bytes"] == os.path.getsize(linked.db_path)
    assert d["wal_bytes"] == os.path.getsize(str(linked.db_path) + "-wal")
    assert d["schema_version"] == d["schema_current"] == SCHEMA
    assert s["keys"] == [{"key_id": v[0]["key_id"], "links": len(v),
                          "login_states": verifiers, "configured": True}]
    assert verifiers >= 1
    r = admin(linked, "stats")
    assert r.returncode == 0
    assert re.search(r"^links +%d total, %d used_24h, %d used_30d, %d "
                     r"never_used$" % (len(v), ln["used_24h"], ln["used_30d"],
                                       ln["never_used"]), r.stdout, re.M)
    assert re.search(r"^keys +%s: %d links, %d login_states, configured$"
                     % (v[0]["key_id"], len(v), verifiers), r.stdout, re.M)
    assert re.search(r"^ +schema_version %d, schema_current %d " % (
        SCHEMA, SCHEMA), r.stdout, re.M)
    # The text and the JSON use the same words (issue 16, 12): each row
    # is named after a top-level member, every member's name is in the
    # text, and each figure in the text sits next to its member's name.
    labels = [ln.split()[0] for ln in r.stdout.splitlines()
              if not ln.startswith(" ")]
    assert labels == list(s.keys()), (labels, list(s.keys()))

    def names(o):
        if isinstance(o, dict):
            for k, val in o.items():
                yield k
                yield from names(val)
        elif isinstance(o, list):
            for val in o:
                yield from names(val)
    ids = {"key_id", "team_id", "enterprise_id", "path"}
    missing = {n for n in names(s) if n not in ids} - \
        set(re.findall(r"[a-z_0-9]+", r.stdout))
    assert not missing, (missing, r.stdout)
    for k, val in list(ln.items()) + list(s["login_states"].items()) + \
            list(s["replays"].items()) + list(s["actions"].items()) + \
            list(d.items()):
        if isinstance(val, int) and not isinstance(val, bool):
            assert re.search(r"\b%d %s\b|\b%s %d\b" % (val, k, k, val),
                             r.stdout), (k, val, r.stdout)
    assert re.search(r"^actions +%d live, %d expired$" % (
        s["actions"]["live"], s["actions"]["expired"]), r.stdout, re.M)
    with linked.db() as c:
        c.executemany("DELETE FROM slack_action WHERE key_hash = ?",
                      [(k,) for k in keys])


# -- the default settings file ----------------------------------------------

def default_env_path():
    """$(sysconfdir)/forcelink/forcelink.env of this build, as the tool's
    --help names it."""
    r = subprocess.run([str(ADMIN), "--help"], capture_output=True,
                       text=True, timeout=10)
    m = re.search(r"Default: (/\S+/forcelink/forcelink\.env)", r.stdout)
    assert m, r.stdout
    return Path(m.group(1))


def in_own_mounts(etc, argv, env):
    """Runs argv with directory etc mounted over the build's sysconfdir,
    in a mount namespace of its own (the machine's stays untouched)."""
    target = default_env_path().parent.parent
    if not target.is_dir():
        pytest.skip("%s does not exist here" % target)
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", script, "sh", str(etc), str(target)] +
                       [str(a) for a in argv], env=env, capture_output=True,
                       text=True, timeout=40)
    if r.returncode != 0 and ("unshare failed" in r.stderr or
                              "mount:" in r.stderr):
        pytest.skip("needs a mount namespace (root): " + r.stderr.strip())
    OUTPUTS.append(r.stdout + r.stderr)
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr
    return r


def test_default_env_file(linked, tmp_path):
    """Without --env-file the tool reads the installed settings file, so
    the README's and the man page's examples work as written (issue 16,
    point 3); one that is there but unreadable is an error naming it;
    --env-file still wins, and --env-file /dev/null reads nothing."""
    etc = tmp_path / "etc"
    (etc / "forcelink").mkdir(parents=True)
    settings = {k: v for k, v in linked.env().items()
                if k.startswith(("FORCELINK_", "SF_", "SLACK_"))}
    f = etc / "forcelink" / "forcelink.env"
    f.write_text("".join("%s='%s'\n" % kv for kv in settings.items()))
    os.chmod(f, 0o600)
    # Only what a root shell has: no setting at all.
    bare = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    want = admin_json(linked, "stats", "--json")
    r = in_own_mounts(etc, [ADMIN, "stats", "--json"], bare)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout) == want
    # --env-file /dev/null: nothing read, so nothing configured.
    r = in_own_mounts(etc, [ADMIN, "--env-file", "/dev/null", "stats"],
                      bare)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "is not set" in r.stderr
    # --env-file wins over the default.
    other = tmp_path / "other.env"
    other.write_text("".join("%s='%s'\n" % kv for kv in dict(
        settings, FORCELINK_DB=str(tmp_path / "nowhere.db")).items()))
    r = in_own_mounts(etc, [ADMIN, "--env-file", other, "stats"], bare)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "nowhere.db" in r.stderr, r.stderr
    # No file: as before, the environment alone.
    (etc / "forcelink" / "forcelink.env").unlink()
    r = in_own_mounts(etc, [ADMIN, "stats"], bare)
    assert r.returncode == 4 and "is not set" in r.stderr, r.stderr
    # There but unreadable (a directory: root reads any file): an error
    # naming it, never a silent fallback to the environment.
    (etc / "forcelink" / "forcelink.env").mkdir()
    r = in_own_mounts(etc, [ADMIN, "stats"], dict(bare, **settings))
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert ("the default settings: %s" % default_env_path()) in r.stderr
    assert "--env-file /dev/null for none" in r.stderr


# -- doctor -------------------------------------------------------------------

DOCTOR_CHECKS = ["config", "public_url", "database", "schema", "modes.database",
                 "modes.directory", "modes.key", "modes.secrets",
                 "key.sample", "key.ids", "salesforce"] + \
    ["socket"] * len(PROGRAMS)
def give_sockets_to_nginx(stack):
    """The stack's sockets as systemd makes them: group www-data, 0660
    (the programs make them with the test's own group)."""
    gid = nginx_gid()
    if gid is None:
        pytest.skip("needs group %s and the right to give it" % NGINX_GROUP)
    for prog in PROGRAMS:
        sock = stack.dir / (prog + ".sock")
        os.chown(sock, -1, gid)
        os.chmod(sock, 0o660)


def doctor(stack, *args, rc, sockets_as_is=False, **kw):
    if not sockets_as_is:
        give_sockets_to_nginx(stack)
    env = dict(kw.pop("env", {}))
    env.setdefault("FORCELINK_SOCKET_DIR", str(stack.dir))
    d = admin_json(stack, "doctor", "--json", *args, rc=rc, env=env, **kw)
    assert d["ok"] is (rc == 0)
    return d, {c["check"]: c for c in d["checks"]}


def test_doctor_action_rows_under_another_key(linked):
    """An action row (issue 15) sealed under a key the programs do not
    hold fails key.ids, naming the key and the rows."""
    h = os.urandom(32)
    with linked.db() as c:
        c.execute(ACTION_INSERT.replace("'0000000000000000'",
                                        "'feedfacefeedface'"),
                  action_row(h, 2 ** 40))
    try:
        d, checks = doctor(linked, rc=1)
        assert checks["key.ids"]["status"] == "fail"
        assert re.search(r"key id feedfacefeedface seals 1 action rows, "
                         r"but is not in the configured keyring",
                         checks["key.ids"]["detail"]), checks["key.ids"]
    finally:
        with linked.db() as c:
            c.execute("DELETE FROM slack_action WHERE key_hash = ?", (h,))
    d, checks = doctor(linked, rc=0)
    assert checks["key.ids"]["status"] == "ok"


def test_doctor_ok(linked):
    d, _ = doctor(linked, rc=0)
    assert [c["check"] for c in d["checks"]] == DOCTOR_CHECKS
    assert all(c["status"] == "ok" for c in d["checks"]), d
    details = [c["detail"] for c in d["checks"]]
    assert "http on this machine only" in details[1]
    assert "integrity_check ok" in details[2]
    assert "HTTP 200" in details[10] and "verified" in details[10]
    assert len(details[11:]) == len(PROGRAMS) == 5
    for prog, det in zip(PROGRAMS, details[11:]):
        assert det.startswith("%s/%s.sock 0660 " % (linked.dir, prog)), det
        assert det.endswith(":" + NGINX_GROUP), det
    # The key as the README installs it: readable by its group too.
    os.chmod(linked.dir / "key", 0o640)
    try:
        d, checks = doctor(linked, rc=0)
    finally:
        os.chmod(linked.dir / "key", 0o600)
    assert checks["modes.key"]["status"] == "ok"
    assert " 0640 " in checks["modes.key"]["detail"]
    r = admin(linked, "doctor",
              env={"FORCELINK_SOCKET_DIR": str(linked.dir)})
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["ok", c]
                                                 for c in DOCTOR_CHECKS]


def test_doctor_finds_problems(linked):
    plain = linked.dir / "plain-file"
    plain.write_text("x")
    open_secret = linked.dir / "slack_secret_world_readable"
    open_secret.write_text(secrets.token_hex(16) + "\n")
    os.chmod(open_secret, 0o644)
    open_token = linked.dir / "slack_bot_token_world_readable"
    # Made here, never committed: only its file mode matters.
    open_token.write_text("xoxb-%s\n" % secrets.token_hex(16))
    os.chmod(open_token, 0o644)
    sock = linked.dir / "contact.sock"
    rows = [
        # (what to change, how to undo it, extra args, env, check, detail)
        (lambda: os.chmod(linked.dir / "key", 0o644),
         lambda: os.chmod(linked.dir / "key", 0o600), (), {},
         "modes.key", "readable by its group at most, and by nobody"),
        (lambda: os.chmod(linked.dir / "key", 0o660),
         lambda: os.chmod(linked.dir / "key", 0o600), (), {},
         "modes.key", "readable by its group at most, and by nobody"),
        (None, None, (), {"SLACK_CLIENT_ID": "1234.5678",
                          "SLACK_CLIENT_SECRET_FILE": str(open_secret)},
         "modes.secrets", "(world-accessible)"),
        (None, None, (), {"SLACK_BOT_TOKEN_FILE": str(open_token)},
         "modes.secrets", "(world-accessible)"),
        (lambda: os.chmod(linked.dir / "sf_secret", 0o604),
         lambda: os.chmod(linked.dir / "sf_secret", 0o600), (), {},
         "modes.secrets", "(world-accessible)"),
        (lambda: os.chmod(linked.db_path, 0o644),
         lambda: os.chmod(linked.db_path, 0o600), (), {},
         "modes.database", "must be 0600 or 0660"),
        (lambda: os.chmod(linked.db_path.parent, 0o777),
         lambda: os.chmod(linked.db_path.parent, 0o755), (), {},
         "modes.directory", "world-writable"),
        (lambda: os.chmod(sock, 0o666),
         lambda: os.chmod(sock, 0o660), (), {},
         "socket", "world-writable"),
        # Sockets nginx cannot connect to: group without write, or
        # another group.
        (lambda: os.chmod(sock, 0o600),
         lambda: os.chmod(sock, 0o660), (), {},
         "socket", "nginx (group www-data) cannot connect"),
        (lambda: os.chown(sock, -1, 0),
         lambda: os.chown(sock, -1, nginx_gid()), (), {},
         "socket", "nginx (group www-data) cannot connect"),
        (None, None, ("--socket", str(linked.dir / "nope.sock")), {},
         "socket", "missing (is its socket unit started, or the program "
         "running with -s?)"),
        (None, None, ("--socket", str(plain)), {},
         "socket", "is not a socket"),
        # A public URL Slack and Salesforce cannot use (issue 16, 8).
        (None, None, (), {"FORCELINK_PUBLIC_URL": "http://forcelink.test"},
         "public_url", "is not https"),
        (None, None, (), {"FORCELINK_PUBLIC_URL":
                          "https://forcelink.test/forcelink"},
         "public_url", "has a path (/forcelink)"),
        (None, None, (), {"FORCELINK_CA_FILE": None},
         "salesforce", "certificate verification failed"),
        # A refused connection and a name that does not resolve read
        # differently.
        (None, None, (), {"SF_LOGIN_URL": "https://127.0.0.1:1"},
         "salesforce", "127.0.0.1: the name resolves, but the connection "
         "was refused or the host is unreachable"),
        (None, None, (), {"SF_LOGIN_URL": "https://no-such-host.invalid"},
         "salesforce", "no-such-host.invalid: the name does not resolve"),
    ]
    give_sockets_to_nginx(linked)
    for change, undo, args, env, check, detail in rows:
        if change:
            change()
        try:
            unset = [k for k, v in env.items() if v is None]
            d, checks = doctor(linked, *args, rc=1, unset=unset,
                               sockets_as_is=True,
                               env={k: v for k, v in env.items()
                                    if v is not None})
        finally:
            if undo:
                undo()
        failed = [c for c in d["checks"] if c["status"] == "fail"]
        assert [c["check"] for c in failed] == [check], d
        assert detail in failed[0]["detail"], failed[0]
    # The programs' sockets missing: each names the socket unit that
    # makes it (under socket activation no program need be running).
    nowhere = linked.dir / "var"
    d, _ = doctor(linked, rc=1, env={"FORCELINK_SOCKET_DIR": str(nowhere)})
    units = ["forcelink-%s.socket" % p.replace("_", "-") for p in PROGRAMS]
    assert [c["detail"] for c in d["checks"] if c["status"] == "fail"] == [
        "%s/%s.sock: missing (is %s started? systemctl enable --now %s)"
        % (nowhere, p, u, u) for p, u in zip(PROGRAMS, units)], d
    d, checks = doctor(linked, rc=0,
                       env={"FORCELINK_PUBLIC_URL": "https://forcelink.test"})
    assert checks["public_url"] == {"check": "public_url", "status": "ok",
                                    "detail": "https://forcelink.test"}
    # The key in the environment: its file check is skipped, not failed.
    d, checks = doctor(linked, rc=0, unset=("FORCELINK_KEY_FILE",),
                       env={"FORCELINK_KEY": linked.key})
    assert checks["modes.key"]["status"] == "skip"


def test_doctor_database_and_timeout(linked):
    bad = linked.dir / "not-a-db"
    bad.write_bytes(b"SQLite format 2\0" + os.urandom(4080))
    os.chmod(bad, 0o600)
    d, checks = doctor(linked, rc=1, env={"FORCELINK_DB": str(bad)})
    assert checks["database"]["status"] == "fail"
    assert "is not a readable SQLite database" in checks["database"]["detail"]
    assert "key.sample" not in checks and "key.ids" not in checks
    # No database yet: said once, with how it comes to exist (issue 16,
    # 12); its file modes are skipped, not failed a second time.
    none = linked.dir / "var" / "not-yet.db"
    d, checks = doctor(linked, rc=1, env={"FORCELINK_DB": str(none)})
    assert [c["check"] for c in d["checks"] if c["status"] == "fail"] == \
        ["database"], d
    assert "a program creates it when it first starts" in \
        checks["database"]["detail"]
    assert checks["modes.database"]["status"] == "skip"
    assert sum("does not exist" in c["detail"] for c in d["checks"]) == 1
    assert not none.exists()
    # The modules' log lines go under the row of the check that wrote
    # them, never loose in the table or on standard error.
    env = {"FORCELINK_SOCKET_DIR": str(linked.dir),
           "SF_LOGIN_URL": "https://127.0.0.1:1"}
    r = admin(linked, "doctor", env=env)
    assert r.returncode == 1 and r.stderr == "", (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    logs = [i for i, ln in enumerate(lines) if ln.startswith("      log: ")]
    assert logs, r.stdout
    assert all(ln.split()[0] in ("ok", "FAIL", "skip")
               for i, ln in enumerate(lines) if i not in logs), r.stdout
    assert lines[logs[0] - 1].split()[:2] == ["FAIL", "salesforce"]
    assert "level=" in lines[logs[0]] and "time=" not in lines[logs[0]]
    d, checks = doctor(linked, rc=1, env=env)
    assert any(ln.startswith("level=") for ln in checks["salesforce"]["log"])
    # A Salesforce that accepts the connection and never answers: the
    # check gives up after --timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = "https://127.0.0.1:%d" % silent.getsockname()[1]
        t0 = time.monotonic()
        d, checks = doctor(linked, "--timeout", "1", rc=1,
                           env={"SF_LOGIN_URL": url})
        took = time.monotonic() - t0
    assert checks["salesforce"]["detail"] == \
        "127.0.0.1: no answer within 1 s"
    assert took < 8, took


# -- a locked database --------------------------------------------------------

def test_locked_database(linked):
    """Another process holds the database: in exclusive locking mode
    (nobody may even read), the tool waits the busy timeout and exits 5;
    holding only the write lock, reads go on and writes exit 5.  On
    copies, so the running service is not held up; the three slow
    commands run at once, to wait the timeout once."""
    copies = []
    for name in ("locked-x.db", "locked-w.db"):
        p = linked.dir / name
        src, dst = linked.db(), sqlite3.connect(str(p))
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        src.close()
        dst.close()
        copies.append(str(p))
    xhold = sqlite3.connect(copies[0], isolation_level=None)
    xhold.execute("PRAGMA locking_mode=EXCLUSIVE")
    xhold.execute("BEGIN EXCLUSIVE")
    xhold.execute("SELECT count(*) FROM sf_link").fetchone()
    whold = sqlite3.connect(copies[1], isolation_level=None)
    whold.execute("BEGIN IMMEDIATE")
    results = {}

    def run(name, db, *args):
        t0 = time.monotonic()
        r = admin(linked, *args, env={"FORCELINK_DB": db})
        results[name] = (r, time.monotonic() - t0)
    jobs = [("list-x", copies[0], "list"),
            ("purge-w", copies[1], "purge"),
            ("unlink-w", copies[1], "unlink", A[1], A[2])]
    threads = [threading.Thread(target=run, args=j) for j in jobs]
    for t in threads:
        t.start()
    try:
        run("list-w", copies[1], "list", "--json")
        for t in threads:
            t.join(40)
    finally:
        xhold.execute("ROLLBACK")
        xhold.close()
        whold.execute("ROLLBACK")
        whold.close()
    r, took = results["list-w"]
    assert r.returncode == 0 and took < 4.5, (took, r.stderr)
    assert len(json.loads(r.stdout)) == len(view(linked))
    for name, what in (("list-x", "database %s is locked" % copies[0]),
                       ("purge-w", "purging: the database is locked"),
                       ("unlink-w", "deleting the link: the database is "
                        "locked")):
        r, took = results[name]
        assert r.returncode == 5, (name, r.returncode, r.stderr)
        assert what in r.stderr, r.stderr
        assert "beyond the busy timeout; try again" in r.stderr
        assert r.stdout == ""
        assert 4.5 <= took < 20, (name, took)
    # The unlink changed nothing.
    with sqlite3.connect(copies[1]) as c:
        assert c.execute("SELECT count(*) FROM sf_link WHERE team_id = ? "
                         "AND user_id = ?", A[1:3]).fetchone()[0] == 1


# -- the manual page ----------------------------------------------------------

def test_man_page():
    r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(MAN)],
                       capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    # Plain -Tlint adds style notes; the only ones allowed are about this
    # machine's mandoc.db lacking the pages of SEE ALSO, which depends on
    # whether makewhatis has been run, not on the page.
    r = subprocess.run(["mandoc", "-Tlint", str(MAN)], capture_output=True,
                       text=True)
    assert r.returncode == 0
    for line in (r.stdout + r.stderr).splitlines():
        assert re.match(r"mandoc: (outdated mandoc\.db lacks \S+ entry|"
                        r".*referenced manual not found)", line), line
    page = MAN.read_text()
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES",
              "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert "\n.Sh %s\n" % s in page, s
    for status in range(6):
        assert "\n.It %d\n" % status in page
    # Every command and every option its --help lists is in the page.
    for cmd in COMMANDS + ("rotate-key",):
        assert "\n.Cm %s" % cmd in page, cmd
    for cmd in COMMANDS:
        out = subprocess.run([str(ADMIN), cmd, "--help"],
                             capture_output=True, text=True).stdout
        for opt in set(re.findall(r"--([a-z][a-z-]+)", out)) - {"help"}:
            assert "Fl -%s" % opt in page, (cmd, opt)


def test_zz_no_secret_in_any_output(linked):
    """Nothing the tool printed in this module holds a secret of the run
    (tokens, codes, verifiers, the key, the client and signing secrets)."""
    probes, needles = linked.secret_probes(linked.secret_values())
    hay = "\n".join(OUTPUTS).encode()
    assert len(OUTPUTS) > 50
    hits = set()
    for m in re.finditer(rb"[\x21-\x7e]{24,}", hay):
        run = m.group(0)
        for i in range(len(run) - 23):
            if run[i:i + 24] in probes:
                hits.add(probes[run[i:i + 24]][:8])
    hits.update(what for needle, what in needles if needle in hay)
    assert not hits, hits
