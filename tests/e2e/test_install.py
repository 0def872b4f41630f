"""The production install (issue 5, point 3): make install, the systemd
units, the environment file and socket activation.

The module installs once into a DESTDIR.  In the normal pass it does what
the README tells an admin to do, in a copy of the tree (make distdir):
./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var (with
CFLAGS=-O0 in its environment: the optimised build is build/'s), make,
make install DESTDIR=...  In the sanitizer pass (FORCELINK_BUILD names the
sanitizer build) it runs make install in that build as it was configured
(the default prefix, /usr/local), so the same checks also cover another
prefix and the socket-activated programs run under the sanitizers.

Then:
- the DESTDIR holds exactly the expected files with the expected modes,
  and an edited forcelink.env survives a reinstall and an uninstall;
- the units say what the README promises (socket paths that match the
  nginx snippet, the socket group and mode, the user, the environment
  file, the state directory, the hardening), systemd-analyze verify
  accepts them, and systemd-analyze security rates each one;
- systemd-sysusers and systemd-tmpfiles, run on a scratch root, create
  the user and the directories with the documented owners and modes;
- the installed environment file, as installed, stops the program with
  one line naming the variable at fault, and so does each required
  setting left empty;
- socket activation without systemd: the test makes each listening unix
  socket itself and starts each installed program with it as standard
  input, as systemd does, with the environment read from the installed
  template filled in; a real nginx, configured with the installed
  snippets, then serves a user's whole OAuth link and a signed /contact
  search against the Salesforce stand-in, the nginx and worker log lines
  of a request share its id, and a request that arrives while a program
  restarts waits in the socket and is answered.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import (BUILD, CLIENT_ID, PROGRAMS, ROOT, SANITIZED, Stack,
                     free_port)

NORMAL_FLAGS = ["--prefix=/usr", "--sysconfdir=/etc", "--localstatedir=/var"]
# What the README says an install with NORMAL_FLAGS puts where.
NORMAL_DIRS = {
    "prefix": "/usr",
    "sysconfdir": "/etc",
    "localstatedir": "/var",
    "pkglibexecdir": "/usr/libexec/forcelink",
    "sbindir": "/usr/sbin",
    "docdir": "/usr/share/doc/forcelink",
    "pkgdatadir": "/usr/share/forcelink",
    "mandir": "/usr/share/man",
    "systemdsystemunitdir": "/usr/lib/systemd/system",
    "sysusersdir": "/usr/lib/sysusers.d",
    "tmpfilesdir": "/usr/lib/tmpfiles.d",
    "NGINX_GROUP": "www-data",
}
MAKE_VARS = list(NORMAL_DIRS) + ["SQL_FILES", "PG_SQL_FILES"]
# Each program's socket and service unit: forcelink-contact, ...
UNITS = {prog: "forcelink-" + prog.replace("_", "-") for prog in PROGRAMS}
# forcelink-admin's daily runs: a .service and a .timer each.
TIMER_UNITS = ("forcelink-purge", "forcelink-backup")
NGINX_FILES = ("forcelink-locations.conf", "forcelink-fastcgi.conf",
               "forcelink-upstreams.conf", "forcelink-site.conf")
# The hardening every service must carry (README, "systemd").
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict",
    "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "PrivateUsers": "yes", "PrivateMounts": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectClock": "yes", "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "UMask": "0077",
}
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def make_vars(tree, names):
    """The values make gives names in tree's Makefile, expanded."""
    r = run(["make", "-s", "--no-print-directory", "-C", str(tree),
             "--eval", "fl-print-%: ; @echo '$*=$($*)'"] +
            ["fl-print-" + n for n in names])
    assert r.returncode == 0, r.stderr
    return dict(ln.split("=", 1) for ln in r.stdout.splitlines())


class Install:
    """A make install into a DESTDIR: the tree it came from, the
    DESTDIR, and the tree's installation directories."""

    def __init__(self, tree, destdir, normal):
        self.tree, self.root, self.normal = Path(tree), Path(destdir), normal
        self.dirs = make_vars(tree, MAKE_VARS)

    def at(self, var, *rest):
        """Where directory var (plus rest) is, inside the DESTDIR."""
        return self.root.joinpath(self.dirs[var].lstrip("/"), *rest)

    def installed(self, var, *rest):
        """The same path as the installed system sees it."""
        return "/".join([self.dirs[var]] + list(rest))

    def install(self, destdir, target="install"):
        r = run(["make", "-s", "-C", str(self.tree), target,
                 "DESTDIR=" + str(destdir)])
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    def env_template(self):
        return self.at("sysconfdir", "forcelink",
                       "forcelink.env").read_text()


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    destdir = base / "root"
    normal = not SANITIZED
    if normal:
        tree = base / "src"
        r = run(["make", "-s", "-C", str(BUILD), "distdir",
                 "distdir=" + str(tree)])
        assert r.returncode == 0, r.stderr
        # CFLAGS=-O0 in configure's environment (the command line is the
        # README's, which test_readme_and_man_examples_run_as_written
        # checks): the optimiser changes nothing make install lays out
        # or the installed programs do here, only the compile's CPU
        # (half of it); build/ is the optimised build, and
        # test_debian.py builds its package with noopt for the same
        # reason.
        r = run(["./configure", "-q"] + NORMAL_FLAGS, cwd=str(tree),
                env=dict(os.environ, CFLAGS="-O0"))
        assert r.returncode == 0, r.stderr
        r = run(["make", "-s", "-j%d" % (os.cpu_count() or 2)],
                cwd=str(tree))
        assert r.returncode == 0, r.stderr[-3000:]
    else:
        tree = BUILD
    i = Install(tree, destdir, normal)
    i.install(destdir)
    return i


def has_admin():
    """forcelink-admin (issue 5, point 1) is built by the same tree."""
    return (ROOT / "admin" / "forcelink-admin.8").exists()


