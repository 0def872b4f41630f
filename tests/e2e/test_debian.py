"""The Debian package (issue 16, point 2): debian/ builds with
dpkg-buildpackage, passes lintian, and its maintainer scripts install,
upgrade, remove and purge as the README ("Installing from the Debian
package") says.

The package is built once per module, from a copy of the files git lists
(never in the source tree: tests/e2e/test_source_tree.py), with
DEB_BUILD_OPTIONS="nocheck noopt noautodbgsym parallel=2": the unit tests
ran already, and neither the optimiser nor the debug symbols change what
the packaging does, only the test's CPU.

Installs go into a scratch root without a container or a chroot: dpkg
--root=ROOT --force-script-chrootless runs the maintainer scripts on
this machine with DPKG_ROOT=ROOT, which the scripts (and debhelper's
snippets, systemd-sysusers, systemd-tmpfiles and deb-systemd-helper)
honour; --force-depends because the scratch root has no other package
(the tools come from this machine).  This machine's own /etc/passwd and
/etc/group must come out unchanged.  "The previous build" of the upgrade
is this build, and the new version is the same build repacked with a
higher version (dpkg-deb -R, -b) and a changed forcelink.env, so dpkg's
conffile handling and the upgrade path of the scripts really run.

What needs a running systemd (starting the sockets, restarting the
programs after an upgrade, stopping them on remove) cannot happen in a
scratch root: those branches run with DPKG_ROOT unset in a mount
namespace of their own whose /run says systemd runs, with stand-ins for
systemctl, deb-systemd-invoke, deb-systemd-helper, systemd-sysusers and
systemd-tmpfiles that only record their arguments.

Runs only as root (dpkg --root with maintainer scripts, file owners).
"""

import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from harness import (CLIENT_ID, NGINX_GROUP, PROGRAMS, ROOT, Stack,
                     nginx_gid)
from test_admin import DOCTOR_CHECKS
from test_install import fill_env, listener as listening_socket, \
    parse_env_file

UNITS = ["forcelink-" + p.replace("_", "-") for p in PROGRAMS]
NGINX_FILES = ("forcelink-locations.conf", "forcelink-fastcgi.conf",
               "forcelink-upstreams.conf", "forcelink-site.conf")
CONFFILES = ["/etc/forcelink/forcelink.env",
             "/etc/forcelink/forcelink.env.example"]
BUILD_OPTIONS = "nocheck noopt noautodbgsym parallel=2"
TOOLS = ("dpkg-buildpackage", "dh", "lintian", "fakeroot", "git",
         "systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper",
         "unshare")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="installs with dpkg --root and gives files "
                       "to the user forcelink: root only (CI is root)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason="needs " + ", ".join(TOOLS) + " (Debian "
                       "packages dpkg-dev, debhelper, lintian, fakeroot, "
                       "git, systemd, init-system-helpers, util-linux; "
                       "scripts/lib.sh installs them)"),
]


def run(argv, ok=True, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True,
                       text=True, **kw)
    if ok:
        assert r.returncode == 0, (argv, r.stdout[-3000:], r.stderr[-3000:])
    return r


class Debs:
    """The build: its tree, the .changes, the package and its upgrade."""

    def __init__(self, base):
        self.base = base
        self.tree = base / "forcelink"
        self.deb = self.changes = self.upgrade = None
        self.version = self.new_version = None


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    if run(["git", "-C", ROOT, "rev-parse", "--is-inside-work-tree"],
           ok=False).returncode != 0:
        pytest.skip("the package is built from a copy of the files git "
                    "lists: needs a git checkout")
    d = Debs(tmp_path_factory.mktemp("deb"))
    # The work tree's files as they are now, tracked or new, not ignored.
    files = run(["git", "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"], cwd=ROOT).stdout.split("\0")
    for f in files:
        src = ROOT / f
        if f and src.is_file() and not src.is_symlink():
            (d.tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, d.tree / f)
    env = dict(os.environ, DEB_BUILD_OPTIONS=BUILD_OPTIONS)
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=d.tree, env=env)
    d.version = run(["dpkg-parsechangelog", "-S", "Version"],
                    cwd=d.tree).stdout.strip()
    arch = run(["dpkg-architecture", "-qDEB_HOST_ARCH"]).stdout.strip()
    d.deb = d.base / ("forcelink_%s_%s.deb" % (d.version, arch))
    d.changes = d.base / ("forcelink_%s_%s.changes" % (d.version, arch))
    assert d.deb.is_file() and d.changes.is_file()
    d.new_version = d.version + "+1"
    d.upgrade = repack(d.deb, d.base / "new", d.new_version,
                       d.base / ("forcelink_%s_%s.deb"
                                 % (d.new_version, arch)))
    return d


