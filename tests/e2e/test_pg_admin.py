"""forcelink-admin on a PostgreSQL store, and the README's "Running on
several hosts" for the administrator (issue 14, point 4).

 - doctor: database (which server, as whom), database.tls (a server on
   another host must be reached with sslmode=verify-full), database.role
   (not a superuser, every table readable and writable), schema; the
   file checks of a SQLite store are skipped;
 - stats names the engine and the server's size of the database;
 - backup and restore refuse, naming the server's tools, and change
   nothing;
 - the metrics of each host are its own file under its run directory;
 - key rotation on two hosts in the README's order, users searching on
   both hosts between the steps; a second rotate-key on the other host
   while one runs is refused (exit 5).
"""

import json
import os
import re
import subprocess
import time

import pytest

import load
import pg as pglib
from harness import Stack, free_port
from test_rotate import ADMIN, key_id, new_key

TEAM = load.TEAM


def admin(stack, *args, timeout=60, **over):
    env = stack.env()
    env.update(over)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([str(ADMIN)] + [str(a) for a in args], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(stack.dir))


def doctor(stack, **over):
    r = admin(stack, "doctor", "--json", **over)
    checks = {}
    for c in json.loads(r.stdout)["checks"]:
        checks.setdefault(c["check"], c)
    return r, checks


def searches_work(hosts, users, hooks):
    for h in hosts:
        for u in users:
            r, url = load.search(h, u)
            kind, msg = load.final_message(h, r, url, hooks)
            assert load.classify(kind, msg) == "contacts", (h.url, u, kind,
                                                             msg)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg):
    s = Stack(tmp_path_factory.mktemp("pgadminA"), pg=pg, workers=1,
              threads=2)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def host_b(tmp_path_factory, stack):
    s = Stack(tmp_path_factory.mktemp("pgadminB"), peer=stack, workers=1,
              threads=2)
    s.start()
    yield s
    s.stop()


def test_doctor_on_postgresql(stack, pg):
    stack.faults(grant_limit=1000)
    assert load.link_flow(stack, "U0PGADM1", "alice@example.com")[0] == \
        "linked"
    r, c = doctor(stack)
    assert c["database"]["status"] == "ok", c
    d = c["database"]["detail"]
    assert re.search(r"PostgreSQL 15\.\d+ .*, database %s on %s as forcelink"
                     % (stack.database, re.escape(str(pg.dir / "sock"))), d), d
    assert c["database.tls"]["status"] == "ok", c
    assert "is this machine" in c["database.tls"]["detail"]
    assert c["database.role"]["status"] == "ok", c
    assert c["schema"]["status"] == "ok"
    assert c["modes.database"]["status"] == "skip"
    assert c["modes.directory"]["status"] == "skip"
    assert c["key.sample"]["status"] == "ok", c
    assert c["key.ids"]["status"] == "ok", c
    # The password file is a secret file: checked like the others.
    assert pg.env["FORCELINK_DB_PASSWORD_FILE"] in \
        c["modes.secrets"]["detail"]
    # The password never reaches doctor's output.
    assert pg.password not in r.stdout + r.stderr


def test_doctor_fails_a_role_that_lacks_a_privilege(stack, pg):
    # The owner may revoke its own privilege, as a careless admin might.
    pg.psql("REVOKE DELETE ON slack_replay FROM forcelink",
            database=stack.database)
    try:
        r, c = doctor(stack)
        assert r.returncode == 1
        assert c["database.role"]["status"] == "fail", c
        assert "lacks slack_replay:DELETE" in c["database.role"]["detail"]
    finally:
        pg.psql("GRANT DELETE ON slack_replay TO forcelink",
                database=stack.database)
    assert doctor(stack)[1]["database.role"]["status"] == "ok"


def test_doctor_fails_a_superuser(stack, pg):
    pg.psql("ALTER ROLE forcelink SUPERUSER", superuser=True)
    try:
        r, c = doctor(stack)
        assert c["database.role"]["status"] == "fail", c
        assert "is a superuser" in c["database.role"]["detail"]
    finally:
        pg.psql("ALTER ROLE forcelink NOSUPERUSER", superuser=True)


def test_doctor_fails_another_host_without_verify_full(stack, tmp_path):
    """A server reached over TCP under another host's name (hostaddr
    points at this machine, as a name would resolve): without
    sslmode=verify-full doctor fails database.tls and says what to add;
    the connection itself works."""
    srv = pglib.PgServer()
    try:
        srv.start()
        port = free_port()
        srv.psql("ALTER SYSTEM SET listen_addresses = '127.0.0.1'",
                 superuser=True)
        srv.psql("ALTER SYSTEM SET port = %d" % port, superuser=True)
        hba = srv.dir / "data" / "pg_hba.conf"
        with open(hba, "a") as f:
            f.write("host all forcelink 127.0.0.1/32 scram-sha-256\n")
        srv.pgctl("stop")
        srv.pgctl("start")
        uri = ("postgresql://forcelink@db.example.test:%d/forcelink?"
               "hostaddr=127.0.0.1&sslmode=%%s" % port)
        for mode in ("disable", "prefer"):
            r, c = doctor(stack, FORCELINK_DB=uri % mode,
                          FORCELINK_DB_PASSWORD_FILE=str(
                              srv.dir / "password"))
            assert c["database"]["status"] == "ok", c
            assert "on db.example.test as forcelink" in \
                c["database"]["detail"]
            assert c["database.tls"]["status"] == "fail", c
            t = c["database.tls"]["detail"]
            assert "db.example.test is another host" in t
            assert "sslmode=verify-full" in t and "not encrypted" in t
            assert r.returncode == 1
    finally:
        srv.stop(remove=True)


