"""A throwaway PostgreSQL server for the tests (issue 14).

PgServer drives tests/pg/pgctl: a cluster made with initdb in a fresh
directory under /tmp, run as an unprivileged user (fltest-pg when the
tests run as root), listening on a unix socket in that directory only,
with a role and a database named forcelink whose password is in a file.
The directory is under /tmp rather than pytest's tmp_path: the server's
user must reach it (tmp_path's parents have mode 0700), and a unix
socket's path has at most 107 bytes.

The server is not a child of the tests (pg_ctl leaves it to init), so the
CPU it uses is not in the tests' RUSAGE_CHILDREN: stop() adds it to
SERVER_CPU, which conftest's FL_MODULE_CPU line counts.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

from harness import ROOT

PGCTL = ROOT / "tests" / "pg" / "pgctl"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# User and system CPU seconds of the servers stopped so far.
SERVER_CPU = [0.0, 0.0]
_TICK = os.sysconf("SC_CLK_TCK")


def available():
    """Whether PostgreSQL 15 is installed (scripts/lib.sh installs it)."""
    return (PG_BIN / "postgres").exists() and (PG_BIN / "psql").exists()


class PgError(Exception):
    """psql failed; .stderr says why."""

    def __init__(self, stderr):
        super().__init__(stderr.strip())
        self.stderr = stderr


def _client_env(extra=None):
    """The environment for a client: ours without any PG* variable (a
    PGHOST or PGPASSWORD of the caller would change what is tested)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra or {})
    return env


