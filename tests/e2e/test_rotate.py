"""Issue 5, point 2: rotating the encryption key without downtime.

forcelink-admin rotate-key (the real binary) runs against the real stack:
nginx, the three FastCGI programs reading FORCELINK_KEY_FILE, and the
Salesforce stand-in.

- Under load: 30 Slack users are linked through the whole OAuth flow; 20
  of them search continuously while their access tokens expire every few
  seconds (so refreshes write tokens all along), the other 10 are idle
  (so rotate-key has rows to re-seal itself); rotate-key runs meanwhile.
  Every search answers the user's contacts (none says "wrong key"), a link
  made while the rotation waits for the programs is written under the new
  key by the program itself, and at the end every row is under the new
  key, the key file holds the new key alone, and every link works (each
  refreshes once more, so its re-sealed refresh token is opened and used).
- kill -9 in the middle of a pass (small batches with a pause between
  them): the database passes integrity_check, every row opens under one
  key or the other, and the rerun resumes and completes.
- Refusals, each with its exit code and nothing changed (key file and
  rows byte for byte): a new key file that is not the base64 of 32 bytes,
  missing, or holding two keys; the current key again; a key given in
  FORCELINK_KEY only (the message says what to do); no key at all; rows
  under a key the key file lacks; usage errors; --help.
- A locked database: exit 5 after the busy cap, and the rerun completes.

On PostgreSQL (FL_E2E_ENGINE=postgresql) the same tests run against a
database of their own: the lock is the writers' advisory lock held by
another session, the busy cap the connection's lock_timeout, and there
is no integrity_check to run (a transaction's writes are all there or
none are; every row opening under one key or the other is what shows
it).
"""

import base64
import hashlib
import os
import re
import contextlib
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
import load
import pg as pglib

ADMIN = harness.BUILD / "admin" / "forcelink-admin"
NUSERS = 30
USERS = ["U0ROT%03d" % i for i in range(NUSERS)]
NEW_USER = "U0ROTNEW"
# Long enough that a search retried after a refresh is not expired again
# (see test_crash.py), short enough that most searches refresh.
ACCESS_TTL = 3


def key_id(b64):
    """The public id of a key, as crypto.c derives it: BLAKE2b keyed with
    the key over "forcelink key id v1", 8 bytes, in hex."""
    raw = base64.b64decode(b64)
    return hashlib.blake2b(b"forcelink key id v1", key=raw,
                           digest_size=8).hexdigest()


def new_key(stack, name):
    """A fresh key in a file of its own (mode 0600): (base64, path)."""
    b64 = base64.b64encode(os.urandom(32)).decode()
    path = stack.dir / name
    path.write_text(b64 + "\n")
    os.chmod(path, 0o600)
    return b64, path


def keyfile_ids(stack):
    return [key_id(w) for w in (stack.dir / "key").read_text().split()]


def counts(stack):
    """SELECT key_id, count(*) FROM sf_link GROUP BY 1, as a dict."""
    return dict(stack.sql("SELECT key_id, count(*) FROM sf_link "
                          "GROUP BY 1"))


def rows(stack):
    return stack.sql("SELECT * FROM sf_link ORDER BY user_id")


def linked_now(stack, first=None):
    """The users with a link now: the first `first` of the module's 30,
    and NEW_USER when test_rotate_under_load linked it (each test must
    also pass alone, as scripts/test --only -k runs it)."""
    now = [u for (u,) in stack.sql("SELECT user_id FROM sf_link")]
    return [u for u in USERS[:first] if u in now] + \
        [u for u in now if u == NEW_USER]


def admin_env(stack, **over):
    env = stack.env()
    env.update(over)
    return {k: v for k, v in env.items() if v is not None}


def admin(stack, *args, timeout=90, **over):
    return subprocess.run([str(ADMIN)] + [str(a) for a in args],
                          env=admin_env(stack, **over), capture_output=True,
                          text=True, timeout=timeout, cwd=str(stack.dir))


def search_ok(stack, user, hooks=None):
    """What a search for "smith" by user amounts to (load.classify)."""
    r, url = load.search(stack, user)
    kind, msg = load.final_message(stack, r, url, hooks)
    return load.classify(kind, msg)


def all_links_work(stack, users, hooks):
    with ThreadPoolExecutor(max_workers=6) as pool:
        out = list(pool.map(lambda u: (u, search_ok(stack, u, hooks)),
                            users))
    bad = [(u, o) for u, o in out if o != "contacts"]
    assert not bad, bad


def key_trouble(stack):
    """forcelink.log lines about a row that did not open."""
    return [ln for ln in stack.log_text().splitlines()
            if re.search(r"sealed under another key|does not open|"
                         r"badkey|cannot be used", ln)]


