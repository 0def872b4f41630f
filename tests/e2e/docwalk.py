"""The README's and the man page's example commands, extracted and run
as written (issue 16, point 1), by tests/e2e/test_install.py.

Extraction:
- README: the indented blocks of the "Administration" part (a block
  follows a blank line; list continuations do not), in order.  A block
  whose first word is a command (COMMANDS) is a command block; the others
  (tables, nginx configuration, log lines) are not run, and a block that
  begins with anything on the PATH that is not in COMMANDS fails the
  test, so that no new example slips past unclassified.  "sqlite>" lines
  are fed to the sqlite3 command before them (or to sqlite3 on the
  installed database).
- forcelink-admin.8: every .Bd -literal block of EXAMPLES: "# " lines run
  as root, "$ " lines as an unprivileged user, a crontab line (five time
  fields, a user, a command) as that user in cron's environment, where
  any output is a failure (cron mails it).

Running: class Host is a mount namespace in which / looks like a machine
where the README's make install ran: the install's DESTDIR is laid over
/usr, /etc and /var (overlays whose writes land in the test's directory),
/root is an overlay too, and /run is a directory of the test's, so that
its nginx reaches the sockets the examples start.  docshim.py stands in
for systemctl, journalctl and editor.  Nothing outside the test's
directory changes.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# First words of the command blocks.
COMMANDS = {
    "apt-get", "apt", "./configure", "make", "autoreconf",
    "systemd-sysusers", "systemd-tmpfiles", "systemctl", "journalctl",
    "cd", "umask", "install", "chgrp", "chown", "chmod", "editor", "ln",
    "rm", "cp", "mv", "mkdir", "head", "sqlite3", "nginx", "sha256sum",
    "forcelink-admin", "dpkg", "dpkg-buildpackage", "lintian", "curl",
    "crontab", "systemd-analyze", "touch", "ls", "for", "setpriv",
}


def first_word(line):
    w = line.strip().lstrip("(#$ ").split()
    return w[0].rstrip(";") if w else ""


class Block:
    def __init__(self, where, lineno, text, kind, user="root",
                 stdin=None):
        self.where, self.lineno, self.text = where, lineno, text
        self.kind, self.user, self.stdin = kind, user, stdin

    def __repr__(self):
        return "%s:%d (%s)\n%s" % (self.where, self.lineno, self.kind,
                                   self.text)


def readme_blocks(text, part="Administration", end="Development"):
    """The indented blocks of the README's part, as Block()s."""
    lines = text.splitlines()

    def heading(i, ch):
        return (i + 1 < len(lines) and lines[i] and
                set(lines[i + 1]) == {ch} and
                len(lines[i + 1]) == len(lines[i]))
    start = next(i for i in range(len(lines))
                 if lines[i] == part and heading(i, "="))
    stop = next(i for i in range(start + 2, len(lines))
                if lines[i] == end and heading(i, "="))
    out, section, i = [], part, start + 2
    while i < stop:
        ln = lines[i]
        if heading(i, "-"):
            section = ln
        if (ln.startswith("    ") and ln.strip() and lines[i - 1] == ""):
            ind = len(ln) - len(ln.lstrip(" "))
            j = i
            body = []
            while j < stop and lines[j].startswith(" " * ind) and \
                    lines[j].strip():
                body.append(lines[j][ind:])
                j += 1
            out.append(classify("README, " + section, i + 1, body))
            i = j
            continue
        i += 1
    return out


def classify(where, lineno, body):
    text = "\n".join(body)
    w = first_word(body[0])
    if body[0].startswith("sqlite>"):
        return Block(where, lineno, "sqlite3 /var/lib/forcelink/forcelink.db",
                     "command", stdin=sqlite_input(body))
    if w in COMMANDS:
        if re.search(r"\[--|\bCOMMAND\b", body[0]):
            return Block(where, lineno, text, "synopsis")
        cmds = [ln for ln in body if not re.match(r"\s*(sqlite>|\.\.\.>)",
                                                  ln)]
        stdin = sqlite_input(body) if len(cmds) < len(body) else None
        return Block(where, lineno, "\n".join(cmds), "command", stdin=stdin)
    return Block(where, lineno, text, "text")


def logical_lines(text):
    """A block's commands: its lines with backslash continuations (and a
    trailing pipe) joined to the next."""
    out, cur = [], ""
    for ln in text.splitlines():
        cur += ln + "\n"
        if not ln.rstrip().endswith(("\\", "|")):
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def sqlite_input(body):
    return "".join(re.sub(r"^\s*(sqlite>|\.\.\.>) ?", "", ln) + "\n"
                   for ln in body if re.match(r"\s*(sqlite>|\.\.\.>)", ln))