def expected_files(i):
    """{path inside DESTDIR: mode} of every file make install writes."""
    exp = {}
    for prog in PROGRAMS:
        exp[i.installed("pkglibexecdir", prog)] = 0o755
    if has_admin():
        exp[i.installed("sbindir", "forcelink-admin")] = 0o755
        exp[i.installed("mandir", "man8", "forcelink-admin.8")] = 0o644
    for sql in i.dirs["SQL_FILES"].split():
        exp[i.installed("pkgdatadir", "sql", Path(sql).name)] = 0o644
    for sql in i.dirs["PG_SQL_FILES"].split():
        exp[i.installed("pkgdatadir", "sql", "postgresql",
                        Path(sql).name)] = 0o644
    exp[i.installed("docdir", "README")] = 0o644
    for f in NGINX_FILES:
        exp[i.installed("pkgdatadir", "nginx", f)] = 0o644
    exp[i.installed("sysconfdir", "forcelink", "forcelink.env")] = 0o640
    exp[i.installed("sysconfdir", "forcelink",
                    "forcelink.env.example")] = 0o644
    for unit in UNITS.values():
        for kind in ("socket", "service"):
            exp[i.installed("systemdsystemunitdir",
                            unit + "." + kind)] = 0o644
    for unit in TIMER_UNITS:
        for kind in ("service", "timer"):
            exp[i.installed("systemdsystemunitdir",
                            unit + "." + kind)] = 0o644
    exp[i.installed("sysusersdir", "forcelink.conf")] = 0o644
    exp[i.installed("tmpfilesdir", "forcelink.conf")] = 0o644
    return exp


def installed_files(root):
    return {"/" + str(p.relative_to(root)): p.stat().st_mode & 0o7777
            for p in root.rglob("*") if not p.is_dir()}


# ===========================================================================
# The layout

def test_layout_is_exactly_the_expected_files(inst):
    if inst.normal:
        assert {k: inst.dirs[k] for k in NORMAL_DIRS} == NORMAL_DIRS
    got = installed_files(inst.root)
    exp = expected_files(inst)
    assert sorted(got) == sorted(exp)
    assert {p: oct(m) for p, m in got.items()} == \
        {p: oct(m) for p, m in exp.items()}
    # The settings directory holds secrets: only root and the group.
    conf = inst.at("sysconfdir", "forcelink")
    assert conf.stat().st_mode & 0o7777 == 0o750
    # The environment file starts as the example.
    assert (conf / "forcelink.env").read_bytes() == \
        (conf / "forcelink.env.example").read_bytes()


def test_installed_snippets_are_the_sources(inst):
    """One source of truth: the installed nginx files are nginx/ with
    only their include paths moved to pkgdatadir (no change at all for
    --prefix=/usr); the installed schema is sql/ and sql/postgresql/."""
    for f in NGINX_FILES:
        src = (ROOT / "nginx" / f).read_text()
        want = src.replace("/usr/share/forcelink/nginx",
                           inst.dirs["pkgdatadir"] + "/nginx")
        assert inst.at("pkgdatadir", "nginx", f).read_text() == want, f
        if inst.normal:
            assert want == src
    locs = inst.at("pkgdatadir", "nginx",
                   "forcelink-locations.conf").read_text()
    includes = re.findall(r"^\s*include\s+(\S+);", locs, re.M)
    # /contact, /slack/actions, /oauth/start, /oauth/callback,
    # /slack/install, /slack/oauth_redirect, /healthz, one
    # /healthz/PROGRAM per program and /metrics.
    assert includes == [inst.installed("pkgdatadir", "nginx",
                                       "forcelink-fastcgi.conf")] * \
        (8 + len(PROGRAMS))
    for sql in inst.dirs["SQL_FILES"].split():
        assert inst.at("pkgdatadir", "sql", Path(sql).name).read_bytes() \
            == (ROOT / sql).read_bytes()
    assert inst.dirs["PG_SQL_FILES"].split()
    for sql in inst.dirs["PG_SQL_FILES"].split():
        assert inst.at("pkgdatadir", "sql", "postgresql",
                       Path(sql).name).read_bytes() == \
            (ROOT / sql).read_bytes()


def test_reinstall_keeps_an_edited_env_file(inst, tmp_path):
    dest = tmp_path / "root"
    inst.install(dest)
    conf = dest / inst.dirs["sysconfdir"].lstrip("/") / "forcelink"
    env = conf / "forcelink.env"
    # (Unedited, uninstall removes it with the rest: make distcheck.)
    edited = env.read_text().replace("SF_CLIENT_ID=\n",
                                     "SF_CLIENT_ID=3MVG9edited\n")
    assert edited != env.read_text()
    env.write_text(edited)
    env.chmod(0o600)
    # (install-data: the programs have nothing to do with it.)
    r = inst.install(dest, "install-data")
    assert "keeping " + str(env) in r.stdout
    assert env.read_text() == edited
    assert env.stat().st_mode & 0o777 == 0o600
    assert (conf / "forcelink.env.example").read_text() != edited
    r = run(["make", "-s", "-C", str(inst.tree), "uninstall",
             "DESTDIR=" + str(dest)])
    assert r.returncode == 0, r.stderr
    assert installed_files(dest) == {
        "/" + str(env.relative_to(dest)): 0o600}
    assert env.read_text() == edited


# ===========================================================================
# The units

def parse_unit(text):
    """{section: {key: [values]}} of a unit file (no line continuations
    are used in ours)."""
    out, sect = {}, None
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln[0] in "#;":
            continue
        m = re.fullmatch(r"\[(\w+)\]", ln)
        if m:
            sect = out.setdefault(m.group(1), {})
            continue
        k, v = ln.split("=", 1)
        sect.setdefault(k, []).append(v)
    return out


def unit(inst, name):
    return parse_unit(inst.at("systemdsystemunitdir", name).read_text())


def upstream_sockets(inst):
    text = inst.at("pkgdatadir", "nginx",
                   "forcelink-upstreams.conf").read_text()
    return dict(re.findall(r"upstream forcelink_(\w+) \{\s*server unix:"
                           r"([^;]+);", text))


