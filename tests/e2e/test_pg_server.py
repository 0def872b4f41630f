"""The throwaway PostgreSQL server of the tests tells the truth (issue 14).

tests/pg/pgctl (through tests/e2e/pg.py's PgServer, as conftest's pg
fixture makes it) must give what the PostgreSQL engine's tests will rely
on: a server run as an unprivileged user, reachable on a unix socket in
its directory and on no TCP port, a forcelink role that gets in with its
password file and not without it, data that survives a restart, and
nothing left running after stop.  The Debian package's own cluster is
never started.
"""

import glob
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

import pg as pglib

# The package's clusters (/var/lib/postgresql/VERSION/NAME) running when
# this module was collected, before its server started.
SYSTEM_RUNNING = sorted(glob.glob("/var/lib/postgresql/*/*/postmaster.pid"))


def socket_inodes(pids):
    """The inodes of the sockets the processes pids hold open."""
    out = set()
    for pid in pids:
        fds = "/proc/%d/fd" % pid
        try:
            names = os.listdir(fds)
        except FileNotFoundError:
            # A backend or worker that ended meanwhile.
            continue
        for fd in names:
            try:
                link = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    return out


def net_inodes(name):
    """Inode of every socket listed in /proc/net/NAME (tcp, tcp6, udp,
    udp6; for unix: (inode, path) pairs)."""
    try:
        lines = Path("/proc/net/" + name).read_text().splitlines()[1:]
    except FileNotFoundError:
        return set()
    if name == "unix":
        return {(int(f[6]), f[7] if len(f) > 7 else "")
                for f in (ln.split() for ln in lines)}
    return {int(ln.split()[9]) for ln in lines}


@pytest.fixture(scope="module")
def pg():
    """A server of this module's own (conftest's is shared by the modules
    of a pytest process): the last tests stop and remove it."""
    s = pglib.PgServer()
    try:
        s.start()
        yield s
    finally:
        s.stop(remove=True)


def test_runs_as_an_unprivileged_user(pg):
    pids = pg.pids()
    # The postmaster and its background processes (checkpointer, WAL
    # writer, autovacuum launcher, ...).
    assert len(pids) >= 4, pids
    if os.geteuid() == 0:
        want = pwd.getpwnam("fltest-pg").pw_uid
    else:
        want = os.geteuid()
    assert want != 0
    assert pglib.uid_of(pids[0]) == [want] * 4
    for pid in pids[1:]:
        assert pglib.uid_of(pid) in ([want] * 4, None), pid
    # The cluster is the one in its directory, with its own settings:
    # not the package's (/etc/postgresql, /var/lib/postgresql).
    got = pg.query(
        "SELECT current_setting('data_directory') AS data, "
        "current_setting('config_file') AS conf, "
        "current_setting('hba_file') AS hba", superuser=True)[0]
    assert got == {"data": str(pg.dir / "data"),
                   "conf": str(pg.dir / "data" / "postgresql.conf"),
                   "hba": str(pg.dir / "data" / "pg_hba.conf")}
    # forcelink is not a superuser.
    assert pg.query("SELECT rolsuper, current_user AS me FROM pg_roles "
                    "WHERE rolname = current_user") == [
        {"rolsuper": False, "me": "forcelink"}]
    st = (pg.dir / "data").stat()
    assert st.st_uid == want and stat.S_IMODE(st.st_mode) == 0o700


def test_package_cluster_never_started():
    """The clusters of the package that were down stay down: pgctl never
    starts one (the install's policy-rc.d kept the package from it)."""
    assert sorted(glob.glob("/var/lib/postgresql/*/*/postmaster.pid")) \
        == SYSTEM_RUNNING
    text = pglib.PGCTL.read_text()
    for tool in ("pg_ctlcluster", "systemctl", "service ", "invoke-rc.d"):
        assert tool not in text, tool


