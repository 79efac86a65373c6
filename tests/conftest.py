"""Shared test helpers: run the CLI in-process and capture what it prints."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Hypothesis profiles. "ci" (chosen when CONVCALC_CI=1, as .ci/run sets it): derandomized, so
# the same examples run on every CI run and a failure there is never a coin toss; no example
# database. "dev" (the default elsewhere): random exploration, a fresh sample each run, with
# the local database replaying past failures first. HYPOTHESIS_PROFILE=ci|dev overrides.
# Test modules take their settings from the loaded profile (settings(...) objects inherit it):
# none of them may set derandomize or database itself.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# "dev" says derandomize=False itself: Hypothesis's own default turns derandomized when it sees a
# CI machine (CI=true and the like), and "dev" must explore at random wherever it is chosen.
settings.register_profile(
    "dev", derandomize=False, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CONVCALC_CI") == "1" else "dev")
)


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[:200]!r}, err={self.err[:200]!r})"


def run_cli(*args: str, stdin: str | None = None) -> Result:
    """Run ``convcalc ARGS`` in-process; returns exit code, stdout and stderr."""
    from convcalc.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def spec_file(tmp_path):
    """Write YAML text to a temp file and return its path."""
    counter = iter(range(10**6))

    def make(text: str, name: str | None = None) -> str:
        p = tmp_path / (name or f"spec{next(counter)}.yaml")
        p.write_text(text, encoding="utf-8")
        return str(p)

    return make


def pytest_sessionfinish(session, exitstatus):
    """In CI (CONVCALC_CI=1) a skipped test is a failure: the oracle tests must run."""
    if os.environ.get("CONVCALC_CI") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"CONVCALC_CI: {skipped} test(s) skipped; CI requires every test to run", red=True
        )
        session.exitstatus = 1