def test_units_say_what_the_readme_promises(inst):
    sockets = upstream_sockets(inst)
    assert sorted(sockets) == sorted(PROGRAMS)
    for prog, name in UNITS.items():
        sock = unit(inst, name + ".socket")["Socket"]
        # nginx's upstream is the socket systemd listens on.
        assert sock["ListenStream"] == [sockets[prog]]
        assert sockets[prog] == "/run/forcelink/%s.sock" % prog
        assert sock["Accept"] == ["no"]
        assert sock["SocketGroup"] == [inst.dirs["NGINX_GROUP"]]
        assert sock["SocketMode"] == ["0660"]
        assert unit(inst, name + ".socket")["Install"]["WantedBy"] == \
            ["sockets.target"]
        u = unit(inst, name + ".service")
        svc = u["Service"]
        assert u["Unit"]["Requires"] == [name + ".socket"]
        assert svc["ExecStart"][0].split()[0] == \
            inst.installed("pkglibexecdir", prog)
        # No -s: the socket is standard input.
        assert "-s" not in svc["ExecStart"][0].split()
        assert svc["StandardInput"] == ["socket"]
        assert svc["Restart"] == ["on-abnormal"]
        assert svc["StandardOutput"] == ["journal"]
        assert svc["StandardError"] == ["journal"]
        assert svc["User"] == ["forcelink"]
        assert svc["Group"] == ["forcelink"]
        assert svc["EnvironmentFile"] == [
            inst.installed("sysconfdir", "forcelink", "forcelink.env")]
        db_dir = inst.installed("localstatedir", "lib", "forcelink")
        assert svc["Environment"] == [
            "FORCELINK_DB=%s/forcelink.db" % db_dir]
        assert svc["StateDirectory"] == ["forcelink"]
        assert svc["StateDirectoryMode"] == ["0700"]
        assert svc["ReadWritePaths"] == [db_dir]
        assert "DynamicUser" not in svc
        # The key is read in place, so that rotate-key's new file is seen
        # without a restart (not a LoadCredential= copy).
        assert "LoadCredential" not in svc
        for k, v in HARDENING.items():
            assert svc.get(k) == [v], k
        assert svc["SystemCallFilter"][0] == "@system-service"


