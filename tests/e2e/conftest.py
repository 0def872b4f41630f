"""pytest fixtures: one shared Stack per test module, reset per test."""

import sys
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