def test_listens_on_no_tcp_port(pg):
    mine = socket_inodes(pg.pids())
    sock = str(pg.dir / "sock" / ".s.PGSQL.5432")
    # The inodes are right: the listening unix socket is among them.
    assert any(path == sock and ino in mine
               for ino, path in net_inodes("unix")), (sock, mine)
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        assert not mine & net_inodes(proto), proto
    got = pg.query("SELECT current_setting('listen_addresses') AS l, "
                   "current_setting('unix_socket_directories') AS d",
                   superuser=True)[0]
    assert got == {"l": "", "d": str(pg.dir / "sock")}
    # So the URI names the socket's directory, and libpq may not fall
    # back on TCP: no host/hostaddr but that one.
    assert pg.uri.startswith("postgresql:///forcelink?host=%s&" % (
        pg.dir / "sock"))


def test_settings_for_throwaway_data(pg):
    names = ("fsync", "synchronous_commit", "full_page_writes",
             "wal_level", "shared_buffers", "password_encryption",
             "TimeZone", "lc_collate")
    got = pg.query("SELECT name, setting, unit FROM pg_settings "
                   "WHERE name IN (%s) ORDER BY name" %
                   ", ".join("'%s'" % n for n in names))
    got = {r["name"]: r["setting"] for r in got}
    assert got == {"fsync": "off", "synchronous_commit": "off",
                   "full_page_writes": "off", "wal_level": "minimal",
                   # 8 kB pages: 16 MB.
                   "shared_buffers": "2048",
                   "password_encryption": "scram-sha-256",
                   "TimeZone": "UTC", "lc_collate": "C"}


def test_role_needs_its_password_file(pg, tmp_path):
    pw = Path(pg.env["FORCELINK_DB_PASSWORD_FILE"])
    pgpass = Path(pg.env["PGPASSFILE"])
    for f in (pw, pgpass):
        st = f.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600 and \
            st.st_uid == os.geteuid(), f
    secret = pg.password
    assert len(secret) == 48
    assert pgpass.read_text() == "*:*:*:forcelink:%s\n" % secret
    # With the password file: in.
    assert pg.psql("SELECT current_user").strip() == "forcelink"
    # With the bare password (what the engine reads from
    # FORCELINK_DB_PASSWORD_FILE and gives libpq): in.
    assert pg.psql("SELECT 1", env={"PGPASSWORD": secret,
                                    "PGPASSFILE": "/nonexistent"}
                   ).strip() == "1"
    # Without: refused.
    with pytest.raises(pglib.PgError) as e:
        pg.psql("SELECT 1", env={"PGPASSFILE": "/nonexistent"})
    assert "no password supplied" in e.value.stderr
    # With another password: refused.
    wrong = tmp_path / "wrong"
    wrong.write_text("*:*:*:forcelink:%s\n" % ("0" * 48))
    wrong.chmod(0o600)
    with pytest.raises(pglib.PgError) as e:
        pg.psql("SELECT 1", env={"PGPASSFILE": str(wrong)})
    assert "password authentication failed" in e.value.stderr
    # The password is stored as a SCRAM verifier, and appears in no log
    # and on no server command line.
    assert pg.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM "
                   "pg_authid WHERE rolname = 'forcelink'",
                   superuser=True).strip() == "t"
    for name in ("postgres.log", "initdb.log"):
        assert secret not in (pg.dir / name).read_text(), name
    for pid in pg.pids():
        try:
            cmd = Path("/proc/%d/cmdline" % pid).read_bytes()
        except FileNotFoundError:
            continue
        assert secret.encode() not in cmd
    # The superuser is for the server's own user only (peer).
    if os.geteuid() == 0:
        superuser = pg.uri.replace("/forcelink?", "/postgres?").replace(
            "user=forcelink", "user=fltest-pg")
        with pytest.raises(pglib.PgError) as e:
            pg.psql("SELECT 1", uri=superuser)
        assert "Peer authentication failed" in e.value.stderr


def test_role_makes_databases(pg):
    """forcelink may create databases (each test module its own), which
    its URI reaches."""
    uri = pg.createdb("made_by_test")
    assert uri.startswith("postgresql:///made_by_test?")
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7);",
            database="made_by_test")
    assert pg.psql("SELECT x FROM t", database="made_by_test").strip() == "7"
    with pytest.raises(pglib.PgError):
        pg.psql("SELECT x FROM t")
    pg.psql("DROP DATABASE made_by_test;")


