"""Fixtures of the end-to-end suite. Each fixture owns its processes and its temporary
directory and removes both, whatever happens (E2E_KEEP_TMP=1 keeps the directories)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Stack  # noqa: E402


def make_workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"lattice-e2e-{name}-"))


def remove_workdir(path: Path) -> None:
    if os.environ.get("E2E_KEEP_TMP") == "1":
        print(f"\nkept {path}")
        return
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def workdir(request):
    path = make_workdir(request.node.name[:40].replace("/", "_"))
    yield path
    remove_workdir(path)


def start_stack(name: str, **kwargs) -> Stack:
    path = make_workdir(name)
    stack = Stack(path, **kwargs)
    try:
        stack.start()
    except BaseException:
        remove_workdir(path)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    stack.stop()
    remove_workdir(stack.workdir)


@pytest.fixture(scope="session")
def stack():
    """The shared stack: the built-in example world, debug logging (the log test reads it)."""
    s = start_stack("shared", log_level="debug")
    yield s
    stop_stack(s)


@pytest.fixture
def fresh_stack(request):
    """A stack of this test's own: the built-in world, fresh counters, free to stop."""
    s = start_stack(request.node.name[:30])
    yield s
    stop_stack(s)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tails of the sidecar's, Envoy's and the upstream's output."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    stacks = [v for v in item.funcargs.values() if isinstance(v, Stack)]
    for s in stacks:
        report.sections.append(("lattice-authz (tail)", s.sidecar.proc.tail(40) if s.sidecar.proc else ""))
        if s.envoy:
            report.sections.append(("envoy (tail)", s.envoy.proc.tail(20)))