def test_timer_units(inst):
    """The daily purge and backup (issue 16): forcelink-admin --quiet as
    the services' user with their settings, hardened as they are, the
    backup without any network."""
    db_dir = inst.installed("localstatedir", "lib", "forcelink")
    backups = inst.installed("localstatedir", "backups", "forcelink")
    admin = inst.installed("sbindir", "forcelink-admin")
    want = {
        "forcelink-purge": admin + " --env-file /dev/null --quiet purge",
        "forcelink-backup": admin + " --env-file /dev/null --quiet backup "
        + backups + " --keep 14",
    }
    when = {"forcelink-purge": "*-*-* 03:15:00",
            "forcelink-backup": "*-*-* 02:30:00"}
    for name in TIMER_UNITS:
        svc = unit(inst, name + ".service")["Service"]
        assert svc["ExecStart"] == [want[name]]
        assert svc["Type"] == ["oneshot"]
        assert (svc["User"], svc["Group"]) == (["forcelink"], ["forcelink"])
        assert svc["EnvironmentFile"] == [
            inst.installed("sysconfdir", "forcelink", "forcelink.env")]
        assert svc["Environment"] == [
            "FORCELINK_DB=%s/forcelink.db" % db_dir]
        for k, v in HARDENING.items():
            if k != "RestrictAddressFamilies":
                assert svc.get(k) == [v], (name, k)
        # README: purge at 03:15, backup at 02:30, up to 30 minutes later.
        t = unit(inst, name + ".timer")
        assert t["Timer"] == {
            "OnCalendar": [when[name]], "RandomizedDelaySec": ["30min"],
            "Persistent": ["true"]}
        assert t["Install"]["WantedBy"] == ["timers.target"]
    purge = unit(inst, "forcelink-purge.service")["Service"]
    # purge revokes expired pending logins at Salesforce.
    assert purge["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert purge["ReadWritePaths"] == [db_dir]
    bk = unit(inst, "forcelink-backup.service")["Service"]
    assert bk["PrivateNetwork"] == ["yes"]
    assert bk["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert bk["ReadWritePaths"] == [db_dir, "-" + backups]


def verify_dir(inst, tmp_path):
    """The installed units with the programs' paths moved into the
    DESTDIR: systemd-analyze verify checks that ExecStart exists."""
    d = tmp_path / "units"
    d.mkdir()
    libexec, sbin = inst.dirs["pkglibexecdir"], inst.dirs["sbindir"]
    for f in inst.at("systemdsystemunitdir").iterdir():
        (d / f.name).write_text(f.read_text().replace(
            "=" + libexec + "/", "=" + str(inst.at("pkglibexecdir")) + "/")
            .replace("=" + sbin + "/", "=" + str(inst.at("sbindir")) + "/"))
    return d


def test_systemd_analyze_verify(inst, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed "
                    "(Debian package systemd)")
    d = verify_dir(inst, tmp_path)
    env = dict(os.environ)
    man = inst.at("mandir", "man8", "forcelink-admin.8")
    if man.exists() and shutil.which("man"):
        # The units' Documentation=man:forcelink-admin(8) is checked too.
        env["MANPATH"] = str(man.parent.parent)
        args = ["--man=yes"]
    else:
        args = ["--man=no"]
    units = sorted(str(p) for p in d.iterdir())
    assert len(units) == 2 * len(PROGRAMS) + 2 * len(TIMER_UNITS)
    r = run(["systemd-analyze", "verify"] + args + units, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout + r.stderr == ""


def test_systemd_analyze_security(inst, tmp_path):
    """systemd-analyze security rates each service "OK" (below 2.0) or
    better.  pytest -s prints the scores."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed "
                    "(Debian package systemd)")
    d = verify_dir(inst, tmp_path)
    for name in list(UNITS.values()) + list(TIMER_UNITS):
        r = run(["systemd-analyze", "security", "--offline=yes",
                 "--no-pager", str(d / (name + ".service"))])
        m = re.search(r"Overall exposure level for %s\.service: "
                      r"([0-9.]+) (\w+)" % re.escape(name), r.stdout)
        assert m, r.stdout[-2000:] + r.stderr
        print("systemd-analyze security %s.service: %s %s"
              % (name, m.group(1), m.group(2)))
        # The backup service, without network, rates "SAFE" (below 1.0).
        assert float(m.group(1)) < 2.0 and m.group(2) in ("OK", "SAFE")


def test_sysusers_and_tmpfiles(inst, tmp_path):
    """On a scratch root: the user forcelink, /etc/forcelink 0750
    root:forcelink, the database directory 0700 forcelink:forcelink."""
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (Debian package systemd)"
                        % tool)
    root = tmp_path / "root"
    shutil.copytree(inst.root, root, symlinks=True)
    (root / "etc").mkdir(exist_ok=True)
    sysusers = root / inst.dirs["sysusersdir"].lstrip("/") / "forcelink.conf"
    tmpfiles = root / inst.dirs["tmpfilesdir"].lstrip("/") / "forcelink.conf"
    r = run(["systemd-sysusers", "--root=" + str(root), str(sysusers)])
    assert r.returncode == 0, r.stderr
    pw = [ln.split(":") for ln in (root / "etc/passwd").read_text()
          .splitlines() if ln.startswith("forcelink:")]
    assert len(pw) == 1
    uid, gid, home, shell = int(pw[0][2]), int(pw[0][3]), pw[0][5], pw[0][6]
    assert 0 < uid < 1000 and 0 < gid < 1000
    assert home == inst.installed("localstatedir", "lib", "forcelink")
    assert shell.endswith("/nologin")
    r = run(["systemd-tmpfiles", "--root=" + str(root), "--create",
             str(tmpfiles)])
    assert r.returncode == 0, r.stderr
    st = (root / inst.dirs["sysconfdir"].lstrip("/") / "forcelink").stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o750, 0, gid)
    st = (root / home.lstrip("/")).stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o700, uid, gid)
    # forcelink-backup.service's directory.
    st = (root / inst.installed("localstatedir", "backups", "forcelink")
          .lstrip("/")).stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o700, uid, gid)


# ===========================================================================
# The environment file

def parse_env_file(text):
    """NAME=value lines as systemd's EnvironmentFile= reads them.  The
    template keeps to the part of that syntax where every reader agrees
    (no quotes, escapes, spaces or $), which this asserts."""
    env = {}
    for ln in text.splitlines():
        if not ln.strip() or ln.lstrip()[0] in "#;":
            continue
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s'\"\\$`]*", ln), ln
        k, v = ln.split("=", 1)
        assert k not in env, k
        env[k] = v
    return env


def fill_env(text, values):
    """The template with each NAME in values set (a commented-out
    "#NAME=" line is uncommented)."""
    for k, v in values.items():
        text, n = re.subn(r"^#?%s=.*$" % k, "%s=%s" % (k, v), text,
                          count=1, flags=re.M)
        assert n == 1, k
    return text


def process_env(file_env):
    """What the program gets from systemd: the file's settings and PATH
    (plus the sanitizer settings of the sanitizer pass)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}
    env.update(file_env)
    env.update({k: os.environ[k] for k in SANITIZER_ENV if k in os.environ})
    return env


def test_env_template_lists_every_setting(inst):
    text = inst.env_template()
    env = parse_env_file(text)
    assert env == {
        "FORCELINK_PUBLIC_URL": "",
        "SLACK_SIGNING_SECRET_FILE":
            inst.installed("sysconfdir", "forcelink", "slack_signing_secret"),
        "SF_CLIENT_ID": "",
        "SF_CLIENT_SECRET_FILE":
            inst.installed("sysconfdir", "forcelink", "sf_client_secret"),
        "FORCELINK_KEY_FILE": inst.installed("sysconfdir", "forcelink", "key"),
        "FORCELINK_DB": inst.installed("localstatedir", "lib", "forcelink",
                                       "forcelink.db"),
    }
    # The optional ones are there, commented out, for the admin to set.
    for k in ("SLACK_VERIFICATION_TOKEN_FILE", "SF_LOGIN_URL",
              "SF_API_VERSION", "FORCELINK_CA_FILE",
              "SLACK_RESPONSE_URL_PREFIX", "FORCELINK_DEBUG",
              "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET_FILE",
              "SLACK_AUTHORIZE_URL", "SLACK_API_URL",
              "FORCELINK_REQUIRE_INSTALL", "FORCELINK_LINK_PROOF",
              "SLACK_BOT_TOKEN_FILE", "FORCELINK_DB_PASSWORD_FILE"):
        assert re.search(r"^#%s=" % k, text, re.M), k
    # Secrets only as files.
    for k in ("SLACK_SIGNING_SECRET", "SF_CLIENT_SECRET", "FORCELINK_KEY",
              "SLACK_VERIFICATION_TOKEN", "SLACK_CLIENT_SECRET",
              "SLACK_BOT_TOKEN", "FORCELINK_DB_PASSWORD"):
        assert not re.search(r"^#?%s=" % k, text, re.M), k


def listener(path):
    """A listening unix socket at path, mode 0660, as systemd makes it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    os.chmod(str(path), 0o660)
    s.listen(1024)
    return s


def start_fails(inst, tmp_path, env, stdin=None):
    """Runs the installed contact as systemd would; it must stop at once.
    Returns its standard error."""
    own = stdin is None
    if own:
        stdin = listener(tmp_path / "contact.sock")
    try:
        p = subprocess.run([str(inst.at("pkglibexecdir", "contact"))],
                           stdin=stdin.fileno(), env=process_env(env),
                           capture_output=True, text=True, timeout=20,
                           cwd=str(tmp_path))
    finally:
        if own:
            stdin.close()
    assert p.returncode == 1, p.stderr
    return p.stderr


def filled_values(d):
    """Settings for the template, with secret files in directory d."""
    key = base64.b64encode(os.urandom(32)).decode()
    for name, val in (("slack_signing_secret", "8f742231b10e8888abcd99yy"),
                      ("sf_client_secret", "sfsecret"), ("key", key)):
        (d / name).write_text(val + "\n")
        (d / name).chmod(0o640)
    (d / "var").mkdir(exist_ok=True)
    return {
        "FORCELINK_PUBLIC_URL": "https://forcelink.example.com",
        "SLACK_SIGNING_SECRET_FILE": str(d / "slack_signing_secret"),
        "SF_CLIENT_ID": "3MVG9installtest",
        "SF_CLIENT_SECRET_FILE": str(d / "sf_client_secret"),
        "FORCELINK_KEY_FILE": str(d / "key"),
        "FORCELINK_DB": str(d / "var" / "forcelink.db"),
    }


def test_env_template_as_installed_stops_with_one_line(inst, tmp_path):
    """Not filled in yet: the first setting the program needs names its
    secret file, which does not exist yet."""
    err = start_fails(inst, tmp_path, parse_env_file(inst.env_template()))
    path = inst.installed("sysconfdir", "forcelink", "slack_signing_secret")
    assert err == ("contact: SLACK_SIGNING_SECRET_FILE: cannot read %s: "
                   "No such file or directory\n" % path)
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("name,line", [
    ("FORCELINK_PUBLIC_URL", "FORCELINK_PUBLIC_URL must be set to this "
     "service's external URL, e.g. https://forcelink.example.com"),
    ("SF_CLIENT_ID", "SF_CLIENT_ID is not set"),
    ("SLACK_SIGNING_SECRET_FILE", "SLACK_SIGNING_SECRET is not set (or, "
     "for legacy apps, SLACK_VERIFICATION_TOKEN)"),
    ("SF_CLIENT_SECRET_FILE", "SF_CLIENT_SECRET is not set"),
    # The key's wording belongs to the keyring code (key rotation); the
    # line must still be one, naming the variable.
    ("FORCELINK_KEY_FILE", re.compile(r"FORCELINK_KEY\b[^\n]*")),
])
def test_env_template_missing_setting_one_line(inst, tmp_path, name, line):
    values = filled_values(tmp_path)
    values[name] = ""
    env = parse_env_file(fill_env(inst.env_template(), values))
    assert env[name] == ""
    err = start_fails(inst, tmp_path, env)
    if isinstance(line, str):
        assert err == "contact: %s\n" % line
    else:
        assert re.fullmatch(r"contact: %s\n" % line.pattern, err), err
    # Nothing half-started: no database was made.
    assert not (tmp_path / "var" / "forcelink.db").exists()


@pytest.mark.parametrize("kind", ["connected", "not a socket"])
def test_stdin_must_be_a_listening_socket(inst, tmp_path, kind):
    """A connected socket (systemd Accept=yes, inetd) or no socket: one
    line and exit 1, rather than workers that fail every accept and are
    restarted for ever."""
    env = parse_env_file(fill_env(inst.env_template(),
                                  filled_values(tmp_path)))
    if kind == "connected":
        a, b = socket.socketpair()
        with a, b:
            err = start_fails(inst, tmp_path, env, stdin=b)
        want = ("standard input is a socket but not a listening stream "
                "socket (systemd: Accept=no)")
    else:
        with open(os.devnull) as null:
            err = start_fails(inst, tmp_path, env, stdin=null)
        want = "standard input is not a socket: give -s PATH"
    lines = [ln for ln in err.splitlines() if "level=error" in ln]
    assert len(lines) == 1, err
    assert lines[0].endswith('func=serve_listen msg="%s"' % want), err
    assert "supervisor.start" not in err and "worker" not in err


# ===========================================================================
# Socket activation, through nginx with the installed snippets

class ActivatedStack(Stack):
    """The e2e Stack, but run from the install: each program is the
    installed binary, started with a listening socket the stack made as
    its standard input (what systemd does with StandardInput=socket), in
    the environment of the installed template filled in; nginx runs
    run.conf.in, the tests' skeleton, around the installed snippets."""

    def __init__(self, tmp, inst):
        super().__init__(tmp)
        self.inst = inst
        self.listeners = {}
        (self.dir / "slack_signing_secret").write_text(
            self.signing_secret + "\n")

    def env(self):
        # Under FL_E2E_ENGINE=postgresql the Stack has a database of the
        # shared server: the installed template's PostgreSQL lines then
        # name it, as README tells an admin to.
        db = {"FORCELINK_DB": str(self.db_path)}
        if self.pg is not None:
            db = {"FORCELINK_DB": self.pg.uri_for(self.database),
                  "FORCELINK_DB_PASSWORD_FILE":
                      self.pg.env["FORCELINK_DB_PASSWORD_FILE"]}
        text = fill_env(self.inst.env_template(), {
            "FORCELINK_PUBLIC_URL": self.url,
            "SLACK_SIGNING_SECRET_FILE":
                str(self.dir / "slack_signing_secret"),
            "SF_CLIENT_ID": "3MVG9e2e.forcelink_test",
            "SF_CLIENT_SECRET_FILE": str(self.dir / "sf_secret"),
            "SF_LOGIN_URL": self.sf_url,
            "FORCELINK_KEY_FILE": str(self.dir / "key"),
            **db,
            "FORCELINK_CA_FILE": self.ca,
            "SLACK_RESPONSE_URL_PREFIX": self.sf_url + "/hooks/",
        })
        (self.dir / "forcelink.env").write_text(text)
        return process_env(parse_env_file(text))

    def start_programs(self, env=None):
        (self.dir / "var").mkdir(exist_ok=True)
        env = env or self.env()
        with open(self.log_path, "ab") as log:
            for prog in PROGRAMS:
                if prog in self.procs and self.procs[prog].poll() is None:
                    continue
                if prog not in self.listeners:
                    self.listeners[prog] = listener(
                        self.dir / (prog + ".sock"))
                self.procs[prog] = subprocess.Popen(
                    [str(self.inst.at("pkglibexecdir", prog)),
                     "-w", str(self.workers), "-t", str(self.threads)],
                    stdin=self.listeners[prog].fileno(), env=env,
                    stdout=log, stderr=log, cwd=str(self.dir))
        # Ready when every supervisor has its workers.
        for _ in range(400):
            dead = [p for p in PROGRAMS if self.procs[p].poll() is not None]
            assert not dead, "%s exited: %s" % (dead,
                                                self.log_text()[-2000:])
            if all(len(self.worker_pids(p)) == self.workers
                   for p in PROGRAMS):
                return
            time.sleep(0.025)
        raise RuntimeError("programs did not start: " +
                           self.log_text()[-2000:])

    def render_nginx(self):
        i, d = self.inst, str(self.dir)
        (self.dir / "nginx-tmp").mkdir(exist_ok=True)
        user = "user root root;" if os.getuid() == 0 else ""
        conf = (ROOT / "nginx" / "run.conf.in").read_text()
        for k, v in (("{{RUNDIR}}", d), ("{{PORT}}", str(self.port)),
                     ("{{USER}}", user)):
            conf = conf.replace(k, v)
        (self.dir / "nginx.conf").write_text(conf)
        nginx_dir = i.installed("pkgdatadir", "nginx")
        locs = i.at("pkgdatadir", "nginx",
                    "forcelink-locations.conf").read_text()
        # Only the DESTDIR and the run directory differ from production.
        for k, v in ((nginx_dir + "/", str(i.at("pkgdatadir", "nginx")) + "/"),
                     ("/var/log/nginx/forcelink-access.log",
                      d + "/nginx-access.log"),
                     ("/var/log/nginx/forcelink-error.log",
                      d + "/nginx-error.log")):
            assert k in locs, k
            locs = locs.replace(k, v)
        (self.dir / "forcelink-locations.conf").write_text(locs)
        ups = i.at("pkgdatadir", "nginx",
                   "forcelink-upstreams.conf").read_text()
        assert ups.count("unix:/run/forcelink/") == len(PROGRAMS)
        (self.dir / "forcelink-upstreams.conf").write_text(
            ups.replace("unix:/run/forcelink/", "unix:" + d + "/"))

    def stop(self):
        try:
            super().stop()
        finally:
            for s in self.listeners.values():
                s.close()


@pytest.fixture(scope="module")
def astack(inst, tmp_path_factory):
    s = ActivatedStack(tmp_path_factory.mktemp("activated"), inst).start()
    yield s
    s.stop()


def test_activated_link_and_search(astack):
    """The whole flow through nginx and the three socket-activated
    programs: login link, consent, callback page, search."""
    s = astack
    for prog in PROGRAMS:
        # No program made a socket of its own: each serves the one it was
        # handed (the log says where it listens).
        assert re.search(r"^time=\S+ prog=%s pid=\d+ level=info "
                         r"event=supervisor\.start workers=2 threads=4 "
                         r"socket=stdin$" % prog, s.log_text(), re.M), prog
    r = s.slash("smith", user="U0INSTALL1")
    assert r.status == 200 and "oauth/start?state=" in r.json()["text"]
    page = s.link(user="U0INSTALL1", sf_user="alice@example.com")
    assert page.status == 200, page.text
    assert "alice@example.com" in page.text
    r = s.slash("smith", user="U0INSTALL1")
    assert r.status == 200, r.text
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "Jane Smith" in body["text"]
    assert [ln["user_id"] for ln in s.links()] == ["U0INSTALL1"]


def test_activated_log_lines_share_the_request_id(astack):
    """nginx's line for a request (installed log format, req=) and the
    worker's lines (the command's, then its answer's) carry the same id."""
    s = astack
    r = s.slash("smith", user="U0INSTALL2")
    assert r.status == 200 and "oauth/start?state=" in r.json()["text"]
    time.sleep(0.2)         # nginx writes its line after the response
    lines = [ln for ln in (s.dir / "nginx-access.log").read_text()
             .splitlines() if '"POST /contact HTTP/1.1" 200' in ln]
    m = re.search(r" req=([0-9a-f]{32}) rt=[0-9.]+$", lines[-1])
    assert m, lines[-1]
    worker = [ln for ln in s.log_text().splitlines()
              if " req=%s " % m.group(1) in ln]
    assert len(worker) == 2, worker
    assert re.search(r" prog=contact pid=\d+ level=info event=cmd\.search "
                     r"req=%s team=T0E2E0001 user=U0INSTALL2 "
                     r"outcome=unlinked " % m.group(1), worker[0]), worker
    assert re.search(r" prog=contact pid=\d+ level=info event=slack\.ack "
                     r"req=%s team=T0E2E0001 user=U0INSTALL2 deferred=0 "
                     % m.group(1), worker[1]), worker


def test_activated_restart_loses_no_request(astack):
    """The socket outlives the program (systemd keeps it): a request that
    arrives while contact is down waits in the socket's queue and is
    answered by the restarted program."""
    s = astack
    p = s.procs.pop("contact")
    p.terminate()
    assert p.wait(timeout=10) == 0
    out = {}

    def ask():
        out["r"] = s.slash("help", user="U0INSTALL3")
    t = threading.Thread(target=ask)
    t.start()
    time.sleep(0.5)
    assert t.is_alive()     # nginx is connected and waits for an answer
    s.start_programs()      # (the others are replaced too: harmless)
    t.join(15)
    assert not t.is_alive()
    r = out["r"]
    assert r.status == 200, r.text
    assert r.json()["response_type"] == "ephemeral"
    assert "/contact login" in r.json()["text"]


def test_example_server_block_passes_nginx_t(astack):
    """forcelink-site.conf, the complete example server block, as
    installed, with the upstreams in the http block as the README links
    them (conf.d/forcelink.conf): nginx -t accepts the two together
    (with the test's certificate), so no upstream is defined twice."""
    s, i = astack, astack.inst
    site = i.at("pkgdatadir", "nginx", "forcelink-site.conf").read_text()
    # Its includes, as render_nginx() relocated them for the stack.
    nginx_dir = i.installed("pkgdatadir", "nginx")
    assert site.count(nginx_dir + "/") == 1
    assert not re.search(r"^\s*include .*forcelink-upstreams\.conf", site,
                         re.M)
    site = site.replace(nginx_dir + "/", str(s.dir) + "/")
    site = site.replace("/etc/ssl/certs/forcelink.example.com.pem",
                        str(s.dir / "tls/server.pem"))
    site = site.replace("/etc/ssl/private/forcelink.example.com.key",
                        str(s.dir / "tls/server.key"))
    site = site.replace("/var/log/nginx/", str(s.dir) + "/sitetest-")
    site = site.replace("listen 443 ssl;",
                        "listen 127.0.0.1:%d ssl;" % free_port())
    site = site.replace("listen [::]:443 ssl;", "")
    (s.dir / "site.conf").write_text(site)
    (s.dir / "site-main.conf").write_text(
        "pid %s/site.pid;\nerror_log %s/site-error.log;\n"
        "events {}\nhttp {\n    access_log off;\n"
        "    include %s/forcelink-upstreams.conf;\n"
        "    include %s/site.conf;\n}\n"
        % (s.dir, s.dir, s.dir, s.dir))
    r = run(["nginx", "-t", "-p", str(s.dir), "-c",
             str(s.dir / "site-main.conf"), "-e",
             str(s.dir / "site-error.log")])
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_example_server_block_sends_hsts():
    """The shipped server block sends Strict-Transport-Security, at least
    a year, on every answer (server level, "always": errors too), and
    hides the programs' own so that a page carries one.  (The e2e stack
    serves plain http on 127.0.0.1, where the programs send none: the
    header itself is tested in tests/unit/test_page.c.)"""
    site = (ROOT / "nginx" / "forcelink-site.conf").read_text()
    server = site[site.index("server {"):]
    top = [ln.strip() for ln in server.splitlines()
           if re.match(r"^    [^ #}]", ln)]
    hsts = [ln for ln in top
            if ln.startswith("add_header Strict-Transport-Security ")]
    assert len(hsts) == 1, top
    m = re.fullmatch(r'add_header Strict-Transport-Security '
                     r'"max-age=(\d+)(; includeSubDomains)?" always;',
                     hsts[0])
    assert m and int(m.group(1)) >= 31536000, hsts
    assert "fastcgi_hide_header Strict-Transport-Security;" in top, top
    # No location of its own adds headers (which would drop the
    # server's add_header there).
    assert site.count("add_header") == 1


# ===========================================================================
# The README's and the man page's example commands, as written (issue 16,
# point 1): tests/e2e/docwalk.py extracts them and runs them in a mount
# namespace laid over this module's install.

# The command blocks that are not run, each found exactly once, and why.
NOT_RUN = [
    ("apt-get install build-essential",
     "installs packages: each one named must be installed (checked)"),
    ("apt-get install autoconf automake && autoreconf -fi",
     "installs packages (checked) and regenerates configure, which "
     "scripts/lib.sh does in its copy of the tree"),
    ("apt-get install dpkg-dev debhelper",
     "installs packages: each one named must be installed (checked)"),
    ("dpkg-buildpackage -us -uc -b",
     "test_debian.py builds the package so, from a copy of the tree"),
    ("apt install ../forcelink_*.deb",
     "test_debian.py installs, upgrades and purges the package with "
     "dpkg --root, which needs no second machine"),
    ("./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var",
     "the inst fixture ran exactly this line (checked)"),
    ("make\n", "the inst fixture built the tree"),
    ("make install\n", "the inst fixture installed it, into the DESTDIR "
     "laid over / here"),
    ("journalctl -u 'forcelink-*' | grep req=",
     "looks for the request id of the example log line above; "
     "test_activated_log_lines_share_the_request_id joins real ids"),
    ("forcelink-admin rotate-key --new-key-file /root/forcelink-new.key\n",
     "step 2 of the FORCELINK_KEY procedure, whose other steps are prose; "
     "test_rotate.py::test_key_in_environment_two_restarts runs them all"),
    ("forcelink-admin rotate-key --new-key-file /root/NEW.key\n",
     "step 3 of the rotation on several hosts, whose other steps are "
     "prose; test_pg_admin.py::test_key_rotation_on_two_hosts runs them "
     "all on two hosts"),
]


class DocStack(ActivatedStack):
    """The Salesforce stand-in and an nginx for the walk.  The programs
    are the installed ones the examples' systemctl lines start in the
    namespace; nginx reaches them at their sockets under its /run.  The
    store is the SQLite file the README's commands make (db_path is set
    to it), whatever FL_E2E_ENGINE says."""

    FOLLOWS_ENGINE = False

    def __init__(self, tmp, inst, run_dir):
        super().__init__(tmp, inst)
        self.run_dir = run_dir

    def start_programs(self, env=None):
        pass

    def stop_programs(self):
        pass

    def start_nginx(self):
        # Up before the programs: /healthz would be 502, so any answer
        # of nginx's own (404 for an unknown path) says it listens.
        self.render_nginx()
        self.procs["nginx"] = subprocess.Popen(
            ["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
             "-e", str(self.dir / "nginx-error.log")])
        for _ in range(400):
            try:
                if self.get("/nowhere").status == 404:
                    return
            except OSError:
                pass
            time.sleep(0.025)
        raise RuntimeError("nginx did not start")

    def render_nginx(self):
        super().render_nginx()
        ups = self.inst.at("pkgdatadir", "nginx",
                           "forcelink-upstreams.conf").read_text()
        (self.dir / "forcelink-upstreams.conf").write_text(ups.replace(
            "unix:/run/forcelink/", "unix:%s/forcelink/" % self.run_dir))


def packages_installed(block):
    names = [w for part in block.split("&&")[:1] for w in part.split()
             if w not in ("apt-get", "install", "\\") and
             not w.startswith("-")]
    r = run(["dpkg-query", "-W", "-f=${Package} ${Status}\\n"] + names)
    ok = {ln.split()[0] for ln in r.stdout.splitlines()
          if ln.endswith("install ok installed")}
    # nginx is any of Debian's nginx packages.
    if "nginx" in names and shutil.which("nginx"):
        ok.add("nginx")
    return sorted(set(names) - ok)


def without_systemd(host, stack, b):
    """The README's recipe for another supervisor, in place of the
    systemd units: it serves, doctor is green, and SIGTERM stops it;
    then the units take over again."""
    units = " ".join("forcelink-%s.socket" % u.replace("_", "-")
                     for u in PROGRAMS)
    r = host.run("systemctl stop 'forcelink-*'")
    assert r.returncode == 0, r.stderr
    r = host.run(b.text)
    assert r.returncode == 0, "%r\n%s%s" % (b, r.stdout, r.stderr)
    socks = [host.run_dir / "forcelink" / (p + ".sock") for p in PROGRAMS]
    for _ in range(200):
        if all(listening(s) for s in socks):
            break
        time.sleep(0.05)
    assert all(listening(s) for s in socks), host.run(
        "cat /var/log/forcelink-*.log").stdout
    r = host.run("forcelink-admin doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    r = stack.slash("help", team="T0123ABCD", user="U0456EFGH")
    assert r.status == 200 and "/contact" in r.json()["text"], r.text
    r = host.run("pkill -TERM -f '^/usr/libexec/forcelink/'; "
                 "for i in $(seq 100); do "
                 "pgrep -f '^/usr/libexec/forcelink/' >/dev/null || exit 0; "
                 "sleep 0.1; done; exit 1")
    assert r.returncode == 0, "the programs did not stop on SIGTERM"
    r = host.run("systemctl start " + units)
    assert r.returncode == 0, r.stderr


def listening(path):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def test_readme_and_man_examples_run_as_written(inst, tmp_path_factory):
    if not inst.normal:
        pytest.skip("the examples name the README's ./configure line")
    if os.getuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a mount namespace")
    import json
    import docwalk
    readme = docwalk.readme_blocks((ROOT / "README").read_text())
    man = docwalk.man_blocks((ROOT / "admin/forcelink-admin.8").read_text())
    work = tmp_path_factory.mktemp("docwalk")
    stack = DocStack(work / "stack", inst, work / "host" / "run")
    stack.start()
    edits = {
        "slack_signing_secret": stack.signing_secret + "\n",
        "sf_client_secret": stack.client_secret + "\n",
        # What the README says to set, and for this test machine the
        # stand-in's CA and its response_url host.
        "forcelink.env": {
            "FORCELINK_PUBLIC_URL": stack.url,
            "SF_CLIENT_ID": CLIENT_ID,
            "SF_LOGIN_URL": stack.sf_url,
            "FORCELINK_CA_FILE": "/etc/forcelink/site-ca.pem",
            "SLACK_RESPONSE_URL_PREFIX": stack.sf_url + "/hooks/",
        },
    }
    host = docwalk.Host(work / "host", inst.root, json.dumps(edits))
    stack.db_path = host.upper("/var/lib/forcelink/forcelink.db")
    try:
        ca = host.upper("/etc/forcelink/site-ca.pem")
        ca.parent.mkdir(parents=True)
        shutil.copy(stack.ca, ca)
        ca.chmod(0o644)
        for name in ("uat.secret", "support.secret"):
            f = host.upper("/root/" + name)
            f.parent.mkdir(exist_ok=True)
            f.write_text(base64.b64encode(os.urandom(18)).decode() + "\n")
            f.chmod(0o600)
        skipped = {k: 0 for k, _ in NOT_RUN}
        ran = []
        for b in readme + man:
            if b.kind == "synopsis":
                continue
            if b.kind == "text":
                w = docwalk.first_word(b.text.splitlines()[0])
                assert not shutil.which(w), \
                    "a command not in docwalk.COMMANDS: %r" % b
                continue
            keep = []
            for cmd in docwalk.logical_lines(b.text):
                hit = [k for k, _ in NOT_RUN if cmd.startswith(k)]
                if not hit:
                    keep.append(cmd)
                    continue
                skipped[hit[0]] += 1
                if cmd.startswith("apt-get"):
                    assert packages_installed(cmd) == [], cmd
                if cmd.startswith("./configure"):
                    assert cmd.split()[1:] == NORMAL_FLAGS, cmd
            if not keep:
                continue
            b.text = "".join(keep)
            if b.where.startswith("forcelink-admin.8") and "man" not in ran:
                # The man page adds the README's two example
                # integrations again, and its unlink needs a link: begin
                # it from the README's installation without them, with
                # T0123ABCD's U0456EFGH linked through nginx.
                r = host.run("forcelink-admin integration remove --force "
                             "uat && forcelink-admin integration remove "
                             "--force support")
                assert r.returncode == 0, r.stdout + r.stderr
                page = stack.link(team="T0123ABCD", user="U0456EFGH")
                assert page.status == 200, page.text
                ran.append("man")
            if b.where == "README, Without systemd":
                without_systemd(host, stack, b)
                ran.append(b.text)
                continue
            if b.kind == "cron":
                env = docwalk.cron_env()
                env["LOGNAME"] = b.user
                r = host.run(b.text, user=b.user, env=env)
                assert (r.returncode, r.stdout + r.stderr) == (0, ""), \
                    "%r\nexit %d: %s%s" % (b, r.returncode, r.stdout,
                                           r.stderr)
            else:
                r = host.run(b.text, user=b.user, stdin=b.stdin)
                assert r.returncode == 0, "%r\nexit %d:\n%s%s" % (
                    b, r.returncode, r.stdout, r.stderr)
            ran.append(b.text)
        assert all(n == 1 for n in skipped.values()), skipped
        # What the timers start, once, as systemd would (their units'
        # User=, EnvironmentFile= and ExecStart=).
        before = set(host.upper("/var/backups/forcelink").glob("*.db"))
        r = host.run("systemctl start forcelink-purge.service "
                     "forcelink-backup.service")
        assert r.returncode == 0, r.stdout + r.stderr
        made = set(host.upper("/var/backups/forcelink").glob("*.db")) - before
        assert len(made) == 1, made
        # The walk went through the whole installation: the programs
        # served, doctor said ok, and the sockets are nginx's.
        assert any("doctor" in t for t in ran)
        assert (work / "host/run/forcelink/contact.sock").exists()
        print("example blocks run: %d; commands not run: %d"
              % (len(ran) - 1, len(NOT_RUN)))
    finally:
        host.close()
        stack.stop()