def test_restart_keeps_the_data(pg):
    pg.psql("CREATE TABLE survivor (k text PRIMARY KEY, v bytea);"
            "INSERT INTO survivor VALUES ('a', '\\x00ff'::bytea);")
    before = pg.pids()
    pg.restart()
    after = pg.pids()
    assert after and after[0] != before[0]
    assert not any(pglib.alive(p) for p in before)
    assert pg.query("SELECT k, v FROM survivor") == [
        {"k": "a", "v": "\\x00ff"}]
    pg.psql("DROP TABLE survivor;")


def test_stop_leaves_nothing(pg):
    """Stop, check, start again (no initdb: the data is there)."""
    pg.psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1);")
    pids = pg.pids()
    pg.stop()
    assert not [p for p in pids if pglib.alive(p)]
    assert not (pg.dir / "data" / "postmaster.pid").exists()
    assert not (pg.dir / "sock" / ".s.PGSQL.5432").exists()
    # Stopping a stopped server is nothing to do.
    pg.stop()
    initdb_log = (pg.dir / "initdb.log").stat().st_mtime_ns
    pg.start()
    assert (pg.dir / "initdb.log").stat().st_mtime_ns == initdb_log
    assert pg.psql("SELECT x FROM kept").strip() == "1"


def test_stop_and_remove(pg):
    """Last: stop and remove the directory (the fixture's teardown then
    has nothing to do); nothing of the server runs any more."""
    pids = pg.pids()
    d = pg.dir
    assert pids and d.is_dir() and str(d).startswith("/tmp/fl-pg.")
    pg.stop(remove=True)
    assert not d.exists()
    assert not [p for p in pids if pglib.alive(p)]


def test_run_by_another_user(tmp_path):
    """Run by a user other than root (a developer), the server runs as
    that user and its files are that user's: here fltest-pg runs pgctl."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run pgctl as another user")
    pw = pwd.getpwnam("fltest-pg")
    d = Path(tempfile.mkdtemp(prefix="fl-pg.", dir="/tmp"))
    os.chown(d, pw.pw_uid, pw.pw_gid)
    # The user runs its own copy of pgctl: the checkout may be in a
    # directory only root can enter (a CI clone, mktemp -d), and pgctl
    # reads nothing beside itself.
    ctl = d.parent / (d.name + ".pgctl")
    shutil.copyfile(pglib.PGCTL, ctl)
    os.chmod(ctl, 0o755)

    def as_user(*argv):
        r = subprocess.run(
            ["setpriv", "--reuid=fltest-pg", "--regid=fltest-pg",
             "--init-groups", "--"] + list(argv), capture_output=True,
            text=True, timeout=120, cwd="/tmp", env=pglib._client_env())
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
        return r.stdout
    try:
        as_user(str(ctl), "start", str(d))
        s = pglib.PgServer(d)
        pids = s.pids()
        assert pglib.uid_of(pids[0]) == [pw.pw_uid] * 4
        for pid in pids[1:]:
            assert pglib.uid_of(pid) in ([pw.pw_uid] * 4, None), pid
        for f in ("password", "pgpass"):
            st = (d / f).stat()
            assert st.st_uid == pw.pw_uid and \
                stat.S_IMODE(st.st_mode) == 0o600, f
        out = as_user("bash", "-c", 'eval "$("$0" env "$1")" && '
                      'exec "$2" -X -A -t -w -d "$FORCELINK_DB" '
                      '-c "SELECT current_user"', str(ctl), str(d),
                      str(pglib.PG_BIN / "psql"))
        assert out.strip() == "forcelink"
        pids = s.pids()
        cpu = s.cpu()
        as_user(str(ctl), "stop", str(d))
        pglib.SERVER_CPU[0] += cpu[0]
        pglib.SERVER_CPU[1] += cpu[1]
        assert not [p for p in pids if pglib.alive(p)]
    finally:
        subprocess.run([str(pglib.PGCTL), "stop", str(d)],
                       capture_output=True)
        shutil.rmtree(d)
        ctl.unlink()
