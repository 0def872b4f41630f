"""The FastCGI programs' command line (issue 16, point 11).

Options are read before the configuration, so -h and -V answer and a
wrong option is named whatever the environment holds (an empty one
here); -g gives the socket nginx's group.
"""

import os
import re
import subprocess
import time

import pytest

from harness import (BUILD, NGINX_GROUP, PROGRAMS, ROOT, SANITIZER_MARKS,
                     nginx_gid)

VERSION = re.search(r"AC_INIT\(\[forcelink\], \[([^]]+)\]",
                    (ROOT / "configure.ac").read_text()).group(1)
OPTIONS = ("-s", "-m", "-g", "-w", "-t", "-T", "-h", "-V")


def run(prog, *args, env=None):
    e = {k: v for k, v in os.environ.items()
         if k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    e.update(env or {})
    r = subprocess.run([str(BUILD / "cgi" / prog)] + list(args), env=e,
                       capture_output=True, text=True, timeout=20)
    assert not any(m in r.stderr for m in SANITIZER_MARKS), r.stderr
    return r


@pytest.mark.parametrize("prog", PROGRAMS)
def test_help_and_version_without_any_setting(prog):
    r = run(prog, "-h")
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.startswith("usage: %s " % prog), r.stdout
    for opt in OPTIONS:
        assert ("  %s " % opt) in r.stdout, (opt, r.stdout)
    r = run(prog, "-V")
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "%s (forcelink) %s\n" % (prog, VERSION), "")


@pytest.mark.parametrize("args, says", [
    (["-x"], "unknown option: -x"),
    (["-w"], "an option needs a value: -w"),
    (["-w", "0"], "-w: not a number of workers: 0"),
    (["-m", "0999"], "-m: not an octal mode up to 0777: 0999"),
    (["-g", "no-such-group-here"], "-g: no such group: no-such-group-here"),
    (["-s", ""], "-s: empty path"),
    (["-t", "8", "-T", "4"], "-T is below -t"),
    (["extra"], "no operands are taken: extra"),
])
def test_bad_command_line_is_named_before_the_settings(args, says):
    r = run("contact", *args)
    assert r.returncode == 2, r
    lines = r.stderr.splitlines()
    assert lines[0] == "contact: " + says, r.stderr
    assert lines[1].startswith("usage: contact "), r.stderr
    assert "is not set" not in r.stderr and r.stdout == ""


def test_socket_group(stack, tmp_path):
    """-g: the socket gets the group (a name or a number) with -m's
    mode, as systemd's SocketGroup= would give it."""
    gid = nginx_gid()
    if gid is None:
        pytest.skip("needs group %s and the right to give it" % NGINX_GROUP)
    for group in (NGINX_GROUP, str(gid)):
        sock = tmp_path / ("g%s.sock" % group)
        p = subprocess.Popen([str(BUILD / "cgi" / "contact"), "-s",
                              str(sock), "-g", group, "-m", "0660", "-w",
                              "1", "-t", "1"], env=stack.env(),
                             stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while not sock.exists():
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)
            st = os.stat(sock)
            assert (st.st_gid, st.st_mode & 0o777) == (gid, 0o660)
        finally:
            p.terminate()
            p.wait(20)
            err = p.stderr.read().decode(errors="replace")
            p.stderr.close()
        assert not any(m in err for m in SANITIZER_MARKS), err
