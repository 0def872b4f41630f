"""forcelink-admin migrate-store: a SQLite installation moved to PostgreSQL
without anybody linking again (issue 14).

One stack on SQLite (links, a Slack installation, a Salesforce
integration mapped to a workspace, a login started but not finished) is
moved in the order forcelink-admin(8) gives: a rehearsal (--dry-run)
while the programs serve, then more writes (a new link, a refresh that
rotated a refresh token), then the programs stopped, the real copy, and
the same stack started on PostgreSQL (FORCELINK_DB the URI,
FORCELINK_DB_PASSWORD_FILE), where the links answer searches, the
rotated refresh token is the one presented at the next refresh, and the
login started on SQLite finishes; a second host of the same database
answers every migrated user too.  Before that, what the command refuses:
a target that is not a URI or holds a password, a server it cannot
reach, a configuration without the key the rows are sealed under (the
target left empty), a real copy while the programs still write (rolled
back), and afterwards a second copy into the now used database (left as
it is).
"""

import contextlib
import os
import re
import sqlite3
import threading
import time

import pytest

from harness import Stack
from test_admin import MAN, OUTPUTS, admin, admin_json, other_key

# One workspace, the harness's default: the Slack stand-in installs only
# the workspaces it knows, and once one is installed the others are
# refused.
WS = "T0E2E0001"
A = (WS, "U0MIG0001")       # linked; its token rotates later
B = (WS, "U0MIG0002")       # linked
C = (WS, "U0MIG0003")       # linked after the rehearsal
D = (WS, "U0MIG0004")       # a login started on SQLite

TABLES = ("sf_link", "login_state", "slack_replay", "slack_install",
          "slack_install_state", "sf_integration", "workspace_integration",
          "integration_token", "slack_action")

STARTED = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True, workers=1,
              threads=4).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def populated(stack):
    for team, user in (A, B):
        page = stack.link(team, user)
        assert page.status == 200, page.text
    stack.install(WS)
    admin(stack, "integration", "add", "second", "--login-url",
          stack.sf_url, "--client-id", "3MVG9second",
          "--client-secret-file", str(stack.dir / "sf_secret"))
    r = admin(stack, "workspace", "set-integration", "T0MIG0009", "second")
    assert r.returncode == 0, r.stderr
    # D opens the login link and clicks Continue; Salesforce's consent
    # comes only after the move.
    r, cookie = stack.start_login(stack.login_url(*D))
    assert r.status == 302, r.text
    STARTED.update(location=r.headers["Location"], cookie=cookie)
    return stack


def sqlite_counts(stack):
    """Rows per table of the stack's SQLite file (also once the stack
    is on PostgreSQL)."""
    with contextlib.closing(sqlite3.connect(str(stack.db_path))) as c:
        return {t: c.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                for t in TABLES}


def pg_counts(pg, db):
    (row,) = pg.query("SELECT " + ", ".join(
        "(SELECT count(*) FROM %s) AS %s" % (t, t) for t in TABLES), db)
    return row


def pg_env(pg, uri):
    return {"FORCELINK_DB": uri,
            "FORCELINK_DB_PASSWORD_FILE":
            pg.env["FORCELINK_DB_PASSWORD_FILE"]}


def migrate(stack, pg, uri, *args, **kw):
    return admin(stack, "migrate-store", "--to", uri, *args,
                 env={"FORCELINK_DB_PASSWORD_FILE":
                      pg.env["FORCELINK_DB_PASSWORD_FILE"]}, **kw)


def leftovers(stack):
    """Snapshots left beside the database."""
    return [p.name for p in stack.db_path.parent.iterdir()
            if ".migrate-" in p.name]


ACK = "Searching Salesforce\u2026"


def answered(stack, who):
    """who's search is answered with contacts, not a login link: in the
    HTTP answer, or (a worker's first request on PostgreSQL connects
    first, and a busy machine may take 2.5 s) in the post to
    response_url after the acknowledgement."""
    url = stack.response_url(who[0])
    r = stack.slash("smith", *who, response_url=url)
    assert r.status == 200, r.text
    body = r.json()
    if body["text"] == ACK:
        posts = stack.wait_hook(url)
        assert len(posts) == 1 and posts[0]["status"] == 200, posts
        body = posts[0]["body"]
    assert "Jane Smith" in body["text"], body
    assert "oauth/start" not in body["text"], body


