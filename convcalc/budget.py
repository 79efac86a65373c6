"""Budgets: parsing limits like ``600M`` and judging totals against them. Pure; no I/O.

Quantities are integers, or a number with an SI suffix (powers of 1000): ``800k``, ``4.5M``,
``1.2G``, ``2T``, ``1P``. Memory (bytes) also takes binary suffixes ``KiB``, ``MiB``,
``GiB``, ``TiB`` (powers of 1024) and an optional ``B`` (``16MB``). Values are exact: ``4.5M``
is 4,500,000; a value that is not a whole number (``1.0000001k``) is an error.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .errors import BudgetInputError

METRICS = ("macs", "flops", "params", "activations", "memory")
SI = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9, "T": 10**12, "P": 10**15}
BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_NUMBER = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(value: Any, metric: str = "") -> int:
    """An exact non-negative integer from an int, a whole float, or a string like ``4.5M``."""
    if isinstance(value, bool):
        raise BudgetInputError(f"must be a number like 600M, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise BudgetInputError(f"must be >= 0, got {value}")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value < 0 or value != int(value):
            raise BudgetInputError(f"must be a whole number >= 0, got {value}")
        return int(value)
    if not isinstance(value, str):
        raise BudgetInputError(f"must be a number like 600M, got {type(value).__name__}")
    m = _NUMBER.match(value)
    if not m:
        raise BudgetInputError(f"{value!r} is not a number like 600M, 4.5M, 1.2G or 800k")
    number, suffix = Fraction(m.group(1).replace("_", "")), m.group(2)
    scale = _scale(suffix, metric)
    if scale is None:
        allowed = "k, M, G, T, KiB, MiB, GiB" if metric == "memory" else "k, M, G, T"
        raise BudgetInputError(f"{value!r}: unknown suffix {suffix!r} (use {allowed})")
    total = number * scale
    if total.denominator != 1:
        raise BudgetInputError(f"{value!r} is not a whole number ({float(total):g})")
    return int(total)


def _scale(suffix: str, metric: str) -> int | None:
    if suffix in SI and suffix != "B":
        return SI[suffix]
    if metric == "memory":
        if suffix in BINARY:
            return BINARY[suffix]
        if suffix.endswith("B") and suffix[:-1] in SI and suffix != "BB":
            return SI[suffix[:-1]]
        if suffix == "B":
            return 1
    else:
        if suffix in ("B", "b"):  # "1.2B" (billion) reads naturally for MACs and params
            return 10**9
    return None


def parse_limit(value: Any, metric: str) -> int:
    if metric not in METRICS:
        raise BudgetInputError(f"unknown metric {metric!r} (use {', '.join(METRICS)})")
    return parse_quantity(value, metric)


def parse_allowance(text: str) -> tuple[str, Fraction]:
    """``5%`` -> ("percent", 5); ``2M`` -> ("absolute", 2000000)."""
    s = str(text).strip()
    if s.endswith("%"):
        try:
            pct = Fraction(s[:-1].strip())
        except (ValueError, ZeroDivisionError):
            raise BudgetInputError(f"{text!r} is not a percentage like 5%") from None
        if pct < 0:
            raise BudgetInputError(f"{text!r} must be >= 0%")
        return "percent", pct
    return "absolute", Fraction(parse_quantity(s))


def human(n: int | float, unit: str = "") -> str:
    """1234567 -> '1.23M' (SI, powers of 1000); memory in binary units with unit='B'."""
    if unit == "B":
        for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(n) >= scale:
                return f"{n / scale:.2f} {suffix}"
        return f"{n} B"
    for suffix, scale in (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{suffix}"
    return str(n)


class Verdict:
    """One metric of one spec against one limit (or a baseline allowance)."""

    __slots__ = ("spec", "metric", "value", "limit", "source", "baseline", "line")

    def __init__(self, spec: str, metric: str, value: int, limit: int, source: str,
                 baseline: int | None = None, line: int = 0):
        self.spec, self.metric, self.value, self.limit = spec, metric, value, limit
        self.source, self.baseline, self.line = source, baseline, line

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    @property
    def excess(self) -> int:
        return self.value - self.limit

    @property
    def excess_percent(self) -> float | None:
        return 100.0 * self.excess / self.limit if self.limit else None

    @property
    def used_percent(self) -> float | None:
        return 100.0 * self.value / self.limit if self.limit else None

    def as_dict(self) -> dict:
        d = {"spec": self.spec, "metric": self.metric, "value": self.value, "limit": self.limit,
             "passed": self.passed, "excess": max(self.excess, 0), "source": self.source}
        if self.baseline is not None:
            d["baseline"] = self.baseline
            d["change"] = self.value - self.baseline
            d["change_percent"] = (100.0 * (self.value - self.baseline) / self.baseline
                                   if self.baseline else None)
        return d


def judge(spec: str, totals: dict[str, int], limits: dict[str, int], sources: dict[str, str],
          lines: dict[str, int] | None = None) -> list[Verdict]:
    """A verdict per limit. ``totals`` must hold every limited metric. A value equal to its
    limit passes."""
    lines = lines or {}
    return [Verdict(spec, m, totals[m], limits[m], sources.get(m, "flag"), line=lines.get(m, 0))
            for m in METRICS if m in limits]


def judge_baseline(spec: str, totals: dict[str, int], baseline: dict[str, int],
                   allowance: tuple[str, Fraction], metrics=("params", "macs", "flops", "activations"),
                   ) -> list[Verdict]:
    """Each total may grow by at most the allowance over the baseline report's total."""
    kind, amount = allowance
    out = []
    for m in metrics:
        if m not in baseline or m not in totals:
            continue
        old = baseline[m]
        extra = old * amount / 100 if kind == "percent" else amount
        limit = old + int(extra)  # floor: growing by more than the allowance fails
        out.append(Verdict(spec, m, totals[m], limit, "baseline", baseline=old))
    return out
