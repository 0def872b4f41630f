#!/usr/bin/python3
"""What the README's example commands need of a host that the test
machine lacks: systemd running as PID 1, a journal, and a person at an
editor.  tests/e2e/docwalk.py links this file as systemctl, journalctl
and editor first on the PATH of the mount namespace in which it runs the
examples.

systemctl does what systemd would with the installed unit files, read
from the unit directory: a .socket unit's listening socket (ListenStream,
SocketUser, SocketGroup, SocketMode, DirectoryMode, Backlog) handed to
its service as standard input (StandardInput=socket), the service's
ExecStart run as its User and Group, in its WorkingDirectory, with its
UMask, Environment= and EnvironmentFile= (read as systemd reads it), its
StateDirectory made with StateDirectoryMode; a Type=oneshot service runs
to its end and its status is the command's.  The service starts with its
socket rather than at the first connection, which changes nothing the
examples can see.  Unit names are checked: an example naming a unit that
is not installed fails, as with systemd.  The sandboxing directives are
not applied (test_install.py checks them with systemd-analyze).

journalctl prints the lines the services wrote.  editor writes what the
administrator would type, from the JSON in FLDOC_EDITS: a file name's
content, or for forcelink.env the settings to set (a commented-out
"#NAME=" line is uncommented, as a person would).
"""

import fnmatch
import grp
import json
import os
import pwd
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

UNIT_DIRS = [Path("/etc/systemd/system"), Path("/usr/lib/systemd/system"),
             Path("/lib/systemd/system")]
STATE = Path("/run/fl-shim")
JOURNAL = STATE / "journal.log"


def die(msg, code=1):
    print("%s: %s" % (Path(sys.argv[0]).name, msg), file=sys.stderr)
    sys.exit(code)


def unit_path(name):
    for d in UNIT_DIRS:
        if (d / name).is_file():
            return d / name
    return None


def all_units():
    seen = set()
    for d in UNIT_DIRS:
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if p.name.startswith("forcelink") and p.name not in seen:
                    seen.add(p.name)
                    yield p.name


def parse_unit(name):
    path = unit_path(name)
    if path is None:
        die("Unit %s not found." % name, 5)
    sections, cur = {}, None
    for ln in path.read_text().splitlines():
        ln = ln.strip()
        if not ln or ln[0] in "#;":
            continue
        if ln.startswith("["):
            cur = sections.setdefault(ln.strip("[]"), {})
            continue
        k, v = ln.split("=", 1)
        cur.setdefault(k.strip(), []).append(v.strip())
    return sections


def one(sec, key, default=None):
    vals = sec.get(key)
    return vals[-1] if vals else default


def env_file(path):
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them."""
    env = {}
    for ln in Path(path).read_text().splitlines():
        s = ln.strip()
        if not s or s[0] in "#;":
            continue
        k, v = s.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            q, v = v[0], v[1:-1]
            if q == '"':
                v = re.sub(r'\\(["\\$`])', r"\1", v).replace("\\n", "\n")
        env[k.strip()] = v
    return env


def resolve(name):
    """systemctl's rule: a name without a suffix is a .service."""
    if not re.search(r"\.(service|socket|timer|target)$", name):
        name += ".service"
    return name


def matches(patterns):
    out = []
    for pat in patterns:
        pat = resolve(pat) if "*" not in pat else pat
        hit = [u for u in all_units() if fnmatch.fnmatch(u, pat)]
        if "*" not in pat and not hit:
            die("Unit %s not found." % pat, 5)
        out += [u for u in hit if u not in out]
    return out


def pidfile(unit):
    return STATE / (unit + ".pid")


def running(unit):
    try:
        pid = int(pidfile(unit).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def listen(sock_unit):
    """The socket of sock_unit, made as systemd makes it; its fd."""
    sec = parse_unit(sock_unit)["Socket"]
    STATE.mkdir(parents=True, exist_ok=True)
    path = Path(one(sec, "ListenStream"))
    fdfile = STATE / (sock_unit + ".path")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, int(one(sec, "DirectoryMode", "0755"), 8))
    if path.exists():
        path.unlink()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    os.chown(path, pwd.getpwnam(one(sec, "SocketUser", "root")).pw_uid,
             grp.getgrnam(one(sec, "SocketGroup", "root")).gr_gid)
    os.chmod(path, int(one(sec, "SocketMode", "0666"), 8))
    s.listen(int(one(sec, "Backlog", "128")))
    fdfile.write_text(str(path))
    return s


def service_env(svc):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                   "/sbin:/bin", "LANG": "C.UTF-8"}
    for v in svc.get("Environment", []):
        for item in shlex.split(v):
            k, val = item.split("=", 1)
            env[k] = val
    for f in svc.get("EnvironmentFile", []):
        optional = f.startswith("-")
        f = f.lstrip("-")
        if not Path(f).exists():
            if optional:
                continue
            die("Failed to load environment files: %s" % f)
        env.update(env_file(f))
    return env


