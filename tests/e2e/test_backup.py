"""forcelink-admin backup and restore, and the global --quiet (issue 16).

Against the real stack: links made through the whole OAuth flow, the
FastCGI programs running (and, in the first test, linking users while
the backup is taken).  Each backup is checked from outside the tool:
its mode and its directory's, its checksum with sha256sum -c, SQLite's
integrity_check, and every link in it opening (forcelink-admin show on
a copy).  restore is checked on what it refuses (an existing database
without --force, a damaged or altered file, rows under a key that is
not configured, something that is not a forcelink database) and on
what it does: into a missing database (owned like its directory when
run as root), and with --force into the live database while the
programs keep serving, after which a search finds the restored link.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from test_admin import ADMIN, MAN, SCHEMA, admin, admin_json, link_user, \
    other_key

NAME = r"forcelink-\d{8}T\d{6}Z(-\d+)?\.db"

A = ("", "T0BAK0001", "U0BAK0001", "alice@example.com")
B = ("", "T0BAK0001", "U0BAK0002", "bob@example.com")


@pytest.fixture(scope="module")
def linked(stack):
    for ln in (A, B):
        link_user(stack, *ln)
    return stack


def mode(p):
    return os.stat(p).st_mode & 0o7777


def backups(d):
    return sorted(p.name for p in Path(d).iterdir()
                  if re.fullmatch(NAME, p.name))


def backup(stack, d, *args, rc=0, **kw):
    """backup --json into d; returns its report."""
    return admin_json(stack, "backup", "--json", str(d), *args, rc=rc, **kw)


OPENED = {}


def every_link_opens(stack, db, backup_file=False):
    """Every link of database db opens: restore, into a database of its
    own, opens each one and counts them (one process, where show would
    take one per link; test_restore_force_while_serving runs show on
    each link of the live database).  Returns the links' (team, user).
    A backup file never changes: it is checked once."""
    if backup_file and str(db) in OPENED:
        return OPENED[str(db)]
    d = stack.dir / "check"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    env = {"FORCELINK_DB": str(d / "forcelink.db")}
    r = admin(stack, "restore", db, env=env)
    assert r.returncode == 0, r.stderr
    m = re.search(r" \((\d+) links?, every one opens; ", r.stdout)
    assert m, r.stdout
    links = admin_json(stack, "list", "--json", env=env)
    assert len(links) == int(m.group(1))
    pairs = sorted((ln["team_id"], ln["user_id"]) for ln in links)
    if backup_file:
        OPENED[str(db)] = pairs
    return pairs


def integrity(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return (c.execute("PRAGMA integrity_check").fetchone()[0],
                c.execute("PRAGMA user_version").fetchone()[0],
                c.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        c.close()


def test_backup_while_linking(linked, tmp_path):
    """Users keep linking while backups are taken: each backup is one
    consistent snapshot in which every link opens."""
    d = tmp_path / "backups"
    stop = threading.Event()
    made = []

    def writer():
        i = 0
        while not stop.is_set() and i < 10:
            u = "U0BAKW%03d" % i
            link_user(linked, "", "T0BAK0002", u, "mallory@example.com")
            made.append(u)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        reports = []
        while len(made) < 3:
            stop.wait(0.05)
        for _ in range(2):
            reports.append(backup(linked, d))
            n = len(made)
            while len(made) < n + 2 and t.is_alive():
                stop.wait(0.05)
    finally:
        stop.set()
        t.join()
    assert mode(d) == 0o700
    assert len(backups(d)) == 2
    for o in reports:
        f = Path(o["file"])
        assert f.parent == d and mode(f) == 0o600
        assert o["checksum_file"] == str(f) + ".sha256"
        assert mode(o["checksum_file"]) == 0o600
        assert o["bytes"] == f.stat().st_size
        assert o["schema_version"] == SCHEMA
        assert o["newest_link_opens"] is True
        # The snapshot: one self-contained file, nothing beside it.
        assert integrity(f) == ("ok", SCHEMA, "delete")
        assert not Path(str(f) + "-wal").exists()
        pairs = every_link_opens(linked, f)
        assert len(pairs) == o["links"] >= 2
        assert (A[1], A[2]) in pairs and (B[1], B[2]) in pairs
    # The links grow from one backup to the next.
    assert reports[0]["links"] < reports[-1]["links"]
    r = subprocess.run(["sha256sum", "-c"] + [
        Path(o["checksum_file"]).name for o in reports], cwd=str(d),
        capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": OK\n") == 2
    # Only the backups and their checksums: no temporary file is left.
    assert len(list(d.iterdir())) == 4


def test_backup_text_and_keep(linked, tmp_path):
    d = tmp_path / "keep"
    d.mkdir(mode=0o755)
    others = ["notes.txt", "forcelink-old.db", "forcelink-20200101.db",
              "xforcelink-20200101T000000Z.db"]
    for n in others:
        (d / n).write_text("not a backup\n")
    old = "forcelink-20200101T000000Z.db"
    (d / old).write_text("an old backup\n")
    (d / (old + ".sha256")).write_text("0" * 64 + "  " + old + "\n")
    r = admin(linked, "backup", d)
    assert r.returncode == 0, r.stderr
    [name] = [n for n in backups(d) if n != old]
    assert r.stdout.startswith("backed up to %s/%s (" % (d, name))
    assert r.stdout.endswith("the newest opens; SHA-256 in %s/%s.sha256)\n"
                             % (d, name))
    assert mode(d) == 0o755     # an existing directory is left as it is
    names = [backup(linked, d)["file"] for _ in range(3)]
    # Within one second the names take -2, -3, ...: none is replaced.
    assert len(set(names)) == 3 and len(backups(d)) == 5
    o = backup(linked, d, "--keep", "2")
    kept = backups(d)
    assert len(kept) == 2 and Path(o["file"]).name in kept
    assert old not in kept and not (d / (old + ".sha256")).exists()
    assert len(o["removed"]) == 4 and old in o["removed"]
    for n in others:
        assert (d / n).read_text() == "not a backup\n"
    for n in kept:
        assert (d / (n + ".sha256")).exists()
    r = admin(linked, "backup", d, "--keep", "1")
    assert r.returncode == 0
    assert r.stdout.endswith("; removed 2 older backups\n")
    assert len(backups(d)) == 1
    for bad in ("0", "x"):
        r = admin(linked, "backup", d, "--keep", bad)
        assert r.returncode == 2 and "--keep takes a number" in r.stderr
    # A directory name with a control byte is printed with "?".
    r = admin(linked, "backup", tmp_path / "a\x1b[2Jb")
    assert r.returncode == 0, r.stderr
    assert "/a?[2Jb/forcelink-" in r.stdout and "\x1b" not in r.stdout


def test_backup_errors(linked, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    cases = [
        ([str(f)], 1, "backup: %s is not a directory" % f),
        ([str(tmp_path / "no" / "dir")], 1,
         "cannot create directory %s: No such file or directory (its "
         "parent must exist)" % (tmp_path / "no" / "dir")),
        # Not even root may create a file there.
        (["/proc/1"], 1, "backup: cannot create a file in /proc/1: "),
        ([], 2, "backup: name the directory to back up into"),
        (["a", "b"], 2, "backup: takes one directory"),
    ]
    for args, rc, msg in cases:
        r = admin(linked, "backup", *args)
        assert (r.returncode, r.stdout) == (rc, ""), r.stderr
        assert msg in r.stderr
    # An empty store is backed up, and the report says there was no link
    # to open.
    empty = tmp_path / "empty.db"
    src, c = linked.db(), sqlite3.connect(str(empty))
    src.backup(c)
    src.close()
    c.execute("DELETE FROM sf_link")
    c.commit()
    c.close()
    env = {"FORCELINK_DB": str(empty)}
    o = backup(linked, tmp_path / "e", env=env)
    assert (o["links"], o["newest_link_opens"]) == (0, None)
    r = admin(linked, "backup", tmp_path / "e", env=env)
    assert r.returncode == 0 and "(%d bytes, 0 links, none to open; " \
        % o["bytes"] in r.stdout
    # No database: nothing is created.
    r = admin(linked, "backup", str(tmp_path / "b"),
              env={"FORCELINK_DB": str(tmp_path / "none.db")})
    assert r.returncode == 4 and "does not exist" in r.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.fixture(scope="module")
def saved(linked, tmp_path_factory):
    """A backup of the links A and B (and the writer's), with its
    checksum."""
    d = tmp_path_factory.mktemp("saved")
    return Path(backup(linked, d)["file"])


def test_restore_refuses(linked, saved, tmp_path):
    # An existing database without --force.
    r = admin(linked, "restore", saved)
    assert r.returncode == 1
    assert "database %s exists: restore replaces it only with --force" \
        % linked.db_path in r.stderr
    # One byte changed: the checksum says so.
    bad = tmp_path / "bad.db"
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xff
    bad.write_bytes(bytes(data))
    shutil.copyfile(str(saved) + ".sha256", str(bad) + ".sha256")
    target = {"FORCELINK_DB": str(tmp_path / "new" / "forcelink.db")}
    (tmp_path / "new").mkdir()
    r = admin(linked, "restore", bad, env=target)
    assert r.returncode == 1
    assert "%s does not match its checksum %s.sha256" % (bad, bad) \
        in r.stderr
    # Without its checksum, SQLite's own checks find the damage: the
    # header mangled, or a page.
    os.unlink(str(bad) + ".sha256")
    hdr = bytearray(saved.read_bytes())
    hdr[0:16] = b"not a database!!"
    bad.write_bytes(bytes(hdr))
    r = admin(linked, "restore", bad, env=target)
    assert r.returncode == 1 and "is not a database SQLite can read" \
        in r.stderr
    page = bytearray(saved.read_bytes())
    ps = int.from_bytes(page[16:18], "big")
    for i in range(ps, len(page), ps):   # every page's header but 1's
        page[i:i + 8] = b"\xff" * 8
    bad.write_bytes(bytes(page))
    r = admin(linked, "restore", bad, env=target)
    assert r.returncode == 1, r.stderr
    assert "nothing was changed" in r.stderr
    # An SQLite file that is not forcelink's.
    c = sqlite3.connect(str(tmp_path / "other.db"))
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    r = admin(linked, "restore", tmp_path / "other.db", env=target)
    assert r.returncode == 1 and "is not a forcelink database" in r.stderr
    # A backup from a newer forcelink.
    newer = tmp_path / "newer.db"
    shutil.copyfile(saved, newer)
    c = sqlite3.connect(str(newer))
    c.execute("PRAGMA user_version = %d" % (SCHEMA + 1))
    c.commit()
    c.close()
    r = admin(linked, "restore", newer, env=target)
    assert r.returncode == 1
    assert "has schema version %d, newer than this forcelink-admin " \
        "knows (%d)" % (SCHEMA + 1, SCHEMA) in r.stderr
    r = admin(linked, "restore", tmp_path / "nothing.db", env=target)
    assert r.returncode == 1 and "no such file" in r.stderr
    # Nothing was made beside the would-be database.
    assert list((tmp_path / "new").iterdir()) == []
    # A live database SQLite cannot open is left alone, even with
    # --force, and the message says what to do.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "forcelink.db").write_bytes(b"not a database at all\n" * 300)
    r = admin(linked, "restore", "--force", saved,
              env={"FORCELINK_DB": str(junk / "forcelink.db")})
    assert r.returncode == 1
    assert "move it and its -wal and -shm away, and restore without " \
        "--force" in r.stderr
    assert (junk / "forcelink.db").read_bytes() == \
        b"not a database at all\n" * 300
    assert [p.name for p in junk.iterdir()] == ["forcelink.db"]


def test_restore_census_names_missing_key(linked, saved, tmp_path):
    """Rows under a key the configuration lacks: refused before anything
    changes, naming the key id; with the old key as a second line of the
    key file, the same restore works."""
    kid = admin_json(linked, "list", "--json")[0]["key_id"]
    env = {"FORCELINK_KEY_FILE": other_key(linked),
           "FORCELINK_DB": str(tmp_path / "forcelink.db")}
    r = admin(linked, "restore", saved, env=env)
    assert r.returncode == 4, r.stderr
    assert "sealed under key id %s, which FORCELINK_KEY_FILE does not hold" \
        % kid in r.stderr
    assert 'README, "Backups"' in r.stderr
    assert list(tmp_path.iterdir()) == []
    ring = tmp_path.parent / (tmp_path.name + "-ring.key")
    ring.write_text(Path(other_key(linked)).read_text() +
                    (linked.dir / "key").read_text())
    os.chmod(ring, 0o600)
    env["FORCELINK_KEY_FILE"] = str(ring)
    r = admin(linked, "restore", saved, env=env)
    assert r.returncode == 0, r.stderr
    assert "every one opens; checksum verified" in r.stdout


def test_restore_into_missing_database(linked, saved, tmp_path):
    """As root, into a directory the service's user owns: the database
    is that user's, 0600, and so are the files made beside it."""
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(d, 65534, 65534)
    db = d / "forcelink.db"
    env = {"FORCELINK_DB": str(db)}
    r = admin(linked, "restore", saved, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("restored %s into %s (" % (saved, db))
    assert mode(db) == 0o600
    if os.geteuid() == 0:
        for p in d.iterdir():
            st = os.stat(p)
            assert (st.st_uid, st.st_gid) == (65534, 65534), p.name
    assert sorted(p.name for p in d.iterdir() if "restore" in p.name) == []
    assert every_link_opens(linked, db) == every_link_opens(linked, saved, True)


def test_restore_force_while_serving(linked, saved, tmp_path):
    """The programs keep running: A unlinks (a search then asks them to
    log in), the backup is restored with --force, and A's search works
    again with the restored tokens, with no restart."""
    before = mode(linked.db_path), os.stat(linked.db_path).st_uid
    r = admin(linked, "unlink", A[1], A[2])
    assert r.returncode == 0, r.stderr
    r = linked.slash("smith", A[1], A[2])
    assert r.status == 200 and "Smith" not in r.text
    # A link made after the backup is gone afterwards.
    link_user(linked, "", "T0BAK0003", "U0BAK0009", "bob@example.com")
    r = admin(linked, "restore", "--force", saved)
    assert r.returncode == 0, r.stderr
    assert "every one opens" in r.stdout
    assert (mode(linked.db_path), os.stat(linked.db_path).st_uid) == before
    r = linked.slash("smith", A[1], A[2])
    assert r.status == 200 and "Smith" in r.text, r.text
    links = admin_json(linked, "list", "--json")
    pairs = sorted((ln["team_id"], ln["user_id"]) for ln in links)
    assert ("T0BAK0003", "U0BAK0009") not in pairs
    assert pairs == every_link_opens(linked, saved, True)
    for ln in links:
        o = admin_json(linked, "show", "--json", ln["team_id"],
                       ln["user_id"])
        assert o["tokens_open"] is True
    assert integrity(linked.db_path)[0] == "ok"
    assert [p for p in linked.db_path.parent.iterdir()
            if ".restore-" in p.name] == []


def test_quiet(linked, tmp_path):
    d = tmp_path / "q"
    for args in (["--quiet", "backup", d], ["backup", d, "--quiet"],
                 ["--quiet", "purge"], ["purge", "--quiet", "--json"]):
        r = admin(linked, *args)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), args
    assert len(backups(d)) == 2
    # Errors still say what went wrong.
    r = admin(linked, "--quiet", "backup", "/proc/1")
    assert r.returncode == 1 and r.stdout == ""
    assert "cannot create a file in /proc/1" in r.stderr
    r = admin(linked, "restore", "--quiet", tmp_path / "none.db")
    assert r.returncode == 1 and "no such file" in r.stderr
    # --help is still printed.
    r = admin(linked, "--quiet", "backup", "--help")
    assert r.returncode == 0 and r.stdout.startswith(
        "usage: forcelink-admin backup")


def test_help_and_man_page(linked):
    r = admin(linked, "--help")
    assert "  --quiet " in r.stdout
    for cmd in ("backup", "restore"):
        assert "\n  %s " % cmd in r.stdout
    page = MAN.read_text()
    assert "Fl -quiet" in page
    for cmd in ("backup", "restore"):
        assert "\n.Cm %s" % cmd in page, cmd
        out = subprocess.run([str(ADMIN), cmd, "--help"],
                             capture_output=True, text=True).stdout
        assert out.startswith("usage: forcelink-admin %s" % cmd)
        opts = set(re.findall(r"--([a-z][a-z-]+)", out))
        for opt in opts - {"help"}:
            assert "Fl -%s" % opt in page, (cmd, opt)
    # The nightly cron line that could not work is gone (issue 16).
    assert "cron.d" not in page


def unit_command(name):
    """The ExecStart= of systemd/NAME.service.in, as a list."""
    text = (Path(__file__).resolve().parents[2] / "systemd" /
            (name + ".service.in")).read_text()
    [line] = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    return line.split("=", 1)[1].split()


def test_timer_commands_as_the_services_user(linked, tmp_path):
    """What forcelink-purge.service and forcelink-backup.service run,
    word for word, as an unprivileged user owning the database (as
    forcelink does), with the settings in the environment (as systemd's
    EnvironmentFile= gives them): nothing printed, exit 0, and every file
    made is that user's."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv")
    uid = 65534
    # The pytest directories are root's alone: a directory of its own.
    # Not under TMPDIR, which scripts/test makes root-only (0700).
    base = Path(tempfile.mkdtemp(prefix="fl-timer-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        run_timer_commands(linked, base, uid)
    finally:
        shutil.rmtree(base)


def run_timer_commands(linked, base, uid):
    state, out = base / "state", base / "backups"
    state.mkdir(mode=0o700)
    out.mkdir(mode=0o700)
    db = state / "forcelink.db"
    src, dst = linked.db(), sqlite3.connect(str(db))
    src.backup(dst)
    src.close()
    dst.close()
    env = linked.env()
    # The key, the secrets and the CA as the user can read them (the
    # key file root:forcelink 0640 in an install).
    for k, v in list(env.items()):
        if v.startswith(str(linked.dir) + "/") and Path(v).is_file():
            env[k] = str(base / Path(v).name)
            shutil.copyfile(v, env[k])
            os.chown(env[k], 0, uid)
            os.chmod(env[k], 0o640)
    for p in (state, out, db):
        os.chown(p, uid, uid)
    os.chmod(db, 0o600)
    env["FORCELINK_DB"] = str(db)
    for name, target in (("forcelink-purge", None),
                         ("forcelink-backup", out)):
        argv = unit_command(name)
        assert argv[1:4] == ["--env-file", "/dev/null", "--quiet"]
        argv[0] = str(ADMIN)
        if target is not None:
            argv[argv.index("backup") + 1] = str(target)
        r = subprocess.run(
            ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
             "--clear-groups"] + argv, env=env, capture_output=True,
            text=True, timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), name
    made = list(state.iterdir()) + list(out.iterdir())
    assert len(backups(out)) == 1
    for p in made:
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (uid, uid), p.name