class PgServer:
    def __init__(self, directory=None):
        if directory is None:
            directory = tempfile.mkdtemp(prefix="fl-pg.", dir="/tmp")
            os.chmod(directory, 0o755)
        self.dir = Path(directory)
        self.env = {}
        # session(): one psql kept open per database, and its lock.
        self._sessions = {}
        self._lock = threading.Lock()

    def pgctl(self, *args):
        r = subprocess.run([str(PGCTL), args[0], str(self.dir)]
                           + list(args[1:]), capture_output=True,
                           text=True, timeout=120, env=_client_env())
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def start(self):
        self.pgctl("start")
        # The variables of "pgctl env", as a shell would set them.
        names = ("FORCELINK_DB", "FORCELINK_DB_PASSWORD_FILE", "PGPASSFILE")
        out = subprocess.run(
            ["bash", "-c", 'eval "$("$0" env "$1")" && printf "%s\\0"'
             + "".join(' "$%s"' % n for n in names), str(PGCTL),
             str(self.dir)], capture_output=True, text=True, check=True,
            env=_client_env()).stdout.split("\0")
        self.env = dict(zip(names, out))
        assert all(self.env.get(n) for n in names), out
        return self

    def stop(self, remove=False):
        """Stops the server (its CPU goes to SERVER_CPU); remove: and
        deletes the directory."""
        self.close_sessions()
        pid = self.postmaster_pid()
        if pid is not None:
            cpu = self.cpu()
            SERVER_CPU[0] += cpu[0]
            SERVER_CPU[1] += cpu[1]
        if self.dir.exists():
            self.pgctl("stop")
            if remove:
                shutil.rmtree(self.dir)

    def restart(self):
        self.pgctl("restart")
        return self

    @property
    def uri(self):
        """The libpq URI forcelink is given (FORCELINK_DB)."""
        return self.env["FORCELINK_DB"]

    def uri_for(self, database):
        """The URI of another database of the server."""
        query = urllib.parse.urlsplit(self.uri).query
        return "postgresql:///%s?%s" % (urllib.parse.quote(database), query)

    @property
    def password(self):
        return Path(self.env["FORCELINK_DB_PASSWORD_FILE"]).read_text() \
            .strip()

    def psql(self, sql, database=None, env=None, superuser=False,
             uri=None):
        """Runs sql (one or more statements, stopping at the first
        error, which raises PgError) and returns psql's unaligned output.
        As forcelink with its password file (env: another client
        environment; uri: another URI), or as the superuser."""
        opts = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-w"]
        if superuser:
            argv = [str(PGCTL), "psql", str(self.dir)] + opts
            if database:
                argv += ["-d", database]
            cenv = _client_env()
        else:
            argv = [str(PG_BIN / "psql")] + opts + [
                "-d", uri or (self.uri_for(database) if database
                              else self.uri)]
            cenv = _client_env(
                {"PGPASSFILE": self.env["PGPASSFILE"]}
                if env is None else env)
        r = subprocess.run(argv, input=sql, capture_output=True, text=True,
                           env=cenv, timeout=60)
        if r.returncode != 0:
            raise PgError(r.stderr)
        return r.stdout

    def query(self, select, database=None, setup="", superuser=False):
        """The rows of a SELECT as dicts whose keys are in the column
        order (through json_agg, which keeps it); setup: statements run
        first in the same session (printing nothing)."""
        out = self.psql("%s\nSELECT coalesce(json_agg(q), '[]') FROM (%s) q;"
                        % (setup, select), database, superuser=superuser)
        return json.loads(out)

    def queries(self, selects, database=None, setup=""):
        """query() of several SELECTs ({name: select}) in one psql (one
        connection: each costs the server a process and a SCRAM
        exchange); returns {name: rows}."""
        (row,) = self.query("SELECT %s" % ", ".join(
            "(SELECT coalesce(json_agg(q), '[]') FROM (%s) q) AS \"%s\""
            % (sel, name) for name, sel in selects.items()), database,
            setup=setup)
        return row

    def session(self, script, database=None):
        """Runs script (psql input) as forcelink in a psql kept open for
        database (a psql per call costs a process, a server process and
        a SCRAM exchange each: most of a test's CPU on PostgreSQL), and
        returns its output; raises PgError when the script's last SQL
        statement failed.  A session whose connection was lost (the
        server restarted) ends; the script is sent again to a new one
        (the lost one never ran it)."""
        end = "--fl-end-%s--" % os.urandom(6).hex()
        err = "--fl-error-%s--" % os.urandom(6).hex()
        text = ("%s\n\\if :ERROR\n\\echo %s\n\\endif\n\\echo %s\n"
                % (script, err, end))
        with self._lock:
            for attempt in (1, 2):
                p = self._sessions.get(database)
                if p is None or p.poll() is not None:
                    p = self._sessions[database] = subprocess.Popen(
                        [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-w",
                         "-v", "ON_ERROR_STOP=0", "-d",
                         self.uri_for(database) if database else self.uri],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True,
                        env=_client_env(
                            {"PGPASSFILE": self.env["PGPASSFILE"],
                             "PGOPTIONS": "-c statement_timeout=60s"}))
                lines = []
                try:
                    p.stdin.write(text)
                    p.stdin.flush()
                    for ln in iter(p.stdout.readline, ""):
                        if ln == end + "\n":
                            break
                        lines.append(ln)
                    else:
                        raise BrokenPipeError
                except BrokenPipeError:
                    self._end(p)
                    if attempt == 2:
                        raise PgError("".join(lines) or "psql ended")
                    continue
                out = "".join(lines)
                if lines and lines[-1] == err + "\n":
                    raise PgError(out)
                return out

    @staticmethod
    def _end(p):
        """Ends a session's psql and waits for it (its CPU then counts in
        the tests' RUSAGE_CHILDREN)."""
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()

    def close_sessions(self):
        with self._lock:
            for p in self._sessions.values():
                self._end(p)
            self._sessions.clear()

    def rows(self, select, params=(), database=None):
        """(names, rows) of one SELECT with "?" placeholders bound to
        params (bind()), read as sqlite3 reads its rows: tuples in the
        column order, bytea as bytes, integers as int, NULL as None.
        The types come from psql's \\gdesc of the same statement, so a
        bytea is told from a text that looks like one."""
        q = bind(select, params).strip().rstrip(";")
        mark = "--fl-rows-%s--" % os.urandom(6).hex()
        out = self.session("%s \\gdesc\n\\echo %s\nSELECT coalesce("
                           "json_agg(q), '[]') FROM (%s) q;" % (q, mark, q),
                           database)
        desc, _, data = out.partition(mark + "\n")
        types = [ln.rsplit("|", 1) for ln in desc.splitlines() if ln]
        names = [n for n, _ in types]
        # json (not jsonb) keeps duplicate column names and their order.
        rows = []
        for pairs in json.loads(data, object_pairs_hook=list):
            vals = [v for _, v in pairs]
            assert len(vals) == len(types), (pairs, types)
            rows.append(tuple(
                bytes.fromhex(v[2:]) if t == "bytea" and v is not None
                else v for (_, t), v in zip(types, vals)))
        return names, rows

    def execute(self, statement, params=(), database=None):
        """Runs one INSERT, UPDATE or DELETE with "?" placeholders bound
        to params; returns how many rows it changed (sqlite3's
        rowcount)."""
        q = bind(statement, params).strip().rstrip(";")
        assert re.match(r"(?i)(insert|update|delete)\b", q), q
        out = self.session("WITH fl_changed AS (%s RETURNING 1) "
                           "SELECT count(*) FROM fl_changed;" % q, database)
        return int(out.strip())

    def dump(self, database=None):
        """Every row of the database as pg_dump --data-only writes it (a
        plain-text SQL script, bytea in hex): what a backup of it holds."""
        r = subprocess.run(
            [str(PG_BIN / "pg_dump"), "--data-only", "--no-owner", "-w",
             "-d", self.uri_for(database) if database else self.uri],
            capture_output=True, timeout=60,
            env=_client_env({"PGPASSFILE": self.env["PGPASSFILE"]}))
        if r.returncode != 0:
            raise PgError(r.stderr.decode(errors="replace"))
        return r.stdout

    def createdb(self, name):
        """A new empty database owned by forcelink."""
        self.psql("CREATE DATABASE %s;" % name)
        return self.uri_for(name)

    def postmaster_pid(self):
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text()
                       .split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def pids(self):
        """The postmaster and its children."""
        pm = self.postmaster_pid()
        if pm is None:
            return []
        out = [pm]
        for p in os.listdir("/proc"):
            if p.isdigit() and _status(int(p)).get("PPid") == str(pm):
                out.append(int(p))
        return out

    def cpu(self):
        """User and system CPU seconds of the server so far: the
        postmaster's and its exited children's."""
        pm = self.postmaster_pid()
        try:
            f = Path("/proc/%d/stat" % pm).read_text().rsplit(")", 1)[1] \
                .split()
        except (OSError, TypeError):
            return (0.0, 0.0)
        # Fields 14-17 of stat (utime stime cutime cstime), here from 3.
        ut, st, cut, cst = (int(x) for x in f[11:15])
        return ((ut + cut) / _TICK, (st + cst) / _TICK)