def repack(deb, work, version, out):
    """deb with a higher version and a new line in both environment files
    (a new setting, say): the next release, for the upgrade."""
    run(["dpkg-deb", "-R", deb, work])
    control = work / "DEBIAN" / "control"
    text, n = re.subn(r"^Version: .*$", "Version: " + version,
                      control.read_text(), flags=re.M)
    assert n == 1
    control.write_text(text)
    # (Conffiles have no line in DEBIAN/md5sums: dpkg keeps their sums.)
    for name in ("forcelink.env", "forcelink.env.example"):
        with open(work / "etc/forcelink" / name, "a") as f:
            f.write("#FORCELINK_NEW_SETTING=%s\n" % version)
    run(["dpkg-deb", "-b", "--root-owner-group", work, out])
    return out


def contents(deb):
    """{path: (mode string, owner/group)} of the package's files."""
    out = {}
    for ln in run(["dpkg-deb", "-c", deb]).stdout.splitlines():
        f = ln.split()
        path = f[5][1:].rstrip("/") or "/"
        out[path] = (f[0], f[1])
    return out


# ===========================================================================
# The build

def test_lintian_has_no_error_or_warning(debs):
    """lintian on the .changes (the package and the upload): no E: and no
    W:.  pytest -s prints what remains (I:, P:)."""
    r = run(["lintian", "--pedantic", "--display-info", debs.changes],
            ok=False)
    tags = [ln for ln in r.stdout.splitlines() if re.match(r"^[A-Z]: ", ln)]
    print("lintian (pedantic, info): %s" % (tags or "nothing"))
    assert not [t for t in tags if t[0] in "EWX"], tags
    assert r.returncode == 0, r.stdout + r.stderr


def test_contents(debs):
    c = contents(debs.deb)
    for prog in PROGRAMS:
        assert c["/usr/libexec/forcelink/" + prog] == ("-rwxr-xr-x",
                                                      "root/root"), prog
    assert c["/usr/sbin/forcelink-admin"][0] == "-rwxr-xr-x"
    assert "/usr/share/man/man8/forcelink-admin.8.gz" in c
    for f in NGINX_FILES:
        assert "/usr/share/forcelink/nginx/" + f in c
    assert "/usr/lib/sysusers.d/forcelink.conf" in c
    assert "/usr/lib/tmpfiles.d/forcelink.conf" in c
    assert "/usr/share/doc/forcelink/README.gz" in c
    assert "/usr/share/doc/forcelink/copyright" in c
    # The schema of both engines: sql/ and sql/postgresql/.
    sql = sorted(str(p.relative_to(debs.tree / "sql"))
                 for p in (debs.tree / "sql").rglob("*.sql"))
    assert sql and any(p.startswith("postgresql/") for p in sql)
    assert sorted(p[len("/usr/share/forcelink/sql/"):] for p in c
                  if p.startswith("/usr/share/forcelink/sql/")
                  and p.endswith(".sql")) == sql
    for unit in UNITS:
        for kind in ("socket", "service"):
            assert "/lib/systemd/system/%s.%s" % (unit, kind) in c, unit
    # Every unit make install made, and nothing else (units added to
    # Makefile.am come in without a change to debian/).
    made = sorted(p.name for p in (debs.tree / "gen").iterdir()
                  if p.suffix in (".socket", ".service", ".timer"))
    shipped = sorted(p[len("/lib/systemd/system/"):] for p in c
                     if p.startswith("/lib/systemd/system/")
                     and p.count("/") == 4)
    assert shipped == made
    # Settings, no secrets: the environment file names the secret files,
    # none of which (nor the key) is shipped.
    assert c["/etc/forcelink/forcelink.env"] == ("-rw-r-----", "root/root")
    etc = sorted(p for p in c if p.startswith("/etc/"))
    assert etc == ["/etc/forcelink"] + CONFFILES
    conffiles = (debs.base / "ctl")
    run(["dpkg-deb", "-e", debs.deb, conffiles])
    assert (conffiles / "conffiles").read_text().split() == CONFFILES
    env = (debs.tree / "debian/forcelink/etc/forcelink/forcelink.env"
           ).read_text()
    for name in ("SLACK_SIGNING_SECRET", "SLACK_VERIFICATION_TOKEN",
                 "SF_CLIENT_SECRET", "FORCELINK_KEY", "SLACK_CLIENT_SECRET",
                 "SLACK_BOT_TOKEN"):
        assert not re.search(r"^#?%s=" % name, env, re.M), name
    # Depends: the libraries, and systemd for the maintainer scripts.
    info = run(["dpkg-deb", "-f", debs.deb, "Depends", "Recommends"]).stdout
    for dep in ("systemd", "libsodium23", "libsqlite3-0", "libfcgi0ldbl",
                "libcurl4", "libjson-c5", "libpq5"):
        assert re.search(r"(^|[ ,])%s( |,|$)" % dep, info, re.M), dep
    assert "Recommends: nginx" in info