def start_service(unit):
    if running(unit):
        return 0
    u = parse_unit(unit)
    svc = u.get("Service", {})
    user = one(svc, "User", "root")
    group = one(svc, "Group", None)
    pw = pwd.getpwnam(user)
    gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
    state = one(svc, "StateDirectory")
    if state:
        d = Path("/var/lib") / state
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, pw.pw_uid, gid)
        os.chmod(d, int(one(svc, "StateDirectoryMode", "0755"), 8))
    env = service_env(svc)
    argv = shlex.split(one(svc, "ExecStart").lstrip("-@+!"))
    umask = int(one(svc, "UMask", "0022"), 8)
    cwd = one(svc, "WorkingDirectory", "/")

    def drop():
        os.umask(umask)
        os.setgid(gid)
        os.initgroups(user, gid)
        os.setuid(pw.pw_uid)
    stdin = subprocess.DEVNULL
    sock = None
    if one(svc, "StandardInput") == "socket":
        sock = listen(unit.replace(".service", ".socket"))
        stdin = sock.fileno()
    STATE.mkdir(parents=True, exist_ok=True)
    with open(JOURNAL, "ab") as log:
        if one(svc, "Type") == "oneshot":
            return subprocess.run(argv, stdin=stdin, stdout=log, stderr=log,
                                  env=env, cwd=cwd,
                                  preexec_fn=drop).returncode
        p = subprocess.Popen(argv, stdin=stdin, stdout=log, stderr=log,
                             env=env, cwd=cwd, preexec_fn=drop,
                             start_new_session=True)
    if sock is not None:
        sock.close()
    time.sleep(0.2)
    if p.poll() is not None:
        die("Job for %s failed (exit %d): see journalctl" % (unit,
                                                             p.returncode))
    pidfile(unit).write_text(str(p.pid))
    return 0


def start(unit):
    if unit.endswith(".socket"):
        return start_service(unit.replace(".socket", ".service"))
    if unit.endswith(".timer"):
        sec = parse_unit(unit).get("Timer", {})
        if not (sec.get("OnCalendar") or sec.get("OnBootSec")):
            die("%s has no OnCalendar=" % unit)
        parse_unit(unit.replace(".timer", ".service"))
        (STATE / (unit + ".active")).write_text("1")
        return 0
    if unit.endswith(".target"):
        return 0
    return start_service(unit)


def stop(unit):
    pid = running(unit)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
    pidfile(unit).unlink(missing_ok=True)
    (STATE / (unit + ".active")).unlink(missing_ok=True)
    path = STATE / (unit.replace(".service", ".socket") + ".path")
    if path.exists():
        Path(path.read_text()).unlink(missing_ok=True)
        path.unlink()


def systemctl(args):
    args = [a for a in args if a not in ("--no-pager", "-q", "--quiet")]
    now = "--now" in args
    args = [a for a in args if a != "--now"]
    if not args:
        die("no verb", 1)
    verb, names = args[0], args[1:]
    if verb == "daemon-reload":
        return 0
    if verb in ("reload", "restart", "try-restart") and names == ["nginx"]:
        # A running nginx is the test's; a reload is checked as nginx
        # checks it before reloading.
        return subprocess.run(["nginx", "-t", "-q"]).returncode
    units = matches(names)
    rc = 0
    if verb in ("enable", "disable"):
        for u in units:
            if "Install" not in parse_unit(u):
                die("%s has no [Install] section" % u)
            if verb == "enable" and now:
                rc |= start(u)
            if verb == "disable" and now:
                stop(u)
        return rc
    if verb == "start":
        for u in units:
            rc |= start(u)
        return rc
    if verb == "stop":
        for u in units:
            if u.endswith((".service", ".timer")):
                stop(u)
        for u in units:
            if u.endswith(".socket"):
                stop(u.replace(".socket", ".service"))
        return 0
    if verb in ("restart", "try-restart"):
        for u in units:
            was = running(u)
            stop(u)
            if verb == "restart" or was:
                rc |= start(u)
        return rc
    if verb in ("status", "is-active"):
        if not units:
            return 4
        for u in units:
            up = (running(u) if u.endswith(".service") else
                  running(u.replace(".socket", ".service")) if
                  u.endswith(".socket") else
                  (STATE / (u + ".active")).exists())
            print("%s %s - %s" % ("●" if up else "○", u,
                                  "active" if up else "inactive"))
            if not up and u.endswith((".service", ".socket")) and \
                    "oneshot" not in parse_unit(u).get(
                        "Service", {}).get("Type", []):
                rc = 3
        return rc
    die("verb %s is not one the examples use" % verb)


def journalctl(args):
    if JOURNAL.exists():
        sys.stdout.write(JOURNAL.read_text(errors="replace"))
    return 0


def editor(args):
    edits = json.loads(os.environ.get("FLDOC_EDITS", "{}"))
    for name in args:
        path = Path(name)
        want = edits.get(path.name)
        if want is None:
            die("the test has nothing to type into %s" % name)
        if isinstance(want, str):
            path.write_text(want)
            continue
        text = path.read_text()
        for k, v in want.items():
            text, n = re.subn(r"^#?%s=.*$" % k, "%s=%s" % (k, v), text,
                              count=1, flags=re.M)
            if n == 0:
                text += "%s=%s\n" % (k, v)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    tool = Path(sys.argv[0]).name
    fn = {"systemctl": systemctl, "journalctl": journalctl,
          "editor": editor}.get(tool)
    if fn is None:
        die("unknown tool")
    sys.exit(fn(sys.argv[1:]))