def literal(value):
    """value as an SQL literal of PostgreSQL (standard_conforming_strings
    on, its default): NULL, TRUE/FALSE, a number, '\\x...'::bytea for
    bytes, a quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "'\\x%s'::bytea" % bytes(value).hex()
    if isinstance(value, str):
        assert "\0" not in value, value
        return "'%s'" % value.replace("'", "''")
    raise TypeError("no SQL literal for %r" % (value,))


def bind(statement, params):
    """statement with each "?" outside a quoted string or identifier
    replaced by the literal of the next of params (sqlite3's qmark
    style), so that one query text serves both engines."""
    params = list(params)
    out, i, quote = [], 0, None
    for ch in statement:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            assert i < len(params), (statement, params)
            out.append(literal(params[i]))
            i += 1
            continue
        out.append(ch)
    assert i == len(params), (statement, params)
    return "".join(out)


def _status(pid):
    """/proc/PID/status as a dict ({} once the process is gone)."""
    try:
        text = Path("/proc/%d/status" % pid).read_text()
    except OSError:
        return {}
    return dict(ln.split(":\t", 1) for ln in text.splitlines()
                if ":\t" in ln)


def alive(pid):
    """Whether pid is a process that has not exited (a zombie has)."""
    st = _status(pid).get("State", "")
    return st != "" and not st.startswith("Z")


def uid_of(pid):
    """Real, effective, saved and filesystem uids of pid; None once it
    has exited (a backend or worker may end at any time)."""
    uid = _status(pid).get("Uid")
    return None if uid is None else [int(x) for x in uid.split()]
