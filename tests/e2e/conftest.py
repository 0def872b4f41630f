"""pytest fixtures: one shared Stack per test module, reset per test."""

import os
import resource
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stack  # noqa: E402
import pg as pglib  # noqa: E402


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pg():
    """The throwaway PostgreSQL server of this pytest process
    (tests/e2e/pg.py shared(): each pytest-xdist worker has its own,
    started on first use and removed at the end of the session), for the
    module that asks for it: an initdb and a start (some 2 CPU-s) per
    process rather than per module.  Each module's stacks and databases
    have names of their own there, and what a module changes of the
    server (a role's attribute, a restart) it puts back.  A server a
    module left stopped is started again (same data) for the next one.
    test_pg_server, which stops and removes its server, has its own."""
    if not pglib.available():
        pytest.fail("PostgreSQL 15 is not installed (scripts/lib.sh "
                    "installs postgresql-15)")
    s = pglib.shared()
    pid = s.postmaster_pid()
    if pid is None or not pglib.alive(pid):
        s.start()
    yield s


def pytest_sessionfinish(session):
    """The PostgreSQL server of this process under FL_E2E_ENGINE=postgresql
    (pg.shared(); each pytest-xdist worker has its own) stops here.  With
    FL_PG_SERVER_CPU naming a file, appends "USER SYS" (seconds) of every
    server this process stopped: they are not its children, and
    scripts/test adds them to the stage's CPU."""
    pglib.stop_shared()
    path = os.environ.get("FL_PG_SERVER_CPU")
    if path and any(pglib.SERVER_CPU):
        with open(path, "a") as f:
            f.write("%.2f %.2f\n" % tuple(pglib.SERVER_CPU))


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
    forcelink-admin) and that of the PostgreSQL servers it stopped or
    shares (tests/e2e/pg.py: not children; the shared server's psql
    sessions end with the module, so their backends count).
    scripts/test prints the costliest modules."""
    path = os.environ.get("FL_MODULE_CPU")
    if not path:
        yield
        pglib.close_shared_sessions()
        return
    t0, a0 = time.monotonic(), _cpu()
    yield
    pglib.close_shared_sessions()
    a1 = _cpu()
    with open(path, "a") as f:
        f.write("%s %.1f %.1f %.1f\n" % (
            Path(request.node.fspath).name, time.monotonic() - t0,
            a1[0] - a0[0], a1[1] - a0[1]))


def _cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv = pglib.shared_cpu()
    return (s.ru_utime + c.ru_utime + pglib.SERVER_CPU[0] + srv[0],
            s.ru_stime + c.ru_stime + pglib.SERVER_CPU[1] + srv[1])