@pytest.fixture(autouse=True)
def _grants(stack, _reset_faults):
    """Many Slack users share a Salesforce user here: lift its limit of 5
    grants (faults are reset before each test)."""
    stack.faults(grant_limit=1000)


@pytest.fixture(scope="module")
def linked(stack):
    """30 users linked through the real flow (alternating Salesforce
    users), with access tokens that expire every ACCESS_TTL seconds."""
    stack.faults(grant_limit=1000)
    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(
            lambda iu: load.link_flow(stack, iu[1],
                                      load.SF_USERS[iu[0] % 2]),
            enumerate(USERS)))
    assert [o for o, _ in out] == ["linked"] * NUSERS, out
    assert counts(stack) == {key_id(stack.key): NUSERS}
    return USERS


class Load:
    """Searches by the linked users from a few threads until stopped;
    every outcome is kept."""

    def __init__(self, stack, users, threads=4):
        self.stack, self.users = stack, users
        self.hooks = load.Hooks(stack)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes = []
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]

    def run(self, i):
        n = i
        while not self.stop.is_set():
            user = self.users[n % len(self.users)]
            n += len(self.threads)
            o = search_ok(self.stack, user, self.hooks)
            with self.lock:
                self.outcomes.append((time.monotonic(), user, o))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class Lines:
    """Reads a process's standard output line by line as it comes."""

    def __init__(self, proc):
        self.lines = []
        self.t = threading.Thread(target=self.read, args=(proc,))
        self.t.start()

    def read(self, proc):
        for ln in proc.stdout:
            self.lines.append(ln.rstrip("\n"))


def test_rotate_under_load(stack, linked):
    old = key_id(stack.key)
    new_b64, new_path = new_key(stack, "key.new1")
    new = key_id(new_b64)
    trouble0 = len(key_trouble(stack))
    # Tokens issued from now on live ACCESS_TTL seconds; the ones issued
    # at linking expire now, so every user refreshes soon and again.
    stack.faults(grant_limit=1000, access_ttl=ACCESS_TTL)
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    before = stack.sf_state()
    # Two thirds of the users search (and refresh, which re-seals their
    # rows under the current key by itself); the others stay idle, so
    # rotate-key has rows of its own to re-seal.
    busy, idle = linked[:20], linked[20:]
    with Load(stack, busy) as ld:
        time.sleep(1.0)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [str(ADMIN), "rotate-key", "--new-key-file", str(new_path),
             "--grace", "3", "--batch", "7"],
            env=admin_env(stack), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=str(stack.dir))
        out = Lines(proc)
        # Once the key file names the new key first and the programs have
        # had their second to look at it, a new link is written by the
        # callback under the new key, before rotate-key re-seals anything.
        while keyfile_ids(stack)[0] != new:
            assert time.monotonic() - t0 < 10, out.lines
            time.sleep(0.05)
        time.sleep(1.2)
        outcome, detail = load.link_flow(stack, NEW_USER,
                                         "alice@example.com")
        assert outcome == "linked", (outcome, detail)
        (kid,), = stack.sql("SELECT key_id FROM sf_link WHERE user_id = ?",
                            (NEW_USER,))
        passes_then = [ln for ln in out.lines if ln.startswith("pass ")]
        assert kid == new
        assert passes_then == [], out.lines
        assert proc.wait(timeout=60) == 0, (out.lines, proc.stderr.read())
        out.t.join(5)
        time.sleep(1.0)         # the programs go on with the new key alone
    elapsed = time.monotonic() - t0
    after = stack.sf_state()
    results = [o for _, _, o in ld.outcomes]
    tally = {o: results.count(o) for o in set(results)}
    assert tally == {"contacts": len(results)}, tally
    assert len(results) >= 40, tally
    # Refreshes (which write tokens) ran during the rotation.
    assert after["refreshes_ok"] - before["refreshes_ok"] >= 10
    m = re.match(r"pass 1: (\d+) rows re-sealed", next(
        (ln for ln in out.lines if ln.startswith("pass 1: ")), ""))
    assert m and int(m.group(1)) >= len(idle), out.lines
    assert out.lines[-1].startswith("done: "), out.lines
    assert "key file: now holds the new key alone" in out.lines
    assert counts(stack) == {new: NUSERS + 1}
    assert keyfile_ids(stack) == [new]
    assert old != new
    assert key_trouble(stack)[trouble0:] == []
    # Every link works, its refresh token included.
    stack.faults(access_ttl=None)
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    all_links_work(stack, linked + [NEW_USER], ld.hooks)
    # The new key itself is nowhere it must not be.
    disk = stack.disk_bytes()
    assert new_b64.encode() not in disk
    assert base64.b64decode(new_b64) not in disk
    load.figure("rotation under load: %d searches in %.1f s, all answered "
                "with contacts; %d refreshes; rotate-key output: %s" % (
                    len(results), elapsed,
                    after["refreshes_ok"] - before["refreshes_ok"],
                    " | ".join(out.lines)))