# ===========================================================================
# Install, upgrade, remove, purge in a scratch root

class Root:
    """A scratch root with its own dpkg database."""

    def __init__(self, path):
        self.path = path
        (path / "var/lib/dpkg/info").mkdir(parents=True)
        (path / "var/lib/dpkg/updates").mkdir()
        (path / "var/lib/dpkg/status").touch()
        (path / "etc").mkdir()

    def __truediv__(self, rel):
        return self.path / rel.lstrip("/")

    def dpkg(self, *args, ok=True, confold=True):
        force = ["--force-confold"] if confold else []
        return run(["dpkg", "--root=%s" % self.path,
                    "--force-script-chrootless", "--force-depends"] +
                   force + list(args), ok=ok, stdin=subprocess.DEVNULL)

    def status(self):
        r = run(["dpkg-query", "--admindir=%s" % (self / "var/lib/dpkg"),
                 "-W", "-f=${db:Status-Abbrev} ${Version}", "forcelink"],
                ok=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def entry(self, db, name):
        """name's line of the root's passwd or group file, split."""
        lines = [ln.split(":") for ln in (self / "etc" / db).read_text()
                 .splitlines() if ln.startswith(name + ":")]
        assert len(lines) <= 1, lines
        return lines[0] if lines else None

    def ids(self):
        pw = self.entry("passwd", "forcelink")
        return int(pw[2]), int(self.entry("group", "forcelink")[2])


def enabled(root):
    """{link under /etc/systemd/system: its target}: what systemctl
    enable (deb-systemd-helper) made in root."""
    base = root / "/etc/systemd/system"
    return {str(p.relative_to(base)): os.readlink(p)
            for p in base.rglob("*") if p.is_symlink()} \
        if base.exists() else {}


def wanted_links(debs):
    """The links enabling every socket and timer make install made:
    TARGET.wants/UNIT for each WantedBy=TARGET of its [Install]."""
    links = {}
    for unit in (debs.tree / "gen").iterdir():
        if unit.suffix in (".socket", ".timer"):
            for target in re.findall(r"^WantedBy=(.+)$", unit.read_text(),
                                     re.M):
                for t in target.split():
                    links["%s.wants/%s" % (t, unit.name)] = \
                        "/lib/systemd/system/" + unit.name
    return links


def owner_mode(path):
    st = path.lstat()
    return (oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid)


@pytest.fixture(scope="module")
def host_accounts():
    """This machine's accounts, which no install may touch."""
    return {f: Path("/etc", f).read_bytes() for f in ("passwd", "group")}


def check_host_untouched(host_accounts):
    for f, text in host_accounts.items():
        assert Path("/etc", f).read_bytes() == text, f


def install(root, deb):
    r = root.dpkg("-i", deb)
    return r.stdout + r.stderr


def test_install_makes_user_directories_and_enables_sockets(
        debs, tmp_path, host_accounts):
    root = Root(tmp_path / "root")
    install(root, debs.deb)
    assert root.status() == "ii  %s" % debs.version
    pw = root.entry("passwd", "forcelink")
    uid, gid = root.ids()
    assert 0 < uid < 1000 and 0 < gid < 1000 and int(pw[3]) == gid
    assert pw[5] == "/var/lib/forcelink" and pw[6].endswith("/nologin")
    assert owner_mode(root / "/etc/forcelink") == ("0o750", 0, gid)
    assert owner_mode(root / "/var/lib/forcelink") == ("0o700", uid, gid)
    assert owner_mode(root / "/etc/forcelink/forcelink.env") == \
        ("0o640", 0, 0)
    assert owner_mode(root / "/etc/forcelink/forcelink.env.example") == \
        ("0o644", 0, 0)
    assert (root / "/etc/forcelink/forcelink.env").read_bytes() == \
        (root / "/etc/forcelink/forcelink.env.example").read_bytes()
    assert sorted(p.name for p in (root / "/etc/forcelink").iterdir()) == \
        ["forcelink.env", "forcelink.env.example"]
    # The sockets (and any timer) are enabled, started at boot, the
    # services are not: a socket (or a timer) starts its service.
    assert enabled(root) == wanted_links(debs)
    assert sorted(u + ".socket" for u in UNITS) == \
        sorted(p.name for p in (root / "/etc/systemd/system"
                                "/sockets.target.wants").iterdir())
    assert ["forcelink-backup.timer", "forcelink-purge.timer"] == \
        sorted(p.name for p in (root / "/etc/systemd/system"
                                "/timers.target.wants").iterdir())
    # Nothing else in /etc: no nginx configuration, no key, no secret.
    assert sorted(p.name for p in (root / "/etc").iterdir()) == \
        [".pwd.lock", "forcelink", "group", "gshadow", "passwd", "shadow",
         "systemd"]
    # Again (a reinstall): the scripts are idempotent, one user.
    install(root, debs.deb)
    assert root.ids() == (uid, gid)
    assert owner_mode(root / "/var/lib/forcelink") == ("0o700", uid, gid)
    check_host_untouched(host_accounts)


def configured(root):
    """The administrator's work after the install, as the README says:
    forcelink.env edited, the key and a secret made, and a database."""
    uid, gid = root.ids()
    conf = root / "/etc/forcelink"
    env = conf / "forcelink.env"
    text = env.read_text()
    edited = text.replace("FORCELINK_PUBLIC_URL=\n",
                          "FORCELINK_PUBLIC_URL=https://fl.example.com\n")
    edited = edited.replace("SF_CLIENT_ID=\n", "SF_CLIENT_ID=3MVG9deb\n")
    assert edited.count("\n") == text.count("\n") and edited != text
    env.write_text(edited)
    for name, data in (("key", os.urandom(32).hex()),
                       ("sf_client_secret", "sfsecret")):
        (conf / name).write_text(data + "\n")
        os.chown(conf / name, 0, gid)
        os.chmod(conf / name, 0o640)
    db = root / "/var/lib/forcelink/forcelink.db"
    db.write_bytes(b"SQLite format 3\0" + os.urandom(64))
    os.chown(db, uid, gid)
    os.chmod(db, 0o600)
    return {p: (p.read_bytes(), owner_mode(p))
            for p in (env, conf / "key", conf / "sf_client_secret", db)}


def unchanged(saved):
    for p, (data, om) in saved.items():
        assert p.read_bytes() == data, p
        assert owner_mode(p) == om, p


def test_upgrade_keeps_settings_key_and_database(debs, tmp_path,
                                                 host_accounts):
    root = Root(tmp_path / "root")
    install(root, debs.deb)
    saved = configured(root)
    ids = root.ids()
    # Both the package and the administrator changed forcelink.env: dpkg
    # asks, and its default keeps the administrator's (here it reads the
    # end of its input and stops before the postinst)...
    r = root.dpkg("-i", debs.upgrade, ok=False, confold=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "Unpacking forcelink (%s) over (%s)" % (debs.new_version,
                                                   debs.version) in out
    assert "'/etc/forcelink/forcelink.env'" in out
    assert "N or O  : keep your currently-installed version" in out
    assert "The default action is to keep your current version." in out
    assert "[default=N]" in out
    assert root.status() == "iU  %s" % debs.new_version
    unchanged(saved)
    # ... and --force-confold (apt-get -o Dpkg::Options::=--force-confold)
    # keeps it without asking; the postinst runs the upgrade.
    root.dpkg("--configure", "forcelink")
    assert root.status() == "ii  %s" % debs.new_version
    unchanged(saved)
    assert root.ids() == ids
    conf = root / "/etc/forcelink"
    # The new version of the edited file waits beside it; the unedited
    # example is simply replaced: compare the two for new settings.
    new = "#FORCELINK_NEW_SETTING=%s\n" % debs.new_version
    assert (conf / "forcelink.env.dpkg-dist").read_text().endswith(new)
    assert (conf / "forcelink.env.example").read_text().endswith(new)
    assert owner_mode(conf) == ("0o750", 0, ids[1])
    assert owner_mode(root / "/var/lib/forcelink") == ("0o700",) + ids
    check_host_untouched(host_accounts)


def test_remove_then_purge_keeps_the_database(debs, tmp_path,
                                              host_accounts):
    root = Root(tmp_path / "root")
    install(root, debs.deb)
    saved = configured(root)
    ids = root.ids()
    root.dpkg("-r", "forcelink")
    assert root.status() == "rc  %s" % debs.version
    for prog in PROGRAMS:
        assert not (root / "/usr/libexec/forcelink" / prog).exists()
    assert not (root / "/usr/sbin/forcelink-admin").exists()
    assert not (root / "/lib/systemd/system/forcelink-contact.socket"
                ).exists()
    # remove keeps all the configuration.
    unchanged(saved)
    assert (root / "/etc/forcelink/forcelink.env.example").exists()
    r = root.dpkg("-P", "forcelink")
    assert root.status() is None
    conf = root / "/etc/forcelink"
    # The conffiles are gone; the key and the secret the administrator
    # made stay, with their directory, and so does the database.
    assert sorted(p.name for p in conf.iterdir()) == \
        ["key", "sf_client_secret"]
    assert "directory '/etc/forcelink' not empty" in r.stdout + r.stderr
    unchanged({p: v for p, v in saved.items()
               if p.name != "forcelink.env"})
    assert owner_mode(root / "/var/lib/forcelink") == ("0o700",) + ids
    assert enabled(root) == {}
    # The user stays (files still belong to it).
    assert root.ids() == ids
    # A new install takes the kept database and user back as they are.
    install(root, debs.deb)
    assert root.ids() == ids
    unchanged({p: v for p, v in saved.items()
               if p.name != "forcelink.env"})
    check_host_untouched(host_accounts)


def test_purge_deletes_the_database_when_asked(debs, tmp_path,
                                               host_accounts):
    root = Root(tmp_path / "root")
    install(root, debs.deb)
    saved = configured(root)
    statedir = root / "/var/lib/forcelink"
    (statedir / "delete-on-purge").touch()
    root.dpkg("-P", "forcelink")
    assert root.status() is None
    assert not statedir.exists()
    assert (root / "/var/lib").is_dir()
    key = root / "/etc/forcelink/key"
    unchanged({key: saved[key]})
    check_host_untouched(host_accounts)


# ===========================================================================
# The branches that need a running systemd

STUBS = ("systemctl", "deb-systemd-invoke", "deb-systemd-helper",
         "systemd-sysusers", "systemd-tmpfiles")


def scripts_under_systemd(debs, tmp_path, calls):
    """Runs the package's maintainer scripts as dpkg would on a machine
    where systemd runs: [(script, args...)], each in order, DPKG_ROOT
    unset.  Returns the stand-ins' calls, one "name args" each."""
    ctl = tmp_path / "ctl"
    run(["dpkg-deb", "-e", debs.deb, ctl])
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "calls"
    for name in STUBS:
        (bin_ / name).write_text('#!/bin/sh\necho "%s $*" >>%s\n'
                                 % (name, log))
        (bin_ / name).chmod(0o755)
    steps = " && ".join(
        "echo '## %s' >>%s && %s/%s %s" % (" ".join(c), log, ctl, c[0],
                                           " ".join(c[1:]))
        for c in calls)
    env = {k: v for k, v in os.environ.items() if k != "DPKG_ROOT"}
    env.update(PATH="%s:/usr/sbin:/usr/bin:/sbin:/bin" % bin_,
               DPKG_MAINTSCRIPT_PACKAGE="forcelink")
    # /run of its own, where systemd "runs"; nothing else is changed.
    r = run(["unshare", "-m", "--propagation", "private", "sh", "-ec",
             "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system"
             " && " + steps], env=env, ok=False)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("needs a mount namespace: " + r.stderr.strip())
    assert r.returncode == 0, r.stdout + r.stderr
    out, cur = {}, None
    for ln in log.read_text().splitlines():
        if ln.startswith("## "):
            cur = ln[3:]
            out[cur] = []
        else:
            out[cur].append(ln)
    return out


def test_scripts_start_restart_and_stop_under_systemd(debs, tmp_path):
    old = debs.version
    c = scripts_under_systemd(debs, tmp_path, [
        ("postinst", "configure"), ("prerm", "upgrade", old + "+1"),
        ("postinst", "configure", old), ("prerm", "remove")])
    # The units make install made: the programs' sockets and services,
    # and whatever timers (and their services) Makefile.am adds.
    gen = [p.name for p in (debs.tree / "gen").iterdir()]
    started = " ".join(sorted(u for u in gen
                              if u.endswith((".socket", ".timer"))))
    programs = " ".join(sorted(u + ".service" for u in UNITS))
    services = " ".join(sorted(u for u in gen if u.endswith(".service")))
    first, upgrade = c["postinst configure"], c["postinst configure " + old]
    # The first install: the user, the directories, the sockets (and
    # timers) enabled and started, no service started.
    assert first[:2] == ["systemd-sysusers forcelink.conf",
                         "systemd-tmpfiles --create forcelink.conf"]
    for u in UNITS:
        assert "deb-systemd-helper enable %s.socket" % u in first
    assert first[-2:] == ["systemctl --system daemon-reload",
                          "deb-systemd-invoke start " + started]
    assert not [ln for ln in first if "restart" in ln or
                ".service" in ln]
    # An upgrade: the prerm leaves everything running; the postinst
    # restarts the four programs that run, after daemon-reload, and
    # leaves their sockets open (start is a no-op for a running one).
    assert c["prerm upgrade %s+1" % old] == []
    assert upgrade[:2] == first[:2]
    assert upgrade[-3:] == ["systemctl --system daemon-reload",
                            "deb-systemd-invoke start " + started,
                            "deb-systemd-invoke try-restart " + programs]
    assert not [ln for ln in upgrade if "stop" in ln]
    # remove: the sockets (and timers) first, so that nothing starts a
    # service again, then every service.
    assert c["prerm remove"] == ["deb-systemd-invoke stop " + started,
                                 "deb-systemd-invoke stop " + services]


# ===========================================================================
# doctor on the installed package

def test_doctor_is_green_on_a_configured_install(debs, tmp_path):
    """The package installed, then configured as the README's "The
    environment file and the secrets" says (the key, the two secrets,
    forcelink.env), the sockets as systemd makes them (root:www-data
    0660) and a database made by the installed contact at its first
    start: the installed forcelink-admin's doctor passes every check.
    The scratch root is not a system of its own, so forcelink.env names
    the files by their place in it, and Salesforce is the stand-in (its
    CA in FORCELINK_CA_FILE).  key.sample is skipped: no link yet."""
    gid_nginx = nginx_gid()
    if gid_nginx is None:
        pytest.skip("needs the group %s" % NGINX_GROUP)
    root = Root(tmp_path / "root")
    install(root, debs.deb)
    uid, gid = root.ids()
    s = Stack(tmp_path / "sf")
    subprocess.run([str(ROOT / "tests/standin/mkcerts.sh"),
                    str(s.dir / "tls")], check=True, capture_output=True)
    s.ca = str(s.dir / "tls" / "ca.pem")
    s.start_standin()
    try:
        conf = root / "/etc/forcelink"
        run(["sh", "-ec", "cd %s && "
             "(umask 027; head -c 32 /dev/urandom | base64 >key) && "
             "install -m 0640 /dev/null slack_signing_secret && "
             "install -m 0640 /dev/null sf_client_secret && "
             "chgrp %d key slack_signing_secret sf_client_secret" %
             (conf, gid)])
        (conf / "slack_signing_secret").write_text(s.signing_secret + "\n")
        (conf / "sf_client_secret").write_text(s.client_secret + "\n")
        shutil.copy(s.ca, conf / "ca.pem")
        env = conf / "forcelink.env"
        text = env.read_text()
        for path in ("/etc/forcelink/", "/var/lib/forcelink/"):
            text = text.replace("=" + path, "=%s%s" % (root.path, path))
        text = fill_env(text, {
            "FORCELINK_PUBLIC_URL": "https://forcelink.example.com",
            "SF_CLIENT_ID": CLIENT_ID,
            "SF_LOGIN_URL": s.sf_url,
            "FORCELINK_CA_FILE": str(conf / "ca.pem"),
        })
        env.write_text(text)
        settings = parse_env_file(text)
        assert settings["FORCELINK_KEY_FILE"] == str(conf / "key")
        db = Path(settings["FORCELINK_DB"])
        assert db.parent == root / "/var/lib/forcelink"
        # systemd's sockets, and contact's first start (as its service
        # does: the socket as standard input, the file's settings).
        rundir = tmp_path / "run"
        rundir.mkdir()
        socks = []
        for prog in PROGRAMS:
            socks.append(listening_socket(rundir / (prog + ".sock")))
            os.chown(rundir / (prog + ".sock"), 0, gid_nginx)
        env_vars = dict(settings, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        with open(tmp_path / "contact.log", "wb") as log:
            p = subprocess.Popen([str(root / "/usr/libexec/forcelink/contact"),
                                  "-w", "1", "-t", "1"],
                                 stdin=socks[0].fileno(), stdout=log,
                                 stderr=log, env=env_vars, cwd=str(db.parent))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and p.poll() is None and \
                    "event=worker.ready" not in \
                    (tmp_path / "contact.log").read_text():
                time.sleep(0.025)
        finally:
            p.terminate()
            p.wait(timeout=10)
        log_text = (tmp_path / "contact.log").read_text()
        assert db.exists(), log_text
        # The service runs as forcelink: its database is forcelink's.
        for f in db.parent.iterdir():
            os.chown(f, uid, gid)
        r = run([root / "/usr/sbin/forcelink-admin", "--env-file", env,
                 "doctor"], ok=False,
                env=dict(os.environ, FORCELINK_SOCKET_DIR=str(rundir)))
        lines = r.stdout.splitlines()
        print("\n".join(lines))
        assert r.returncode == 0, r.stdout + r.stderr
        assert [ln.split()[1] for ln in lines if ln.split()[0] == "ok"] == \
            [c for c in DOCTOR_CHECKS if c != "key.sample"]
        assert [ln.split()[:2] for ln in lines
                if ln.split()[0] != "ok"] == [["skip", "key.sample"]]
        for sock in socks:
            sock.close()
    finally:
        s.procs["standin"].terminate()
        s.procs["standin"].wait(timeout=10)