def test_stats_names_the_engine(stack, pg):
    r = admin(stack, "stats", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["database"]
    assert d["engine"] == "postgresql"
    assert d["path"] == stack.env()["FORCELINK_DB"]
    size = int(pg.psql("SELECT pg_database_size('%s')" % stack.database))
    # The database grows a little between the two reads at most.
    assert abs(d["size_bytes"] - size) < 1 << 20 and d["size_bytes"] > 0
    assert d["page_size"] is None and d["wal_bytes"] is None
    assert d["schema_version"] == d["schema_current"]
    r = admin(stack, "stats")
    assert "engine postgresql" in r.stdout


def test_backup_and_restore_refused(stack, tmp_path):
    before = stack.sql("SELECT user_id, version FROM sf_link ORDER BY 1")
    r = admin(stack, "backup", tmp_path / "bk")
    assert r.returncode == 4
    assert "pg_dump" in r.stderr and "PostgreSQL" in r.stderr
    assert not (tmp_path / "bk").exists()
    f = tmp_path / "x.db"
    f.write_bytes(b"")
    r = admin(stack, "restore", f)
    assert r.returncode == 4 and "pg_restore" in r.stderr
    assert stack.sql("SELECT user_id, version FROM sf_link ORDER BY 1") \
        == before


def test_metrics_are_each_hosts_own(stack, host_b):
    for h in (stack, host_b):
        assert (h.dir / "var" / "forcelink-metrics").is_file()
        assert not (h.dir / "var" / "forcelink.db").exists()
    # A search on B counts on B's /metrics, not on A's.
    def contact_200(h):
        r = h.get("/metrics")
        assert r.status == 200, r.text
        m = re.search(r'^forcelink_requests_total\{route="contact",'
                      r'outcome="2xx"\} (\d+)$', r.text, re.M)
        return int(m.group(1)) if m else 0
    a0, b0 = contact_200(stack), contact_200(host_b)
    r, _ = load.search(host_b, "U0PGADM1")
    assert r.status == 200
    assert contact_200(host_b) == b0 + 1
    assert contact_200(stack) == a0


def write_keys(host, *b64):
    """Rewrites host's key file as an administrator would (atomically)."""
    tmp = host.dir / "key.new"
    tmp.write_text("".join(k + "\n" for k in b64))
    os.chmod(tmp, 0o600)
    os.replace(tmp, host.dir / "key")


def test_key_rotation_on_two_hosts(stack, host_b):
    """The README's order: the new key second everywhere, then first
    everywhere, then rotate-key on one host, then the old key dropped on
    the others; users linked on either host search on both throughout."""
    a, b = stack, host_b
    a.faults(grant_limit=1000)
    hooks = load.Hooks(a)
    old = a.key
    assert load.link_flow(b, "U0PGADM2", "bob@example.com")[0] == "linked"
    users = ["U0PGADM1", "U0PGADM2"]
    searches_work([a, b], users, hooks)
    new, new_path = new_key(a, "new.key")
    # 1. Known everywhere, sealing nowhere yet.
    write_keys(a, old, new)
    write_keys(b, old, new)
    time.sleep(1.5)
    searches_work([a, b], users, hooks)
    # 2. Current everywhere: a link made now is sealed under it on B and
    # opens on A.
    write_keys(a, new, old)
    write_keys(b, new, old)
    time.sleep(1.5)
    assert load.link_flow(b, "U0PGADM3", "alice@example.com")[0] == \
        "linked"
    users.append("U0PGADM3")
    assert a.sql("SELECT key_id FROM sf_link WHERE user_id = ?",
                 ("U0PGADM3",)) == [(key_id(new),)]
    searches_work([a, b], users, hooks)
    # 3. rotate-key on A re-seals every row; one on B meanwhile is refused.
    p = subprocess.Popen([str(ADMIN), "rotate-key", "--new-key-file",
                          str(new_path), "--grace", "3"],
                         env=a.env(), cwd=str(a.dir),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1.0)
    r = admin(b, "rotate-key", "--new-key-file", new_path)
    assert r.returncode == 5, (r.stdout, r.stderr)
    assert "another rotate-key is running" in r.stderr
    out, err = p.communicate(timeout=90)
    assert p.returncode == 0, (out, err)
    assert a.sql("SELECT DISTINCT key_id FROM sf_link") == [(key_id(new),)]
    assert (a.dir / "key").read_text().split() == [new]
    searches_work([a, b], users, hooks)
    # 4. The old key gone everywhere.
    write_keys(b, new)
    time.sleep(1.5)
    searches_work([a, b], users, hooks)
    bad = [ln for h in (a, b) for ln in h.log_text().splitlines()
           if re.search(r"sealed under another key|does not open", ln)]
    assert not bad, bad