def test_kill_9_mid_pass_then_resume(stack, linked):
    cur = keyfile_ids(stack)[0]
    new_b64, new_path = new_key(stack, "key.new2")
    new = key_id(new_b64)
    total = sum(counts(stack).values())
    proc = subprocess.Popen(
        [str(ADMIN), "rotate-key", "--new-key-file", str(new_path),
         "--grace", "1", "--batch", "1", "--pause", "100"],
        env=admin_env(stack), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=str(stack.dir))
    t0 = time.monotonic()
    while counts(stack).get(new, 0) < 5:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() - t0 < 20
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    mid = counts(stack)
    assert set(mid) == {cur, new} and sum(mid.values()) == total, mid
    assert mid[cur] >= 5, mid
    assert_integrity(stack)
    assert keyfile_ids(stack) == [new, cur]
    # Every row opens, under either key, for the running programs.
    hooks = load.Hooks(stack)
    all_links_work(stack, linked_now(stack), hooks)
    # Each search that found something keeps one action row (its
    # buttons, issue 15), re-sealed like the links.
    actions = dict(stack.sql("SELECT key_id, count(*) FROM slack_action "
                             "GROUP BY 1"))

    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              "--grace", "1")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "key file: the new key is first already (resuming)" in r.stdout
    m = re.search(r"^pass 1: (\d+) rows re-sealed", r.stdout, re.M)
    assert m and 1 <= int(m.group(1)) <= mid[cur] + actions.get(cur, 0), \
        r.stdout
    assert counts(stack) == {new: total}
    assert keyfile_ids(stack) == [new]
    assert_integrity(stack)
    all_links_work(stack, linked_now(stack, 6), hooks)


def snapshot(stack):
    return (stack.dir.joinpath("key").read_bytes(), rows(stack))


def assert_refused(stack, r, code, *says, before):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    for s in says:
        assert s in r.stderr, (s, r.stderr)
    assert snapshot(stack) == before
    for w in stack.dir.joinpath("key").read_text().split():
        assert w not in r.stdout + r.stderr


def test_refusals_change_nothing(stack, linked):
    before = snapshot(stack)
    cur_b64 = stack.dir.joinpath("key").read_text().strip()
    bad = stack.dir / "key.bad"
    cases = [
        ("not base64 at all!\n", "is not the base64 of 32 bytes"),
        (base64.b64encode(os.urandom(16)).decode() + "\n",
         "is not the base64 of 32 bytes"),
        (base64.b64encode(os.urandom(32)).decode() + "\n" +
         base64.b64encode(os.urandom(32)).decode() + "\n",
         "holds 2 keys; it must hold the new key alone"),
        ("", "no key"),
    ]
    for text, says in cases:
        bad.write_text(text)
        bad.chmod(0o600)
        r = admin(stack, "rotate-key", "--new-key-file", bad, "--grace", "0")
        assert_refused(stack, r, 2, "--new-key-file", says, before=before)
        assert text.strip() == "" or text.splitlines()[0] not in r.stderr
    r = admin(stack, "rotate-key", "--new-key-file", stack.dir / "nofile")
    assert_refused(stack, r, 2, "cannot read", before=before)

    # The current key again: nothing to rotate.
    same = stack.dir / "key.same"
    same.write_text(cur_b64 + "\n")
    same.chmod(0o600)
    r = admin(stack, "rotate-key", "--new-key-file", same, "--grace", "0")
    assert_refused(stack, r, 2, "already the current and only key",
                   before=before)

    # The key in FORCELINK_KEY without the new key first: the programs
    # read it only when they start, so they must have been restarted
    # with "NEW OLD" before anything is re-sealed.
    _, new_path = new_key(stack, "key.new3")
    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              FORCELINK_KEY=cur_b64, FORCELINK_KEY_FILE=None)
    assert_refused(stack, r, 4, "FORCELINK_KEY does not start with the "
                   "new key", "restart", "nothing was changed",
                   before=before)
    # The README section it sends the admin to exists (issue 16, 9).
    section = re.search(r'README, "([^"]+)"', r.stderr)
    assert section, r.stderr
    readme = (harness.ROOT / "README").read_text().splitlines()
    assert any(a == section.group(1) and set(b) == {"-"} and
               len(b) == len(a) for a, b in zip(readme, readme[1:])), \
        section.group(1)
    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              FORCELINK_KEY=None, FORCELINK_KEY_FILE=None)
    assert_refused(stack, r, 4, "neither FORCELINK_KEY_FILE nor "
                   "FORCELINK_KEY is set", before=before)
    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              FORCELINK_KEY=cur_b64)
    assert_refused(stack, r, 4, "both set", before=before)

    # A key file that does not hold the rows' key: a wrong key changes
    # nothing, neither the rows nor that file.
    wrong_b64, wrong = new_key(stack, "key.wrong")
    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              "--grace", "0", FORCELINK_KEY_FILE=str(wrong))
    assert_refused(stack, r, 4, "neither FORCELINK_KEY_FILE nor the new "
                   "key holds", "nothing was changed", before=before)
    assert wrong.read_text() == wrong_b64 + "\n"

    # Usage errors.
    for args in (["rotate-key"], ["rotate-key", "--new-key-file"],
                 ["rotate-key", "--new-key-file", new_path, "--batch", "0"],
                 ["rotate-key", "--new-key-file", new_path, "--grace", "-1"],
                 ["rotate-key", "--new-key-file", new_path, "--bogus"],
                 ["rotate-key", "--new-key-file", new_path, "extra"]):
        r = admin(stack, *args)
        assert_refused(stack, r, 2, "rotate-key: ", before=before)
        assert "forcelink-admin" in r.stderr
    r = admin(stack, "rotate-key", "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: forcelink-admin rotate-key "
                               "--new-key-file FILE")
    assert "Exit status" in r.stdout
    assert snapshot(stack) == before


