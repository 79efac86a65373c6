"""Work, counted instead of timed: the lines of convcalc's own code that a call executes.

A test that must prove "bounded" cannot assert on wall-clock time (a loaded CI machine makes
any bound a coin toss). It counts instead: ``count_lines(fn)`` runs ``fn`` with a trace
function that counts each line event (a loop's every iteration included) in frames whose
code lives in the ``convcalc`` package, and stops the run with ``WorkExceeded`` the moment the
count passes ``limit`` -- so a run that would take days fails in a second, deterministically.
Work done inside C code (libyaml, big-int arithmetic) is not counted; every loop convcalc
writes is.

An active tracer (coverage.py) keeps running: the meter chains to it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import convcalc

PACKAGE = os.path.dirname(os.path.abspath(convcalc.__file__)) + os.sep


class WorkExceeded(BaseException):
    """More lines than the limit (a BaseException: convcalc's handlers cannot swallow it)."""


class Meter:
    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.lines = 0

    def run(self, fn: Callable[[], Any]) -> Any:
        previous = sys.gettrace()
        mine: dict[Any, bool] = {}

        def local(inner: Any) -> Any:
            def tracer(frame: Any, event: str, arg: Any) -> Any:
                nonlocal inner
                if event == "line":
                    self.lines += 1
                    if self.limit is not None and self.lines > self.limit:
                        raise WorkExceeded(f"more than {self.limit:,} lines of convcalc executed")
                if inner is not None:
                    inner = inner(frame, event, arg)
                return tracer

            return tracer

        def global_tracer(frame: Any, event: str, arg: Any) -> Any:
            inner = previous(frame, event, arg) if previous is not None else None
            code = frame.f_code
            ours = mine.get(code)
            if ours is None:
                ours = mine[code] = code.co_filename.startswith(PACKAGE)
            return local(inner) if ours else inner

        sys.settrace(global_tracer)
        try:
            return fn()
        finally:
            sys.settrace(previous)


def count_lines(fn: Callable[[], Any], limit: int | None = None) -> tuple[Any, int]:
    """``(fn(), lines executed)``; WorkExceeded past ``limit``."""
    meter = Meter(limit)
    result = meter.run(fn)
    return result, meter.lines