def test_help(populated):
    r = admin(populated, "migrate-store", "--help")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.startswith("usage: forcelink-admin migrate-store "
                               "[--dry-run] [--json] --to URI\n")
    page = MAN.read_text()
    assert "\n.Cm migrate-store" in page
    for opt in set(re.findall(r"--([a-z][a-z-]+)", r.stdout)) - {"help"}:
        assert "Fl -%s" % opt in page, opt
    r = admin(populated, "--help")
    assert re.search(r"^  migrate-store +copy the SQLite database", r.stdout,
                     re.M), r.stdout


def test_refused_before_copying(populated, pg):
    stack = populated
    r = admin(stack, "migrate-store", "--to", str(stack.dir / "x.db"))
    assert r.returncode == 2 and "PostgreSQL URI" in r.stderr, r.stderr
    r = admin(stack, "migrate-store")
    assert r.returncode == 2 and "--to" in r.stderr, r.stderr
    # A password on the command line would be in the process list: it
    # is refused before any connection (the database need not exist).
    with_pw = pg.uri_for("mig_pw").replace(
        "postgresql:///", "postgresql://forcelink:Sup3rS3cretPw@/", 1)
    r = migrate(stack, pg, with_pw)
    assert r.returncode == 1, r.stderr
    assert "holds a password" in r.stderr, r.stderr
    assert "Sup3rS3cretPw" not in r.stdout + r.stderr
    # A server that is not there.
    r = migrate(stack, pg, "postgresql:///forcelink?host=%s"
                % (stack.dir / "no-such-socket-dir"))
    assert r.returncode == 1, r.stderr
    assert "cannot connect to the target" in r.stderr, r.stderr
    # No snapshot is left.
    assert leftovers(stack) == []


def test_key_not_configured_leaves_target_empty(populated, pg):
    stack = populated
    with stack.db() as c:
        kid = c.execute("SELECT key_id FROM sf_link").fetchone()[0]
    uri = pg.createdb("mig_key")
    r = admin(stack, "migrate-store", "--to", uri,
              env=dict(pg_env(pg, uri),
                       FORCELINK_DB=str(stack.db_path),
                       FORCELINK_KEY_FILE=other_key(stack)))
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert re.search(r"sf_link\.access_token_ct: 2 values sealed under "
                     r"key id %s, which is not configured" % kid,
                     r.stderr), r.stderr
    assert "slack_install.bot_token_ct" in r.stderr
    assert "sf_integration.client_secret_ct" in r.stderr
    assert "rolled back, the target is as it was" in r.stderr
    # The schema was made; not one row stayed.
    assert set(pg_counts(pg, "mig_key").values()) == {0}
    assert leftovers(stack) == []


@contextlib.contextmanager
def serving(stack):
    """B searches again and again meanwhile, and asks for a login link
    each time (which writes a login nonce: the replay cache, not the
    SQLite file, keeps the signatures seen); yields the list of the
    answers that were not right."""
    errors, done, first = [], threading.Event(), threading.Event()

    def serve():
        while not done.is_set():
            r = stack.slash("smith", *B)
            if r.status != 200 or "Jane Smith" not in r.json()["text"]:
                errors.append((r.status, r.text))
            r = stack.slash("login", *B)
            if r.status != 200 or "/oauth/start?state=" not in r.text:
                errors.append((r.status, r.text))
            first.set()

    t = threading.Thread(target=serve)
    t.start()
    try:
        # Serving already when the caller's copy starts.
        assert first.wait(30)
        yield errors
    finally:
        done.set()
        t.join()