def test_new_key_file_must_be_private(stack, linked):
    """A new key that others could read (or, as root, that someone else
    owns and so could have chosen) is refused with one line saying why,
    exit 2, before it is read: nothing changes."""
    before = snapshot(stack)
    new_b64, path = new_key(stack, "key.exposed")
    for mode in (0o640, 0o604, 0o620, 0o660, 0o644, 0o602):
        os.chmod(path, mode)
        r = admin(stack, "rotate-key", "--new-key-file", path,
                  "--grace", "0")
        assert_refused(stack, r, 2, before=before)
        assert r.stderr == (
            "forcelink-admin rotate-key: --new-key-file: %s is accessible "
            "by group or others (mode %04o); a key must be private: "
            "chmod 600 %s\n" % (path, mode, path)), r.stderr
        assert new_b64 not in r.stdout + r.stderr
    os.chmod(path, 0o600)
    assert os.geteuid() == 0, "the e2e suite runs as root"
    os.chown(path, 12345, 0)
    try:
        r = admin(stack, "rotate-key", "--new-key-file", path,
                  "--grace", "0")
        assert_refused(stack, r, 2, before=before)
        assert r.stderr == (
            "forcelink-admin rotate-key: --new-key-file: %s is owned by "
            "uid 12345, not by root or by you (who runs rotate-key as "
            "root): chown root %s\n" % (path, path)), r.stderr
        # Through sudo, the invoking user's own file is trusted: the check
        # passes and the next one (not a key) refuses.
        path.write_text("not base64 at all!\n")
        r = admin(stack, "rotate-key", "--new-key-file", path,
                  "--grace", "0", SUDO_UID="12345")
        assert_refused(stack, r, 2, "is not the base64 of 32 bytes",
                       before=before)
    finally:
        os.chown(path, 0, 0)


def assert_integrity(stack):
    """PRAGMA integrity_check says ok (SQLite; PostgreSQL has no such
    check: see the top of this file)."""
    if stack.pg is None:
        assert stack.sql("PRAGMA integrity_check") == [("ok",)]


# The writers' advisory lock of common/store_pg.c (PG_LOCK_CLASS,
# PG_LOCK_WRITER): what every write transaction takes first.
PG_WRITER_LOCK = (0x666c6b30, 1)


