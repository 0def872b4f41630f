"""The whole forcelink stack for end-to-end tests, on one machine.

Stack starts, in a fresh temporary directory: the Salesforce stand-in over
HTTPS (certificates from a throwaway CA made now), the three real FastCGI
programs (built by scripts/test) on unix sockets, and a real nginx in
front of them on a free 127.0.0.1 port, rendered from nginx/run.conf.in
by scripts/lib.sh exactly as scripts/run does.  Tests speak to it the way
Slack and a browser would: signed form POSTs to /contact, and GETs that
follow the OAuth redirects by hand (so every hop can be checked).
Stack.start_extra_standin() starts more stand-ins beside it (another org,
another app) for tests of several Salesforce integrations.
"""

import base64
import contextlib
import grp
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import socket
import sqlite3
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# ROOT: the source tree (the stand-ins, nginx/, scripts/lib.sh, sql/);
# BUILD: the build whose programs run, by default build/ of the source
# tree (scripts/lib.sh, fl_build), or the tree itself when it was built in
# place.  scripts/test sets both.
ROOT = Path(os.environ.get("FORCELINK_ROOT",
                           Path(__file__).resolve().parents[2]))


def _default_build():
    if (ROOT / "build" / "config.status").exists():
        return ROOT / "build"
    return ROOT


BUILD = Path(os.environ.get("FORCELINK_BUILD") or _default_build())
try:
    # A build made with ./configure --enable-sanitizers (build-asan/).
    SANITIZED = "--enable-sanitizers" in (
        BUILD / "config.status").read_text(errors="replace")
except OSError:
    SANITIZED = False
PY = "/usr/bin/python3"
PROGRAMS = ("contact", "oauth_start", "oauth_callback", "slack_oauth",
            "actions")
# What AddressSanitizer, LeakSanitizer and UBSan print.  scripts/test
# runs this suite a second time against a --enable-sanitizers build
# (FORCELINK_BUILD); the programs' stderr is forcelink.log, and a report
# there fails the Stack's stop (so the module's teardown errors) even when
# every request looked fine.  A normal build never prints them.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
# The group ./configure --with-nginx-group names (its default): doctor
# wants the sockets in it, and the programs' -g gives it them.
NGINX_GROUP = "www-data"


def nginx_gid():
    """NGINX_GROUP's id, or None when this machine lacks the group or this
    user may not give a file that group (the callers skip then)."""
    try:
        gid = grp.getgrnam(NGINX_GROUP).gr_gid
    except KeyError:
        return None
    if os.geteuid() != 0 and gid not in os.getgroups():
        return None
    return gid
CLIENT_ID = "3MVG9e2e.forcelink_test"
SLACK_CLIENT_ID = "1234567890.0987654321"


def block_texts(blocks):
    """Every "text" value anywhere inside Block Kit blocks."""
    out = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(blocks)
    return out


def contact_names(msg, strict=True):
    """The contact names a search answer lists (one section per contact
    after the heading).  strict: every such section must be a contact
    (an assertion); otherwise other sections are skipped."""
    names = set()
    for b in msg.get("blocks", [])[1:]:
        if b.get("type") == "actions":     # a card's buttons (issue 15)
            continue
        t = b.get("text", {}).get("text", "")
        m = re.match(r"\*<[^|>]+\|([^>]*)>\*", t)
        assert m or not strict, b
        if m:
            names.add(m.group(1).replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))
    return names


# How long a stack's pieces may take to start (each wait ends as soon as
# the piece is up) and a supervisor to stop its workers (in a sanitizer
# build each runs LeakSanitizer's check first).  Generous: they catch a
# hang, not a slow machine; two suites at once on a loaded two-core
# machine take many times an idle machine's second.
START_SECS, STOP_SECS = 60, 60


def waiting(seconds):
    """Yields until seconds have passed (the loop's body sleeps)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield


# Slack's 3 seconds, as forcelink keeps them (cgi/contact.c): the answer
# leaves a worker ACK_MS after nginx passed the request on, or at once
# when it waited that long for a thread.  A late ack is one that left
# more than ACK_SLACK_MS after that deadline.  The allowance is the
# machine's: after the deadline the thread must still be scheduled, reach
# its next wait and write, which on an idle machine takes milliseconds
# and with two suites at once on two cores (load 60) took up to 0.8 s.
# The defects this catches are seconds late: an ack 2.5 s after a thread
# took a request that had already waited 2.5 s, or one sent only when
# Salesforce answered.  What a busy machine adds outside the worker
# (nginx reading the request and writing the answer, the client) is
# reported from nginx's log, never failed on: that would test the
# machine.
ACK_MS, ACK_SLACK_MS = 2500, 1500


def late_acks(acks):
    """The acks (Stack.acks()) that missed forcelink's deadline."""
    return [a for a in acks
            if a["ack_ms"] > max(0, ACK_MS - max(a["wait_ms"], 0))
            + ACK_SLACK_MS]