def test_rehearsal_while_serving(populated, pg):
    """--dry-run copies and checks everything while the programs answer,
    and leaves the target empty."""
    stack = populated
    uri = pg.createdb("mig")
    with serving(stack) as errors:
        rep = admin_json(stack, "migrate-store", "--dry-run", "--json",
                         "--to", uri, env=pg_env(pg, uri) | {
                             "FORCELINK_DB": str(stack.db_path)})
    assert errors == []
    assert rep["dry_run"] is True and rep["committed"] is False
    assert rep["verified"] is True and rep["opened"] == rep["sealed"]
    tables = {t["table"]: t for t in rep["tables"]}
    assert [t["table"] for t in rep["tables"]] == list(TABLES)
    for t in rep["tables"]:
        assert t["source"] == t["copied"] == t["target"], t
    # Two links, an installation with rotation, an integration, a
    # started login (its verifier).
    assert tables["sf_link"]["source"] == 2
    assert tables["sf_link"]["opened"] == 4
    assert tables["slack_install"]["source"] == 1
    assert tables["sf_integration"]["opened"] == 1
    assert tables["workspace_integration"]["source"] == 1
    assert tables["login_state"]["opened"] >= 1
    assert set(pg_counts(pg, "mig").values()) == {0}
    # The summary for a terminal says the same.
    r = admin(stack, "migrate-store", "--dry-run", "--to", uri,
              env=pg_env(pg, uri) | {"FORCELINK_DB": str(stack.db_path)})
    assert r.returncode == 0, r.stderr
    assert re.search(r"^TABLE +SOURCE +COPIED +TARGET +SEALED +OPENED$",
                     r.stdout, re.M), r.stdout
    assert re.search(r"^sf_link +2 +2 +2 +4 +4$", r.stdout, re.M), r.stdout
    assert re.search(r"^verified: every table's count equal, \d+ sealed "
                     r"values open with the configured keys$", r.stdout,
                     re.M), r.stdout
    assert re.search(r"^dry run: \d+ rows copied into %s in \d+\.\d s "
                     r"and rolled back; the target is as it was$"
                     % re.escape(uri), r.stdout, re.M), r.stdout
    assert set(pg_counts(pg, "mig").values()) == {0}
    assert leftovers(stack) == []


def test_real_copy_while_serving_refused(populated, pg):
    """Without --dry-run the copy commits only if nothing was written to
    the SQLite file since its snapshot: with the programs still serving
    it is rolled back."""
    stack = populated
    uri = pg.createdb("mig_live")
    # Replay entries (valid for an hour), so that the copy takes long
    # enough for requests to land in it.
    with stack.db() as c:
        c.executemany("INSERT INTO slack_replay VALUES (?, ?)",
                      [(os.urandom(32), int(time.time()) + 3600)
                       for _ in range(2000)])
    with serving(stack) as errors:
        r = admin(stack, "migrate-store", "--to", uri,
                  env=pg_env(pg, uri) | {"FORCELINK_DB": str(stack.db_path)})
    assert errors == []
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "the database was written while it was being copied" in \
        r.stderr and "rolled back, the target is as it was" in r.stderr, \
        r.stderr
    assert set(pg_counts(pg, "mig_live").values()) == {0}
    assert leftovers(stack) == []