@contextlib.contextmanager
def write_lock(stack):
    """Another process holds the store's write lock meanwhile: a sqlite3
    connection's BEGIN IMMEDIATE, or on PostgreSQL a psql session of its
    own in a transaction holding the writers' advisory lock."""
    if stack.pg is None:
        db = sqlite3.connect(str(stack.db_path), timeout=10,
                             isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()
        return
    p = subprocess.Popen(
        [str(pglib.PG_BIN / "psql"), "-X", "-q", "-w", "-v",
         "ON_ERROR_STOP=1", "-d", stack.pg.uri_for(stack.database)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={"PATH": "/usr/bin:/bin",
             "PGPASSFILE": stack.pg.env["PGPASSFILE"]})
    try:
        p.stdin.write("BEGIN; SELECT pg_advisory_xact_lock(%d, %d);\n"
                      % PG_WRITER_LOCK)
        p.stdin.flush()
        held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted AND classid = ? AND objid = ? AND "
                "database = (SELECT oid FROM pg_database WHERE datname = "
                "current_database())")
        t0 = time.monotonic()
        while stack.sql(held, PG_WRITER_LOCK) != [(1,)]:
            assert p.poll() is None and time.monotonic() - t0 < 20
            time.sleep(0.05)
        yield
    finally:
        p.communicate("ROLLBACK;\n", timeout=30)
    assert p.returncode == 0


def test_locked_database_then_rerun(stack, linked):
    cur = keyfile_ids(stack)[0]
    new_b64, new_path = new_key(stack, "key.new4")
    new = key_id(new_b64)
    before_rows = rows(stack)
    total = len(before_rows)    # NEW_USER's row too, when it exists
    with write_lock(stack):
        t0 = time.monotonic()
        r = admin(stack, "rotate-key", "--new-key-file", new_path,
                  "--grace", "0")
        waited = time.monotonic() - t0
    assert r.returncode == 5, (r.stdout, r.stderr)
    assert "the database is locked" in r.stderr
    assert "run rotate-key again to resume" in r.stderr
    # The store's busy cap is 5 s on SQLite, lock_timeout 2 s on
    # PostgreSQL (common/store_pg.c).
    assert waited >= (4.5 if stack.pg is None else 1.8), waited
    # The key file says where it stopped; no row was changed.
    assert keyfile_ids(stack) == [new, cur]
    assert rows(stack) == before_rows
    r = admin(stack, "rotate-key", "--new-key-file", new_path,
              "--grace", "0")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert counts(stack) == {new: total}
    assert keyfile_ids(stack) == [new]
    all_links_work(stack, linked_now(stack, 4), load.Hooks(stack))


def test_key_in_environment_two_restarts(stack, linked):
    """The README's rotation of a key kept in FORCELINK_KEY, as written:
    the environment file says FORCELINK_KEY="NEW OLD" (quoted, as
    systemd reads it), the programs restart, rotate-key re-seals every
    row, FORCELINK_KEY becomes NEW alone and the programs restart again.
    Nobody is logged out at any step.  The admin tool reads the same
    environment file, whose FORCELINK_KEY wins over a FORCELINK_KEY_FILE
    in the caller's environment (issue 16, 9: it used to exit 4)."""
    users = linked_now(stack, 4)
    hooks = load.Hooks(stack)
    old_b64 = stack.dir.joinpath("key").read_text().split()[0]
    new_b64, new_path = new_key(stack, "key.env-new")
    settings = {k: v for k, v in stack.env().items()
                if k.startswith(("SLACK_", "SF_", "FORCELINK_"))
                and k != "FORCELINK_KEY_FILE"}
    envfile = stack.dir / "forcelink-envkey.env"

    def write_env(keys):
        envfile.write_text("".join("%s=%s\n" % kv for kv in
                                   sorted(settings.items())) +
                           'FORCELINK_KEY="%s"\n' % keys)
        envfile.chmod(0o600)

    def programs(keys):
        env = stack.env()
        env.pop("FORCELINK_KEY_FILE")
        env["FORCELINK_KEY"] = keys
        stack.restart_programs(env)

    try:
        # Before: the key in FORCELINK_KEY alone.
        programs(old_b64)
        all_links_work(stack, users, hooks)
        # First restart: the new key first, the old one after it.
        write_env(new_b64 + " " + old_b64)
        programs(new_b64 + " " + old_b64)
        all_links_work(stack, users, hooks)
        r = admin(stack, "--env-file", envfile, "rotate-key",
                  "--new-key-file", new_path)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "now set FORCELINK_KEY to the new key alone" in r.stdout
        assert counts(stack).keys() == {key_id(new_b64)}, counts(stack)
        all_links_work(stack, users, hooks)
        # Second restart: the new key alone.
        write_env(new_b64)
        programs(new_b64)
        all_links_work(stack, users, hooks)
        for w in (old_b64, new_b64):
            assert w not in r.stdout + r.stderr
    finally:
        # The module's other tests find the rows' keys in the key file.
        ids = counts(stack).keys()
        keys = [k for k in (new_b64, old_b64) if key_id(k) in ids]
        keys = keys or [old_b64]
        stack.dir.joinpath("key").write_text("\n".join(keys) + "\n")
        stack.key = keys[0]
        stack.restart_programs()
    assert not key_trouble(stack)