def listening(path):
    """Whether a program listens on the unix socket at path: a connect
    succeeds (the file alone appears at bind, before listen)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Stack:
    """One forcelink host and what it talks to.

    The store is SQLite (var/forcelink.db of the stack's directory) unless
    pg names a running tests/e2e/pg.py PgServer: then FORCELINK_DB is the
    URI of its database named database (created by start() when it does
    not exist yet; by default one of the stack's own), with the password
    file of the server.  peer: a started Stack this one is a second host
    of, as behind a load balancer: the same store (its pg and database,
    or its SQLite file), the same Salesforce stand-in, Slack signing
    secret, Salesforce app, store key and public URL (the peer's own
    nginx stands for the load balancer: links and redirects name it),
    but its own nginx, port, programs, workers, directory and logs.
    Whatever a test reads from the store goes through sql() and
    sql_exec(), on either engine.  With FL_E2E_ENGINE=postgresql in the
    environment a Stack made without pg (and not a peer) runs on
    PostgreSQL too: on pg.shared(), one server per pytest process
    (started on first use, stopped at the end of the session), with a
    database of its own; so a module that reads the store only through
    sql() runs unchanged on either engine (scripts/test's e2e-pg stage).
    A subclass whose store is not the Stack's to choose (FOLLOWS_ENGINE
    False) stays on SQLite."""

    FOLLOWS_ENGINE = True

    def __init__(self, tmp, env_overrides=None, workers=2, threads=4,
                 max_requests=None, slack=False, slack_rotate=False,
                 pg=None, database=None, peer=None):
        self.dir = Path(tmp)
        self.peer = peer
        if pg is None and peer is None and self.FOLLOWS_ENGINE and \
                "FL_E2E_ENGINE" in os.environ:
            import pg as pglib      # not at the top: pg.py imports harness
            if pglib.engine() == "postgresql":
                pg = pglib.shared()
        if peer is not None:
            assert not slack and pg is None and database is None
            pg, database = peer.pg, peer.database
        self.pg = pg
        self.database = database
        if pg is not None and database is None:
            self.database = "fl_" + secrets.token_hex(6)
        # slack: also start the Slack stand-in (tests/standin/slack.py)
        # and configure Slack app installation against it.
        self.slack_enabled, self.slack_rotate = slack, slack_rotate
        self.slack_client_secret = secrets.token_hex(16)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs = {}
        self.workers, self.threads = workers, threads
        self.max_requests = max_requests
        if peer is None:
            self.signing_secret = secrets.token_hex(16)
            self.client_secret = secrets.token_urlsafe(24)
            self.key = base64.b64encode(os.urandom(32)).decode()
        else:
            self.signing_secret = peer.signing_secret
            self.client_secret = peer.client_secret
            self.key = peer.key
        (self.dir / "sf_secret").write_text(self.client_secret)
        (self.dir / "key").write_text(self.key + "\n")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        # What FORCELINK_PUBLIC_URL says: the URL browsers and Salesforce
        # are sent to (local_path() makes a request of it to this host).
        self.public_url = self.url if peer is None else peer.public_url
        # The SQLite file (None on PostgreSQL); a peer's on SQLite is
        # its peer's (two hosts of one machine may share one file).
        self.db_path = (None if pg is not None else peer.db_path
                        if peer is not None else
                        self.dir / "var" / "forcelink.db")
        self.log_path = self.dir / "forcelink.log"
        self.env_overrides = env_overrides or {}
        self.opener = urllib.request.build_opener(NoRedirect)
        self.extra_standins = []    # start_extra_standin()

    # -- starting and stopping ------------------------------------------
    def start(self):
        if self.peer is not None:
            self.ca = self.peer.ca
        else:
            subprocess.run([str(ROOT / "tests/standin/mkcerts.sh"),
                            str(self.dir / "tls")], check=True)
            self.ca = str(self.dir / "tls" / "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.sf_opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ctx), NoRedirect)
        if self.pg is not None and not self.pg.rows(
                "SELECT 1 FROM pg_database WHERE datname = ?",
                (self.database,))[1]:
            self.pg.createdb(self.database)
        if self.peer is not None:
            self.sf_url = self.peer.sf_url
        else:
            self.start_standin()
        if self.slack_enabled:
            self.start_slack()
        self.start_programs()
        self.start_nginx()
        return self

    def start_standin(self):
        ready = self.dir / "standin.ready"
        if ready.exists():
            ready.unlink()
        self.procs["standin"] = subprocess.Popen([
            PY, str(ROOT / "tests/standin/salesforce.py"),
            "--cert", str(self.dir / "tls/server.pem"),
            "--key", str(self.dir / "tls/server.key"),
            "--client-id", CLIENT_ID,
            "--client-secret-file", str(self.dir / "sf_secret"),
            "--redirect-uri", self.public_url + "/oauth/callback",
            "--ready-file", str(ready),
            "--log", str(self.dir / "standin.log")])
        for _ in waiting(START_SECS):
            if ready.exists() and len(ready.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        self.sf_url = ready.read_text().splitlines()[1]

    def start_slack(self):
        """Starts the Slack stand-in with the same certificates."""
        ready = self.dir / "slack.ready"
        if ready.exists():
            ready.unlink()
        (self.dir / "slack_secret").write_text(self.slack_client_secret)
        self.procs["slack"] = subprocess.Popen([
            PY, str(ROOT / "tests/standin/slack.py"),
            "--cert", str(self.dir / "tls/server.pem"),
            "--key", str(self.dir / "tls/server.key"),
            "--client-id", SLACK_CLIENT_ID,
            "--client-secret-file", str(self.dir / "slack_secret"),
            "--redirect-uri", self.public_url + "/slack/oauth_redirect",
            "--ready-file", str(ready),
            "--log", str(self.dir / "slack-standin.log")] +
            (["--rotate"] if self.slack_rotate else []))
        for _ in waiting(START_SECS):
            if ready.exists() and len(ready.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        self.slack_url = ready.read_text().splitlines()[1]

    def env(self):
        # On PostgreSQL no PG* variable of the caller's (PGPASSFILE,
        # PGHOST, ...) may change what is tested: only FORCELINK_DB and
        # FORCELINK_DB_PASSWORD_FILE say where and how to connect.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "SF_", "FORCELINK_"))
               and (self.pg is None or not k.startswith("PG"))}
        env.update({
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SF_CLIENT_ID": CLIENT_ID,
            "SF_CLIENT_SECRET_FILE": str(self.dir / "sf_secret"),
            "SF_LOGIN_URL": self.sf_url,
            "SF_API_VERSION": "v62.0",
            "FORCELINK_PUBLIC_URL": self.public_url,
            "FORCELINK_KEY_FILE": str(self.dir / "key"),
            "FORCELINK_DB": (str(self.db_path) if self.pg is None
                             else self.pg.uri_for(self.database)),
            "FORCELINK_CA_FILE": self.ca,
            "SLACK_RESPONSE_URL_PREFIX": self.sf_url + "/hooks/",
            # Every test links through the code proof unless it says
            # otherwise (test_link_proof runs the other modes).
            "FORCELINK_LINK_PROOF": "code",
        })
        if self.pg is not None:
            env["FORCELINK_DB_PASSWORD_FILE"] = \
                self.pg.env["FORCELINK_DB_PASSWORD_FILE"]
        if self.slack_enabled:
            env.update({
                "SLACK_CLIENT_ID": SLACK_CLIENT_ID,
                "SLACK_CLIENT_SECRET_FILE": str(self.dir / "slack_secret"),
                "SLACK_AUTHORIZE_URL": self.slack_url + "/oauth/v2/authorize",
                "SLACK_API_URL": self.slack_url + "/api",
            })
        env.update(self.env_overrides)
        return {k: v for k, v in env.items() if v is not None}

    def start_programs(self, env=None):
        (self.dir / "var").mkdir(exist_ok=True)
        log = open(self.log_path, "ab")
        for prog in PROGRAMS:
            sock = self.dir / (prog + ".sock")
            # A socket file left by the programs this replaces would
            # look ready before the new ones listen (nginx: 502).
            sock.unlink(missing_ok=True)
            self.procs[prog] = subprocess.Popen(
                [str(BUILD / "cgi" / prog), "-s", str(sock), "-m", "0660",
                 "-w", str(self.workers), "-t", str(self.threads)] +
                (["-T", str(self.max_requests)] if self.max_requests else []),
                env=env or self.env(), stdout=log, stderr=log,
                cwd=str(self.dir))
        log.close()
        for _ in waiting(START_SECS):
            if all(listening(self.dir / (p + ".sock")) for p in PROGRAMS):
                return
            # A supervisor that exited (a setting or store it refused)
            # will not listen: say so now rather than after START_SECS.
            if any(self.procs[p].poll() is not None for p in PROGRAMS):
                break
            time.sleep(0.025)
        raise RuntimeError("programs did not start: " + self.log_text()[-2000:])

    def stop_programs(self):
        # All told at once, then waited for: each supervisor stops its
        # workers and exits by itself (under ASan each exit runs
        # LeakSanitizer's scan), so one after another only added up
        # their waits.
        stopping = [p for p in (self.procs.pop(prog, None)
                                for prog in PROGRAMS) if p is not None]
        for p in stopping:
            p.terminate()
        for p in stopping:
            p.wait(timeout=STOP_SECS)

    def restart_programs(self, env=None):
        self.stop_programs()
        self.start_programs(env)

    def render_nginx(self):
        """Writes nginx.conf and the snippets it includes into the
        stack's directory, exactly as scripts/run does."""
        script = ('. "%s/scripts/lib.sh"; fl_nginx_conf "%s" %d'
                  % (ROOT, self.dir, self.port))
        subprocess.run(["bash", "-c", script], check=True)

    def start_nginx(self):
        self.render_nginx()
        self.procs["nginx"] = subprocess.Popen(
            ["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
             "-e", str(self.dir / "nginx-error.log")])
        for _ in waiting(START_SECS):
            try:
                # The programs answer /healthz: 503 too means nginx
                # and contact are up (a test may start with a key that
                # opens nothing).
                if self.get("/healthz").status in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.025)
        raise RuntimeError("nginx did not start")

    def stop(self):
        # The secrets check needs the processes (argv) and the stand-in
        # (its ledger, the Slack messages it received) still running.
        leaks = self.secret_leaks(files=False)
        self.stop_programs()
        leaks += self.secret_leaks(secrets=self._secrets, files=True)
        stopping = [p for p in (self.procs.pop(name, None)
                                for name in ("nginx", "standin", "slack"))
                    if p is not None]
        for p in stopping:
            p.terminate()
        for p in stopping:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for x in self.extra_standins:
            x.stop()
        reports = self.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer reports in %s:\n%s" % (
                self.log_path, "\n".join(reports[:40])))
        if leaks:
            raise AssertionError("secrets leaked:\n" + "\n".join(leaks))

    def sanitizer_reports(self):
        """The lines of forcelink.log that a sanitizer wrote, each with
        the stack frames that follow it."""
        lines = self.log_text().splitlines()
        keep = set()
        for i, ln in enumerate(lines):
            # forcelink's own lines ("time=...") may quote user input.
            if (not ln.startswith("time=")
                    and any(m in ln for m in SANITIZER_MARKS)):
                keep.update(range(i, min(i + 12, len(lines))))
        return [lines[i] for i in sorted(keep)
                if not lines[i].startswith("time=")]

    # -- secrets ------------------------------------------------------------
    def secret_values(self):
        """Every secret of this stack: what the stand-in issued or received
        (codes, access and refresh tokens, PKCE verifiers), the Slack
        signing secret, the Salesforce client secret and the store key."""
        vals = {self.signing_secret, self.client_secret, self.key}
        if "standin" in self.procs or (
                self.peer is not None and "standin" in self.peer.procs):
            r = self.sf("GET", "/_control/secrets")
            assert r.status == 200, r.text
            vals |= set(r.json())
        for x in self.extra_standins:
            vals |= x.secret_values()
        # The Slack stand-in's ledger: codes, bot, user and refresh
        # tokens it issued; and the Slack app's client secret.
        if "slack" in self.procs:
            r = self.slack("GET", "/_control/secrets")
            assert r.status == 200, r.text
            vals |= set(r.json()) | {self.slack_client_secret}
        return vals

    def secret_probes(self, secrets):
        """Byte strings any of which, found anywhere, is a leak: 24-byte
        pieces (head, middle, tail) of each secret as it is and
        URL-encoded, plus the raw and hex forms of the store key."""
        probes = {}
        for v in secrets:
            for form in {v, urllib.parse.quote(v, safe="")}:
                b = form.encode()
                n = len(b)
                for i in {0, max(0, n // 2 - 12), max(0, n - 24)}:
                    probes[b[i:i + 24]] = v
        raw = base64.b64decode(self.key)
        probes[raw.hex().encode()[:24]] = "store key (hex)"
        return probes, [(raw, "store key (raw)")]

    def process_argv(self):
        """argv of every process of the stack: the supervisors, their
        workers, nginx's master and workers."""
        out = {}
        pids = [p.pid for p in self.procs.values() if p.poll() is None]
        while pids:
            pid = pids.pop()
            try:
                out[pid] = Path("/proc/%d/cmdline" % pid).read_bytes()
                kids = Path("/proc/%d/task/%d/children"
                            % (pid, pid)).read_text().split()
            except OSError:
                continue
            pids += [int(k) for k in kids]
        return out

    def leak_places(self, files):
        """(name, bytes) of every place a secret must never be."""
        if not files:
            places = [("argv of pid %d" % pid, argv)
                      for pid, argv in self.process_argv().items()]
            places += [("Slack message to " + h["path"],
                        (h.get("raw") or "").encode())
                       for h in self.hooks()]
            return places
        places = []
        for p in sorted(self.dir.rglob("*")):
            if (p.is_file() and p.name not in ("standin.log",
                                               "slack-standin.log")
                    and (p.name.startswith("forcelink.db")
                         or p.suffix == ".log")):
                places.append((str(p.relative_to(self.dir)),
                               p.read_bytes()))
        if self.pg is not None and self.pg.postmaster_pid() is not None:
            places.append(("database " + self.database,
                           self.pg.dump(self.database)))
        return places

    def secret_leaks(self, secrets=None, files=True):
        """Where a secret shows up: a list of "place: what" lines."""
        if secrets is None:
            secrets = self._secrets = self.secret_values()
        probes, needles = self.secret_probes(secrets)
        found = []
        for name, hay in self.leak_places(files):
            hits = set()
            for m in re.finditer(rb"[\x21-\x7e]{24,}", hay):
                run = m.group(0)
                for i in range(len(run) - 23):
                    v = probes.get(run[i:i + 24])
                    if v is not None:
                        hits.add(v)
            hits.update(what for needle, what in needles if needle in hay)
            found += ["%s: %s…" % (name, v[:8]) for v in sorted(hits)]
        return found

    # -- HTTP -------------------------------------------------------------
    def local_path(self, url):
        """The path and query of url, a URL of forcelink's public URL
        (or of this host), to request from this host."""
        for base in (self.public_url, self.url):
            if url.startswith(base + "/") or url.startswith(base + "?"):
                return url[len(base):]
        raise AssertionError("not a URL of this forcelink: " + url)

    def request(self, method, path, body=None, headers=None, timeout=15):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def sign(self, body, ts=None, secret=None):
        ts = str(int(time.time()) if ts is None else ts)
        key = (secret or self.signing_secret).encode()
        mac = hmac.new(key, b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        return ts, "v0=" + mac

    def form(self, text="", team="T0E2E0001", user="U0E2E0001", **extra):
        fields = {
            "token": "legacy-token-unused", "team_id": team,
            "team_domain": "e2e", "channel_id": "C0E2E0001",
            "channel_name": "general", "user_id": user,
            "user_name": "tester", "command": "/contact",
            "text": (text.replace("&", "&amp;").replace("<", "&lt;")
                     .replace(">", "&gt;")),
            "response_url": self.response_url(team),
            "trigger_id": "1.2.3",
        }
        fields.update(extra)
        return urllib.parse.urlencode(
            {k: v for k, v in fields.items() if v is not None}).encode()

    def response_url(self, team="T0E2E0001"):
        return self.sf_url + "/hooks/commands/%s/%s" % (team,
                                                        secrets.token_hex(8))

    def post_signed(self, path, body, ts=None, sig=None, headers=None,
                    timeout=15):
        """POSTs a form body to path as Slack does: signed unless sig is
        given (False: no signature header at all)."""
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if sig is None:
            ts, sig = self.sign(body, ts)
        if ts is not None:
            h["X-Slack-Request-Timestamp"] = str(ts)
        if sig is not False:
            h["X-Slack-Signature"] = sig
        h.update(headers or {})
        return self.request("POST", path, body, h, timeout=timeout)

    def post_contact(self, body, ts=None, sig=None, headers=None,
                     timeout=15):
        return self.post_signed("/contact", body, ts, sig, headers, timeout)

    def payload(self, type_, team="T0E2E0001", user="U0E2E0001", **extra):
        """An interactivity payload of type_ as Slack builds one (the
        documented fields forcelink reads; a click and a shortcut get a
        response_url at the stand-in, a view does not).  extra is merged
        in at the top level."""
        p = {
            "type": type_,
            "token": "legacy-token-unused",
            "user": {"id": user, "username": "tester", "name": "tester",
                     "team_id": team},
            "team": {"id": team, "domain": "e2e"},
            "enterprise": None,
            "api_app_id": "A0E2E0001",
            "trigger_id": "%d.%d.%s" % (int(time.time()), 42,
                                        secrets.token_hex(16)),
            "is_enterprise_install": False,
        }
        if type_ in ("block_actions", "message_action"):
            p["response_url"] = self.response_url(team)
            p["channel"] = {"id": "C0E2E0001", "name": "general"}
        p.update(extra)
        return p

    def post_action(self, payload, ts=None, sig=None, headers=None,
                    timeout=15):
        """POSTs payload (a dict, or bytes/str sent as they are) to
        /slack/actions as Slack does: one form field, signed."""
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        body = b"payload=" + urllib.parse.quote_from_bytes(payload,
                                                           safe="").encode()
        return self.post_signed("/slack/actions", body, ts, sig, headers,
                                timeout)

    def click(self, action_id, value="", team="T0E2E0001", user="U0E2E0001",
              **extra):
        """Presses a message button: a signed block_actions payload with
        one action.  Returns (Response, payload)."""
        p = self.payload("block_actions", team, user, **extra)
        p["container"] = {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": "C0E2E0001", "is_ephemeral": True}
        p["actions"] = [{"type": "button", "action_id": action_id,
                         "block_id": "b0", "value": value,
                         "action_ts": "%.6f" % time.time()}]
        return self.post_action(p), p

    def slash(self, text="", team="T0E2E0001", user="U0E2E0001", **extra):
        """Sends a correctly signed /contact and returns the Response."""
        return self.post_contact(self.form(text, team, user, **extra))

    # -- the stand-in -------------------------------------------------------
    def sf(self, method, path, obj=None):
        data = json.dumps(obj).encode() if obj is not None else None
        req = urllib.request.Request(
            self.sf_url + path, data=data, method=method,
            headers={"Content-Type": "application/json"} if data else {})
        try:
            with self.sf_opener.open(req, timeout=15) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    # -- the Slack stand-in --------------------------------------------------
    def slack(self, method, path, obj=None):
        data = json.dumps(obj).encode() if obj is not None else None
        req = urllib.request.Request(
            self.slack_url + path, data=data, method=method,
            headers={"Content-Type": "application/json"} if data else {})
        try:
            with self.sf_opener.open(req, timeout=15) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    def slack_faults(self, **faults):
        r = self.slack("POST", "/_control/faults", faults)
        assert r.status == 200, r.text

    def reset_slack_faults(self):
        """Every Slack stand-in fault off (between tests)."""
        self.slack_faults(**{k: None for k in self.slack(
            "GET", "/_control/faults").json()})

    def slack_state(self):
        return self.slack("GET", "/_control/state").json()

    def install_page(self):
        """GET /slack/install; returns (response, cookie header value,
        the Add to Slack URL)."""
        r = self.get("/slack/install")
        cookie = None
        sc = r.headers.get("Set-Cookie")
        if sc:
            cookie = sc.split(";", 1)[0]
        m = re.search(r'<a href="([^"]*)">Add to Slack</a>', r.text)
        return r, cookie, html.unescape(m.group(1)) if m else None

    def slack_authorize(self, authorize_url, team="T0E2E0001",
                        action="Allow"):
        """Shows the Slack stand-in's authorize page and answers it for
        team ("org:E..." for an org-wide install); returns the Location
        Slack redirects the browser to."""
        r = self.sf_get_url(authorize_url)
        assert r.status == 200, r.text
        fields = dict(re.findall(
            r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
            r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update({"team": team, "action": action})
        body = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(
            self.slack_url + "/oauth/v2/authorize", data=body, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with self.sf_opener.open(req, timeout=15) as resp:
                raise AssertionError("authorize did not redirect: %d"
                                     % resp.status)
        except urllib.error.HTTPError as e:
            with e:
                assert e.code == 302, e.read()
                return e.headers["Location"]

    def slack_redirect(self, location, cookie):
        assert location.startswith(self.public_url +
                                   "/slack/oauth_redirect"), location
        headers = {"Cookie": cookie} if cookie else {}
        return self.get(self.local_path(location), headers=headers)

    def install(self, team="T0E2E0001"):
        """Runs the whole install flow for team; returns the final page."""
        r, cookie, url = self.install_page()
        assert r.status == 200 and cookie and url, r.text
        return self.slack_redirect(self.slack_authorize(url, team), cookie)

    def installations(self):
        return self.sql("SELECT * FROM installations ORDER BY "
                        "enterprise_id, team_id", dicts=True)

    def faults(self, **faults):
        r = self.sf("POST", "/_control/faults", faults)
        assert r.status == 200, r.text

    def sf_state(self):
        return self.sf("GET", "/_control/state").json()

    def hooks(self, path_suffix=None):
        posts = self.sf("GET", "/_control/hooks").json()
        if path_suffix is not None:
            posts = [p for p in posts if path_suffix.endswith(p["path"])
                     or p["path"].endswith(path_suffix)]
        return posts

    def wait_hook(self, response_url, timeout=20):
        path = urllib.parse.urlparse(response_url).path
        end = time.time() + timeout
        while time.time() < end:
            posts = [p for p in self.hooks() if p["path"] == path]
            if posts:
                return posts
            time.sleep(0.1)
        return []

    # -- the OAuth flow, as a browser would run it ------------------------
    def login_url(self, team="T0E2E0001", user="U0E2E0001"):
        r = self.slash("login", team, user)
        assert r.status == 200, r.text
        m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[A-Za-z0-9_-]+)",
                      r.json()["text"])
        assert m, r.text
        return m.group(1)

    def start_page(self, login_url, method="GET"):
        """GET (or HEAD) /oauth/start: the page naming whom the link is
        for.  Returns (response, its form's fields, the CSRF cookie)."""
        r = self.request(method, self.local_path(login_url))
        cookie = None
        sc = r.headers.get("Set-Cookie")
        if sc:
            cookie = sc.split(";", 1)[0]
        fields = dict(re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
            r.text)) if method == "GET" else {}
        return r, {k: html.unescape(v) for k, v in fields.items()}, cookie

    def start_post(self, fields, cookie):
        """POST /oauth/start (Continue) with fields and cookie; returns
        (response, the forcelink_oauth cookie header value or None)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        r = self.request("POST", "/oauth/start",
                         urllib.parse.urlencode(fields).encode(), headers)
        oauth = None
        sc = r.headers.get("Set-Cookie")
        if sc:
            oauth = sc.split(";", 1)[0]
        return r, oauth

    def start_login(self, login_url, signin=None):
        """Opens the login link and clicks Continue, as a browser does:
        GET /oauth/start, then POST it with the page's fields and
        cookie.  Returns (response, cookie header value): the POST's
        redirect and its cookie, or the GET's error page and None.

        With FORCELINK_LINK_PROOF=slack the POST leads to Sign in with
        Slack first; unless signin is False, that leg is finished here
        (signin_leg()) as the Slack user the start page names, or as
        signin=(team_id, user_id), and the response is then the
        callback's: its redirect to Salesforce, or its error page."""
        page, fields, csrf = self.start_page(login_url)
        if page.status != 200:
            return page, None
        r, cookie = self.start_post(fields, csrf)
        if signin is False or not self.is_signin(r):
            return r, cookie
        if signin is None:
            signin = self.start_page_who(page)
        return self.signin_leg(r.headers["Location"], cookie, *signin), \
            cookie

    @staticmethod
    def start_page_who(page):
        """(team_id, user_id) the start page says the link was made
        for."""
        m = re.search(r"made for <strong>(?:[^<]* \()?([A-Z0-9]+)\)?"
                      r"</strong> in the Slack workspace <strong>"
                      r"(?:[^<]* \()?([A-Z0-9]+)\)?</strong>", page.text)
        assert m, page.text
        return m.group(2), m.group(1)

    def is_signin(self, r):
        """Whether r redirects to the Slack stand-in's Sign in with
        Slack."""
        return (r.status == 302 and "slack" in self.procs and
                r.headers.get("Location", "").startswith(
                    self.slack_url + "/openid/connect/authorize"))

    def slack_signin(self, authorize_url, team_id="T0E2E0001",
                     user_id="U0E2E0001", action="allow"):
        """Shows the Slack stand-in's sign-in page for authorize_url and
        answers it as (team_id, user_id) with action (allow or deny);
        returns the Location Slack redirects the browser to."""
        r = self.sf_get_url(authorize_url)
        assert r.status == 200, r.text
        fields = dict(re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update({"team_id": team_id, "user_id": user_id,
                       "action": action})
        body = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(
            self.slack_url + "/openid/connect/authorize", data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with self.sf_opener.open(req, timeout=15) as resp:
                raise AssertionError("sign-in did not redirect: %d %s"
                                     % (resp.status, resp.read()[:500]))
        except urllib.error.HTTPError as e:
            with e:
                assert e.code == 302, e.read()
                return e.headers["Location"]

    def signin_leg(self, authorize_url, cookie, team_id, user_id,
                   action="allow"):
        """Sign in with Slack as (team_id, user_id), then the browser's
        GET of forcelink's callback with cookie; returns its Response
        (a redirect to Salesforce when the proof passed)."""
        location = self.slack_signin(authorize_url, team_id, user_id, action)
        assert location.startswith(self.public_url + "/oauth/callback"), \
            location
        headers = {"Cookie": cookie} if cookie else {}
        return self.get(self.local_path(location), headers=headers)

    def consent(self, authorize_url, sf_user="alice@example.com",
                action="Allow"):
        """Shows the stand-in's consent page and answers it; returns the
        Location Salesforce redirects the browser to."""
        r = self.sf_get_url(authorize_url)
        assert r.status == 200, r.text
        fields = dict(re.findall(
            r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
            r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update({"user": sf_user, "action": action})
        body = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(
            self.sf_url + "/services/oauth2/authorize", data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with self.sf_opener.open(req, timeout=15) as resp:
                raise AssertionError("consent did not redirect: %d"
                                     % resp.status)
        except urllib.error.HTTPError as e:
            with e:
                assert e.code == 302, e.read()
                return e.headers["Location"]

    def sf_get_url(self, url):
        req = urllib.request.Request(url)
        try:
            with self.sf_opener.open(req, timeout=15) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    def callback(self, location, cookie, confirm=True):
        """GET /oauth/callback as the browser Salesforce sent back.  In
        the code mode the page shows a code; with confirm (the default,
        the honest path every older test takes) it is typed back in
        Slack as the Slack user the page names (finish())."""
        assert location.startswith(self.public_url + "/oauth/callback"), \
            location
        headers = {"Cookie": cookie} if cookie else {}
        page = self.get(self.local_path(location), headers=headers)
        if not confirm or not self.page_code(page):
            page.confirmed = None
            return page
        team = re.search(r"<dt>Slack workspace</dt><dd>(?:[^<]* \()?"
                         r"([A-Z0-9]+)\)?</dd>", page.text).group(1)
        user = re.search(r"<dt>Slack user</dt><dd>(?:[^<]* \()?"
                         r"([A-Z0-9]+)\)?</dd>", page.text).group(1)
        # The enterprise is not on the page: the pending row has it.
        rows = self.sql("SELECT enterprise_id FROM login_state WHERE "
                        "team_id = ? AND user_id = ? AND confirm_hash "
                        "IS NOT NULL", (team, user))
        row = rows[0] if rows else None
        return self.finish(page, team, user,
                           enterprise_id=row[0] if row and row[0] else None)

    @staticmethod
    def page_code(page):
        """The confirmation code a callback page shows, or None."""
        m = re.search(r'<p class="code">([0-9A-Z]{5}-[0-9A-Z]{5})</p>',
                      page.text)
        return m.group(1) if m else None

    def confirm(self, page, team="T0E2E0001", user="U0E2E0001", **extra):
        """Types /contact confirm CODE in Slack as (team, user), with
        the code page shows; returns the slash Response."""
        code = self.page_code(page)
        assert code, page.text
        return self.slash("confirm " + code, team, user, **extra)

    def finish(self, page, team="T0E2E0001", user="U0E2E0001", **extra):
        """After a callback page: in the code mode, confirms its code as
        (team, user) and asserts the link was made.  Returns page, with
        .confirmed the confirm's Response (None without a code)."""
        page.confirmed = None
        if page.status == 200 and self.page_code(page):
            page.confirmed = self.confirm(page, team, user, **extra)
            assert page.confirmed.status == 200, page.confirmed.text
            assert "Linked:" in page.confirmed.json()["text"], \
                page.confirmed.text
        return page

    def link(self, team="T0E2E0001", user="U0E2E0001",
             sf_user="alice@example.com", signin=None):
        """Runs the whole login flow, the proof included (Sign in with
        Slack as signin, by default the link's own user: see
        start_login()); returns the callback Response (see finish())."""
        r, cookie = self.start_login(self.login_url(team, user), signin)
        assert r.status == 302, r.text
        location = self.consent(r.headers["Location"], sf_user)
        return self.callback(location, cookie)

    # -- what is on disk --------------------------------------------------
    def db(self):
        """A sqlite3 connection to the store (SQLite only: on PostgreSQL
        use sql() and sql_exec())."""
        assert self.pg is None, "the store is on PostgreSQL: use sql()"
        return sqlite3.connect(str(self.db_path), timeout=10)

    def sql(self, query, params=(), dicts=False):
        """The rows of one SELECT on the store, on either engine: tuples
        (dicts: dicts in the column order) as sqlite3 gives them, blobs
        and bytea as bytes; params bind the query's "?" placeholders.
        On PostgreSQL each call is one psql as the forcelink role."""
        if self.pg is None:
            with contextlib.closing(self.db()) as c:
                cur = c.execute(query, params)
                rows = cur.fetchall()
                names = [d[0] for d in cur.description or ()]
        else:
            names, rows = self.pg.rows(query, params, self.database)
        if dicts:
            return [dict(zip(names, r)) for r in rows]
        return rows

    def sql_exec(self, statement, params=()):
        """Runs one INSERT, UPDATE or DELETE on the store (committed);
        returns how many rows it changed."""
        if self.pg is None:
            with contextlib.closing(self.db()) as c:
                n = c.execute(statement, params).rowcount
                c.commit()
                return n
        return self.pg.execute(statement, params, self.database)

    def store_bytes(self):
        """Every byte the store keeps: the SQLite file with its -wal and
        -shm, or the PostgreSQL database's rows as pg_dump writes them."""
        if self.pg is not None:
            return self.pg.dump(self.database)
        out = b""
        for p in self.db_path.parent.iterdir():
            if p.name.startswith(self.db_path.name):
                out += p.read_bytes()
        return out

    def links(self):
        return self.sql("SELECT * FROM links", dicts=True)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """Where forcelink.log ends now: acks(since=...) reads from here."""
        return len(self.log_text())

    def acks(self, since=0, user=None, n=0, timeout=10):
        """The slack.ack lines of /contact (one per answer Slack got)
        after log_mark() since, for user when given: dicts with deferred
        (bool), wait_ms (how long the request waited before a worker
        thread took it: nginx, the socket's queue; -1 unknown) and ack_ms
        (from that moment to the answer leaving the worker).  Waits up
        to timeout seconds for at least n (a deferred ack's line follows
        its answer by microseconds)."""
        end = time.monotonic() + timeout
        while True:
            out = []
            for ln in self.log_text()[since:].splitlines():
                if (" event=slack.ack " not in ln
                        or (user and " user=%s " % user not in ln)):
                    continue
                kv = dict(re.findall(r' (\w+)=("[^"]*"|\S+)', ln))
                out.append({"deferred": kv["deferred"] == "1",
                            "wait_ms": int(kv["wait_ms"]),
                            "ack_ms": int(kv["ack_ms"])})
            if len(out) >= n or time.monotonic() >= end:
                return out
            time.sleep(0.05)

    def assert_acked_in_time(self, since, n=1, user=None):
        """Exactly n answers went to Slack after log_mark() since (for
        user when given), none of them late (late_acks): Slack's 3
        seconds as forcelink keeps them.  Returns the acks."""
        acks = self.acks(since, user=user, n=n)
        assert len(acks) == n, acks
        assert not late_acks(acks), late_acks(acks)
        return acks

    # -- processes ----------------------------------------------------------
    def worker_pids(self, prog="contact"):
        """The pids of prog's live worker processes: its supervisor's
        children, less a dead one not reaped yet (a zombie is still a
        child, but no longer a worker).  A worker that crashed and was
        restarted shows up as a new pid."""
        pid = self.procs[prog].pid
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []
        live = []
        for k in kids:
            try:
                # The state follows the parenthesised command name.
                stat = Path("/proc/%d/stat" % k).read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                live.append(k)
        return sorted(live)

    # -- more Salesforce orgs (issue 6) -------------------------------------
    def start_extra_standin(self, name, client_id, org="a", run_as=None,
                            host="127.0.0.1"):
        """Starts another Salesforce stand-in beside the stack's own: org
        a or b, its own app (client_id and a fresh secret), optionally a
        client credentials Run-As user, on its own port and host name
        (localhost or 127.0.0.1: both are in the test certificate).  The
        stack stops it, and searches its ledger and secret for leaks."""
        x = ExtraStandin(self, name, client_id, org, run_as, host)
        x.start()
        self.extra_standins.append(x)
        return x

    def disk_bytes(self):
        """Every byte of the database, its WAL and the logs (on
        PostgreSQL: the logs and the database's rows, store_bytes())."""
        out = b""
        for p in self.dir.rglob("*"):
            if p.is_file() and (p.name.startswith("forcelink.db")
                                or p.suffix == ".log"):
                out += p.read_bytes()
        if self.pg is not None:
            out += self.store_bytes()
        return out


class ExtraStandin:
    """A Salesforce stand-in started by Stack.start_extra_standin(): one
    more org or app.  Its public URL (login URL, instance URL, identity
    URLs) is https://HOST:PORT."""

    def __init__(self, stack, name, client_id, org, run_as, host):
        self.stack, self.name, self.client_id = stack, name, client_id
        self.org, self.run_as, self.host = org, run_as, host
        self.client_secret = secrets.token_urlsafe(24)
        self.secret_file = stack.dir / ("sf_secret_" + name)
        self.secret_file.write_text(self.client_secret)
        self.proc = None

    def start(self):
        ready = self.stack.dir / ("standin-%s.ready" % self.name)
        if ready.exists():
            ready.unlink()
        self.port = free_port()
        self.url = "https://%s:%d" % (self.host, self.port)
        argv = [PY, str(ROOT / "tests/standin/salesforce.py"),
                "--cert", str(self.stack.dir / "tls/server.pem"),
                "--key", str(self.stack.dir / "tls/server.key"),
                "--port", str(self.port), "--public-url", self.url,
                "--client-id", self.client_id,
                "--client-secret-file", str(self.secret_file),
                "--redirect-uri", self.stack.url + "/oauth/callback",
                "--org", self.org, "--ready-file", str(ready),
                "--log", str(self.stack.dir /
                             ("standin-%s.log" % self.name))]
        if self.run_as:
            argv += ["--run-as", self.run_as]
        self.proc = subprocess.Popen(argv)
        for _ in waiting(START_SECS):
            if ready.exists() and len(ready.read_text().splitlines()) >= 2:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("stand-in %s did not start" % self.name)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def request(self, method, url, body=None, headers=None):
        req = urllib.request.Request(url, data=body, method=method,
                                     headers=headers or {})
        try:
            with self.stack.sf_opener.open(req, timeout=15) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    def sf(self, method, path, obj=None):
        data = json.dumps(obj).encode() if obj is not None else None
        return self.request(method, self.url + path, data,
                            {"Content-Type": "application/json"}
                            if data else {})

    def faults(self, **faults):
        r = self.sf("POST", "/_control/faults", faults)
        assert r.status == 200, r.text

    def state(self):
        return self.sf("GET", "/_control/state").json()

    def requests(self):
        """The ledger of the Salesforce requests this org answered."""
        return self.sf("GET", "/_control/requests").json()

    def secret_values(self):
        vals = {self.client_secret}
        if self.proc is not None and self.proc.poll() is None:
            r = self.sf("GET", "/_control/secrets")
            assert r.status == 200, r.text
            vals |= set(r.json())
        return vals

    def consent(self, authorize_url, sf_user, action="Allow"):
        """Answers this org's consent page for authorize_url; returns the
        Location it redirects the browser to."""
        assert authorize_url.startswith(self.url + "/"), authorize_url
        r = self.request("GET", authorize_url)
        assert r.status == 200, r.text
        fields = dict(re.findall(
            r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
            r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update({"user": sf_user, "action": action})
        r = self.request("POST", self.url + "/services/oauth2/authorize",
                         urllib.parse.urlencode(fields).encode(),
                         {"Content-Type":
                          "application/x-www-form-urlencoded"})
        assert r.status == 302, r.text
        return r.headers["Location"]
