"""The tests' build leaves the source tree as its administrator
configured it (issue 12, point 3).

scripts/test, scripts/run and the other scripts build through
scripts/lib.sh's fl_build: out of tree, in build/, from a copy of the
sources in build/src.  Here a copy of this tree (a clone with the work
tree's current files on top) is configured in place the way an
administrator would (./configure --prefix=/usr), which rules out an
ordinary VPATH build beside it; then the build step runs.  It must
succeed, compile under build/, and leave the administrator's
config.status, config.log and Makefile byte for byte and with their
times, and add nothing to the tree outside build/.
"""

import hashlib
import os
import shutil
import subprocess

import pytest

from harness import ROOT

ADMIN_FILES = ("config.status", "config.log", "Makefile")


def run(argv, cwd, **kw):
    r = subprocess.run(argv, cwd=str(cwd), capture_output=True, text=True,
                       **kw)
    assert r.returncode == 0, (argv, r.stdout[-2000:], r.stderr[-3000:])
    return r


def fingerprint(tree):
    return {f: (hashlib.sha256((tree / f).read_bytes()).hexdigest(),
                (tree / f).stat().st_mtime_ns) for f in ADMIN_FILES}


def untracked(tree):
    """Every file git does not track, ignored ones too, outside build/."""
    r = run(["git", "status", "--porcelain", "--ignored",
             "--untracked-files=all"], tree)
    return sorted(ln[3:] for ln in r.stdout.splitlines()
                  if ln[:2] in ("??", "!!")
                  and not ln[3:].startswith("build/"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
            capture_output=True).returncode != 0:
        pytest.skip("needs a git checkout and git")
    t = tmp_path_factory.mktemp("srctree") / "forcelink"
    run(["git", "clone", "-q", str(ROOT), str(t)], ROOT)
    # The work tree's files as they are now (this change included).
    files = run(["git", "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"], ROOT).stdout.split("\0")
    for f in files:
        src = ROOT / f
        if f and src.is_file() and not src.is_symlink():
            (t / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, t / f)
    # The administrator's configuration, in place.  autoreconf's output
    # comes from this tree's own build when there is one (the build step
    # under test makes its own, in the copy's build/src).
    gen = ROOT / "build" / "src"
    if (gen / "configure").is_file() and (gen / "build-aux").is_dir():
        for f in ("aclocal.m4", "configure", "Makefile.in"):
            shutil.copy(gen / f, t / f)
        shutil.copytree(gen / "build-aux", t / "build-aux")
        os.chmod(t / "configure", 0o755)
    else:
        run(["autoreconf", "-fi"], t)
    run(["./configure", "-q", "--prefix=/usr"], t)
    return t


def test_build_leaves_the_administrators_configuration(tree):
    before = fingerprint(tree)
    extra = untracked(tree)
    assert "'--prefix=/usr'" in (tree / "config.status").read_text()
    # The build step of scripts/test and scripts/run (the copy of the
    # sources, autoreconf there, configure in build/), with the cheapest
    # target that still compiles: one program's object (the whole build
    # runs in scripts/test's own build step).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FL_", "FORCELINK_"))}
    run(["bash", "-c",
         ". scripts/lib.sh && fl_build \"\" \"$FL_WERROR\" cgi/contact.o"],
        tree, env=env)
    assert (tree / "build" / "cgi" / "contact.o").is_file()
    assert "'--enable-werror'" in (tree / "build" / "config.status") \
        .read_text()
    # Nothing of the administrator's changed, nothing was added.
    assert fingerprint(tree) == before
    assert "'--prefix=/usr'" in (tree / "config.status").read_text()
    assert untracked(tree) == extra
    assert not (tree / "cgi" / "contact.o").exists()