def man_text(s):
    for a, b in ((r"\e", "\\"), (r"\(dq", '"'), (r"\&", ""), (r"\-", "-")):
        s = s.replace(a, b)
    return s


CRON = re.compile(r"^([\d*/,-]+\s+){5}(\S+)\s+(.+)$")


def man_blocks(text):
    """The commands of the man page's EXAMPLES, as Block()s."""
    lines = text.splitlines()
    start = lines.index(".Sh EXAMPLES")
    stop = next(i for i in range(start + 1, len(lines))
                if lines[i].startswith(".Sh "))
    out, i = [], start
    while i < stop:
        if not lines[i].startswith(".Bd -literal"):
            i += 1
            continue
        j = i + 1
        cur = None
        while not lines[j].startswith(".Ed"):
            ln = man_text(lines[j])
            m = CRON.match(ln)
            if ln.startswith(("# ", "$ ")):
                cur = Block("forcelink-admin.8, EXAMPLES", j + 1, ln[2:],
                            "command",
                            user="root" if ln[0] == "#" else "nobody")
                out.append(cur)
            elif m:
                cur = None
                out.append(Block("forcelink-admin.8, EXAMPLES", j + 1,
                                 m.group(3), "cron", user=m.group(2)))
            elif cur is not None and ln.startswith(" "):
                cur.text += "\n" + ln
            else:
                out.append(Block("forcelink-admin.8, EXAMPLES", j + 1, ln,
                                 "text"))
            j += 1
        i = j + 1
    return out


class Host:
    """A mount namespace that looks like the machine of the README's
    install (see the module's docstring)."""

    def __init__(self, work, destdir, edits_json):
        self.work, self.destdir = Path(work), Path(destdir)
        self.shims = self.work / "shims"
        self.shims.mkdir(parents=True)
        for tool in ("systemctl", "journalctl", "editor"):
            (self.shims / tool).symlink_to(HERE / "docshim.py")
        self.run_dir = self.work / "run"
        self.run_dir.mkdir()
        mounts = []
        for top, writable in (("usr", False), ("etc", True), ("var", True),
                              ("root", True)):
            lower = "/" + top
            if (self.destdir / top).is_dir():
                lower = "%s:%s" % (self.destdir / top, lower)
            opts = "lowerdir=" + lower
            if writable:
                up, wk = self.work / (top + ".up"), self.work / (top + ".wk")
                up.mkdir()
                wk.mkdir()
                opts += ",upperdir=%s,workdir=%s" % (up, wk)
            elif ":" not in lower:
                continue
            mounts.append("mount -t overlay overlay -o %s /%s" % (opts, top))
        mounts.append("mount --bind %s /run" % self.run_dir)
        self.env = {
            "PATH": "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                    "/sbin:/bin" % self.shims,
            "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb",
            "FLDOC_EDITS": edits_json,
        }
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c",
             "set -e; %s; echo ready; exec sleep 3600" % "; ".join(mounts)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("no mount namespace: " +
                               self.holder.stderr.read())

    def upper(self, path):
        """Where a file the examples write under /etc, /var or /root is
        seen from outside (the overlay's upper layer)."""
        top, rest = path.lstrip("/").split("/", 1)
        return self.work / (top + ".up") / rest

    def run(self, script, user="root", stdin=None, env=None, timeout=120):
        argv = ["nsenter", "-t", str(self.holder.pid), "-m", "--"]
        if user != "root":
            group = self.run("id -gn " + user).stdout.strip()
            argv += ["setpriv", "--reuid=" + user, "--regid=" + group,
                     "--init-groups"]
        e = dict(self.env)
        e.update(env or {})
        if env is not None and "PATH" in env:
            e = dict(env)
        argv += ["bash", "-e", "-o", "pipefail", "-c",
                 "cd ~ 2>/dev/null || cd /\n" + script]
        return subprocess.run(argv, input=stdin, env=e, capture_output=True,
                              text=True, timeout=timeout)

    def close(self):
        if self.holder.poll() is None:
            self.run("systemctl stop 'forcelink-*'", timeout=60)
        # What the shim started runs in the namespace: end it by pid.
        for pid in (self.run_dir / "fl-shim").glob("*.pid"):
            try:
                os.killpg(int(pid.read_text()), 9)
            except (OSError, ValueError):
                pass
        self.holder.kill()
        self.holder.wait()
        time.sleep(0.1)


def cron_env():
    """The environment cron gives a crontab line (Debian's cron)."""
    return {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "",
            "HOME": "/"}


def which_outside(word):
    return shutil.which(word) is not None