def test_switch_over_loses_nothing(populated, pg, tmp_path_factory):
    """The documented order: after the rehearsal the service writes on
    (a new link, a rotated refresh token); stopped, copied, started on
    PostgreSQL, it has all of it, and so has a second host."""
    stack = populated
    uri = pg.uri_for("mig")
    page = stack.link(*C)
    assert page.status == 200, page.text
    with stack.db() as c:
        v0, rt0 = c.execute("SELECT version, refresh_token_ct FROM sf_link "
                            "WHERE user_id = ?", (A[1],)).fetchone()
    stack.faults(rotate_refresh=True)
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    answered(stack, A)
    with stack.db() as c:
        v1, rt1 = c.execute("SELECT version, refresh_token_ct FROM sf_link "
                            "WHERE user_id = ?", (A[1],)).fetchone()
    assert v1 > v0 and rt1 != rt0
    stack.stop_programs()
    before = sqlite_counts(stack)
    rep = admin_json(stack, "migrate-store", "--json", "--to", uri,
                     env=pg_env(pg, uri) | {
                         "FORCELINK_DB": str(stack.db_path)})
    assert rep["committed"] is True and rep["verified"] is True
    assert {t["table"]: t["target"] for t in rep["tables"]} == before
    assert pg_counts(pg, "mig") == before
    # The sealed bytes moved as they were.
    with stack.db() as c:
        want = sorted((u, k, a.hex(), r.hex()) for u, k, a, r in c.execute(
            "SELECT user_id, key_id, access_token_ct, refresh_token_ct "
            "FROM sf_link"))
    got = sorted((r["user_id"], r["key_id"], r["a"][2:], r["r"][2:])
                 for r in pg.query(
                     "SELECT user_id, key_id, access_token_ct::text AS a, "
                     "refresh_token_ct::text AS r FROM sf_link", "mig"))
    assert got == want and len(got) == 3
    # The same stack on PostgreSQL: FORCELINK_DB the URI, and the
    # password file.
    stack.pg, stack.database = pg, "mig"
    assert stack.env()["FORCELINK_DB"] == uri
    stack.start_programs()
    for who in (A, B, C):
        answered(stack, who)
    # The next refresh presents the refresh token rotated on SQLite:
    # an older one would be taken for a stolen one.
    retired = stack.sf_state()["retired_refresh_presented"]
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    answered(stack, A)
    assert stack.sf_state()["retired_refresh_presented"] == retired
    (row,) = pg.query("SELECT version FROM sf_link WHERE user_id = '%s'"
                      % A[1], "mig")
    assert row["version"] > v1
    # The login started on SQLite finishes here.
    location = stack.consent(STARTED["location"], "bob@example.com")
    page = stack.callback(location, STARTED["cookie"], confirm=False)
    assert page.status == 200, page.text
    r = stack.confirm(page, *D)
    assert "Linked:" in r.json()["text"], r.text
    answered(stack, D)
    links = admin_json(stack, "list", "--json")
    assert sorted(ln["user_id"] for ln in links) == sorted(
        u for _, u in (A, B, C, D))
    # A second host of the same store serves the migrated links too.
    b = Stack(tmp_path_factory.mktemp("hostB"), peer=stack, workers=1,
              threads=2).start()
    try:
        for who in (A, B, C, D):
            answered(b, who)
    finally:
        b.stop()
    # The SQLite file is as the copy left it: the way back.
    assert sqlite_counts(stack) == before


def test_second_copy_refused(populated, pg):
    stack = populated
    uri = pg.uri_for("mig")
    counts = pg_counts(pg, "mig")
    r = admin(stack, "migrate-store", "--to", uri,
              env=pg_env(pg, uri) | {"FORCELINK_DB": str(stack.db_path)})
    assert r.returncode == 1, r.stderr
    assert re.search(r"the target database holds \d+ rows? in sf_link: "
                     r"migrate-store copies only into an empty database",
                     r.stderr), r.stderr
    assert pg_counts(pg, "mig") == counts
    assert leftovers(stack) == []
    # The command refuses a PostgreSQL FORCELINK_DB as its source.
    r = admin(stack, "migrate-store", "--to", pg.uri_for("mig_key"),
              env=pg_env(pg, uri))
    assert r.returncode == 4 and "copies a SQLite file" in r.stderr, \
        r.stderr


def test_zz_no_secret_in_any_output(populated, pg):
    """Nothing migrate-store printed holds a secret of the run (tokens,
    codes, verifiers, the key, the client and signing secrets, the
    database's password)."""
    stack = populated
    probes, needles = stack.secret_probes(stack.secret_values() |
                                          {pg.password})
    hay = "\n".join(OUTPUTS).encode()
    assert len(OUTPUTS) >= 10
    hits = set()
    for m in re.finditer(rb"[\x21-\x7e]{24,}", hay):
        run = m.group(0)
        for i in range(len(run) - 23):
            if run[i:i + 24] in probes:
                hits.add(probes[run[i:i + 24]][:8])
    hits.update(what for needle, what in needles if needle in hay)
    assert not hits, hits
