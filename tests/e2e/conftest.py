"""pytest fixtures: one shared Stack per test module, reset per test."""

import os
import resource
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stack  # noqa: E402


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack")).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _reset_faults(request):
    """Faults from one test never leak into the next."""
    if "stack" in request.fixturenames:
        s = request.getfixturevalue("stack")
        s.sf("POST", "/_control/faults", {k: None for k in s.sf(
            "GET", "/_control/faults").json()})
    yield


@pytest.fixture(scope="module", autouse=True)
def _module_cpu(request):
    """With FL_MODULE_CPU naming a file, appends "MODULE WALL USER SYS"
    (seconds) for each module: this pytest process's CPU and that of the
    children it waited for (the stack's programs, nginx, the stand-ins,
    forcelink-admin).  scripts/test prints the costliest modules."""
    path = os.environ.get("FL_MODULE_CPU")
    if not path:
        yield
        return
    t0, a0 = time.monotonic(), _cpu()
    yield
    a1 = _cpu()
    with open(path, "a") as f:
        f.write("%s %.1f %.1f %.1f\n" % (
            Path(request.node.fspath).name, time.monotonic() - t0,
            a1[0] - a0[0], a1[1] - a0[1]))


def _cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (s.ru_utime + c.ru_utime, s.ru_stime + c.ru_stime)
